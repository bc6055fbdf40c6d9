"""Commands: the only way to ask for a state change.

Two forms exist on purpose:

* the **canonical form** (these dataclasses, and :func:`to_dict` / :func:`from_dict`): integer
  micro-USD, leverage in hundredths, prices as exact fractions. It is what the engine executes
  and what the journal stores, so replay never re-parses human input.
* the **user form** (:func:`parse_user_command`): what people write in command files and send to
  the API: USD as decimal strings, leverage as ``3`` or ``"2.5"``, prices as ``"0.55"``. It is
  validated strictly and turned into the canonical form; every error names the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, Literal, TypeAlias

Side = Literal["A", "B"]
Outcome = Literal["A", "B", "UNKNOWN"]
MarketKind = Literal["prediction", "perpetual"]


@dataclass(frozen=True, slots=True)
class Genesis:
    """First command of every journal: fixes the parameters and seeds the insurance fund."""

    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreateMarket:
    market: str
    kind: MarketKind = "prediction"
    virtual_oi: int | None = None
    funding: bool | None = None
    question: str = ""
    cluster: str = ""
    underlying: str = ""
    contract_kind: str = "independent"
    strike: str = ""
    direction: str = ""
    group: str = ""
    wallet_cap: int | None = None
    market_oi_cap: int | None = None


@dataclass(frozen=True, slots=True)
class Deposit:
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class Open:
    account: str
    market: str
    side: Side
    margin: int
    leverage_centi: int
    max_avg_price: Fraction | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class OpenPortfolio:
    """A portfolio-mode open: a notional only; the account's requirement is locked instead."""

    account: str
    market: str
    side: Side
    notional: int
    max_avg_price: Fraction | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class SetMarginMode:
    """Switch an account between ``isolated`` and ``portfolio`` (only while it is flat)."""

    account: str
    mode: str


@dataclass(frozen=True, slots=True)
class Close:
    account: str
    position_id: int
    notional: int | None = None
    min_avg_price: Fraction | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class AddMargin:
    account: str
    position_id: int
    amount: int


@dataclass(frozen=True, slots=True)
class Halt:
    market: str


@dataclass(frozen=True, slots=True)
class Resume:
    market: str


@dataclass(frozen=True, slots=True)
class Resolve:
    market: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ResolveBatch:
    """Resolve several prediction markets at once, sharing a fund shortfall pro rata across
    all their winners (see :mod:`prophex.engine.controllers.batch_settlement`)."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    loss_sharing: str = "pro_rata"
    """How an uncovered shortfall is cut from winners: ``pro_rata`` or ``adl`` (ranked)."""


@dataclass(frozen=True, slots=True)
class Void:
    market: str


@dataclass(frozen=True, slots=True)
class AdvanceClock:
    seconds: int


@dataclass(frozen=True, slots=True)
class SetParams:
    """Overrides applied to the parameters in force (replay applies them to the same state)."""

    params: dict[str, Any] = field(default_factory=dict)


Command: TypeAlias = (
    Genesis
    | CreateMarket
    | Deposit
    | Withdraw
    | Open
    | Close
    | AddMargin
    | Halt
    | Resume
    | Resolve
    | ResolveBatch
    | Void
    | AdvanceClock
    | SetParams
    | OpenPortfolio
    | SetMarginMode
)

COMMAND_TYPES: dict[str, type[Any]] = {
    "genesis": Genesis,
    "create_market": CreateMarket,
    "deposit": Deposit,
    "withdraw": Withdraw,
    "open": Open,
    "close": Close,
    "add_margin": AddMargin,
    "halt": Halt,
    "resume": Resume,
    "resolve": Resolve,
    "resolve_batch": ResolveBatch,
    "void": Void,
    "advance_clock": AdvanceClock,
    "set_params": SetParams,
    "open_portfolio": OpenPortfolio,
    "set_margin_mode": SetMarginMode,
}
TYPE_NAMES: dict[type[Any], str] = {cls: name for name, cls in COMMAND_TYPES.items()}

_FRACTION_FIELDS = {"max_avg_price", "min_avg_price"}

MARKET_TAGS = ("question", "cluster", "underlying", "contract_kind", "strike", "direction", "group")
"""Descriptive market fields: shown to traders and used by portfolio margin, never by pricing."""


def command_type(command: Command) -> str:
    return TYPE_NAMES[type(command)]


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}
"""Field names per command class, computed once (``dataclasses.fields`` per call was a tenth of
the sequencer's per-command cost)."""


def to_dict(command: Command) -> dict[str, Any]:
    """Canonical, JSON-ready form (fractions as ``"num/den"``)."""
    cls = type(command)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(command))
    out: dict[str, Any] = {"type": TYPE_NAMES[cls]}
    for name in names:
        value = getattr(command, name)
        if isinstance(value, Fraction):
            value = f"{value.numerator}/{value.denominator}"
        out[name] = value
    return out


def from_dict(data: dict[str, Any]) -> Command:
    """Inverse of :func:`to_dict`; used by replay on journalled commands only."""
    body = dict(data)
    cls = COMMAND_TYPES[body.pop("type")]
    for name in _FRACTION_FIELDS & body.keys():
        if body[name] is not None:
            body[name] = Fraction(body[name])
    command: Command = cls(**body)
    return command


def parse_user_command(body: Any) -> Command:
    """Validate a user-form command (see :mod:`prophex.engine.user_form`) into canonical form."""
    from prophex.engine import user_form

    return user_form.parse_user_command(body)


def parse_leverage(value: Any, max_centi: int | None = None) -> int:
    """Leverage as hundredths (``"2.5"`` -> 250); see :mod:`prophex.engine.user_form`."""
    from prophex.engine import user_form

    return user_form.parse_leverage(value, max_centi)
