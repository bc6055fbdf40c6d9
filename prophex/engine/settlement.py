"""Resolution values, and the one settlement plan: who pays, who is paid, what the fund covers
and what is haircut.

:func:`plan_settlement` is pure: it reads positions and balances and returns the postings and
per-position figures. Resolution applies it; the solvency audit reads its totals; the O(1)
shortfall preview feeds :func:`settlement_totals` (the same arithmetic) with the per-market
aggregates instead of the positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from prophex.engine.events import (
    INSURANCE_FUND,
    Journal,
    position_account,
    vault_account,
    wallet_account,
)
from prophex.money import allocate_pro_rata, fraction_of_floor

SETTLEMENT_PRICE_A: dict[str, Fraction] = {
    "A": Fraction(1),
    "B": Fraction(0),
    "UNKNOWN": Fraction(1, 2),
}
"""Price of side A at resolution, by outcome (side B is worth one minus it)."""


def settlement_price(side: str, outcome: str) -> Fraction:
    price_a = SETTLEMENT_PRICE_A[outcome]
    return price_a if side == "A" else 1 - price_a


def settlement_value(notional: int, side: str, outcome: str) -> int:
    """What N contracts on ``side`` are worth at resolution, rounded down."""
    return fraction_of_floor(notional, settlement_price(side, outcome))


class Settleable(Protocol):
    """What settlement reads of a position."""

    @property
    def id(self) -> int: ...
    @property
    def account(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def notional(self) -> int: ...
    @property
    def cost_basis(self) -> int: ...
    @property
    def margin(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SettlementTotals:
    """The market-level arithmetic of one outcome."""

    owed_to_winners: int
    vault_after_losers: int
    shortfall: int
    fund_draw: int
    uncovered: int

    def as_dict(self) -> dict[str, int]:
        return {
            "owed_to_winners": self.owed_to_winners,
            "vault_after_losers": self.vault_after_losers,
            "shortfall": self.shortfall,
            "fund_draw": self.fund_draw,
            "uncovered": self.uncovered,
        }


def settlement_totals(owed: int, vault_after_losers: int, fund: int) -> SettlementTotals:
    """Winners are owed ``owed``; the vault holds ``vault_after_losers`` once losers paid; the
    fund covers the shortfall up to its balance; the rest is haircut from winners."""
    shortfall = max(0, owed - vault_after_losers)
    draw = min(shortfall, fund)
    return SettlementTotals(owed, vault_after_losers, shortfall, draw, shortfall - draw)


@dataclass(frozen=True, slots=True)
class PositionSettlement:
    position_id: int
    account: str
    payout: int
    pnl: int
    bad_debt: int
    haircut: int
    winner: bool

    def record(self) -> dict[str, int | str]:
        """The journal's per-position record (winners alone carry a ``haircut`` key)."""
        data: dict[str, int | str] = {
            "payout": self.payout,
            "pnl": self.pnl,
            "bad_debt": self.bad_debt,
        }
        if self.winner:
            data["haircut"] = self.haircut
        data["account"] = self.account
        return data


@dataclass(frozen=True, slots=True)
class SettlementPlan:
    outcome: str | None
    settlements: tuple[PositionSettlement, ...]
    totals: SettlementTotals
    surplus_to_fund: int
    bad_debt: int
    journal: Journal


def plan_settlement(
    positions: Sequence[Settleable],
    market_id: str,
    outcome: str | None,
    vault: int,
    fund: int,
    *,
    surplus_to_fund: bool = True,
) -> SettlementPlan:
    """Resolve to ``outcome`` (A, B or UNKNOWN) or void (``None``), without touching state.

    Losers pay ``min(-pnl, margin)`` into the vault first (the rest of a loss is bad debt),
    then winners are paid ``pnl`` less their haircut and get their margin back; the fund
    covers the vault's shortfall, what it cannot cover is haircut pro rata (largest
    remainder), and the vault's surplus goes to the fund when ``surplus_to_fund``.
    """
    journal = Journal()
    vault_name = vault_account(market_id)
    settled: list[PositionSettlement] = []
    winners: list[tuple[Settleable, int]] = []
    collected = 0
    for p in positions:
        wallet, account = wallet_account(p.account), position_account(p.id)
        if outcome is None:
            journal.move(account, wallet, p.margin)
            settled.append(PositionSettlement(p.id, p.account, p.margin, 0, 0, 0, False))
            continue
        pnl = settlement_value(p.notional, p.side, outcome) - p.cost_basis
        if pnl >= 0:
            winners.append((p, pnl))
            continue
        to_vault = min(-pnl, p.margin)
        journal.move(account, vault_name, to_vault)
        journal.move(account, wallet, p.margin - to_vault)
        collected += to_vault
        payout = p.margin - to_vault
        settled.append(
            PositionSettlement(p.id, p.account, payout, -to_vault, -pnl - to_vault, 0, False)
        )
    totals = settlement_totals(sum(pnl for _, pnl in winners), vault + collected, fund)
    journal.move(INSURANCE_FUND, vault_name, totals.fund_draw)
    haircuts = allocate_pro_rata(totals.uncovered, [(p.id, pnl) for p, pnl in winners])
    for p, pnl in winners:
        wallet, cut = wallet_account(p.account), haircuts[p.id]
        journal.move(position_account(p.id), wallet, p.margin)
        journal.move(vault_name, wallet, pnl - cut)
        settled.append(
            PositionSettlement(p.id, p.account, p.margin + pnl - cut, pnl - cut, 0, cut, True)
        )
    paid = totals.owed_to_winners - totals.uncovered
    vault_after = totals.vault_after_losers + totals.fund_draw - paid
    surplus = vault_after if surplus_to_fund else 0
    journal.move(vault_name, INSURANCE_FUND, surplus)
    bad_debt = sum(s.bad_debt for s in settled)
    return SettlementPlan(outcome, tuple(settled), totals, surplus, bad_debt, journal)


__all__ = [
    "SETTLEMENT_PRICE_A",
    "PositionSettlement",
    "SettlementPlan",
    "SettlementTotals",
    "allocate_pro_rata",
    "plan_settlement",
    "settlement_price",
    "settlement_totals",
    "settlement_value",
]
