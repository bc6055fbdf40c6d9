"""Resolution values and the pro-rata haircut when the insurance fund cannot cover winners."""

from __future__ import annotations

from fractions import Fraction

SETTLEMENT_PRICE_A: dict[str, Fraction] = {
    "A": Fraction(1),
    "B": Fraction(0),
    "UNKNOWN": Fraction(1, 2),
}


def settlement_value(notional: int, side: str, outcome: str) -> int:
    """What N contracts on ``side`` are worth at resolution, rounded down."""
    price_a = SETTLEMENT_PRICE_A[outcome]
    price = price_a if side == "A" else 1 - price_a
    return notional * price.numerator // price.denominator


def allocate_pro_rata(total: int, weights: list[tuple[int, int]]) -> dict[int, int]:
    """Split ``total`` over ``(key, weight)`` pairs pro rata, summing to ``total`` exactly.

    Largest-remainder method: floor shares first, then one micro-dollar each to the largest
    remainders (ties by key). Haircuts must add up to the uncovered amount to the micro-dollar,
    so plain rounding up or down would not do.
    """
    weight_sum = sum(w for _, w in weights)
    if total <= 0 or weight_sum <= 0:
        return {key: 0 for key, _ in weights}
    shares: dict[int, int] = {}
    remainders: list[tuple[int, int]] = []
    for key, weight in weights:
        share, remainder = divmod(total * weight, weight_sum)
        shares[key] = share
        remainders.append((-remainder, key))
    leftover = total - sum(shares.values())
    for _, key in sorted(remainders)[:leftover]:
        shares[key] += 1
    return shares
