"""The ASGI transport of ``POST /v1/orders``, the one route whose throughput matters.

FastAPI's routing and dependency resolution cost more per request than the engine does per
order, so this middleware answers ``POST /v1/orders`` without them. It is transport only: the
steps are the shared functions the FastAPI route and every other route use, so there is one
implementation of the order path and nothing to keep in parity:

* authentication, rate limit and scope: :func:`deps.authenticate`;
* body: content type, strict JSON and depth already enforced by :class:`inputs.InputPolicy`
  (which runs first and leaves the parsed document in the scope); the model is the route's
  :class:`schemas.OrderRequest` and refusals go through :func:`errors.validation_problem`;
* the order itself, idempotency included: :func:`routers.orders.order_answer`;
* problem+json body and headers: :func:`errors.problem_body` / :func:`errors.problem_headers`.

The FastAPI route stays as the documented contract (OpenAPI) and serves the same code when the
fast path is turned off (``PROPHEX_ORDER_FAST_PATH=0``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from prophex.api.deps import AppContext, authenticate
from prophex.api.errors import (
    PROBLEM_MEDIA_TYPE,
    InternalError,
    ValidationFailed,
    problem_body,
    problem_headers,
    quota_headers,
    validation_problem,
)
from prophex.api.idempotency import REPLAYED_HEADER, check_key
from prophex.api.inputs import SCOPE_KEY
from prophex.api.routers.orders import order_answer
from prophex.api.schemas import OrderRequest
from prophex.errors import ProphexError

log = logging.getLogger("prophex.api.fastpath")
PATH = "/v1/orders"


class OrderFastPath:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        quota: tuple[int, int] | None = None
        try:
            ctx: AppContext = self.fastapi_app.state.ctx
            headers = _headers(scope)
            caller, quota = authenticate(ctx, _bearer(headers.get(b"authorization")), "trade")
            if scope.get("query_string"):
                raise ValidationFailed("POST /v1/orders takes no query parameters", field="query")
            key = headers.get(b"idempotency-key")
            idem = None if key is None else check_key(key.decode("latin-1"))
            body = _model(scope)
            status, payload, replayed = await order_answer(ctx, caller, body, idem)
            headers_out = quota_headers(quota)
            if replayed:
                headers_out[REPLAYED_HEADER] = "true"
            media = b"application/json"
        except ProphexError as error:
            status, payload, media = error.status, _problem(error), PROBLEM
            headers_out = problem_headers(error, quota)
        except Exception:
            log.exception("unexpected error on POST %s", PATH)
            internal = InternalError("internal error")
            status, payload, media, headers_out = internal.status, _problem(internal), PROBLEM, {}
        await _send(send, status, media, payload, headers_out)


PROBLEM = PROBLEM_MEDIA_TYPE.encode()


def _problem(error: ProphexError) -> bytes:
    return json.dumps(problem_body(error, PATH), separators=(",", ":")).encode()


async def _send(
    send: Send, status: int, media: bytes, payload: bytes, headers: dict[str, str]
) -> None:
    """The same bytes and headers ``problem_response``/``json_answer`` produce, sent directly
    (a Starlette ``Response`` object costs more than the rest of the transport)."""
    raw = [
        (b"content-length", str(len(payload)).encode()),
        (b"content-type", media),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name: value for name, value in scope["headers"]}


def _bearer(value: bytes | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.decode("latin-1").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _model(scope: Scope) -> OrderRequest:
    if SCOPE_KEY not in scope:
        raise validation_problem([{"loc": ("body",), "msg": "Field required", "type": "missing"}])
    document: Any = scope[SCOPE_KEY]
    try:
        return OrderRequest.model_validate(document, from_attributes=True)
    except ValidationError as exc:
        raise validation_problem(list(exc.errors())) from None
