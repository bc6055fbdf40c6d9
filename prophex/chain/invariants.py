"""The checks the sequencer runs on every block before writing it (fail-stop writer).

``check_block`` costs O(the accounts, positions and markets the block touched), not O(the whole
state): it uses the ``dirty_*`` sets the engine keeps for the store. Given an
:class:`OpenInterestLedger` (the sequencer keeps one), the real-OI invariant is checked
incrementally against the checker's own record of every open position's verified notional;
without one, each touched market's open positions are re-added (the full check).

A violated invariant is a bug, not a user error: it raises
:class:`~prophex.errors.InvariantViolation` and the sequencer stops writing. A stored integer
outside the storage bound (:data:`prophex.engine.limits.MAX_STORED`) raises
:class:`OutOfRange`, which the sequencer treats like a database data error: the block is
retried one command at a time so only the offending command is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import DataError, IntegrityError

from prophex.engine.events import EXTERNAL, position_account
from prophex.engine.limits import MAX_STORED, out_of_range
from prophex.engine.state import State
from prophex.errors import InvariantViolation
from prophex.ledger import schema

if TYPE_CHECKING:
    from prophex.ledger.store import BlockEntry

ACCOUNT_WIDTH: int = schema.balances.c.account.type.length  # type: ignore[attr-defined]
NAME_WIDTH: int = schema.positions.c.account.type.length  # type: ignore[attr-defined]
"""Widths of the identifier columns: ``balances.account`` and every other id column."""
MARKET_INTEGERS = ("virtual_oi", "real_oi_a", "real_oi_b", "volume", "bad_debt", "created_at")


class OutOfRange(ValueError):
    """A value of the block would not fit the storage bound."""


class OpenInterestLedger:
    """The checker's own record of open interest, kept apart from the engine's arithmetic.

    For every market it has verified it holds each open position's notional as of the last
    block that passed, and their sums per side. A block's touched positions move those sums by
    their notional deltas; every touched market (and the market of every touched position) must
    then show a real OI equal to the sums, so a wrong OI update, a notional changed without its
    OI, or an open position missing from ``open_in_market`` is caught at O(touched) cost.

    A market is adopted the first time a block touches it, by the full check (re-adding its open
    positions) - once per market per state. The record belongs to one ``State`` object: given
    another (the sequencer reloads a new one after any failed write), it starts over.
    """

    __slots__ = ("_state", "notional", "sums")

    def __init__(self) -> None:
        self._state: State | None = None
        self.notional: dict[int, int] = {}
        """Verified notional of each open position of an adopted market."""
        self.sums: dict[str, tuple[int, int]] = {}
        """Verified (side A, side B) open notional of each adopted market."""

    def bind(self, state: State) -> None:
        if self._state is not state:
            self._state = state
            self.notional = {}
            self.sums = {}

    def check(self, state: State) -> None:
        """Raise if a touched market's real OI is not its open notional. The record is updated
        only when the whole block passes."""
        self.bind(state)
        new_sums, new_notional, adopt, checked = self._deltas(state)
        self._verify(state, checked - adopt, new_sums)
        adopted: dict[str, tuple[int, int]] = {}
        adopted_notional: dict[int, int] = {}
        for market_id in adopt:
            real_a, real_b = _open_notional(state, market_id, adopted_notional)
            adopted[market_id] = (real_a, real_b)
        self._commit(new_sums, new_notional)
        self.sums.update(adopted)
        self.notional.update(adopted_notional)

    def _deltas(
        self, state: State
    ) -> tuple[dict[str, list[int]], dict[int, int], set[str], set[str]]:
        """The block's changes to the recorded sums: (new sums per market, new notional per
        position, markets to adopt with a full check, markets to check incrementally)."""
        positions = state.positions
        open_in_market = state.open_in_market
        notional = self.notional
        sums = self.sums
        new_sums: dict[str, list[int]] = {}
        new_notional: dict[int, int] = {}
        adopt: set[str] = set()
        checked = state.dirty_markets.copy()
        for position_id in state.dirty_positions:
            position = positions[position_id]
            market_id = position.market
            is_open = position.status == "open"
            if is_open != (position_id in open_in_market.get(market_id, ())):
                raise InvariantViolation(
                    f"position {position_id} is {position.status} but "
                    f"{'missing from' if is_open else 'still in'} the open set of {market_id}"
                )
            if market_id not in sums:
                adopt.add(market_id)
                continue
            checked.add(market_id)
            now = position.notional if is_open else 0
            delta = now - notional.get(position_id, 0)
            new_notional[position_id] = now
            if delta:
                running = new_sums.get(market_id)
                if running is None:
                    running = new_sums[market_id] = list(sums[market_id])
                running[0 if position.side == "A" else 1] += delta
        adopt.update(m for m in state.dirty_markets if m not in sums)
        return new_sums, new_notional, adopt, checked

    def _verify(self, state: State, checked: set[str], new_sums: dict[str, list[int]]) -> None:
        markets = state.markets
        for market_id in checked:
            running = new_sums.get(market_id)
            real_a, real_b = running if running is not None else self.sums[market_id]
            market = markets[market_id]
            if market.real_oi_a != real_a or market.real_oi_b != real_b:
                raise InvariantViolation(
                    f"{market_id} real OI ({market.real_oi_a}, {market.real_oi_b}) != open "
                    f"notional ({real_a}, {real_b})"
                )

    def _commit(self, new_sums: dict[str, list[int]], new_notional: dict[int, int]) -> None:
        sums, notional = self.sums, self.notional
        for market_id, running in new_sums.items():
            sums[market_id] = (running[0], running[1])
        for position_id, now in new_notional.items():
            if now:
                notional[position_id] = now
            else:
                notional.pop(position_id, None)


def _open_notional(state: State, market_id: str, record: dict[int, int]) -> tuple[int, int]:
    """Re-add the open notional of one market (the full check); raise if its real OI differs."""
    positions = state.positions
    real_a = real_b = 0
    for position_id in state.open_in_market.get(market_id, ()):
        position = positions[position_id]
        if position.side == "A":
            real_a += position.notional
        else:
            real_b += position.notional
        record[position_id] = position.notional
    market = state.markets[market_id]
    if market.real_oi_a != real_a or market.real_oi_b != real_b:
        raise InvariantViolation(
            f"{market_id} real OI ({market.real_oi_a}, {market.real_oi_b}) != open notional "
            f"({real_a}, {real_b})"
        )
    return real_a, real_b


def check_block(
    state: State, entries: Sequence[BlockEntry], ledger: OpenInterestLedger | None = None
) -> None:
    """Raise if the block about to be written breaks an invariant or a storage bound.

    With ``ledger`` the real-OI check is incremental (O(touched)); without, it re-adds the open
    positions of every touched market.
    """
    _check_balanced(entries)
    _check_accounts(state)
    _check_positions(state)
    if ledger is not None:
        ledger.check(state)
    for market_id in state.dirty_markets:
        market = state.markets[market_id]
        if ledger is None:
            _open_notional(state, market_id, {})
        for name in MARKET_INTEGERS:
            if out_of_range(getattr(market, name)):
                raise OutOfRange(f"market {market_id} {name} is beyond {MAX_STORED}")
    if out_of_range(state.time):
        raise OutOfRange(f"time {state.time} is beyond {MAX_STORED}")
    _check_identifiers(state)


def _check_identifiers(state: State) -> None:
    """Every identifier a touched state row holds fits its column (the widths of
    :mod:`prophex.ledger.schema`), on every backend: the state tables are written only at a
    snapshot, so a value they cannot hold must be refused with the command that made it."""
    for account in state.dirty_accounts:
        if len(account) > ACCOUNT_WIDTH:
            raise OutOfRange(f"account {account[:80]!r}... is longer than {ACCOUNT_WIDTH}")
    positions = state.positions
    for position_id in state.dirty_positions:
        position = positions[position_id]
        if len(position.account) > NAME_WIDTH or len(position.market) > NAME_WIDTH:
            raise OutOfRange(f"position {position_id} names an id longer than {NAME_WIDTH}")
    names = [*state.dirty_markets, *state.dirty_margin_accounts]
    names += [part for key in state.dirty_client_orders for part in key]
    for name in names:
        if len(name) > NAME_WIDTH:
            raise OutOfRange(f"id {name[:64]!r}... is longer than {NAME_WIDTH}")


def _check_balanced(entries: Sequence[BlockEntry]) -> None:
    for entry in entries:
        for txn in entry.receipt.transactions:
            total = sum(amount for _, amount in txn.postings)
            if total != 0:
                raise InvariantViolation(
                    f"transaction {txn.seq} ({txn.kind}) does not balance: postings sum to {total}"
                )


def _check_accounts(state: State) -> None:
    low, high = -MAX_STORED, MAX_STORED
    balances = state.balances
    for account in state.dirty_accounts:
        balance = balances.get(account, 0)
        if balance < 0 and account != EXTERNAL:
            raise InvariantViolation(f"{account} would be negative: {balance}")
        if not low <= balance <= high:
            raise OutOfRange(f"balance of {account} is {balance}, beyond {MAX_STORED}")


def _check_positions(state: State) -> None:
    """An open position's margin is its account's balance and it has notional; a closed one
    holds nothing; every stored integer fits."""
    low, high = -MAX_STORED, MAX_STORED
    balances = state.balances
    positions = state.positions
    for position_id in state.dirty_positions:
        position = positions[position_id]
        held = balances.get(position_account(position_id), 0)
        if position.status == "open":
            if position.margin != held:
                raise InvariantViolation(
                    f"position {position_id} margin {position.margin} != its balance {held}"
                )
            if position.notional <= 0:
                raise InvariantViolation(f"open position {position_id} has no notional")
        elif held != 0:
            raise InvariantViolation(f"closed position {position_id} still holds {held}")
        if not (
            low <= position.notional <= high
            and low <= position.cost_basis <= high
            and low <= position.realized_pnl <= high
            and low <= position.haircut <= high
            and low <= position.opened_at <= high
        ):
            raise OutOfRange(f"position {position_id} holds a value beyond {MAX_STORED}")


def is_data_error(exc: BaseException) -> bool:
    """True if the database refused a *value* (range, type, constraint), not the connection:
    such a block is retried without the offending command instead of stopping the writer.

    PostgreSQL reports the SQLSTATE class (22: data exception, 23: integrity violation);
    SQLite raises ``OverflowError`` for integers beyond 64 bits and IntegrityError for
    constraints. A trigger's ``RAISE EXCEPTION`` (P0001) or a lost connection is not a data
    error.
    """
    if isinstance(exc, OutOfRange | OverflowError):
        return True
    original = getattr(exc, "orig", None) or exc
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in ("22", "23")
    if isinstance(original, OverflowError):
        return True
    return isinstance(exc, DataError | IntegrityError)
