"""Portfolio-mode accounts: the mode switch, opens by notional, closes, and the margin lock.

A portfolio account's positions carry no margin of their own (``margin = 0``, no
``position:<id>`` balance, never on a liquidation heap). The account locks its portfolio
requirement (:mod:`prophex.engine.pm_book`) in ``pm_margin:<account>``: after every order of
the account the lock is moved to equal the requirement computed on the book after the order
at the marks right after its fill, from the wallet when it rises (refused with
``INSUFFICIENT_BALANCE`` and nothing changed if the wallet cannot cover the rise and the fee),
back to the wallet when it falls. As everywhere, each handler plans first and applies after.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from prophex.engine import amm, pm_book
from prophex.engine import journal as ev
from prophex.engine.commands import AddMargin, Close, Open, OpenPortfolio, SetMarginMode
from prophex.engine.controllers import trading
from prophex.engine.controllers.liquidation import liquidate
from prophex.engine.controllers.pm_close import close_portfolio
from prophex.engine.controllers.risk import check_coverage
from prophex.engine.core import Core
from prophex.engine.domain import OTHER, SIDE_OF, MarginMode, Side
from prophex.engine.events import (
    INSURANCE_FUND,
    TREASURY,
    Journal,
    pm_margin_account,
    wallet_account,
)
from prophex.engine.fees import fee_split, trading_fee
from prophex.engine.markets import TRADING, require_status
from prophex.engine.pm_account import (
    PORTFOLIO,
    is_portfolio,
    lock_moves,
    open_holdings,
    requirement_of,
)
from prophex.engine.results import (
    CloseResult,
    MarginResult,
    ModeResult,
    OpenResult,
    PortfolioOpenResult,
)
from prophex.engine.state import Market
from prophex.errors import (
    AccountNotFlat,
    InvalidCommand,
    PositionTooSmall,
    SlippageExceeded,
)
from prophex.margin.incremental import FastResult
from prophex.money import MAX_AMOUNT, check_amount, format_prices_apart, format_usd

MODES = ("isolated", PORTFOLIO)


# ---------------------------------------------------------------------- the mode switch


def set_margin_mode(core: Core, c: SetMarginMode) -> ModeResult:
    if c.mode not in MODES:
        raise InvalidCommand("mode must be 'isolated' or 'portfolio'", field="mode")
    state = core.state
    open_ids = sorted(pid for (acct, _, _), pid in state.open_by_key.items() if acct == c.account)
    if open_ids:
        raise AccountNotFlat(
            f"account {c.account!r} has {len(open_ids)} open position(s); close them before "
            "switching margin mode",
            account=c.account,
            open_positions=len(open_ids),
        )
    journal = Journal()
    journal.move(
        pm_margin_account(c.account),
        wallet_account(c.account),
        state.balance(pm_margin_account(c.account)),
    )
    if c.mode == PORTFOLIO:
        state.margin_modes[c.account] = PORTFOLIO
        state.set_requirement(c.account, 0)
    else:
        state.margin_modes.pop(c.account, None)
        state.pm_requirement.pop(c.account, None)
        state.dirty_margin_accounts.add(c.account)
    mode = MarginMode(c.mode)
    core.commit(ev.MarginModeSet(account=c.account, mode=mode), journal)
    return ModeResult(c.account, mode)


# ---------------------------------------------------------------------- routing


def route_open(core: Core, c: Open) -> OpenResult:
    if is_portfolio(core.state, c.account):
        raise InvalidCommand(
            "portfolio-mode accounts open by notional; margin and leverage are isolated-only",
            field="margin",
        )
    return trading.open_position(core, c)


def route_add_margin(core: Core, c: AddMargin) -> MarginResult:
    if is_portfolio(core.state, c.account):
        raise InvalidCommand(
            "portfolio-mode positions have no margin of their own; the account's requirement "
            "is locked instead",
            field="position_id",
        )
    return trading.add_margin(core, c)


def route_close(core: Core, c: Close) -> CloseResult:
    if is_portfolio(core.state, c.account):
        return close_portfolio(core, c)
    return trading.close_position(core, c)


# ---------------------------------------------------------------------- opens


@dataclass(frozen=True, slots=True)
class PortfolioOpenPlan:
    market: Market
    side: Side
    notional: int
    fee: int
    cost: int
    requirement_before: int
    requirement_after: int
    locked_before: int
    available: int
    result: FastResult


def _check_open_terms(core: Core, c: OpenPortfolio) -> Market:
    if not is_portfolio(core.state, c.account):
        raise InvalidCommand(
            "only portfolio-mode accounts open by notional; isolated opens give margin and "
            "leverage",
            field="notional",
        )
    market = core.market(c.market)
    if market.status != "open":
        require_status(c.market, market.status, TRADING, "open a position")
    if market.funding:
        raise InvalidCommand(
            "portfolio-mode accounts trade markets without funding only", field="market"
        )
    if c.side not in OTHER:
        raise InvalidCommand("side must be 'A' or 'B'", field="side")
    check_amount(c.notional, field="notional")
    rules = core.state.rules
    if c.notional < rules.min_notional:
        raise PositionTooSmall(
            f"notional {format_usd(c.notional)} USD is below the minimum "
            f"{format_usd(rules.min_notional)} USD",
            field="notional",
        )
    if c.notional > MAX_AMOUNT:
        check_amount(c.notional, field="notional")
    return market


def plan_open_portfolio(core: Core, c: OpenPortfolio, *, enforce: bool = True) -> PortfolioOpenPlan:
    """Validate and price a portfolio open, and the requirement after it; touches no state."""
    state = core.state
    market = _check_open_terms(core, c)
    notional, rules = c.notional, state.rules
    fee = trading_fee(notional, rules)
    if enforce:
        core.cap_headroom(c.account, market).check(notional, check_market=rules.cap_rule == "fixed")
    cost = amm.open_cost(market.oi(c.side), market.oi(OTHER[c.side]), notional)
    if enforce and rules.cap_rule == "coverage":
        check_coverage(core, Open(c.account, c.market, c.side, 0, 100), market, notional, cost)
    bound = c.max_avg_price
    if bound is not None and cost * bound.denominator > bound.numerator * notional:
        average, limit = format_prices_apart(Fraction(cost, notional), bound)
        raise SlippageExceeded(
            f"average price {average} is above the bound {limit}",
            average_price=average,
            bound=limit,
        )
    before = open_holdings(state, c.account)
    after = _with_fill(before, c.market, c.side, notional, cost)
    oi_a = market.oi("A") + (notional if c.side == "A" else 0)
    oi_b = market.oi("B") + (notional if c.side == "B" else 0)
    req_after, result = requirement_of(state, after, {market.id: oi_a / (oi_a + oi_b)})
    return PortfolioOpenPlan(
        market,
        SIDE_OF[c.side],
        notional,
        fee,
        cost,
        state.pm_requirement.get(c.account, 0),
        req_after,
        state.balance(pm_margin_account(c.account)),
        state.balance(wallet_account(c.account)),
        result,
    )


def _with_fill(
    holdings: list[pm_book.Holding], market: str, side: str, notional: int, cost: int
) -> list[pm_book.Holding]:
    out, found = [], False
    for h in holdings:
        if h.market == market and h.side == side:
            h = pm_book.Holding(market, side, h.notional + notional, h.cost_basis + cost)
            found = True
        out.append(h)
    if not found:
        out.append(pm_book.Holding(market, side, notional, cost))
    return out


def open_portfolio(core: Core, c: OpenPortfolio) -> PortfolioOpenResult:
    plan = plan_open_portfolio(core, c)
    journal = Journal()
    wallet = wallet_account(c.account)
    fee_to_fund, fee_to_treasury = fee_split(plan.fee, core.state.rules)
    journal.move(wallet, INSURANCE_FUND, fee_to_fund)
    journal.move(wallet, TREASURY, fee_to_treasury)
    rise = max(0, plan.requirement_after - plan.locked_before)
    core.require_funds(wallet, plan.fee + rise, "portfolio requirement rise plus opening fee")
    delta = lock_moves(core, journal, c.account, plan.requirement_after, "portfolio requirement")
    market = plan.market
    position = core.position_for(c.account, market, c.side)
    position.notional += plan.notional
    position.cost_basis += plan.cost
    market.expose(position, 1)
    position.version += 1
    core.state.dirty_positions.add(position.id)
    core.grow_exposure(market, position, plan.notional)
    market.volume += plan.notional
    core.state.set_requirement(c.account, plan.requirement_after)
    core.commit(
        ev.PortfolioOpened(
            account=c.account,
            market=market.id,
            side=plan.side,
            position=position.id,
            notional=plan.notional,
            cost=plan.cost,
            fee=plan.fee,
            requirement=plan.requirement_after,
            lock_change=delta,
            oi_a=market.oi("A"),
            oi_b=market.oi("B"),
        ),
        journal,
    )
    liquidate(core, market, (OTHER[plan.side],))
    return PortfolioOpenResult(
        position_id=position.id,
        notional=plan.notional,
        cost=plan.cost,
        fee=plan.fee,
        requirement_before=plan.requirement_before,
        requirement=plan.requirement_after,
        locked=core.state.balance(pm_margin_account(c.account)),
        position_notional=position.notional,
        position_cost_basis=position.cost_basis,
    )
