"""Scripted steps (the user form of ``prophex run``), shocks, and the resolution plan."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from prophex.engine.commands import parse_user_command
from prophex.errors import ProphexError
from prophex.scenarios.schema.base import DURATION_SCHEMA, Name, Probability, Seconds, Strict


class Step(Strict):
    """One scripted command in the ``prophex run`` user form, at a simulated time."""

    at: Seconds = 0
    command: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if isinstance(data, dict) and "command" not in data:
            body = dict(data)
            at = body.pop("at", 0)
            return {"at": at, "command": body}
        return data

    @field_validator("command")
    @classmethod
    def _parses(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_user_command(value)
        except ProphexError as exc:
            field = exc.details.get("field")
            prefix = f"{field}: " if field else ""
            raise ValueError(f"{prefix}{exc.message}") from None
        return value


_STEP_SCHEMA = WithJsonSchema(
    {
        "type": "object",
        "description": "a command in the prophex run user form, plus an optional 'at' time",
        "required": ["type"],
        "properties": {
            "at": DURATION_SCHEMA.json_schema,
            "type": {
                "enum": [
                    "create_market",
                    "deposit",
                    "withdraw",
                    "open",
                    "close",
                    "add_margin",
                    "halt",
                    "resume",
                    "resolve",
                    "resolve_batch",
                    "void",
                    "advance_clock",
                    "set_params",
                ]
            },
        },
        "additionalProperties": True,
    }
)
ScriptStep = Annotated[Step, _STEP_SCHEMA]


class Shock(Strict):
    """News: from ``at`` (until ``until``) the flow into ``market`` changes side and/or rate."""

    at: Seconds
    until: Seconds | None = None
    market: Name
    side_bias: Probability | None = None
    shift: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    flow: Annotated[float, Field(ge=0.0, le=1_000.0)] = 1.0
    populations: list[str] | None = None


class Resolution(Strict):
    outcome: Literal["A", "B", "UNKNOWN", "void"]
    at: Seconds | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"outcome": data} if isinstance(data, str) else data
