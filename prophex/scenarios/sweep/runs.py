"""Runs of a sweep: tasks, the local and Dask executors, and the aggregate table.

Runs are collected, sorted by (grid point, seed), and only then aggregated, so the local pool
and a Dask cluster give exactly the same table.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from prophex.money import mul_div_ceil
from prophex.scenarios.sweep.errors import SweepError
from prophex.scenarios.sweep.grid import Point, apply_point, grid_points
from prophex.scenarios.sweep.stats import (
    bootstrap_interval,
    inverted_quantile,
    runs_needed,
    wilson,
    z_two_sided,
)

if TYPE_CHECKING:
    from prophex.scenarios.schema import Scenario


Task = tuple["Scenario", Point, int]


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
                "mean_shortfall": mul_div_ceil(sum(shortfalls), 1, n),  # losses: up
                "p99_shortfall": inverted_quantile(shortfalls, 0.99),
                "p99_low": p99_low,
                "p99_high": p99_high,
                "mean_liquidations": sum(r["liquidations"] for r in runs) / n,
                "mean_bad_debt": mul_div_ceil(sum(r["bad_debt"] for r in runs), 1, n),
                "mean_fund_drawn": mul_div_ceil(sum(r["fund_drawn"] for r in runs), 1, n),
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
