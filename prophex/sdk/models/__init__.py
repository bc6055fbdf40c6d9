"""Typed answers of the Prophex-sim API, owned by the SDK (it imports nothing from the server).

Money and prices arrive as decimal strings and are parsed into :class:`decimal.Decimal`
(never ``float``); integers (sequence numbers, ids, times) stay ``int``. Every model accepts
fields it does not know yet (``extra="allow"``), so a newer server never breaks an older bot:
unknown fields are kept and readable as attributes.

One module per concept (``service``, ``accounts``, ``markets``, ``trading``, ``history``,
``admin``, ``portfolio``); every model is importable from here, ``MODULES`` lists them in
reference order (docs/sdk.md).
"""

from __future__ import annotations

from prophex.sdk.models import (
    accounts,
    admin,
    history,
    markets,
    portfolio,
    service,
    trading,
)
from prophex.sdk.models.accounts import (
    AccountCreated,
    AccountView,
    BalanceChange,
    KeyCreated,
    KeyInfo,
    KeyList,
)
from prophex.sdk.models.admin import AdminMarketResult, Clock, Params
from prophex.sdk.models.base import Model, Side
from prophex.sdk.models.history import (
    Fund,
    FundFlow,
    FundFlowPage,
    LedgerEntry,
    LedgerPage,
    LiquidationPage,
    Resolution,
    ResolutionPage,
    Settlement,
    SettlementPage,
    Trade,
    TradePage,
)
from prophex.sdk.models.markets import Caps, Market, MarketPage, PriceHistory, PricePoint
from prophex.sdk.models.portfolio import (
    ClusterMargin,
    MarginBreakdown,
    MarginModeResult,
    PortfolioOrder,
    PortfolioQuote,
)
from prophex.sdk.models.service import Health, ServerTime
from prophex.sdk.models.trading import (
    AddMarginResult,
    Fill,
    FillPage,
    Liquidation,
    Order,
    OrderPage,
    Position,
    PositionPage,
    Quote,
    QuoteRejection,
    WalletCaps,
)

MODULES = (service, accounts, markets, trading, history, admin, portfolio)
"""The model modules, in the order docs/sdk.md lists them."""

__all__ = [
    "MODULES",
    "AccountCreated",
    "AccountView",
    "AddMarginResult",
    "AdminMarketResult",
    "BalanceChange",
    "Caps",
    "Clock",
    "ClusterMargin",
    "Fill",
    "FillPage",
    "Fund",
    "FundFlow",
    "FundFlowPage",
    "Health",
    "KeyCreated",
    "KeyInfo",
    "KeyList",
    "LedgerEntry",
    "LedgerPage",
    "Liquidation",
    "LiquidationPage",
    "MarginBreakdown",
    "MarginModeResult",
    "Market",
    "MarketPage",
    "Model",
    "Order",
    "OrderPage",
    "Params",
    "PortfolioOrder",
    "PortfolioQuote",
    "Position",
    "PositionPage",
    "PriceHistory",
    "PricePoint",
    "Quote",
    "QuoteRejection",
    "Resolution",
    "ResolutionPage",
    "ServerTime",
    "Settlement",
    "SettlementPage",
    "Side",
    "Trade",
    "TradePage",
    "WalletCaps",
]
