"""The FastAPI application factory and its lifespan.

Start-up opens the sequencer (single-writer lock, migrations, state), prepares the API-key
table, loads the stream hub's sequence numbers and snapshots, and starts the block writer.
Shutdown stops the writer before closing the sequencer, so no block is cut in half.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prophex.api.accountlog import AccountLog
from prophex.api.batching import BlockResult, BlockWriter
from prophex.api.dashboard import install as install_dashboard
from prophex.api.deferred import DeferredWriter
from prophex.api.deps import AppContext, Ctx, Public, reject_unknown_query
from prophex.api.errors import PayloadTooLarge, install_error_handlers, problem_response
from prophex.api.fastpath import OrderFastPath
from prophex.api.history import History, make_read_engine
from prophex.api.hub import StreamHub
from prophex.api.idempotency import IdempotencyStore
from prophex.api.inputs import InputPolicy
from prophex.api.keys import KeyStore
from prophex.api.order_render import now_us, rfc3339
from prophex.api.ratelimit import RateLimiter
from prophex.api.records import OrderIndex
from prophex.api.routers import accounts, admin, feeds, fund, markets, orders, positions, stream
from prophex.api.routers import portfolio as portfolio_routes
from prophex.api.routers.common import problems
from prophex.api.schemas import Health, TimeView
from prophex.api.settings import ApiSettings
from prophex.api.views import market_view
from prophex.chain.sequencer import Sequencer
from prophex.ledger.store import make_db_engine
from prophex.params import profile

log = logging.getLogger("prophex.api")
API_VERSION = "1.0.0"


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413 before any handler parses them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"request body exceeds {self.limit} bytes", limit=self.limit)
        response = problem_response(error, str(scope.get("path", "")))
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _open_context(settings: ApiSettings) -> AppContext:
    """Blocking start-up work (run in a thread)."""
    sequencer = Sequencer.open(
        settings.database_url, profile(settings.profile), block_size=settings.block_max_commands
    )
    try:
        keys = KeyStore(make_db_engine(settings.database_url))
        keys.prepare()
        read_engine = make_read_engine(settings.database_url)
        history = History(read_engine)
        sqlite = settings.database_url.startswith("sqlite")
        deferred = DeferredWriter(
            make_db_engine(settings.database_url), sequencer.reading if sqlite else None
        )
        orders = OrderIndex(make_db_engine(settings.database_url), read_engine, deferred)
        orders.catch_up()
        account_log = AccountLog(make_db_engine(settings.database_url), read_engine, deferred)
        account_log.load(orders.get_any)
        idem = IdempotencyStore(make_db_engine(settings.database_url))
        hub = StreamHub(settings.stream_queue_limit)
        exchange = sequencer.exchange
        hub.load(
            history.market_counts(),
            {m.id: market_view(exchange, m).model_dump() for m in exchange.state.markets.values()},
        )
    except BaseException:
        sequencer.close()
        raise

    def on_block(result: BlockResult) -> None:
        hub.publish(result.txns, result.views)
        hub.publish_account(result.account_events)

    writer = BlockWriter(
        sequencer,
        on_block,
        settings.block_max_commands,
        settings.block_wait_ms,
        orders,
        account_log,
    )
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    return AppContext(
        settings, sequencer, writer, hub, keys, limiter, history, orders, idem, account_log
    )


def _close_context(ctx: AppContext) -> None:
    ctx.orders.deferred.close()
    ctx.history.close()
    ctx.orders.dispose()
    ctx.account_log.dispose()
    ctx.idem.dispose()
    ctx.keys.dispose()
    ctx.sequencer.close()


def _add_meta_routes(app: FastAPI) -> None:
    """``/v1/health`` and ``/v1/time``: liveness and the two clocks."""

    @app.get(
        "/v1/health",
        operation_id="health",
        response_model=Health,
        responses=problems(),
        tags=["meta"],
    )
    def health(ctx: Ctx) -> Health:
        """Liveness and the stored position of the journal (block height read from the
        database, so it survives restarts)."""
        height = ctx.history.block_height()
        with ctx.read() as exchange:
            state = exchange.state
            return Health(
                status="ok",
                command_seq=state.command_seq,
                block_height=height,
                time=state.time,
                sim_time=state.time,
                wall_time=rfc3339(now_us()),
            )

    @app.get(
        "/v1/time",
        operation_id="get_time",
        response_model=TimeView,
        responses=problems(),
        tags=["meta"],
        dependencies=[Public],
    )
    def server_time(ctx: Ctx) -> TimeView:
        """Both clocks. ``sim_time`` (seconds) is the simulated clock: it only moves when the
        operator advances it, and it drives funding and every epoch. ``wall_time`` is the
        server's UTC clock, which stamps commits and API keys."""
        height = ctx.history.block_height()
        with ctx.read() as exchange:
            sim = exchange.state.time
        return TimeView(sim_time=sim, wall_time=rfc3339(now_us()), block_height=height)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app. Without ``settings`` they are read from the environment."""
    chosen = settings if settings is not None else ApiSettings.from_env()
    chosen, generated = chosen.with_admin_key()
    if generated:
        print(
            f"prophex: generated admin key (set PROPHEX_ADMIN_KEY to fix it): {chosen.admin_key}",
            file=sys.stderr,
            flush=True,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await anyio.to_thread.run_sync(_open_context, chosen)
        app.state.ctx = ctx
        ctx.writer.start()
        try:
            yield
        finally:
            await ctx.writer.stop()
            await anyio.to_thread.run_sync(_close_context, ctx)

    app = FastAPI(
        title="Prophex-sim trading API",
        version=API_VERSION,
        description=(
            "Trading API of a simulated leveraged binary-outcome exchange. Money is USD as "
            "decimal strings; prices are decimal strings in (0, 1). Errors are RFC 9457 "
            "problem+json with a stable `code`. See docs/api.md."
        ),
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = chosen
    install_error_handlers(app)
    for module in (accounts, markets, orders, positions, feeds, fund, admin, stream):
        app.include_router(module.router)
    install_dashboard(app)  # margin lab + solvency routers, /dashboard pages, offline /docs
    app.include_router(portfolio_routes.router)  # issue 9: portfolio-mode accounts

    _add_meta_routes(app)

    # Outermost first on the way in: BodyLimit -> InputPolicy -> (order fast path) -> FastAPI.
    if chosen.order_fast_path:
        app.add_middleware(OrderFastPath, fastapi_app=app)
    app.add_middleware(InputPolicy)
    app.add_middleware(BodyLimit, limit=chosen.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """``uvicorn prophex.api.app:app_from_env --factory``."""
    # The block writer thread and the event loop share the GIL; a 1 ms switch interval (default
    # 5 ms) lets the writer resume promptly after each SQLite call releases it.
    sys.setswitchinterval(float(os.environ.get("PROPHEX_SWITCH_INTERVAL", "0.001")))
    return create_app(ApiSettings.from_env())
