"""The virtual AMM: spot price from open interest and execution at the curve-average price.

Spot on side X is ``OI_X / (OI_X + OI_O)``. A trade of N on side X executes at the integral of
spot over the OI change, which for this curve has a closed form (other side O held fixed):

    open:   cost     = N - OI_O * ln((S + N) / S)        S = OI_X + OI_O before the trade
    close:  proceeds = N - OI_O * ln(S / (S - N))        S = OI_X + OI_O before the trade

So opening and then immediately closing the same N crosses the same stretch of curve twice, and
splitting an order changes nothing but rounding. Pre-trade spot would hand out free money and
post-trade spot would charge the impact twice (docs/decisions.md).

Exactness. The logarithm is irrational, so the trader-facing amount is rounded: cost up,
proceeds down. We compute it with a float first (``log1p``; ~1e-16 relative error) and accept
the float's ceiling/floor only when the value is comfortably far from a whole micro-dollar;
otherwise we recompute with 50-digit Decimal arithmetic. The guard band is many orders of
magnitude wider than any libm's error, so the integer result is the same on every platform.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal

_EXACT = Context(prec=50)
_GUARD_RELATIVE = 1e-12
_GUARD_ABSOLUTE = 1e-6


def _needs_exact(value: float) -> bool:
    """True when ``value`` is too close to a whole number for the float to decide the rounding."""
    nearest = round(value)
    return abs(value - nearest) <= _GUARD_ABSOLUTE + _GUARD_RELATIVE * abs(value)


def _log_term_exact(other: int, num: int, den: int) -> Decimal:
    """``other * ln(num / den)`` to 50 significant digits."""
    ratio = _EXACT.divide(Decimal(num), Decimal(den))
    return _EXACT.multiply(Decimal(other), _EXACT.ln(ratio))


def open_cost(oi_side: int, oi_other: int, notional: int) -> int:
    """Micro-USD a trader pays for ``notional`` on a side (curve average), rounded up."""
    total = oi_side + oi_other
    approx = notional - oi_other * math.log1p(notional / total)
    if not _needs_exact(approx):
        return math.ceil(approx)
    exact = Decimal(notional) - _log_term_exact(oi_other, total + notional, total)
    return int(exact.to_integral_value(rounding="ROUND_CEILING"))


def close_proceeds(oi_side: int, oi_other: int, notional: int) -> int:
    """Micro-USD a trader receives for removing ``notional`` from a side, rounded down."""
    total = oi_side + oi_other
    approx = notional + oi_other * math.log1p(-notional / total)
    if not _needs_exact(approx):
        return math.floor(approx)
    exact = Decimal(notional) - _log_term_exact(oi_other, total, total - notional)
    return int(exact.to_integral_value(rounding="ROUND_FLOOR"))


def spot_fraction(oi_side: int, oi_other: int) -> tuple[int, int]:
    """Spot price of a side as an exact (numerator, denominator) pair."""
    return oi_side, oi_side + oi_other


def spot_float(oi_side: int, oi_other: int) -> float:
    """Spot price as a float: for display and plots only, never for a decision."""
    return oi_side / (oi_side + oi_other)
