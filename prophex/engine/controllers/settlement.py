"""Resolve and void: one transaction that settles every open position of a market."""

from __future__ import annotations

from prophex.engine import journal as ev
from prophex.engine.commands import Resolve, Void
from prophex.engine.core import Core
from prophex.engine.domain import OTHER, MarketStatus, Outcome, PositionStatus
from prophex.engine.events import INSURANCE_FUND, vault_account
from prophex.engine.markets import SETTLEABLE, require_status
from prophex.engine.pm_settlement import plan_with_portfolio
from prophex.engine.results import SettleResult
from prophex.engine.settlement import SettlementTotals
from prophex.engine.settlement import settlement_totals as _totals
from prophex.engine.state import Market
from prophex.errors import InvalidCommand


def resolve(core: Core, c: Resolve) -> SettleResult:
    market = core.market(c.market)
    require_status(market.id, market.status, SETTLEABLE, "resolve")
    if market.kind == "perpetual":
        raise InvalidCommand("perpetual markets never resolve; void it instead", field="market")
    return settle(core, market, c.outcome)


def void(core: Core, c: Void) -> SettleResult:
    market = core.market(c.market)
    require_status(market.id, market.status, SETTLEABLE, "void")
    return settle(core, market, None)


def settle(core: Core, market: Market, outcome: str | None) -> SettleResult:
    """Resolve (``outcome`` A, B or UNKNOWN) or void (``None``) in one transaction."""
    state = core.state
    plan, pm_journal, pm_records = plan_with_portfolio(
        state,
        core.open_positions(market.id),
        market.id,
        outcome,
        state.balance(vault_account(market.id)),
        state.balance(INSURANCE_FUND),
        surplus_to_fund=state.rules.vault_surplus_to_if,
    )
    positions = state.positions
    for pid, pm_record in pm_records.items():
        position = positions[pid]
        position.realized_pnl += int(pm_record["pnl"])
        core.shrink_exposure(market, position, position.notional)
        core.retire(position, PositionStatus.SETTLED)
    for record in plan.settlements:
        position = positions[record.position_id]
        position.realized_pnl += record.pnl
        position.haircut += record.haircut
        position.margin = 0
        core.shrink_exposure(market, position, position.notional)
        core.retire(position, PositionStatus.SETTLED)
    market.status = (MarketStatus.VOIDED if outcome is None else MarketStatus.RESOLVED).value
    market.outcome = outcome
    market.bad_debt += plan.bad_debt + sum(int(r["bad_debt"]) for r in pm_records.values())
    market.liquidations.heaps = {"A": [], "B": []}
    market.win_profit = {"A": 0, "B": 0}
    market.collectible = {"A": 0, "B": 0}
    core.state.dirty_markets.add(market.id)
    totals = plan.totals
    typed_outcome = None if outcome is None else Outcome(outcome)
    pm_journal.postings.extend(plan.journal.postings)
    settlements = {str(s.position_id): s.record() for s in plan.settlements}
    settlements.update({str(pid): r for pid, r in pm_records.items()})
    core.commit(
        ev.Settled(
            market=market.id,
            outcome=typed_outcome,
            owed_to_winners=totals.owed_to_winners,
            vault_before_draw=totals.vault_after_losers,
            fund_draw=totals.fund_draw,
            haircut_total=totals.uncovered,
            bad_debt=plan.bad_debt + sum(int(r["bad_debt"]) for r in pm_records.values()),
            surplus_to_fund=plan.surplus_to_fund,
            settlements=dict(sorted(settlements.items(), key=lambda kv: int(kv[0]))),
        ),
        pm_journal,
    )
    return SettleResult(
        market=market.id,
        outcome=typed_outcome,
        positions_settled=len(plan.settlements) + len(pm_records),
        owed_to_winners=totals.owed_to_winners,
        fund_draw=totals.fund_draw,
        haircut_total=totals.uncovered,
        surplus_to_fund=plan.surplus_to_fund,
    )


def shortfall_preview(market: Market, outcome: str, vault: int, fund: int) -> SettlementTotals:
    """:func:`plan_settlement`'s totals for ``outcome`` (A or B) in O(1), from the market's
    exposure aggregates (``win_profit``, ``collectible``) instead of its positions."""
    owed = market.win_profit[outcome]
    return _totals(owed, vault + market.collectible[OTHER[outcome]], fund)


def worst_case_shortfall(core: Core, market: Market) -> int:
    vault = core.state.balance(vault_account(market.id))
    return max(shortfall_preview(market, side, vault, 0).shortfall for side in ("A", "B"))
