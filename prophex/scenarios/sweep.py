"""Sweeps: one scenario over a grid of protocol parameters *and scenario fields* x seeds.

Each run is an in-memory replay (the same sequencer and engine as everything else, without a
database), so a run's figures are a pure function of (scenario, grid point, seed). That is
what lets the local process pool and a Dask cluster give *exactly* the same table: runs are
collected, sorted by (grid point, seed), and only then aggregated, with integer arithmetic for
money and the inverted-CDF quantile (an actual run's value) for the 99th percentile.

Grid keys (docs/scenarios.md, "Sweeps", states them exactly):

* a :class:`prophex.params.Params` field (``max_leverage``, ``if_seed``, ...); ``V`` is short
  for ``virtual_oi`` and also replaces every market's own V;
* a scenario alias: ``side_bias`` (every population, every market), ``leverage`` and
  ``margin`` (every population, a fixed value), ``outcome`` (every planned non-void
  resolution), ``shock_at`` (every shock's start), ``settlement``;
* a dotted path into the scenario: ``populations.crowd.side_bias.EVENT``,
  ``populations.0.leverage.values``, ``shocks.0.at``, ``resolution.EVENT.outcome``; list items
  are picked by index, ``name``/``id``, or ``*`` (all). Values are read as YAML scalars.

``--solve PARAM --target 'P(fund depleted) <= 1%' --confidence 0.95`` brackets and bisects to
the largest value of PARAM whose one-sided Wilson upper bound of the depletion probability is
within the target.

Heavy modules (numpy, the engine, pandas) are imported inside the functions, so
``prophex --help`` does not pay for them.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import typer

from prophex.errors import ProphexError

if TYPE_CHECKING:
    from prophex.scenarios.schema import Scenario

ALIASES = {"V": "virtual_oi"}
SCENARIO_ALIASES = (
    "side_bias",
    "leverage",
    "margin",
    "outcome",
    "shock_at",
    "settlement",
    "loss_sharing",
)
SCENARIO_ROOTS = ("markets", "populations", "shocks", "resolution", "steps", "duration", "tick")
Point = tuple[tuple[str, str], ...]
Task = tuple["Scenario", Point, int]
METRICS = ("depletion_probability", "mean_shortfall", "p99_shortfall", "mean_liquidations")
MONEY_METRICS = ("mean_shortfall", "p99_shortfall")
SWEEP_EXTRA = (
    "pip install 'prophex-sim[sweep]'  (or: pip install pandas pyarrow 'dask[distributed]')"
)
BOOTSTRAP_RESAMPLES = 1_000


class SweepError(ProphexError):
    code = "INVALID_SWEEP"
    status = 422
    title = "Invalid sweep"


# --------------------------------------------------------------------------- optional extras


def missing_modules(names: Sequence[str]) -> list[str]:
    """The modules of ``names`` that cannot be imported here (checked without importing)."""
    missing = []
    for name in names:
        try:
            absent = sys.modules.get(name, 0) is None or importlib.util.find_spec(name) is None
        except (ImportError, ValueError):
            absent = True
        if absent:
            missing.append(name)
    return missing


def require_sweep_extra(executor: str = "local") -> None:
    """Refuse, before anything runs, when the ``sweep`` extra is not installed."""
    needed = ["pandas", "pyarrow"]
    if executor != "local":
        needed.append("distributed")
    missing = missing_modules(needed)
    if missing:
        raise SweepError(
            f"prophex sweep needs {', '.join(missing)} (the 'sweep' extra): {SWEEP_EXTRA}",
            field="extra",
            missing=missing,
        )


# --------------------------------------------------------------------------- the grid


def _is_scenario_key(key: str) -> bool:
    return key in SCENARIO_ALIASES or key.split(".", 1)[0] in SCENARIO_ROOTS


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["V=1000,5000", "side_bias=0.6,0.8"]`` -> ``{"virtual_oi": [...], "side_bias": [...]}``."""
    from prophex.params import Params

    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep or not values.strip():
            raise SweepError(f"--grid {item!r}: expected NAME=v1,v2,...", field="grid")
        known = (key in Params.model_fields and key != "profile") or _is_scenario_key(key)
        if not known:
            raise SweepError(
                f"--grid {item!r}: unknown name {key!r} (a protocol parameter, one of "
                f"{', '.join(SCENARIO_ALIASES)}, or a path under {', '.join(SCENARIO_ROOTS)})",
                field="grid",
            )
        if key in grid:
            raise SweepError(f"--grid {key} is given twice", field="grid")
        grid[key] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def grid_points(grid: dict[str, list[str]]) -> list[Point]:
    keys = list(grid)
    return [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _scalar(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _set_path(data: Any, path: list[str], value: Any, key: str) -> None:
    """Set ``value`` at ``path`` (list items by index, name/id, or ``*``)."""
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        if head == "*":
            targets = list(range(len(data)))
        elif head.isdigit() and int(head) < len(data):
            targets = [int(head)]
        else:
            targets = [
                i
                for i, item in enumerate(data)
                if isinstance(item, dict) and head in (item.get("name"), item.get("id"))
            ]
        if not targets:
            raise SweepError(f"--grid {key}: no item {head!r} in the scenario", field="grid")
        for i in targets:
            if rest:
                _set_path(data[i], rest, value, key)
            else:
                data[i] = value
        return
    if not isinstance(data, dict):
        raise SweepError(f"--grid {key}: {head!r} is not inside a mapping or list", field="grid")
    if not rest:
        data[head] = value
        return
    if data.get(head) is None:
        data[head] = {}
    _set_path(data[head], rest, value, key)


def _apply_scenario_key(data: dict[str, Any], key: str, text: str) -> None:
    value = _scalar(text)
    market_ids = [m["id"] for m in data["markets"]]
    if key == "side_bias":
        for population in data["populations"]:
            population["side_bias"] = dict.fromkeys(population.get("markets") or market_ids, value)
    elif key in ("leverage", "margin"):
        for population in data["populations"]:
            population[key] = {"dist": "fixed", "value": value}
    elif key == "outcome":
        for plan in data["resolution"].values():
            if plan["outcome"] != "void":
                plan["outcome"] = value
    elif key == "shock_at":
        if not data["shocks"]:
            raise SweepError("--grid shock_at: the scenario has no shocks", field="grid")
        for shock in data["shocks"]:
            shock["at"] = value
    elif key in ("settlement", "loss_sharing"):
        data[key] = value
    else:
        _set_path(data, key.split("."), value, key)


def apply_point(scenario: Scenario, point: Point) -> Scenario:
    """The scenario with the grid point applied, validated exactly like a file."""
    from prophex.scenarios.schema import Scenario

    overrides = dict(point)
    data = scenario.model_dump(mode="python")
    params = dict(scenario.protocol.params)
    for key, text in overrides.items():
        if _is_scenario_key(key):
            _apply_scenario_key(data, key, text)
        else:
            params[key] = text
    data["protocol"]["params"] = params
    if "virtual_oi" in overrides:
        for market in data["markets"]:
            market["virtual_oi"] = overrides["virtual_oi"]
    from pydantic import ValidationError

    from prophex.scenarios.loader import validation_error

    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = validation_error(exc, {}, f"grid point {overrides}")
        raise SweepError(error.message, field="grid") from None


# --------------------------------------------------------------------------- runs


def run_task(task: Task) -> dict[str, Any]:
    """One run: figures of interest as integers (module level, so workers can pickle it)."""
    from prophex.scenarios.replay import run_scenario
    from prophex.scenarios.report import build_summary

    scenario, point, seed = task
    summary = build_summary(run_scenario(scenario, seed=seed))
    fund = summary["insurance_fund"]
    haircut = summary["haircuts"]["total"]
    return {
        **dict(point),
        "seed": seed,
        "digest": summary["digest"],
        "depleted": haircut > 0 or fund["min"] == 0,
        "shortfall": fund["drawn"] + haircut,
        "fund_drawn": fund["drawn"],
        "haircut": haircut,
        "liquidations": summary["liquidations"]["count"],
        "bad_debt": summary["bad_debt"],
        "volume": summary["volume"],
        "fees": summary["fees"],
    }


def run_chunk(tasks: list[Task]) -> list[dict[str, Any]]:
    return [run_task(t) for t in tasks]


def _chunks(tasks: list[Task], size: int) -> list[list[Task]]:
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def execute_local(tasks: list[Task], workers: int | None) -> list[dict[str, Any]]:
    from concurrent.futures import ProcessPoolExecutor

    if workers == 1:
        return run_chunk(tasks)
    chunks = _chunks(tasks, max(1, len(tasks) // (4 * (workers or 2))))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [row for rows in pool.map(run_chunk, chunks) for row in rows]


def execute_dask(tasks: list[Task], address: str) -> list[dict[str, Any]]:
    """Run on an existing Dask cluster (``dask://HOST:PORT`` or ``tcp://HOST:PORT``)."""
    from dask.distributed import Client

    target = "tcp://" + address.removeprefix("dask://").removeprefix("tcp://")
    with Client(target) as client:  # type: ignore[no-untyped-call]
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        futures = client.map(
            run_chunk, _chunks(tasks, max(1, len(tasks) // (4 * workers))), pure=False
        )
        return [row for rows in client.gather(futures) for row in rows]


def execute(tasks: list[Task], executor: str, workers: int | None) -> list[dict[str, Any]]:
    if executor == "local":
        return execute_local(tasks, workers)
    if executor.startswith(("dask://", "tcp://")):
        return execute_dask(tasks, executor)
    raise SweepError(f"unknown executor {executor!r} (local or dask://HOST:PORT)", field="executor")


# --------------------------------------------------------------------------- statistics


def z_two_sided(confidence: float) -> float:
    return NormalDist().inv_cdf((1 + confidence) / 2)


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials for the normal quantile ``z``."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)
    return (low, 1.0 if k == n else min(1.0, centre + half))


def upper_bound(k: int, n: int, confidence: float) -> float:
    """One-sided Wilson upper bound at ``confidence`` (z = Phi^-1(confidence))."""
    return wilson(k, n, NormalDist().inv_cdf(confidence))[1]


def runs_needed(target: float, confidence: float) -> int:
    """Fewest runs whose one-sided Wilson upper bound can be <= ``target`` (with no depletion):
    ``ceil(z^2 (1 - target) / target)``, z = Phi^-1(confidence)."""
    z = NormalDist().inv_cdf(confidence)
    n = math.ceil(z * z * (1 - target) / target - 1e-9)
    while n > 1 and upper_bound(0, n - 1, confidence) <= target:
        n -= 1
    while upper_bound(0, n, confidence) > target:
        n += 1
    return n


def inverted_quantile(ordered: Sequence[int], q: float) -> int:
    n = len(ordered)
    return int(ordered[min(n - 1, max(0, math.ceil(q * n) - 1))])


def bootstrap_interval(
    values: Sequence[int], q: float, confidence: float, seed: int = 0
) -> tuple[int, int]:
    """Percentile-bootstrap interval of the inverted-CDF ``q`` quantile: ``BOOTSTRAP_RESAMPLES``
    resamples from ``numpy.random.default_rng(seed)``; the interval's ends are the resampled
    quantiles' own inverted-CDF (1 - c)/2 and (1 + c)/2 quantiles (actual run values)."""
    import numpy as np

    data = np.sort(np.asarray(values, dtype=np.int64))
    n = len(data)
    rng = np.random.default_rng(seed)
    samples = np.sort(data[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))], axis=1)
    index = min(n - 1, max(0, math.ceil(q * n) - 1))
    stats = np.sort(samples[:, index])
    low = inverted_quantile(stats.tolist(), (1 - confidence) / 2)
    high = inverted_quantile(stats.tolist(), (1 + confidence) / 2)
    return low, high


def aggregate(
    rows: list[dict[str, Any]], keys: list[str], points: list[Point], confidence: float = 0.95
) -> list[dict[str, Any]]:
    """Per grid point (in grid order): depletion probability with its Wilson interval, mean and
    p99 shortfall with the p99's bootstrap interval, means of liquidations, bad debt, fund
    draws, volume and fees. Runs are ordered first: the result never depends on completion
    order."""
    index = {tuple(v for _, v in p): i for i, p in enumerate(points)}
    ordered = sorted(rows, key=lambda r: (index[tuple(r[k] for k in keys)], r["seed"]))
    z = z_two_sided(confidence)
    table = []
    for point, group in itertools.groupby(ordered, key=lambda r: tuple(r[k] for k in keys)):
        runs = list(group)
        shortfalls = sorted(r["shortfall"] for r in runs)
        n = len(runs)
        depleted = sum(r["depleted"] for r in runs)
        low, high = wilson(depleted, n, z)
        p99_low, p99_high = bootstrap_interval(shortfalls, 0.99, confidence)
        table.append(
            {
                **dict(zip(keys, point, strict=True)),
                "runs": n,
                "depleted_runs": depleted,
                "depletion_probability": depleted / n,
                "depletion_low": low,
                "depletion_high": high,
                "mean_shortfall": sum(shortfalls) // n,
                "p99_shortfall": inverted_quantile(shortfalls, 0.99),
                "p99_low": p99_low,
                "p99_high": p99_high,
                "mean_liquidations": sum(r["liquidations"] for r in runs) / n,
                "mean_bad_debt": sum(r["bad_debt"] for r in runs) // n,
                "mean_fund_drawn": sum(r["fund_drawn"] for r in runs) // n,
                "mean_volume": sum(r["volume"] for r in runs) // n,
                "mean_fees": sum(r["fees"] for r in runs) // n,
            }
        )
    return table


def cell_warnings(
    table: list[dict[str, Any]], confidence: float, target: float | None
) -> list[str]:
    """Cells with too few runs for what they claim, grouped by run count (each warning says
    how many runs are missing and which cells it concerns)."""
    out = []
    by_runs: dict[int, list[dict[str, Any]]] = {}
    for row in table:
        by_runs.setdefault(row["runs"], []).append(row)
    for n, rows in sorted(by_runs.items()):
        where = "every cell" if len(rows) == len(table) else ", ".join(_cell(r) for r in rows)
        if n < 100:
            out.append(
                f"{where}: the p99 of {n} runs is the largest run; 100 runs are needed for a "
                f"99th percentile below the maximum ({100 - n} missing)"
            )
        if target is not None:
            need = runs_needed(target, confidence)
            if n < need:
                out.append(
                    f"{where}: {n} runs cannot show P(fund depleted) <= {target:g} at "
                    f"{confidence:g} confidence even with no depletion: {need} needed "
                    f"({need - n} missing)"
                )
    return out


def _cell(row: dict[str, Any]) -> str:
    skip = {"runs", "depleted_runs"}
    keys = [k for k in row if k not in skip and not _is_metric(k)]
    return "cell " + (", ".join(f"{k}={row[k]}" for k in keys) or "(single)")


def _is_metric(key: str) -> bool:
    return key.startswith(("depletion_", "mean_", "p99_"))


def sweep(
    scenario: Scenario,
    grid: dict[str, list[str]],
    seeds: int,
    executor: str = "local",
    workers: int | None = None,
    confidence: float = 0.95,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the grid x seeds; returns (aggregate table, per-run rows)."""
    if seeds < 1:
        raise SweepError("--seeds must be at least 1", field="seeds")
    if not 0.5 <= confidence < 1:
        raise SweepError("--confidence must be in [0.5, 1)", field="confidence")
    points = grid_points(grid)
    variants = {point: apply_point(scenario, point) for point in points}
    tasks: list[Task] = [(variants[p], p, scenario.seed + i) for p in points for i in range(seeds)]
    rows = execute(tasks, executor, workers)
    index = {tuple(v for _, v in p): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: (index[tuple(r[k] for k in grid)], r["seed"]))
    return aggregate(rows, list(grid), points, confidence), rows


# --------------------------------------------------------------------------- the solver

_TARGET = re.compile(r"^\s*P\(\s*fund depleted\s*\)\s*<=?\s*([0-9.]+)\s*(%?)\s*$", re.I)


def parse_target(text: str) -> float:
    """``'P(fund depleted) <= 1%'`` -> 0.01 (also ``<= 0.01``)."""
    match = _TARGET.match(text)
    if match is None:
        raise SweepError(
            f"--target {text!r}: expected 'P(fund depleted) <= X%' (or a fraction)",
            field="target",
        )
    value = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 < value < 1:
        raise SweepError(f"--target {text!r}: the probability must be in (0, 1)", field="target")
    return value


@dataclass(slots=True)
class Evaluation:
    value: str
    runs: int
    depleted_runs: int
    depletion_probability: float
    upper_bound: float
    safe: bool
    mean_volume: int
    mean_fees: int
    mean_shortfall: int


@dataclass(slots=True)
class SolveResult:
    param: str
    target: float
    confidence: float
    runs_per_value: int
    answer: str | None
    """Largest safe value found (``None``: even the low end is unsafe)."""
    first_unsafe: str | None
    baseline: Evaluation
    at_answer: Evaluation | None
    volume_given_up: int | None
    fees_given_up: int | None
    evaluations: list[Evaluation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _format_units(units: int, step: Any) -> str:
    from decimal import Decimal

    value = Decimal(units) * Decimal(str(step))
    text = format(value.normalize(), "f")
    return text


def solve(
    scenario: Scenario,
    param: str,
    target: float,
    *,
    confidence: float = 0.95,
    seeds: int | None = None,
    low: str | None = None,
    high: str | None = None,
    step: str | None = None,
    executor: str = "local",
    workers: int | None = None,
) -> SolveResult:
    """Largest value of ``param`` in [low, high] (a multiple of ``step``) whose one-sided
    Wilson upper bound of P(fund depleted) is <= ``target``, assuming risk grows with it.

    Bracketing: from ``low``, the distance doubles (1, 2, 4, ... steps) until a value is unsafe
    or ``high`` is reached; then bisection on the integer step grid between the last safe and
    the first unsafe value. Every value runs the same seeds.
    """
    from decimal import Decimal, InvalidOperation

    param = ALIASES.get(param, param)
    parse_grid([f"{param}=0"])  # the name must be sweepable
    defaults = {"max_leverage": ("1", "100", "0.01")}
    lo_text, hi_text, step_text = defaults.get(param, (None, None, "1"))
    lo_text, hi_text, step_text = low or lo_text, high or hi_text, step or step_text
    if lo_text is None or hi_text is None:
        raise SweepError(f"--solve {param}: give --range LOW,HIGH", field="range")
    try:
        unit = Decimal(step_text)
        lo_units = int(Decimal(lo_text) / unit)
        hi_units = int(Decimal(hi_text) / unit)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        raise SweepError("--range and --step must be numbers", field="range") from None
    if unit <= 0 or lo_units > hi_units:
        raise SweepError("--range needs LOW <= HIGH and a positive --step", field="range")
    need = runs_needed(target, confidence)
    runs = seeds if seeds is not None else need
    warnings = []
    if runs < need:
        warnings.append(
            f"{runs} runs per value cannot show P(fund depleted) <= {target:g} at {confidence:g} "
            f"confidence even with no depletion: {need} needed ({need - runs} missing)"
        )
    cache: dict[int, Evaluation] = {}

    def evaluate_point(point: Point) -> Evaluation:
        table, _ = sweep(scenario, {k: [v] for k, v in point}, runs, executor, workers, confidence)
        (row,) = table
        bound = upper_bound(row["depleted_runs"], row["runs"], confidence)
        return Evaluation(
            value=point[0][1] if point else "baseline",
            runs=row["runs"],
            depleted_runs=row["depleted_runs"],
            depletion_probability=row["depletion_probability"],
            upper_bound=bound,
            safe=bound <= target,
            mean_volume=row["mean_volume"],
            mean_fees=row["mean_fees"],
            mean_shortfall=row["mean_shortfall"],
        )

    def evaluate(units: int) -> Evaluation:
        if units not in cache:
            cache[units] = evaluate_point(((param, _format_units(units, unit)),))
        return cache[units]

    baseline = evaluate_point(())
    answer: int | None = None
    unsafe: int | None = None
    if evaluate(lo_units).safe:
        answer, distance = lo_units, 1
        while True:
            probe = min(hi_units, lo_units + distance)
            if probe == answer:
                break
            if evaluate(probe).safe:
                answer = probe
                if probe == hi_units:
                    break
                distance *= 2
            else:
                unsafe = probe
                break
        while unsafe is not None and unsafe - answer > 1:
            mid = (answer + unsafe) // 2
            if evaluate(mid).safe:
                answer = mid
            else:
                unsafe = mid
    else:
        unsafe = lo_units
    at_answer = None if answer is None else cache[answer]
    return SolveResult(
        param=param,
        target=target,
        confidence=confidence,
        runs_per_value=runs,
        answer=None if answer is None else _format_units(answer, unit),
        first_unsafe=None if unsafe is None else _format_units(unsafe, unit),
        baseline=baseline,
        at_answer=at_answer,
        volume_given_up=None if at_answer is None else baseline.mean_volume - at_answer.mean_volume,
        fees_given_up=None if at_answer is None else baseline.mean_fees - at_answer.mean_fees,
        evaluations=[cache[k] for k in sorted(cache)],
        warnings=warnings,
    )


# --------------------------------------------------------------------------- output


def write_outputs(
    table: list[dict[str, Any]], rows: list[dict[str, Any]], keys: list[str], out: Path
) -> list[Path]:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(table)
    paths = [out / "sweep.csv", out / "sweep.parquet", out / "runs.csv"]
    frame.to_csv(paths[0], index=False)
    frame.to_parquet(paths[1], index=False)
    pd.DataFrame(rows).to_csv(paths[2], index=False)
    paths += heatmaps(frame, keys, out)
    return paths


def heatmaps(frame: Any, keys: list[str], out: Path) -> list[Path]:
    """One PNG per metric over the first two grid keys (other keys: worst value). Money in USD;
    an all-zero map keeps a 0..1 scale (never a symmetric -0.1..0.1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not keys:
        return []
    x = keys[0]
    y = keys[1] if len(keys) > 1 else None
    written = []
    for metric in METRICS:
        grouped = frame.groupby([y, x] if y else [x])[metric].max()
        pivot = grouped.unstack(x) if y else grouped.to_frame().T
        order_x = sorted(pivot.columns, key=_numeric)
        pivot = pivot[order_x]
        if y:
            pivot = pivot.loc[sorted(pivot.index, key=_numeric)]
        matrix = pivot.to_numpy(dtype=float)
        if metric in MONEY_METRICS:
            matrix = matrix / 1e6
        top = float(matrix.max()) if matrix.size else 0.0
        fig, ax = plt.subplots(figsize=(1.8 * len(order_x) + 2.5, 0.9 * len(pivot.index) + 2))
        image = ax.imshow(matrix, cmap="magma_r", aspect="auto", vmin=0.0, vmax=top or 1.0)
        ax.set_xticks(range(len(order_x)), [str(v) for v in order_x])
        ax.set_yticks(range(len(pivot.index)), [str(v) for v in pivot.index] if y else [""])
        ax.set_xlabel(x)
        ax.set_ylabel(y or "")
        for (i, j), value in _cells(matrix):
            if metric == "depletion_probability":
                label = f"{value:.1%}"
            elif metric == "mean_liquidations":
                label = f"{value:,.1f}"
            else:
                label = f"{value:,.0f}"
            dark = top > 0 and value / top > 0.55
            colour = "white" if dark else "black"
            ax.text(j, i, label, ha="center", va="center", fontsize=10, color=colour)
        unit = " (USD)" if metric in MONEY_METRICS else ""
        fig.colorbar(image, ax=ax, label=metric.replace("_", " ") + unit)
        ax.set_title(
            metric.replace("_", " ") + unit + (" (worst over other keys)" if len(keys) > 2 else "")
        )
        fig.tight_layout()
        path = out / f"heatmap_{metric}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def _cells(matrix: Any) -> list[tuple[tuple[int, int], float]]:
    return [
        ((i, j), float(matrix[i][j])) for i in range(len(matrix)) for j in range(len(matrix[0]))
    ]


def _numeric(value: Any) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _usd(micro: int) -> str:
    return f"{micro / 1e6:,.0f}"


def _print_table(table: list[dict[str, Any]], keys: list[str], confidence: float) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"Sweep (intervals at {confidence:g} confidence; money in USD)")
    columns = [*keys, "runs", "P(depl.)", "P interval", "mean short.", "p99", "p99 interval"]
    for column in [*columns, "liq."]:
        view.add_column(column, justify="right", no_wrap=True)
    for row in table:
        cells = [str(row[k]) for k in keys] + [str(row["runs"])]
        cells += [
            f"{row['depletion_probability']:.3f}",
            f"{row['depletion_low']:.3f}-{row['depletion_high']:.3f}",
            _usd(row["mean_shortfall"]),
            _usd(row["p99_shortfall"]),
            f"{_usd(row['p99_low'])}-{_usd(row['p99_high'])}",
            f"{row['mean_liquidations']:.1f}",
        ]
        view.add_row(*cells)
    console = Console()
    Console(width=max(console.width, 160) if not console.is_terminal else None).print(view)


def fixed_point(scenario: Scenario, grid: Sequence[str]) -> Scenario:
    """With ``--solve``, each ``--grid NAME=value`` (one value) fixes that field first, e.g.
    ``--grid V=5000 --grid if_seed=250000`` to ask the question at that V and fund."""
    parsed = parse_grid(grid)
    several = [k for k, v in parsed.items() if len(v) != 1]
    if several:
        raise SweepError(
            f"with --solve, --grid fixes one value per name ({several[0]} has several)",
            field="grid",
        )
    return apply_point(scenario, tuple((k, v[0]) for k, v in parsed.items()))


def _print_solution(result: SolveResult) -> None:
    from rich.console import Console

    console = Console()
    console.print(
        f"largest safe {result.param}: [bold]{result.answer or 'none in range'}[/] "
        f"(P(fund depleted) <= {result.target:g} at {result.confidence:g} one-sided Wilson; "
        f"{result.runs_per_value} runs per value; first unsafe: {result.first_unsafe or '-'})"
    )
    base, at = result.baseline, result.at_answer
    console.print(
        f"scenario as written: P(depleted) {base.depletion_probability:.3f} "
        f"(upper {base.upper_bound:.3f}), volume {_usd(base.mean_volume)} USD, "
        f"fees {_usd(base.mean_fees)} USD"
    )
    if at is not None:
        console.print(
            f"at {result.answer}: P(depleted) {at.depletion_probability:.3f} "
            f"(upper {at.upper_bound:.3f}), volume {_usd(at.mean_volume)} USD, fees "
            f"{_usd(at.mean_fees)} USD; given up: volume {_usd(result.volume_given_up or 0)} "
            f"USD, fees {_usd(result.fees_given_up or 0)} USD"
        )


def _fail(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _guard(action: Callable[[], Any]) -> Any:
    from prophex.scenarios.schema import ScenarioError

    try:
        return action()
    except (ScenarioError, SweepError) as exc:
        _fail(exc.message)


def sweep_command(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    grid: list[str] = typer.Option(
        [], "--grid", help="NAME=v1,v2,... (repeatable): a protocol parameter or scenario field."
    ),
    seeds: int = typer.Option(
        None, "--seeds", help="Runs per grid point (default 10; solver: enough for the confidence)."
    ),
    executor: str = typer.Option("local", "--executor", help="local or dask://HOST:PORT"),
    workers: int = typer.Option(None, "--workers", help="Local processes (default: CPUs)."),
    out: Path = typer.Option(Path("sweep-out"), "--out", help="Directory for the outputs."),
    json_out: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence of the intervals."),
    target: str = typer.Option(None, "--target", help="e.g. 'P(fund depleted) <= 1%'."),
    solve_param: str = typer.Option(None, "--solve", help="Find the largest safe value of NAME."),
    range_: str = typer.Option(None, "--range", help="LOW,HIGH for --solve."),
    step: str = typer.Option(None, "--step", help="Resolution of --solve (max_leverage: 0.01)."),
) -> None:
    """Run a scenario over a grid x seeds (or solve for the largest safe value of a parameter)
    and aggregate fund-depletion figures with confidence intervals."""
    _guard(lambda: require_sweep_extra(executor))
    from prophex.scenarios.loader import load_scenario

    scenario = _guard(lambda: load_scenario(file))
    goal = None if target is None else _guard(lambda: parse_target(target))
    if solve_param is not None:
        if goal is None:
            _fail("--solve needs --target 'P(fund depleted) <= X%'")
        low, _, high = (range_ or ",").partition(",")
        fixed = _guard(lambda: fixed_point(scenario, grid))
        result: SolveResult = _guard(
            lambda: solve(
                fixed,
                solve_param,
                goal,
                confidence=confidence,
                seeds=seeds,
                low=low or None,
                high=high or None,
                step=step,
                executor=executor,
                workers=workers,
            )
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "solve.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        if json_out:
            sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        else:
            _print_solution(result)
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)
        return
    if not grid:
        _fail("give at least one --grid NAME=v1,v2,... (or --solve NAME)")
    parsed = _guard(lambda: parse_grid(grid))
    runs = 10 if seeds is None else seeds
    table, rows = _guard(lambda: sweep(scenario, parsed, runs, executor, workers, confidence))
    warnings = cell_warnings(table, confidence, goal)
    written = write_outputs(table, rows, list(parsed), out)
    if json_out:
        body = {"table": table, "warnings": warnings, "files": [str(p) for p in written]}
        sys.stdout.write(json.dumps(body) + "\n")
    else:
        _print_table(table, list(parsed), confidence)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
