"""Funding intervals: the crowded side pays ``ceil(N x rate)`` each, capped at its margin, and
the receivers share the total pro rata by notional (largest remainder)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from prophex.engine import journal as ev
from prophex.engine.controllers.liquidation import liquidate
from prophex.engine.core import Core
from prophex.engine.domain import Side
from prophex.engine.events import Journal, position_account, vault_account
from prophex.engine.funding import funding_payment, funding_rate, paying_side, rate_ppm_floor
from prophex.engine.state import Market, Position
from prophex.money import allocate_pro_rata


@dataclass(frozen=True, slots=True)
class FundingPlan:
    payer_side: Side
    deltas: dict[int, int]
    """Margin change per position id (negative for payers)."""
    collected: int
    journal: Journal


def plan_funding(market: Market, positions: list[Position], rate: Fraction) -> FundingPlan:
    """One interval on one market, for its open ``positions`` in id order; touches no state."""
    payer_side = paying_side(market.real_oi_a, market.real_oi_b)
    payers = [p for p in positions if p.side == payer_side]
    receivers = [p for p in positions if p.side != payer_side]
    vault = vault_account(market.id)
    journal = Journal()
    deltas: dict[int, int] = {}
    for position in payers:
        paid = min(funding_payment(position.notional, rate), position.margin)
        journal.move(position_account(position.id), vault, paid)
        deltas[position.id] = -paid
    collected = -sum(deltas.values())
    shares = allocate_pro_rata(collected, [(p.id, p.notional) for p in receivers])
    for position in receivers:
        journal.move(vault, position_account(position.id), shares[position.id])
        deltas[position.id] = shares[position.id]
    return FundingPlan(payer_side, deltas, collected, journal)


def fund_market(core: Core, market: Market) -> int:
    """Apply one funding interval to ``market`` and liquidate; returns the micro-USD moved."""
    rate = funding_rate(market.real_oi_a, market.real_oi_b, core.state.rules)
    if rate == 0:
        return 0
    positions = core.open_positions(market.id)
    plan = plan_funding(market, positions, rate)
    payers = [p for p in positions if p.side == plan.payer_side]
    receivers = [p for p in positions if p.side != plan.payer_side]
    for position in payers + receivers:
        market.expose(position, -1)
        position.margin += plan.deltas[position.id]
        market.expose(position, 1)
    for position in payers + receivers:
        core.reindex(market, position)
    core.commit(
        ev.FundingPaid(
            market=market.id,
            rate_ppm=rate_ppm_floor(rate),
            rate_num=rate.numerator,
            rate_den=rate.denominator,
            payer_side=plan.payer_side,
            amount=plan.collected,
        ),
        plan.journal,
    )
    liquidate(core, market)
    return plan.collected
