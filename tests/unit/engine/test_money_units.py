"""prophex.money: parsing, validating and printing micro-USD and prices, exactly.

Each refusal is asserted with its field and the reason in its message, so a reworded or
mis-attributed error is caught as surely as a wrong number."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from prophex.errors import InvalidAmount
from prophex.money import (
    MAX_AMOUNT,
    check_amount,
    format_price,
    format_usd,
    mul_div_ceil,
    mul_div_floor,
    parse_price,
    parse_usd,
)


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("1500.25", 1_500_250_000),
        (" 7 ", 7_000_000),
        ("0.000001", 1),
        ("+2.5", 2_500_000),
        (5, 5_000_000),
        (Decimal("1.000001"), 1_000_001),
        ("1000000000", MAX_AMOUNT),
    ],
)
def test_parse_usd_accepts_exact_decimals(text: Any, micro: int) -> None:
    assert parse_usd(text) == micro


def test_parse_usd_zero_only_when_allowed() -> None:
    assert parse_usd("0", allow_zero=True) == 0
    with pytest.raises(InvalidAmount, match="must be positive") as refused:
        parse_usd("0", field="margin")
    assert refused.value.details == {"field": "margin"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (0.1, "must be a decimal string, not a float"),
        (True, "must be a decimal string, not a bool"),
        ("", "must be a plain decimal number"),
        ("12abc", "must be a plain decimal number"),
        ("1X", "must be a plain decimal number"),
        ("1e5", "must be a plain decimal number"),
        ("NaN", "must be a plain decimal number"),
        ("1.2.3", "is not a decimal number"),
        ("--1", "is not a decimal number"),
        ("-1", "must be positive"),
        ("1.0000001", "has more than 6 decimal places"),
        ("1000000000.000001", "exceeds the maximum of 1000000000 USD"),
        (None, "must be a decimal string"),
        ([1], "must be a decimal string"),
        (Decimal("Infinity"), "must be finite"),
    ],
)
def test_parse_usd_refuses_with_the_field_and_reason(text: Any, reason: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_usd(text, field="amount_x")
    assert reason in refused.value.message
    assert refused.value.details == {"field": "amount_x"}
    assert refused.value.message.startswith("amount_x")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "must be an integer number of micro-USD"),
        (1.0, "must be an integer number of micro-USD"),
        (-1, "must be positive, got -0.000001"),
        (0, "must be positive, got 0"),
        (MAX_AMOUNT + 1, "exceeds the maximum"),
    ],
)
def test_check_amount_refuses(value: Any, reason: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        check_amount(value, field="f")
    assert reason in refused.value.message
    assert refused.value.details == {"field": "f"}


def test_check_amount_accepts_the_bounds() -> None:
    assert check_amount(1) == 1
    assert check_amount(MAX_AMOUNT) == MAX_AMOUNT
    assert check_amount(0, allow_zero=True) == 0


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (0, "0"),
        (1, "0.000001"),
        (10, "0.00001"),
        (1_500_250_000, "1500.25"),
        (-1_500_250_000, "-1500.25"),
        (-1, "-0.000001"),
        (2_000_000, "2"),
    ],
)
def test_format_usd(micro: int, text: str) -> None:
    assert format_usd(micro) == text


def test_parse_price_is_exact() -> None:
    assert parse_price("0.55") == Fraction(11, 20)
    assert parse_price(" 0.0000001 ") == Fraction(1, 10**7)
    assert parse_price(Decimal("0.5")) == Fraction(1, 2)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (0.5, "must be a decimal string"),
        (False, "must be a decimal string"),
        ("abc", "is not a decimal number"),
        ("0", "must lie strictly between 0 and 1"),
        ("1", "must lie strictly between 0 and 1"),
        ("-0.5", "must lie strictly between 0 and 1"),
        ("NaN", "must lie strictly between 0 and 1"),
    ],
)
def test_parse_price_refuses(text: Any, reason: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_price(text, field="bound")
    assert reason in refused.value.message
    assert refused.value.details == {"field": "bound"}


def test_format_price_rounds_half_even() -> None:
    assert format_price(1, 8, 2) == "0.12"  # 0.125 -> even
    assert format_price(3, 8, 2) == "0.38"  # 0.375 -> even
    assert format_price(2, 3) == "0.666667"
    assert format_price(1, 2) == "0.500000"
    assert format_price(3, 2, 1) == "1.5"


def test_mul_div_directions_and_signs() -> None:
    assert (mul_div_floor(7, 1, 2), mul_div_ceil(7, 1, 2)) == (3, 4)
    assert (mul_div_floor(-7, 1, 2), mul_div_ceil(-7, 1, 2)) == (-4, -3)
    assert (mul_div_floor(6, 1, 2), mul_div_ceil(6, 1, 2)) == (3, 3)
    for helper in (mul_div_floor, mul_div_ceil):
        with pytest.raises(ValueError, match="denominator must be positive"):
            helper(1, 1, 0)


def test_default_field_names_in_messages() -> None:
    with pytest.raises(InvalidAmount) as usd:
        parse_usd("x")
    assert usd.value.details == {"field": "amount"} and usd.value.message.startswith("amount ")
    with pytest.raises(InvalidAmount) as price:
        parse_price("2")
    assert price.value.details == {"field": "price"} and price.value.message.startswith("price ")
