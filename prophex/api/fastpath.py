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
* problem+json and its headers: :func:`errors.problem_response` / :func:`errors.problem_headers`.

The FastAPI route stays as the documented contract (OpenAPI) and serves the same code when the
fast path is turned off (``PROPHEX_ORDER_FAST_PATH=0``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from prophex.api.deps import AppContext, authenticate
from prophex.api.errors import (
    InternalError,
    ValidationFailed,
    problem_headers,
    problem_response,
    validation_problem,
)
from prophex.api.idempotency import check_key
from prophex.api.inputs import SCOPE_KEY
from prophex.api.routers.orders import json_answer, order_answer
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
            response = json_answer(status, payload, replayed, quota)
        except ProphexError as error:
            response = problem_response(error, PATH, problem_headers(error, quota))
        except Exception:
            log.exception("unexpected error on POST %s", PATH)
            response = problem_response(InternalError("internal error"), PATH)
        await response(scope, receive, send)


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
