"""The engine's small vocabulary: sides, outcomes and statuses as ``StrEnum``.

Each member *is* its string (``Side.A == "A"``, same hash), so rows, journal data and dict keys
written with plain strings keep working, and the canonical JSON is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
"""A JSON value (parameter tables, market rows: ``Params`` and ``Market.to_row()`` as JSON)."""
JsonObject = Mapping[str, JsonValue]


class Side(StrEnum):
    """An outcome a position is long: each contract pays $1 if its side wins."""

    A = "A"
    B = "B"

    @property
    def other(self) -> Side:
        return Side.B if self is Side.A else Side.A


class Outcome(StrEnum):
    """How a prediction market resolves (``void`` is a separate command, not an outcome)."""

    A = "A"
    B = "B"
    UNKNOWN = "UNKNOWN"


class MarketStatus(StrEnum):
    OPEN = "open"
    HALTED = "halted"
    RESOLVED = "resolved"
    VOIDED = "voided"


class PositionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LIQUIDATED = "liquidated"
    SETTLED = "settled"


SIDES: tuple[Side, Side] = (Side.A, Side.B)

SIDE_OF: dict[str, Side] = {Side.A: Side.A, Side.B: Side.B}
"""The member of a side given as a plain string (``SIDE_OF["A"] is Side.A``): a dict lookup,
where ``Side(x)`` is a call through the enum metaclass. Controllers use it when they build an
event; the state keeps plain strings, which stay on CPython's exact-``str`` fast paths."""

OTHER: dict[str, Side] = {Side.A: Side.B, Side.B: Side.A}
"""The opposite side, looked up by a plain string or a :class:`Side` (``OTHER["A"] is Side.B``)."""


class MarginMode(StrEnum):
    """How an account is margined: each position on its own, or the whole book at once."""

    ISOLATED = "isolated"
    PORTFOLIO = "portfolio"
