"""Units and rounding: the one place that decides how money is represented and rounded.

Every amount in Prophex-sim is an ``int`` of micro-USD (1 USD = 1_000_000). Floats never carry
money: they appear only as a fast first guess inside :mod:`prophex.engine.amm`, whose result is
always an exact integer. Direction of rounding is part of each helper's name, so a reader can
check at the call site that it favours the protocol:

* amounts the trader pays (fees, losses, costs) round **up**;
* amounts the trader receives (profits, proceeds, released margin) round **down**.
"""

from __future__ import annotations

import operator
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from prophex.errors import InvalidAmount

MICRO = 1_000_000
"""Micro-USD per USD."""

PPM = 1_000_000
"""Parts per million: the unit of every rate (fees, shares, funding)."""

MAX_AMOUNT = 10**15
"""1 billion USD in micro-USD. Larger inputs are rejected: no simulated market is that big, and
it keeps every product of two amounts far inside what the databases' BIGINT and numeric types
hold."""


def ratio_float(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` as the float nearest the exact ratio (correctly rounded).

    Python's ``int / int`` is correctly rounded, but mypyc compiles ``/`` on two ints below 2^62
    as a division of their floats, which rounds each operand first above 2^53: the compiled
    ``9208081978490879 / 9208081978490880`` was ``1.0``. Going through ``operator.truediv``
    keeps Python's semantics in both builds, so the float pricing guesses and the liquidation
    heaps' float keys are the same floats, and correctly rounded (hence monotonic), everywhere.
    """
    result: float = operator.truediv(numerator, denominator)
    return result


def mul_div_floor(amount: int, numerator: int, denominator: int) -> int:
    """``amount * numerator / denominator`` rounded down (toward minus infinity).

    For what the protocol hands out or values: proceeds shares, released margin, the fund's
    share of a fee, a valuation at mark, a scaled cap. ``denominator`` must be positive.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (amount * numerator) // denominator


def mul_div_ceil(amount: int, numerator: int, denominator: int) -> int:
    """``amount * numerator / denominator`` rounded up (toward plus infinity).

    For what the trader pays: fees, funding, the cost basis leaving with a partial close.
    ``denominator`` must be positive.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return -((-amount * numerator) // denominator)


def fraction_of_floor(amount: int, ratio: Fraction) -> int:
    """``amount * ratio`` rounded down, for an exact rational ``ratio``."""
    return mul_div_floor(amount, ratio.numerator, ratio.denominator)


def fraction_of_ceil(amount: int, ratio: Fraction) -> int:
    """``amount * ratio`` rounded up, for an exact rational ``ratio``."""
    return mul_div_ceil(amount, ratio.numerator, ratio.denominator)


def ppm_of_up(amount: int, rate_ppm: int) -> int:
    """``amount * rate`` rounded up: for what a trader pays (fees, funding)."""
    return mul_div_ceil(amount, rate_ppm, PPM)


def ppm_of_down(amount: int, rate_ppm: int) -> int:
    """``amount * rate`` rounded down: for shares the protocol hands out."""
    return mul_div_floor(amount, rate_ppm, PPM)


def centi_of_down(amount: int, hundredths: int) -> int:
    """``amount * hundredths / 100`` rounded down: notional from margin and leverage."""
    return mul_div_floor(amount, hundredths, 100)


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


def parse_usd(text: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Parse a decimal USD string (``"1500.25"``) into micro-USD, exactly.

    ``text`` is typed ``object`` (anything may arrive; see :func:`check_amount`). Floats are
    refused on purpose: ``0.1`` is not a decimal number, and accepting it would let
    binary rounding leak into the ledger. More than six decimals, exponents, NaN, infinities,
    negatives and values above :data:`MAX_AMOUNT` are all rejected with :class:`InvalidAmount`.
    """
    if isinstance(text, (bool, float)):
        raise InvalidAmount(field, f"{field} must be a decimal string, not a {type(text).__name__}")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
    elif isinstance(text, str):
        stripped = text.strip()
        if not stripped or any(ch not in "0123456789.-+" for ch in stripped):
            raise InvalidAmount(field, f"{field} must be a plain decimal number, got {text!r}")
        try:
            value = Decimal(stripped)
        except InvalidOperation:
            raise InvalidAmount(field, f"{field} is not a decimal number: {text!r}") from None
    else:
        raise InvalidAmount(field, f"{field} must be a decimal string")
    if not value.is_finite():
        raise InvalidAmount(field, f"{field} must be finite")
    micro = value * MICRO
    if micro != micro.to_integral_value():
        raise InvalidAmount(field, f"{field} has more than 6 decimal places: {text!r}")
    return check_amount(int(micro), field=field, allow_zero=allow_zero)


def check_amount(value: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Validate an integer micro-USD amount coming from outside the engine. Typed ``object``:
    the value may be anything, and the compiled build checks a parameter's declared type on
    entry, so a narrower annotation would turn the typed refusal into a ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(field, f"{field} must be an integer number of micro-USD")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmount(field, f"{field} must be positive, got {format_usd(value)}")
    if value > MAX_AMOUNT:
        raise InvalidAmount(field, f"{field} exceeds the maximum of {format_usd(MAX_AMOUNT)} USD")
    return value


def format_usd(micro: int) -> str:
    """Render micro-USD as a decimal string, no float involved (``1500250000 -> "1500.25"``)."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def parse_price(text: str | int | Decimal, *, field: str = "price") -> Fraction:
    """Parse a price in the open interval (0, 1) into an exact fraction."""
    if isinstance(text, (bool, float)):
        raise InvalidAmount(field, f"{field} must be a decimal string")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidAmount(field, f"{field} is not a decimal number: {text!r}") from None
    if not value.is_finite() or not (0 < value < 1):
        raise InvalidAmount(field, f"{field} must lie strictly between 0 and 1, got {text!r}")
    return Fraction(value)


def format_price(numerator: int, denominator: int, places: int = 6) -> str:
    """Render ``numerator / denominator`` with ``places`` decimals, rounded half-even, no float."""
    scaled = Fraction(numerator * 10**places, denominator)
    rounded = round(scaled)
    whole, frac = divmod(rounded, 10**places)
    return f"{whole}.{frac:0{places}d}"


def format_prices_apart(value: Fraction, bound: Fraction, places: int = 6) -> tuple[str, str]:
    """Render ``value`` and ``bound`` with the fewest decimals (at least ``places``) at which the
    two renderings differ, so "0.5214981 is above the bound 0.521498" never reads as "0.521498
    is above 0.521498". Rounding half-even is monotone, so the rendered order is the true one.
    Equal inputs render at ``places`` decimals."""
    if value == bound:
        text = format_price(value.numerator, value.denominator, places)
        return text, text
    while True:
        left = format_price(value.numerator, value.denominator, places)
        right = format_price(bound.numerator, bound.denominator, places)
        if left != right:
            return left, right
        places += 1
