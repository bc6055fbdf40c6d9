"""The engine's derived lookup indexes, rebuilt from the positions after a load.

The indexes (open position per (account, market, side), open positions per market, notional per
(account, market), each market's resolution exposure and liquidation heaps) are never stored:
they are a function of the positions, so deriving them here, with the same rule the engine uses
to maintain them, means a loaded state cannot drift from one that was never stored.
"""

from __future__ import annotations

from prophex.engine.liquidation import HeapEntry
from prophex.engine.state import Market, State


def liquidation_entries(state: State, market: Market, side: str) -> list[HeapEntry]:
    """The live heap entries of one side of a market: every open isolated position that can
    ever be liquidated (``cost_basis > margin``), at its current version.

    Portfolio-mode positions have no entry: their account's margin, not the position's, decides
    liquidation."""
    positions = state.positions
    return [
        HeapEntry(p.cost_basis - p.margin, p.notional, p.id, p.version)
        for p in (positions[i] for i in state.open_in_market[market.id])
        if p.side == side and p.cost_basis > p.margin and p.account not in state.margin_modes
    ]


def rebuild_indexes(state: State) -> None:
    """Derive every index from ``state.positions`` (the state a store just loaded)."""
    for market_id in state.markets:
        state.open_in_market.setdefault(market_id, set())
    for position in state.positions.values():
        if position.status != "open":
            continue
        state.open_by_key[(position.account, position.market, position.side)] = position.id
        state.open_in_market[position.market].add(position.id)
        key = (position.account, position.market)
        state.wallet_notional[key] = state.wallet_notional.get(key, 0) + position.notional
        state.markets[position.market].expose(position, 1)
    for market in state.markets.values():
        for side in ("A", "B"):
            market.liquidations.rebuild(side, liquidation_entries(state, market, side))
