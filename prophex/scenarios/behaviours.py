"""Position-management behaviours: take profit / stop loss, and topping up margin.

They read the exchange state (never write it) and answer with commands (``Close``,
``AddMargin``) that go through the sequencer like any user's.

Each rule is a price level known in advance, like a liquidation price: take profit when the
mark reaches ``(C + tp*M) / N``, stop out (or top up) when it falls to ``(C - sl*M) / N``, for a
position of notional N, cost basis C and margin M, compared with the exact spot
``OI_side / (OI_A + OI_B)``. So, as the engine does for liquidations, every market side keeps
heaps of levels and an interval only pops the levels the price has crossed, instead of
scanning every open position. Levels are compared by integer cross-multiplication: a float
must never decide whether a trader exits. A position that changes (an increase, a partial
close, added margin, funding) is re-registered from the receipts of its commands.

A heap entry leads with the level as a float (negated for falling levels), so ``heapq``
compares entries in C: the float of an integer ratio is correctly rounded, hence monotonic, so
different floats order two levels as the exact comparison does, and equal floats fall through
to :meth:`Level.__lt__`, which decides exactly. The heaps therefore pop in the same order as
before the float was added (same digests), with the Python-level comparison run only on ties.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from prophex.engine.commands import AddMargin, Close, Command
from prophex.engine.domain import OTHER
from prophex.engine.events import Receipt
from prophex.engine.journal import Closed, FundingPaid, MarginAdded, Opened
from prophex.engine.state import Position, State
from prophex.errors import ProphexError
from prophex.scenarios.population import PopulationFlow
from prophex.scenarios.schema import Exit, TopUp

Snapshot = tuple[int, int, int]  # notional, cost basis, margin


class Level:
    """A price level ``num / den`` ordered ascending (``rising=True``) or descending."""

    __slots__ = ("den", "num", "rising")

    def __init__(self, num: int, den: int, rising: bool) -> None:
        self.num, self.den, self.rising = num, den, rising

    def __lt__(self, other: Level) -> bool:
        left, right = self.num * other.den, other.num * self.den
        return left < right if self.rising else left > right

    def crossed(self, oi_side: int, total: int) -> bool:
        """Has the spot ``oi_side / total`` reached this level (from below if rising)?"""
        if self.rising:
            return oi_side * self.den >= self.num * total
        return oi_side * self.den <= self.num * total


Entry = tuple[float, Level, int, Snapshot]


_RATIOS: dict[str, tuple[int, int]] = {}


def _ratio(value: Any) -> tuple[int, int]:
    """A Decimal ratio of the scenario file as (numerator, denominator), memoised: the same few
    thresholds are converted for every position."""
    key = str(value)
    cached = _RATIOS.get(key)
    if cached is None:
        share = Fraction(key)
        cached = _RATIOS[key] = (share.numerator, share.denominator)
    return cached


Ratio = tuple[int, int]
Levels = tuple[Ratio | None, Ratio | None, int]
"""A managed account's level rule, converted once: the rising level's ratio (take profit), the
falling level's (stop loss or top-up trigger), and the most top-ups (-1: no limit, exits)."""


def levels_of(rule: Exit | TopUp) -> Levels:
    if isinstance(rule, Exit):
        rising = None if rule.take_profit is None else _ratio(rule.take_profit)
        falling = None if rule.stop_loss is None else _ratio(rule.stop_loss)
        return rising, falling, -1
    return None, _ratio(rule.trigger), rule.max_times


@dataclass(slots=True)
class Manager:
    """The exit/top-up rules of managed accounts and the heaps of their price levels."""

    rules: dict[str, Exit | TopUp] = field(default_factory=dict)
    levels: dict[str, Levels] = field(default_factory=dict)
    top_ups: dict[int, int] = field(default_factory=dict)
    up: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    down: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    registered: dict[int, Snapshot] = field(default_factory=dict)

    @classmethod
    def for_flows(cls, flows: list[PopulationFlow]) -> Manager:
        manager = cls()
        for flow in flows:
            for i, account in enumerate(flow.accounts):
                behaviour = flow.spec.behaviours[flow.behaviour_of[i]]
                if isinstance(behaviour, Exit | TopUp):
                    manager.rules[account] = behaviour
                    manager.levels[account] = levels_of(behaviour)
        return manager

    # ------------------------------------------------------------------ registration

    def observe(self, state: State, results: list[Receipt | ProphexError]) -> None:
        """Re-register the managed positions that the executed commands changed."""
        if not self.rules:
            return
        for result in results:
            if isinstance(result, ProphexError):
                continue
            for txn in result.transactions:
                e = txn.event
                if isinstance(e, Opened | Closed | MarginAdded):
                    self.register(state, e.position)
                elif isinstance(e, FundingPaid):
                    for position_id in sorted(state.open_in_market.get(e.market, ())):
                        self.register(state, position_id)

    def register(self, state: State, position_id: int) -> None:
        position = state.positions.get(position_id)
        if position is None or position.status != "open":
            return
        levels = self.levels.get(position.account)
        if levels is None:
            return
        snap = (position.notional, position.cost_basis, position.margin)
        if self.registered.get(position_id) == snap:
            return
        self.registered[position_id] = snap
        key = (position.market, position.side)
        n, c, m = snap
        rising, falling, max_times = levels
        if rising is not None:
            a, b = rising
            num, den = b * c + a * m, b * n
            level = Level(num, den, rising=True)
            heapq.heappush(self.up.setdefault(key, []), (num / den, level, position_id, snap))
        if falling is not None and (max_times < 0 or self.top_ups.get(position_id, 0) < max_times):
            a, b = falling
            self._push_down(key, b * c - a * m, b * n, position_id, snap)

    def _push_down(
        self, key: tuple[str, str], num: int, den: int, pid: int, snap: Snapshot
    ) -> None:
        if num > 0:
            entry = (-(num / den), Level(num, den, False), pid, snap)
            heapq.heappush(self.down.setdefault(key, []), entry)

    # ------------------------------------------------------------------ decisions

    def actions(self, state: State, skip_markets: set[str]) -> list[Command]:
        """Commands due now, in a fixed order (market, side, rising levels then falling)."""
        out: list[Command] = []
        if not self.rules:
            return out
        for key in sorted(self.up.keys() | self.down.keys()):
            market = state.markets[key[0]]
            if market.status != "open" or key[0] in skip_markets:
                continue
            oi_side = market.oi(key[1])
            total = oi_side + market.oi(OTHER[key[1]])
            for heap in (self.up.get(key), self.down.get(key)):
                while heap and heap[0][1].crossed(oi_side, total):
                    _, _, position_id, snap = heapq.heappop(heap)
                    command = self._due(state, position_id, snap)
                    if command is not None:
                        out.append(command)
        return out

    def _due(self, state: State, position_id: int, snap: Snapshot) -> Command | None:
        """The command for a crossed level, or None if the level was stale (the position
        changed since, and its fresh levels are registered by :meth:`observe`)."""
        position: Position = state.positions[position_id]
        current = (position.notional, position.cost_basis, position.margin)
        if position.status != "open" or snap != current or self.registered.get(position_id) != snap:
            return None
        del self.registered[position_id]
        rule = self.rules[position.account]
        if isinstance(rule, Exit):
            return Close(account=position.account, position_id=position_id)
        amount = int(Fraction(rule.amount) * position.margin)
        if amount <= 0:
            return None
        self.top_ups[position_id] = self.top_ups.get(position_id, 0) + 1
        return AddMargin(account=position.account, position_id=position_id, amount=amount)
