"""Liquidation: drain a market's heaps in a fixed order after every price move.

Highest liquidation price first, ties by lowest position id; a popped entry whose version is
stale (the position changed or left) is skipped. Each liquidation closes the whole position at
the curve, seizes its margin (the penalty split between fund and vault) and records any gap
below the bankruptcy price as bad debt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prophex.engine import amm
from prophex.engine import journal as ev
from prophex.engine.core import Core
from prophex.engine.domain import OTHER, SIDE_OF, SIDES, PositionStatus
from prophex.engine.events import INSURANCE_FUND, Journal, position_account, vault_account
from prophex.engine.fees import penalty_split
from prophex.engine.liquidation import is_liquidatable
from prophex.engine.state import Market, Position
from prophex.params import Rules


@dataclass(frozen=True, slots=True)
class LiquidationPlan:
    notional: int
    proceeds: int
    seized: int
    penalty_to_fund: int
    to_vault: int
    bad_debt: int
    journal: Journal


def plan_liquidation(
    market_id: str, position: Position, oi_side: int, oi_other: int, rules: Rules
) -> LiquidationPlan:
    """Close the whole position at the curve and seize its margin; touches no state."""
    proceeds = amm.close_proceeds(oi_side, oi_other, position.notional)
    seized = position.margin
    bad_debt = max(0, position.cost_basis - proceeds - seized)
    to_fund, to_vault = penalty_split(seized, rules)
    account = position_account(position.id)
    journal = Journal()
    journal.move(account, INSURANCE_FUND, to_fund)
    journal.move(account, vault_account(market_id), to_vault)
    return LiquidationPlan(
        position.notional, proceeds, seized, to_fund, to_vault, bad_debt, journal
    )


def liquidate(core: Core, market: Market, sides: Iterable[str] = SIDES) -> None:
    """Liquidate, in a fixed order, every position whose loss at spot reaches its margin.

    ``sides`` names the sides whose price fell; a side whose price rose cannot have a new
    liquidation, so it is not checked.
    """
    positions = core.state.positions
    index = market.liquidations
    for side in sides:
        while (top := index.top(side)) is not None:
            position = positions[top.position_id]
            if position.status != "open" or position.version != top.version:
                index.pop(side)
                continue
            oi_side, oi_other = market.oi(side), market.oi(OTHER[side])
            if not is_liquidatable(
                position.cost_basis, position.margin, position.notional, oi_side, oi_other
            ):
                break
            index.pop(side)
            plan = plan_liquidation(market.id, position, oi_side, oi_other, core.state.rules)
            apply_liquidation(core, market, position, plan, oi_side, oi_other)


def apply_liquidation(
    core: Core,
    market: Market,
    position: Position,
    plan: LiquidationPlan,
    oi_side: int,
    oi_other: int,
) -> None:
    market.expose(position, -1)
    position.margin = 0
    position.realized_pnl -= plan.seized
    core.shrink_exposure(market, position, plan.notional)
    market.bad_debt += plan.bad_debt
    core.retire(position, PositionStatus.LIQUIDATED)
    core.commit(
        ev.Liquidated(
            account=position.account,
            market=market.id,
            side=SIDE_OF[position.side],
            position=position.id,
            notional=plan.notional,
            cost_basis=position.cost_basis,
            seized_margin=plan.seized,
            mark_num=oi_side,
            mark_den=oi_side + oi_other,
            exit_proceeds=plan.proceeds,
            penalty_to_fund=plan.penalty_to_fund,
            to_vault=plan.to_vault,
            bad_debt=plan.bad_debt,
            oi_a=market.oi("A"),
            oi_b=market.oi("B"),
        ),
        plan.journal,
    )
