"""``prophex bench pm``: the cost of a portfolio-mode order, requirement included.

Workload: one portfolio account holding 50 positions over 8 clusters (BTC, ETH, SOL, SPX,
OIL thresholds; a 4-way election; 34 sports games; one untagged market in its own cluster),
at the default ``pm_paths``. The timed step is one ``Exchange.apply`` of a small increase on
one of the 50 markets (round robin): pricing, the requirement of the whole book after it
(cached cluster vectors, the changed cluster recomputed), the lock move, the commit and the
liquidation pass. ``cold`` is the first order of a new epoch (every cluster recomputed).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from prophex.engine.commands import (
    AdvanceClock,
    CreateMarket,
    Deposit,
    Open,
    OpenPortfolio,
    SetMarginMode,
    Side,
)
from prophex.engine.controllers.pm_risk import account_positions
from prophex.engine.exchange import Exchange
from prophex.engine.pm_account import open_holdings, requirement_of
from prophex.margin.incremental import clear_cache
from prophex.money import MICRO
from prophex.params import profile

THRESHOLDS = [
    ("BTC", "100000", "above", "A"),
    ("BTC", "110000", "above", "B"),
    ("BTC", "80000", "below", "B"),
    ("ETH", "4000", "above", "A"),
    ("ETH", "4500", "above", "B"),
    ("SOL", "200", "above", "A"),
    ("SPX", "6200", "above", "A"),
    ("SPX", "6400", "above", "B"),
    ("OIL", "80", "above", "B"),
    ("OIL", "85", "above", "A"),
    ("SOL", "250", "above", "B"),
]


def setup(paths: int | None = None) -> tuple[Exchange, list[str]]:
    overrides: dict[str, Any] = {
        "virtual_oi": 100_000,
        "wallet_cap": 1_000_000,
        "market_oi_cap": 10_000_000,
    }
    if paths is not None:
        overrides["pm_paths"] = paths
    ex = Exchange.create(profile("launch", **overrides))
    book: list[tuple[str, Side, int]] = []
    for i, (underlying, strike, direction, side) in enumerate(THRESHOLDS):
        market = f"T{i:02d}-{underlying}"
        ex.apply(
            CreateMarket(
                market,
                cluster=underlying,
                underlying=underlying,
                contract_kind="threshold",
                strike=strike,
                direction=direction,
            )
        )
        book.append((market, side, 2_000))  # type: ignore[arg-type]
    for i, side in enumerate("ABBB"):
        market = f"ELEC-{i}"
        ex.apply(CreateMarket(market, cluster="ELECTION", contract_kind="exclusive", group="e"))
        book.append((market, side, 3_000))  # type: ignore[arg-type]
    for i in range(34):
        market = f"G{i:02d}"
        ex.apply(CreateMarket(market, cluster="SPORTS", contract_kind="independent"))
        book.append((market, "A" if i % 3 else "B", 500))
    ex.apply(CreateMarket("RAIN"))
    book.append(("RAIN", "A", 500))
    ex.apply(Deposit("pm", 1_000_000 * MICRO))
    ex.apply(SetMarginMode("pm", "portfolio"))
    for market, side, usd in book:
        ex.apply(OpenPortfolio("pm", market, side, usd * MICRO))
    return ex, [m for m, _, _ in book]


def bench_pm(orders: int = 400, paths: int | None = None) -> dict[str, Any]:
    ex, markets = setup(paths)
    positions = account_positions(ex.state, "pm")
    sides = {p.market: p.side for p in positions}
    timings: list[float] = []
    for i in range(orders):
        market = markets[i % len(markets)]
        command = OpenPortfolio("pm", market, sides[market], 5 * MICRO)  # type: ignore[arg-type]
        start = time.perf_counter()
        ex.apply(command)
        timings.append(time.perf_counter() - start)
    clear_cache()
    ex.apply(AdvanceClock(ex.state.rules.pm_epoch_seconds))
    start = time.perf_counter()
    ex.apply(OpenPortfolio("pm", markets[0], sides[markets[0]], 5 * MICRO))  # type: ignore[arg-type]
    cold = time.perf_counter() - start
    _, result = requirement_of(ex.state, open_holdings(ex.state, "pm"))
    iso = _isolated_order_ms(ex)
    return {
        "positions": len(positions),
        "clusters": len(result.clusters),
        "paths": ex.state.rules.pm_paths,
        "orders": orders,
        "median_ms": round(statistics.median(timings) * 1e3, 3),
        "p90_ms": round(sorted(timings)[int(0.9 * len(timings))] * 1e3, 3),
        "cold_ms": round(cold * 1e3, 3),
        "requirement_usd": round(result.pm, 2),
        "requirement_se_usd": round(result.pm_se, 2),
        "joint_base_se_usd": round(result.base_joint_se, 2),
        "full_collateral_usd": round(result.full_collateral, 2),
        "isolated_order_median_ms": iso,
    }


def _isolated_order_ms(ex: Exchange) -> float:
    """An isolated open of another account on the same exchange (the portfolio account's
    positions are in other markets than this one, so the pass is a dictionary lookup)."""
    ex.apply(CreateMarket("ISO"))
    ex.apply(Deposit("iso", 1_000_000 * MICRO))
    timings = []
    for _ in range(400):
        start = time.perf_counter()
        ex.apply(Open("iso", "ISO", "A", 10 * MICRO, 200))
        timings.append(time.perf_counter() - start)
    return round(statistics.median(timings) * 1e3, 4)
