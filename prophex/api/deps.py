"""Request context and authentication.

Keys arrive as ``Authorization: Bearer <key>``. A trading key identifies exactly one account;
every account-scoped route takes the account from the key, never from the URL or the body, so
one account cannot even name another's resources. Admin routes accept only the admin key: a
valid trading key there is refused with 403 (it is known, just not allowed), anything else 401.
The rate limiter runs inside authentication so it is charged per key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from prophex.api.batching import BlockWriter
from prophex.api.errors import Forbidden, RateLimited, Unauthorized
from prophex.api.history import History
from prophex.api.hub import StreamHub
from prophex.api.keys import KeyStore, admin_matches
from prophex.api.ratelimit import RateLimiter
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

    @contextmanager
    def read(self) -> Iterator[Exchange]:
        """The engine under the sequencer's lock: a view never spans two blocks."""
        lock: threading.RLock = self.sequencer._mutex
        with lock:
            yield self.sequencer.exchange


@dataclass(frozen=True, slots=True)
class Caller:
    account: str
    key_id: str


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(context)]


def _charge(ctx: AppContext, identity: str, response: Response) -> None:
    decision = ctx.limiter.take(identity)
    if not decision.allowed:
        raise RateLimited(
            f"rate limit of {ctx.limiter.rate:g}/s (burst {ctx.limiter.burst}) exceeded; "
            f"retry in {decision.retry_after}s",
            retry_after=decision.retry_after,
            limit=decision.limit,
            remaining=0,
        )
    response.headers["X-RateLimit-Limit"] = str(decision.limit)
    response.headers["X-RateLimit-Remaining"] = str(decision.remaining)


async def trader(
    ctx: Ctx,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    record = ctx.keys.authenticate(credentials.credentials)
    if record is None:
        if admin_matches(credentials.credentials, ctx.settings.admin_key):
            raise Forbidden("the admin key cannot trade; create an account")
        raise Unauthorized("unknown or revoked API key")
    _charge(ctx, "key:" + record.key_id, response)
    return Caller(record.account, record.key_id)


async def admin(
    ctx: Ctx,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing admin key: send Authorization: Bearer <admin key>")
    if admin_matches(credentials.credentials, ctx.settings.admin_key):
        _charge(ctx, "admin", response)
        return
    if ctx.keys.authenticate(credentials.credentials) is not None:
        raise Forbidden("trading keys may not use admin routes")
    raise Unauthorized("unknown admin key")


async def anonymous(ctx: Ctx, request: Request, response: Response) -> None:
    """Public routes are limited per client address."""
    host = request.client.host if request.client is not None else "unknown"
    _charge(ctx, "ip:" + host, response)


Trader = Annotated[Caller, Depends(trader)]
Admin = Depends(admin)
Public = Depends(anonymous)
