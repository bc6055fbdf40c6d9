"""Portfolio accounts under price moves and resolution: account liquidation and settlement.

**Trigger.** A portfolio account is liquidated the moment the unrealised loss of its whole
book at mark, ``sum_i (C_i - price_X_i * N_i)`` (exact rationals, no rounding), is >= its
locked margin ``L = balance(pm_margin:<account>)``.

**Order.** After a command, the markets whose price moved are processed in the order they
first moved; for each: the isolated heaps of both sides are drained (highest liquidation
price first, ties by lowest position id), then every portfolio account holding a position
in it is checked, in ascending account name. A liquidated account's book is closed in
ascending position id, each close moving its market; every market so moved joins the end
of the queue. The pass ends when the queue is empty.

**Liquidation.** Every position is closed at the curve. The locked margin L is seized:
split over the closed positions pro rata to their exit losses ``max(0, C_i - proceeds_i)``
(largest remainder, ties by position id; all to the first position when no leg lost), each
share split ``liq_penalty_to_if`` to the insurance fund and the rest to the position's
market vault, as for an isolated liquidation. A leg's loss beyond its share is bad debt of
its market; a leg's exit gain stays in its vault (the account loses exactly L). The
requirement and the lock end at 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

from prophex.engine import amm
from prophex.engine import journal as ev
from prophex.engine.controllers.liquidation import liquidate
from prophex.engine.core import Core
from prophex.engine.domain import OTHER, SIDE_OF, SIDES, PositionStatus
from prophex.engine.events import (
    INSURANCE_FUND,
    Journal,
    Transaction,
    pm_margin_account,
    vault_account,
    wallet_account,
)
from prophex.engine.fees import penalty_split
from prophex.engine.pm_account import PORTFOLIO, open_holdings, requirement_of
from prophex.engine.state import Market, Position, State
from prophex.errors import InvalidCommand
from prophex.money import allocate_pro_rata

PRICE_MOVES = (
    ev.Opened,
    ev.Closed,
    ev.Liquidated,
    ev.PortfolioOpened,
    ev.PortfolioClosed,
    ev.PortfolioLiquidated,
)
"""The events that move a market's price (each names its market)."""


def account_positions(state: State, account: str) -> list[Position]:
    ids = sorted(pid for (acct, _, _), pid in state.open_by_key.items() if acct == account)
    return [state.positions[i] for i in ids]


def unrealized_loss(state: State, positions: Iterable[Position]) -> Fraction:
    """Exact ``sum (C - price_X * N)`` at the current marks."""
    total = Fraction(0)
    for p in positions:
        market = state.markets[p.market]
        oi_x, oi_o = market.oi(p.side), market.oi(OTHER[p.side])
        total += Fraction(p.cost_basis * (oi_x + oi_o) - oi_x * p.notional, oi_x + oi_o)
    return total


def is_account_liquidatable(state: State, account: str) -> bool:
    positions = account_positions(state, account)
    if not positions:
        return False
    return unrealized_loss(state, positions) >= state.balance(pm_margin_account(account))


def holders(state: State, market_id: str) -> list[str]:
    positions = state.positions
    modes = state.margin_modes
    return sorted(
        {
            positions[i].account
            for i in state.open_in_market.get(market_id, ())
            if modes.get(positions[i].account) == PORTFOLIO
        }
    )


def risk_pass(core: Core, transactions: list[Transaction]) -> None:
    """Run after every command while portfolio accounts exist (see the module docstring)."""
    state = core.state
    queue: list[str] = []
    accounts: list[str] = []
    for txn in list(transactions):
        event = txn.event
        if isinstance(event, PRICE_MOVES):
            _queue_all(queue, [event.market])
        elif isinstance(event, ev.Settled):
            accounts += _relock_settled(core, event.settlements)
    for account in sorted(set(accounts)):
        if is_account_liquidatable(state, account):
            _queue_all(queue, liquidate_account(core, account))
    while queue:
        market = state.markets[queue.pop(0)]
        if market.status not in ("open", "halted"):
            continue
        liquidate(core, market, SIDES)
        for account in holders(state, market.id):
            if is_account_liquidatable(state, account):
                _queue_all(queue, liquidate_account(core, account))


def _relock_settled(core: Core, settlements: Mapping[str, Mapping[str, int | str]]) -> list[str]:
    state = core.state
    settled = {str(r["account"]) for r in settlements.values()}
    held = sorted(a for a in settled if state.margin_modes.get(a) == PORTFOLIO)
    relock_after_settlement(core, held)
    return held


def _queue_all(queue: list[str], markets: list[str]) -> None:
    for m in markets:
        if m not in queue:
            queue.append(m)


def liquidate_account(core: Core, account: str) -> list[str]:
    """Close the whole book of ``account`` (see the module docstring): one ``pm_liquidation``
    transaction per position, in position id order; return the markets it moved, in order."""
    state = core.state
    locked = state.balance(pm_margin_account(account))
    exits: list[tuple[Position, Market, int, int, int]] = []
    for p in account_positions(state, account):
        market = state.markets[p.market]
        oi_x, oi_o = market.oi(p.side), market.oi(OTHER[p.side])
        proceeds = amm.close_proceeds(oi_x, oi_o, p.notional)
        exits.append((p, market, proceeds, oi_x, oi_o))
        market.add_real_oi(p.side, -p.notional)  # later legs exit after this one's move
    for p, market, *_ in exits:
        market.add_real_oi(p.side, p.notional)
    weights = [(p.id, max(0, p.cost_basis - proceeds)) for p, _, proceeds, _, _ in exits]
    if sum(w for _, w in weights) == 0:
        weights = [(exits[0][0].id, 1)]
    seized = allocate_pro_rata(locked, weights)
    moved: list[str] = []
    state.set_requirement(account, 0)
    for p, market, proceeds, oi_x, oi_o in exits:
        share = seized.get(p.id, 0)
        to_fund, to_vault = penalty_split(share, state.rules)
        journal = Journal()
        journal.move(pm_margin_account(account), INSURANCE_FUND, to_fund)
        journal.move(pm_margin_account(account), vault_account(market.id), to_vault)
        bad_debt = max(0, p.cost_basis - proceeds - share)
        notional, cost_basis = p.notional, p.cost_basis
        _retire(core, market, p, share, bad_debt)
        record = ev.PortfolioLiquidated(
            account=account,
            market=market.id,
            side=SIDE_OF[p.side],
            position=p.id,
            notional=notional,
            cost_basis=cost_basis,
            exit_proceeds=proceeds,
            mark_num=oi_x,
            mark_den=oi_x + oi_o,
            locked=locked,
            seized=share,
            penalty_to_fund=to_fund,
            to_vault=to_vault,
            bad_debt=bad_debt,
            oi_a=market.oi("A"),
            oi_b=market.oi("B"),
        )
        core.commit(record, journal)
        if market.id not in moved:
            moved.append(market.id)
    return moved


def _retire(core: Core, market: Market, p: Position, seized: int, bad_debt: int) -> None:
    market.expose(p, -1)
    p.realized_pnl -= seized
    core.shrink_exposure(market, p, p.notional)
    market.bad_debt += bad_debt
    core.retire(p, PositionStatus.LIQUIDATED)


# ---------------------------------------------------------------------- resolution


def relock_after_settlement(core: Core, accounts: list[str]) -> None:
    """After a market settles, each portfolio account that held it re-locks its requirement
    (capped by what lock plus wallet hold: a requirement the account cannot cover leaves the
    wallet empty, and the risk pass then liquidates the account if its loss reaches the lock)."""
    state = core.state
    for account in sorted(set(accounts)):
        if state.margin_modes.get(account) != PORTFOLIO:
            continue
        holdings = open_holdings(state, account)
        try:
            target, _ = requirement_of(state, holdings)
        except InvalidCommand:  # cannot happen for a book priced at its orders; if it
            target = sum(h.cost_basis for h in holdings)  # did: full collateral, never less
        lock, wallet = pm_margin_account(account), wallet_account(account)
        have = state.balance(lock)
        new = min(target, have + state.balance(wallet))
        journal = Journal()
        if new > have:
            journal.move(wallet, lock, new - have)
        else:
            journal.move(lock, wallet, have - new)
        state.set_requirement(account, target)
        core.commit(ev.PortfolioRelocked(account=account, requirement=target, locked=new), journal)
