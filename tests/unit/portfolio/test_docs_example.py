"""The worked example of docs/portfolio-margin.md, "Trading in portfolio mode", pinned."""

from __future__ import annotations

import math

from prophex.engine.commands import (
    CreateMarket,
    Deposit,
    OpenPortfolio,
    Resolve,
    SetMarginMode,
    Withdraw,
)
from prophex.engine.exchange import Exchange
from prophex.engine.pm_account import margin_report
from prophex.engine.state import check_invariants
from prophex.params import profile

M = 1_000_000


def test_worked_example() -> None:
    ex = Exchange.create(
        profile("launch", virtual_oi=100_000, wallet_cap=1_000_000, market_oi_cap=10_000_000,
                pm_paths=20_000, pm_seed=7)
    )  # fmt: skip
    tags = {"cluster": "BTC", "underlying": "BTC", "contract_kind": "threshold"}
    ex.apply(CreateMarket("BTC100", strike="100000", direction="above", **tags))
    ex.apply(CreateMarket("BTC105", strike="105000", direction="above", **tags))
    ex.apply(Deposit("alice", 12_000 * M))
    ex.apply(SetMarginMode("alice", "portfolio"))
    first = ex.apply(OpenPortfolio("alice", "BTC100", "A", 10_000 * M)).result
    assert (first.cost, first.fee, first.requirement) == (
        5_120_983_584,
        10 * M,
        5_120_983_584,
    )
    assert ex.state.balance("wallet:alice") == 6_869_016_416
    second = ex.apply(OpenPortfolio("alice", "BTC105", "B", 10_000 * M)).result
    assert second.cost == 5_120_983_584
    assert second.requirement == second.locked == 1_024_196_717
    assert first.requirement - second.requirement == 4_096_786_867
    assert ex.state.balance("wallet:alice") == 10_955_803_283
    report = margin_report(ex.state, "alice")
    result = report.result
    assert round(result.full_collateral, 6) == 10_241.967168
    assert round(result.base_joint, 6) == round(result.floor_top2, 6) == 241.967168
    assert round(result.min_margin, 6) == round(result.addons["basis"], 6) == 512.098358
    assert result.binding == "min_margin" and result.pm_micro_usd == 1_024_196_717
    assert math.ceil(report.unrealized_loss) == -234_223_308
    assert math.floor(report.distance_to_liquidation) == 1_258_420_025
    ex.apply(Withdraw("alice", ex.state.balance("wallet:alice") - 500 * M))
    receipt = ex.apply(Resolve("BTC100", "B"))
    record = receipt.transactions[0].data["settlements"]["1"]
    assert (record["from_lock"], record["from_wallet"], record["bad_debt"]) == (
        1_024_196_717,
        500 * M,
        3_596_786_867,
    )
    assert ex.state.balance("pm_margin:alice") == 0 == ex.state.balance("wallet:alice")
    assert ex.state.pm_requirement["alice"] == 5_120_983_584
    assert check_invariants(ex.state) == []
