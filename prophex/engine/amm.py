"""The virtual AMM: spot price from open interest and execution at the curve-average price.

Spot on side X is ``OI_X / (OI_X + OI_O)``. A trade of N on side X executes at the integral of
spot over the OI change, which for this curve has a closed form (other side O held fixed):

    open:   cost     = N - OI_O * ln((S + N) / S)        S = OI_X + OI_O before the trade
    close:  proceeds = N - OI_O * ln(S / (S - N))        S = OI_X + OI_O before the trade

So opening and then immediately closing the same N crosses the same stretch of curve twice, and
splitting an order changes nothing but rounding. Pre-trade spot would hand out free money and
post-trade spot would charge the impact twice (docs/decisions.md).

Exactness. The logarithm is irrational, so the trader-facing amount is rounded: cost up,
proceeds down. We compute it with a float first (``log1p``) and accept the float's
ceiling/floor only when the value is farther from a whole micro-dollar than the float's error
bound. That bound is scaled to the *terms* (``N`` and ``OI_O * ln(...)``), not to the result:
with a thin side facing a huge one the two terms nearly cancel, and the float's absolute error
(a few ulps of N) can exceed the small result's own ulp. Each float operation errs by at most
one or two ulps (about 2.2e-16 relative), so the bound ``1e-13 * (N + |term|)`` is over a
hundred times wider than the worst case. When the float cannot decide, the value is recomputed
with Decimal arithmetic, starting at 50 significant digits and doubling the precision until the
value is provably clear of a whole number (``ln`` of a rational other than 1 is irrational, so
this ends; a cap of 1,600 digits turns the impossible case into an error rather than a hang).
The integer result is therefore exact, and the same on every platform.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from prophex.money import ratio_float

_GUARD_RELATIVE = 1e-13
_GUARD_ABSOLUTE = 1e-6
_START_PRECISION = 50
_MAX_PRECISION = 1_600
"""Digits at which the refinement gives up. Never reached on the domain Params allows (50
suffice by a wide margin); it turns an impossible case into an error instead of a hang."""


def _float_decides(value: float, notional: int, term: float) -> bool:
    """True when ``value`` is provably on one side of every whole number near it."""
    guard = _GUARD_ABSOLUTE + _GUARD_RELATIVE * (notional + abs(term))
    return abs(value - round(value)) > guard


def _exact(
    other: int, notional: int, num: int, den: int, rounding: str, precision: int = _START_PRECISION
) -> int:
    """``notional - other * ln(num / den)`` rounded in direction ``rounding``, exactly,
    refining from ``precision`` significant digits."""
    if other == 0 or num == den:
        return notional
    while True:
        ctx = Context(prec=precision)
        term = ctx.multiply(Decimal(other), ctx.ln(ctx.divide(Decimal(num), Decimal(den))))
        value = ctx.subtract(Decimal(notional), term)
        # The ratio carries an absolute error of one unit in its last place (~10^(1-p), the
        # ratio being >= 1), which ln passes on unchanged (ln' <= 1) and ``other`` multiplies;
        # the ln, product and difference add a few more units in the last place of their
        # results. All of it is below 10^(3-p) times the sum of the magnitudes.
        magnitude = Decimal(other) + abs(term) + Decimal(notional)
        error = Decimal(10) ** (magnitude.adjusted() + 3 - precision)
        nearest = value.to_integral_value()
        if abs(ctx.subtract(value, nearest)) > error:
            return int(value.to_integral_value(rounding=rounding))
        precision *= 2
        if precision > _MAX_PRECISION:
            raise ArithmeticError(f"curve value within 1e-{_MAX_PRECISION} of a whole number")


def open_cost(oi_side: int, oi_other: int, notional: int) -> int:
    """Micro-USD a trader pays for ``notional`` on a side (curve average), rounded up."""
    total = oi_side + oi_other
    term = oi_other * math.log1p(ratio_float(notional, total))
    approx = notional - term
    if _float_decides(approx, notional, term):
        return math.ceil(approx)
    return _exact(oi_other, notional, total + notional, total, ROUND_CEILING)


def close_proceeds(oi_side: int, oi_other: int, notional: int) -> int:
    """Micro-USD a trader receives for removing ``notional`` from a side, rounded down."""
    total = oi_side + oi_other
    fraction = ratio_float(notional, total)
    if fraction >= 1.0:  # closing all but a sliver of a huge total: ln's argument rounds to 0
        return _exact(oi_other, notional, total, total - notional, ROUND_FLOOR)
    term = -oi_other * math.log1p(-fraction)
    approx = notional - term
    if _float_decides(approx, notional, term):
        return math.floor(approx)
    return _exact(oi_other, notional, total, total - notional, ROUND_FLOOR)
