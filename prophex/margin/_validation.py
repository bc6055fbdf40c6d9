"""Translate pydantic validation failures into ``MarginError``.

Callers of the engine only ever see one error type; the first pydantic error becomes the
reported field so that the message names exactly what to fix.
"""

from __future__ import annotations

from pydantic import ValidationError

from prophex.margin.errors import MarginError


def as_margin_error(exc: ValidationError, code: str, prefix: str = "") -> MarginError:
    """Return a ``MarginError`` naming the first invalid field of ``exc``."""
    first = exc.errors()[0]
    field = prefix
    for part in first["loc"]:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field = f"{field}.{part}" if field else str(part)
    field = field or "<root>"
    detail = first["msg"]
    if "input" in first and not isinstance(first["input"], dict | list):
        detail = f"{detail}, was {first['input']!r}"
    return MarginError(code, field, detail)
