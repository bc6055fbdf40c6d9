"""Typed, frozen events: one class per transaction kind, and the one journal codec.

Controllers build these; :func:`encode` turns an event into the transaction ``data`` dict that
the ledger stores, the chain hashes and the API maps (the canonical form, version
:data:`JOURNAL_VERSION`), and :func:`decode` turns it back, field by field. The field order is
the key order of the dict, so the canonical bytes are exactly what they were before the events
were typed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

JOURNAL_VERSION = 1
"""Version of the transaction ``data`` layout; bump it with a migration when a field changes."""


@dataclass(frozen=True, slots=True)
class Genesis:
    KIND: ClassVar[str] = "genesis"
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParamsSet:
    KIND: ClassVar[str] = "set_params"
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClockAdvanced:
    KIND: ClassVar[str] = "clock"
    RENAMES: ClassVar[dict[str, str]] = {"start": "from", "end": "to"}
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MarketCreated:
    KIND: ClassVar[str] = "create_market"
    market: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MarketHalted:
    KIND: ClassVar[str] = "halt"
    market: str
    status: str


@dataclass(frozen=True, slots=True)
class MarketResumed:
    KIND: ClassVar[str] = "resume"
    market: str
    status: str


@dataclass(frozen=True, slots=True)
class Deposited:
    KIND: ClassVar[str] = "deposit"
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class Withdrawn:
    KIND: ClassVar[str] = "withdraw"
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class Opened:
    KIND: ClassVar[str] = "open"
    account: str
    market: str
    side: str
    position: int
    notional: int
    cost: int
    margin: int
    fee: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class Closed:
    KIND: ClassVar[str] = "close"
    account: str
    market: str
    side: str
    position: int
    notional: int
    proceeds: int
    cost: int
    pnl: int
    fee: int
    fund_draw: int
    haircut: int
    bad_debt: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class MarginAdded:
    KIND: ClassVar[str] = "add_margin"
    account: str
    position: int
    amount: int


@dataclass(frozen=True, slots=True)
class Liquidated:
    KIND: ClassVar[str] = "liquidation"
    account: str
    market: str
    side: str
    position: int
    notional: int
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
    KIND: ClassVar[str] = "funding"
    market: str
    rate_ppm: int
    rate_num: int
    rate_den: int
    payer_side: str
    amount: int


@dataclass(frozen=True, slots=True)
class Settled:
    """A resolution (``outcome`` A, B or UNKNOWN) or a void (``outcome`` None)."""

    KIND: ClassVar[str] = "resolve"
    market: str
    outcome: str | None
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

    KIND: ClassVar[str] = "resolve_batch"
    markets: list[str]
    owed_to_winners: int
    total_shortfall: int
    fund_before: int
    pooled_surplus: int
    uncovered: int
    haircut_total: int
    loss_sharing: str
    fund_net_draw: int
    per_market: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class MarginModeSet:
    """An account switched between isolated and portfolio margin (only while flat)."""

    KIND: ClassVar[str] = "margin_mode"
    account: str
    mode: str


@dataclass(frozen=True, slots=True)
class PortfolioOpened:
    """A portfolio-mode open: the fill, and the lock moved to the book's new requirement."""

    KIND: ClassVar[str] = "pm_open"
    account: str
    market: str
    side: str
    position: int
    notional: int
    cost: int
    fee: int
    requirement: int
    lock_change: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class PortfolioClosed:
    """A portfolio-mode close: realised PnL against the vault, and the lock re-set."""

    KIND: ClassVar[str] = "pm_close"
    account: str
    market: str
    side: str
    position: int
    notional: int
    proceeds: int
    cost: int
    pnl: int
    fee: int
    fund_draw: int
    haircut: int
    bad_debt: int
    requirement: int
    lock_change: int
    oi_a: int
    oi_b: int


@dataclass(frozen=True, slots=True)
class PortfolioLiquidated:
    """One position of a liquidated portfolio account (one transaction per position)."""

    KIND: ClassVar[str] = "pm_liquidation"
    account: str
    market: str
    side: str
    position: int
    notional: int
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

    KIND: ClassVar[str] = "pm_lock"
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

EVENT_TYPES: dict[str, type[Any]] = {
    cls.KIND: cls
    for cls in (
        Genesis,
        ParamsSet,
        ClockAdvanced,
        MarketCreated,
        MarketHalted,
        MarketResumed,
        Deposited,
        Withdrawn,
        Opened,
        Closed,
        MarginAdded,
        Liquidated,
        FundingPaid,
        Settled,
        SettledBatch,
        MarginModeSet,
        PortfolioOpened,
        PortfolioClosed,
        PortfolioLiquidated,
        PortfolioRelocked,
    )
}
EVENT_TYPES["void"] = Settled


def kind_of(event: Event) -> str:
    """The transaction kind an event is journalled as."""
    return event.kind if isinstance(event, Settled) else event.KIND


_LAYOUTS: dict[type[Any], tuple[tuple[str, str], ...]] = {}
"""Per event class, its (attribute, journal key) pairs in field order: computed once per class,
because ``dataclasses.fields`` per call was the largest single cost of a command."""


def _layout(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    renames: dict[str, str] = getattr(cls, "RENAMES", {})
    layout = tuple((f.name, renames.get(f.name, f.name)) for f in fields(cls))
    _LAYOUTS[cls] = layout
    return layout


def encode(event: Event) -> dict[str, Any]:
    """The transaction ``data`` dict of ``event`` (canonical form, field order = key order)."""
    layout = _LAYOUTS.get(type(event))
    if layout is None:
        layout = _layout(type(event))
    return {key: getattr(event, name) for name, key in layout}


def decode(kind: str, data: dict[str, Any]) -> Event:
    """The typed event of a journalled transaction (inverse of :func:`encode`)."""
    cls = EVENT_TYPES[kind]
    renames: dict[str, str] = getattr(cls, "RENAMES", {})
    event: Event = cls(**{f.name: data[renames.get(f.name, f.name)] for f in fields(cls)})
    return event
