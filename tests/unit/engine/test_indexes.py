"""The engine derives its own lookup indexes after a load (``prophex.engine.indexes``).

Every book of the journal tables is run command by command; after each command the state's
derived indexes are wiped, as a store's load leaves them, rebuilt, and compared with the ones
the engine maintained incrementally."""

from __future__ import annotations

import contextlib
import copy

import pytest
from test_journal_tables import BOOKS

from prophex.engine.exchange import Exchange
from prophex.engine.indexes import rebuild_indexes
from prophex.engine.liquidation import HeapEntry, LiquidationIndex
from prophex.engine.state import State
from prophex.errors import ProphexError


def _as_loaded(state: State) -> State:
    """A copy holding only what the store writes: the indexes start empty."""
    loaded = copy.deepcopy(state)
    loaded.open_by_key.clear()
    loaded.open_in_market.clear()
    loaded.wallet_notional.clear()
    for market in loaded.markets.values():
        market.liquidations = LiquidationIndex()
        market.win_profit = {"A": 0, "B": 0}
        market.collectible = {"A": 0, "B": 0}
    return loaded


def _fields(entries: list[HeapEntry]) -> list[tuple[int, int, int, int]]:
    """Entries in liquidation order, as plain tuples (entries compare by order only)."""
    return [(e.num, e.den, e.position_id, e.version) for e in sorted(entries)]


def _live(state: State, market_id: str, side: str) -> list[HeapEntry]:
    """The heap entries that still describe an open position at its current version."""
    entries = state.markets[market_id].liquidations.entries(side)
    positions = state.positions
    return [
        e
        for e in entries
        if positions[e.position_id].status == "open"
        and positions[e.position_id].version == e.version
    ]


def _assert_same_indexes(live: State, loaded: State) -> None:
    assert loaded.open_by_key == live.open_by_key
    assert loaded.open_in_market == {m: s for m, s in live.open_in_market.items()}
    assert loaded.wallet_notional == live.wallet_notional
    for market_id, market in live.markets.items():
        rebuilt = loaded.markets[market_id]
        assert rebuilt.win_profit == market.win_profit, market_id
        assert rebuilt.collectible == market.collectible, market_id
        for side in ("A", "B"):
            expected = _fields(_live(live, market_id, side))
            assert _fields(rebuilt.liquidations.entries(side)) == expected
            top = rebuilt.liquidations.top(side)
            assert _fields([] if top is None else [top]) == expected[:1]


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_rebuilt_indexes_equal_the_maintained_ones_after_every_command(book: str) -> None:
    exchange = Exchange()
    rebuilt_with_positions = 0
    for command in BOOKS[book]():
        with contextlib.suppress(ProphexError):
            exchange.apply(command)
        loaded = _as_loaded(exchange.state)
        rebuild_indexes(loaded)
        _assert_same_indexes(exchange.state, loaded)
        rebuilt_with_positions += bool(loaded.open_by_key)
    assert rebuilt_with_positions > 0  # the book held open positions at some point


def test_a_position_that_can_never_liquidate_gets_no_heap_entry() -> None:
    exchange = Exchange()
    for command in BOOKS["isolated"]():
        with contextlib.suppress(ProphexError):
            exchange.apply(command)
    loaded = _as_loaded(exchange.state)
    unliquidatable = next(
        (p for p in loaded.positions.values() if p.status == "open" and p.cost_basis <= p.margin),
        None,
    )
    rebuild_indexes(loaded)
    tracked = {
        e.position_id
        for m in loaded.markets.values()
        for side in ("A", "B")
        for e in m.liquidations.entries(side)
    }
    if unliquidatable is not None:
        assert unliquidatable.id not in tracked
    opened = {p.id for p in loaded.positions.values() if p.status == "open"}
    assert tracked <= opened
