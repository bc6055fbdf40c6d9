"""The asynchronous client: every endpoint is written here, once.

:class:`AsyncProphexClient` is the SDK's only endpoint table; the blocking
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

import asyncio
import itertools
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from prophex.sdk import models as m
from prophex.sdk.errors import ProphexApiError
from prophex.sdk.stream import AccountStream, MarketStream

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Auth = Literal["none", "key", "admin"]
Money = Decimal | int | str
RETRY_STATUSES = frozenset({502, 503, 504})


def money(value: Money) -> str:
    """``value`` as the plain decimal string the API expects (``Decimal("1E+3")`` ->
    ``"1000"``). Floats and bools are refused: binary floating point is never money."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {k: v for k, v in params.items() if v is not None}


def _page(cursor: str | None, limit: int, **filters: Any) -> dict[str, Any]:
    return {**filters, "cursor": cursor, "limit": limit}


def problem_of(response: httpx.Response) -> ProphexApiError:
    """The :class:`ProphexApiError` of a 4xx/5xx answer (problem+json or not)."""
    try:
        body = response.json()
    except ValueError:
        body = {"code": "HTTP_ERROR", "detail": response.text[:200]}
    if not isinstance(body, dict):
        body = {"code": "HTTP_ERROR", "detail": str(body)[:200]}
    return ProphexApiError(response.status_code, body)


@dataclass(frozen=True)
class Call(Generic[M]):
    """One request: method, path, answer model, credential, body, query, whether it is safe
    to repeat, and the ``Idempotency-Key`` header it carries (if any)."""

    method: str
    path: str
    model: type[M]
    auth: Auth
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    safe: bool = False
    idempotency_key: str | None = None


def _read(path: str, model: type[M], auth: Auth, params: dict[str, Any] | None = None) -> Call[M]:
    return Call("GET", path, model, auth, params=_clean(params), safe=True)


class _Page(Protocol[T]):
    @property
    def items(self) -> list[T]: ...

    @property
    def next_cursor(self) -> str | None: ...


@dataclass(frozen=True)
class Settings:
    """What :meth:`AsyncProphexClient.with_key` carries over to the new client."""

    base_url: str
    admin_key: str | None
    timeout: float | httpx.Timeout
    retries: int
    retry_backoff: float
    retry_backoff_max: float
    id_prefix: str


class AsyncProphexClient:
    """Asynchronous client of the Prophex-sim API.

    ``AsyncProphexClient(base_url, api_key, admin_key=..., timeout=10.0, retries=3,
    transport=None, max_connections=100, retry_backoff=0.05, retry_backoff_max=2.0,
    id_prefix=None)``. ``id_prefix`` seeds the generated idempotency keys and
    client_order_ids (``"<id_prefix>-<n>"``); give a stable one (e.g. ``"<bot>-<run-seed>"``)
    for ids that are the same when a run is repeated, otherwise a random one is drawn.
    Use as ``async with AsyncProphexClient(...) as client:``.
    """

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
        _http: httpx.AsyncClient | None = None,
        _counter: itertools.count[int] | None = None,
    ) -> None:
        self.settings = Settings(
            base_url=base_url.rstrip("/"),
            admin_key=admin_key,
            timeout=timeout,
            retries=retries,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            id_prefix=id_prefix or "px" + uuid.uuid4().hex[:12],
        )
        self.api_key = api_key
        self._owns_http = _http is None
        self.http = _http or httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._counter = _counter or itertools.count(1)
        self._rng = random.Random()

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

    def next_id(self) -> str:
        """The next generated id, ``"<id_prefix>-<n>"``."""
        return f"{self.settings.id_prefix}-{next(self._counter)}"

    # ------------------------------------------------------------ transport

    def _headers(self, call: Call[Any]) -> dict[str, str]:
        key = {"none": None, "key": self.api_key, "admin": self.settings.admin_key}[call.auth]
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        return headers

    def _delay(self, response: httpx.Response | None, attempt: int) -> float:
        retry_after = "" if response is None else str(response.headers.get("Retry-After", ""))
        if retry_after.isdigit():
            return float(retry_after)
        cap = self.settings.retry_backoff_max
        base = min(cap, self.settings.retry_backoff * (1 << attempt))
        return base * (0.5 + self._rng.random() / 2)

    async def send(self, call: Call[M]) -> M:
        """Send ``call`` with the retry rules of the module docstring; the parsed answer."""
        attempts = self.settings.retries + 1
        headers = self._headers(call)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                response = await self.http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=headers
                )
            except httpx.TransportError as error:
                unsent = isinstance(
                    error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                if last or not (call.safe or unsent):
                    raise
                await asyncio.sleep(self._delay(None, attempt))
                continue
            if response.status_code < 400:
                return call.model.model_validate_json(response.content)
            retryable = response.status_code == 429 or (
                call.safe and response.status_code in RETRY_STATUSES
            )
            if last or not retryable:
                raise problem_of(response)
            await asyncio.sleep(self._delay(response, attempt))
        raise AssertionError("unreachable")

    def _mutation(
        self,
        method: str,
        path: str,
        model: type[M],
        body: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> Call[M]:
        key = idempotency_key or self.next_id()
        return Call(method, path, model, "key", body, safe=True, idempotency_key=key)

    async def collect(
        self, fetch: Callable[..., Awaitable[_Page[T]]], /, **filters: Any
    ) -> list[T]:
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
        return await self.send(_read("/v1/health", m.Health, "none"))

    async def time(self) -> m.ServerTime:
        """``GET /v1/time``: simulated time, wall-clock time (RFC 3339 UTC), block height."""
        return await self.send(_read("/v1/time", m.ServerTime, "none"))

    # ------------------------------------------------------------ account and keys

    async def create_account(self, label: str = "") -> m.AccountCreated:
        """Create an account; the returned ``api_key`` is shown once. Not retried once sent."""
        return await self.send(
            Call("POST", "/v1/accounts", m.AccountCreated, "none", {"label": label})
        )

    async def account(self) -> m.AccountView:
        """Balances, margin locked, unrealised PnL, equity."""
        return await self.send(_read("/v1/account", m.AccountView, "key"))

    async def deposit(self, amount: Money, idempotency_key: str | None = None) -> m.BalanceChange:
        """Credit simulated collateral."""
        body = {"amount": money(amount)}
        return await self.send(
            self._mutation("POST", "/v1/account/deposit", m.BalanceChange, body, idempotency_key)
        )

    async def withdraw(self, amount: Money, idempotency_key: str | None = None) -> m.BalanceChange:
        """Withdraw free collateral (needs the ``withdraw`` scope)."""
        body = {"amount": money(amount)}
        return await self.send(
            self._mutation("POST", "/v1/account/withdraw", m.BalanceChange, body, idempotency_key)
        )

    async def ledger(self, cursor: str | None = None, limit: int = 100) -> m.LedgerPage:
        """Postings to the wallet and position margin accounts, oldest first; each names the
        ``order_id``/``client_order_id`` that caused it."""
        return await self.send(
            _read("/v1/account/ledger", m.LedgerPage, "key", _page(cursor, limit))
        )

    async def settlements(self, cursor: str | None = None, limit: int = 100) -> m.SettlementPage:
        """What resolutions and voids paid this account's positions."""
        return await self.send(
            _read("/v1/account/settlements", m.SettlementPage, "key", _page(cursor, limit))
        )

    async def keys(self) -> m.KeyList:
        """This account's API keys (never the secrets)."""
        return await self.send(_read("/v1/account/keys", m.KeyList, "key"))

    async def create_key(
        self,
        label: str = "",
        scopes: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> m.KeyCreated:
        """Issue another key; ``scopes`` among ``"read"``, ``"trade"``, ``"withdraw"``
        (omitted: the server's default)."""
        body: dict[str, Any] = {"label": label}
        if scopes is not None:
            body["scopes"] = list(scopes)
        return await self.send(
            self._mutation("POST", "/v1/account/keys", m.KeyCreated, body, idempotency_key)
        )

    async def revoke_key(self, key_id: str) -> m.KeyInfo:
        """Revoke a key of this account (repeatable)."""
        call = Call("DELETE", f"/v1/account/keys/{key_id}", m.KeyInfo, "key", safe=True)
        return await self.send(call)

    # ------------------------------------------------------------ markets

    async def markets(
        self,
        status: str | None = None,
        cluster: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.MarketPage:
        """Markets, filtered by status and cluster."""
        params = _page(cursor, limit, status=status, cluster=cluster)
        return await self.send(_read("/v1/markets", m.MarketPage, "none", params))

    async def market(self, market_id: str) -> m.Market:
        """One market: odds, OI, caps, volume (a resolved market's price is its settlement
        price on servers implementing issue 12)."""
        return await self.send(_read(f"/v1/markets/{market_id}", m.Market, "none"))

    async def prices(
        self, market_id: str, cursor: str | None = None, limit: int = 100
    ) -> m.PriceHistory:
        """Spot after each block that moved it (kept after resolution)."""
        path = f"/v1/markets/{market_id}/prices"
        return await self.send(_read(path, m.PriceHistory, "none", _page(cursor, limit)))

    async def quote(self, market: str, side: str, margin: Money, leverage: Money) -> m.Quote:
        """Price an order without changing anything."""
        body = {
            "market": market,
            "side": side,
            "margin": money(margin),
            "leverage": money(leverage),
        }
        return await self.send(Call("POST", "/v1/quote", m.Quote, "key", body, safe=True))

    # ------------------------------------------------------------ orders and fills

    async def open_order(
        self,
        market: str,
        side: str,
        margin: Money,
        leverage: Money,
        max_avg_price: Money | None = None,
        client_order_id: str | None = None,
    ) -> m.Order:
        """Open or increase a position. The ``client_order_id`` (generated when omitted) is
        also the ``Idempotency-Key``: a retry returns the original order, ``duplicate=True``."""
        order_id = client_order_id or self.next_id()
        body: dict[str, Any] = {
            "market": market,
            "side": side,
            "margin": money(margin),
            "leverage": money(leverage),
            "client_order_id": order_id,
        }
        if max_avg_price is not None:
            body["max_avg_price"] = money(max_avg_price)
        return await self.send(self._mutation("POST", "/v1/orders", m.Order, body, order_id))

    async def close_position(
        self,
        position_id: int,
        notional: Money | None = None,
        min_avg_price: Money | None = None,
        client_order_id: str | None = None,
    ) -> m.Order:
        """Close all (``notional`` omitted) or part of a position; idempotent like
        :meth:`open_order`."""
        order_id = client_order_id or self.next_id()
        body: dict[str, Any] = {"client_order_id": order_id}
        if notional is not None:
            body["notional"] = money(notional)
        if min_avg_price is not None:
            body["min_avg_price"] = money(min_avg_price)
        path = f"/v1/positions/{position_id}/close"
        return await self.send(self._mutation("POST", path, m.Order, body, order_id))

    async def order(self, order_id: str) -> m.Order:
        """``GET /v1/orders/{order_id}``: the same body as the POST that placed it."""
        return await self.send(_read(f"/v1/orders/{order_id}", m.Order, "key"))

    async def order_by_client_id(self, client_order_id: str) -> m.Order:
        """``GET /v1/orders/by-client-id/{client_order_id}``: reconcile a lost answer."""
        path = f"/v1/orders/by-client-id/{client_order_id}"
        return await self.send(_read(path, m.Order, "key"))

    async def orders(
        self,
        market: str | None = None,
        status: str | None = None,
        since: int | None = None,
        until: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.OrderPage:
        """This account's orders, oldest first, filtered by market, status and time."""
        params = _page(cursor, limit, market=market, status=status, since=since, until=until)
        return await self.send(_read("/v1/orders", m.OrderPage, "key", params))

    async def fills(
        self,
        market: str | None = None,
        order_id: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.FillPage:
        """This account's fills, oldest first, filtered by market and order."""
        params = _page(cursor, limit, market=market, order_id=order_id)
        return await self.send(_read("/v1/fills", m.FillPage, "key", params))

    # ------------------------------------------------------------ positions

    async def positions(
        self,
        status: str = "open",
        market: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.PositionPage:
        """This account's positions (``status``: open, closed, liquidated, settled, all)."""
        params = _page(cursor, limit, status=status, market=market)
        return await self.send(_read("/v1/positions", m.PositionPage, "key", params))

    async def position(self, position_id: int) -> m.Position:
        """One of this account's positions."""
        return await self.send(_read(f"/v1/positions/{position_id}", m.Position, "key"))

    async def add_margin(
        self, position_id: int, amount: Money, idempotency_key: str | None = None
    ) -> m.AddMarginResult:
        """Move collateral into a position (lowers its liquidation price)."""
        path = f"/v1/positions/{position_id}/margin"
        body = {"amount": money(amount)}
        return await self.send(
            self._mutation("POST", path, m.AddMarginResult, body, idempotency_key)
        )

    # ------------------------------------------------------------ portfolio-mode accounts

    async def set_margin_mode(
        self, mode: str, idempotency_key: str | None = None
    ) -> m.MarginModeResult:
        """Switch the account to ``"portfolio"`` or ``"isolated"`` margin (only while it has no
        open position: ``ACCOUNT_NOT_FLAT``)."""
        body = {"mode": mode}
        return await self.send(
            self._mutation(
                "POST", "/v1/account/margin-mode", m.MarginModeResult, body, idempotency_key
            )
        )

    async def account_margin(self) -> m.MarginBreakdown:
        """``GET /v1/account/margin``: the portfolio-margin breakdown of the account's book
        (requirement, lock, equity, distance to liquidation)."""
        return await self.send(_read("/v1/account/margin", m.MarginBreakdown, "key"))

    async def quote_portfolio(self, market: str, side: str, notional: Money) -> m.PortfolioQuote:
        """Price a portfolio-mode order by notional without changing anything, with the
        account's requirement before and after it."""
        body = {"market": market, "side": side, "notional": money(notional)}
        return await self.send(
            Call("POST", "/v1/portfolio/quote", m.PortfolioQuote, "key", body, safe=True)
        )

    async def open_portfolio_order(
        self,
        market: str,
        side: str,
        notional: Money,
        max_avg_price: Money | None = None,
        client_order_id: str | None = None,
    ) -> m.PortfolioOrder:
        """Open or increase a portfolio-mode position by notional; the account's lock moves to
        the requirement after the order. Idempotent like :meth:`open_order` (the
        ``client_order_id``, generated when omitted, is also the ``Idempotency-Key``).
        Close with :meth:`close_position`."""
        order_id = client_order_id or self.next_id()
        body: dict[str, Any] = {
            "market": market,
            "side": side,
            "notional": money(notional),
            "client_order_id": order_id,
        }
        if max_avg_price is not None:
            body["max_avg_price"] = money(max_avg_price)
        return await self.send(
            self._mutation("POST", "/v1/portfolio/orders", m.PortfolioOrder, body, order_id)
        )

    # ------------------------------------------------------------ public feeds

    async def trades(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> m.TradePage:
        """Public trades feed."""
        params = _page(cursor, limit, market=market)
        return await self.send(_read("/v1/feeds/trades", m.TradePage, "none", params))

    async def liquidations(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> m.LiquidationPage:
        """Public liquidations feed."""
        params = _page(cursor, limit, market=market)
        return await self.send(_read("/v1/feeds/liquidations", m.LiquidationPage, "none", params))

    async def resolutions(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> m.ResolutionPage:
        """Public resolutions feed."""
        params = _page(cursor, limit, market=market)
        return await self.send(_read("/v1/feeds/resolutions", m.ResolutionPage, "none", params))

    async def insurance_fund(self) -> m.Fund:
        """Insurance fund balance and coverage."""
        return await self.send(_read("/v1/insurance-fund", m.Fund, "none"))

    async def fund_flows(self, cursor: str | None = None, limit: int = 100) -> m.FundFlowPage:
        """Every inflow to and draw from the insurance fund."""
        params = _page(cursor, limit)
        return await self.send(_read("/v1/insurance-fund/flows", m.FundFlowPage, "none", params))

    # ------------------------------------------------------------ admin

    async def _admin(self, path: str, body: dict[str, Any] | None = None) -> m.AdminMarketResult:
        return await self.send(Call("POST", path, m.AdminMarketResult, "admin", body))

    async def admin_create_market(self, /, market: str, **fields: Any) -> m.AdminMarketResult:
        """Create a market. ``fields`` as in the API (``virtual_oi``, ``wallet_cap``,
        ``market_oi_cap``: money; ``kind``, ``question``, ``funding``...)."""
        body = {
            k: money(v) if isinstance(v, Decimal | int) and not isinstance(v, bool) else v
            for k, v in fields.items()
        }
        return await self._admin("/v1/admin/markets", {"market": market, **body})

    async def admin_halt(self, market_id: str) -> m.AdminMarketResult:
        """Halt trading on a market."""
        return await self._admin(f"/v1/admin/markets/{market_id}/halt")

    async def admin_resume(self, market_id: str) -> m.AdminMarketResult:
        """Resume a halted market."""
        return await self._admin(f"/v1/admin/markets/{market_id}/resume")

    async def admin_resolve(self, market_id: str, outcome: str) -> m.AdminMarketResult:
        """Resolve a market: ``"A"``, ``"B"`` or ``"UNKNOWN"``."""
        return await self._admin(f"/v1/admin/markets/{market_id}/resolve", {"outcome": outcome})

    async def admin_void(self, market_id: str) -> m.AdminMarketResult:
        """Void a market (margins returned)."""
        return await self._admin(f"/v1/admin/markets/{market_id}/void")

    async def admin_params(self) -> m.Params:
        """Parameters in force."""
        return await self.send(_read("/v1/admin/params", m.Params, "admin"))

    async def admin_set_params(self, params: dict[str, str | int | bool]) -> m.Params:
        """Override parameters (human units, decimal strings)."""
        body = {"params": params}
        return await self.send(Call("POST", "/v1/admin/params", m.Params, "admin", body))

    async def admin_advance_clock(self, seconds: int) -> m.Clock:
        """Advance the simulated clock (drives funding)."""
        body = {"seconds": seconds}
        return await self.send(Call("POST", "/v1/admin/clock", m.Clock, "admin", body))
