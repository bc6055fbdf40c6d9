"""Position arithmetic: value at mark, unrealised PnL, liquidation price, partial shares."""

from __future__ import annotations

from prophex.money import mul_div_ceil, mul_div_floor


def value_at_mark(notional: int, oi_side: int, oi_other: int) -> int:
    """Value of N contracts at spot, rounded down (a valuation never flatters the trader)."""
    return mul_div_floor(notional, oi_side, oi_side + oi_other)


def unrealized_pnl(notional: int, cost_basis: int, oi_side: int, oi_other: int) -> int:
    return value_at_mark(notional, oi_side, oi_other) - cost_basis


def liquidation_price(cost_basis: int, margin: int, notional: int) -> tuple[int, int] | None:
    """``(C - M) / N`` as a fraction, or None when the position cannot be liquidated before
    resolution (its margin covers the whole premium)."""
    numerator = cost_basis - margin
    if numerator <= 0:
        return None
    return numerator, notional


def partial_shares(notional: int, cost_basis: int, margin: int, closing: int) -> tuple[int, int]:
    """(cost basis, margin) that leave with ``closing`` of ``notional``.

    The departing cost basis rounds up (less realised profit) and the released margin rounds
    down; the remainder keeps the rest, so totals are conserved over the position's life.
    """
    if closing == notional:
        return cost_basis, margin
    return mul_div_ceil(cost_basis, closing, notional), mul_div_floor(margin, closing, notional)
