"""Request and response models (pydantic v2). Money and prices travel as decimal strings.

Requests and responses are separate models on purpose: a request states what a client may
send (strict patterns, unknown fields refused), a response states what it will always get.
Amounts are USD with at most six decimals (``"1500.25"``); prices have exactly six decimals
in responses (``"0.512345"``). Floats are never accepted for money.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

_FRACTION_NONZERO = (
    "(?:[1-9][0-9]{0,5}|0[1-9][0-9]{0,4}|00[1-9][0-9]{0,3}|000[1-9][0-9]{0,2}|0000[1-9][0-9]?"
    "|00000[1-9])"
)
USD_PATTERN = (
    r"^(?:[1-9][0-9]{0,8}(\.[0-9]{1,6})?|0\." + _FRACTION_NONZERO + r"|1000000000(\.0{1,6})?)$"
)
"""A positive USD amount, at most 1,000,000,000 (the engine's ``MAX_AMOUNT``), at most six
decimals, no leading zeros: exactly the amounts every request field accepts."""
PRICE_PATTERN = r"^0?\.[0-9]{1,6}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

Usd = Annotated[
    str,
    Field(
        pattern=USD_PATTERN,
        description="USD as a decimal string, at most 6 decimals",
        examples=["100.5"],
    ),
]
Price = Annotated[
    str,
    Field(
        pattern=PRICE_PATTERN, description="price in (0, 1) as a decimal string", examples=["0.55"]
    ),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN, examples=["btc-100k-2026"])]
Leverage = Annotated[
    str,
    Field(
        pattern=r"^[1-9][0-9]{0,2}(\.[0-9]{1,2})?$",
        description='leverage, e.g. "3" or "2.5"',
        examples=["3"],
    ),
]
Side = Literal["A", "B"]
Cursor = Annotated[
    str | None, Field(description="opaque cursor from a previous page's next_cursor")
]
UsdOut = Annotated[
    str, Field(description="USD decimal string (may be negative)", examples=["12.5"])
]
PriceOut = Annotated[str, Field(description="price with 6 decimals", examples=["0.500000"])]


class Request(BaseModel):
    """Strict: unknown fields refused, and no coercion (``0`` is not ``false``, ``"1"`` is
    not ``1``), so the OpenAPI types are exactly what the server accepts."""

    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- problems


class Problem(BaseModel):
    """RFC 9457 problem details plus the stable ``code`` and the failing check's figures."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str


# ---------------------------------------------------------------- accounts and keys


class AccountCreate(Request):
    label: Annotated[str, Field(max_length=64)] = ""


class AccountCreated(BaseModel):
    account: str
    api_key: str = Field(description="shown once; only its hash is stored")
    key_id: str
    label: str
    created_at: int = Field(description="wall clock, Unix seconds")
    scopes: list[Scope] = Field(description="the first key holds every scope")


Scope = Literal["read", "trade", "withdraw"]


def _default_scopes() -> list[Scope]:
    return ["read", "trade"]


class KeyCreate(Request):
    label: Annotated[str, Field(max_length=64)] = ""
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)] = Field(
        default_factory=_default_scopes,
        description="what the key may do; at most the scopes of the key creating it",
    )


class KeyCreated(BaseModel):
    key_id: str
    api_key: str
    label: str
    created_at: int = Field(description="wall clock, Unix seconds")
    scopes: list[Scope]


class KeyInfo(BaseModel):
    key_id: str
    label: str
    created_at: int = Field(description="wall clock, Unix seconds")
    revoked_at: int | None
    scopes: list[Scope]


class KeyList(BaseModel):
    items: list[KeyInfo]


class AmountRequest(Request):
    amount: Usd


class BalanceChange(BaseModel):
    account: str
    wallet_balance: UsdOut
    command_seq: int
    txn_seq: int
    sim_time: int
    wall_time: str


class AccountView(BaseModel):
    account: str
    margin_mode: Literal["isolated", "portfolio"]
    wallet_balance: UsdOut = Field(description="free collateral")
    margin_locked: UsdOut = Field(description="position margins plus the portfolio lock")
    position_value: UsdOut = Field(description="value at mark of open positions")
    unrealized_pnl: UsdOut
    equity: UsdOut = Field(description="wallet + margin locked + unrealized PnL")
    open_positions: int


# ---------------------------------------------------------------- markets


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


# ---------------------------------------------------------------- quotes and orders


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


# ---------------------------------------------------------------- history and feeds


class LedgerEntry(BaseModel):
    txn_seq: int
    idx: int
    time: int = Field(description="simulated time (same as sim_time)")
    sim_time: int
    kind: str
    market: str | None
    ledger_account: str
    amount: UsdOut
    command_seq: int
    order_id: str | None = Field(description="the order that caused it (opens and closes)")
    client_order_id: str | None


class LedgerPage(BaseModel):
    items: list[LedgerEntry]
    next_cursor: str | None


class Settlement(BaseModel):
    txn_seq: int
    time: int
    kind: Literal["resolve", "void"]
    market: str
    outcome: str | None
    position_id: int
    payout: UsdOut
    pnl: UsdOut
    haircut: UsdOut
    bad_debt: UsdOut


class SettlementPage(BaseModel):
    items: list[Settlement]
    next_cursor: str | None


class Trade(BaseModel):
    txn_seq: int
    time: int = Field(description="simulated time (same as sim_time)")
    sim_time: int
    order_id: str | None = Field(description="o-<command_seq> of the order that traded")
    market: str
    action: Literal["open", "close"]
    side: str
    notional: UsdOut
    average_price: PriceOut
    fee: UsdOut
    price_a: PriceOut
    price_b: PriceOut


class TradePage(BaseModel):
    items: list[Trade]
    next_cursor: str | None


class LiquidationPage(BaseModel):
    items: list[LiquidationEvent]
    next_cursor: str | None


class Resolution(BaseModel):
    txn_seq: int
    time: int
    market: str
    kind: Literal["resolve", "void"]
    outcome: str | None
    positions_settled: int
    owed_to_winners: UsdOut
    fund_draw: UsdOut
    haircut_total: UsdOut
    bad_debt: UsdOut
    surplus_to_fund: UsdOut


class ResolutionPage(BaseModel):
    items: list[Resolution]
    next_cursor: str | None


class FundView(BaseModel):
    balance: UsdOut
    seed: UsdOut
    coverage_ratio: str = Field(description="balance / seed: the factor caps scale with")
    open_interest: UsdOut = Field(description="real open interest of all markets")
    fund_to_open_interest: str | None = Field(description="balance / open interest")
    bad_debt_total: UsdOut
    cap_multiplier: str


class FundFlow(BaseModel):
    txn_seq: int
    time: int
    kind: str
    market: str | None
    direction: Literal["inflow", "draw"]
    amount: UsdOut


class FundFlowPage(BaseModel):
    items: list[FundFlow]
    next_cursor: str | None


# ---------------------------------------------------------------- admin


class MarketCreate(Request):
    market: Name
    kind: Literal["prediction", "perpetual"] = "prediction"
    question: Annotated[str, Field(max_length=200)] = ""
    cluster: Annotated[str, Field(max_length=200)] = ""
    underlying: Annotated[str, Field(max_length=200)] = ""
    contract_kind: Annotated[str, Field(max_length=200)] = "independent"
    strike: Annotated[str, Field(max_length=200)] = ""
    direction: Annotated[str, Field(max_length=200)] = ""
    group: Annotated[str, Field(max_length=200)] = ""
    virtual_oi: Usd | None = None
    funding: bool | None = None
    wallet_cap: Usd | None = None
    market_oi_cap: Usd | None = None


class ResolveRequest(Request):
    outcome: Literal["A", "B", "UNKNOWN"]


Decimalish = Annotated[str, Field(pattern=r"^[0-9]{1,16}(\.[0-9]{1,6})?$")]


class ParamsOverrides(Request):
    """Protocol parameters in human units (USD and rates as decimal strings); omitted ones keep
    their current value. Validated as a whole by the engine."""

    profile: Literal["launch", "mature", "custom"] | None = None
    virtual_oi: Decimalish | None = None
    max_leverage: Decimalish | None = None
    wallet_cap: Decimalish | None = None
    market_oi_cap: Decimalish | None = None
    cap_max_multiplier: StrictInt | None = None
    cap_rule: Literal["fixed", "coverage"] | None = None
    if_seed: Decimalish | None = None
    fee_rate: Decimalish | None = None
    fee_to_if: Decimalish | None = None
    liq_penalty_to_if: Decimalish | None = None
    vault_surplus_to_if: bool | None = None
    funding_interval_seconds: StrictInt | None = None
    funding_k: Decimalish | None = None
    funding_max_rate: Decimalish | None = None
    min_notional: Decimalish | None = None


class ParamsRequest(Request):
    params: ParamsOverrides


class ParamsView(BaseModel):
    command_seq: int | None
    params: dict[str, Any]


class ClockRequest(Request):
    seconds: Annotated[StrictInt, Field(ge=1, le=366 * 86_400)]


class ClockView(BaseModel):
    command_seq: int
    time: int
    funding_payments: UsdOut


class AdminMarketResult(BaseModel):
    command_seq: int
    market: MarketView
    resolution: Resolution | None = None


class Health(BaseModel):
    status: Literal["ok"]
    command_seq: int
    block_height: int = Field(description="height of the last block stored in the database")
    time: int = Field(description="simulated clock (same as sim_time)")
    sim_time: int
    wall_time: str


class TimeView(BaseModel):
    sim_time: int = Field(description="simulated clock, seconds; drives funding and epochs")
    wall_time: str = Field(description="server wall clock, RFC 3339 UTC")
    block_height: int = Field(description="height of the last block stored in the database")
