"""Skew-based funding: the crowded side pays the other, pro rata by notional, from margin.

There is no external index for event odds, so funding cannot be "mark minus index" as on a
crypto perp; it is driven by the skew of real open interest (virtual OI excluded):
``rate = min(k * |A - B| / (A + B), max_rate)`` per interval, an exact rational number (never
truncated to whole parts per million), and each payer pays ``ceil(N * rate)``.
"""

from __future__ import annotations

from fractions import Fraction

from prophex.engine.domain import Side
from prophex.money import PPM, fraction_of_ceil, mul_div_floor
from prophex.params import Rules

_ZERO = Fraction(0)


def funding_rate(real_a: int, real_b: int, rules: Rules) -> Fraction:
    """Exact rate per interval; 0 when one side is empty (nobody to receive) or balanced."""
    if real_a == 0 or real_b == 0 or real_a == real_b:
        return _ZERO
    skew_rate = Fraction(rules.funding_k_ppm * abs(real_a - real_b), PPM * (real_a + real_b))
    return min(skew_rate, Fraction(rules.funding_max_rate_ppm, PPM))


def funding_payment(notional: int, rate: Fraction) -> int:
    """What a payer of ``notional`` owes for one interval: ``ceil(N * rate)`` (the trader pays)."""
    return fraction_of_ceil(notional, rate)


def rate_ppm_floor(rate: Fraction) -> int:
    """The rate in whole ppm, rounded down: for display only, never for a payment."""
    return mul_div_floor(PPM, rate.numerator, rate.denominator)


def paying_side(real_a: int, real_b: int) -> Side:
    """The side with more real OI (only asked when the two differ: equal OI pays nothing)."""
    return Side.A if real_a > real_b else Side.B


def boundaries_crossed(start: int, end: int, interval: int) -> range:
    """Indices ``k`` of the funding times ``k * interval`` in ``(start, end]``."""
    return range(start // interval + 1, end // interval + 1)
