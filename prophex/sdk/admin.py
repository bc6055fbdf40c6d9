"""Admin endpoints (the admin key): markets, parameters, the simulated clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prophex.sdk import models as m
from prophex.sdk.transport import Call, Transport, money, read


class AdminEndpoints(Transport):
    """Market creation and status, parameters, the clock."""

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
        return await self.send(read("/v1/admin/params", m.Params, "admin"))

    async def admin_set_params(self, params: dict[str, str | int | bool]) -> m.Params:
        """Override parameters (human units, decimal strings)."""
        body = {"params": params}
        return await self.send(Call("POST", "/v1/admin/params", m.Params, "admin", body))

    async def admin_advance_clock(self, seconds: int) -> m.Clock:
        """Advance the simulated clock (drives funding)."""
        body = {"seconds": seconds}
        return await self.send(Call("POST", "/v1/admin/clock", m.Clock, "admin", body))
