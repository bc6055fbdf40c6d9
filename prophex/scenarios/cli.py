"""``prophex replay FILE``: the typer command function (registered by ``prophex.cli``).

The file is validated completely before anything is created: a bad scenario leaves no
database file and no output directory behind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from prophex.errors import ProphexError

if TYPE_CHECKING:  # the engine is imported when a command runs, not for ``prophex --help``
    from rich.table import Table

    from prophex.scenarios.replay import ReplayResult
    from prophex.scenarios.schema import Scenario

LONG_RUN_STOPS = 50


def fresh_sqlite_url(out: Path) -> str:
    """A new SQLite file under ``out`` (an earlier run's file is replaced, never appended to)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "replay.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _run(scenario: Scenario, seed: int | None, url: str | None, quiet: bool) -> ReplayResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from prophex.scenarios.replay import run_scenario

    if quiet or scenario.duration // scenario.tick < LONG_RUN_STOPS:
        return run_scenario(scenario, seed=seed, url=url)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} s simulated"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(f"replay {scenario.name}", total=scenario.duration)

        def advance(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        return run_scenario(scenario, seed=seed, url=url, progress=advance)


def _table(summary: dict[str, Any], out: Path) -> Table:
    from rich.table import Table

    from prophex.money import format_usd

    table = Table(title=f"{summary['scenario']} (seed {summary['seed']}) -> {out}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    fund = summary["insurance_fund"]
    rows = [
        ("commands accepted", f"{summary['commands']['accepted']:,}"),
        ("volume (USD)", format_usd(summary["volume"])),
        ("fees (USD)", format_usd(summary["fees"])),
        ("liquidations", f"{summary['liquidations']['count']:,}"),
        ("deepest cascade", str(summary["liquidations"]["deepest_cascade"]["size"])),
        ("bad debt (USD)", format_usd(summary["bad_debt"])),
        ("fund drawn (USD)", format_usd(fund["drawn"])),
        ("fund final (USD)", format_usd(fund["final"])),
        ("haircuts (USD)", format_usd(summary["haircuts"]["total"])),
        ("digest", summary["digest"][:16] + "..."),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def replay_command(
    file: Path = typer.Argument(None, help="Scenario YAML file.", show_default=False),
    seed: int = typer.Option(None, "--seed", help="Override the scenario's seed."),
    db: str = typer.Option(None, "--db", help="Database URL (default: a fresh SQLite file)."),
    memory: bool = typer.Option(False, "--memory", help="In-memory sequencer, no database."),
    out: Path = typer.Option(Path("replay-out"), "--out", help="Directory for reports."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the PNG plots."),
    schema: bool = typer.Option(False, "--schema", help="Print the scenario JSON Schema."),
) -> None:
    """Replay a scenario through the sequencer and write summary.json, report.md and plots."""
    from prophex.ledger.store import sqlite_path
    from prophex.scenarios.loader import json_schema_text, load_scenario
    from prophex.scenarios.report import build_summary, write_reports

    if schema:
        sys.stdout.write(json_schema_text())
        return
    err = Console(stderr=True)
    if file is None:
        err.print("[red]error:[/] give a scenario FILE (or --schema)")
        raise typer.Exit(2)
    if db is not None and memory:
        err.print("[red]error:[/] --db and --memory exclude each other")
        raise typer.Exit(2)
    try:
        scenario = load_scenario(file)
    except ProphexError as exc:
        err.print(f"[red]error:[/] {exc.message}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    url = None if memory else (db if db is not None else fresh_sqlite_url(out))
    try:
        result = _run(scenario, seed, url, quiet=json_out)
    except ProphexError as exc:
        err.print(f"[red]error:[/] {exc.code}: {exc.message}", soft_wrap=True)
        raise typer.Exit(1) from None
    summary = build_summary(result)
    written = write_reports(summary, result, out, plots=plots)
    if json_out:
        payload = {**summary, "out": str(out), "files": [str(p) for p in written]}
        if url is not None and sqlite_path(url) is not None:
            payload["database"] = url
        sys.stdout.write(json.dumps(payload, sort_keys=True) + "\n")
    else:
        Console().print(_table(summary, out))
    if result.invariant_problems:
        err.print("[red]invariants violated:[/] " + "; ".join(result.invariant_problems))
        raise typer.Exit(1)
