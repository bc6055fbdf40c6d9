"""Request and response models of the portfolio-mode routes (prophex/api/routers/portfolio.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from prophex.api import schemas as s


class MarginModeRequest(s.Request):
    mode: Literal["isolated", "portfolio"]


class MarginModeResult(BaseModel):
    account: str
    mode: str
    command_seq: int


class ClusterView(BaseModel):
    cluster: str
    gross: s.UsdOut
    es: s.UsdOut
    es_se: s.UsdOut


class MarginBreakdown(BaseModel):
    account: str
    mode: str
    positions: int
    epoch: int
    paths: int
    full_collateral: s.UsdOut
    clusters: list[ClusterView]
    sum_es: s.UsdOut
    base_joint: s.UsdOut = Field(description="joint Monte-Carlo ES of the book (used)")
    base_joint_se: s.UsdOut
    base_sqrt: s.UsdOut = Field(description="square-root rule over the LCA matrix (reported)")
    floor_top2: s.UsdOut
    min_margin: s.UsdOut
    addons: dict[str, s.UsdOut]
    binding: str
    requirement: s.UsdOut = Field(description="ceil(PM) at the current marks and epoch")
    requirement_se: s.UsdOut
    locked: s.UsdOut = Field(description="balance of pm_margin:<account>")
    last_requirement: s.UsdOut = Field(description="requirement locked at the last order")
    wallet: s.UsdOut
    unrealized_loss: s.UsdOut = Field(description="sum of (cost - value at mark), exact")
    equity: s.UsdOut
    distance_to_liquidation: s.UsdOut = Field(description="locked - unrealised loss")


class PortfolioQuoteRequest(s.Request):
    market: s.Name
    side: s.Side
    notional: s.Usd


class PortfolioQuote(BaseModel):
    market: str
    side: s.Side
    notional: s.UsdOut
    fee: s.UsdOut
    cost: s.UsdOut
    average_price: s.PriceOut
    requirement_before: s.UsdOut = Field(description="requirement locked now")
    requirement_after: s.UsdOut = Field(description="requirement after this order")
    lock_change: s.UsdOut = Field(description="moved from (+) or back to (-) the wallet")
    balance_required: s.UsdOut = Field(description="fee plus any rise of the lock")
    balance_available: s.UsdOut
    accepted: bool
    rejection: s.QuoteRejection | None


class PortfolioOrderRequest(PortfolioQuoteRequest):
    max_avg_price: s.Price | None = None
    client_order_id: s.Name | None = None


class PortfolioOrderResult(BaseModel):
    command_seq: int
    order_id: str = Field(description="o-<command_seq>: the order in GET /v1/orders and fills")
    duplicate: bool
    position_id: int
    notional: s.UsdOut
    cost: s.UsdOut
    fee: s.UsdOut
    requirement: s.UsdOut
    locked: s.UsdOut
    liquidations: int = Field(description="liquidations (isolated or account) this order caused")
