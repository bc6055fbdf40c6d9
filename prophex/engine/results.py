"""Typed, frozen command results: one class per command kind, and the one result codec.

A controller returns one of these; :class:`~prophex.engine.events.Receipt` carries it to the
caller, and the API, CLI and reports read its fields by name (mypy checks them). The ledger
stores a result as JSON twice: in the command's receipt and, for an order with a
``client_order_id``, in ``client_orders`` so that a retry answers the stored result.
:func:`to_json` gives that JSON (field order = key order, exactly the dicts the controllers
returned before results were typed, so stored rows and API answers are unchanged) and
:func:`from_json` reads it back, knowing the command kind; layout version
:data:`RESULT_VERSION`. An optional field that is ``None`` is left out of the JSON (only a close
of a portfolio-mode position reports the account's requirement and lock).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from prophex.engine.domain import JsonObject, JsonValue, MarginMode, MarketStatus, Outcome

RESULT_VERSION = 1
"""Version of the result JSON layout; bump it with a migration when a field changes."""

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class GenesisResult:
    insurance_fund: int


@dataclass(frozen=True, slots=True)
class ParamsResult:
    """The parameters in force after ``set_params`` (``Params`` as JSON)."""

    params: JsonObject


@dataclass(frozen=True, slots=True)
class ClockResult:
    time: int
    funding_payments: int


@dataclass(frozen=True, slots=True)
class MarketResult:
    """A market was created."""

    market: str


@dataclass(frozen=True, slots=True)
class StatusResult:
    """A market was halted or resumed."""

    market: str
    status: MarketStatus


@dataclass(frozen=True, slots=True)
class BalanceResult:
    """A deposit or a withdrawal: the wallet balance after it."""

    balance: int


@dataclass(frozen=True, slots=True)
class OpenResult:
    """An isolated open: the fill, and the position after it."""

    position_id: int
    notional: int
    cost: int
    fee: int
    margin: int
    position_notional: int
    position_cost_basis: int
    position_margin: int


@dataclass(frozen=True, slots=True)
class PortfolioOpenResult:
    """A portfolio-mode open: the fill, the account's requirement and lock after it."""

    position_id: int
    notional: int
    cost: int
    fee: int
    requirement_before: int
    requirement: int
    locked: int
    position_notional: int
    position_cost_basis: int


@dataclass(frozen=True, slots=True)
class CloseResult:
    """A close; a close of a portfolio-mode position also reports the account's requirement
    and lock after it (``None`` for an isolated one)."""

    position_id: int
    closed_notional: int
    proceeds: int
    realized_pnl: int
    fee: int
    haircut: int
    remaining_notional: int
    requirement: int | None = None
    locked: int | None = None


@dataclass(frozen=True, slots=True)
class MarginResult:
    """Margin added to an isolated position: its margin after it."""

    position_id: int
    margin: int


@dataclass(frozen=True, slots=True)
class ModeResult:
    account: str
    mode: MarginMode


@dataclass(frozen=True, slots=True)
class SettleResult:
    """A resolution (``outcome`` A, B or UNKNOWN) or a void (``outcome`` None)."""

    market: str
    outcome: Outcome | None
    positions_settled: int
    owed_to_winners: int
    fund_draw: int
    haircut_total: int
    surplus_to_fund: int


@dataclass(frozen=True, slots=True)
class BatchMarketResult:
    """One market of a batch settlement."""

    outcome: Outcome
    owed_to_winners: int
    fund_draw: int
    haircut_total: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Several markets settled at once (:mod:`prophex.engine.controllers.batch_settlement`)."""

    markets: list[str]
    owed_to_winners: int
    total_shortfall: int
    fund_before: int
    pooled_surplus: int
    uncovered: int
    haircut_total: int
    loss_sharing: str
    fund_net_draw: int
    per_market: dict[str, BatchMarketResult]


Result = (
    GenesisResult
    | ParamsResult
    | ClockResult
    | MarketResult
    | StatusResult
    | BalanceResult
    | OpenResult
    | PortfolioOpenResult
    | CloseResult
    | MarginResult
    | ModeResult
    | SettleResult
    | BatchResult
)

OrderResult = OpenResult | PortfolioOpenResult | CloseResult
"""What an order (a command that may carry a ``client_order_id``) returns."""
ORDER_RESULTS = (OpenResult, PortfolioOpenResult, CloseResult)

RESULT_TYPES: dict[str, type[Result]] = {
    "genesis": GenesisResult,
    "set_params": ParamsResult,
    "advance_clock": ClockResult,
    "create_market": MarketResult,
    "halt": StatusResult,
    "resume": StatusResult,
    "deposit": BalanceResult,
    "withdraw": BalanceResult,
    "open": OpenResult,
    "open_portfolio": PortfolioOpenResult,
    "close": CloseResult,
    "add_margin": MarginResult,
    "set_margin_mode": ModeResult,
    "resolve": SettleResult,
    "void": SettleResult,
    "resolve_batch": BatchResult,
}
"""Command kind (``commands.TYPE_NAMES``) -> the class of its result."""

_CONVERT: dict[tuple[type[Any], str], Any] = {
    (StatusResult, "status"): MarketStatus,
    (ModeResult, "mode"): MarginMode,
    (SettleResult, "outcome"): lambda v: None if v is None else Outcome(v),
    (BatchMarketResult, "outcome"): Outcome,
    (BatchResult, "per_market"): lambda v: {k: _build(BatchMarketResult, m) for k, m in v.items()},
    (BatchResult, "markets"): list,
    (ParamsResult, "params"): dict,
}
"""The fields :func:`from_json` converts back from plain JSON (enums, nested results)."""


_LAYOUTS: dict[type[Any], tuple[tuple[str, bool], ...]] = {}
"""Per result class, its (field, optional) pairs in field order, computed once (the ledger
encodes a result per command)."""


def _layout(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        layout = _LAYOUTS[cls] = tuple((f.name, f.default is None) for f in fields(cls))
    return layout


def to_json(result: Result | BatchMarketResult) -> dict[str, JsonValue]:
    """The JSON object of ``result`` (field order = key order; ``None`` optionals left out)."""
    out: dict[str, JsonValue] = {}
    for name, optional in _layout(type(result)):
        value = getattr(result, name)
        if value is None and optional:
            continue
        if name == "per_market":
            value = {k: to_json(v) for k, v in value.items()}
        out[name] = value
    return out


def _build(cls: type[Any], data: Mapping[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue  # an optional field left out (its default applies)
        convert = _CONVERT.get((cls, f.name))
        value = data[f.name]
        values[f.name] = value if convert is None else convert(value)
    return cls(**values)


def from_json(command_kind: str, data: Mapping[str, Any]) -> Result:
    """The typed result of a ``command_kind`` command from its JSON (inverse of :func:`to_json`;
    unknown keys, such as the ``command_seq`` stored beside an order's result, are ignored)."""
    result: Result = _build(RESULT_TYPES[command_kind], data)
    return result


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An executed order kept for ``client_order_id`` retries: the command's fingerprint (its
    canonical JSON), its sequence number and its result."""

    fingerprint: str
    command_seq: int
    result: OrderResult

    def to_json(self) -> dict[str, JsonValue]:
        """The ``client_orders.result`` JSON: the result plus its ``command_seq``."""
        return {**to_json(self.result), "command_seq": self.command_seq}

    @classmethod
    def from_json(cls, fingerprint: str, command_kind: str, data: Mapping[str, Any]) -> StoredOrder:
        result = from_json(command_kind, data)
        if not isinstance(result, ORDER_RESULTS):
            raise ValueError(f"{command_kind} is not an order")
        return cls(fingerprint, int(data["command_seq"]), result)


def expect(result: Result, cls: type[R]) -> R:
    """``result`` as the result class its command kind returns (callers that submitted one
    known command kind); anything else is a bug, so it raises."""
    if not isinstance(result, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(result).__name__}")
    return result
