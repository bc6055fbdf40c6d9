"""The checks the sequencer runs on every block before writing it (fail-stop writer).

``check_block`` costs O(the accounts, positions and markets the block touched, plus the open
positions of the touched markets), not O(the whole state): it uses the ``dirty_*`` sets the
engine keeps for the store. A violated invariant is a bug, not a user error: it raises
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

if TYPE_CHECKING:
    from prophex.ledger.store import BlockEntry

MARKET_INTEGERS = ("virtual_oi", "real_oi_a", "real_oi_b", "volume", "bad_debt", "created_at")


class OutOfRange(ValueError):
    """A value of the block would not fit the storage bound."""


def check_block(state: State, entries: Sequence[BlockEntry]) -> None:
    """Raise if the block about to be written breaks an invariant or a storage bound."""
    low, high = -MAX_STORED, MAX_STORED
    for entry in entries:
        for txn in entry.receipt.transactions:
            total = sum(amount for _, amount in txn.postings)
            if total != 0:
                raise InvariantViolation(
                    f"transaction {txn.seq} ({txn.kind}) does not balance: postings sum to {total}"
                )
    balances = state.balances
    for account in state.dirty_accounts:
        balance = balances.get(account, 0)
        if balance < 0 and account != EXTERNAL:
            raise InvariantViolation(f"{account} would be negative: {balance}")
        if not low <= balance <= high:
            raise OutOfRange(f"balance of {account} is {balance}, beyond {MAX_STORED}")
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
    open_in_market = state.open_in_market
    for market_id in state.dirty_markets:
        market = state.markets[market_id]
        real_a = real_b = 0
        for position_id in open_in_market.get(market_id, ()):
            position = positions[position_id]
            if position.side == "A":
                real_a += position.notional
            else:
                real_b += position.notional
        if market.real_oi_a != real_a or market.real_oi_b != real_b:
            raise InvariantViolation(
                f"{market_id} real OI ({market.real_oi_a}, {market.real_oi_b}) != open notional "
                f"({real_a}, {real_b})"
            )
        for name in MARKET_INTEGERS:
            if out_of_range(getattr(market, name)):
                raise OutOfRange(f"market {market_id} {name} is beyond {MAX_STORED}")
    if out_of_range(state.time):
        raise OutOfRange(f"time {state.time} is beyond {MAX_STORED}")


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
