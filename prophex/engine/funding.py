"""Skew-based funding: the crowded side pays the other, pro rata by notional, from margin.

There is no external index for event odds, so funding cannot be "mark minus index" as on a
crypto perp; it is driven by the skew of real open interest (virtual OI excluded):
``rate = min(k * |A - B| / (A + B), max_rate)`` per interval.
"""

from __future__ import annotations

from prophex.money import PPM
from prophex.params import Rules


def funding_rate_ppm(real_a: int, real_b: int, rules: Rules) -> int:
    """Rate per interval in ppm, rounded down; 0 when one side is empty (nobody to receive)."""
    if real_a == 0 or real_b == 0 or real_a == real_b:
        return 0
    rate = rules.funding_k_ppm * abs(real_a - real_b) // (real_a + real_b)
    return min(rate, rules.funding_max_rate_ppm, PPM)


def paying_side(real_a: int, real_b: int) -> str:
    return "A" if real_a > real_b else "B"
