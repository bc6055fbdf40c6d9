"""Quotes, orders, fills and positions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from prophex.api.schemas.base import Leverage, Name, Price, PriceOut, Request, Side, Usd, UsdOut


class QuoteRequest(Request):
    market: Name
    side: Side
    margin: Usd
    leverage: Leverage


class WalletCapsView(BaseModel):
    wallet_cap: UsdOut
    wallet_used: UsdOut
    wallet_headroom: UsdOut
    market_cap: UsdOut
    market_used: UsdOut
    market_headroom: UsdOut


class QuoteRejection(BaseModel):
    code: str
    detail: str
    details: dict[str, Any]


class Quote(BaseModel):
    market: str
    side: Side
    margin: UsdOut
    leverage: str
    notional: UsdOut
    fee: UsdOut
    cost: UsdOut
    average_price: PriceOut
    pre_trade_price: PriceOut
    post_trade_price: PriceOut
    liquidation_price: PriceOut | None = Field(
        description="of the resulting position (merged with an existing one on this side)"
    )
    balance_required: UsdOut = Field(description="margin plus opening fee")
    balance_available: UsdOut
    caps: WalletCapsView
    accepted: bool = Field(description="whether the order would pass every check right now")
    rejection: QuoteRejection | None


class OrderRequest(Request):
    market: Name
    side: Side
    margin: Usd
    leverage: Leverage
    max_avg_price: Price | None = Field(
        default=None, description="worst acceptable average price; breach rejects the order"
    )
    client_order_id: Name | None = Field(
        default=None, description="idempotency key: a retry returns the original result"
    )


class LiquidationEvent(BaseModel):
    txn_seq: int
    time: int = Field(description="simulated time (same as sim_time; kept for compatibility)")
    sim_time: int
    order_id: str | None = Field(
        description="the order whose trade triggered it; null when the clock (funding) did"
    )
    account: str = Field(description="the liquidated position's account")
    position_id: int
    market: str
    side: str
    notional: UsdOut
    seized_margin: UsdOut
    mark_price: PriceOut
    exit_proceeds: UsdOut
    bad_debt: UsdOut
    penalty_to_fund: UsdOut
    price_a: PriceOut
    price_b: PriceOut


class PositionSummary(BaseModel):
    notional: UsdOut
    cost_basis: UsdOut
    margin: UsdOut


class OrderResult(BaseModel):
    command_seq: int
    duplicate: bool = Field(description="true when this is the stored result of an earlier call")
    client_order_id: str | None
    market: str
    side: Side
    position_id: int
    notional: UsdOut
    cost: UsdOut
    average_price: PriceOut
    fee: UsdOut
    margin: UsdOut
    position: PositionSummary
    price_a: PriceOut | None = Field(description="spot after the order (null on a duplicate)")
    price_b: PriceOut | None
    liquidations: list[LiquidationEvent]


class Order(BaseModel):
    """An executed order (open or close). The vAMM fills every accepted order at once, so
    ``status`` is always ``filled`` and the order has exactly one fill."""

    order_id: str = Field(description="o-<command_seq>: stable, derived from the journal")
    client_order_id: str | None
    account: str
    market: str
    side: Side
    kind: Literal["open", "close"]
    status: Literal["filled"]
    notional: UsdOut = Field(description="opened notional, or closed notional for a close")
    margin: UsdOut | None = Field(description="margin posted (open); null for a close")
    leverage: str | None = Field(description="requested leverage (open); null for a close")
    average_price: PriceOut
    fee: UsdOut
    position_id: int
    realized_pnl: UsdOut | None = Field(description="PnL realised by a close; null for an open")
    cost: UsdOut | None = Field(description="open: notional x average price")
    proceeds: UsdOut | None = Field(description="close: what the exit paid before fees")
    haircut: UsdOut | None = Field(description="close: shortfall haircut applied")
    remaining_notional: UsdOut | None = Field(description="close: what is left open")
    closed_notional: UsdOut | None = Field(
        description="close: same as notional (kept for clients of the earlier close result)"
    )
    position: PositionSummary | None = Field(description="open: the position after the order")
    price_a: PriceOut = Field(description="spot of side A right after the order")
    price_b: PriceOut
    liquidations: list[LiquidationEvent] = Field(
        description="positions this order's price move liquidated, in journal order"
    )
    command_seq: int
    txn_seq: int = Field(description="the ledger transaction of the fill")
    sim_time: int = Field(description="simulated clock (seconds) when it executed")
    wall_time: str = Field(description="RFC 3339 UTC wall-clock time of the commit")
    duplicate: bool = Field(description="true when this is the stored result returned for a retry")


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None


class Fill(BaseModel):
    fill_id: str = Field(description="f-<txn_seq>")
    order_id: str
    client_order_id: str | None
    account: str
    market: str
    side: Side
    kind: Literal["open", "close"]
    notional: UsdOut
    price: PriceOut = Field(description="average fill price")
    fee: UsdOut
    realized_pnl: UsdOut | None
    position_id: int
    txn_seq: int
    sim_time: int
    wall_time: str


class FillPage(BaseModel):
    items: list[Fill]
    next_cursor: str | None


class CloseRequest(Request):
    notional: Usd | None = Field(default=None, description="partial close; omit to close all")
    min_avg_price: Price | None = Field(default=None, description="worst acceptable exit price")
    client_order_id: Name | None = None


class AddMarginResult(BaseModel):
    command_seq: int
    position_id: int
    margin: UsdOut
    liquidation_price: PriceOut | None
    sim_time: int
    wall_time: str


class PositionView(BaseModel):
    id: int
    market: str
    side: Side
    status: str
    notional: UsdOut
    cost_basis: UsdOut
    entry_price: PriceOut | None
    margin: UsdOut
    effective_leverage: str | None
    mark_price: PriceOut
    value: UsdOut
    unrealized_pnl: UsdOut
    liquidation_price: PriceOut | None
    realized_pnl: UsdOut
    haircut: UsdOut
    opened_at: int
    closed_at: int | None


class PositionPage(BaseModel):
    items: list[PositionView]
    next_cursor: str | None
