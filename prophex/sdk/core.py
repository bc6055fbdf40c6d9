"""The asynchronous client: every endpoint is written once, in its endpoint group.

:class:`AsyncProphexClient` is the SDK's only endpoint table, assembled from the groups
(:mod:`prophex.sdk.accounts`, :mod:`~prophex.sdk.markets`, :mod:`~prophex.sdk.trading`,
:mod:`~prophex.sdk.admin`) over :class:`~prophex.sdk.transport.Transport`; the blocking
:class:`prophex.sdk.ProphexClient` runs these same coroutines on a background event loop.

Safety rules a bot can rely on:

* **Money is** :class:`~decimal.Decimal`: amounts and prices in answers are ``Decimal``;
  arguments accept ``Decimal``, ``int`` or a decimal ``str`` and are sent as plain decimal
  strings. A ``float`` (or ``bool``) is refused with ``TypeError`` before anything is sent.
* **Idempotency**: every mutating call sends an ``Idempotency-Key`` header. For orders and
  closes it is the ``client_order_id``; for deposits, withdrawals, added margin and new keys
  it is the ``idempotency_key`` argument or, when omitted, ``"<id_prefix>-<n>"`` with ``n``
  a per-client counter. An order without a ``client_order_id`` gets one the same way. The
  key is fixed once per call and reused by every retry of that call. On orders and closes the
  server deduplicates by the ``client_order_id`` (journalled, no retention limit): a retry
  answers the stored order with ``duplicate=True``, the same id with a different request is
  409 ``DUPLICATE_CLIENT_ORDER_ID``.
* **Retries** (``retries`` extra attempts, default 3): a ``429`` (the server refused before
  doing anything) and a connection that could not be opened are retried for every call;
  a timeout, a dropped connection or a ``502``/``503``/``504`` only for calls that are safe
  to repeat: reads, and mutations carrying an idempotency key. ``create_account`` and the
  admin calls are never repeated after the request may have reached the server. The wait
  is ``Retry-After`` when the server gives one, otherwise ``min(retry_backoff_max,
  retry_backoff * 2**attempt)`` scaled by a jitter factor in [0.5, 1.0).
* **Errors**: any other 4xx/5xx raises :class:`ProphexApiError` with the stable ``code``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from prophex.sdk import models as m
from prophex.sdk.accounts import AccountEndpoints
from prophex.sdk.admin import AdminEndpoints
from prophex.sdk.markets import FeedEndpoints, MarketEndpoints
from prophex.sdk.stream import AccountStream, MarketStream
from prophex.sdk.trading import TradingEndpoints
from prophex.sdk.transport import (
    RETRY_STATUSES,
    Auth,
    Call,
    Money,
    Page,
    Settings,
    Transport,
    money,
    problem_of,
    read,
)

__all__ = [
    "ENDPOINT_GROUPS",
    "RETRY_STATUSES",
    "AsyncProphexClient",
    "Auth",
    "Call",
    "Money",
    "Settings",
    "Transport",
    "money",
    "problem_of",
]

T = TypeVar("T")
ENDPOINT_GROUPS: tuple[type[Transport], ...] = (
    AccountEndpoints,
    MarketEndpoints,
    TradingEndpoints,
    FeedEndpoints,
    AdminEndpoints,
)
"""The endpoint groups, in the order docs/sdk.md lists their methods (then :class:`Transport`)."""


class AsyncProphexClient(
    AccountEndpoints, MarketEndpoints, TradingEndpoints, FeedEndpoints, AdminEndpoints
):
    """Asynchronous client of the Prophex-sim API.

    ``AsyncProphexClient(base_url, api_key, admin_key=..., timeout=10.0, retries=3,
    transport=None, max_connections=100, retry_backoff=0.05, retry_backoff_max=2.0,
    id_prefix=None)``. ``id_prefix`` seeds the generated idempotency keys and
    client_order_ids (``"<id_prefix>-<n>"``); give a stable one (e.g. ``"<bot>-<run-seed>"``)
    for ids that are the same when a run is repeated, otherwise a random one is drawn.
    Use as ``async with AsyncProphexClient(...) as client:``.
    """

    async def __aenter__(self) -> AsyncProphexClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (a client made by :meth:`with_key` leaves it to its
        parent)."""
        if self._owns_http:
            await self.http.aclose()

    def with_key(self, api_key: str) -> AsyncProphexClient:
        """A client for another account's key that keeps everything else: URL, admin key,
        timeout, retries, backoff, the transport and connection pool (shared), and the id
        counter (so generated ids never repeat between the two)."""
        clone = AsyncProphexClient.__new__(AsyncProphexClient)
        clone.settings = replace(self.settings)
        clone.api_key = api_key
        clone._owns_http = False
        clone.http = self.http
        clone._counter = self._counter
        clone._rng = self._rng
        return clone

    async def collect(self, fetch: Callable[..., Awaitable[Page[T]]], /, **filters: Any) -> list[T]:
        """Every item of a paginated endpoint, following ``next_cursor``:
        ``await client.collect(client.fills, market="m1")``."""
        items: list[T] = []
        cursor: str | None = None
        while True:
            page = await fetch(**filters, cursor=cursor)
            items.extend(page.items)
            if page.next_cursor is None or not page.items:
                return items
            cursor = page.next_cursor

    # ------------------------------------------------------------ streams

    def ws_url(self) -> str:
        """The ``/v1/stream`` WebSocket URL."""
        url = self.settings.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return url + "/v1/stream"

    def stream(self, markets: list[str], **options: Any) -> MarketStream:
        """``async for event in client.stream(["m1"])``: each market's snapshot, then its
        events exactly once in ``seq`` order across reconnects. ``options``: ``idle_timeout``,
        ``max_attempts``, ``backoff_base``, ``backoff_max``, ``open_timeout``, ``rng``."""
        return MarketStream(self.ws_url(), markets, **options)

    def account_stream(self, **options: Any) -> AccountStream:
        """``async for event in client.account_stream()``: the private channel of this key's
        account (snapshot, then ``order``/``fill``/``position``/``liquidation``/
        ``settlement``/``balance`` events exactly once in ``seq`` order across reconnects).
        Same ``options`` as :meth:`stream`."""
        if self.api_key is None:
            raise ValueError("account_stream needs an api_key")
        return AccountStream(self.ws_url(), self.api_key, **options)

    # ------------------------------------------------------------ service

    async def health(self) -> m.Health:
        """Server liveness, last command sequence, block height."""
        return await self.send(read("/v1/health", m.Health, "none"))

    async def time(self) -> m.ServerTime:
        """``GET /v1/time``: simulated time, wall-clock time (RFC 3339 UTC), block height."""
        return await self.send(read("/v1/time", m.ServerTime, "none"))
