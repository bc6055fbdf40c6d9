"""History and public feeds: ledger, settlements, trades, liquidations, resolutions, the fund."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from prophex.sdk.models.base import Model
from prophex.sdk.models.trading import Liquidation


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
