"""Typed answers of the Prophex-sim API, owned by the SDK (it imports nothing from the server).

Money and prices arrive as decimal strings and are parsed into :class:`decimal.Decimal`
(never ``float``); integers (sequence numbers, ids, times) stay ``int``. Every model accepts
fields it does not know yet (``extra="allow"``), so a newer server never breaks an older bot:
unknown fields are kept and readable as attributes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Side = Literal["A", "B"]


class Model(BaseModel):
    """Base of every answer: unknown fields kept, instances immutable."""

    model_config = ConfigDict(extra="allow", frozen=True)


# ---------------------------------------------------------------- service


class Health(Model):
    """``GET /v1/health``."""

    status: str
    command_seq: int
    block_height: int
    time: int


class ServerTime(Model):
    """``GET /v1/time``: the simulated clock (drives funding and epochs) and the wall clock."""

    sim_time: int
    wall_time: str
    block_height: int


# ---------------------------------------------------------------- accounts and keys


class AccountCreated(Model):
    account: str
    api_key: str
    key_id: str
    label: str
    created_at: int


class KeyCreated(Model):
    key_id: str
    api_key: str
    label: str
    created_at: int
    scopes: list[str] | None = None


class KeyInfo(Model):
    key_id: str
    label: str
    created_at: int
    revoked_at: int | None
    scopes: list[str] | None = None


class KeyList(Model):
    items: list[KeyInfo]


class BalanceChange(Model):
    account: str
    wallet_balance: Decimal
    command_seq: int


class AccountView(Model):
    account: str
    margin_mode: str
    wallet_balance: Decimal
    margin_locked: Decimal
    position_value: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    open_positions: int


# ---------------------------------------------------------------- markets


class Caps(Model):
    wallet_cap: Decimal
    market_cap: Decimal
    market_used: Decimal
    market_headroom: Decimal


class Market(Model):
    id: str
    kind: str
    status: str
    outcome: str | None
    question: str
    tags: dict[str, str]
    funding: bool
    price_a: Decimal
    price_b: Decimal
    virtual_oi: Decimal
    real_oi_a: Decimal
    real_oi_b: Decimal
    oi_a: Decimal
    oi_b: Decimal
    volume: Decimal
    bad_debt: Decimal
    caps: Caps
    created_at: int
    settlement_price_a: Decimal | None = None


class MarketPage(Model):
    items: list[Market]
    next_cursor: str | None


class PricePoint(Model):
    block: int
    txn_seq: int
    time: int
    price_a: Decimal
    price_b: Decimal
    oi_a: Decimal
    oi_b: Decimal


class PriceHistory(Model):
    market: str
    status: str
    outcome: str | None
    semantics: str
    items: list[PricePoint]
    next_cursor: str | None


# ---------------------------------------------------------------- quotes, orders, fills


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
    liquidations: list[Liquidation] = []
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


# ---------------------------------------------------------------- history and feeds


class LedgerEntry(Model):
    """One posting to the wallet or a position margin account. ``order_id`` and
    ``client_order_id`` name the order that caused it (None for deposits, settlements...)."""

    txn_seq: int
    idx: int
    time: int
    kind: str
    market: str | None
    ledger_account: str
    amount: Decimal
    order_id: str | None = None
    client_order_id: str | None = None


class LedgerPage(Model):
    items: list[LedgerEntry]
    next_cursor: str | None


class Settlement(Model):
    txn_seq: int
    time: int
    kind: str
    market: str
    outcome: str | None
    position_id: int
    payout: Decimal
    pnl: Decimal
    haircut: Decimal
    bad_debt: Decimal


class SettlementPage(Model):
    items: list[Settlement]
    next_cursor: str | None


class Trade(Model):
    txn_seq: int
    time: int
    market: str
    action: Literal["open", "close"]
    side: str
    notional: Decimal
    average_price: Decimal
    fee: Decimal
    price_a: Decimal
    price_b: Decimal


class TradePage(Model):
    items: list[Trade]
    next_cursor: str | None


class LiquidationPage(Model):
    items: list[Liquidation]
    next_cursor: str | None


class Resolution(Model):
    txn_seq: int
    time: int
    market: str
    kind: str
    outcome: str | None
    positions_settled: int
    owed_to_winners: Decimal
    fund_draw: Decimal
    haircut_total: Decimal
    bad_debt: Decimal
    surplus_to_fund: Decimal


class ResolutionPage(Model):
    items: list[Resolution]
    next_cursor: str | None


class Fund(Model):
    balance: Decimal
    seed: Decimal
    coverage_ratio: Decimal
    open_interest: Decimal
    fund_to_open_interest: Decimal | None
    bad_debt_total: Decimal
    cap_multiplier: Decimal


class FundFlow(Model):
    txn_seq: int
    time: int
    kind: str
    market: str | None
    direction: Literal["inflow", "draw"]
    amount: Decimal


class FundFlowPage(Model):
    items: list[FundFlow]
    next_cursor: str | None


# ---------------------------------------------------------------- admin


class Params(Model):
    command_seq: int | None
    params: dict[str, Any]


class Clock(Model):
    command_seq: int
    time: int
    funding_payments: Decimal


class AdminMarketResult(Model):
    command_seq: int
    market: Market
    resolution: Resolution | None = None


# ---------------------------------------------------------------- portfolio-mode accounts


class MarginModeResult(Model):
    """``POST /v1/account/margin-mode``."""

    account: str
    mode: str
    command_seq: int


class ClusterMargin(Model):
    """One cluster of :class:`MarginBreakdown`: gross exposure and expected shortfall."""

    cluster: str
    gross: Decimal
    es: Decimal
    es_se: Decimal


class MarginBreakdown(Model):
    """``GET /v1/account/margin``: the portfolio-margin waterfall of the account's book
    (``requirement`` is the one in force at current marks; ``locked`` what is held)."""

    account: str
    mode: str
    positions: int
    epoch: int
    paths: int
    full_collateral: Decimal
    clusters: list[ClusterMargin]
    sum_es: Decimal
    base_joint: Decimal
    base_joint_se: Decimal
    base_sqrt: Decimal
    floor_top2: Decimal
    min_margin: Decimal
    addons: dict[str, Decimal]
    binding: str
    requirement: Decimal
    requirement_se: Decimal
    locked: Decimal
    last_requirement: Decimal
    wallet: Decimal
    unrealized_loss: Decimal
    equity: Decimal
    distance_to_liquidation: Decimal


class PortfolioQuote(Model):
    """``POST /v1/portfolio/quote``: the order's price and the requirement before/after it."""

    market: str
    side: Side
    notional: Decimal
    fee: Decimal
    cost: Decimal
    average_price: Decimal
    requirement_before: Decimal
    requirement_after: Decimal
    lock_change: Decimal
    balance_required: Decimal
    balance_available: Decimal
    accepted: bool
    rejection: QuoteRejection | None


class PortfolioOrder(Model):
    """``POST /v1/portfolio/orders``: the fill and the account's new requirement and lock
    (``liquidations`` is how many liquidations the order caused)."""

    command_seq: int
    order_id: str | None = None  # o-<command_seq> (None from servers before it was sent)
    duplicate: bool = False
    position_id: int
    notional: Decimal
    cost: Decimal
    fee: Decimal
    requirement: Decimal
    locked: Decimal
    liquidations: int
