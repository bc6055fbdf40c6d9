"""One input policy for every HTTP route and for WebSocket frames.

* A request with a non-empty body must declare ``Content-Type: application/json`` (parameters
  such as ``; charset=utf-8`` allowed; the charset, when given, must be UTF-8): anything else is
  415 ``UNSUPPORTED_MEDIA_TYPE``, before authentication or any handler runs.
* The body must be UTF-8 JSON with no duplicate object keys and at most :data:`MAX_DEPTH`
  nested arrays/objects; anything else is 400 ``MALFORMED_REQUEST``.

The parsed document is left in the ASGI scope (``prophex.json``) so the order path does not
parse twice. WebSocket frames go through the same :func:`strict_json`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prophex.api.errors import MalformedRequest, UnsupportedMediaType, problem_response

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body or stream frame."""
SCOPE_KEY = "prophex.json"


class _Duplicate(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


_STRUCTURAL = re.compile(r'["\[\]{}]')


def _depth_ok(text: str, limit: int) -> bool:
    """Nesting depth of the JSON text (brackets outside strings), without recursion."""
    if text.count("[") + text.count("{") <= limit:
        return True
    depth = 0
    pos = 0
    while (match := _STRUCTURAL.search(text, pos)) is not None:
        ch, pos = match.group(), match.end()
        if ch == '"':
            pos = _string_end(text, pos)
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        else:
            depth -= 1
    return True


def _string_end(text: str, pos: int) -> int:
    """Index just past the closing quote of the string whose content starts at ``pos`` (the
    end of the text if it is unterminated). A quote preceded by an odd run of backslashes is
    escaped."""
    while (quote := text.find('"', pos)) >= 0:
        start = quote
        while start > pos and text[start - 1] == "\\":
            start -= 1
        if (quote - start) % 2 == 0:
            return quote + 1
        pos = quote + 1
    return len(text)


def strict_json(raw: str | bytes) -> Any:
    """Parse JSON text strictly: UTF-8, no duplicate keys, depth <= :data:`MAX_DEPTH`.

    Raises :class:`MalformedRequest` (400) with a ``reason`` member otherwise.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequest("the body is not UTF-8", reason="encoding") from None
    if not _depth_ok(raw, MAX_DEPTH):
        raise MalformedRequest(
            f"JSON nested deeper than {MAX_DEPTH} levels", reason="depth", max_depth=MAX_DEPTH
        )
    try:
        return json.loads(raw, object_pairs_hook=_pairs)
    except _Duplicate as dup:
        raise MalformedRequest(
            f"duplicate key {dup.args[0]!r} in a JSON object", reason="duplicate_key"
        ) from None
    except (ValueError, RecursionError):
        raise MalformedRequest("the request body is not valid JSON", reason="syntax") from None


def is_json_media(value: bytes | None) -> bool:
    """``application/json`` (any case), optionally with parameters; a charset must be UTF-8."""
    if value is None:
        return False
    media, _, params = value.decode("latin-1").partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


class InputPolicy:
    """Buffers each request body (already bounded by ``BodyLimit``), applies the policy above,
    then hands the same bytes to the application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            content_type = dict(scope.get("headers", [])).get(b"content-type")
            try:
                if not is_json_media(content_type):
                    raise UnsupportedMediaType(
                        "request bodies must be sent as Content-Type: application/json",
                        content_type=None
                        if content_type is None
                        else content_type.decode("latin-1"),
                    )
                scope[SCOPE_KEY] = strict_json(body)
            except (UnsupportedMediaType, MalformedRequest) as error:
                response = problem_response(error, str(scope.get("path", "")))
                await response(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
