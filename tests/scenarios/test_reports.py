"""Reports a risk committee reads (issue 11): prices, bad-debt naming, funding, markers, plots."""

from __future__ import annotations

from pathlib import Path

from scenario_lib import library

from prophex.scenarios.replay import run_scenario
from prophex.scenarios.report import build_summary, render_markdown, write_reports


def test_resolved_market_keeps_its_last_pre_resolution_price() -> None:
    result = run_scenario(library("skew-80-mature"))
    summary = build_summary(result)
    event = summary["markets"]["EVENT"]
    series = result.metrics.markets["EVENT"].series
    last = series[-1]
    assert event["final_price_a"] != "0.500000"  # not the post-settlement virtual-only price
    assert event["final_price_a"] == f"{last[1] / (last[1] + last[2]):.6f}"
    assert float(event["final_price_a"]) > 0.75  # the 80% crowd's price when B was decided
    assert event["settlement_price_a"] == "0"
    assert (event["real_oi_a_final"], event["real_oi_b_final"]) == (last[3], last[4])
    assert last[3] > 4 * last[4] > 0  # per side: the skew that matters is visible


def test_bad_debt_is_split_into_liquidation_gaps_and_unposted_premium() -> None:
    summary = build_summary(run_scenario(library("skew-80-mature")))
    split = summary["bad_debt_breakdown"]
    assert sum(split.values()) == summary["bad_debt"]
    assert split["unposted_premium_at_resolution"] > 10 * split["liquidation_gap"] > 0
    text = render_markdown(summary)
    assert "Premium losers never posted at resolution (uncollectable, not a fund loss)" in text
    assert "| Bad debt |" not in text
    by_side = summary["markets"]["EVENT"]["liquidations_by_side"]
    assert by_side["A"]["count"] + by_side["B"]["count"] == summary["liquidations"]["count"]
    assert by_side["A"]["loss_caused"] + by_side["B"]["loss_caused"] == split["liquidation_gap"]
    assert "## Liquidations by market and side" in text


def test_funding_rows_events_and_plots(tmp_path: Path) -> None:
    result = run_scenario(library("perpetual-funding"))
    summary = build_summary(result)
    assert summary["funding_paid"] > 0
    assert sum(row[3] for row in summary["funding"]) == summary["funding_paid"]
    assert "| Funding paid |" in render_markdown(summary)
    written = write_reports(summary, result, tmp_path)
    assert {p.name for p in written} >= {"funding.png", "odds_oi.png", "fund_balance.png"}
    contested = build_summary(run_scenario(library("contested-election")))
    assert [e for e in contested["events"] if e[1] == "PRES"] == [
        [36 * 3600, "PRES", "halt"],
        [3 * 86_400, "PRES", "resolve B"],
    ]
    fund = contested["insurance_fund"]
    assert fund["draws"] and sum(a for _, a in fund["draws"]) == fund["drawn"]
