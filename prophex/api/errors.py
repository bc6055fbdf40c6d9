"""RFC 9457 problem+json for every failure, with the engine's stable ``code``.

Bots switch on ``code`` and read the failing check from the extension members (``required``,
``available``, ``cap``, ``headroom``...), so an error always says *which* check failed. An
unexpected exception is still answered as problem+json (500, ``INTERNAL_ERROR``) and logged,
never as an HTML page or a bare traceback.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from prophex.api.ratelimit import Decision, RateLimiter
from prophex.errors import ProphexError

PROBLEM_TYPE_BASE = "https://prophex.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("prophex.api")


class Unauthorized(ProphexError):
    code = "UNAUTHORIZED"
    status = 401
    title = "Missing, unknown or revoked API key"


class Forbidden(ProphexError):
    code = "FORBIDDEN"
    status = 403
    title = "This key may not use this endpoint"


class RateLimited(ProphexError):
    code = "RATE_LIMITED"
    status = 429
    title = "Too many requests"


class PayloadTooLarge(ProphexError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    title = "Request body too large"


class MalformedRequest(ProphexError):
    code = "MALFORMED_REQUEST"
    status = 400
    title = "Request body is not valid JSON"


class UnsupportedMediaType(ProphexError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    title = "Request bodies must be application/json"


class InvalidCursor(ProphexError):
    code = "INVALID_CURSOR"
    status = 422
    title = "The pagination cursor is not one this endpoint issued"


class ScopeRequired(ProphexError):
    code = "SCOPE_REQUIRED"
    status = 403
    title = "This key lacks the scope this endpoint needs"


class IdempotencyKeyReused(ProphexError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 409
    title = "This Idempotency-Key was used for a different request"


class ValidationFailed(ProphexError):
    code = "VALIDATION_ERROR"
    status = 422
    title = "Request does not match the schema"


class WriteUnavailable(ProphexError):
    code = "WRITE_UNAVAILABLE"
    status = 503
    title = "The block could not be committed; nothing was written"


class InternalError(ProphexError):
    """Never expected: logged with its traceback; the answer says only that it happened."""

    code = "INTERNAL_ERROR"
    status = 500
    title = "Internal error"


class RouteNotFound(ProphexError):
    code = "NOT_FOUND"
    status = 404
    title = "Not found"


class MethodNotAllowed(ProphexError):
    code = "METHOD_NOT_ALLOWED"
    status = 405
    title = "Method not allowed"


def _jsonable(value: Any) -> Any:
    """Details come from engine code; make sure whatever they hold serialises."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def problem_body(error: ProphexError, instance: str, status: int | None = None) -> dict[str, Any]:
    """The problem document; extension members never overwrite the standard fields."""
    body: dict[str, Any] = {
        key: _jsonable(val)
        for key, val in error.details.items()
        if key not in {"type", "title", "status", "detail", "instance", "code"}
    }
    body.update(
        type=PROBLEM_TYPE_BASE + error.code.lower().replace("_", "-"),
        title=error.title,
        status=error.status if status is None else status,
        detail=error.message,
        instance=instance,
        code=error.code,
    )
    return body


def problem_response(
    error: ProphexError,
    instance: str,
    headers: dict[str, str] | None = None,
    *,
    status: int | None = None,
) -> Response:
    document = problem_body(error, instance, status)
    return Response(
        content=json.dumps(document, separators=(",", ":")),
        status_code=document["status"],
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _rate_headers(error: ProphexError) -> dict[str, str]:
    headers: dict[str, str] = {}
    if "retry_after" in error.details:
        headers["Retry-After"] = str(error.details["retry_after"])
    for key, header in (("limit", "X-RateLimit-Limit"), ("remaining", "X-RateLimit-Remaining")):
        if key in error.details:
            headers[header] = str(error.details[key])
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def quota_headers(quota: tuple[int, int] | None) -> dict[str, str]:
    if quota is None:
        return {}
    return {"X-RateLimit-Limit": str(quota[0]), "X-RateLimit-Remaining": str(quota[1])}


def _quota_headers(request: Request) -> dict[str, str]:
    """The caller's remaining quota, also on refusals (set by the auth dependency)."""
    return quota_headers(getattr(request.state, "rate_limit", None))


def problem_headers(error: ProphexError, quota: tuple[int, int] | None) -> dict[str, str]:
    """Headers of a problem answer: the caller's quota, then the error's own (429, 401)."""
    return quota_headers(quota) | _rate_headers(error)


async def _on_prophex_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ProphexError):  # survives python -O (issue 8)
        raise exc
    headers = problem_headers(exc, getattr(request.state, "rate_limit", None))
    return problem_response(exc, request.url.path, headers)


def _validation_error(exc: RequestValidationError) -> ProphexError:
    return validation_problem(list(exc.errors()))


def validation_problem(errors: list[Any]) -> ProphexError:
    """A pydantic error list as our typed error (invalid JSON is 400, anything else 422)."""
    if any(err.get("type") == "json_invalid" for err in errors):
        return MalformedRequest("the request body is not valid JSON")
    issues = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ()) if part != "body"),
            "message": str(err.get("msg", "")),
        }
        for err in errors
    ]
    first = issues[0] if issues else {"field": "", "message": "invalid request"}
    return ValidationFailed(
        f"{first['field'] or 'request'}: {first['message']}", field=first["field"], errors=issues
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # survives python -O (issue 8)
        raise exc
    return problem_response(_validation_error(exc), request.url.path, _quota_headers(request))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # survives python -O (issue 8)
        raise exc
    error: ProphexError
    if exc.status_code == 404:
        error = RouteNotFound(f"no route {request.url.path}", resource="route")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        allowed = ", ".join(allowed_methods(request))
        return problem_response(error, request.url.path, {"Allow": allowed})
    elif exc.status_code == 400:
        error = MalformedRequest(str(exc.detail))
    else:
        error = ProphexError(str(exc.detail))
        return problem_response(
            error, request.url.path, dict(exc.headers or {}), status=exc.status_code
        )
    return problem_response(error, request.url.path, dict(exc.headers or {}))


def allowed_methods(request: Request) -> list[str]:
    """Every method documented for the request's path (RFC 9110 ``Allow``), from OpenAPI."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allow_table", None
    )
    if table is None:
        table = []
        for template, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            table.append((pattern, {method.upper() for method in operations}))
        request.app.state.allow_table = table
    methods: set[str] = set()
    for pattern, found in table:
        if pattern.match(request.url.path):
            methods |= found
    return sorted(methods)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(InternalError("internal error"), request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProphexError, _on_prophex_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


def rate_limited(limiter: RateLimiter, decision: Decision) -> RateLimited:
    """The 429 for a refused token-bucket ``decision`` (one wording for every route)."""
    return RateLimited(
        f"rate limit of {limiter.rate:g}/s (burst {limiter.burst}) exceeded; "
        f"retry in {decision.retry_after}s",
        retry_after=decision.retry_after,
        limit=decision.limit,
        remaining=0,
    )
