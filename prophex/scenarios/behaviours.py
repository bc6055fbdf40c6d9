"""Position-management behaviours: take profit / stop loss, and topping up margin.

They look at the exchange state at the start of an interval (read-only) and answer with
commands (``Close``, ``AddMargin``) that go through the sequencer like any user's. Thresholds
are compared in exact integers: a behaviour is part of a deterministic replay, so a float
rounding difference must never decide whether a trader exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from prophex.engine.commands import AddMargin, Close, Command
from prophex.engine.positions import unrealized_pnl
from prophex.engine.state import Position, State
from prophex.scenarios.population import PopulationFlow
from prophex.scenarios.schema import Exit, TopUp

OTHER = {"A": "B", "B": "A"}


@dataclass(slots=True)
class Manager:
    """Maps accounts to the exit/top-up behaviour they follow and remembers top-ups done."""

    rules: dict[str, Exit | TopUp] = field(default_factory=dict)
    top_ups: dict[int, int] = field(default_factory=dict)

    @classmethod
    def for_flows(cls, flows: list[PopulationFlow]) -> Manager:
        manager = cls()
        for flow in flows:
            for i, account in enumerate(flow.accounts):
                behaviour = flow.spec.behaviours[flow.behaviour_of[i]]
                if isinstance(behaviour, Exit | TopUp):
                    manager.rules[account] = behaviour
        return manager

    def actions(self, state: State, skip_markets: set[str]) -> list[Command]:
        """Commands the managed traders send now, in a fixed order (market, position id)."""
        if not self.rules:
            return []
        out: list[Command] = []
        for market_id in sorted(state.open_in_market):
            market = state.markets[market_id]
            if market.status != "open" or market_id in skip_markets:
                continue
            for position_id in sorted(state.open_in_market[market_id]):
                position = state.positions[position_id]
                rule = self.rules.get(position.account)
                if rule is None:
                    continue
                pnl = unrealized_pnl(
                    position.notional,
                    position.cost_basis,
                    market.oi(position.side),
                    market.oi(OTHER[position.side]),
                )
                command = self._decide(rule, position, pnl)
                if command is not None:
                    out.append(command)
        return out

    def _decide(self, rule: Exit | TopUp, position: Position, pnl: int) -> Command | None:
        margin = position.margin
        if isinstance(rule, Exit):
            if rule.take_profit is not None and _at_least(pnl, rule.take_profit, margin):
                return Close(account=position.account, position_id=position.id)
            if rule.stop_loss is not None and _at_least(-pnl, rule.stop_loss, margin):
                return Close(account=position.account, position_id=position.id)
            return None
        done = self.top_ups.get(position.id, 0)
        if done >= rule.max_times or not _at_least(-pnl, rule.trigger, margin):
            return None
        amount = int(Fraction(rule.amount) * margin)
        if amount <= 0:
            return None
        self.top_ups[position.id] = done + 1
        return AddMargin(account=position.account, position_id=position.id, amount=amount)


def _at_least(value: int, ratio: object, margin: int) -> bool:
    """``value >= ratio * margin`` exactly (ratio is a Decimal from the scenario file)."""
    share = Fraction(str(ratio))
    return value * share.denominator >= share.numerator * margin and value > 0
