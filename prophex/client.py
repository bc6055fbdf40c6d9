"""Typed Python client for the Prophex-sim API (sync :class:`ProphexClient`, async
:class:`AsyncProphexClient`) and the ``/v1/stream`` WebSocket.

Bots fail in the same few ways on real venues, so the client is built against them:

* an order always carries a ``client_order_id``, generated *once* per call when not given, and
  a retry after a timeout or a dropped connection resends the same id: the server answers a
  repeat with the original result (``duplicate=True``) instead of placing a second order;
* every error is a :class:`ProphexApiError` carrying the server's stable ``code`` and the
  figures of the failing check (``required``/``available``, ``cap``/``headroom``...);
* 429 answers are waited out using ``Retry-After``;
* the stream client numbers events per market, detects gaps and silent freezes (heartbeats),
  and resynchronises from the journal on its own after a reconnect.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel

from prophex.api import portfolio_schemas as ps
from prophex.api import schemas as s

M = TypeVar("M", bound=BaseModel)
Auth = Literal["none", "key", "admin"]
RETRY_STATUSES = {429, 502, 503, 504}


def new_client_order_id() -> str:
    """A fresh idempotency key. Derive your own deterministically if your bot can restart."""
    return "c" + uuid.uuid4().hex


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class ProphexApiError(Exception):
    """A problem+json answer: ``status``, stable ``code`` and the whole ``problem`` document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "HTTP_ERROR"))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.code}: {self.detail}")


def _problem(response: httpx.Response) -> ProphexApiError:
    try:
        body = response.json()
    except ValueError:
        body = {"code": "HTTP_ERROR", "detail": response.text[:200]}
    if not isinstance(body, dict):
        body = {"code": "HTTP_ERROR", "detail": str(body)[:200]}
    return ProphexApiError(response.status_code, body)


def _retry_delay(response: httpx.Response | None, attempt: int) -> float:
    retry_after = "" if response is None else str(response.headers.get("Retry-After", ""))
    if retry_after.isdigit():
        return float(retry_after)
    return float(min(2.0, 0.05 * (1 << attempt)))


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {k: v for k, v in params.items() if v is not None}


class _Config:
    def __init__(
        self, base_url: str, api_key: str | None, admin_key: str | None, retries: int
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.admin_key = admin_key
        self.retries = retries

    def headers(self, auth: Auth) -> dict[str, str]:
        key = {"none": None, "key": self.api_key, "admin": self.admin_key}[auth]
        return {} if key is None else {"Authorization": f"Bearer {key}"}

    def attempts(self, call: Call[Any]) -> int:
        return self.retries + 1 if call.idempotent else 1

    def options(self, call: Call[Any]) -> dict[str, Any]:
        """Keyword arguments of ``httpx`` ``request`` for ``call``."""
        return {
            "params": _clean(call.params),
            "json": call.json,
            "headers": self.headers(call.auth),
        }

    def ws_url(self) -> str:
        url = self.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return url + "/v1/stream"


@dataclass(frozen=True)
class Call(Generic[M]):
    """One request to send: what it hits, how it authenticates, what it answers with, and
    whether it may be retried (reads and orders carrying a client_order_id)."""

    method: str
    path: str
    model: type[M]
    auth: Auth
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    idempotent: bool = False


def _page(cursor: str | None, limit: int, **filters: Any) -> dict[str, Any]:
    return {**filters, "cursor": cursor, "limit": limit}


def _read(path: str, model: type[M], auth: Auth, params: dict[str, Any] | None = None) -> Call[M]:
    """A GET: safe to retry."""
    return Call("GET", path, model, auth, params=params, idempotent=True)


class _Requests:
    """Each endpoint's request, described once for both clients. Arguments that must be
    stable across retries (a generated client_order_id) are fixed here, once per call."""

    @staticmethod
    def health() -> Call[s.Health]:
        return _read("/v1/health", s.Health, "none")

    @staticmethod
    def create_account(label: str) -> Call[s.AccountCreated]:
        return Call("POST", "/v1/accounts", s.AccountCreated, "none", json={"label": label})

    @staticmethod
    def account() -> Call[s.AccountView]:
        return _read("/v1/account", s.AccountView, "key")

    @staticmethod
    def deposit(amount: str) -> Call[s.BalanceChange]:
        return Call("POST", "/v1/account/deposit", s.BalanceChange, "key", {"amount": amount})

    @staticmethod
    def withdraw(amount: str) -> Call[s.BalanceChange]:
        return Call("POST", "/v1/account/withdraw", s.BalanceChange, "key", {"amount": amount})

    @staticmethod
    def ledger(cursor: str | None, limit: int) -> Call[s.LedgerPage]:
        return _read("/v1/account/ledger", s.LedgerPage, "key", _page(cursor, limit))

    @staticmethod
    def settlements(cursor: str | None, limit: int) -> Call[s.SettlementPage]:
        return _read("/v1/account/settlements", s.SettlementPage, "key", _page(cursor, limit))

    @staticmethod
    def keys() -> Call[s.KeyList]:
        return _read("/v1/account/keys", s.KeyList, "key")

    @staticmethod
    def create_key(label: str) -> Call[s.KeyCreated]:
        return Call("POST", "/v1/account/keys", s.KeyCreated, "key", json={"label": label})

    @staticmethod
    def revoke_key(key_id: str) -> Call[s.KeyInfo]:
        return Call("DELETE", f"/v1/account/keys/{key_id}", s.KeyInfo, "key", idempotent=True)

    @staticmethod
    def markets(
        status: str | None, cluster: str | None, cursor: str | None, limit: int
    ) -> Call[s.MarketPage]:
        return _read(
            "/v1/markets",
            s.MarketPage,
            "none",
            _page(cursor, limit, status=status, cluster=cluster),
        )

    @staticmethod
    def market(market_id: str) -> Call[s.MarketView]:
        return _read(f"/v1/markets/{market_id}", s.MarketView, "none")

    @staticmethod
    def prices(market_id: str, cursor: str | None, limit: int) -> Call[s.PriceHistory]:
        return _read(
            f"/v1/markets/{market_id}/prices", s.PriceHistory, "none", _page(cursor, limit)
        )

    @staticmethod
    def quote(market: str, side: str, margin: str, leverage: str) -> Call[s.Quote]:
        body = {"market": market, "side": side, "margin": margin, "leverage": leverage}
        return Call("POST", "/v1/quote", s.Quote, "key", json=body, idempotent=True)

    @staticmethod
    def set_margin_mode(mode: str) -> Call[ps.MarginModeResult]:
        body = {"mode": mode}
        return Call("POST", "/v1/account/margin-mode", ps.MarginModeResult, "key", body)

    @staticmethod
    def account_margin() -> Call[ps.MarginBreakdown]:
        return _read("/v1/account/margin", ps.MarginBreakdown, "key")

    @staticmethod
    def quote_portfolio(market: str, side: str, notional: str) -> Call[ps.PortfolioQuote]:
        body = {"market": market, "side": side, "notional": notional}
        return Call("POST", "/v1/portfolio/quote", ps.PortfolioQuote, "key", body, idempotent=True)

    @staticmethod
    def open_portfolio_order(
        market: str, side: str, notional: str, max_avg_price: str | None, coid: str | None
    ) -> Call[ps.PortfolioOrderResult]:
        body = {
            "market": market,
            "side": side,
            "notional": notional,
            "max_avg_price": max_avg_price,
            "client_order_id": coid or new_client_order_id(),
        }
        return Call(
            "POST",
            "/v1/portfolio/orders",
            ps.PortfolioOrderResult,
            "key",
            _drop_none(body),
            idempotent=True,
        )

    @staticmethod
    def open_order(
        market: str,
        side: str,
        margin: str,
        leverage: str,
        max_avg_price: str | None,
        client_order_id: str | None,
    ) -> Call[s.OrderResult]:
        body = {
            "market": market,
            "side": side,
            "margin": margin,
            "leverage": leverage,
            "max_avg_price": max_avg_price,
            "client_order_id": client_order_id or new_client_order_id(),
        }
        return Call("POST", "/v1/orders", s.OrderResult, "key", _drop_none(body), idempotent=True)

    @staticmethod
    def order(client_order_id: str) -> Call[s.OrderLookup]:
        return _read(f"/v1/orders/{client_order_id}", s.OrderLookup, "key")

    @staticmethod
    def positions(
        status: str, market: str | None, cursor: str | None, limit: int
    ) -> Call[s.PositionPage]:
        return _read(
            "/v1/positions",
            s.PositionPage,
            "key",
            _page(cursor, limit, status=status, market=market),
        )

    @staticmethod
    def position(position_id: int) -> Call[s.PositionView]:
        return _read(f"/v1/positions/{position_id}", s.PositionView, "key")

    @staticmethod
    def close_position(
        position_id: int,
        notional: str | None,
        min_avg_price: str | None,
        client_order_id: str | None,
    ) -> Call[s.CloseResult]:
        body = {
            "notional": notional,
            "min_avg_price": min_avg_price,
            "client_order_id": client_order_id or new_client_order_id(),
        }
        return Call(
            "POST",
            f"/v1/positions/{position_id}/close",
            s.CloseResult,
            "key",
            _drop_none(body),
            idempotent=True,
        )

    @staticmethod
    def add_margin(position_id: int, amount: str) -> Call[s.AddMarginResult]:
        return Call(
            "POST",
            f"/v1/positions/{position_id}/margin",
            s.AddMarginResult,
            "key",
            {"amount": amount},
        )

    @staticmethod
    def trades(market: str | None, cursor: str | None, limit: int) -> Call[s.TradePage]:
        return _read("/v1/feeds/trades", s.TradePage, "none", _page(cursor, limit, market=market))

    @staticmethod
    def liquidations(market: str | None, cursor: str | None, limit: int) -> Call[s.LiquidationPage]:
        return _read(
            "/v1/feeds/liquidations", s.LiquidationPage, "none", _page(cursor, limit, market=market)
        )

    @staticmethod
    def resolutions(market: str | None, cursor: str | None, limit: int) -> Call[s.ResolutionPage]:
        return _read(
            "/v1/feeds/resolutions", s.ResolutionPage, "none", _page(cursor, limit, market=market)
        )

    @staticmethod
    def insurance_fund() -> Call[s.FundView]:
        return _read("/v1/insurance-fund", s.FundView, "none")

    @staticmethod
    def fund_flows(cursor: str | None, limit: int) -> Call[s.FundFlowPage]:
        return _read("/v1/insurance-fund/flows", s.FundFlowPage, "none", _page(cursor, limit))

    @staticmethod
    def admin_create_market(market: str, fields: dict[str, Any]) -> Call[s.AdminMarketResult]:
        body = {"market": market, **fields}
        return Call("POST", "/v1/admin/markets", s.AdminMarketResult, "admin", body)

    @staticmethod
    def admin_market(
        market_id: str, action: str, body: dict[str, Any] | None = None
    ) -> Call[s.AdminMarketResult]:
        path = f"/v1/admin/markets/{market_id}/{action}"
        return Call("POST", path, s.AdminMarketResult, "admin", body)

    @staticmethod
    def admin_params() -> Call[s.ParamsView]:
        return _read("/v1/admin/params", s.ParamsView, "admin")

    @staticmethod
    def admin_set_params(params: dict[str, str | int | bool]) -> Call[s.ParamsView]:
        return Call("POST", "/v1/admin/params", s.ParamsView, "admin", {"params": params})

    @staticmethod
    def admin_advance_clock(seconds: int) -> Call[s.ClockView]:
        return Call("POST", "/v1/admin/clock", s.ClockView, "admin", {"seconds": seconds})


_R = _Requests


def _outcome(call: Call[M], response: httpx.Response | None, last: bool) -> M | None:
    """The parsed answer, or None to wait and try again; raises when the failure is final."""
    if response is None:
        return None
    if response.status_code < 400:
        return call.model.model_validate_json(response.content)
    if response.status_code not in RETRY_STATUSES or last:
        raise _problem(response)
    return None


class ProphexClient:
    """Synchronous client. ``retries`` applies to idempotent calls only (reads and orders,
    which always carry a client_order_id)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        admin_key: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = _Config(base_url, api_key, admin_key, retries)
        self.http = httpx.Client(
            base_url=self.config.base_url, timeout=timeout, transport=transport
        )

    def __enter__(self) -> ProphexClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def with_key(self, api_key: str) -> ProphexClient:
        """A client for another account, sharing nothing but the URL."""
        return ProphexClient(self.config.base_url, api_key, admin_key=self.config.admin_key)

    def _send(self, call: Call[M]) -> M:
        attempts = self.config.attempts(call)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            response: httpx.Response | None = None
            try:
                response = self.http.request(call.method, call.path, **self.config.options(call))
            except httpx.TransportError:
                if last:
                    raise
            if (result := _outcome(call, response, last)) is not None:
                return result
            time.sleep(_retry_delay(response, attempt))
        raise AssertionError("unreachable")

    def stream(
        self, markets: list[str], *, idle_timeout: float = 30.0, max_events: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Snapshots and gap-free deltas of ``markets`` (runs in a private event loop)."""
        loop = asyncio.new_event_loop()
        subscription = MarketStream(self.config.ws_url(), markets, idle_timeout=idle_timeout)
        iterator = subscription.__aiter__()
        try:
            count = 0
            while max_events is None or count < max_events:
                yield loop.run_until_complete(iterator.__anext__())
                count += 1
        except StopAsyncIteration:
            return
        finally:
            loop.run_until_complete(subscription.close())
            loop.close()

    def health(self) -> s.Health:
        """Server liveness and the last command sequence."""
        return self._send(_R.health())

    def create_account(self, label: str = "") -> s.AccountCreated:
        """Create an account; the returned api_key is shown once."""
        return self._send(_R.create_account(label))

    def account(self) -> s.AccountView:
        """Balances, margin locked, unrealised PnL, equity."""
        return self._send(_R.account())

    def deposit(self, amount: str) -> s.BalanceChange:
        """Credit simulated collateral."""
        return self._send(_R.deposit(amount))

    def withdraw(self, amount: str) -> s.BalanceChange:
        """Withdraw free collateral."""
        return self._send(_R.withdraw(amount))

    def ledger(self, cursor: str | None = None, limit: int = 100) -> s.LedgerPage:
        """Ledger statement of the wallet and position margin accounts."""
        return self._send(_R.ledger(cursor, limit))

    def settlements(self, cursor: str | None = None, limit: int = 100) -> s.SettlementPage:
        """Settlements received from resolutions and voids."""
        return self._send(_R.settlements(cursor, limit))

    def keys(self) -> s.KeyList:
        """This account's API keys (never the secrets)."""
        return self._send(_R.keys())

    def create_key(self, label: str = "") -> s.KeyCreated:
        """Issue another key for this account."""
        return self._send(_R.create_key(label))

    def revoke_key(self, key_id: str) -> s.KeyInfo:
        """Revoke a key of this account."""
        return self._send(_R.revoke_key(key_id))

    def markets(
        self,
        status: str | None = None,
        cluster: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.MarketPage:
        """Markets, filtered by status and cluster."""
        return self._send(_R.markets(status, cluster, cursor, limit))

    def market(self, market_id: str) -> s.MarketView:
        """One market: odds, OI, caps, volume."""
        return self._send(_R.market(market_id))

    def prices(self, market_id: str, cursor: str | None = None, limit: int = 100) -> s.PriceHistory:
        """Spot after each block that moved it (kept after resolution)."""
        return self._send(_R.prices(market_id, cursor, limit))

    def set_margin_mode(self, mode: str) -> ps.MarginModeResult:
        """Switch between isolated and portfolio margin (only while flat)."""
        return self._send(_R.set_margin_mode(mode))

    def account_margin(self) -> ps.MarginBreakdown:
        """The portfolio-margin breakdown, lock, equity and distance to liquidation."""
        return self._send(_R.account_margin())

    def quote_portfolio(self, market: str, side: str, notional: str) -> ps.PortfolioQuote:
        """Price a portfolio order: the requirement before and after it."""
        return self._send(_R.quote_portfolio(market, side, notional))

    def open_portfolio_order(
        self,
        market: str,
        side: str,
        notional: str,
        max_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> ps.PortfolioOrderResult:
        """Open or increase a portfolio-mode position by notional (retry-safe)."""
        return self._send(
            _R.open_portfolio_order(market, side, notional, max_avg_price, client_order_id)
        )

    def quote(self, market: str, side: str, margin: str, leverage: str) -> s.Quote:
        """Price an order without changing anything."""
        return self._send(_R.quote(market, side, margin, leverage))

    def open_order(
        self,
        market: str,
        side: str,
        margin: str,
        leverage: str,
        max_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> s.OrderResult:
        """Open or increase a position. A client_order_id is generated once if not given, so
        retries are safe."""
        return self._send(
            _R.open_order(market, side, margin, leverage, max_avg_price, client_order_id)
        )

    def order(self, client_order_id: str) -> s.OrderLookup:
        """The stored result of an order sent with this client_order_id."""
        return self._send(_R.order(client_order_id))

    def positions(
        self,
        status: str = "open",
        market: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.PositionPage:
        """This account's positions."""
        return self._send(_R.positions(status, market, cursor, limit))

    def position(self, position_id: int) -> s.PositionView:
        """One of this account's positions."""
        return self._send(_R.position(position_id))

    def close_position(
        self,
        position_id: int,
        notional: str | None = None,
        min_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> s.CloseResult:
        """Close all or part of a position (idempotent through client_order_id)."""
        return self._send(_R.close_position(position_id, notional, min_avg_price, client_order_id))

    def add_margin(self, position_id: int, amount: str) -> s.AddMarginResult:
        """Move collateral into a position."""
        return self._send(_R.add_margin(position_id, amount))

    def trades(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.TradePage:
        """Public trades feed."""
        return self._send(_R.trades(market, cursor, limit))

    def liquidations(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.LiquidationPage:
        """Public liquidations feed."""
        return self._send(_R.liquidations(market, cursor, limit))

    def resolutions(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.ResolutionPage:
        """Public resolutions feed."""
        return self._send(_R.resolutions(market, cursor, limit))

    def insurance_fund(self) -> s.FundView:
        """Insurance fund balance and coverage."""
        return self._send(_R.insurance_fund())

    def fund_flows(self, cursor: str | None = None, limit: int = 100) -> s.FundFlowPage:
        """Every inflow to and draw from the insurance fund."""
        return self._send(_R.fund_flows(cursor, limit))

    def admin_create_market(self, market: str, **fields: Any) -> s.AdminMarketResult:
        """Create a market (fields as in MarketCreate)."""
        return self._send(_R.admin_create_market(market, fields))

    def admin_halt(self, market_id: str) -> s.AdminMarketResult:
        """Halt trading on a market."""
        return self._send(_R.admin_market(market_id, "halt"))

    def admin_resume(self, market_id: str) -> s.AdminMarketResult:
        """Resume a halted market."""
        return self._send(_R.admin_market(market_id, "resume"))

    def admin_resolve(self, market_id: str, outcome: str) -> s.AdminMarketResult:
        """Resolve a market: A, B or UNKNOWN."""
        return self._send(_R.admin_market(market_id, "resolve", {"outcome": outcome}))

    def admin_void(self, market_id: str) -> s.AdminMarketResult:
        """Void a market (margins returned)."""
        return self._send(_R.admin_market(market_id, "void"))

    def admin_params(self) -> s.ParamsView:
        """Parameters in force."""
        return self._send(_R.admin_params())

    def admin_set_params(self, params: dict[str, str | int | bool]) -> s.ParamsView:
        """Override parameters."""
        return self._send(_R.admin_set_params(params))

    def admin_advance_clock(self, seconds: int) -> s.ClockView:
        """Advance the simulated clock."""
        return self._send(_R.admin_advance_clock(seconds))


class AsyncProphexClient:
    """Asynchronous client; same methods as :class:`ProphexClient`, awaited."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        admin_key: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.config = _Config(base_url, api_key, admin_key, retries)
        self.http = httpx.AsyncClient(
            base_url=self.config.base_url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )

    async def __aenter__(self) -> AsyncProphexClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _send(self, call: Call[M]) -> M:
        attempts = self.config.attempts(call)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            response: httpx.Response | None = None
            try:
                response = await self.http.request(
                    call.method, call.path, **self.config.options(call)
                )
            except httpx.TransportError:
                if last:
                    raise
            if (result := _outcome(call, response, last)) is not None:
                return result
            await asyncio.sleep(_retry_delay(response, attempt))
        raise AssertionError("unreachable")

    def stream(self, markets: list[str], *, idle_timeout: float = 30.0) -> MarketStream:
        """``async for event in client.stream([...])``: snapshots then gap-free deltas."""
        return MarketStream(self.config.ws_url(), markets, idle_timeout=idle_timeout)

    async def health(self) -> s.Health:
        """Server liveness and the last command sequence."""
        return await self._send(_R.health())

    async def create_account(self, label: str = "") -> s.AccountCreated:
        """Create an account; the returned api_key is shown once."""
        return await self._send(_R.create_account(label))

    async def account(self) -> s.AccountView:
        """Balances, margin locked, unrealised PnL, equity."""
        return await self._send(_R.account())

    async def deposit(self, amount: str) -> s.BalanceChange:
        """Credit simulated collateral."""
        return await self._send(_R.deposit(amount))

    async def withdraw(self, amount: str) -> s.BalanceChange:
        """Withdraw free collateral."""
        return await self._send(_R.withdraw(amount))

    async def ledger(self, cursor: str | None = None, limit: int = 100) -> s.LedgerPage:
        """Ledger statement of the wallet and position margin accounts."""
        return await self._send(_R.ledger(cursor, limit))

    async def settlements(self, cursor: str | None = None, limit: int = 100) -> s.SettlementPage:
        """Settlements received from resolutions and voids."""
        return await self._send(_R.settlements(cursor, limit))

    async def keys(self) -> s.KeyList:
        """This account's API keys (never the secrets)."""
        return await self._send(_R.keys())

    async def create_key(self, label: str = "") -> s.KeyCreated:
        """Issue another key for this account."""
        return await self._send(_R.create_key(label))

    async def revoke_key(self, key_id: str) -> s.KeyInfo:
        """Revoke a key of this account."""
        return await self._send(_R.revoke_key(key_id))

    async def markets(
        self,
        status: str | None = None,
        cluster: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.MarketPage:
        """Markets, filtered by status and cluster."""
        return await self._send(_R.markets(status, cluster, cursor, limit))

    async def market(self, market_id: str) -> s.MarketView:
        """One market: odds, OI, caps, volume."""
        return await self._send(_R.market(market_id))

    async def prices(
        self, market_id: str, cursor: str | None = None, limit: int = 100
    ) -> s.PriceHistory:
        """Spot after each block that moved it (kept after resolution)."""
        return await self._send(_R.prices(market_id, cursor, limit))

    async def set_margin_mode(self, mode: str) -> ps.MarginModeResult:
        """Switch between isolated and portfolio margin (only while flat)."""
        return await self._send(_R.set_margin_mode(mode))

    async def account_margin(self) -> ps.MarginBreakdown:
        """The portfolio-margin breakdown, lock, equity and distance to liquidation."""
        return await self._send(_R.account_margin())

    async def quote_portfolio(self, market: str, side: str, notional: str) -> ps.PortfolioQuote:
        """Price a portfolio order: the requirement before and after it."""
        return await self._send(_R.quote_portfolio(market, side, notional))

    async def open_portfolio_order(
        self,
        market: str,
        side: str,
        notional: str,
        max_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> ps.PortfolioOrderResult:
        """Open or increase a portfolio-mode position by notional (retry-safe)."""
        return await self._send(
            _R.open_portfolio_order(market, side, notional, max_avg_price, client_order_id)
        )

    async def quote(self, market: str, side: str, margin: str, leverage: str) -> s.Quote:
        """Price an order without changing anything."""
        return await self._send(_R.quote(market, side, margin, leverage))

    async def open_order(
        self,
        market: str,
        side: str,
        margin: str,
        leverage: str,
        max_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> s.OrderResult:
        """Open or increase a position. A client_order_id is generated once if not given, so
        retries are safe."""
        return await self._send(
            _R.open_order(market, side, margin, leverage, max_avg_price, client_order_id)
        )

    async def order(self, client_order_id: str) -> s.OrderLookup:
        """The stored result of an order sent with this client_order_id."""
        return await self._send(_R.order(client_order_id))

    async def positions(
        self,
        status: str = "open",
        market: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.PositionPage:
        """This account's positions."""
        return await self._send(_R.positions(status, market, cursor, limit))

    async def position(self, position_id: int) -> s.PositionView:
        """One of this account's positions."""
        return await self._send(_R.position(position_id))

    async def close_position(
        self,
        position_id: int,
        notional: str | None = None,
        min_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> s.CloseResult:
        """Close all or part of a position (idempotent through client_order_id)."""
        return await self._send(
            _R.close_position(position_id, notional, min_avg_price, client_order_id)
        )

    async def add_margin(self, position_id: int, amount: str) -> s.AddMarginResult:
        """Move collateral into a position."""
        return await self._send(_R.add_margin(position_id, amount))

    async def trades(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.TradePage:
        """Public trades feed."""
        return await self._send(_R.trades(market, cursor, limit))

    async def liquidations(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.LiquidationPage:
        """Public liquidations feed."""
        return await self._send(_R.liquidations(market, cursor, limit))

    async def resolutions(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.ResolutionPage:
        """Public resolutions feed."""
        return await self._send(_R.resolutions(market, cursor, limit))

    async def insurance_fund(self) -> s.FundView:
        """Insurance fund balance and coverage."""
        return await self._send(_R.insurance_fund())

    async def fund_flows(self, cursor: str | None = None, limit: int = 100) -> s.FundFlowPage:
        """Every inflow to and draw from the insurance fund."""
        return await self._send(_R.fund_flows(cursor, limit))

    async def admin_create_market(self, market: str, **fields: Any) -> s.AdminMarketResult:
        """Create a market (fields as in MarketCreate)."""
        return await self._send(_R.admin_create_market(market, fields))

    async def admin_halt(self, market_id: str) -> s.AdminMarketResult:
        """Halt trading on a market."""
        return await self._send(_R.admin_market(market_id, "halt"))

    async def admin_resume(self, market_id: str) -> s.AdminMarketResult:
        """Resume a halted market."""
        return await self._send(_R.admin_market(market_id, "resume"))

    async def admin_resolve(self, market_id: str, outcome: str) -> s.AdminMarketResult:
        """Resolve a market: A, B or UNKNOWN."""
        return await self._send(_R.admin_market(market_id, "resolve", {"outcome": outcome}))

    async def admin_void(self, market_id: str) -> s.AdminMarketResult:
        """Void a market (margins returned)."""
        return await self._send(_R.admin_market(market_id, "void"))

    async def admin_params(self) -> s.ParamsView:
        """Parameters in force."""
        return await self._send(_R.admin_params())

    async def admin_set_params(self, params: dict[str, str | int | bool]) -> s.ParamsView:
        """Override parameters."""
        return await self._send(_R.admin_set_params(params))

    async def admin_advance_clock(self, seconds: int) -> s.ClockView:
        """Advance the simulated clock."""
        return await self._send(_R.admin_advance_clock(seconds))


class MarketStream:
    """Gap-free market events over ``/v1/stream`` with automatic reconnect and resync.

    Yields each market's ``snapshot`` (on first subscription) and then its deltas in ``seq``
    order, each exactly once. A gap (a ``seq`` skipped, or a heartbeat announcing a later
    ``seq``) triggers a resync from the journal; a dropped or silent connection (nothing for
    ``idle_timeout`` seconds, heartbeats included) is reopened and resynced from the last
    ``seq`` seen. :meth:`drop_connection` forces that path (for tests and chaos drills).
    """

    def __init__(self, url: str, markets: list[str], *, idle_timeout: float = 30.0) -> None:
        self.url = url
        self.markets = list(markets)
        self.idle_timeout = idle_timeout
        self.last: dict[str, int] = {}
        self.reconnects = 0
        self._ws: Any = None
        self._pending: set[str] = set()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def drop_connection(self) -> None:
        """Abruptly close the socket; the iterator reconnects and resyncs by itself."""
        if self._ws is not None:
            await self._ws.close()

    async def _connect(self) -> None:
        import websockets

        self._ws = await websockets.connect(self.url, max_size=2**24)
        fresh = [m for m in self.markets if m not in self.last]
        if fresh:
            await self._send({"op": "subscribe", "markets": fresh})
        for market, seq in self.last.items():
            await self._send({"op": "resync", "market": market, "from_seq": seq + 1})

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def _receive(self) -> dict[str, Any] | None:
        """The next message, or None when the connection is gone or silent."""
        try:
            raw = await asyncio.wait_for(self._ws.recv(), timeout=self.idle_timeout)
        except (TimeoutError, OSError, Exception):
            return None
        message: dict[str, Any] = json.loads(raw)
        return message

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            if self._ws is None:
                await self._connect()
            message = await self._receive()
            if message is None:
                await self.close()
                self.reconnects += 1
                continue
            for event in await self._accept(message):
                yield event

    async def _accept(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        kind = message.get("type")
        market = message.get("market")
        if kind == "snapshot" and isinstance(market, str):
            if market in self.last:
                return []
            self.last[market] = int(message["seq"])
            return [message]
        if kind == "heartbeat":
            for name, seq in message.get("seqs", {}).items():
                if seq > self.last.get(name, seq) and name not in self._pending:
                    await self._resync(name)
            return []
        if kind == "resynced" and isinstance(market, str):
            self._pending.discard(market)
            return []
        if isinstance(market, str) and "seq" in message:
            seq, last = int(message["seq"]), self.last.get(market, 0)
            if seq <= last:
                return []
            if seq > last + 1:
                if market not in self._pending:
                    await self._resync(market)
                return []
            self.last[market] = seq
            return [message]
        return [message] if kind == "error" else []

    async def _resync(self, market: str) -> None:
        self._pending.add(market)
        await self._send(
            {"op": "resync", "market": market, "from_seq": self.last.get(market, 0) + 1}
        )
