"""Engine rules at their exact boundaries (found by mutation testing, docs/mutation.md): an
order priced exactly at its average-price bound, a position whose margin covers its cost
(never in the liquidation heap), the invariant checker's loss at mark exactly equal to the
lock, and a transaction committed outside a command."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest

from prophex.engine.commands import (
    AddMargin,
    CreateMarket,
    Deposit,
    Open,
    OpenPortfolio,
    SetMarginMode,
)
from prophex.engine.events import Journal
from prophex.engine.exchange import Exchange
from prophex.engine.journal import ClockAdvanced
from prophex.engine.state import check_invariants
from prophex.errors import InvariantViolation, SlippageExceeded
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


def exchange() -> Exchange:
    ex = Exchange.create(profile("launch", fee_rate=0))
    ex.apply(CreateMarket(market="m"))
    ex.apply(Deposit("t", 10_000 * USD))
    return ex


def test_an_average_price_exactly_at_the_bound_is_accepted() -> None:
    """The bound refuses an average price *above* it (docs/concepts.md: "... is above the
    bound"); an average exactly at the bound is accepted."""
    ex = exchange()
    probe = copy.deepcopy(ex)
    filled = probe.apply(Open("t", "m", "A", 100 * USD, 300)).result
    average = Fraction(filled.cost, filled.notional)
    assert (filled.cost, filled.notional) == (152_205_989, 300 * USD)
    with pytest.raises(SlippageExceeded):
        copy.deepcopy(ex).apply(
            Open("t", "m", "A", 100 * USD, 300, max_avg_price=average - Fraction(1, 10**12))
        )
    result = ex.apply(Open("t", "m", "A", 100 * USD, 300, max_avg_price=average)).result
    assert (result.cost, result.notional) == (filled.cost, filled.notional)


def test_a_position_whose_margin_covers_its_cost_leaves_the_liquidation_heap() -> None:
    """The trigger ``(C - M) x (OI_X + OI_O) >= OI_X x N`` (docs/concepts.md) never fires
    when ``C - M <= 0``, so such a position is not tracked: margin added up to exactly the
    cost basis leaves no live heap entry."""
    ex = exchange()
    receipt = ex.apply(Open("t", "m", "A", 100 * USD, 300))
    position = ex.state.positions[receipt.result.position_id]
    market = ex.state.markets["m"]
    live = [
        (e.num, e.den) for e in market.liquidations.entries("A") if e.version == position.version
    ]
    assert live == [(position.cost_basis - position.margin, position.notional)]
    ex.apply(AddMargin("t", position.id, position.cost_basis - position.margin))
    assert position.margin == position.cost_basis == 152_205_989
    assert [e for e in market.liquidations.entries("A") if e.version == position.version] == []


def test_a_loss_at_mark_exactly_equal_to_the_lock_is_reported() -> None:
    """docs/portfolio-margin.md: the trigger is ``loss at mark >= lock``, so the invariant
    checker reports a loss exactly equal to the lock, not only one above it."""
    ex = Exchange.create(profile("launch", fee_rate=0, wallet_cap=1_000_000, market_oi_cap=10**7))
    ex.apply(CreateMarket(market="m"))
    ex.apply(Deposit("pm", 200_000 * USD))
    ex.apply(SetMarginMode("pm", "portfolio"))
    virtual = ex.state.rules.virtual_oi
    notional = virtual // 2
    ex.apply(OpenPortfolio("pm", "m", "A", notional))
    ex.apply(Deposit("iso", 10_000 * USD))
    ex.apply(Open("iso", "m", "B", notional, 100))  # OI (1.5 V, 1.5 V): the mark is 1/2
    state = ex.state
    market = state.markets["m"]
    assert (market.oi("A"), market.oi("B")) == (virtual + notional, virtual + notional)
    position = next(p for p in state.positions.values() if p.account == "pm")
    value = market.oi("A") * position.notional // (market.oi("A") + market.oi("B"))
    assert value * (market.oi("A") + market.oi("B")) == market.oi("A") * position.notional
    loss = position.cost_basis - value
    assert loss > 0
    lock = state.balance("pm_margin:pm")
    state.balances["external"] += lock - loss
    state.balances["pm_margin:pm"] = loss
    state.pm_requirement["pm"] = loss
    assert check_invariants(state) == [
        f"portfolio account pm has unrealised loss >= its lock {loss}"
    ]
    state.balances["external"] -= 1
    state.balances["pm_margin:pm"] = loss + 1
    state.pm_requirement["pm"] = loss + 1
    assert check_invariants(state) == []


def test_a_transaction_outside_a_command_is_a_fail_stop() -> None:
    ex = exchange()
    before = ex.state.txn_seq
    with pytest.raises(InvariantViolation) as err:
        ex._core.commit(ClockAdvanced(start=0, end=1), Journal())
    assert err.value.message == "a transaction was committed outside a command"
    assert ex.state.txn_seq == before
