"""Parameter sweeps: one scenario over a grid of protocol parameters x seeds, in parallel.

Each run is an in-memory replay (the same sequencer and engine as everything else, without a
database), so a run's figures are a pure function of (scenario, grid point, seed). That is
what lets the local process pool and a Dask cluster give *exactly* the same table: runs are
collected, sorted by (grid point, seed), and only then aggregated, with integer arithmetic for
money and the inverted-CDF quantile (an actual run's value) for the 99th percentile.

Grid keys are :class:`prophex.params.Params` fields; ``V`` is short for ``virtual_oi`` and
also replaces every market's own V, so the sweep really varies the anchor.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from prophex.errors import ProphexError
from prophex.params import Params
from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import run_scenario
from prophex.scenarios.report import build_summary
from prophex.scenarios.schema import Scenario, ScenarioError

ALIASES = {"V": "virtual_oi"}
Point = tuple[tuple[str, str], ...]
Task = tuple[Scenario, Point, int]
METRICS = ("depletion_probability", "mean_shortfall", "p99_shortfall", "mean_liquidations")


class SweepError(ProphexError):
    code = "INVALID_SWEEP"
    status = 422
    title = "Invalid sweep"


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["V=1000,5000", "max_leverage=3"]`` -> ``{"virtual_oi": [...], "max_leverage": [...]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep or not values.strip():
            raise SweepError(f"--grid {item!r}: expected NAME=v1,v2,...", field="grid")
        if key not in Params.model_fields or key == "profile":
            raise SweepError(f"--grid {item!r}: unknown parameter {key!r}", field="grid")
        if key in grid:
            raise SweepError(f"--grid {key} is given twice", field="grid")
        grid[key] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def grid_points(grid: dict[str, list[str]]) -> list[Point]:
    keys = list(grid)
    return [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def apply_point(scenario: Scenario, point: Point) -> Scenario:
    """The scenario with the grid point's parameter overrides (validated like the file's)."""
    overrides = dict(point)
    params = {**scenario.protocol.params, **overrides}
    data = scenario.model_dump(mode="python")
    data["protocol"]["params"] = params
    if "virtual_oi" in overrides:
        for market in data["markets"]:
            market["virtual_oi"] = overrides["virtual_oi"]
    try:
        return Scenario.model_validate(data)
    except Exception as exc:
        raise SweepError(f"grid point {overrides} is invalid: {exc}", field="grid") from None


def run_task(task: Task) -> dict[str, Any]:
    """One run: figures of interest as integers (module level, so workers can pickle it)."""
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
    }


def run_chunk(tasks: list[Task]) -> list[dict[str, Any]]:
    return [run_task(t) for t in tasks]


def _chunks(tasks: list[Task], size: int) -> list[list[Task]]:
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def execute_local(tasks: list[Task], workers: int | None) -> list[dict[str, Any]]:
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


def aggregate(
    rows: list[dict[str, Any]], keys: list[str], points: list[Point]
) -> list[dict[str, Any]]:
    """Per grid point (in grid order): depletion probability, mean / p99 shortfall, mean
    liquidations. Runs are ordered first, so the result never depends on completion order."""
    index = {tuple(v for _, v in p): i for i, p in enumerate(points)}
    ordered = sorted(rows, key=lambda r: (index[tuple(r[k] for k in keys)], r["seed"]))
    table = []
    for point, group in itertools.groupby(ordered, key=lambda r: tuple(r[k] for k in keys)):
        runs = list(group)
        shortfalls = sorted(r["shortfall"] for r in runs)
        n = len(runs)
        p99 = shortfalls[min(n - 1, max(0, -(-99 * n // 100) - 1))]
        table.append(
            {
                **dict(zip(keys, point, strict=True)),
                "runs": n,
                "depletion_probability": sum(r["depleted"] for r in runs) / n,
                "mean_shortfall": sum(shortfalls) // n,
                "p99_shortfall": p99,
                "mean_liquidations": sum(r["liquidations"] for r in runs) / n,
                "mean_bad_debt": sum(r["bad_debt"] for r in runs) // n,
                "mean_fund_drawn": sum(r["fund_drawn"] for r in runs) // n,
            }
        )
    return table


def sweep(
    scenario: Scenario,
    grid: dict[str, list[str]],
    seeds: int,
    executor: str = "local",
    workers: int | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the grid x seeds; returns (aggregate table, per-run rows)."""
    if seeds < 1:
        raise SweepError("--seeds must be at least 1", field="seeds")
    points = grid_points(grid)
    variants = {point: apply_point(scenario, point) for point in points}
    tasks: list[Task] = [(variants[p], p, scenario.seed + i) for p in points for i in range(seeds)]
    if executor == "local":
        rows = execute_local(tasks, workers)
    elif executor.startswith(("dask://", "tcp://")):
        rows = execute_dask(tasks, executor)
    else:
        raise SweepError(
            f"unknown executor {executor!r} (local or dask://HOST:PORT)", field="executor"
        )
    index = {tuple(v for _, v in p): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: (index[tuple(r[k] for k in grid)], r["seed"]))
    return aggregate(rows, list(grid), points), rows


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
    """One PNG per metric over the first two grid keys (other keys: worst value)."""
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
        fig, ax = plt.subplots(figsize=(1.6 * len(order_x) + 2, 0.8 * len(pivot.index) + 2))
        image = ax.imshow(pivot.to_numpy(dtype=float), cmap="magma_r", aspect="auto")
        ax.set_xticks(range(len(order_x)), [str(v) for v in order_x])
        ax.set_yticks(range(len(pivot.index)), [str(v) for v in pivot.index])
        ax.set_xlabel(x)
        ax.set_ylabel(y or "")
        for (i, j), value in _cells(pivot.to_numpy(dtype=float)):
            label = (
                f"{value:.2f}"
                if metric in ("depletion_probability", "mean_liquidations")
                else (f"{value / 1e6:,.0f}")
            )
            ax.text(j, i, label, ha="center", va="center", fontsize=8, color="tab:blue")
        fig.colorbar(image, ax=ax)
        unit = "" if metric in ("depletion_probability", "mean_liquidations") else " (USD)"
        ax.set_title(metric.replace("_", " ") + unit)
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


def _print_table(table: list[dict[str, Any]], keys: list[str]) -> None:
    view = Table(title="Sweep")
    for column in [*keys, "runs", *METRICS]:
        view.add_column(column, justify="right")
    for row in table:
        cells = [str(row[k]) for k in keys] + [str(row["runs"])]
        cells += [
            f"{row['depletion_probability']:.3f}",
            f"{row['mean_shortfall'] / 1e6:,.2f}",
            f"{row['p99_shortfall'] / 1e6:,.2f}",
            f"{row['mean_liquidations']:.2f}",
        ]
        view.add_row(*cells)
    Console().print(view)


def sweep_command(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    grid: list[str] = typer.Option(..., "--grid", help="NAME=v1,v2,... (repeatable)."),
    seeds: int = typer.Option(10, "--seeds", help="Runs per grid point (seeds seed..seed+N-1)."),
    executor: str = typer.Option("local", "--executor", help="local or dask://HOST:PORT"),
    workers: int = typer.Option(None, "--workers", help="Local processes (default: CPUs)."),
    out: Path = typer.Option(Path("sweep-out"), "--out", help="Directory for the outputs."),
    json_out: bool = typer.Option(False, "--json", help="Print the table as JSON."),
) -> None:
    """Run a scenario over a parameter grid x seeds and aggregate fund-depletion figures."""
    err = Console(stderr=True)
    try:
        scenario = load_scenario(file)
        parsed = parse_grid(grid)
        table, rows = sweep(scenario, parsed, seeds, executor, workers)
    except (ScenarioError, SweepError) as exc:
        err.print(f"[red]error:[/] {exc.message}", highlight=False)
        raise typer.Exit(2) from None
    written = write_outputs(table, rows, list(parsed), out)
    if json_out:
        sys.stdout.write(json.dumps({"table": table, "files": [str(p) for p in written]}) + "\n")
    else:
        _print_table(table, list(parsed))
