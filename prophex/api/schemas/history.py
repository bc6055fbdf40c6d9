"""History and public feeds: ledger, settlements, trades, liquidations, resolutions, the fund."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from prophex.api.schemas.base import PriceOut, UsdOut
from prophex.api.schemas.trading import LiquidationEvent


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
