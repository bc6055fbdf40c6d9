"""What a replay measures, read from receipts (the engine's own account of what happened).

Nothing is recomputed on the side: volume, fees, liquidations, fund draws and haircuts are
summed from the transaction ``data`` the engine journals, so the report cannot disagree with
the ledger. All amounts are integer micro-USD.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prophex.engine.commands import Command
from prophex.engine.events import INSURANCE_FUND, Receipt, Transaction
from prophex.engine.state import State
from prophex.errors import ProphexError


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


LIQUIDATION_KINDS = ("liquidation", "pm_liquidation")
"""Isolated liquidations and the positions of liquidated portfolio accounts (one each)."""


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

    def _trade(self, kind: str, d: dict[str, Any], amount_key: str) -> None:
        if self.trades is not None:
            self.trades.append(
                {
                    "time": self._time,
                    "kind": kind,
                    "account": d["account"],
                    "market": d["market"],
                    "side": d["side"],
                    "position": d["position"],
                    "notional": d["notional"],
                    "amount": d[amount_key],
                    "fee": d.get("fee", 0),
                    "fund_draw": d.get("fund_draw", 0),
                    "haircut": d.get("haircut", 0),
                    "bad_debt": d.get("bad_debt", 0),
                    "price_a_after": d["oi_a"] / (d["oi_a"] + d["oi_b"]),
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
        liquidations = [t for t in receipt.transactions if t.kind in LIQUIDATION_KINDS]
        self._time = time
        for txn in receipt.transactions:
            handler = _HANDLERS.get(txn.kind)
            if handler is not None:
                handler(self, txn)
        if liquidations:
            notional = sum(int(t.data["notional"]) for t in liquidations)
            for txn in liquidations:
                d = txn.data
                self.liquidation_timeline.append(
                    (time, str(d["market"]), int(d["notional"]), len(liquidations))
                )
                self.liquidation_detail.append(
                    (time, str(d["market"]), str(d["side"]), int(d["notional"]), d["bad_debt"])
                )
            if len(liquidations) > self.deepest.size:
                self.deepest = Cascade(
                    len(liquidations),
                    notional,
                    receipt.command_seq,
                    time,
                    str(liquidations[0].data["market"]),
                )

    def _open(self, txn: Transaction) -> None:
        d = txn.data
        stats = self.market(d["market"])
        stats.volume += d["notional"]
        stats.fees += d["fee"]
        self.volume += d["notional"]
        self.fees += d["fee"]
        self._trade("open", d, "cost")

    def _close(self, txn: Transaction) -> None:
        d = txn.data
        stats = self.market(d["market"])
        stats.volume += d["notional"]
        stats.fees += d["fee"]
        stats.bad_debt += d["bad_debt"]
        stats.close_fund_draw += d["fund_draw"]
        stats.close_haircut += d["haircut"]
        self.volume += d["notional"]
        self.fees += d["fee"]
        self.bad_debt += d["bad_debt"]
        self.fund_draw_closes += d["fund_draw"]
        self._trade("close", d, "proceeds")
        if d["fund_draw"]:
            self.fund_draws.append((self._time, d["fund_draw"]))
        if d["haircut"]:
            pid = int(d["position"])
            self.haircuts[pid] = self.haircuts.get(pid, 0) + d["haircut"]

    def _liquidation(self, txn: Transaction) -> None:
        d = txn.data
        stats = self.market(d["market"])
        stats.liquidations += 1
        stats.liquidated_notional += d["notional"]
        stats.liquidation_to_vault += d["to_vault"]
        stats.penalties_to_fund += d["penalty_to_fund"]
        stats.bad_debt += d["bad_debt"]
        stats.liquidation_gap += d["bad_debt"]
        self._trade("liquidation", d, "exit_proceeds")
        self.liquidations += 1
        self.liquidated_notional += d["notional"]
        self.bad_debt += d["bad_debt"]

    def _funding(self, txn: Transaction) -> None:
        d = txn.data
        self.market(d["market"]).funding_paid += d["amount"]
        self.funding_paid += d["amount"]
        self.funding_timeline.append((self._time, d["market"], d["payer_side"], d["amount"]))

    def _transition(self, txn: Transaction) -> None:
        self.events.append((self._time, txn.data["market"], txn.kind))

    def _settle(self, txn: Transaction) -> None:
        d = txn.data
        stats = self.market(d["market"])
        settlements: dict[str, dict[str, Any]] = d["settlements"]
        losers_margin = sum(-s["pnl"] for s in settlements.values() if s["pnl"] < 0)
        winners = sum(1 for s in settlements.values() if s["pnl"] >= 0 and "haircut" in s)
        for pid, record in settlements.items():
            if record.get("haircut"):
                self.haircuts[int(pid)] = self.haircuts.get(int(pid), 0) + record["haircut"]
        stats.bad_debt += d["bad_debt"]
        stats.unposted_premium += d["bad_debt"]
        self.bad_debt += d["bad_debt"]
        self.fund_draw_resolutions += d["fund_draw"]
        if d["fund_draw"]:
            self.fund_draws.append((self._time, d["fund_draw"]))
        what = "void" if txn.kind == "void" else f"resolve {d['outcome']}"
        self.events.append((self._time, d["market"], what))
        stats.resolution = {
            "kind": txn.kind,
            "outcome": d["outcome"],
            "positions": len(settlements),
            "winners": winners,
            "owed_to_winners": d["owed_to_winners"],
            "vault_before_draw": d["vault_before_draw"],
            "losers_margin_at_resolution": losers_margin,
            "vault_shortfall": d["fund_draw"] + d["haircut_total"],
            "fund_draw": d["fund_draw"],
            "haircut": d["haircut_total"],
            "bad_debt": d["bad_debt"],
            "surplus_to_fund": d["surplus_to_fund"],
        }

    def _settle_batch(self, txn: Transaction) -> None:
        """A ``resolve_batch``: one resolution record per market, as for ``resolve``."""
        for market_id, d in sorted(txn.data["per_market"].items()):
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


_HANDLERS = {
    "open": Metrics._open,
    "close": Metrics._close,
    "liquidation": Metrics._liquidation,
    "pm_open": Metrics._open,
    "pm_close": Metrics._close,
    "pm_liquidation": Metrics._liquidation,  # one per position of a liquidated account
    "funding": Metrics._funding,
    "halt": Metrics._transition,
    "resume": Metrics._transition,
    "resolve": Metrics._settle,
    "resolve_batch": Metrics._settle_batch,
    "void": Metrics._settle,
}
