"""Trading endpoints: orders, fills, positions, and portfolio-mode orders."""

from __future__ import annotations

from typing import Any

from prophex.sdk import models as m
from prophex.sdk.transport import Call, Money, Transport, money, paged, read


class TradingEndpoints(Transport):
    """Orders and closes (idempotent by ``client_order_id``), fills, positions,
    added margin, and portfolio-mode accounts."""

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
        return await self.send(read(f"/v1/orders/{order_id}", m.Order, "key"))

    async def order_by_client_id(self, client_order_id: str) -> m.Order:
        """``GET /v1/orders/by-client-id/{client_order_id}``: reconcile a lost answer."""
        path = f"/v1/orders/by-client-id/{client_order_id}"
        return await self.send(read(path, m.Order, "key"))

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
        params = paged(cursor, limit, market=market, status=status, since=since, until=until)
        return await self.send(read("/v1/orders", m.OrderPage, "key", params))

    async def fills(
        self,
        market: str | None = None,
        order_id: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.FillPage:
        """This account's fills, oldest first, filtered by market and order."""
        params = paged(cursor, limit, market=market, order_id=order_id)
        return await self.send(read("/v1/fills", m.FillPage, "key", params))

    # ------------------------------------------------------------ positions

    async def positions(
        self,
        status: str = "open",
        market: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.PositionPage:
        """This account's positions (``status``: open, closed, liquidated, settled, all)."""
        params = paged(cursor, limit, status=status, market=market)
        return await self.send(read("/v1/positions", m.PositionPage, "key", params))

    async def position(self, position_id: int) -> m.Position:
        """One of this account's positions."""
        return await self.send(read(f"/v1/positions/{position_id}", m.Position, "key"))

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
        return await self.send(read("/v1/account/margin", m.MarginBreakdown, "key"))

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
