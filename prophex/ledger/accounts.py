"""The chart of accounts, and which balances may legitimately be negative."""

from __future__ import annotations

from prophex.engine.events import (
    EXTERNAL,
    INSURANCE_FUND,
    TREASURY,
    pm_margin_account,
    position_account,
    vault_account,
    wallet_account,
)

CHART = {
    EXTERNAL: "the outside world: deposits in, withdrawals out (the only negative balance)",
    "wallet:<account>": "a trader's free collateral",
    "position:<id>": "isolated margin locked in one position",
    "pm_margin:<account>": "portfolio-mode margin: the locked requirement of a portfolio account",
    "vault:<market>": "a market's collateral vault: losers pay in, winners are paid out",
    INSURANCE_FUND: "seeded at genesis; fee and penalty cuts; covers vault shortfalls",
    TREASURY: "the protocol's share of trading fees",
}


def kind_of(account: str) -> str:
    """The account's kind: the part before ':' (or the whole name for singletons)."""
    return account.split(":", 1)[0]


__all__ = [
    "CHART",
    "EXTERNAL",
    "INSURANCE_FUND",
    "TREASURY",
    "kind_of",
    "pm_margin_account",
    "position_account",
    "vault_account",
    "wallet_account",
]
