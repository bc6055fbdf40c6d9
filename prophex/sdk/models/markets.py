"""Markets, their caps and price history."""

from __future__ import annotations

from decimal import Decimal

from prophex.sdk.models.base import Model


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
