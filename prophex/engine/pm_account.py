"""What the portfolio controllers share: an account's holdings, its requirement at the
current marks, and the postings that move its lock to a target."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from prophex.engine import pm_book
from prophex.engine.core import Core
from prophex.engine.events import Journal, pm_margin_account, wallet_account
from prophex.engine.state import State
from prophex.errors import InsufficientBalance
from prophex.margin import MarginResult, compute_margin
from prophex.margin.incremental import FastResult
from prophex.money import format_usd

PORTFOLIO = "portfolio"


def is_portfolio(state: State, account: str) -> bool:
    return state.margin_modes.get(account) == PORTFOLIO


def open_holdings(state: State, account: str) -> list[pm_book.Holding]:
    """The account's open positions, by position id."""
    ids = sorted(pid for (acct, _, _), pid in state.open_by_key.items() if acct == account)
    positions = state.positions
    return [
        pm_book.Holding(p.market, p.side, p.notional, p.cost_basis)
        for p in (positions[i] for i in ids)
    ]


def current_marks(state: State, markets: set[str]) -> dict[str, float]:
    return {m: pm_book.mark_a(state.markets[m]) for m in markets}


def requirement_of(
    state: State, holdings: list[pm_book.Holding], marks: dict[str, float] | None = None
) -> tuple[int, FastResult]:
    held = {h.market for h in holdings}
    prices = current_marks(state, held) | (marks or {})
    req, result, _ = pm_book.requirement(holdings, state.markets, prices, state.rules, state.time)
    return req, result


def lock_moves(core: Core, journal: Journal, account: str, target: int, check: str) -> int:
    """Add the postings that move the lock to ``target``; refuse if the wallet cannot pay.

    Returns the signed change of the lock."""
    wallet, locked = wallet_account(account), pm_margin_account(account)
    delta = target - core.pending(journal, locked)
    if delta > 0:
        available = core.pending(journal, wallet)
        if available < delta:
            raise InsufficientBalance(
                f"{check} needs {format_usd(delta)} USD more locked margin (requirement "
                f"{format_usd(target)} USD) but the wallet has {format_usd(available)} USD free",
                check=check,
                required=format_usd(delta),
                available=format_usd(available),
                requirement=format_usd(target),
            )
        journal.move(wallet, locked, delta)
    else:
        journal.move(locked, wallet, -delta)
    return delta


@dataclass(frozen=True, slots=True)
class MarginReport:
    """An account's margin picture (integers in micro-USD; the loss and what depends on it are
    exact fractions, rounded by the reader: a loss never understated)."""

    account: str
    mode: str
    positions: int
    locked: int
    last_requirement: int
    wallet: int
    unrealized_loss: Fraction
    equity: Fraction
    distance_to_liquidation: Fraction
    epoch: int
    paths: int
    result: MarginResult | None


def margin_report(state: State, account: str) -> MarginReport:
    """The account's full margin picture: the waterfall of ``compute_margin`` (both base rules,
    floors, add-ons, binding control, SEs) on its book at the current marks and epoch, the lock,
    unrealised loss, equity and the distance to liquidation ``lock - unrealised loss`` (the
    account is liquidated when it reaches 0)."""
    holdings = open_holdings(state, account)
    locked = state.balance(pm_margin_account(account))
    wallet = state.balance(wallet_account(account))
    loss = Fraction(0)
    for h in holdings:
        market = state.markets[h.market]
        oi_x, den = market.oi(h.side), market.oi("A") + market.oi("B")
        loss += Fraction(h.cost_basis * den - oi_x * h.notional, den)
    result: MarginResult | None = None
    if holdings:
        marks = {h.market: pm_book.mark_a(state.markets[h.market]) for h in holdings}
        book = pm_book.build_book(holdings, state.markets, marks)
        result = compute_margin(book, pm_book.margin_params(state.rules, state.time))
    return MarginReport(
        account=account,
        mode=state.margin_modes.get(account, "isolated"),
        positions=len(holdings),
        locked=locked,
        last_requirement=state.pm_requirement.get(account, 0),
        wallet=wallet,
        unrealized_loss=loss,
        equity=wallet + locked - loss,
        distance_to_liquidation=locked - loss,
        epoch=pm_book.epoch_of(state.rules, state.time),
        paths=state.rules.pm_paths,
        result=result,
    )
