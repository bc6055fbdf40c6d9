"""Simultaneous settlement of several prediction markets (``ResolveBatch``), one transaction.

The sequential rule (one ``Resolve`` per market) lets each resolution draw on the insurance fund
in turn, so when markets resolve together the order decides who is paid: a scenario resolving
several markets at one time sends them in market-id order, and the last ones can be haircut in
full while the first were paid in full. ``ResolveBatch`` shares a shortfall fairly instead:

1. In every market (market-id order), losers pay into its vault exactly as ``Resolve`` does
   (``min(loss, margin)``; the rest of the loss is bad debt).
2. Each market's shortfall is ``max(0, owed - vault)``, its surplus ``max(0, vault - owed)``.
   When ``vault_surplus_to_if`` is on, the surpluses join the fund in a common pool; otherwise
   each surplus stays in its own vault, as after ``Resolve``.
3. What the pool cannot cover, ``uncovered = max(0, total shortfall - pool)``, is cut from the
   profits of **every winner of every market of the batch, pro rata to profit**: largest
   remainder over all the winners (ties by position id), so the haircuts add up to
   ``uncovered`` exactly and every market's winners lose the same fraction of their profit (to
   within one micro-dollar per position).
   With ``loss_sharing="adl"`` the cut follows auto-deleveraging instead (the ranking dYdX v4
   and Hyperliquid use: profit and leverage): winners are ranked by
   ``score = (profit / margin) x (notional / margin)``, highest first (exact fractions; ties
   by position id), and each in turn loses ``min(remaining, profit)`` until ``uncovered`` is
   gone. The least leveraged, least profitable winners keep everything.
4. Money moves through the fund: a vault holding more than it pays out (its surplus and the
   haircuts it keeps) sends the excess to the fund, and the fund tops up every vault that
   holds less. All postings are one balanced ledger transaction of kind ``resolve_batch``.

The work is split like every controller: :func:`plan_batch` computes the journal and every
figure without touching state, :func:`apply_batch` retires the positions and closes the markets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from prophex.engine import journal as ev
from prophex.engine.commands import ResolveBatch
from prophex.engine.core import Core
from prophex.engine.domain import MarketStatus, Outcome, PositionStatus
from prophex.engine.events import (
    INSURANCE_FUND,
    Journal,
    position_account,
    vault_account,
    wallet_account,
)
from prophex.engine.markets import SETTLEABLE, require_status
from prophex.engine.pm_account import is_portfolio
from prophex.engine.results import BatchMarketResult, BatchResult
from prophex.engine.settlement import settlement_value
from prophex.engine.state import Market, Position
from prophex.errors import InvalidCommand
from prophex.money import allocate_pro_rata

OUTCOMES = ("A", "B", "UNKNOWN")
LOSS_SHARING = ("pro_rata", "adl")


def adl_rank(position: Position, pnl: int) -> tuple[Fraction, int]:
    """Sort key, highest score first: score = (pnl / margin) x (notional / margin); a winner
    without margin ranks first; ties by position id."""
    if position.margin <= 0:
        return (Fraction(-(10**30)), position.id)
    return (-Fraction(pnl * position.notional, position.margin * position.margin), position.id)


def allocate_adl(total: int, winners: list[tuple[Position, int]]) -> dict[int, int]:
    """Cut ``total`` from winners in ADL rank order, each losing at most its profit."""
    cuts = {p.id: 0 for p, _ in winners}
    remaining = total
    for position, pnl in sorted(winners, key=lambda w: adl_rank(*w)):
        if remaining <= 0:
            break
        cuts[position.id] = min(remaining, pnl)
        remaining -= cuts[position.id]
    return cuts


@dataclass
class BatchPlan:
    """Everything a batch settlement does, computed without touching state."""

    markets: list[Market]
    journal: Journal = field(default_factory=Journal)
    per_market: dict[str, dict[str, Any]] = field(default_factory=dict)
    winners: list[tuple[Position, int]] = field(default_factory=list)
    settlements: dict[int, dict[str, int]] = field(default_factory=dict)
    positions_of: dict[str, list[Position]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def resolve_batch(core: Core, c: ResolveBatch) -> BatchResult:
    """Settle every market of ``c.outcomes`` at once (see the module docstring)."""
    plan = plan_batch(core, c)
    apply_batch(core, c, plan)
    return BatchResult(
        **plan.summary,
        per_market={
            k: BatchMarketResult(
                Outcome(v["outcome"]), v["owed_to_winners"], v["fund_draw"], v["haircut_total"]
            )
            for k, v in plan.per_market.items()
        },
    )


def _checked_markets(core: Core, c: ResolveBatch) -> list[Market]:
    if not c.outcomes:
        raise InvalidCommand("resolve_batch needs at least one market", field="outcomes")
    if c.loss_sharing not in LOSS_SHARING:
        raise InvalidCommand("loss_sharing must be 'pro_rata' or 'adl'", field="loss_sharing")
    markets: list[Market] = []
    for market_id in sorted(c.outcomes):
        if c.outcomes[market_id] not in OUTCOMES:
            raise InvalidCommand(
                f"outcome of {market_id} must be 'A', 'B' or 'UNKNOWN'", field="outcomes"
            )
        market = core.market(market_id)
        require_status(market.id, market.status, SETTLEABLE, "resolve")
        if market.kind == "perpetual":
            raise InvalidCommand(
                f"{market_id} is perpetual: perpetual markets never resolve", field="outcomes"
            )
        holders = sorted({p.account for p in core.open_positions(market_id)})
        portfolio_holders = [a for a in holders if is_portfolio(core.state, a)]
        if portfolio_holders:
            raise InvalidCommand(
                f"{market_id} has positions of portfolio-mode accounts "
                f"({', '.join(portfolio_holders)}); resolve it with 'resolve', which charges "
                "their full cost to the locked margin",
                field="outcomes",
            )
        markets.append(market)
    return markets


def plan_batch(core: Core, c: ResolveBatch) -> BatchPlan:
    plan = BatchPlan(markets=_checked_markets(core, c))
    for market in plan.markets:
        _collect_losers(core, plan, market, c.outcomes[market.id])
    state = core.state
    pooled = state.rules.vault_surplus_to_if
    fund = state.balance(INSURANCE_FUND)
    total_shortfall = sum(m["shortfall"] for m in plan.per_market.values())
    pool = fund + (sum(m["surplus"] for m in plan.per_market.values()) if pooled else 0)
    uncovered = max(0, total_shortfall - pool)
    if c.loss_sharing == "adl":
        haircuts = allocate_adl(uncovered, plan.winners)
    else:
        haircuts = allocate_pro_rata(uncovered, [(p.id, pnl) for p, pnl in plan.winners])
    transfers = _fund_transfers(plan, haircuts, pooled)
    _pay_winners(plan, haircuts)
    _finish_rows(plan, transfers)
    plan.summary = {
        "markets": [m.id for m in plan.markets],
        "owed_to_winners": sum(pnl for _, pnl in plan.winners),
        "total_shortfall": total_shortfall,
        "fund_before": fund,
        "pooled_surplus": pool - fund,
        "uncovered": uncovered,
        "haircut_total": uncovered,
        "loss_sharing": c.loss_sharing,
        "fund_net_draw": sum(r["fund_draw"] for r in plan.per_market.values())
        - sum(r["to_fund"] for r in plan.per_market.values()),
    }
    return plan


def _collect_losers(core: Core, plan: BatchPlan, market: Market, outcome: str) -> None:
    """Losers pay their vault (``min(loss, margin)``); winners are listed for the cut."""
    vault = vault_account(market.id)
    vault_balance = core.state.balance(vault)
    positions = core.open_positions(market.id)
    plan.positions_of[market.id] = positions
    owed = 0
    market_winners = 0
    for position in positions:
        pnl = settlement_value(position.notional, position.side, outcome) - position.cost_basis
        if pnl >= 0:
            plan.winners.append((position, pnl))
            owed += pnl
            market_winners += 1
            continue
        to_vault = min(-pnl, position.margin)
        plan.journal.move(position_account(position.id), vault, to_vault)
        plan.journal.move(
            position_account(position.id),
            wallet_account(position.account),
            position.margin - to_vault,
        )
        vault_balance += to_vault
        plan.settlements[position.id] = {
            "payout": position.margin - to_vault,
            "pnl": -to_vault,
            "bad_debt": -pnl - to_vault,
        }
    plan.per_market[market.id] = {
        "market": market.id,
        "outcome": outcome,
        "owed_to_winners": owed,
        "vault_before_draw": vault_balance,
        "shortfall": max(0, owed - vault_balance),
        "surplus": max(0, vault_balance - owed),
        "winners": market_winners,
    }


def _fund_transfers(plan: BatchPlan, haircuts: dict[int, int], pooled: bool) -> dict[str, int]:
    """Vault -> fund first (surpluses and kept haircuts), then fund -> vault (top-ups)."""
    market_haircut = {m.id: 0 for m in plan.markets}
    for position, _pnl in plan.winners:
        market_haircut[position.market] += haircuts[position.id]
    transfers: dict[str, int] = {}
    for market in plan.markets:
        row = plan.per_market[market.id]
        kept = 0 if pooled else row["surplus"]
        pays_out = row["owed_to_winners"] - market_haircut[market.id]
        transfers[market.id] = row["vault_before_draw"] - pays_out - kept
        row["haircut_total"] = market_haircut[market.id]
        row["kept_in_vault"] = kept
    for market_id, amount in transfers.items():
        if amount > 0:
            plan.journal.move(vault_account(market_id), INSURANCE_FUND, amount)
    for market_id, amount in transfers.items():
        if amount < 0:
            plan.journal.move(INSURANCE_FUND, vault_account(market_id), -amount)
    return transfers


def _pay_winners(plan: BatchPlan, haircuts: dict[int, int]) -> None:
    for position, pnl in plan.winners:
        wallet = wallet_account(position.account)
        cut = haircuts[position.id]
        plan.journal.move(position_account(position.id), wallet, position.margin)
        plan.journal.move(vault_account(position.market), wallet, pnl - cut)
        plan.settlements[position.id] = {
            "payout": position.margin + pnl - cut,
            "pnl": pnl - cut,
            "bad_debt": 0,
            "haircut": cut,
        }


def _finish_rows(plan: BatchPlan, transfers: dict[str, int]) -> None:
    for market in plan.markets:
        row = plan.per_market[market.id]
        row["fund_draw"] = max(0, -transfers[market.id])
        row["to_fund"] = max(0, transfers[market.id])
        positions = plan.positions_of[market.id]
        row["bad_debt"] = sum(plan.settlements[p.id]["bad_debt"] for p in positions)
        row["settlements"] = {
            str(p.id): {**plan.settlements[p.id], "account": p.account} for p in positions
        }


def apply_batch(core: Core, c: ResolveBatch, plan: BatchPlan) -> None:
    """Retire every settled position, close the markets, and journal the one transaction."""
    state = core.state
    for market in plan.markets:
        for position in plan.positions_of[market.id]:
            record = plan.settlements[position.id]
            position.realized_pnl += record["pnl"]
            position.haircut += record.get("haircut", 0)
            position.margin = 0
            core.shrink_exposure(market, position, position.notional)
            core.retire(position, PositionStatus.SETTLED)
        market.status = MarketStatus.RESOLVED.value
        market.outcome = c.outcomes[market.id]
        market.bad_debt += plan.per_market[market.id]["bad_debt"]
        market.liquidations.heaps = {"A": [], "B": []}
        market.win_profit = {"A": 0, "B": 0}
        market.collectible = {"A": 0, "B": 0}
        state.dirty_markets.add(market.id)
    core.commit(
        ev.SettledBatch(**plan.summary, per_market=plan.per_market),
        plan.journal,
    )
