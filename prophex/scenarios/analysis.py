"""A notebook-friendly Python API: scenario runs, solvency audits and sweeps as typed results
with pandas DataFrames (needs the ``sweep`` extra for pandas).

>>> from prophex.scenarios.analysis import run_scenario, solvency, sweep
>>> run = run_scenario("scenarios/skew-80-mature.yaml")
>>> run.trades.groupby("kind").notional.sum()            # micro-USD
>>> audit = solvency(run_scenario("scenarios/contested-election.yaml", resolve=False))
>>> audit.depletion_probability, audit.markets
>>> table = sweep("scenarios/skew-80-mature.yaml", {"max_leverage": [3, 5, 10]}, seeds=5)

Every amount in every DataFrame is an integer of micro-USD, as in the ledger (columns ending
in ``_usd`` are the same divided by 1,000,000, for reading). Nothing here computes on the side:
the frames are views of the engine's receipts, the replay's metrics and the audits' reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from prophex.audit.paths import PathSettings
    from prophex.engine.state import State
    from prophex.scenarios.replay import ReplayResult
    from prophex.scenarios.schema import Scenario
    from prophex.scenarios.sweep import SolveResult


def _pandas() -> Any:
    from prophex.scenarios.sweep import require_sweep_extra

    require_sweep_extra()
    import pandas

    return pandas


def _scenario(source: str | Path | Scenario) -> Scenario:
    from prophex.scenarios.loader import load_scenario

    if isinstance(source, str | Path):
        return load_scenario(source)
    return source


@dataclass(slots=True)
class RunResult:
    """One replay: its summary (as ``summary.json``) and DataFrames of what happened."""

    scenario: str
    seed: int
    digest: str
    summary: dict[str, Any]
    trades: pd.DataFrame
    """Every open, close and liquidation: time, kind, account, market, side, position,
    notional, amount (cost / proceeds / exit proceeds), fee, fund_draw, haircut, bad_debt."""
    positions: pd.DataFrame
    """Every position at the end: id, account, market, side, status, notional, cost_basis,
    margin, realized_pnl, haircut."""
    fund: pd.DataFrame
    """The fund's balance path: time, balance, relative_to_seed."""
    fund_draws: pd.DataFrame
    waterfalls: pd.DataFrame
    """One row per resolved market: who paid its winners (sums to owed_to_winners)."""
    markets: pd.DataFrame
    result: ReplayResult = field(repr=False)

    @property
    def state(self) -> State:
        return self.result.state


def run_scenario(
    source: str | Path | Scenario,
    *,
    seed: int | None = None,
    resolve: bool = True,
    grid_point: dict[str, Any] | None = None,
) -> RunResult:
    """Replay a scenario in memory. ``resolve=False`` drops its resolution plan (the markets
    stay open, ready for :func:`solvency`); ``grid_point`` applies sweep-style overrides
    (``{"max_leverage": 5, "side_bias": 0.7}``)."""
    from prophex.scenarios.replay import Replay, open_sequencer
    from prophex.scenarios.report import WATERFALL_KEYS, build_summary
    from prophex.scenarios.sweep import apply_point

    pd = _pandas()
    scenario = _scenario(source)
    if grid_point:
        scenario = apply_point(scenario, tuple((k, str(v)) for k, v in grid_point.items()))
    if not resolve:
        scenario = scenario.model_copy(update={"resolution": {}})
    sequencer = open_sequencer(scenario, None)
    try:
        replay = Replay(scenario, sequencer, seed)
        replay.metrics.trades = []
        result = replay.run()
    finally:
        sequencer.close()
    summary = build_summary(result)
    positions = _positions_frame(pd, result.state)
    fund_seed = summary["insurance_fund"]["seed"]
    fund = pd.DataFrame(summary["insurance_fund"]["path"], columns=["time", "balance"])
    fund["relative_to_seed"] = fund["balance"] - fund_seed
    draws = pd.DataFrame(summary["insurance_fund"]["draws"], columns=["time", "amount"])
    falls = [
        {"market": k, **v["waterfall"]} for k, v in summary["markets"].items() if v["waterfall"]
    ]
    columns = ["market", "owed_to_winners", *WATERFALL_KEYS]
    markets = _markets_frame(pd, summary)
    return RunResult(
        scenario=result.scenario,
        seed=result.seed,
        digest=result.digest,
        summary=summary,
        trades=pd.DataFrame(result.metrics.trades),
        positions=positions,
        fund=fund,
        fund_draws=draws,
        waterfalls=pd.DataFrame(falls, columns=columns),
        markets=markets,
        result=result,
    )


@dataclass(slots=True)
class SolvencyResult:
    """The solvency audit (``prophex audit --solvency``) with its per-market table."""

    report: dict[str, Any]
    markets: pd.DataFrame
    """Per open prediction market: price, shortfall and fund draw if A / if B, coverage."""
    paths: pd.DataFrame | None
    """Per path to resolution (when asked): outcomes, draws, haircuts, liquidations."""

    @property
    def depletion_probability(self) -> float:
        return float(self.report["monte_carlo"]["depletion_probability"])

    @property
    def standard_error(self) -> float:
        return float(self.report["monte_carlo"]["standard_error"])


def _positions_frame(pandas: Any, state: State) -> pd.DataFrame:
    """Every position at the end, by id."""
    return pandas.DataFrame(
        [
            {
                "id": p.id,
                "account": p.account,
                "market": p.market,
                "side": p.side,
                "status": p.status,
                "notional": p.notional,
                "cost_basis": p.cost_basis,
                "margin": p.margin,
                "realized_pnl": p.realized_pnl,
                "haircut": p.haircut,
            }
            for p in sorted(state.positions.values(), key=lambda p: p.id)
        ]
    )


def _markets_frame(pandas: Any, summary: dict[str, Any]) -> pd.DataFrame:
    """One row per market: status, outcome, prices, OI, volume, fees and what resolution drew."""
    return pandas.DataFrame(
        [
            {
                "market": k,
                "status": v["status"],
                "outcome": v["outcome"],
                "last_price_a": v["final_price_a"],
                "settlement_price_a": v["settlement_price_a"],
                "real_oi_a": v["real_oi_a_final"],
                "real_oi_b": v["real_oi_b_final"],
                "volume": v["volume"],
                "fees": v["fees"],
                "liquidations": v["liquidations"]["count"],
                "liquidation_gap": v["liquidation_gap"],
                "unposted_premium": v["unposted_premium_at_resolution"],
                "funding_paid": v["funding_paid"],
                "fund_draw_at_resolution": (v["resolution"] or {}).get("fund_draw", 0),
                "haircut_at_resolution": (v["resolution"] or {}).get("haircut", 0),
            }
            for k, v in summary["markets"].items()
        ]
    )


def solvency(
    source: RunResult | State | str,
    *,
    paths: int = 100_000,
    seed: int = 1,
    probabilities: str = "prices",
    probability: dict[str, float] | None = None,
    correlate: dict[str, float] | None = None,
    paths_to_resolution: PathSettings | None = None,
) -> SolvencyResult:
    """Audit a run (use ``run_scenario(..., resolve=False)``), a state or a database URL.

    ``probability``: P(A) per market (implies ``probabilities="user"``); ``correlate``:
    ``{"cluster:politics": 0.6, "GOV,SEN": 0.3}`` as on the command line."""
    from prophex.audit.solvency import load_state_read_only, parse_model, solvency_of_state

    pd = _pandas()
    if isinstance(source, RunResult):
        state = source.state
    elif isinstance(source, str):
        state = load_state_read_only(source)
    else:
        state = source
    model = parse_model(
        probabilities,
        [f"{k}={v}" for k, v in (probability or {}).items()],
        [f"{k}={v}" for k, v in (correlate or {}).items()],
    )
    report = solvency_of_state(state, paths=paths, seed=seed, model=model)
    table = None
    if paths_to_resolution is not None:
        from prophex.audit.paths import dynamic_solvency

        found = dynamic_solvency(state, seed=seed, settings=paths_to_resolution, model=model)
        report["paths_to_resolution"] = found.to_dict()
        table = pd.DataFrame(
            [
                {
                    **{f"outcome_{k}": v for k, v in p["outcomes"].items()},
                    **{k: v for k, v in p.items() if k not in ("outcomes", "rejected")},
                }
                for p in report["paths_to_resolution"]["paths"]
            ]
        )
    rows = [
        {
            "market": r["market"],
            "status": r["status"],
            "price_a": r["price_a"],
            "p_a_used": report["monte_carlo"]["outcome_model"]["p_a"].get(r["market"]),
            "vault": r["vault"],
            "shortfall_if_a": r["if_a"]["shortfall"],
            "shortfall_if_b": r["if_b"]["shortfall"],
            "uncovered_if_a": r["if_a"]["uncovered"],
            "uncovered_if_b": r["if_b"]["uncovered"],
            "coverage_if_a": r["coverage_if_a"],
            "coverage_if_b": r["coverage_if_b"],
        }
        for r in report["markets"]
    ]
    return SolvencyResult(report=report, markets=pd.DataFrame(rows), paths=table)


@dataclass(slots=True)
class SweepResult:
    table: pd.DataFrame
    """Per grid point: runs, depletion probability and its Wilson interval, shortfall mean,
    p99 and its bootstrap interval, means of liquidations, bad debt, fund draws, volume, fees."""
    runs: pd.DataFrame
    warnings: list[str]


def sweep(
    source: str | Path | Scenario,
    grid: dict[str, list[Any]],
    *,
    seeds: int = 10,
    confidence: float = 0.95,
    target: str | None = None,
    executor: str = "local",
    workers: int | None = None,
) -> SweepResult:
    """``prophex sweep`` as a function: ``grid`` maps a name (as ``--grid``) to its values."""
    from prophex.scenarios.sweep import cell_warnings, parse_grid, parse_target
    from prophex.scenarios.sweep import sweep as run_sweep

    pd = _pandas()
    parsed = parse_grid([f"{k}={','.join(str(v) for v in values)}" for k, values in grid.items()])
    table, rows = run_sweep(_scenario(source), parsed, seeds, executor, workers, confidence)
    goal = None if target is None else parse_target(target)
    return SweepResult(
        table=pd.DataFrame(table),
        runs=pd.DataFrame(rows),
        warnings=cell_warnings(table, confidence, goal),
    )


def solve(
    source: str | Path | Scenario,
    param: str,
    target: str,
    *,
    confidence: float = 0.95,
    seeds: int | None = None,
    low: str | None = None,
    high: str | None = None,
    step: str | None = None,
    executor: str = "local",
    workers: int | None = None,
) -> tuple[SolveResult, pd.DataFrame]:
    """The largest safe value of ``param`` (``prophex sweep --solve``) and its evaluations."""
    from prophex.scenarios.sweep import parse_target
    from prophex.scenarios.sweep import solve as run_solve

    pd = _pandas()
    result = run_solve(
        _scenario(source),
        param,
        parse_target(target),
        confidence=confidence,
        seeds=seeds,
        low=low,
        high=high,
        step=step,
        executor=executor,
        workers=workers,
    )
    from dataclasses import asdict

    frame = pd.DataFrame([asdict(e) for e in result.evaluations])
    return result, frame
