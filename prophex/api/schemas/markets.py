"""Markets, their caps and price history."""

from __future__ import annotations

from pydantic import BaseModel, Field

from prophex.api.schemas.base import PriceOut, UsdOut


class CapsView(BaseModel):
    wallet_cap: UsdOut = Field(description="per-wallet real notional cap, scaled by the fund")
    market_cap: UsdOut
    market_used: UsdOut
    market_headroom: UsdOut


class MarketView(BaseModel):
    id: str
    kind: str
    status: str
    outcome: str | None
    question: str
    tags: dict[str, str]
    funding: bool
    price_a: PriceOut
    price_b: PriceOut
    virtual_oi: UsdOut
    real_oi_a: UsdOut
    real_oi_b: UsdOut
    oi_a: UsdOut
    oi_b: UsdOut
    volume: UsdOut
    bad_debt: UsdOut
    caps: CapsView
    created_at: int
    settlement_price_a: PriceOut | None = Field(
        description="what one contract on A paid at resolution (1, 0 or 0.5); null until then"
    )


class MarketPage(BaseModel):
    items: list[MarketView]
    next_cursor: str | None


class PricePoint(BaseModel):
    block: int
    txn_seq: int
    time: int
    price_a: PriceOut
    price_b: PriceOut
    oi_a: UsdOut
    oi_b: UsdOut


class PriceHistory(BaseModel):
    market: str
    status: str
    outcome: str | None
    semantics: str
    items: list[PricePoint]
    next_cursor: str | None
