"""What a replay measures, read from receipts (the engine's own account of what happened).

Nothing is recomputed on the side: volume, fees, liquidations, fund draws and haircuts are
summed from the typed journal events the engine emits (:mod:`prophex.engine.journal`, read
field by field), so the report cannot disagree with the ledger. All amounts are integer micro-USD.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prophex.engine.commands import Command
from prophex.engine.events import INSURANCE_FUND, Receipt
from prophex.engine.journal import (
    Closed,
    Event,
    FundingPaid,
    Liquidated,
    MarketHalted,
    MarketResumed,
    Opened,
    PortfolioClosed,
    PortfolioLiquidated,
    PortfolioOpened,
    Settled,
    SettledBatch,
    kind_of,
)
from prophex.engine.state import State
from prophex.errors import ProphexError

Fill = Opened | Closed | Liquidated | PortfolioOpened | PortfolioClosed | PortfolioLiquidated
"""The events a trade record is made from (the notebook API's ``trades``)."""


@dataclass(slots=True)
class MarketStats:
    volume: int = 0
    fees: int = 0
    liquidations: int = 0
    liquidated_notional: int = 0
    liquidation_to_vault: int = 0
    penalties_to_fund: int = 0
    bad_debt: int = 0
    liquidation_gap: int = 0
    """Loss liquidations left: cost basis beyond exit proceeds and seized margin."""
    unposted_premium: int = 0
    """At resolution: losers' premium beyond their margin, never posted (not a fund loss)."""
    close_fund_draw: int = 0
    close_haircut: int = 0
    funding_paid: int = 0
    resolution: dict[str, Any] | None = None
    series: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    """(time, OI A, OI B, real OI A, real OI B) samples; price A = OI A / (OI A + OI B)."""


@dataclass(slots=True)
class Cascade:
    size: int = 0
    notional: int = 0
    command_seq: int = 0
    time: int = 0
    market: str = ""


@dataclass(slots=True)
class Metrics:
    submitted: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    volume: int = 0
    fees: int = 0
    liquidations: int = 0
    liquidated_notional: int = 0
    bad_debt: int = 0
    funding_paid: int = 0
    fund_draw_closes: int = 0
    fund_draw_resolutions: int = 0
    haircuts: dict[int, int] = field(default_factory=dict)
    deepest: Cascade = field(default_factory=Cascade)
    markets: dict[str, MarketStats] = field(default_factory=dict)
    fund_path: list[tuple[int, int]] = field(default_factory=list)
    liquidation_timeline: list[tuple[int, str, int, int]] = field(default_factory=list)
    """(time, market, notional, size of the cascade it belonged to)."""
    liquidation_detail: list[tuple[int, str, str, int, int]] = field(default_factory=list)
    """(time, market, side, notional, loss it caused = its bad debt), in liquidation order."""
    funding_timeline: list[tuple[int, str, str, int]] = field(default_factory=list)
    """(time, market, paying side, amount) of every funding payment."""
    events: list[tuple[int, str, str]] = field(default_factory=list)
    """(time, market, what): halt, resume, resolve A/B/UNKNOWN, void, shock (for plot markers)."""
    fund_draws: list[tuple[int, int]] = field(default_factory=list)
    """(time, amount) of every fund draw on a close or at a resolution."""
    trades: list[dict[str, Any]] | None = None
    """Every open, close and liquidation when set to a list (the notebook API does; replays
    of a million commands leave it ``None``)."""
    _time: int = 0

    def _trade(
        self,
        kind: str,
        e: Fill,
        amount: int,
        *,
        fee: int = 0,
        fund_draw: int = 0,
        haircut: int = 0,
        bad_debt: int = 0,
    ) -> None:
        if self.trades is not None:
            self.trades.append(
                {
                    "time": self._time,
                    "kind": kind,
                    "account": e.account,
                    "market": e.market,
                    "side": str(e.side),
                    "position": e.position,
                    "notional": e.notional,
                    "amount": amount,
                    "fee": fee,
                    "fund_draw": fund_draw,
                    "haircut": haircut,
                    "bad_debt": bad_debt,
                    "price_a_after": e.oi_a / (e.oi_a + e.oi_b),
                }
            )

    def market(self, market_id: str) -> MarketStats:
        stats = self.markets.get(market_id)
        if stats is None:
            stats = self.markets[market_id] = MarketStats()
        return stats

    def record(
        self, commands: list[Command], results: list[Receipt | ProphexError], time: int
    ) -> None:
        """Fold one executed batch into the totals."""
        self.submitted += len(commands)
        for result in results:
            if isinstance(result, ProphexError):
                self.rejected[result.code] += 1
                continue
            self.accepted += 1
            if result.duplicate:
                continue
            self._receipt(result, time)

    def _receipt(self, receipt: Receipt, time: int) -> None:
        liquidations = [
            t.event
            for t in receipt.transactions
            if isinstance(t.event, Liquidated | PortfolioLiquidated)  # pm: one per position
        ]
        self._time = time
        for txn in receipt.transactions:
            self._event(txn.event)
        if liquidations:
            notional = sum(e.notional for e in liquidations)
            for e in liquidations:
                self.liquidation_timeline.append((time, e.market, e.notional, len(liquidations)))
                self.liquidation_detail.append(
                    (time, e.market, str(e.side), e.notional, e.bad_debt)
                )
            if len(liquidations) > self.deepest.size:
                self.deepest = Cascade(
                    len(liquidations), notional, receipt.command_seq, time, liquidations[0].market
                )

    def _event(self, e: Event) -> None:
        """Fold one journal event (the kinds that matter to the report; others are skipped)."""
        if isinstance(e, Opened | PortfolioOpened):
            self._open(e)
        elif isinstance(e, Closed | PortfolioClosed):
            self._close(e)
        elif isinstance(e, Liquidated | PortfolioLiquidated):  # pm: one per position
            self._liquidation(e)
        elif isinstance(e, FundingPaid):
            self.market(e.market).funding_paid += e.amount
            self.funding_paid += e.amount
            self.funding_timeline.append((self._time, e.market, str(e.payer_side), e.amount))
        elif isinstance(e, MarketHalted | MarketResumed):
            self.events.append((self._time, e.market, kind_of(e)))
        elif isinstance(e, Settled):
            self._settle(e)
        elif isinstance(e, SettledBatch):
            self._settle_batch(e)

    def _open(self, e: Opened | PortfolioOpened) -> None:
        stats = self.market(e.market)
        stats.volume += e.notional
        stats.fees += e.fee
        self.volume += e.notional
        self.fees += e.fee
        self._trade("open", e, e.cost, fee=e.fee)

    def _close(self, e: Closed | PortfolioClosed) -> None:
        stats = self.market(e.market)
        stats.volume += e.notional
        stats.fees += e.fee
        stats.bad_debt += e.bad_debt
        stats.close_fund_draw += e.fund_draw
        stats.close_haircut += e.haircut
        self.volume += e.notional
        self.fees += e.fee
        self.bad_debt += e.bad_debt
        self.fund_draw_closes += e.fund_draw
        self._trade(
            "close",
            e,
            e.proceeds,
            fee=e.fee,
            fund_draw=e.fund_draw,
            haircut=e.haircut,
            bad_debt=e.bad_debt,
        )
        if e.fund_draw:
            self.fund_draws.append((self._time, e.fund_draw))
        if e.haircut:
            self.haircuts[e.position] = self.haircuts.get(e.position, 0) + e.haircut

    def _liquidation(self, e: Liquidated | PortfolioLiquidated) -> None:
        stats = self.market(e.market)
        stats.liquidations += 1
        stats.liquidated_notional += e.notional
        stats.liquidation_to_vault += e.to_vault
        stats.penalties_to_fund += e.penalty_to_fund
        stats.bad_debt += e.bad_debt
        stats.liquidation_gap += e.bad_debt
        self._trade("liquidation", e, e.exit_proceeds, bad_debt=e.bad_debt)
        self.liquidations += 1
        self.liquidated_notional += e.notional
        self.bad_debt += e.bad_debt

    def _settle(self, e: Settled) -> None:
        stats = self.market(e.market)
        settlements: dict[str, dict[str, Any]] = dict(e.settlements)
        losers_margin = sum(-s["pnl"] for s in settlements.values() if s["pnl"] < 0)
        winners = sum(1 for s in settlements.values() if s["pnl"] >= 0 and "haircut" in s)
        for pid, record in settlements.items():
            if record.get("haircut"):
                self.haircuts[int(pid)] = self.haircuts.get(int(pid), 0) + record["haircut"]
        stats.bad_debt += e.bad_debt
        stats.unposted_premium += e.bad_debt
        self.bad_debt += e.bad_debt
        self.fund_draw_resolutions += e.fund_draw
        if e.fund_draw:
            self.fund_draws.append((self._time, e.fund_draw))
        outcome = None if e.outcome is None else str(e.outcome)
        kind = kind_of(e)
        what = "void" if outcome is None else f"resolve {outcome}"
        self.events.append((self._time, e.market, what))
        stats.resolution = {
            "kind": kind,
            "outcome": outcome,
            "positions": len(settlements),
            "winners": winners,
            "owed_to_winners": e.owed_to_winners,
            "vault_before_draw": e.vault_before_draw,
            "losers_margin_at_resolution": losers_margin,
            "vault_shortfall": e.fund_draw + e.haircut_total,
            "fund_draw": e.fund_draw,
            "haircut": e.haircut_total,
            "bad_debt": e.bad_debt,
            "surplus_to_fund": e.surplus_to_fund,
        }

    def _settle_batch(self, e: SettledBatch) -> None:
        """A ``resolve_batch``: one resolution record per market, as for ``resolve``. Its
        ``per_market`` rows are JSON objects inside the event (read by key, like the settlement
        records of :class:`Settled`)."""
        per_market: dict[str, dict[str, Any]] = dict(e.per_market)
        for market_id, d in sorted(per_market.items()):
            settlements: dict[str, dict[str, Any]] = d["settlements"]
            losers_margin = sum(-s["pnl"] for s in settlements.values() if s["pnl"] < 0)
            for pid, record in settlements.items():
                if record.get("haircut"):
                    self.haircuts[int(pid)] = self.haircuts.get(int(pid), 0) + record["haircut"]
            stats = self.market(market_id)
            stats.bad_debt += d["bad_debt"]
            stats.unposted_premium += d["bad_debt"]
            self.bad_debt += d["bad_debt"]
            self.fund_draw_resolutions += d["fund_draw"]
            if d["fund_draw"]:
                self.fund_draws.append((self._time, d["fund_draw"]))
            self.events.append((self._time, market_id, f"resolve {d['outcome']} (batch)"))
            stats.resolution = {
                "kind": "resolve",
                "settled_in_batch": True,
                "outcome": d["outcome"],
                "positions": len(settlements),
                "winners": d["winners"],
                "owed_to_winners": d["owed_to_winners"],
                "vault_before_draw": d["vault_before_draw"],
                "losers_margin_at_resolution": losers_margin,
                "vault_shortfall": d["shortfall"],
                "fund_draw": d["fund_draw"],
                "haircut": d["haircut_total"],
                "bad_debt": d["bad_debt"],
                "surplus_to_fund": d["to_fund"],
            }

    def sample(self, state: State) -> None:
        """Record the fund balance and every market's open interest at the current time."""
        time = state.time
        balance = state.balance(INSURANCE_FUND)
        if self.fund_path and self.fund_path[-1][0] == time:
            self.fund_path[-1] = (time, balance)
        else:
            self.fund_path.append((time, balance))
        for market_id, market in state.markets.items():
            if market.status in ("resolved", "voided"):
                continue  # keep the last pre-resolution price (settled OI is only virtual)
            row = (time, market.oi("A"), market.oi("B"), market.real_oi_a, market.real_oi_b)
            series = self.market(market_id).series
            if series and series[-1][0] == time:
                series[-1] = row
            elif not series or series[-1][1:] != row[1:] or market.status == "open":
                series.append(row)
