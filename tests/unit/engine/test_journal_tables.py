"""Every transaction, result and refusal of four small books, pinned to the micro-dollar.

Each book runs a fixed command list and records, per command, either its transactions (kind,
``data`` through the journal codec, postings) and its result, or its refusal (code, message,
details); then the final state's snapshot. The record is compared with
``golden/journal_tables.json`` field by field. The books are chosen to reach what the
stateful machines reach rarely at the mutation budget (docs/mutation.md): a tiny insurance fund
(draws, haircuts and bad debt at close, liquidation and resolution), a liquidation cascade,
funding in both directions, voids with open positions, batch resolutions with an uncovered
shortfall shared pro rata and by ADL, per-market caps, the coverage cap rule, and a portfolio
account opened, closed, liquidated and relocked.

The pinned figures are the engine's; the checks below them are derived from docs/concepts.md
alone (every posting list balances, fees split by ``fee_to_if``, a fill's ``cost`` is the
integral of the price, open interest replays from the notional that came and went) so that the
table cannot pin a wrong figure unnoticed. To regenerate after a deliberate behaviour change:
``PROPHEX_WRITE_GOLDEN=1 pytest tests/unit/engine/test_journal_tables.py`` and review the diff.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from prophex.engine import journal
from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    Command,
    CreateMarket,
    Deposit,
    Genesis,
    Halt,
    Open,
    OpenPortfolio,
    Resolve,
    ResolveBatch,
    Resume,
    SetMarginMode,
    SetParams,
    Void,
    Withdraw,
    to_dict,
)
from prophex.engine.events import Receipt, Transaction
from prophex.engine.exchange import Exchange
from prophex.engine.state import check_invariants, snapshot
from prophex.errors import ProphexError
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO
GOLDEN = Path(__file__).parent / "golden" / "journal_tables.json"


def _data(txn: Transaction) -> dict[str, Any]:
    """A transaction's data, through the typed event and back (the journal's own codec)."""
    return journal.encode(journal.decode(txn.kind, txn.data))


def _result(receipt: Receipt) -> Any:
    """A receipt's result as plain JSON (the one place that reads results)."""
    return receipt.to_dict()["result"]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _isolated_book() -> list[Command]:
    """Tiny fund, inexact fee rate, one-minute funding: draws, haircuts and bad debt."""
    params = profile(
        "launch",
        if_seed="3",
        fee_rate="0.0013",
        max_leverage=10,
        wallet_cap=100_000,
        market_oi_cap=1_000_000,
        funding_interval_seconds=60,
        liq_penalty_to_if="0.3",
    )
    return [
        Genesis(params=params.model_dump(mode="json")),
        CreateMarket(market="m", question="Will A win?"),
        CreateMarket(market="p", kind="perpetual"),
        CreateMarket(market="q", kind="perpetual", funding=False),
        CreateMarket(market="v"),
        CreateMarket(market="c", wallet_cap=50 * USD, market_oi_cap=120 * USD),
        CreateMarket(market="h"),
        CreateMarket(market="r"),
        Deposit("a", 2_000 * USD),
        Deposit("b", 2_000 * USD),
        Deposit("w", 20_000 * USD),
        Deposit("s", 777_777_777),
        Withdraw("s", 123_456_789),
        Withdraw("s", 10_000 * USD),  # refused: more than the wallet
        Open("a", "m", "A", 97_654_321, 733),
        Open("b", "m", "B", 123_456_789, 250),
        Open("s", "m", "A", 33_333_333, 1_000),
        Open("s", "m", "A", 11_111_111, 1_000),  # merges into the same position
        Open("a", "m", "B", 5 * USD, 100, max_avg_price=Fraction(1, 10)),  # refused: slippage
        Open("s", "h", "A", 20 * USD, 500),
        Open("w", "h", "A", 900 * USD, 1_000),
        Close("s", 4),  # a profit larger than the fund: drawn, then cut (haircut)
        Close("b", 2, notional=100_000_001),
        Close("b", 2, notional=10 * USD, min_avg_price=Fraction(99, 100)),  # refused
        AddMargin("a", 1, 1_234_567),
        AddMargin("b", 1, 1 * USD),  # refused: not the owner
        Open("a", "c", "A", 20 * USD, 200),
        Open("a", "c", "A", 20 * USD, 100),  # refused: the wallet cap of c
        Open("b", "c", "B", 40 * USD, 300),  # refused: the wallet cap of c
        Open("b", "c", "B", 20 * USD, 200),
        Open("w", "c", "B", 20 * USD, 200),
        Open("s", "c", "A", 20 * USD, 200),  # refused: the market OI cap of c
        Open("a", "p", "A", 333 * USD, 700),
        Open("b", "p", "B", 111 * USD, 300),
        Open("a", "q", "B", 50 * USD, 200),
        AdvanceClock(1),
        AdvanceClock(184),
        Open("w", "m", "B", 1_900 * USD, 1_000),  # liquidates a and s on A
        Close("b", 2),  # the rest, in profit, against a drained fund
        Close("a", 9),
        Halt("m"),
        Open("a", "m", "A", 1 * USD, 100),  # refused: halted
        Close("w", 12),  # refused: halted
        Resume("m"),
        Open("b", "r", "A", 150 * USD, 1_000),
        Open("s", "r", "B", 2 * USD, 100),
        Resolve("r", "A"),  # the winner is owed more than the vault and the fund hold
        Open("b", "v", "A", 40 * USD, 500),
        Open("a", "v", "B", 20 * USD, 200),
        Void("v"),
        Void("v"),  # refused: already voided
        Resolve("p", "A"),  # refused: perpetual
        SetParams(params={"fee_rate": "0.0021", "cap_rule": "coverage"}),
        Open("b", "m", "A", 300 * USD, 1_000),
        Resolve("m", "A"),
        AdvanceClock(600),
        Void("p"),
    ]


def _batch_book(sharing: str) -> list[Command]:
    """Two prediction markets whose winners are owed more than fund and losers hold."""
    params = profile("launch", if_seed="5", fee_rate="0.001", max_leverage=10)
    return [
        Genesis(params=params.model_dump(mode="json")),
        CreateMarket(market="x"),
        CreateMarket(market="y"),
        CreateMarket(market="z"),
        Deposit("a", 5_000 * USD),
        Deposit("b", 5_000 * USD),
        Deposit("c", 5_000 * USD),
        Open("a", "x", "A", 300 * USD, 300),
        Open("b", "x", "A", 70 * USD, 1_000),
        Open("c", "x", "B", 9 * USD, 100),
        Open("b", "y", "B", 250 * USD, 200),
        Open("c", "y", "A", 40 * USD, 150),
        Open("a", "z", "A", 10 * USD, 100),
        ResolveBatch(outcomes={"x": "A", "y": "B", "nope": "A"}, loss_sharing=sharing),  # refused
        ResolveBatch(outcomes={"x": "A", "y": "B"}, loss_sharing=sharing),
        ResolveBatch(outcomes={"x": "B"}, loss_sharing=sharing),  # refused: resolved
        ResolveBatch(outcomes={"z": "UNKNOWN"}, loss_sharing=sharing),
    ]


def _portfolio_book() -> list[Command]:
    """A portfolio account on two markets, closed in part, then pushed into liquidation."""
    params = profile(
        "launch",
        if_seed="50",
        fee_rate="0.0007",
        pm_paths=1_000,
        wallet_cap=1_000_000,
        market_oi_cap=10_000_000,
    )
    return [
        Genesis(params=params.model_dump(mode="json")),
        CreateMarket(
            market="e1",
            underlying="ETH",
            strike="4000",
            direction="above",
            cluster="ETH",
            contract_kind="threshold",
        ),
        CreateMarket(
            market="e2",
            underlying="ETH",
            strike="4500",
            direction="above",
            cluster="ETH",
            contract_kind="threshold",
        ),
        CreateMarket(
            market="e0",
            underlying="ETH",
            strike="4000",
            direction="below",
            cluster="ETH",
            contract_kind="threshold",
        ),
        CreateMarket(market="g"),
        CreateMarket(market="pf", kind="perpetual"),
        Deposit("pm", 400 * USD),
        Deposit("bear", 200_000 * USD),
        OpenPortfolio("pm", "e1", "A", 300 * USD),  # refused: not in portfolio mode
        SetMarginMode("pm", "portfolio"),
        SetMarginMode("pm", "portfolio"),  # already
        OpenPortfolio("pm", "e1", "A", 300 * USD),
        OpenPortfolio("pm", "e2", "B", 200 * USD),
        OpenPortfolio("pm", "g", "A", 120 * USD),
        OpenPortfolio("pm", "e0", "B", 30 * USD),
        ResolveBatch(outcomes={"g": "A"}),  # refused: a portfolio account holds g
        OpenPortfolio("pm", "pf", "A", 10 * USD),  # refused: a funded perpetual
        OpenPortfolio("pm", "e2", "B", 0),  # refused: no notional
        OpenPortfolio("pm", "e2", "B", 999_999),  # refused: under the minimum notional
        OpenPortfolio("pm", "e2", "B", 5 * USD, Fraction(1, 10)),  # refused: slippage
        OpenPortfolio("pm", "e2", "B", 5 * USD, Fraction(9, 10), "pm-1"),
        OpenPortfolio("pm", "e2", "B", 5 * USD, Fraction(9, 10), "pm-1"),  # the same order
        SetParams(params={"cap_rule": "coverage"}),
        OpenPortfolio("pm", "e2", "B", 20 * USD),  # the coverage rule decides
        SetParams(params={"cap_rule": "fixed"}),
        Open("pm", "g", "A", 10 * USD, 100),  # refused: isolated open in portfolio mode
        OpenPortfolio("pm", "e1", "A", 90_000 * USD),  # refused: funds
        Close("pm", 1, notional=111_111_111),
        SetMarginMode("pm", "isolated"),  # refused: not flat
        Resolve("g", "B"),
        Open("bear", "e1", "B", 5_000 * USD, 100),  # pushes pm past its lock
        SetMarginMode("pm", "isolated"),
    ]


BOOKS: dict[str, Callable[[], list[Command]]] = {
    "isolated": _isolated_book,
    "batch_pro_rata": lambda: _batch_book("pro_rata"),
    "batch_adl": lambda: _batch_book("adl"),
    "portfolio": _portfolio_book,
}


def _run(commands: list[Command]) -> tuple[Exchange, dict[str, Any]]:
    exchange = Exchange()
    steps: list[dict[str, Any]] = []
    for command in commands:
        step: dict[str, Any] = {"command": _plain(to_dict(command))}
        try:
            receipt = exchange.apply(command)
        except ProphexError as error:
            step["refused"] = _plain(error.to_dict())
        else:
            step["result"] = _plain(_result(receipt))
            step["transactions"] = [
                [t.kind, _plain(_data(t)), [list(p) for p in t.postings]]
                for t in receipt.transactions
            ]
        steps.append(step)
        assert check_invariants(exchange.state) == [], (command, check_invariants(exchange.state))
    return exchange, {"steps": steps, "final": _plain(snapshot(exchange.state))}


def _record(book: str) -> dict[str, Any]:
    """One book's record, computed afresh by each test (no shared fixture: mutation testing
    attributes the functions a test calls to that test, and a cached record would hide them)."""
    return _run(BOOKS[book]())[1]


def test_write_golden_on_request() -> None:
    if os.environ.get("PROPHEX_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        record = {name: _record(name) for name in BOOKS}
        GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_each_book_matches_its_table(book: str) -> None:
    expected = json.loads(GOLDEN.read_text())[book]
    got = _record(book)
    assert len(got["steps"]) == len(expected["steps"])
    for index, (step, want) in enumerate(zip(got["steps"], expected["steps"], strict=True)):
        assert step == want, f"{book} step {index}: {step['command']}"
    assert got["final"] == expected["final"]


def _transactions(record: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[Any]]]:
    return [tuple(t) for s in record["steps"] for t in s.get("transactions", [])]  # type: ignore[misc]


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_each_book_obeys_the_documented_rules(book: str) -> None:
    """Checks from docs/concepts.md alone, over every pinned transaction."""
    record = _record(book)
    params = record["steps"][0]["command"]["params"]
    fee_to_if = Fraction(params["fee_to_if"])
    virtual = int(Fraction(params["virtual_oi"]) * USD)
    real: dict[tuple[str, str], int] = {}
    kinds: set[str] = set()
    for kind, data, postings in _transactions(record):
        kinds.add(kind)
        assert sum(amount for _, amount in postings) == 0, (kind, data)
        if kind in ("open", "pm_open", "close", "pm_close"):
            # the fee: the fund's share rounded down, the treasury takes the rest
            to_treasury = sum(a for acct, a in postings if acct == "treasury")
            assert to_treasury == data["fee"] - int(data["fee"] * fee_to_if)
        if kind in ("open", "pm_open", "close", "pm_close", "liquidation", "pm_liquidation"):
            key = (data["market"], data["side"])
            sign = 1 if kind in ("open", "pm_open") else -1
            real[key] = real.get(key, 0) + sign * data["notional"]
            assert data["oi_a"] == virtual + real.get((data["market"], "A"), 0)
            assert data["oi_b"] == virtual + real.get((data["market"], "B"), 0)
        if kind in ("close", "pm_close"):
            # realised PnL is what the exit paid over its share of the cost, less the haircut
            assert data["pnl"] + data["haircut"] == data["proceeds"] - data["cost"]
            assert data["haircut"] == 0 or data["pnl"] == data["fund_draw"]
        if kind in ("open", "pm_open"):
            # the fill's cost is the integral of the price, rounded up (docs/concepts.md)
            oi_x = data["oi_a"] if data["side"] == "A" else data["oi_b"]
            oi_o = data["oi_b"] if data["side"] == "A" else data["oi_a"]
            start = oi_x - data["notional"]
            assert Fraction(start, start + oi_o) * data["notional"] < data["cost"]
            assert data["cost"] < Fraction(oi_x, oi_x + oi_o) * data["notional"] + 1
    assert kinds  # every book journals something


def test_books_reach_cascades_cuts_batches_and_portfolio_events() -> None:
    recorded = {name: _record(name) for name in BOOKS}
    kinds = {b: {t[0] for t in _transactions(recorded[b])} for b in BOOKS}
    assert {"liquidation", "funding", "void", "resolve", "close", "add_margin"} <= kinds["isolated"]
    assert "resolve_batch" in kinds["batch_adl"] and "resolve_batch" in kinds["batch_pro_rata"]
    assert {"pm_open", "pm_close", "pm_liquidation", "pm_lock"} <= kinds["portfolio"]
    refused = [s for s in recorded["isolated"]["steps"] if "refused" in s]
    assert len(refused) == 12
    haircuts = [d["haircut"] for k, d, _ in _transactions(recorded["isolated"]) if k == "close"]
    assert any(h > 0 for h in haircuts), "the drained fund makes a profitable close pay less"
    batch = [d for k, d, _ in _transactions(recorded["batch_adl"]) if k == "resolve_batch"]
    assert batch[0]["uncovered"] > 0


def _rows(exchange: Exchange) -> tuple[dict[str, Any], dict[int, Any], dict[str, int], Any]:
    state = exchange.state
    return (
        {k: m.to_row() for k, m in state.markets.items()},
        {k: p.to_row() for k, p in state.positions.items()},
        dict(state.balances),
        (dict(state.margin_modes), dict(state.pm_requirement)),
    )


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_dirty_sets_name_every_row_a_command_changed(book: str) -> None:
    """The store writes only the rows marked dirty: every changed market, position, balance and
    portfolio account must be marked, and nothing that does not exist."""
    exchange = Exchange()
    for command in BOOKS[book]():
        state = exchange.state
        for dirty in (
            state.dirty_markets,
            state.dirty_positions,
            state.dirty_accounts,
            state.dirty_margin_accounts,
            state.dirty_client_orders,
        ):
            dirty.clear()
        markets, positions, balances, portfolio = _rows(exchange)
        with contextlib.suppress(ProphexError):
            exchange.apply(command)
        state = exchange.state
        after_markets, after_positions, after_balances, after_portfolio = _rows(exchange)
        changed_markets = {k for k, row in after_markets.items() if markets.get(k) != row}
        changed_positions = {k for k, row in after_positions.items() if positions.get(k) != row}
        changed_accounts = {k for k, v in after_balances.items() if balances.get(k, 0) != v}
        assert changed_markets <= state.dirty_markets <= set(state.markets), command
        assert changed_positions <= state.dirty_positions <= set(state.positions), command
        assert changed_accounts <= state.dirty_accounts <= set(state.balances), command
        modes, requirements = after_portfolio
        changed_pm = {a for a in modes if portfolio[0].get(a) != modes[a]} | {
            a for a in requirements if portfolio[1].get(a) != requirements[a]
        }
        assert changed_pm <= state.dirty_margin_accounts, command
        assert None not in state.dirty_margin_accounts


def test_margin_report_of_the_portfolio_account() -> None:
    """The portfolio account's margin picture, after its partial close and one settled market:
    each figure recomputed from the positions (docs/portfolio-margin.md)."""
    from dataclasses import replace

    from prophex.engine.pm_account import MarginReport, margin_report

    commands = _portfolio_book()
    exchange, _ = _run(commands[: commands.index(Resolve("g", "B")) + 1])
    state = exchange.state
    state.time = 3 * 86_400 + 5  # the fourth epoch of one day
    report = margin_report(state, "pm")
    held = [p for p in state.positions.values() if p.account == "pm" and p.status == "open"]
    assert len(held) == 3
    loss = Fraction(0)
    for p in held:
        market = state.markets[p.market]
        den = market.oi("A") + market.oi("B")
        loss += Fraction(p.cost_basis * den - market.oi(p.side) * p.notional, den)
    locked = state.balance("pm_margin:pm")
    wallet = state.balance("wallet:pm")
    assert locked > 0 and wallet > 0
    result = report.result
    assert replace(report, result=None) == MarginReport(
        account="pm",
        mode="portfolio",
        positions=3,
        locked=locked,
        last_requirement=state.pm_requirement["pm"],
        wallet=wallet,
        unrealized_loss=loss,
        equity=wallet + locked - loss,
        distance_to_liquidation=locked - loss,
        epoch=3,
        paths=1_000,
        result=None,
    )
    assert result is not None and result.pm_micro_usd > 0
    flat = margin_report(state, "bear")
    assert flat.mode == "isolated" and flat.positions == 0 and flat.result is None
    assert flat.locked == 0 and flat.unrealized_loss == 0


def test_an_open_may_spend_the_whole_wallet() -> None:
    """Margin plus fee equal to the wallet is enough: the funds check is ``available < needed``."""
    exchange = Exchange.create(profile("launch", fee_rate="0.001"))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 100_300_000))  # 100 USD margin + the 0.3 USD fee on 300 USD
    exchange.apply(Open("t", "m", "A", 100 * USD, 300))
    assert exchange.state.balance("wallet:t") == 0
    with pytest.raises(ProphexError, match="wallet has 0 USD free"):
        exchange.apply(Open("t", "m", "A", 1 * USD, 100))
