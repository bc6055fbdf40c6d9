"""Public market data: markets, prices, quotes, and the public feeds."""

from __future__ import annotations

from prophex.sdk import models as m
from prophex.sdk.transport import Call, Money, Transport, money, paged, read


class MarketEndpoints(Transport):
    """Markets, their price history, and quotes."""

    async def markets(
        self,
        status: str | None = None,
        cluster: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.MarketPage:
        """Markets, filtered by status and cluster."""
        params = paged(cursor, limit, status=status, cluster=cluster)
        return await self.send(read("/v1/markets", m.MarketPage, "none", params))

    async def market(self, market_id: str) -> m.Market:
        """One market: odds, OI, caps, volume (a resolved market's price is its settlement
        price on servers implementing issue 12)."""
        return await self.send(read(f"/v1/markets/{market_id}", m.Market, "none"))

    async def prices(
        self, market_id: str, cursor: str | None = None, limit: int = 100
    ) -> m.PriceHistory:
        """Spot after each block that moved it (kept after resolution)."""
        path = f"/v1/markets/{market_id}/prices"
        return await self.send(read(path, m.PriceHistory, "none", paged(cursor, limit)))

    async def quote(self, market: str, side: str, margin: Money, leverage: Money) -> m.Quote:
        """Price an order without changing anything."""
        body = {
            "market": market,
            "side": side,
            "margin": money(margin),
            "leverage": money(leverage),
        }
        return await self.send(Call("POST", "/v1/quote", m.Quote, "key", body, safe=True))


class FeedEndpoints(Transport):
    """The public feeds: trades, liquidations, resolutions, the insurance fund."""

    async def trades(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> m.TradePage:
        """Public trades feed."""
        params = paged(cursor, limit, market=market)
        return await self.send(read("/v1/feeds/trades", m.TradePage, "none", params))

    async def liquidations(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> m.LiquidationPage:
        """Public liquidations feed."""
        params = paged(cursor, limit, market=market)
        return await self.send(read("/v1/feeds/liquidations", m.LiquidationPage, "none", params))

    async def resolutions(
        self, market: str | None = None, cursor: str | None = None, limit: int = 100
    ) -> m.ResolutionPage:
        """Public resolutions feed."""
        params = paged(cursor, limit, market=market)
        return await self.send(read("/v1/feeds/resolutions", m.ResolutionPage, "none", params))

    async def insurance_fund(self) -> m.Fund:
        """Insurance fund balance and coverage."""
        return await self.send(read("/v1/insurance-fund", m.Fund, "none"))

    async def fund_flows(self, cursor: str | None = None, limit: int = 100) -> m.FundFlowPage:
        """Every inflow to and draw from the insurance fund."""
        params = paged(cursor, limit)
        return await self.send(read("/v1/insurance-fund/flows", m.FundFlowPage, "none", params))
