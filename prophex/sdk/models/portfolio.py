"""Portfolio-mode accounts: margin mode, the margin breakdown, quotes and orders."""

from __future__ import annotations

from decimal import Decimal

from prophex.sdk.models.base import Model, Side
from prophex.sdk.models.trading import QuoteRejection


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
