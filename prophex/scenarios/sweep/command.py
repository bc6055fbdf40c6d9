"""``prophex sweep``: the console command over the grid, the runs and the solver."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from prophex.scenarios.sweep.errors import SweepError
from prophex.scenarios.sweep.extras import require_sweep_extra
from prophex.scenarios.sweep.grid import fixed_point, parse_grid
from prophex.scenarios.sweep.output import print_solution, print_table, write_outputs
from prophex.scenarios.sweep.runs import cell_warnings, sweep
from prophex.scenarios.sweep.solver import SolveResult, parse_target, solve


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
        _report_solution(result, out, json_out)
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
        print_table(table, list(parsed), confidence)
    _warn(warnings)


def _report_solution(result: SolveResult, out: Path, json_out: bool) -> None:
    """``solve.json`` in ``out``, then the answer (JSON or prose) and its warnings."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "solve.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    if json_out:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        print_solution(result)
    _warn(result.warnings)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
