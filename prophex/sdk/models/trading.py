"""Quotes, orders, fills and positions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from prophex.sdk.models.base import Model, Side


class WalletCaps(Model):
    wallet_cap: Decimal
    wallet_used: Decimal
    wallet_headroom: Decimal
    market_cap: Decimal
    market_used: Decimal
    market_headroom: Decimal


class QuoteRejection(Model):
    code: str
    detail: str
    details: dict[str, Any]


class Quote(Model):
    market: str
    side: Side
    margin: Decimal
    leverage: Decimal
    notional: Decimal
    fee: Decimal
    cost: Decimal
    average_price: Decimal
    pre_trade_price: Decimal
    post_trade_price: Decimal
    liquidation_price: Decimal | None
    balance_required: Decimal
    balance_available: Decimal
    caps: WalletCaps
    accepted: bool
    rejection: QuoteRejection | None


class Liquidation(Model):
    """A liquidation, as in an order's ``liquidations`` and the public feed."""

    txn_seq: int
    time: int
    market: str
    side: str
    notional: Decimal
    seized_margin: Decimal
    mark_price: Decimal
    exit_proceeds: Decimal
    bad_debt: Decimal
    penalty_to_fund: Decimal
    price_a: Decimal
    price_b: Decimal


class Order(Model):
    """An accepted order, as answered by ``POST /v1/orders``, ``POST /v1/positions/{id}/close``,
    ``GET /v1/orders/{order_id}`` and ``GET /v1/orders/by-client-id/{client_order_id}``.

    The issue-12 fields (``order_id``, ``kind``, ``status``, ``txn_seq``, times) are None
    from an older server; the execution details an open (``cost``, ``price_a``...) or a close
    (``proceeds``, ``closed_notional``, ``remaining_notional``, ``haircut``) reports are None
    when the server does not send them. Any other field stays readable as an attribute."""

    client_order_id: str | None
    position_id: int
    average_price: Decimal
    fee: Decimal
    command_seq: int
    duplicate: bool = False
    liquidations: list[Liquidation] = []  # noqa: RUF012 (a pydantic field: copied per instance)
    order_id: str | None = None
    account: str | None = None
    market: str | None = None
    side: Side | None = None
    kind: Literal["open", "close"] | None = None
    status: str | None = None
    notional: Decimal | None = None
    margin: Decimal | None = None
    leverage: Decimal | None = None
    realized_pnl: Decimal | None = None
    txn_seq: int | None = None
    sim_time: int | None = None
    wall_time: str | None = None
    cost: Decimal | None = None
    price_a: Decimal | None = None
    price_b: Decimal | None = None
    proceeds: Decimal | None = None
    closed_notional: Decimal | None = None
    remaining_notional: Decimal | None = None
    haircut: Decimal | None = None


class OrderPage(Model):
    items: list[Order]
    next_cursor: str | None


class Fill(Model):
    """One execution of an order (``GET /v1/fills``, the private ``fill`` event)."""

    fill_id: str
    order_id: str
    client_order_id: str | None
    account: str
    market: str
    side: Side
    kind: Literal["open", "close"]
    notional: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal | None
    position_id: int
    txn_seq: int
    sim_time: int
    wall_time: str


class FillPage(Model):
    items: list[Fill]
    next_cursor: str | None


class AddMarginResult(Model):
    command_seq: int
    position_id: int
    margin: Decimal
    liquidation_price: Decimal | None


class Position(Model):
    id: int
    market: str
    side: Side
    status: str
    notional: Decimal
    cost_basis: Decimal
    entry_price: Decimal | None
    margin: Decimal
    effective_leverage: Decimal | None
    mark_price: Decimal
    value: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    realized_pnl: Decimal
    haircut: Decimal
    opened_at: int
    closed_at: int | None


class PositionPage(Model):
    items: list[Position]
    next_cursor: str | None
