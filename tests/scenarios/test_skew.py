"""The 80%-skew example: who pays the winners, exactly."""

from __future__ import annotations

import pytest
from scenario_lib import library

from prophex.engine.state import check_invariants
from prophex.scenarios.replay import run_scenario
from prophex.scenarios.report import WATERFALL_KEYS, build_summary


@pytest.mark.parametrize("name", ["skew-80-launch", "skew-80-mature", "skew-80-small-fund"])
def test_waterfall_adds_up_to_what_winners_are_owed(name: str) -> None:
    result = run_scenario(library(name))
    assert check_invariants(result.state) == []
    summary = build_summary(result)
    market = summary["markets"]["EVENT"]
    res, flow = market["resolution"], market["waterfall"]
    assert res["outcome"] == "B"
    assert sum(flow[k] for k in WATERFALL_KEYS) == res["owed_to_winners"] == flow["owed_to_winners"]
    assert res["vault_shortfall"] == max(0, res["owed_to_winners"] - res["vault_before_draw"])
    assert res["fund_draw"] + res["haircut"] == res["vault_shortfall"]
    assert all(v >= 0 for v in flow.values())


def test_mature_skew_fund_draw_equals_vault_shortfall() -> None:
    summary = build_summary(run_scenario(library("skew-80-mature")))
    res = summary["markets"]["EVENT"]["resolution"]
    assert res["vault_shortfall"] > 0
    assert res["fund_draw"] == res["vault_shortfall"]
    assert res["haircut"] == 0 and summary["haircuts"]["total"] == 0


def test_launch_skew_losers_cover_the_winners() -> None:
    res = build_summary(run_scenario(library("skew-80-launch")))["markets"]["EVENT"]["resolution"]
    assert res["vault_shortfall"] == 0 and res["surplus_to_fund"] > 0


def test_small_fund_haircuts_recorded_per_position_and_exact() -> None:
    result = run_scenario(library("skew-80-small-fund"))
    summary = build_summary(result)
    res = summary["markets"]["EVENT"]["resolution"]
    assert res["haircut"] > 0 and summary["insurance_fund"]["final"] == 0
    haircut_positions = {
        p.id: p.haircut
        for p in result.state.positions.values()
        if p.haircut and p.market == "EVENT"
    }
    on_closes = summary["markets"]["EVENT"]["haircut_on_closes"]
    assert sum(haircut_positions.values()) == res["haircut"] + on_closes
    assert {int(k): v for k, v in summary["haircuts"]["positions"].items()} == haircut_positions
    assert res["fund_draw"] + res["haircut"] == res["vault_shortfall"]
    assert check_invariants(result.state) == []
