"""Replaying a scenario through the sequencer: the same write path as the API.

Simulated time advances from stop to stop: every ``tick``, plus the exact times of scripted
steps, shocks and resolutions. At each stop one batch goes to the sequencer, in this order:
scripted steps, resolutions due, behaviour actions (decided on the state at the stop), the
orders generated for the interval up to the next stop, and finally ``AdvanceClock`` to that
stop (which runs funding). One batch per stop keeps SQLite blocks large, and makes the order
of everything a pure function of the scenario and the seed.
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import (
    AdvanceClock,
    Command,
    CreateMarket,
    Deposit,
    Halt,
    Outcome,
    Resolve,
    ResolveBatch,
    Resume,
    SetMarginMode,
    Void,
    parse_user_command,
)
from prophex.engine.state import State, digest_and_check
from prophex.money import MICRO
from prophex.params import Params
from prophex.scenarios.behaviours import Manager
from prophex.scenarios.metrics import Metrics
from prophex.scenarios.population import MarketView, PopulationFlow, lookbacks
from prophex.scenarios.schema import MarketSpec, Scenario

Progress = Callable[[int, int], None]
"""Called with (simulated seconds done, total) after each batch."""


@dataclass(slots=True)
class ReplayResult:
    scenario: str
    seed: int
    digest: str
    metrics: Metrics
    state: State
    invariant_problems: list[str] = field(default_factory=list)
    commands: int = 0


def scenario_params(scenario: Scenario) -> Params:
    return scenario.params()


REPLAY_BLOCK_SIZE = 10_000
"""A replay submits one batch per stop (thousands of commands on big runs); letting a batch
be one block means one SQL transaction per stop instead of one per thousand commands."""


def open_sequencer(scenario: Scenario, url: str | None) -> Sequencer:
    """A sequencer at genesis with the scenario's parameters: in memory, or on ``url``."""
    params = scenario_params(scenario)
    if url is None:
        return Sequencer.in_memory(params)
    return Sequencer.open(url, params, block_size=REPLAY_BLOCK_SIZE)


def _micro(value: object) -> int | None:
    return None if value is None else int(value * MICRO)  # type: ignore[operator]


def create_market(spec: MarketSpec) -> CreateMarket:
    tax = spec.taxonomy
    return CreateMarket(
        market=spec.id,
        kind=spec.kind,
        virtual_oi=_micro(spec.virtual_oi),
        funding=spec.funding,
        question=spec.question,
        cluster=tax.cluster,
        underlying=tax.underlying,
        contract_kind=tax.contract_kind,
        strike=tax.strike,
        direction=tax.direction,
        group=tax.group,
        wallet_cap=_micro(spec.wallet_cap),
        market_oi_cap=_micro(spec.market_oi_cap),
    )


def stop_times(scenario: Scenario) -> list[int]:
    stops = set(range(0, scenario.duration, scenario.tick)) | {scenario.duration}
    stops |= {s.at for s in scenario.steps}
    for shock in scenario.shocks:
        stops |= {shock.at} | ({shock.until} if shock.until is not None else set())
    stops |= {p.at if p.at is not None else scenario.duration for p in scenario.resolution.values()}
    return sorted(t for t in stops if t <= scenario.duration)


class Replay:
    """One run of a scenario on a sequencer that has just been through genesis."""

    def __init__(self, scenario: Scenario, sequencer: Sequencer, seed: int | None = None) -> None:
        self.scenario = scenario
        self.sequencer = sequencer
        self.seed = scenario.seed if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.flows = [PopulationFlow(p, scenario, self.rng) for p in scenario.populations]
        self.manager = Manager.for_flows(self.flows)
        self.metrics = Metrics()
        for shock in scenario.shocks:
            self.metrics.events.append((shock.at, shock.market, "shock"))
            if shock.until is not None:
                self.metrics.events.append((shock.until, shock.market, "shock ends"))
        self.lookbacks = sorted(lookbacks(self.flows))
        self.steps = [
            (s.at, i, parse_user_command(s.command)) for i, s in enumerate(scenario.steps)
        ]
        self.resolutions = {
            market: (plan.at if plan.at is not None else scenario.duration, plan.outcome)
            for market, plan in scenario.resolution.items()
        }

    def run(self, progress: Progress | None = None) -> ReplayResult:
        scenario = self.scenario
        stops = stop_times(scenario)
        self.metrics.sample(self.sequencer.state)
        for index, t0 in enumerate(stops):
            t1 = stops[index + 1] if index + 1 < len(stops) else None
            batch = self._batch(t0, t1)
            if batch:
                results = self.sequencer.execute(batch)
                self.metrics.record(batch, results, t0)
                self.manager.observe(self.sequencer.state, results)
            self.metrics.sample(self.sequencer.state)
            if progress is not None:
                progress(t1 if t1 is not None else t0, scenario.duration)
        state = self.sequencer.state
        final_digest, problems = digest_and_check(state)  # one pass over the positions
        return ReplayResult(
            scenario=scenario.name,
            seed=self.seed,
            digest=final_digest,
            metrics=self.metrics,
            state=state,
            invariant_problems=problems,
            commands=self.metrics.submitted,
        )

    def _batch(self, t0: int, t1: int | None) -> list[Command]:
        state = self.sequencer.state
        batch: list[Command] = []
        if t0 == 0:
            batch += [create_market(m) for m in self.scenario.markets]
            for flow in self.flows:
                amounts = flow.balances(self.rng)
                batch += [Deposit(a, int(x)) for a, x in zip(flow.accounts, amounts, strict=True)]
                if flow.spec.margin_mode == "portfolio":
                    batch += [SetMarginMode(a, "portfolio") for a in flow.accounts]
        batch += [command for at, _, command in self.steps if at == t0]
        resolving = {m for m, (at, _) in self.resolutions.items() if at == t0}
        together: dict[str, Outcome] = {}
        for market in sorted(resolving):
            outcome = self.resolutions[market][1]
            if outcome == "void":
                batch.append(Void(market))
            elif self.scenario.settlement == "batch":
                together[market] = outcome
            else:
                batch.append(Resolve(market, outcome))
        if together:
            batch.append(ResolveBatch(together, self.scenario.loss_sharing))
        if t1 is not None:
            batch += self.manager.actions(state, resolving)
            view = self._view(state, t0, resolving)
            max_leverage = state.rules.max_leverage_centi
            for flow in self.flows:
                batch += flow.orders(t0, t1, view, self.rng, max_leverage)
            batch.append(AdvanceClock(t1 - t0))
        return batch

    def _view(self, state: State, t0: int, resolving: set[str]) -> MarketView:
        """Markets open when the orders run: scripted steps come first in the batch, so markets
        created or resumed at this stop count, and markets halted at this stop do not."""
        open_markets = {m for m, market in state.markets.items() if market.status == "open"}
        if t0 == 0:
            open_markets |= {m.id for m in self.scenario.markets}
        open_markets |= {
            str(c.market)
            for at, _, c in self.steps
            if at == t0 and isinstance(c, CreateMarket | Resume)
        }
        open_markets -= {
            str(c.market) for at, _, c in self.steps if at == t0 and isinstance(c, Halt)
        }
        view = MarketView(open_markets - resolving)
        for lookback in self.lookbacks:
            for market_id in state.markets:
                view.trend[(market_id, lookback)] = self._trend(market_id, t0 - lookback)
        return view

    def _trend(self, market_id: str, since: int) -> int:
        """Sign of the change of price A from the last sample at or before ``since`` to now."""
        series = self.metrics.market(market_id).series
        if not series:
            return 0
        at = bisect_right(series, since, key=lambda row: row[0]) - 1
        past, now = series[max(at, 0)], series[-1]
        before = past[1] * (now[1] + now[2])
        after = now[1] * (past[1] + past[2])
        return (after > before) - (after < before)


@contextmanager
def _relaxed_gc() -> Iterator[None]:
    """Collect cycles less often during a replay, then restore the previous thresholds.

    A long replay holds hundreds of thousands of long-lived objects (positions, heap entries,
    samples) and allocates small ones for every command; with the default thresholds the
    cyclic collector re-traverses the long-lived heap so often that it costs about half of
    the run. Nothing a replay builds relies on prompt cycle collection.
    """
    previous = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    url: str | None = None,
    sequencer: Sequencer | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay ``scenario`` in memory (default), on the database ``url``, or on ``sequencer``."""
    owned = sequencer is None
    seq = sequencer if sequencer is not None else open_sequencer(scenario, url)
    try:
        with _relaxed_gc():
            return Replay(scenario, seq, seed).run(progress)
    finally:
        if owned:
            seq.close()
