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
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

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

    def ws_url(self) -> str:
        url = self.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return url + "/v1/stream"


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

    def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        auth: Auth,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> M:
        attempts = self.config.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            response: httpx.Response | None = None
            try:
                response = self.http.request(
                    method,
                    path,
                    params=_clean(params),
                    json=json,
                    headers=self.config.headers(auth),
                )
            except httpx.TransportError:
                if attempt + 1 >= attempts:
                    raise
            if response is not None:
                if response.status_code < 400:
                    return model.model_validate_json(response.content)
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    raise _problem(response)
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
        return self._call("GET", "/v1/health", s.Health, auth="none", idempotent=True)

    def create_account(self, label: str = "") -> s.AccountCreated:
        """Create an account; the returned api_key is shown once."""
        return self._call(
            "POST", "/v1/accounts", s.AccountCreated, auth="none", json={"label": label}
        )

    def account(self) -> s.AccountView:
        """Balances, margin locked, unrealised PnL, equity."""
        return self._call("GET", "/v1/account", s.AccountView, auth="key", idempotent=True)

    def deposit(self, amount: str) -> s.BalanceChange:
        """Credit simulated collateral."""
        return self._call(
            "POST", "/v1/account/deposit", s.BalanceChange, auth="key", json={"amount": amount}
        )

    def withdraw(self, amount: str) -> s.BalanceChange:
        """Withdraw free collateral."""
        return self._call(
            "POST", "/v1/account/withdraw", s.BalanceChange, auth="key", json={"amount": amount}
        )

    def ledger(self, cursor: str | None = None, limit: int = 100) -> s.LedgerPage:
        """Ledger statement of the wallet and position margin accounts."""
        return self._call(
            "GET",
            "/v1/account/ledger",
            s.LedgerPage,
            auth="key",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def settlements(self, cursor: str | None = None, limit: int = 100) -> s.SettlementPage:
        """Settlements received from resolutions and voids."""
        return self._call(
            "GET",
            "/v1/account/settlements",
            s.SettlementPage,
            auth="key",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def keys(self) -> s.KeyList:
        """This account's API keys (never the secrets)."""
        return self._call("GET", "/v1/account/keys", s.KeyList, auth="key", idempotent=True)

    def create_key(self, label: str = "") -> s.KeyCreated:
        """Issue another key for this account."""
        return self._call(
            "POST", "/v1/account/keys", s.KeyCreated, auth="key", json={"label": label}
        )

    def revoke_key(self, key_id: str) -> s.KeyInfo:
        """Revoke a key of this account."""
        return self._call(
            "DELETE", f"/v1/account/keys/{key_id}", s.KeyInfo, auth="key", idempotent=True
        )

    def markets(
        self,
        status: str | None = None,
        cluster: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.MarketPage:
        """Markets, filtered by status and cluster."""
        return self._call(
            "GET",
            "/v1/markets",
            s.MarketPage,
            auth="none",
            params={"status": status, "cluster": cluster, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def market(self, market_id: str) -> s.MarketView:
        """One market: odds, OI, caps, volume."""
        return self._call(
            "GET", f"/v1/markets/{market_id}", s.MarketView, auth="none", idempotent=True
        )

    def prices(self, market_id: str, cursor: str | None = None, limit: int = 100) -> s.PriceHistory:
        """Spot after each block that moved it (kept after resolution)."""
        return self._call(
            "GET",
            f"/v1/markets/{market_id}/prices",
            s.PriceHistory,
            auth="none",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def quote(self, market: str, side: str, margin: str, leverage: str) -> s.Quote:
        """Price an order without changing anything."""
        return self._call(
            "POST",
            "/v1/quote",
            s.Quote,
            auth="key",
            json={"market": market, "side": side, "margin": margin, "leverage": leverage},
            idempotent=True,
        )

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
        return self._call(
            "POST",
            "/v1/orders",
            s.OrderResult,
            auth="key",
            json=_drop_none(
                {
                    "market": market,
                    "side": side,
                    "margin": margin,
                    "leverage": leverage,
                    "max_avg_price": max_avg_price,
                    "client_order_id": client_order_id or new_client_order_id(),
                }
            ),
            idempotent=True,
        )

    def order(self, client_order_id: str) -> s.OrderLookup:
        """The stored result of an order sent with this client_order_id."""
        return self._call(
            "GET", f"/v1/orders/{client_order_id}", s.OrderLookup, auth="key", idempotent=True
        )

    def positions(
        self,
        status: str = "open",
        market: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.PositionPage:
        """This account's positions."""
        return self._call(
            "GET",
            "/v1/positions",
            s.PositionPage,
            auth="key",
            params={"status": status, "market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def position(self, position_id: int) -> s.PositionView:
        """One of this account's positions."""
        return self._call(
            "GET", f"/v1/positions/{position_id}", s.PositionView, auth="key", idempotent=True
        )

    def close_position(
        self,
        position_id: int,
        notional: str | None = None,
        min_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> s.CloseResult:
        """Close all or part of a position (idempotent through client_order_id)."""
        return self._call(
            "POST",
            f"/v1/positions/{position_id}/close",
            s.CloseResult,
            auth="key",
            json=_drop_none(
                {
                    "notional": notional,
                    "min_avg_price": min_avg_price,
                    "client_order_id": client_order_id or new_client_order_id(),
                }
            ),
            idempotent=True,
        )

    def add_margin(self, position_id: int, amount: str) -> s.AddMarginResult:
        """Move collateral into a position."""
        return self._call(
            "POST",
            f"/v1/positions/{position_id}/margin",
            s.AddMarginResult,
            auth="key",
            json={"amount": amount},
        )

    def trades(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.TradePage:
        """Public trades feed."""
        return self._call(
            "GET",
            "/v1/feeds/trades",
            s.TradePage,
            auth="none",
            params={"market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def liquidations(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.LiquidationPage:
        """Public liquidations feed."""
        return self._call(
            "GET",
            "/v1/feeds/liquidations",
            s.LiquidationPage,
            auth="none",
            params={"market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def resolutions(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.ResolutionPage:
        """Public resolutions feed."""
        return self._call(
            "GET",
            "/v1/feeds/resolutions",
            s.ResolutionPage,
            auth="none",
            params={"market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def insurance_fund(self) -> s.FundView:
        """Insurance fund balance and coverage."""
        return self._call("GET", "/v1/insurance-fund", s.FundView, auth="none", idempotent=True)

    def fund_flows(self, cursor: str | None = None, limit: int = 100) -> s.FundFlowPage:
        """Every inflow to and draw from the insurance fund."""
        return self._call(
            "GET",
            "/v1/insurance-fund/flows",
            s.FundFlowPage,
            auth="none",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    def admin_create_market(self, market: str, **fields: Any) -> s.AdminMarketResult:
        """Create a market (fields as in MarketCreate)."""
        return self._call(
            "POST",
            "/v1/admin/markets",
            s.AdminMarketResult,
            auth="admin",
            json={"market": market, **fields},
        )

    def admin_halt(self, market_id: str) -> s.AdminMarketResult:
        """Halt trading on a market."""
        return self._call(
            "POST", f"/v1/admin/markets/{market_id}/halt", s.AdminMarketResult, auth="admin"
        )

    def admin_resume(self, market_id: str) -> s.AdminMarketResult:
        """Resume a halted market."""
        return self._call(
            "POST", f"/v1/admin/markets/{market_id}/resume", s.AdminMarketResult, auth="admin"
        )

    def admin_resolve(self, market_id: str, outcome: str) -> s.AdminMarketResult:
        """Resolve a market: A, B or UNKNOWN."""
        return self._call(
            "POST",
            f"/v1/admin/markets/{market_id}/resolve",
            s.AdminMarketResult,
            auth="admin",
            json={"outcome": outcome},
        )

    def admin_void(self, market_id: str) -> s.AdminMarketResult:
        """Void a market (margins returned)."""
        return self._call(
            "POST", f"/v1/admin/markets/{market_id}/void", s.AdminMarketResult, auth="admin"
        )

    def admin_params(self) -> s.ParamsView:
        """Parameters in force."""
        return self._call("GET", "/v1/admin/params", s.ParamsView, auth="admin", idempotent=True)

    def admin_set_params(self, params: dict[str, str | int | bool]) -> s.ParamsView:
        """Override parameters."""
        return self._call(
            "POST", "/v1/admin/params", s.ParamsView, auth="admin", json={"params": params}
        )

    def admin_advance_clock(self, seconds: int) -> s.ClockView:
        """Advance the simulated clock."""
        return self._call(
            "POST", "/v1/admin/clock", s.ClockView, auth="admin", json={"seconds": seconds}
        )


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

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        auth: Auth,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> M:
        attempts = self.config.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            response: httpx.Response | None = None
            try:
                response = await self.http.request(
                    method,
                    path,
                    params=_clean(params),
                    json=json,
                    headers=self.config.headers(auth),
                )
            except httpx.TransportError:
                if attempt + 1 >= attempts:
                    raise
            if response is not None:
                if response.status_code < 400:
                    return model.model_validate_json(response.content)
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    raise _problem(response)
            await asyncio.sleep(_retry_delay(response, attempt))
        raise AssertionError("unreachable")

    def stream(self, markets: list[str], *, idle_timeout: float = 30.0) -> MarketStream:
        """``async for event in client.stream([...])``: snapshots then gap-free deltas."""
        return MarketStream(self.config.ws_url(), markets, idle_timeout=idle_timeout)

    async def health(self) -> s.Health:
        """Server liveness and the last command sequence."""
        return await self._call("GET", "/v1/health", s.Health, auth="none", idempotent=True)

    async def create_account(self, label: str = "") -> s.AccountCreated:
        """Create an account; the returned api_key is shown once."""
        return await self._call(
            "POST", "/v1/accounts", s.AccountCreated, auth="none", json={"label": label}
        )

    async def account(self) -> s.AccountView:
        """Balances, margin locked, unrealised PnL, equity."""
        return await self._call("GET", "/v1/account", s.AccountView, auth="key", idempotent=True)

    async def deposit(self, amount: str) -> s.BalanceChange:
        """Credit simulated collateral."""
        return await self._call(
            "POST", "/v1/account/deposit", s.BalanceChange, auth="key", json={"amount": amount}
        )

    async def withdraw(self, amount: str) -> s.BalanceChange:
        """Withdraw free collateral."""
        return await self._call(
            "POST", "/v1/account/withdraw", s.BalanceChange, auth="key", json={"amount": amount}
        )

    async def ledger(self, cursor: str | None = None, limit: int = 100) -> s.LedgerPage:
        """Ledger statement of the wallet and position margin accounts."""
        return await self._call(
            "GET",
            "/v1/account/ledger",
            s.LedgerPage,
            auth="key",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def settlements(self, cursor: str | None = None, limit: int = 100) -> s.SettlementPage:
        """Settlements received from resolutions and voids."""
        return await self._call(
            "GET",
            "/v1/account/settlements",
            s.SettlementPage,
            auth="key",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def keys(self) -> s.KeyList:
        """This account's API keys (never the secrets)."""
        return await self._call("GET", "/v1/account/keys", s.KeyList, auth="key", idempotent=True)

    async def create_key(self, label: str = "") -> s.KeyCreated:
        """Issue another key for this account."""
        return await self._call(
            "POST", "/v1/account/keys", s.KeyCreated, auth="key", json={"label": label}
        )

    async def revoke_key(self, key_id: str) -> s.KeyInfo:
        """Revoke a key of this account."""
        return await self._call(
            "DELETE", f"/v1/account/keys/{key_id}", s.KeyInfo, auth="key", idempotent=True
        )

    async def markets(
        self,
        status: str | None = None,
        cluster: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.MarketPage:
        """Markets, filtered by status and cluster."""
        return await self._call(
            "GET",
            "/v1/markets",
            s.MarketPage,
            auth="none",
            params={"status": status, "cluster": cluster, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def market(self, market_id: str) -> s.MarketView:
        """One market: odds, OI, caps, volume."""
        return await self._call(
            "GET", f"/v1/markets/{market_id}", s.MarketView, auth="none", idempotent=True
        )

    async def prices(
        self, market_id: str, cursor: str | None = None, limit: int = 100
    ) -> s.PriceHistory:
        """Spot after each block that moved it (kept after resolution)."""
        return await self._call(
            "GET",
            f"/v1/markets/{market_id}/prices",
            s.PriceHistory,
            auth="none",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def quote(self, market: str, side: str, margin: str, leverage: str) -> s.Quote:
        """Price an order without changing anything."""
        return await self._call(
            "POST",
            "/v1/quote",
            s.Quote,
            auth="key",
            json={"market": market, "side": side, "margin": margin, "leverage": leverage},
            idempotent=True,
        )

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
        return await self._call(
            "POST",
            "/v1/orders",
            s.OrderResult,
            auth="key",
            json=_drop_none(
                {
                    "market": market,
                    "side": side,
                    "margin": margin,
                    "leverage": leverage,
                    "max_avg_price": max_avg_price,
                    "client_order_id": client_order_id or new_client_order_id(),
                }
            ),
            idempotent=True,
        )

    async def order(self, client_order_id: str) -> s.OrderLookup:
        """The stored result of an order sent with this client_order_id."""
        return await self._call(
            "GET", f"/v1/orders/{client_order_id}", s.OrderLookup, auth="key", idempotent=True
        )

    async def positions(
        self,
        status: str = "open",
        market: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> s.PositionPage:
        """This account's positions."""
        return await self._call(
            "GET",
            "/v1/positions",
            s.PositionPage,
            auth="key",
            params={"status": status, "market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def position(self, position_id: int) -> s.PositionView:
        """One of this account's positions."""
        return await self._call(
            "GET", f"/v1/positions/{position_id}", s.PositionView, auth="key", idempotent=True
        )

    async def close_position(
        self,
        position_id: int,
        notional: str | None = None,
        min_avg_price: str | None = None,
        client_order_id: str | None = None,
    ) -> s.CloseResult:
        """Close all or part of a position (idempotent through client_order_id)."""
        return await self._call(
            "POST",
            f"/v1/positions/{position_id}/close",
            s.CloseResult,
            auth="key",
            json=_drop_none(
                {
                    "notional": notional,
                    "min_avg_price": min_avg_price,
                    "client_order_id": client_order_id or new_client_order_id(),
                }
            ),
            idempotent=True,
        )

    async def add_margin(self, position_id: int, amount: str) -> s.AddMarginResult:
        """Move collateral into a position."""
        return await self._call(
            "POST",
            f"/v1/positions/{position_id}/margin",
            s.AddMarginResult,
            auth="key",
            json={"amount": amount},
        )

    async def trades(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.TradePage:
        """Public trades feed."""
        return await self._call(
            "GET",
            "/v1/feeds/trades",
            s.TradePage,
            auth="none",
            params={"market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def liquidations(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.LiquidationPage:
        """Public liquidations feed."""
        return await self._call(
            "GET",
            "/v1/feeds/liquidations",
            s.LiquidationPage,
            auth="none",
            params={"market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def resolutions(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> s.ResolutionPage:
        """Public resolutions feed."""
        return await self._call(
            "GET",
            "/v1/feeds/resolutions",
            s.ResolutionPage,
            auth="none",
            params={"market": market, "cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def insurance_fund(self) -> s.FundView:
        """Insurance fund balance and coverage."""
        return await self._call(
            "GET", "/v1/insurance-fund", s.FundView, auth="none", idempotent=True
        )

    async def fund_flows(self, cursor: str | None = None, limit: int = 100) -> s.FundFlowPage:
        """Every inflow to and draw from the insurance fund."""
        return await self._call(
            "GET",
            "/v1/insurance-fund/flows",
            s.FundFlowPage,
            auth="none",
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
        )

    async def admin_create_market(self, market: str, **fields: Any) -> s.AdminMarketResult:
        """Create a market (fields as in MarketCreate)."""
        return await self._call(
            "POST",
            "/v1/admin/markets",
            s.AdminMarketResult,
            auth="admin",
            json={"market": market, **fields},
        )

    async def admin_halt(self, market_id: str) -> s.AdminMarketResult:
        """Halt trading on a market."""
        return await self._call(
            "POST", f"/v1/admin/markets/{market_id}/halt", s.AdminMarketResult, auth="admin"
        )

    async def admin_resume(self, market_id: str) -> s.AdminMarketResult:
        """Resume a halted market."""
        return await self._call(
            "POST", f"/v1/admin/markets/{market_id}/resume", s.AdminMarketResult, auth="admin"
        )

    async def admin_resolve(self, market_id: str, outcome: str) -> s.AdminMarketResult:
        """Resolve a market: A, B or UNKNOWN."""
        return await self._call(
            "POST",
            f"/v1/admin/markets/{market_id}/resolve",
            s.AdminMarketResult,
            auth="admin",
            json={"outcome": outcome},
        )

    async def admin_void(self, market_id: str) -> s.AdminMarketResult:
        """Void a market (margins returned)."""
        return await self._call(
            "POST", f"/v1/admin/markets/{market_id}/void", s.AdminMarketResult, auth="admin"
        )

    async def admin_params(self) -> s.ParamsView:
        """Parameters in force."""
        return await self._call(
            "GET", "/v1/admin/params", s.ParamsView, auth="admin", idempotent=True
        )

    async def admin_set_params(self, params: dict[str, str | int | bool]) -> s.ParamsView:
        """Override parameters."""
        return await self._call(
            "POST", "/v1/admin/params", s.ParamsView, auth="admin", json={"params": params}
        )

    async def admin_advance_clock(self, seconds: int) -> s.ClockView:
        """Advance the simulated clock."""
        return await self._call(
            "POST", "/v1/admin/clock", s.ClockView, auth="admin", json={"seconds": seconds}
        )


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
