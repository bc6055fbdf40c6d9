"""What every schema shares: the money, price and name types, and the strict request base.

Amounts are USD with at most six decimals (``"1500.25"``); prices have exactly six decimals
in responses (``"0.512345"``). Floats are never accepted for money.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

_FRACTION_NONZERO = (
    "(?:[1-9][0-9]{0,5}|0[1-9][0-9]{0,4}|00[1-9][0-9]{0,3}|000[1-9][0-9]{0,2}|0000[1-9][0-9]?"
    "|00000[1-9])"
)
USD_PATTERN = (
    r"^(?:[1-9][0-9]{0,8}(\.[0-9]{1,6})?|0\." + _FRACTION_NONZERO + r"|1000000000(\.0{1,6})?)$"
)
"""A positive USD amount, at most 1,000,000,000 (the engine's ``MAX_AMOUNT``), at most six
decimals, no leading zeros: exactly the amounts every request field accepts."""
PRICE_PATTERN = r"^0?\.[0-9]{1,6}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

Usd = Annotated[
    str,
    Field(
        pattern=USD_PATTERN,
        description="USD as a decimal string, at most 6 decimals",
        examples=["100.5"],
    ),
]
Price = Annotated[
    str,
    Field(
        pattern=PRICE_PATTERN, description="price in (0, 1) as a decimal string", examples=["0.55"]
    ),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN, examples=["btc-100k-2026"])]
Leverage = Annotated[
    str,
    Field(
        pattern=r"^[1-9][0-9]{0,2}(\.[0-9]{1,2})?$",
        description='leverage, e.g. "3" or "2.5"',
        examples=["3"],
    ),
]
Side = Literal["A", "B"]
Cursor = Annotated[
    str | None, Field(description="opaque cursor from a previous page's next_cursor")
]
UsdOut = Annotated[
    str, Field(description="USD decimal string (may be negative)", examples=["12.5"])
]
PriceOut = Annotated[str, Field(description="price with 6 decimals", examples=["0.500000"])]


class Request(BaseModel):
    """Strict: unknown fields refused, and no coercion (``0`` is not ``false``, ``"1"`` is
    not ``1``), so the OpenAPI types are exactly what the server accepts."""

    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- problems


class Problem(BaseModel):
    """RFC 9457 problem details plus the stable ``code`` and the failing check's figures."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
