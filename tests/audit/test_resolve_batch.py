"""``resolve_batch``: several markets settled in one transaction, the shortfall shared pro rata."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import ResolveBatch, from_dict, parse_user_command, to_dict
from prophex.engine.events import INSURANCE_FUND
from prophex.engine.exchange import Exchange
from prophex.errors import InvalidCommand, ProphexError
from prophex.ledger.store import make_db_engine
from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import Replay, open_sequencer, run_scenario
from prophex.scenarios.report import build_summary
from prophex.scenarios.schema import Scenario

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
MARKETS = ("BTC-100K", "ETH-5K", "SOL-300")


def scenario(**update: Any) -> Scenario:
    return load_scenario(LIBRARY / "simultaneous-resolution.yaml").model_copy(update=update)


def open_book() -> Exchange:
    unresolved = scenario(resolution={})
    sequencer = open_sequencer(unresolved, None)
    Replay(unresolved, sequencer).run()
    return sequencer.exchange


def test_fund_too_small_every_market_cut_by_the_same_fraction() -> None:
    exchange = open_book()
    fund = exchange.state.balance(INSURANCE_FUND)
    receipt = exchange.apply(ResolveBatch(dict.fromkeys(MARKETS, "A")))  # type: ignore[arg-type]
    (txn,) = receipt.transactions  # one atomic ledger transaction
    assert txn.kind == "resolve_batch"
    assert sum(amount for _, amount in txn.postings) == 0
    data = txn.data
    rows = data["per_market"]
    surplus = sum(r["surplus"] for r in rows.values())
    uncovered = data["total_shortfall"] - fund - surplus
    assert uncovered > 0 and data["uncovered"] == uncovered
    assert exchange.state.balance(INSURANCE_FUND) == 0
    # the haircuts add up exactly, per position the largest-remainder share of the pro rata cut
    winners = {
        int(pid): (s["pnl"] + s["haircut"], s["haircut"])
        for r in rows.values()
        for pid, s in r["settlements"].items()
        if "haircut" in s
    }
    owed = sum(p for p, _ in winners.values())
    assert owed == data["owed_to_winners"]
    assert sum(h for _, h in winners.values()) == uncovered
    for profit, cut in winners.values():
        assert uncovered * profit // owed <= cut <= uncovered * profit // owed + 1
    # so every market's winners lose the same fraction of their profit (to a micro-dollar each)
    for row in rows.values():
        exact = uncovered * row["owed_to_winners"] / owed
        assert abs(row["haircut_total"] - exact) <= row["winners"]
        assert row["haircut_total"] > 0
    # and each vault ends empty: it paid its winners exactly what it held plus the fund's top-up
    for market in MARKETS:
        assert exchange.state.balance(f"vault:{market}") == 0
        assert exchange.state.markets[market].status == "resolved"


def test_sequential_rule_pays_in_market_id_order() -> None:
    exchange = open_book()
    cuts = {}
    for market in sorted(MARKETS):
        data = exchange.apply(copy.copy(_resolve(market))).transactions[-1].data
        cuts[market] = data["haircut_total"] / data["owed_to_winners"]
    assert cuts["BTC-100K"] == 0.0  # first in id order: paid in full
    assert cuts["SOL-300"] > 0.8  # last: only its own vault
    assert cuts["ETH-5K"] > 0


def _resolve(market: str) -> Any:
    from prophex.engine.commands import Resolve

    return Resolve(market, "A")


def test_batch_scenario_on_sqlite_passes_the_audit(sqlite_url: str) -> None:
    batch = scenario()
    assert batch.settlement == "batch"
    with Sequencer.open(sqlite_url, batch.params()) as sequencer:
        result = run_scenario(batch, sequencer=sequencer)
        memory = run_scenario(batch)
    assert result.digest == memory.digest
    engine = make_db_engine(sqlite_url)
    try:
        report = audit_database(engine)
    finally:
        engine.dispose()
    assert report.ok, report.violations
    summary = build_summary(result)
    fractions = {
        m: summary["markets"][m]["resolution"]["haircut"]
        / summary["markets"][m]["resolution"]["owed_to_winners"]
        for m in MARKETS
    }
    assert max(fractions.values()) - min(fractions.values()) < 1e-6
    for market in MARKETS:  # per-market waterfalls sum to what winners were owed
        fall = summary["markets"][market]["waterfall"]
        assert sum(v for k, v in fall.items() if k != "owed_to_winners") == fall["owed_to_winners"]
    sequential = build_summary(run_scenario(scenario(settlement="sequential")))
    assert sequential["haircuts"]["total"] == summary["haircuts"]["total"]
    assert sequential["markets"]["BTC-100K"]["resolution"]["haircut"] == 0


def test_command_forms_and_refusals() -> None:
    command = parse_user_command({"type": "resolve_batch", "outcomes": {"M2": "B", "M1": "A"}})
    assert command == ResolveBatch({"M1": "A", "M2": "B"})
    assert from_dict(to_dict(command)) == command
    for bad in ({}, {"outcomes": {}}, {"outcomes": {"M1": "C"}}, {"outcomes": ["M1"]}):
        with pytest.raises(InvalidCommand):
            parse_user_command({"type": "resolve_batch", **bad})
    exchange = open_book()
    before = exchange.state.balance(INSURANCE_FUND)
    for outcomes in ({"BTC-100K": "A", "NOPE": "A"}, {}):
        with pytest.raises(ProphexError):
            exchange.apply(ResolveBatch(outcomes))  # type: ignore[arg-type]
    assert exchange.state.balance(INSURANCE_FUND) == before
    assert exchange.state.markets["BTC-100K"].status == "open"


def test_adl_cuts_winners_in_rank_order_and_passes_the_audit(sqlite_url: str) -> None:
    from prophex.engine.controllers.batch_settlement import adl_rank

    adl = load_scenario(LIBRARY / "mass-deleveraging.yaml")
    assert (adl.settlement, adl.loss_sharing) == ("batch", "adl")
    unresolved = adl.model_copy(update={"resolution": {}})
    sequencer = open_sequencer(unresolved, None)
    Replay(unresolved, sequencer).run()
    exchange = sequencer.exchange
    positions = {p.id: copy.copy(p) for p in exchange.state.positions.values()}
    data = exchange.apply(ResolveBatch({"GOV-A": "A", "SEN-A": "A"}, "adl")).transactions[0].data
    assert data["loss_sharing"] == "adl" and data["uncovered"] > 0
    winners = [
        (positions[int(pid)], s["pnl"] + s["haircut"], s["haircut"])
        for row in data["per_market"].values()
        for pid, s in row["settlements"].items()
        if "haircut" in s
    ]
    assert sum(cut for _, _, cut in winners) == data["uncovered"]
    ranked = sorted(winners, key=lambda w: adl_rank(w[0], w[1]))
    cuts = [cut for _, _, cut in ranked]
    profits = [profit for _, profit, _ in ranked]
    full = next(i for i, (c, p) in enumerate(zip(cuts, profits, strict=True)) if c < p)
    assert cuts[:full] == profits[:full]  # the top-ranked lose all their profit
    assert 0 <= cuts[full] < profits[full]  # one may lose part of it
    assert all(c == 0 for c in cuts[full + 1 :])  # the rest keep everything
    assert 0 < full < len(cuts) - 1
    # the whole scenario on SQLite replays through the audit
    with Sequencer.open(sqlite_url, adl.params()) as on_disk:
        run_scenario(adl, sequencer=on_disk)
    engine = make_db_engine(sqlite_url)
    try:
        assert audit_database(engine).ok
    finally:
        engine.dispose()


def test_adl_needs_batch_settlement() -> None:
    from prophex.scenarios.loader import parse_scenario
    from prophex.scenarios.schema import ScenarioError

    text = (LIBRARY / "mass-deleveraging.yaml").read_text()
    with pytest.raises(ScenarioError, match="loss_sharing") as info:
        parse_scenario(text.replace("settlement: batch", "settlement: sequential"))
    assert info.value.details["field"] == "loss_sharing"
