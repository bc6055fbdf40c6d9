"""Dynamic solvency: price paths from now to resolution through the real engine.

The static audit (:mod:`prophex.audit.solvency`) settles the book as it stands. This one asks
what the fund goes through *on the way*: for each of ``paths`` paths it

1. draws every open prediction market's outcome from the same outcome model as the static
   audit (:func:`prophex.audit.solvency.draw_outcomes`, so probabilities and correlations are
   the ones the user chose);
2. takes a deep copy of the exchange and runs ``steps`` intervals up to the horizon. In each
   interval, (a) every open isolated position of an open market whose close would now pay a
   profit of at least ``take_profit`` x its margin is closed (profitable closes draw on the
   fund when the vault cannot pay them; portfolio positions are held to resolution), (b)
   ``flow`` new orders arrive per market from fresh accounts, each on side A with
   probability ``p0 + (x - p0) (k / steps)`` (p0 the price at the start, x = 1 if the path's
   outcome is A, else 0, k the interval number from 1): the flow drifts toward the outcome,
   moving the price there and liquidating the positions on the losing side as it goes,
   cascades included (default ``flow``: ``max(1, open positions // (2 steps))`` per market,
   so the new orders number about half the positions open now; a halted market gets no flow
   and no closes); (c) the clock advances one interval (funding runs);
3. resolves every market to its drawn outcome, one ``resolve`` each in market-id order (the
   sequential rule);

and records, from the engine's own transactions, the fund's draws on closes and at
resolution, haircuts, liquidations and the fund's minimum. A path **depletes** the fund when
a winner is haircut or the fund reaches zero. All randomness comes from
``numpy.random.default_rng(seed)``; orders use the median margin and the median leverage
(capped at the maximum) of the open positions, in whole cents and hundredths.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from prophex.audit.outcomes import OutcomeModel, draw_outcomes, price_of_a
from prophex.audit.shortfall import SolvencyError
from prophex.audit.stats import wilson_interval
from prophex.engine import amm
from prophex.engine.commands import AdvanceClock, Close, Deposit, Open, Resolve, Side
from prophex.engine.domain import OTHER
from prophex.engine.events import INSURANCE_FUND, Receipt
from prophex.engine.exchange import Exchange
from prophex.engine.journal import (
    Closed,
    Liquidated,
    PortfolioClosed,
    PortfolioLiquidated,
    Settled,
)
from prophex.engine.state import Market, State
from prophex.errors import ProphexError

PATH_ACCOUNT = "solvency-path"
PATH_ACCOUNTS = 100
"""The flow comes from this many fresh accounts (order ``i`` from ``solvency-path.(i mod 100)``),
each funded at the start with twice an equal share of the path's order margins (fees)."""
CENT = 10_000


@dataclass(frozen=True, slots=True)
class PathSettings:
    paths: int = 200
    steps: int = 12
    horizon: int = 86_400
    flow: int | None = None
    """New orders per market per interval; ``None``: half the market's open positions spread
    over the steps, ``max(1, positions // (2 steps))``."""
    take_profit: float = 1.0

    def __post_init__(self) -> None:
        for name in ("paths", "steps", "horizon", "flow"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SolvencyError(f"{name} must be at least 1", field=name)
        if self.horizon < self.steps:
            raise SolvencyError("horizon must be at least one second per step", field="horizon")
        if not self.take_profit > 0:
            raise SolvencyError("take_profit must be positive", field="take_profit")


@dataclass(slots=True)
class PathResult:
    outcomes: dict[str, str]
    fund_draw_closes: int = 0
    fund_draw_resolution: int = 0
    haircut_closes: int = 0
    haircut_resolution: int = 0
    liquidations: int = 0
    fund_min: int = 0
    fund_final: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def depleted(self) -> bool:
        return self.haircut_closes + self.haircut_resolution > 0 or self.fund_min == 0

    @property
    def fund_drawn(self) -> int:
        return self.fund_draw_closes + self.fund_draw_resolution


@dataclass(slots=True)
class DynamicReport:
    settings: dict[str, Any]
    seed: int
    fund: int
    depletion_probability: float
    wilson_95: tuple[float, float]
    mean_fund_drawn: int
    p99_fund_drawn: int
    mean_drawn_on_closes: int
    mean_liquidations: float
    paths: list[PathResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["paths"] = [
            {**asdict(p), "depleted": p.depleted, "fund_drawn": p.fund_drawn} for p in self.paths
        ]
        return out


def _open_markets(state: State) -> list[Market]:
    return [
        state.markets[k]
        for k in sorted(state.markets)
        if state.markets[k].status in ("open", "halted") and state.markets[k].kind == "prediction"
    ]


def _order_size(state: State) -> tuple[int, int]:
    """Median margin (whole cents) and median leverage (hundredths, capped) of open positions."""
    open_positions = [p for p in state.positions.values() if p.status == "open" and p.margin > 0]
    if not open_positions:
        return 100 * 1_000_000, min(300, state.rules.max_leverage_centi)
    margins = sorted(p.margin for p in open_positions)
    leverages = sorted(p.notional * 100 // p.margin for p in open_positions)
    margin = max(CENT, margins[len(margins) // 2] // CENT * CENT)
    leverage = max(100, min(leverages[len(leverages) // 2], state.rules.max_leverage_centi))
    return margin, leverage


def _fold(result: PathResult, receipt: Receipt) -> None:
    for txn in receipt.transactions:
        e = txn.event
        if isinstance(e, (Closed, PortfolioClosed)):
            result.fund_draw_closes += e.fund_draw
            result.haircut_closes += e.haircut
        elif isinstance(e, Settled) and e.outcome is not None:  # a resolve, not a void
            result.fund_draw_resolution += e.fund_draw
            result.haircut_resolution += e.haircut_total
        elif isinstance(e, (Liquidated, PortfolioLiquidated)):
            result.liquidations += 1


def _apply(exchange: Exchange, command: Any, result: PathResult) -> None:
    try:
        receipt = exchange.apply(command)
    except ProphexError as exc:
        result.rejected[exc.code] = result.rejected.get(exc.code, 0) + 1
        return
    _fold(result, receipt)
    result.fund_min = min(result.fund_min, exchange.state.balance(INSURANCE_FUND))


def _profitable_closes(exchange: Exchange, take_profit: float) -> list[Close]:
    state = exchange.state
    closes = []
    for market_id in sorted(state.open_in_market):
        market = state.markets[market_id]
        if market.status != "open":
            continue
        for position_id in sorted(state.open_in_market[market_id]):
            p = state.positions[position_id]
            if state.margin_modes.get(p.account) == "portfolio":  # no margin of its own (D171)
                continue
            proceeds = amm.close_proceeds(market.oi(p.side), market.oi(OTHER[p.side]), p.notional)
            if proceeds - p.cost_basis >= take_profit * p.margin:
                closes.append(Close(p.account, p.id))
    return closes


def run_path(
    base: Exchange, outcomes: dict[str, str], settings: PathSettings, rng: np.random.Generator
) -> PathResult:
    """One path on a deep copy of ``base`` (which is never changed)."""
    exchange = copy.deepcopy(base)
    state = exchange.state
    fund = state.balance(INSURANCE_FUND)
    result = PathResult(outcomes=outcomes, fund_min=fund)
    markets = [m.id for m in _open_markets(state)]
    start = {m: price_of_a(state.markets[m]) for m in markets}
    margin, leverage = _order_size(state)
    interval = settings.horizon // settings.steps
    flows = {
        m: settings.flow or max(1, len(state.open_in_market.get(m, ())) // (2 * settings.steps))
        for m in markets
    }
    orders = sum(flows.values()) * settings.steps
    share = 2 * margin * (orders // PATH_ACCOUNTS + 1)  # margin plus fees, with room to spare
    accounts = [f"{PATH_ACCOUNT}.{i}" for i in range(PATH_ACCOUNTS)]
    for account in accounts:
        _apply(exchange, Deposit(account, share), result)
    serial = 0
    for k in range(1, settings.steps + 1):
        for close in _profitable_closes(exchange, settings.take_profit):
            if exchange.state.positions[close.position_id].status == "open":  # not liquidated
                _apply(exchange, close, result)
        for market_id in markets:
            if exchange.state.markets[market_id].status != "open":
                continue  # a halted market stays halted until it resolves: no flow
            target = 1.0 if outcomes[market_id] == "A" else 0.0
            p_a = start[market_id] + (target - start[market_id]) * k / settings.steps
            sides = rng.random(flows[market_id]) < p_a
            for on_a in sides:
                account = accounts[serial % PATH_ACCOUNTS]
                serial += 1
                side: Side = "A" if on_a else "B"
                _apply(exchange, Open(account, market_id, side, margin, leverage), result)
        _apply(exchange, AdvanceClock(interval), result)
    for market_id in markets:
        if exchange.state.markets[market_id].status in ("open", "halted"):
            _apply(exchange, Resolve(market_id, outcomes[market_id]), result)  # type: ignore[arg-type]
    result.fund_final = exchange.state.balance(INSURANCE_FUND)
    return result


def dynamic_solvency(
    state: State,
    *,
    seed: int,
    settings: PathSettings | None = None,
    model: OutcomeModel | None = None,
) -> DynamicReport:
    """Run ``settings.paths`` paths to resolution through the engine (see the module doc)."""
    settings = settings or PathSettings()
    markets = _open_markets(state)
    if not markets:
        raise SolvencyError("no open prediction market: nothing resolves", field="db")
    wins, _ = draw_outcomes(markets, settings.paths, seed, model)
    base = Exchange(copy.deepcopy(state))
    rng = np.random.default_rng(seed)
    results = []
    for i in range(settings.paths):
        outcomes = {m.id: "A" if wins[i, j] else "B" for j, m in enumerate(markets)}
        results.append(run_path(base, outcomes, settings, rng))
    n = len(results)
    depleted = sum(r.depleted for r in results)
    drawn = sorted(r.fund_drawn for r in results)
    return DynamicReport(
        settings=asdict(settings),
        seed=seed,
        fund=state.balance(INSURANCE_FUND),
        depletion_probability=depleted / n,
        wilson_95=wilson_interval(depleted, n),
        mean_fund_drawn=sum(drawn) // n,
        p99_fund_drawn=drawn[min(n - 1, max(0, -(-99 * n // 100) - 1))],
        mean_drawn_on_closes=sum(r.fund_draw_closes for r in results) // n,
        mean_liquidations=sum(r.liquidations for r in results) / n,
        paths=results,
    )
