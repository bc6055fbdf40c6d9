"""Resolution of portfolio-mode positions (pure): losers pay their full loss.

A portfolio position has no margin of its own, so a losing one pays its whole loss
``C - value`` (``e * N`` when its side loses) from the account's lock ``pm_margin:<account>``
first, then its wallet, in ascending position id; only what both cannot pay is bad debt.
Winners are paid by the common settlement plan (their margin is 0).
"""

from __future__ import annotations

from prophex.engine.events import Journal, pm_margin_account, vault_account, wallet_account
from prophex.engine.settlement import SettlementPlan, plan_settlement, settlement_value
from prophex.engine.state import Position, State

PORTFOLIO = "portfolio"


def plan_losers(
    state: State, positions: list[Position], market_id: str, outcome: str
) -> tuple[Journal, dict[int, dict[str, int | str]], int]:
    """Portfolio losers pay their full loss ``C - value`` from the lock, then the wallet; only
    beyond both is it bad debt. Returns (postings, per-position records, collected)."""
    journal = Journal()
    records: dict[int, dict[str, int | str]] = {}
    collected = 0
    pending: dict[str, int] = {}
    for p in positions:
        loss = p.cost_basis - settlement_value(p.notional, p.side, outcome)
        lock, wallet = pm_margin_account(p.account), wallet_account(p.account)
        from_lock = min(loss, pending.setdefault(lock, state.balance(lock)))
        from_wallet = min(loss - from_lock, pending.setdefault(wallet, state.balance(wallet)))
        pending[lock] -= from_lock
        pending[wallet] -= from_wallet
        journal.move(lock, vault_account(market_id), from_lock)
        journal.move(wallet, vault_account(market_id), from_wallet)
        collected += from_lock + from_wallet
        bad = loss - from_lock - from_wallet
        records[p.id] = {
            "payout": 0,
            "pnl": -(from_lock + from_wallet),
            "bad_debt": bad,
            "from_lock": from_lock,
            "from_wallet": from_wallet,
            "account": p.account,
        }
    return journal, records, collected


def split_portfolio_losers(
    state: State, positions: list[Position], outcome: str | None
) -> tuple[list[Position], list[Position]]:
    """(positions settled by the common plan, portfolio losers settled here)."""
    if outcome is None or not state.margin_modes:
        return positions, []
    common, losers = [], []
    for p in positions:
        portfolio = state.margin_modes.get(p.account) == PORTFOLIO
        if portfolio and settlement_value(p.notional, p.side, outcome) < p.cost_basis:
            losers.append(p)
        else:
            common.append(p)
    return common, losers


def plan_with_portfolio(
    state: State,
    positions: list[Position],
    market_id: str,
    outcome: str | None,
    vault: int,
    fund: int,
    *,
    surplus_to_fund: bool = True,
) -> tuple[SettlementPlan, Journal, dict[int, dict[str, int | str]]]:
    """The whole settlement of a market: portfolio losers first (lock, then wallet), then the
    common plan with what they paid already in the vault. Used by resolution and by the
    solvency audit, so both count portfolio accounts the same way."""
    common, losers = split_portfolio_losers(state, positions, outcome)
    pm_journal, pm_records, collected = plan_losers(state, losers, market_id, outcome or "")
    plan = plan_settlement(
        common, market_id, outcome, vault + collected, fund, surplus_to_fund=surplus_to_fund
    )
    return plan, pm_journal, pm_records
