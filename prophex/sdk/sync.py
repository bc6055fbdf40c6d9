"""The blocking client: a thin wrapper running :class:`AsyncProphexClient` coroutines.

There is no second endpoint table. Each public method of the async client appears here as a
one-line :class:`_Blocking` descriptor that runs the coroutine on a shared background event
loop (one daemon thread for the process) and waits for its result; signatures, docstrings
and behaviour are the async client's. A unit test checks that every public coroutine of the
async client has its blocking twin.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx

from prophex.sdk import models as m
from prophex.sdk.core import AsyncProphexClient, Money
from prophex.sdk.stream import AccountStream, MarketStream

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide event loop the blocking clients run on (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="prophex-sdk-loop", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the background loop and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, background_loop()).result()


def iterate(
    source: AsyncIterable[T], close: Callable[[], Coroutine[Any, Any, None]]
) -> Iterator[T]:
    """Consume an async iterable from blocking code; ``close`` runs when the caller stops."""
    iterator = source.__aiter__()

    async def step() -> tuple[bool, T | None]:
        try:
            return True, await iterator.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            more, item = run(step())
            if not more:
                return
            yield item  # type: ignore[misc]
    finally:
        run(close())


class _Blocking(Generic[P, R]):
    """``ProphexClient.name`` = the async client's coroutine ``name``, run to completion."""

    def __init__(
        self, method: Callable[Concatenate[AsyncProphexClient, P], Coroutine[Any, Any, R]]
    ) -> None:
        self.method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Blocking[P, R]: ...

    @overload
    def __get__(self, obj: ProphexClient, owner: type[Any]) -> Callable[P, R]: ...

    def __get__(
        self, obj: ProphexClient | None, owner: type[Any]
    ) -> _Blocking[P, R] | Callable[P, R]:
        if obj is None:
            return self
        method, core = self.method, obj.core

        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return run(method(core, *args, **kwargs))

        call.__doc__ = self.__doc__
        call.__name__ = self.__name__
        return call


class ProphexClient:
    """Blocking client: the same methods, arguments and answers as
    :class:`AsyncProphexClient` (same constructor), without ``await``. Safe to use from
    several threads; usable as a context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        admin_key: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        retry_backoff: float = 0.05,
        retry_backoff_max: float = 2.0,
        id_prefix: str | None = None,
        core: AsyncProphexClient | None = None,
    ) -> None:
        self.core = core or AsyncProphexClient(
            base_url,
            api_key,
            admin_key=admin_key,
            timeout=timeout,
            retries=retries,
            transport=transport,
            max_connections=max_connections,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            id_prefix=id_prefix,
        )

    @property
    def settings(self) -> Any:
        """The async core's settings (URL, timeout, retries, backoff, id prefix)."""
        return self.core.settings

    @property
    def api_key(self) -> str | None:
        return self.core.api_key

    def __enter__(self) -> ProphexClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        run(self.core.aclose())

    def with_key(self, api_key: str) -> ProphexClient:
        """See :meth:`AsyncProphexClient.with_key`."""
        base = self.core.settings.base_url
        return ProphexClient(base, core=self.core.with_key(api_key))

    def next_id(self) -> str:
        """See :meth:`AsyncProphexClient.next_id`."""
        return self.core.next_id()

    def collect(self, fetch: Callable[..., Any], /, **filters: Any) -> list[Any]:
        """Every item of a paginated endpoint: ``client.collect(client.fills, market="m1")``."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            page = fetch(**filters, cursor=cursor)
            items.extend(page.items)
            if page.next_cursor is None or not page.items:
                return items
            cursor = page.next_cursor

    def stream(
        self, markets: list[str], *, max_events: int | None = None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        """Blocking :meth:`AsyncProphexClient.stream` (stops after ``max_events`` if given)."""
        source: MarketStream = self.core.stream(markets, **options)
        return _limited(iterate(source, source.close), max_events)

    def account_stream(
        self, *, max_events: int | None = None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        """Blocking :meth:`AsyncProphexClient.account_stream`."""
        source: AccountStream = self.core.account_stream(**options)
        return _limited(iterate(source, source.close), max_events)

    health = _Blocking(AsyncProphexClient.health)
    time = _Blocking(AsyncProphexClient.time)
    create_account = _Blocking(AsyncProphexClient.create_account)
    account = _Blocking(AsyncProphexClient.account)
    deposit = _Blocking(AsyncProphexClient.deposit)
    withdraw = _Blocking(AsyncProphexClient.withdraw)
    ledger = _Blocking(AsyncProphexClient.ledger)
    settlements = _Blocking(AsyncProphexClient.settlements)
    keys = _Blocking(AsyncProphexClient.keys)
    create_key = _Blocking(AsyncProphexClient.create_key)
    revoke_key = _Blocking(AsyncProphexClient.revoke_key)
    markets = _Blocking(AsyncProphexClient.markets)
    market = _Blocking(AsyncProphexClient.market)
    prices = _Blocking(AsyncProphexClient.prices)
    quote = _Blocking(AsyncProphexClient.quote)
    open_order = _Blocking(AsyncProphexClient.open_order)
    close_position = _Blocking(AsyncProphexClient.close_position)
    order = _Blocking(AsyncProphexClient.order)
    order_by_client_id = _Blocking(AsyncProphexClient.order_by_client_id)
    orders = _Blocking(AsyncProphexClient.orders)
    fills = _Blocking(AsyncProphexClient.fills)
    positions = _Blocking(AsyncProphexClient.positions)
    position = _Blocking(AsyncProphexClient.position)
    add_margin = _Blocking(AsyncProphexClient.add_margin)
    set_margin_mode = _Blocking(AsyncProphexClient.set_margin_mode)
    account_margin = _Blocking(AsyncProphexClient.account_margin)
    quote_portfolio = _Blocking(AsyncProphexClient.quote_portfolio)
    open_portfolio_order = _Blocking(AsyncProphexClient.open_portfolio_order)
    trades = _Blocking(AsyncProphexClient.trades)
    liquidations = _Blocking(AsyncProphexClient.liquidations)
    resolutions = _Blocking(AsyncProphexClient.resolutions)
    insurance_fund = _Blocking(AsyncProphexClient.insurance_fund)
    fund_flows = _Blocking(AsyncProphexClient.fund_flows)
    admin_create_market = _Blocking(AsyncProphexClient.admin_create_market)
    admin_halt = _Blocking(AsyncProphexClient.admin_halt)
    admin_resume = _Blocking(AsyncProphexClient.admin_resume)
    admin_resolve = _Blocking(AsyncProphexClient.admin_resolve)
    admin_void = _Blocking(AsyncProphexClient.admin_void)
    admin_params = _Blocking(AsyncProphexClient.admin_params)
    admin_set_params = _Blocking(AsyncProphexClient.admin_set_params)
    admin_advance_clock = _Blocking(AsyncProphexClient.admin_advance_clock)


def _limited(events: Iterator[T], limit: int | None) -> Iterator[T]:
    if limit is None:
        yield from events
        return
    for count, event in enumerate(events, 1):
        yield event
        if count >= limit:
            events.close()  # type: ignore[attr-defined]
            return


__all__ = ["Money", "ProphexClient", "m"]
