"""Opening, closing and adding margin to isolated positions."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from prophex.engine import amm
from prophex.engine import journal as ev
from prophex.engine.caps import CapHeadroom
from prophex.engine.commands import AddMargin, Close, Open
from prophex.engine.controllers.liquidation import liquidate
from prophex.engine.controllers.risk import check_coverage
from prophex.engine.core import Core
from prophex.engine.domain import OTHER, SIDE_OF, PositionStatus, Side
from prophex.engine.events import (
    INSURANCE_FUND,
    TREASURY,
    Journal,
    position_account,
    vault_account,
    wallet_account,
)
from prophex.engine.fees import fee_split, trading_fee
from prophex.engine.markets import TRADING, require_status
from prophex.engine.positions import partial_shares
from prophex.engine.results import CloseResult, MarginResult, OpenResult
from prophex.engine.state import Market, Position
from prophex.errors import (
    CloseTooLarge,
    InvalidCommand,
    LeverageTooHigh,
    PositionTooSmall,
    SlippageExceeded,
)
from prophex.money import MAX_AMOUNT, centi_of_down, check_amount, format_prices_apart, format_usd
from prophex.params import Rules


@dataclass(frozen=True, slots=True)
class OpenPlan:
    """Everything an open would do, computed without changing state (also serves quotes)."""

    market: Market
    side: Side
    notional: int
    fee: int
    cost: int
    headroom: CapHeadroom
    available: int


def _check_order_terms(c: Open, rules: Rules) -> int:
    """Validate side, margin and leverage; return the notional (rounded down)."""
    if c.side not in OTHER:
        raise InvalidCommand("side must be 'A' or 'B'", field="side")
    check_amount(c.margin, field="margin")
    if c.leverage_centi < 100:
        raise InvalidCommand("leverage must be at least 1", field="leverage")
    if c.leverage_centi > rules.max_leverage_centi:
        raise LeverageTooHigh(
            f"leverage {c.leverage_centi / 100:g} exceeds the maximum "
            f"{rules.max_leverage_centi / 100:g}",
            field="leverage",
            max_leverage=f"{rules.max_leverage_centi / 100:g}",
        )
    notional = centi_of_down(c.margin, c.leverage_centi)
    if notional < rules.min_notional:
        raise PositionTooSmall(
            f"notional {format_usd(notional)} USD is below the minimum "
            f"{format_usd(rules.min_notional)} USD",
            field="margin",
        )
    if notional > MAX_AMOUNT:
        check_amount(notional, field="notional")
    return notional


def plan_open(core: Core, c: Open, *, enforce: bool = True) -> OpenPlan:
    """Validate an open and price it. With ``enforce=False`` (quotes) balance and caps are
    reported rather than enforced."""
    rules = core.state.rules
    market = core.market(c.market)
    if market.status != "open":
        require_status(c.market, market.status, TRADING, "open a position")
    notional = _check_order_terms(c, rules)
    fee = trading_fee(notional, rules)
    headroom = core.cap_headroom(c.account, market)
    wallet = wallet_account(c.account)
    available = core.state.balances.get(wallet, 0)
    if enforce and available < c.margin + fee:
        core.require_funds(wallet, c.margin + fee, "margin plus opening fee")
    if enforce:
        headroom.check(notional, check_market=rules.cap_rule == "fixed")
    cost = amm.open_cost(market.oi(c.side), market.oi(OTHER[c.side]), notional)
    if enforce and rules.cap_rule == "coverage":
        check_coverage(core, c, market, notional, cost)
    bound = c.max_avg_price
    if bound is not None and cost * bound.denominator > bound.numerator * notional:
        average, limit = format_prices_apart(Fraction(cost, notional), bound)
        raise SlippageExceeded(
            f"average price {average} is above the bound {limit}",
            average_price=average,
            bound=limit,
        )
    return OpenPlan(market, SIDE_OF[c.side], notional, fee, cost, headroom, available)


def open_position(core: Core, c: Open) -> OpenResult:
    plan = plan_open(core, c)
    market, notional = plan.market, plan.notional
    position = core.position_for(c.account, market, c.side)
    wallet = wallet_account(c.account)
    fee_to_fund, fee_to_treasury = fee_split(plan.fee, core.state.rules)
    journal = Journal()
    journal.move(wallet, position_account(position.id), c.margin)
    journal.move(wallet, INSURANCE_FUND, fee_to_fund)
    journal.move(wallet, TREASURY, fee_to_treasury)
    position.notional += notional
    position.cost_basis += plan.cost
    position.margin += c.margin
    market.expose(position, 1)
    core.reindex(market, position)
    core.grow_exposure(market, position, notional)
    market.volume += notional
    core.commit(
        ev.Opened(
            account=c.account,
            market=market.id,
            side=plan.side,
            position=position.id,
            notional=notional,
            cost=plan.cost,
            margin=c.margin,
            fee=plan.fee,
            oi_a=market.oi("A"),
            oi_b=market.oi("B"),
        ),
        journal,
    )
    liquidate(core, market, (OTHER[plan.side],))
    return OpenResult(
        position_id=position.id,
        notional=notional,
        cost=plan.cost,
        fee=plan.fee,
        margin=c.margin,
        position_notional=position.notional,
        position_cost_basis=position.cost_basis,
        position_margin=position.margin,
    )


def add_margin(core: Core, c: AddMargin) -> MarginResult:
    position = core.own_position(c.account, c.position_id)
    check_amount(c.amount)
    wallet = wallet_account(c.account)
    core.require_funds(wallet, c.amount, "add margin")
    journal = Journal()
    journal.move(wallet, position_account(position.id), c.amount)
    market = core.state.markets[position.market]
    market.expose(position, -1)
    position.margin += c.amount
    market.expose(position, 1)
    core.reindex(market, position)
    core.commit(ev.MarginAdded(c.account, position.id, c.amount), journal)
    return MarginResult(position.id, position.margin)


@dataclass(frozen=True, slots=True)
class ClosePlan:
    """Everything a close would do, computed without changing state."""

    position: Position
    market: Market
    closing: int
    proceeds: int
    cost_part: int
    margin_part: int
    realized: int
    fee: int
    fund_draw: int
    haircut: int
    bad_debt: int
    journal: Journal


class ClosedFigures(Protocol):
    """What an isolated and a portfolio close both report (their events and results); read-only,
    as the frozen plans are."""

    @property
    def position(self) -> Position: ...

    @property
    def market(self) -> Market: ...

    @property
    def closing(self) -> int: ...

    @property
    def proceeds(self) -> int: ...

    @property
    def cost_part(self) -> int: ...

    @property
    def realized(self) -> int: ...

    @property
    def fee(self) -> int: ...

    @property
    def fund_draw(self) -> int: ...

    @property
    def haircut(self) -> int: ...

    @property
    def bad_debt(self) -> int: ...


CloseEventHead = tuple[str, str, Side, int, int, int, int, int, int, int, int, int]
"""The leading fields of the ``close`` and ``pm_close`` events, positionally (see
:class:`~prophex.engine.journal._CloseFigures` for their names and order)."""


def close_event_head(account: str, plan: ClosedFigures) -> CloseEventHead:
    """The fields the ``close`` and ``pm_close`` events share, in their journal order."""
    position = plan.position
    return (
        account,
        plan.market.id,
        SIDE_OF[position.side],
        position.id,
        plan.closing,
        plan.proceeds,
        plan.cost_part,
        plan.realized,
        plan.fee,
        plan.fund_draw,
        plan.haircut,
        plan.bad_debt,
    )


def close_result(
    plan: ClosedFigures, requirement: int | None = None, locked: int | None = None
) -> CloseResult:
    """The receipt result of a close (the position's notional after it; a portfolio close
    adds the account's ``requirement`` and ``locked`` after it)."""
    return CloseResult(
        position_id=plan.position.id,
        closed_notional=plan.closing,
        proceeds=plan.proceeds,
        realized_pnl=plan.realized,
        fee=plan.fee,
        haircut=plan.haircut,
        remaining_notional=plan.position.notional,
        requirement=requirement,
        locked=locked,
    )


def _check_close(core: Core, c: Close) -> tuple[Position, Market, int, int]:
    """Validate a close; return (position, market, notional closing, curve proceeds)."""
    position = core.own_position(c.account, c.position_id)
    market = core.market(position.market)
    require_status(market.id, market.status, TRADING, "close a position")
    closing = position.notional if c.notional is None else c.notional
    check_amount(closing, field="notional")
    if closing > position.notional:
        raise CloseTooLarge(
            f"cannot close {format_usd(closing)} USD of a {format_usd(position.notional)} "
            "USD position",
            requested=format_usd(closing),
            held=format_usd(position.notional),
        )
    side = position.side
    proceeds = amm.close_proceeds(market.oi(side), market.oi(OTHER[side]), closing)
    bound = c.min_avg_price
    if bound is not None and proceeds * bound.denominator < bound.numerator * closing:
        average, limit = format_prices_apart(Fraction(proceeds, closing), bound)
        raise SlippageExceeded(
            f"average exit price {average} is below the bound {limit}",
            average_price=average,
            bound=limit,
        )
    return position, market, closing, proceeds


def _pay_profit(
    core: Core, journal: Journal, market_id: str, wallet: str, profit: int
) -> tuple[int, int]:
    """Pay a profit from the vault; the fund covers any shortfall at once; what the fund
    cannot cover is a recorded haircut. Returns (fund draw, haircut)."""
    vault = vault_account(market_id)
    shortfall = max(0, profit - core.pending(journal, vault))
    draw = min(shortfall, core.pending(journal, INSURANCE_FUND))
    journal.move(INSURANCE_FUND, vault, draw)
    haircut = shortfall - draw
    journal.move(vault, wallet, profit - haircut)
    return draw, haircut


def plan_close(core: Core, c: Close) -> ClosePlan:
    """Validate and price a close, and gather its postings; touches no state."""
    position, market, closing, proceeds = _check_close(core, c)
    cost_part, margin_part = partial_shares(
        position.notional, position.cost_basis, position.margin, closing
    )
    pnl = proceeds - cost_part
    wallet, account = wallet_account(c.account), position_account(position.id)
    journal = Journal()
    fund_draw = haircut = bad_debt = 0
    if pnl >= 0:
        journal.move(account, wallet, margin_part)
        fund_draw, haircut = _pay_profit(core, journal, market.id, wallet, pnl)
        realized = pnl - haircut
    else:
        to_vault = min(-pnl, margin_part)
        journal.move(account, vault_account(market.id), to_vault)
        journal.move(account, wallet, margin_part - to_vault)
        bad_debt = -pnl - to_vault
        realized = -to_vault
    rules = core.state.rules
    fee = min(trading_fee(closing, rules), core.pending(journal, wallet))
    fee_to_fund, fee_to_treasury = fee_split(fee, rules)
    journal.move(wallet, INSURANCE_FUND, fee_to_fund)
    journal.move(wallet, TREASURY, fee_to_treasury)
    return ClosePlan(
        position,
        market,
        closing,
        proceeds,
        cost_part,
        margin_part,
        realized,
        fee,
        fund_draw,
        haircut,
        bad_debt,
        journal,
    )


def _apply_close(core: Core, plan: ClosePlan) -> None:
    position, market = plan.position, plan.market
    market.expose(position, -1)
    position.notional -= plan.closing
    position.cost_basis -= plan.cost_part
    position.margin -= plan.margin_part
    position.realized_pnl += plan.realized
    position.haircut += plan.haircut
    core.shrink_exposure(market, position, plan.closing)
    market.volume += plan.closing
    market.bad_debt += plan.bad_debt
    if position.notional == 0:
        core.retire(position, PositionStatus.CLOSED)
    else:
        market.expose(position, 1)
        core.reindex(market, position)


def close_position(core: Core, c: Close) -> CloseResult:
    plan = plan_close(core, c)
    _apply_close(core, plan)
    position, market = plan.position, plan.market
    core.commit(
        ev.Closed(*close_event_head(c.account, plan), oi_a=market.oi("A"), oi_b=market.oi("B")),
        plan.journal,
    )
    liquidate(core, market, (position.side,))
    return close_result(plan)
