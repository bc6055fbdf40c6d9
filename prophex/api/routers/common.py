"""Shared route helpers: documented problem responses, pagination limits, command parsing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from prophex.api.errors import PROBLEM_MEDIA_TYPE
from prophex.api.idempotency import HEADER, KEY_PATTERN, check_key
from prophex.api.schemas import Problem
from prophex.engine.commands import Command, parse_user_command

_PROBLEM_SCHEMA = Problem.model_json_schema()
_DESCRIPTIONS = {
    400: "Malformed request (MALFORMED_REQUEST: not UTF-8 JSON, duplicate key, too deep)",
    401: "Missing, unknown or revoked key",
    403: "Key not allowed on this route (FORBIDDEN, or SCOPE_REQUIRED with required_scope)",
    404: "Not found (also for resources of other accounts)",
    409: "Rejected by a check (balance, cap, slippage, state, duplicate id or idempotency key)",
    413: "Body too large",
    415: "Body not sent as application/json (UNSUPPORTED_MEDIA_TYPE)",
    422: "Validation error",
    429: "Rate limited",
    503: "Block could not be committed; nothing was written",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route can give."""
    wanted = sorted({400, 413, 422, 429, *statuses})
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in wanted
    }


async def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header (validated; 422 ``VALIDATION_ERROR`` if malformed).

    Read from the request rather than declared as an OpenAPI header parameter: the header is
    documented in docs/api.md and in each operation's description, and declaring it would make
    schema-driven fuzzers treat the request's credentials as generated ones."""
    return check_key(request.headers.get(HEADER))


IdemKey = Annotated[str | None, Depends(_idempotency_key)]
IDEMPOTENT = (
    f" Send an `{HEADER}` header (pattern `{KEY_PATTERN}`) to make retries safe: the same key "
    "with the same request returns the original answer with `Idempotent-Replayed: true`."
)
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
CursorQ = Annotated[
    str | None, Query(max_length=64, description="next_cursor of the previous page")
]


def user_command(kind: str, /, **fields: Any) -> Command:
    """Build a command through the engine's own user-form parser (one validation path)."""
    body = {key: value for key, value in fields.items() if value is not None}
    return parse_user_command({"type": kind, **body})
