"""Shared field types of the scenario format: durations, USD amounts, names, the strict base.

Amounts are USD decimal strings (or YAML numbers, taken by their shortest decimal repr);
times are seconds of simulated time, as integers or as ``"90s"``, ``"30m"``, ``"2h"``, ``"3d"``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from prophex.errors import ProphexError

_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_SECONDS = 10 * 365 * 86_400


def _duration(value: Any) -> Any:
    """Accept ``3600`` or ``"1h"``; everything else is left for pydantic to reject."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use seconds or e.g. '30m', '2h', '3d')")
        return int(match.group(1)) * _UNITS[match.group(2) or "s"]
    return value


def as_decimal(value: Any) -> Any:
    """YAML turns ``0.8`` into a float; take its shortest repr so no binary noise gets in."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


DURATION_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_SECONDS},
            {"type": "string", "pattern": _DURATION.pattern},
        ],
        "description": "seconds, or a number with a unit: 90s, 30m, 2h, 3d",
    }
)
Seconds = Annotated[int, BeforeValidator(_duration), Field(ge=0, le=MAX_SECONDS), DURATION_SCHEMA]
PositiveSeconds = Annotated[
    int, BeforeValidator(_duration), Field(ge=1, le=MAX_SECONDS), DURATION_SCHEMA
]
Usd = Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0, le=10**9, decimal_places=6)]
Fraction01 = Annotated[Decimal, BeforeValidator(as_decimal), Field(ge=0, le=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(pattern=_NAME)]


class ScenarioError(ProphexError):
    """A scenario file that cannot be run; names the field and, when known, the line."""

    code = "INVALID_SCENARIO"
    status = 422
    title = "Invalid scenario"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _LocatedError(ValueError):
    """A cross-field error that knows the path of the offending field."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _at(loc: tuple[str | int, ...], message: str) -> _LocatedError:
    return _LocatedError(loc, message)
