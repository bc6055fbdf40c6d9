"""Resolution values and the pro-rata haircut when the insurance fund cannot cover winners."""

from __future__ import annotations

from fractions import Fraction

from prophex.money import allocate_pro_rata, fraction_of_floor

SETTLEMENT_PRICE_A: dict[str, Fraction] = {
    "A": Fraction(1),
    "B": Fraction(0),
    "UNKNOWN": Fraction(1, 2),
}


def settlement_value(notional: int, side: str, outcome: str) -> int:
    """What N contracts on ``side`` are worth at resolution, rounded down."""
    price_a = SETTLEMENT_PRICE_A[outcome]
    price = price_a if side == "A" else 1 - price_a
    return fraction_of_floor(notional, price)


__all__ = ["SETTLEMENT_PRICE_A", "allocate_pro_rata", "settlement_value"]
