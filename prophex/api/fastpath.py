"""A lean ASGI path for ``POST /v1/orders``, the one route whose throughput matters.

FastAPI's routing and dependency resolution cost more per request than the whole engine does
per order; at thousands of orders per second on one core that overhead decides the result. This
middleware answers ``POST /v1/orders`` itself with exactly the same steps and outcomes as the
documented route (same auth, rate limit, body limit, request model, engine parser, block writer,
response model and problem+json errors): both call :func:`routers.orders.execute_order`. The
FastAPI route stays for the OpenAPI document and as the reference the tests compare against.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from prophex.api.deps import AppContext, Caller
from prophex.api.errors import (
    PROBLEM_MEDIA_TYPE,
    Forbidden,
    InternalError,
    MalformedRequest,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
    problem_body,
    rate_limited,
    validation_problem,
)
from prophex.api.keys import admin_matches
from prophex.api.routers.orders import execute_order
from prophex.api.schemas import OrderRequest
from prophex.errors import ProphexError

log = logging.getLogger("prophex.api.fastpath")
PATH = "/v1/orders"


class OrderFastPath:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI, limit: int) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = []
        try:
            ctx: AppContext = self.fastapi_app.state.ctx
            caller = self._authenticate(ctx, scope, headers)
            if scope.get("query_string"):
                raise ValidationFailed("POST /v1/orders takes no query parameters", field="query")
            body = await self._body(scope, receive)
            request = _parse(body)
            result = await execute_order(ctx, caller, request)
        except ProphexError as error:
            await self._problem(send, error, headers)
            return
        except Exception:
            log.exception("unexpected error on POST %s", PATH)
            await self._problem(send, InternalError("internal error"), headers)
            return
        await _send(send, 200, b"application/json", result.model_dump_json().encode(), headers)

    def _authenticate(
        self, ctx: AppContext, scope: Scope, headers: list[tuple[bytes, bytes]]
    ) -> Caller:
        token = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    token = credentials.strip()
        if not token:
            raise Unauthorized("missing API key: send Authorization: Bearer <key>")
        record = ctx.keys.authenticate(token)
        if record is None:
            if admin_matches(token, ctx.settings.admin_key):
                raise Forbidden("the admin key cannot trade; create an account")
            raise Unauthorized("unknown or revoked API key")
        decision = ctx.limiter.take("key:" + record.key_id)
        if not decision.allowed:
            raise rate_limited(ctx.limiter, decision)
        headers.append((b"x-ratelimit-limit", str(decision.limit).encode()))
        headers.append((b"x-ratelimit-remaining", str(decision.remaining).encode()))
        return Caller(record.account, record.key_id)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise PayloadTooLarge(f"request body exceeds {self.limit} bytes", limit=self.limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _problem(
        self, send: Send, error: ProphexError, headers: list[tuple[bytes, bytes]]
    ) -> None:
        document: dict[str, Any] = problem_body(error, PATH)
        extra = list(headers)
        if "retry_after" in error.details:
            extra.append((b"retry-after", str(error.details["retry_after"]).encode()))
        if error.status == 401:
            extra.append((b"www-authenticate", b"Bearer"))
        payload = json.dumps(document, separators=(",", ":")).encode()
        await _send(send, error.status, PROBLEM_MEDIA_TYPE.encode(), payload, extra)


def _parse(body: bytes) -> OrderRequest:
    """Parse in one pass when the body is valid; otherwise redo it the way FastAPI does (JSON
    first, then the model) so a refusal carries the same messages on both paths."""
    try:
        return OrderRequest.model_validate_json(body)
    except ValidationError:
        pass
    if not body:
        raise validation_problem([{"loc": ("body",), "msg": "Field required", "type": "missing"}])
    try:
        document = json.loads(body)
    except ValueError:
        raise MalformedRequest("the request body is not valid JSON") from None
    try:
        return OrderRequest.model_validate(document, from_attributes=True)
    except ValidationError as exc:
        raise validation_problem(list(exc.errors())) from None


async def _send(
    send: Send, status: int, media: bytes, payload: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
