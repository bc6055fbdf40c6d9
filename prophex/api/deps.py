"""Request context and authentication.

Keys arrive as ``Authorization: Bearer <key>``. A trading key identifies exactly one account;
every account-scoped route takes the account from the key, never from the URL or the body, so
one account cannot even name another's resources. Admin routes accept only the admin key: a
valid trading key there is refused with 403 (it is known, just not allowed), anything else 401.
The rate limiter runs inside authentication so it is charged per key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from prophex.api.accountlog import AccountLog
from prophex.api.batching import BlockWriter
from prophex.api.errors import (
    Forbidden,
    ScopeRequired,
    Unauthorized,
    ValidationFailed,
    rate_limited,
)
from prophex.api.history import History
from prophex.api.hub import StreamHub
from prophex.api.idempotency import IdempotencyStore
from prophex.api.keys import ALL_SCOPES, SCOPES, KeyRecord, KeyStore, admin_matches
from prophex.api.ratelimit import RateLimiter
from prophex.api.records import OrderIndex
from prophex.api.settings import ApiSettings
from prophex.chain.sequencer import Sequencer
from prophex.engine.exchange import Exchange

bearer = HTTPBearer(auto_error=False, description="API key (trading) or admin key")


@dataclass(slots=True)
class AppContext:
    settings: ApiSettings
    sequencer: Sequencer
    writer: BlockWriter
    hub: StreamHub
    keys: KeyStore
    limiter: RateLimiter
    history: History
    orders: OrderIndex
    idem: IdempotencyStore
    account_log: AccountLog

    @contextmanager
    def read(self) -> Iterator[Exchange]:
        """The engine under the sequencer's lock: a view never spans two blocks."""
        with self.sequencer.reading() as exchange:
            yield exchange


@dataclass(frozen=True, slots=True)
class Caller:
    account: str
    key_id: str
    scopes: frozenset[str] = ALL_SCOPES


async def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(context)]


def charge(ctx: AppContext, identity: str) -> tuple[int, int]:
    """Take one token for ``identity``; the (limit, remaining) quota, or the typed 429."""
    decision = ctx.limiter.take(identity)
    if not decision.allowed:
        raise rate_limited(ctx.limiter, decision)
    return decision.limit, decision.remaining


def _charge(ctx: AppContext, identity: str, request: Request, response: Response) -> None:
    limit, remaining = charge(ctx, identity)
    request.state.rate_limit = (limit, remaining)
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)


def identify(ctx: AppContext, token: str | None) -> KeyRecord:
    """The live key record of a bearer ``token`` (401 unknown/revoked, 403 the admin key)."""
    if not token:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    record = ctx.keys.authenticate(token)
    if record is None:
        if admin_matches(token, ctx.settings.admin_key):
            raise Forbidden("the admin key cannot trade; create an account")
        raise Unauthorized("unknown or revoked API key")
    return record


def check_scope(record: KeyRecord, scope: str) -> Caller:
    """The caller, if the key holds ``scope``; otherwise 403 ``SCOPE_REQUIRED``."""
    if scope not in record.scopes:
        raise ScopeRequired(
            f"this key lacks the {scope!r} scope",
            required_scope=scope,
            key_scopes=[s for s in SCOPES if s in record.scopes],
        )
    return Caller(record.account, record.key_id, record.scopes)


def authenticate(ctx: AppContext, token: str | None, scope: str) -> tuple[Caller, tuple[int, int]]:
    """The one authentication path of every account route (FastAPI dependency and the order
    fast path): key -> rate limit (charged per key, also on refusals) -> scope."""
    record = identify(ctx, token)
    quota = charge(ctx, "key:" + record.key_id)
    return check_scope(record, scope), quota


def _scoped(scope: str) -> Any:
    async def dependency(
        ctx: Ctx,
        request: Request,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        token = None if credentials is None else credentials.credentials
        record = identify(ctx, token)
        _charge(ctx, "key:" + record.key_id, request, response)
        return check_scope(record, scope)

    return dependency


async def admin(
    ctx: Ctx,
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing admin key: send Authorization: Bearer <admin key>")
    if admin_matches(credentials.credentials, ctx.settings.admin_key):
        _charge(ctx, "admin", request, response)
        return
    if ctx.keys.authenticate(credentials.credentials) is not None:
        raise Forbidden("trading keys may not use admin routes")
    raise Unauthorized("unknown admin key")


async def anonymous(ctx: Ctx, request: Request, response: Response) -> None:
    """Public routes are limited per client address."""
    host = request.client.host if request.client is not None else "unknown"
    _charge(ctx, "ip:" + host, request, response)


Reader = Annotated[Caller, Depends(_scoped("read"))]
Trader = Annotated[Caller, Depends(_scoped("trade"))]
Withdrawer = Annotated[Caller, Depends(_scoped("withdraw"))]
Admin = Depends(admin)
Public = Depends(anonymous)


async def reject_unknown_query(request: HTTPConnection) -> None:
    """Refuse query parameters the route does not declare (a typo such as ``?limt=10`` would
    otherwise be silently ignored, and the bot would page with the default size)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    keys = request.query_params.keys()
    repeated = sorted({name for name in keys if len(request.query_params.getlist(name)) > 1})
    if repeated:
        raise ValidationFailed(
            f"query parameter {repeated[0]!r} given more than once", field=repeated[0]
        )
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter {unknown[0]!r}; expected one of {sorted(known)}",
            field=unknown[0],
            errors=[{"field": name, "message": "unknown query parameter"} for name in unknown],
        )


def _query_names(dependant: Any) -> set[str]:
    names = {str(param.alias) for param in dependant.query_params}
    for child in dependant.dependencies:
        names |= _query_names(child)
    return names
