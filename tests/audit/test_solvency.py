"""Solvency audit: exact per-outcome shortfalls, read-only on a live database, Monte Carlo."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from prophex.audit.solvency import (
    predict_resolution,
    solvency_cli,
    solvency_of_state,
    solvency_report,
)
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Resolve
from prophex.engine.events import INSURANCE_FUND
from prophex.engine.exchange import Exchange
from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import Replay, open_sequencer
from prophex.scenarios.schema import Scenario

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


def unresolved(name: str, **params: object) -> Scenario:
    """A library scenario without its resolution plan (markets stay open for the audit)."""
    scenario = load_scenario(LIBRARY / f"{name}.yaml")
    protocol = scenario.protocol.model_copy(
        update={"params": {**scenario.protocol.params, **params}}
    )
    return scenario.model_copy(update={"resolution": {}, "protocol": protocol})


def replayed(name: str, **params: object) -> Sequencer:
    scenario = unresolved(name, **params)
    sequencer = open_sequencer(scenario, None)
    Replay(scenario, sequencer).run()
    return sequencer


@pytest.mark.parametrize(
    ("name", "params"),
    [("skew-80-mature", {}), ("skew-80-mature", {"if_seed": "1000"}), ("crypto-thresholds", {})],
)
def test_prediction_equals_resolution_both_ways(name: str, params: dict[str, object]) -> None:
    sequencer = replayed(name, **params)
    state = sequencer.state
    for market in sorted(state.markets):
        for outcome in ("A", "B", "UNKNOWN"):
            predicted = predict_resolution(state, market, outcome)
            copy_of = copy.deepcopy(sequencer.exchange)
            fund_before = copy_of.state.balance(INSURANCE_FUND)
            receipt = copy_of.apply(Resolve(market, outcome))  # type: ignore[arg-type]
            data = receipt.transactions[-1].data
            assert predicted["owed_to_winners"] == data["owed_to_winners"]
            assert predicted["vault_before_draw"] == data["vault_before_draw"]
            assert predicted["fund_draw"] == data["fund_draw"]
            assert predicted["uncovered"] == data["haircut_total"]
            assert predicted["shortfall"] == data["fund_draw"] + data["haircut_total"]
            assert fund_before - data["fund_draw"] + data["surplus_to_fund"] == (
                copy_of.state.balance(INSURANCE_FUND)
            )
            if outcome != "UNKNOWN" and hasattr(Exchange, "resolution_shortfall"):
                engine_view = sequencer.exchange.resolution_shortfall(market, outcome)
                assert engine_view["shortfall"] == predicted["shortfall"]
                assert engine_view["fund_draw"] == predicted["fund_draw"]
    report = solvency_of_state(state, paths=2_000, seed=1)
    for row in report["markets"]:
        assert row["worst_case"] == max(row["if_a"]["shortfall"], row["if_b"]["shortfall"])


def test_report_reads_a_live_database_without_the_lock(sqlite_url: str) -> None:
    scenario = unresolved("crypto-thresholds")
    with Sequencer.open(sqlite_url, scenario.params()) as sequencer:
        Replay(scenario, sequencer).run()
        report = solvency_report(sqlite_url, paths=2_000, seed=3)  # the writer still holds the lock
        expected = solvency_of_state(sequencer.state, paths=2_000, seed=3)
    assert report == expected
    assert report["monte_carlo"]["correlation"].startswith("gaussian copula: 2 gaussian latent")
    assert [r["market"] for r in report["markets"]] == sorted(scenario.market_ids())
    mc = report["monte_carlo"]
    assert 0.0 <= mc["depletion_probability"] <= 1.0
    assert mc["shortfall_p99"] <= report["worst_case_total"]
    caps = report["caps_covering_p99"]
    assert caps["wallet_cap"] is not None and caps["market_oi_cap"] is not None


def test_depletion_and_caps_with_a_tiny_fund() -> None:
    state = replayed("skew-80-mature", if_seed="1000").state
    report = solvency_of_state(state, paths=5_000, seed=2)
    assert report["insurance_fund"] < report["worst_case_total"]
    assert report["monte_carlo"]["depletion_probability"] > 0.0
    worst = report["markets"][0]
    assert worst["if_a"]["uncovered"] + worst["if_a"]["fund_draw"] == worst["if_a"]["shortfall"]


def test_same_seed_same_report() -> None:
    state = replayed("crypto-thresholds").state
    assert solvency_of_state(state, paths=1_000, seed=5) == solvency_of_state(
        state, paths=1_000, seed=5
    )


def test_cli_json_and_exit_codes(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = unresolved("alice-bob-settlement")
    with Sequencer.open(sqlite_url, scenario.params()) as sequencer:
        Replay(scenario, sequencer).run()
    code = solvency_cli(sqlite_url, True, 1_000, 1)
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    row = report["markets"][0]
    assert round(row["if_a"]["shortfall"] / 1e6, 2) == 498.81
    assert round(row["if_b"]["shortfall"] / 1e6, 2) == 30.58
    assert solvency_cli(sqlite_url.replace("prophex.db", "missing.db"), True, 1_000, 1) == 2


def test_wallet_cap_for_many_wallets_is_the_whale_cap_shared() -> None:
    state = replayed("crypto-thresholds").state
    caps = solvency_of_state(state, paths=1_000, seed=5)["caps_covering_p99"]
    one = caps["wallet_cap"]
    assert one is not None
    for n, cap in caps["wallet_cap_if_many_wallets"].items():
        assert cap == one // int(n)  # N wallets at the cap add N times the notional
