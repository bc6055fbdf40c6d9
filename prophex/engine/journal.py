"""Typed, frozen events: one class per transaction kind, and the one journal codec.

Controllers build these; :func:`encode` turns an event into the transaction ``data`` dict that
the ledger stores, the chain hashes and the API maps (the canonical form, version
:data:`JOURNAL_VERSION`), and :func:`decode` turns it back, field by field. The field order is
the key order of the dict, so the canonical bytes are exactly what they were before the events
were typed. Events that share fields share a base class (a dataclass subclass appends its own
fields after its base's, which is the journal order), so each field list is written once.

The kind of each class and the journal keys that differ from attribute names live in the
module-level tables :data:`EVENT_KINDS` and :data:`RENAMES`, not in class constants: mypyc
compiles this module, and it would hand class-level constants to ``dataclasses`` as fields.
Parameter tables (``Genesis``, ``ParamsSet``) and the created market's row stay JSON objects
(:data:`~prophex.engine.domain.JsonObject`): they are ``Params`` and ``Market.to_row()`` as
JSON, typed where they are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

from prophex.engine.domain import JsonObject, MarginMode, MarketStatus, Outcome, Side

JOURNAL_VERSION = 1
"""Version of the transaction ``data`` layout; bump it with a migration when a field changes."""


# ---------------------------------------------------------------------- shared field lists


@dataclass(frozen=True, slots=True)
class _ParamsEvent:
    params: JsonObject


@dataclass(frozen=True, slots=True)
class _StatusChange:
    market: str
    status: MarketStatus


@dataclass(frozen=True, slots=True)
class _WalletMove:
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class _Fill:
    """The head of every fill and liquidation: whose position, where, which side, how much."""

    account: str
    market: str
    side: Side
    position: int
    notional: int


@dataclass(frozen=True, slots=True)
class _CloseFigures(_Fill):
    """What an isolated and a portfolio close both journal."""

    proceeds: int
    cost: int
    pnl: int
    fee: int
    fund_draw: int
    haircut: int
    bad_debt: int


# ---------------------------------------------------------------------- the events


@dataclass(frozen=True, slots=True)
class Genesis(_ParamsEvent):
    pass


@dataclass(frozen=True, slots=True)
class ParamsSet(_ParamsEvent):
    pass


@dataclass(frozen=True, slots=True)
class ClockAdvanced:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MarketCreated:
    market: JsonObject


@dataclass(frozen=True, slots=True)
class MarketHalted(_StatusChange):
    pass


@dataclass(frozen=True, slots=True)
class MarketResumed(_StatusChange):
    pass


@dataclass(frozen=True, slots=True)
class Deposited(_WalletMove):
    pass


@dataclass(frozen=True, slots=True)
class Withdrawn(_WalletMove):
    pass


@dataclass(frozen=True, slots=True)
class Opened(_Fill):
    cost: int
    margin: int
    fee: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class Closed(_CloseFigures):
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class MarginAdded:
    account: str
    position: int
    amount: int


@dataclass(frozen=True, slots=True)
class Liquidated(_Fill):
    cost_basis: int
    seized_margin: int
    mark_num: int
    mark_den: int
    exit_proceeds: int
    penalty_to_fund: int
    to_vault: int
    bad_debt: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class FundingPaid:
    market: str
    rate_ppm: int
    rate_num: int
    rate_den: int
    payer_side: Side
    amount: int


@dataclass(frozen=True, slots=True)
class Settled:
    """A resolution (``outcome`` A, B or UNKNOWN) or a void (``outcome`` None)."""

    market: str
    outcome: Outcome | None
    owed_to_winners: int
    vault_before_draw: int
    fund_draw: int
    haircut_total: int
    bad_debt: int
    surplus_to_fund: int
    settlements: dict[str, dict[str, int | str]]

    @property
    def kind(self) -> str:
        return "void" if self.outcome is None else "resolve"


@dataclass(frozen=True, slots=True)
class SettledBatch:
    """Several markets resolved at once, a fund shortfall shared across all their winners
    (:mod:`prophex.engine.controllers.batch_settlement`)."""

    markets: list[str]
    owed_to_winners: int
    total_shortfall: int
    fund_before: int
    pooled_surplus: int
    uncovered: int
    haircut_total: int
    loss_sharing: str
    fund_net_draw: int
    per_market: dict[str, dict[str, int | str]]


@dataclass(frozen=True, slots=True)
class MarginModeSet:
    """An account switched between isolated and portfolio margin (only while flat)."""

    account: str
    mode: MarginMode


@dataclass(frozen=True, slots=True)
class PortfolioOpened(_Fill):
    """A portfolio-mode open: the fill, and the lock moved to the book's new requirement."""

    cost: int
    fee: int
    requirement: int
    lock_change: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class PortfolioClosed(_CloseFigures):
    """A portfolio-mode close: realised PnL against the vault, and the lock re-set."""

    requirement: int
    lock_change: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class PortfolioLiquidated(_Fill):
    """One position of a liquidated portfolio account (one transaction per position)."""

    cost_basis: int
    exit_proceeds: int
    mark_num: int
    mark_den: int
    locked: int
    seized: int
    penalty_to_fund: int
    to_vault: int
    bad_debt: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class PortfolioRelocked:
    """A portfolio account's lock re-set after one of its markets settled."""

    account: str
    requirement: int
    locked: int


Event = (
    Genesis
    | ParamsSet
    | ClockAdvanced
    | MarketCreated
    | MarketHalted
    | MarketResumed
    | Deposited
    | Withdrawn
    | Opened
    | Closed
    | MarginAdded
    | Liquidated
    | FundingPaid
    | Settled
    | SettledBatch
    | MarginModeSet
    | PortfolioOpened
    | PortfolioClosed
    | PortfolioLiquidated
    | PortfolioRelocked
)

EVENT_KINDS: dict[type[Any], str] = {
    Genesis: "genesis",
    ParamsSet: "set_params",
    ClockAdvanced: "clock",
    MarketCreated: "create_market",
    MarketHalted: "halt",
    MarketResumed: "resume",
    Deposited: "deposit",
    Withdrawn: "withdraw",
    Opened: "open",
    Closed: "close",
    MarginAdded: "add_margin",
    Liquidated: "liquidation",
    FundingPaid: "funding",
    Settled: "resolve",  # or "void": see :func:`kind_of`
    SettledBatch: "resolve_batch",
    MarginModeSet: "margin_mode",
    PortfolioOpened: "pm_open",
    PortfolioClosed: "pm_close",
    PortfolioLiquidated: "pm_liquidation",
    PortfolioRelocked: "pm_lock",
}
"""Event class -> the transaction kind it is journalled as."""

RENAMES: dict[type[Any], dict[str, str]] = {ClockAdvanced: {"start": "from", "end": "to"}}
"""Per class, the journal keys that differ from attribute names (``from`` is a keyword)."""

EVENT_TYPES: dict[str, type[Any]] = {kind: cls for cls, kind in EVENT_KINDS.items()}
EVENT_TYPES["void"] = Settled
"""Transaction kind -> event class (the inverse of :data:`EVENT_KINDS`)."""


E = TypeVar("E")


def expect(event: Event, cls: type[E]) -> E:
    """``event`` as the class its transaction kind names (callers that selected rows by kind);
    anything else is a bug, so it raises."""
    if not isinstance(event, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(event).__name__}")
    return event


def kind_of(event: Event) -> str:
    """The transaction kind an event is journalled as."""
    return event.kind if isinstance(event, Settled) else EVENT_KINDS[type(event)]


def market_of(event: Event) -> str | None:
    """The market a transaction is filed under (the ledger's ``market`` column, the stream's
    channel): the ``market`` of every event about one market; None for the rest (a created
    market's row, a batch of markets, wallet, clock, parameter and account events)."""
    if isinstance(event, (_Fill, _StatusChange, FundingPaid, Settled)):
        return event.market
    return None


_LAYOUTS: dict[type[Any], tuple[tuple[str, str], ...]] = {}
"""Per event class, its (attribute, journal key) pairs in field order: computed once per class,
because ``dataclasses.fields`` per call was the largest single cost of a command."""


def _layout(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        renames = RENAMES.get(cls, {})
        layout = tuple((f.name, renames.get(f.name, f.name)) for f in fields(cls))
        _LAYOUTS[cls] = layout
    return layout


def encode(event: Event) -> dict[str, Any]:
    """The transaction ``data`` dict of ``event`` (canonical form, field order = key order).
    It is the JSON boundary of the engine (stored, hashed, streamed), hence a JSON dict."""
    return {key: getattr(event, name) for name, key in _layout(type(event))}


ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "side": Side,
    "payer_side": Side,
    "status": MarketStatus,
    "outcome": Outcome,
    "mode": MarginMode,
}
"""The event attributes typed by an enum of :mod:`prophex.engine.domain` (the same attribute
name has the same enum in every event class); :func:`decode` turns their JSON strings back into
members. ``encode`` needs no inverse step: a ``StrEnum`` member serialises as its value."""


def decode(kind: str, data: Mapping[str, Any]) -> Event:
    """The typed event of a journalled transaction ``data`` (e.g. read back from the stored
    canonical text): the exact inverse of :func:`encode`, enum fields turned back into members."""
    cls = EVENT_TYPES[kind]
    values: dict[str, Any] = {}
    for name, key in _layout(cls):
        value = data[key]
        enum = ENUM_FIELDS.get(name)
        values[name] = value if enum is None or value is None else enum(value)
    event: Event = cls(**values)
    return event
