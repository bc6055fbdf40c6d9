"""Generated order flow: trader populations turned into ``Open`` commands over simulated time.

All randomness comes from the one ``numpy.random.Generator`` of the run, drawn in a fixed order
(population by population, interval by interval, whole arrays at a time), so a seed fixes every
order. Sizes are drawn as floats and rounded to whole cents before they become micro-USD:
the float is a sampling device only, never an amount the engine sees unrounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from prophex.engine.commands import Open, OpenPortfolio
from prophex.money import MICRO
from prophex.scenarios.schema import (
    Choice,
    Fixed,
    LogNormal,
    Population,
    Scenario,
    Shock,
    Trend,
    Uniform,
)

IntArray = NDArray[np.int64]
CENT = MICRO // 100


def sample(
    dist: Fixed | Uniform | LogNormal | Choice,
    rng: np.random.Generator,
    n: int,
    unit: int,
    step: int,
) -> IntArray:
    """``n`` draws in integer ``unit``s (micro-USD or hundredths), rounded to ``step``s."""
    if isinstance(dist, Fixed):
        return np.full(n, int(dist.value * unit), dtype=np.int64)
    if isinstance(dist, Choice):
        values = np.array([int(v * unit) for v in dist.values], dtype=np.int64)
        if dist.weights is None:
            return values[rng.integers(len(values), size=n)]
        weights = np.asarray(dist.weights, dtype=np.float64)
        return values[rng.choice(len(values), size=n, p=weights / weights.sum())]
    low, high = (int(b * unit) for b in dist.bounds())
    if isinstance(dist, Uniform):
        raw = rng.uniform(low, high, size=n)
    else:
        raw = float(dist.median * unit) * np.exp(dist.sigma * rng.standard_normal(n))
    stepped = np.rint(raw / step).astype(np.int64) * step
    lo = -(-low // step) * step
    hi = high // step * step
    return np.clip(stepped, min(lo, hi), hi)


@dataclass(slots=True)
class MarketView:
    """What the flow generator may know of the exchange at the start of an interval."""

    open_markets: set[str]
    trend: dict[tuple[str, int], int] = field(default_factory=dict)
    """Sign (-1, 0, 1) of the move of price A over a lookback, keyed by (market, lookback)."""


class PopulationFlow:
    """One population: its accounts, behaviours and the orders it sends."""

    def __init__(self, spec: Population, scenario: Scenario, rng: np.random.Generator) -> None:
        self.spec = spec
        self.accounts = [f"{spec.name}.{i}" for i in range(spec.count)]
        shares = np.array([b.share for b in spec.behaviours], dtype=np.float64)
        self.behaviour_of: NDArray[np.intp] = rng.choice(
            len(shares), size=spec.count, p=shares / shares.sum()
        )
        weights = spec.markets or {m: 1.0 for m in scenario.market_ids()}
        self.market_ids = list(weights)
        self.weights = np.array([weights[m] for m in self.market_ids], dtype=np.float64)
        self.bias = np.array([spec.side_bias.get(m, 0.5) for m in self.market_ids])
        start = spec.arrivals.start
        end = spec.arrivals.end if spec.arrivals.end is not None else scenario.duration
        self.start, self.end = start, end
        self.rate = spec.count * spec.arrivals.orders_per_trader / (end - start)
        self.carry = 0.0
        self.shocks = [
            s for s in scenario.shocks if s.populations is None or spec.name in s.populations
        ]
        self.trends: dict[int, Trend] = {
            i: b for i, b in enumerate(spec.behaviours) if isinstance(b, Trend)
        }

    def balances(self, rng: np.random.Generator) -> IntArray:
        return sample(self.spec.balance, rng, self.spec.count, MICRO, CENT)

    def _count(self, t0: int, t1: int, scale: float, rng: np.random.Generator) -> int:
        lo, hi = max(t0, self.start), min(t1, self.end)
        if hi <= lo:
            return 0
        expected = self.rate * (hi - lo) * scale
        if self.spec.arrivals.process == "poisson":
            return int(rng.poisson(expected))
        total = expected + self.carry
        count = int(total)
        self.carry = total - count
        return count

    def _shocked(self, t0: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Market weights and A-probabilities with the shocks active at ``t0`` applied."""
        weights, bias = self.weights.copy(), self.bias.copy()
        for shock in self.shocks:
            if shock.at <= t0 and (shock.until is None or t0 < shock.until):
                self._apply(shock, weights, bias)
        return weights, np.clip(bias, 0.0, 1.0)

    def _apply(self, shock: Shock, weights: NDArray[np.float64], bias: NDArray[np.float64]) -> None:
        if shock.market not in self.market_ids:
            return
        i = self.market_ids.index(shock.market)
        weights[i] *= shock.flow
        if shock.side_bias is not None:
            bias[i] = shock.side_bias
        bias[i] += shock.shift

    def orders(
        self, t0: int, t1: int, view: MarketView, rng: np.random.Generator, max_leverage_centi: int
    ) -> list[Open | OpenPortfolio]:
        """Orders arriving in ``[t0, t1)``, all sent at ``t0`` (the interval's start)."""
        weights, bias = self._shocked(t0)
        base = float(self.weights.sum())
        n = self._count(t0, t1, float(weights.sum()) / base if base else 0.0, rng)
        if n == 0 or weights.sum() <= 0:
            return []
        spec = self.spec
        traders = rng.integers(spec.count, size=n)
        markets = rng.choice(len(self.market_ids), size=n, p=weights / weights.sum())
        u = rng.random(n)
        margins = sample(spec.margin, rng, n, MICRO, CENT)
        leverages = sample(spec.leverage, rng, n, 100, 1)
        if spec.clamp_leverage:
            leverages = np.minimum(leverages, max_leverage_centi)
        p_a = bias[markets]
        if self.trends:
            p_a = self._trend_adjust(p_a, traders, markets, view)
        out: list[Open | OpenPortfolio] = []
        ids, accounts = self.market_ids, self.accounts
        portfolio = spec.margin_mode == "portfolio"
        for k in range(n):
            market = ids[markets[k]]
            if market not in view.open_markets:
                continue
            if portfolio:  # the same draws: notional = margin x leverage, rounded down
                out.append(
                    OpenPortfolio(
                        account=accounts[traders[k]],
                        market=market,
                        side="A" if u[k] < p_a[k] else "B",
                        notional=int(margins[k]) * int(leverages[k]) // 100,
                    )
                )
                continue
            out.append(
                Open(
                    account=accounts[traders[k]],
                    market=market,
                    side="A" if u[k] < p_a[k] else "B",
                    margin=int(margins[k]),
                    leverage_centi=int(leverages[k]),
                )
            )
        return out

    def _trend_adjust(
        self,
        p_a: NDArray[np.float64],
        traders: IntArray,
        markets: NDArray[np.intp],
        view: MarketView,
    ) -> NDArray[np.float64]:
        """Momentum leans toward the side that rose over the lookback; contrarian leans away."""
        p = p_a.copy()
        kinds = self.behaviour_of[traders]
        for index, trend in self.trends.items():
            for k in np.flatnonzero(kinds == index):
                move = view.trend.get((self.market_ids[markets[k]], trend.lookback), 0)
                if trend.kind == "contrarian":
                    move = -move
                if move > 0:
                    p[k] += trend.strength * (1.0 - p[k])
                elif move < 0:
                    p[k] -= trend.strength * p[k]
        return p


def lookbacks(flows: list[PopulationFlow]) -> set[int]:
    return {t.lookback for flow in flows for t in flow.trends.values()}
