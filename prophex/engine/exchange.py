"""``Exchange.apply(command) -> Receipt``: the only place exchange state changes.

A small state machine: find the handler of the command's type, answer a retried client order
from its stored result (idempotency), run the handler inside a fresh receipt, and count the
command. The handlers live in :mod:`prophex.engine.controllers` by concept; each first checks
everything that can fail and computes a plan without touching state, and only then applies it,
so a rejected command (a typed :class:`~prophex.errors.ProphexError`) leaves the state exactly
as it was. Money moves only through :class:`~prophex.engine.events.Journal` postings, which the
state applies as one balanced transaction. After every change that moves a price, the market's
liquidation index is drained in a fixed order (highest liquidation price first, then lowest
position id), so a cascade is processed the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from prophex.engine.caps import CapHeadroom
from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    Command,
    CreateMarket,
    Deposit,
    Genesis,
    Halt,
    Open,
    OpenPortfolio,
    Resolve,
    ResolveBatch,
    Resume,
    SetMarginMode,
    SetParams,
    Void,
    Withdraw,
    command_type,
    to_dict,
)
from prophex.engine.controllers import (
    batch_settlement,
    markets,
    pm_risk,
    portfolio,
    settlement,
    system,
    trading,
    wallets,
)
from prophex.engine.controllers.system import MAX_FUNDING_INTERVALS_PER_COMMAND
from prophex.engine.controllers.trading import OpenPlan
from prophex.engine.core import Core
from prophex.engine.domain import OTHER
from prophex.engine.events import INSURANCE_FUND, Receipt, Transaction, vault_account
from prophex.engine.limits import check_command as check_limits
from prophex.engine.pickling import register_engine
from prophex.engine.results import ORDER_RESULTS, Result, StoredOrder
from prophex.engine.state import Market, Position, State, canonical_json
from prophex.errors import DuplicateClientOrderId, InvalidCommand, InvariantViolation
from prophex.params import Params, profile

Handler = Callable[[Core, Any], Result]

HANDLERS: dict[type[Any], Handler] = {
    Genesis: system.genesis,
    SetParams: system.set_params,
    AdvanceClock: system.advance_clock,
    CreateMarket: markets.create_market,
    Halt: markets.halt,
    Resume: markets.resume,
    Deposit: wallets.deposit,
    Withdraw: wallets.withdraw,
    Open: portfolio.route_open,
    Close: portfolio.route_close,
    AddMargin: portfolio.route_add_margin,
    OpenPortfolio: portfolio.open_portfolio,
    SetMarginMode: portfolio.set_margin_mode,
    Resolve: settlement.resolve,
    Void: settlement.void,
    ResolveBatch: batch_settlement.resolve_batch,
}
"""Command type -> controller function: the whole dispatch table."""

_ORDER_TYPES = (Open, Close, OpenPortfolio)


class Exchange:
    """The deterministic exchange engine. Construct with :meth:`create` for a fresh genesis."""

    def __init__(self, state: State | None = None) -> None:
        default = profile("launch")
        state = state if state is not None else State(params=default, rules=default.rules())
        self._core = Core(state)

    def __reduce__(self) -> tuple[type[Exchange], tuple[State]]:
        return Exchange, (self.state,)

    @property
    def state(self) -> State:
        return self._core.state

    @state.setter
    def state(self, state: State) -> None:
        self._core.state = state

    @classmethod
    def create(cls, params: Params | None = None) -> Exchange:
        exchange = cls()
        chosen = params if params is not None else profile("launch")
        exchange.apply(Genesis(params=chosen.model_dump(mode="json")))
        return exchange

    # ------------------------------------------------------------------ the state machine

    def apply(self, anything: object) -> Receipt:
        """Execute one command. Raises a ProphexError (and changes nothing) if it is rejected.

        Typed ``object``: what is not a command is refused ``INVALID_COMMAND`` on both builds
        (a compiled ``Command`` parameter would raise ``TypeError`` first; D117)."""
        handler = HANDLERS.get(type(anything))
        if handler is None:
            raise InvalidCommand(f"unknown command {type(anything).__name__}", field="type")
        command = cast(Command, anything)
        client_key = _client_key(command)
        state = self.state
        if client_key is not None and client_key in state.client_orders:
            return _idempotent_replay(state, command, client_key)
        check_limits(state, command)  # storage bounds (fail-stop writer), before any mutation
        transactions: list[Transaction] = []
        core = self._core
        core.transactions = transactions
        try:
            result = handler(core, command)
            if state.margin_modes:  # portfolio accounts: account-level liquidation pass
                pm_risk.risk_pass(core, transactions)
        finally:
            core.transactions = None
        state.command_seq += 1
        receipt = Receipt(state.command_seq, command_type(command), transactions, result)
        if client_key is not None:
            if not isinstance(result, ORDER_RESULTS):
                raise InvariantViolation(f"{receipt.kind} returned no order result")
            fingerprint = canonical_json(to_dict(command))
            state.client_orders[client_key] = StoredOrder(fingerprint, state.command_seq, result)
            state.dirty_client_orders.add(client_key)
        return receipt

    # ------------------------------------------------------------------ read-only queries

    def market(self, market_id: str) -> Market:
        return self._core.market(market_id)

    def own_position(self, account: str, position_id: int) -> Position:
        return self._core.own_position(account, position_id)

    def cap_headroom(self, account: str, market: Market) -> CapHeadroom:
        return self._core.cap_headroom(account, market)

    def plan_open(self, c: Open, *, enforce: bool = True) -> OpenPlan:
        """Validate an open and price it without changing state (quotes use
        ``enforce=False``: balance and caps are reported rather than enforced)."""
        return trading.plan_open(self._core, c, enforce=enforce)

    def plan_open_portfolio(
        self, c: OpenPortfolio, *, enforce: bool = True
    ) -> portfolio.PortfolioOpenPlan:
        """Validate a portfolio open and compute the requirement after it (quotes)."""
        return portfolio.plan_open_portfolio(self._core, c, enforce=enforce)

    def resolution_shortfall(self, market_id: str, outcome: str) -> dict[str, int]:
        """Exactly what resolving ``market_id`` to ``outcome`` (A or B) would cost right now:
        the totals of :func:`~prophex.engine.settlement.plan_settlement`, in O(1)."""
        if outcome not in OTHER:
            raise InvalidCommand("outcome must be 'A' or 'B'", field="outcome")
        market = self.market(market_id)
        vault = self.state.balance(vault_account(market_id))
        fund = self.state.balance(INSURANCE_FUND)
        return settlement.shortfall_preview(market, outcome, vault, fund).as_dict()

    def worst_case_shortfall(self, market: Market) -> int:
        return settlement.worst_case_shortfall(self._core, market)


def _client_key(command: Command) -> tuple[str, str] | None:
    if isinstance(command, _ORDER_TYPES) and command.client_order_id is not None:
        return command.account, command.client_order_id
    return None


def _idempotent_replay(state: State, command: Command, key: tuple[str, str]) -> Receipt:
    stored = state.client_orders[key]
    if stored.fingerprint != canonical_json(to_dict(command)):
        raise DuplicateClientOrderId(
            f"client_order_id {key[1]!r} was already used for a different request",
            client_order_id=key[1],
        )
    return Receipt(stored.command_seq, command_type(command), [], stored.result, duplicate=True)


register_engine()

__all__ = ["HANDLERS", "MAX_FUNDING_INTERVALS_PER_COMMAND", "OTHER", "Exchange", "OpenPlan"]
