"""The coverage-aware cap (``cap_rule: coverage``): after an open, the fund must still cover
the worst-case resolution shortfall of every live market at once."""

from __future__ import annotations

from prophex.engine.commands import Open
from prophex.engine.controllers.settlement import worst_case_shortfall
from prophex.engine.core import Core
from prophex.engine.events import INSURANCE_FUND
from prophex.engine.markets import SETTLEABLE
from prophex.engine.state import Market
from prophex.errors import CoverageCapExceeded
from prophex.money import format_usd


def _exposure_delta(
    core: Core, c: Open, market: Market, notional: int, cost: int
) -> tuple[int, int]:
    """(extra profit owed if the side wins, extra collectible if it loses) of this open."""
    existing_id = core.state.open_by_key.get((c.account, market.id, c.side))
    if existing_id is None:
        return notional - cost, min(c.margin, cost)
    old = core.state.positions[existing_id]
    merged = min(old.margin + c.margin, old.cost_basis + cost)
    return notional - cost, merged - min(old.margin, old.cost_basis)


def check_coverage(core: Core, c: Open, market: Market, notional: int, cost: int) -> None:
    extra_profit, extra_collect = _exposure_delta(core, c, market, notional, cost)
    side = c.side
    market.win_profit[side] += extra_profit
    market.collectible[side] += extra_collect
    try:
        this_market = worst_case_shortfall(core, market)
    finally:
        market.win_profit[side] -= extra_profit
        market.collectible[side] -= extra_collect
    others = sum(
        worst_case_shortfall(core, m)
        for m in core.state.markets.values()
        if m.id != market.id and m.status in SETTLEABLE
    )
    fund = core.state.balance(INSURANCE_FUND)
    if others + this_market > fund:
        raise CoverageCapExceeded(
            f"after this order the worst-case resolution shortfalls would total "
            f"{format_usd(others + this_market)} USD but the insurance fund holds "
            f"{format_usd(fund)} USD",
            worst_case_shortfall=format_usd(others + this_market),
            insurance_fund=format_usd(fund),
        )
