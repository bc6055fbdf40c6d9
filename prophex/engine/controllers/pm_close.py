"""Closing (part of) a portfolio-mode position; see :mod:`prophex.engine.controllers.portfolio`."""

from __future__ import annotations

from dataclasses import dataclass

from prophex.engine import journal as ev
from prophex.engine import pm_book
from prophex.engine.commands import Close
from prophex.engine.controllers import trading
from prophex.engine.controllers.liquidation import liquidate
from prophex.engine.core import Core
from prophex.engine.domain import OTHER, PositionStatus
from prophex.engine.events import (
    INSURANCE_FUND,
    TREASURY,
    Journal,
    pm_margin_account,
    vault_account,
    wallet_account,
)
from prophex.engine.fees import fee_split, trading_fee
from prophex.engine.pm_account import lock_moves, open_holdings, requirement_of
from prophex.engine.positions import partial_shares
from prophex.engine.results import CloseResult
from prophex.engine.state import Market, Position


@dataclass(frozen=True, slots=True)
class PortfolioClosePlan:
    position: Position
    market: Market
    closing: int
    proceeds: int
    cost_part: int
    realized: int
    fee: int
    fund_draw: int
    haircut: int
    bad_debt: int
    requirement: int
    lock_change: int
    journal: Journal


def _settle_close_pnl(
    core: Core, journal: Journal, account: str, market_id: str, pnl: int
) -> tuple[int, int, int, int]:
    """Postings of a close's PnL; returns (realised, fund draw, haircut, bad debt)."""
    wallet, locked = wallet_account(account), pm_margin_account(account)
    if pnl >= 0:
        fund_draw, haircut = trading._pay_profit(core, journal, market_id, wallet, pnl)
        return pnl - haircut, fund_draw, haircut, 0
    from_lock = min(-pnl, core.pending(journal, locked))
    journal.move(locked, vault_account(market_id), from_lock)
    from_wallet = min(-pnl - from_lock, core.pending(journal, wallet))
    journal.move(wallet, vault_account(market_id), from_wallet)
    return -(from_lock + from_wallet), 0, 0, -pnl - from_lock - from_wallet


def plan_close_portfolio(core: Core, c: Close) -> PortfolioClosePlan:
    """Validate and price a portfolio close and the lock after it; touches no state.

    PnL settles between the account and the vault: a loss from the lock first, then the
    wallet, bad debt beyond both; a profit from the vault (the fund covers its shortfall).
    The fee is paid from the wallet (capped at what it holds, as for isolated closes); then
    the lock moves to the requirement of the remaining book at the mark after the close."""
    position, market, closing, proceeds = trading._check_close(core, c)
    cost_part, _ = partial_shares(position.notional, position.cost_basis, 0, closing)
    journal = Journal()
    realized, fund_draw, haircut, bad_debt = _settle_close_pnl(
        core, journal, c.account, market.id, proceeds - cost_part
    )
    rules, wallet = core.state.rules, wallet_account(c.account)
    fee = min(trading_fee(closing, rules), core.pending(journal, wallet))
    fee_to_fund, fee_to_treasury = fee_split(fee, rules)
    journal.move(wallet, INSURANCE_FUND, fee_to_fund)
    journal.move(wallet, TREASURY, fee_to_treasury)
    side = position.side
    after = [
        pm_book.Holding(h.market, h.side, h.notional - closing, h.cost_basis - cost_part)
        if (h.market, h.side) == (market.id, side)
        else h
        for h in open_holdings(core.state, c.account)
    ]
    oi_x, oi_o = market.oi(side) - closing, market.oi(OTHER[side])
    mark = oi_x / (oi_x + oi_o) if side == "A" else oi_o / (oi_x + oi_o)
    target, _ = requirement_of(core.state, after, {market.id: mark})
    delta = lock_moves(core, journal, c.account, target, "portfolio requirement after the close")
    return PortfolioClosePlan(
        position,
        market,
        closing,
        proceeds,
        cost_part,
        realized,
        fee,
        fund_draw,
        haircut,
        bad_debt,
        target,
        delta,
        journal,
    )


def _apply_close(core: Core, plan: PortfolioClosePlan) -> None:
    position, market = plan.position, plan.market
    market.expose(position, -1)
    position.notional -= plan.closing
    position.cost_basis -= plan.cost_part
    position.realized_pnl += plan.realized
    position.haircut += plan.haircut
    core.shrink_exposure(market, position, plan.closing)
    market.volume += plan.closing
    market.bad_debt += plan.bad_debt
    if position.notional == 0:
        core.retire(position, PositionStatus.CLOSED)
    else:
        market.expose(position, 1)
        position.version += 1
        core.state.dirty_positions.add(position.id)
    core.state.set_requirement(position.account, plan.requirement)


def close_portfolio(core: Core, c: Close) -> CloseResult:
    plan = plan_close_portfolio(core, c)
    _apply_close(core, plan)
    position, market = plan.position, plan.market
    core.commit(
        ev.PortfolioClosed(
            *trading.close_event_head(c.account, plan),
            requirement=plan.requirement,
            lock_change=plan.lock_change,
            oi_a=market.oi("A"),
            oi_b=market.oi("B"),
        ),
        plan.journal,
    )
    liquidate(core, market, (position.side,))
    return trading.close_result(
        plan, plan.requirement, core.state.balance(pm_margin_account(c.account))
    )
