"""Exact resolution shortfall of a market, computed the way the engine settles.

One market's :class:`Book` (what winners are owed, what losers pay, the vault) comes from the
engine's own settlement plan, so the audit's figures are the engine's to the micro-dollar.
"""

from __future__ import annotations

from dataclasses import dataclass

from prophex.engine.events import INSURANCE_FUND, vault_account
from prophex.engine.pm_settlement import plan_with_portfolio
from prophex.engine.state import State
from prophex.errors import ProphexError


class SolvencyError(ProphexError):
    code = "SOLVENCY_AUDIT_FAILED"
    status = 422
    title = "Solvency audit could not run"


@dataclass(frozen=True, slots=True)
class Book:
    """What settlement of one market depends on: money owed to each side and the vault."""

    market: str
    vault: int
    owed: dict[str, int]
    """Profit owed to winners if that side wins."""
    losers_pay: dict[str, int]
    """What the *other* side's positions pay into the vault if this side wins."""


def market_book(state: State, market_id: str) -> Book:
    """Aggregate a market's open positions with the engine's own settlement plan (portfolio
    losers pay from their lock, then wallet, as at resolution). Each market is priced as if it
    resolved alone: an account losing in several markets on one path is counted with its whole
    lock and wallet in each (exact per market; optimistic jointly for such accounts)."""
    positions = [state.positions[i] for i in sorted(state.open_in_market.get(market_id, ()))]
    owed = {"A": 0, "B": 0}
    pays = {"A": 0, "B": 0}
    for outcome in ("A", "B"):
        totals = plan_with_portfolio(state, positions, market_id, outcome, 0, 0)[0].totals
        owed[outcome] = totals.owed_to_winners
        pays[outcome] = totals.vault_after_losers
    return Book(market_id, state.balance(vault_account(market_id)), owed, pays)


def predict_resolution(state: State, market_id: str, outcome: str) -> dict[str, int]:
    """Exactly what resolving ``market_id`` as ``outcome`` now would do to vault and fund."""
    if outcome not in ("A", "B", "UNKNOWN"):
        raise SolvencyError(f"outcome must be A, B or UNKNOWN, got {outcome!r}", field="outcome")
    positions = [state.positions[i] for i in sorted(state.open_in_market.get(market_id, ()))]
    vault, fund = state.balance(vault_account(market_id)), state.balance(INSURANCE_FUND)
    totals = plan_with_portfolio(state, positions, market_id, outcome, vault, fund)[0].totals
    return {
        "owed_to_winners": totals.owed_to_winners,
        "vault_before_draw": totals.vault_after_losers,
        "shortfall": totals.shortfall,
        "fund_draw": totals.fund_draw,
        "uncovered": totals.uncovered,
    }


def shortfall(book: Book, outcome: str, extra_profit: int = 0, extra_pay: int = 0) -> int:
    """Vault shortfall if ``outcome`` wins, with optional added winner profit / loser payment."""
    owed = book.owed[outcome] + extra_profit
    return max(0, owed - book.vault - book.losers_pay[outcome] - extra_pay)
