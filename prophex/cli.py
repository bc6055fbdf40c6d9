"""The ``prophex`` command (typer + rich). Every write goes through the sequencer.

Typed errors become a one-line message and exit code 2 (bad input, missing database) or 1
(rejections, failed audit); 3 when the writer stopped (fenced by another sequencer, or a
commit it could not recover from). A traceback means a bug.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from prophex.errors import ProphexError

app = typer.Typer(
    name="prophex",
    help="Prophex-sim: a leveraged binary-outcome exchange simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print measured figures.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: PROPHEX_DATABASE_URL or ./prophex.db)."),
]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from prophex.perf import build_info

        try:
            number = version("prophex-sim")
        except PackageNotFoundError:
            number = "unknown"
        info = build_info()
        console.print(f"prophex-sim {number} ({info['build']} build, {info['interpreter']})")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version, the build (pure or compiled) and the interpreter.",
        ),
    ] = False,
) -> None:
    pass


def fail(error: ProphexError, code: int = 2) -> None:
    err_console.print(f"[bold red]error[/] [{error.code}] {error.message}", soft_wrap=True)
    raise typer.Exit(code)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs from the command line (values validated later by Params)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            err_console.print(f"[bold red]error[/] --param expects key=value, got {pair!r}")
            raise typer.Exit(2)
        overrides[key.strip()] = value.strip()
    return overrides


@app.command("demo")
def demo_cmd(
    db: Annotated[
        Path, typer.Option("--db", help="SQLite file to (re)create for the demo.")
    ] = Path("prophex-demo.db"),
) -> None:
    """Walk through the worked examples and a skewed resolution on a fresh SQLite ledger."""
    from prophex.simulation.demo import run_demo

    try:
        ok = run_demo(db, console)
    except ProphexError as error:
        fail(error, 1)
    raise typer.Exit(0 if ok else 1)


@app.command("run")
def run_cmd(
    file: Annotated[Path, typer.Argument(help="Commands: a YAML list or JSON lines.")],
    db: DbOption = None,
    memory: Annotated[bool, typer.Option("--memory", help="Run in memory, no database.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the final state as JSON.")
    ] = False,
    profile_name: Annotated[
        str, typer.Option("--profile", help="Parameter profile for a new database.")
    ] = "launch",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter override key=value (repeat).")
    ] = None,
    block_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1_000,
) -> None:
    """Execute a command file through the sequencer and print the final state."""
    import logging

    from prophex.chain.sequencer import Sequencer
    from prophex.params import profile
    from prophex.simulation.runner import execute_file, final_state, load_command_file

    # The run reports a stopped writer itself, on one line; the sequencer's log is for servers.
    logging.getLogger("prophex.sequencer").addHandler(logging.NullHandler())
    logging.getLogger("prophex.sequencer").propagate = False

    try:
        commands = load_command_file(file)
        params = profile(profile_name, **parse_overrides(param or []))
        sequencer = (
            Sequencer.in_memory(params)
            if memory
            else Sequencer.open(db, params, block_size=block_size)
        )
    except ProphexError as error:
        fail(error)
        return
    try:
        result = execute_file(sequencer, commands)
        stopped = sequencer.failure
        state = final_state(sequencer, result) if stopped is None else {}
    finally:
        sequencer.close()
    if stopped is not None:  # fail-stop: a fenced or failed writer exits non-zero, saying why
        fail(stopped, 3)
    if json_out:
        sys.stdout.write(json.dumps(state, indent=2, sort_keys=True) + "\n")
    else:
        from prophex.simulation.render import print_state

        print_state(console, state)
    raise typer.Exit(1 if result.rejections else 0)


@app.command("audit")
def audit_cmd(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    solvency: Annotated[
        bool, typer.Option("--solvency", help="Insurance-fund solvency audit instead.")
    ] = False,
    paths: Annotated[int, typer.Option(help="Monte-Carlo paths for --solvency.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed for --solvency.")] = 1,
    # risk analysis (issue 11): the solvency audit's outcome model
    probabilities: Annotated[
        str, typer.Option(help="--solvency outcome probabilities: prices, user or crowd.")
    ] = "prices",
    probability: Annotated[
        list[str] | None, typer.Option(help="--solvency P(A) of a market: MARKET=P (repeat).")
    ] = None,
    correlate: Annotated[
        list[str] | None,
        typer.Option(
            help="--solvency correlation: NAME[,NAME...]=RHO, NAME a market or cluster:X."
        ),
    ] = None,
    paths_to_resolution: Annotated[
        bool, typer.Option(help="--solvency: also run price paths to resolution in the engine.")
    ] = False,
    engine_paths: Annotated[int, typer.Option(help="Paths for --paths-to-resolution.")] = 200,
    horizon_hours: Annotated[int, typer.Option(help="Hours to resolution for the paths.")] = 24,
    steps: Annotated[int, typer.Option(help="Intervals per path to resolution.")] = 12,
) -> None:
    """Replay the journal from genesis and verify hashes, balances, invariants and state."""
    if solvency:
        from prophex.audit.solvency import parse_model, solvency_cli

        try:
            model = parse_model(probabilities, probability, correlate)
            dynamic = None
            if paths_to_resolution:
                from prophex.audit.paths import PathSettings

                dynamic = PathSettings(engine_paths, steps, horizon_hours * 3600)
        except ProphexError as error:
            fail(error)
            return
        raise typer.Exit(solvency_cli(db, json_out, paths, seed, model, dynamic))
    from prophex.audit.replay import audit_database
    from prophex.ledger.store import database_url, open_read_only

    try:
        engine = open_read_only(database_url(db))
    except ProphexError as error:
        fail(error, 2)
        return
    try:
        report = audit_database(engine)
    finally:
        engine.dispose()
    if json_out:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif report.ok:
        console.print(
            f"[bold green]audit OK[/]: {report.commands} commands replayed, "
            f"{report.transactions} transactions and {report.postings} postings verified, "
            f"{report.accounts} accounts; digest {report.replayed_digest[:16]}"
        )
    else:
        console.print(f"[bold red]audit FAILED[/]: {len(report.violations)} violation(s)")
        for problem in report.violations:
            console.print(f"  - {problem}")
    raise typer.Exit(0 if report.ok else 1)


@app.command("account-margin")
def account_margin_cmd(
    account: Annotated[str, typer.Argument(help="Account whose open positions form the book.")],
    db: DbOption = None,
    paths: Annotated[int, typer.Option(min=1_000)] = 200_000,
    seed: Annotated[int, typer.Option()] = 0,
    rule: Annotated[str, typer.Option(help="joint (exchange) or sqrt (dashboard).")] = "joint",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Portfolio margin of a live account, beside its isolated margin and full collateral."""
    from prophex.api.portfolio import account_margin
    from prophex.ledger.store import Store, database_url, open_read_only
    from prophex.margin import MarginError
    from prophex.money import format_usd

    try:
        engine = open_read_only(database_url(db))  # a reader: never the write lock
    except ProphexError as error:
        fail(error, 2)
        return
    try:
        state = Store(engine).load_state()
    finally:
        engine.dispose()
    try:
        figures = account_margin(state, account, paths=paths, seed=seed, rule=rule)
    except MarginError as error:
        err_console.print(f"[bold red]error[/] [{error.code}] {error}")
        raise typer.Exit(2) from None
    if json_out:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    console.print(
        f"account {account}: {figures['positions']} open positions; isolated margin "
        f"{format_usd(figures['isolated_margin'])} USD; full collateral "
        f"{format_usd(figures['max_loss'])} USD; portfolio margin "
        f"{format_usd(figures['portfolio_margin'])} USD (binding: {figures['binding']})"
    )


@db_app.command("upgrade")
def db_upgrade_cmd(db: DbOption = None) -> None:
    """Apply the Alembic migrations to the database."""
    from sqlalchemy.exc import SQLAlchemyError

    from prophex.errors import DatabaseUnavailable
    from prophex.ledger import migrate
    from prophex.ledger.store import database_url, make_db_engine

    try:
        url = database_url(db)
    except ProphexError as error:
        fail(error, 2)
        return
    engine = make_db_engine(url)
    try:
        migrate.upgrade(engine)
    except (OSError, SQLAlchemyError) as exc:
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(DatabaseUnavailable(f"cannot upgrade {shown}: {reason[0] if reason else exc}"), 2)
    finally:
        engine.dispose()
    console.print(f"database at {engine.url.render_as_string(hide_password=True)} is at head")


@db_app.command("snapshot")
def db_snapshot_cmd(db: DbOption = None) -> None:
    """Bring the state tables up to the journal's head (they are rewritten every few blocks
    and at a clean close; a killed writer leaves them behind, which every load replays)."""
    from prophex.chain.sequencer import Sequencer

    try:
        with Sequencer.open(db) as sequencer:
            wrote = sequencer.snapshot()
            height = sequencer.store.snapshot_height if sequencer.store else 0
    except ProphexError as error:
        fail(error, 2)
        return
    console.print(f"state tables at block {height}" + ("" if wrote else " (already current)"))


@bench_app.command("core")
def bench_core_cmd(
    json_out: Annotated[bool, typer.Option("--json")] = False,
    commands: Annotated[int, typer.Option(min=1_000)] = 200_000,
) -> None:
    """Engine alone: mixed opens, increases, closes and liquidations."""
    from prophex.bench.core import bench_core

    _print_figures(bench_core(commands), json_out)


@bench_app.command("ledger")
def bench_ledger_cmd(
    json_out: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = None,
    commands: Annotated[int, typer.Option(min=1_000)] = 100_000,
    snapshot_every: Annotated[
        int | None,
        typer.Option(min=1, help="Blocks between state snapshots (default: 32 on SQLite, 1 else)."),
    ] = None,
) -> None:
    """Engine plus ledger, blocks of 1,000 (a temporary SQLite file unless --db is given)."""
    from prophex.bench.core import bench_ledger

    _print_figures(bench_ledger(db, commands, snapshot_every=snapshot_every), json_out)


@bench_app.command("pm")
def bench_pm_cmd(
    json_out: Annotated[bool, typer.Option("--json")] = False,
    orders: Annotated[int, typer.Option(min=10)] = 400,
    paths: Annotated[int | None, typer.Option(min=1_000)] = None,
) -> None:
    """A portfolio-mode order (50 positions, 8 clusters), requirement included."""
    from prophex.bench.pm import bench_pm

    _print_figures(bench_pm(orders, paths), json_out)


def _print_figures(figures: dict[str, Any], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    for key, value in figures.items():
        console.print(f"{key:>24}: {value}")


def _register_subsystems() -> None:
    """Commands of the other subsystems, imported lazily so a broken one cannot break the rest."""
    from prophex.api import cli as api_cli
    from prophex.api.dashboard import cli as dashboard_cli
    from prophex.bench import api as api_bench
    from prophex.bench import margin as margin_bench
    from prophex.bench import replay as scenario_bench
    from prophex.margin import cli as margin_cli
    from prophex.scenarios import cli as scenario_cli
    from prophex.scenarios import sweep

    app.command("margin")(margin_cli.margin_command)
    bench_app.command("margin")(margin_bench.bench_margin_command)
    app.command("replay")(scenario_cli.replay_command)
    app.command("sweep")(sweep.sweep_command)
    bench_app.command("replay")(scenario_bench.bench_replay_command)
    app.command("serve")(api_cli.serve_command)
    app.command("dashboard")(dashboard_cli.dashboard_command)
    bench_app.command("api")(api_bench.bench_api_command)


def main() -> None:
    from prophex.perf import raise_gc_thresholds

    raise_gc_thresholds()  # the CLI owns its process: serve, run and replay are long runs
    _register_subsystems()
    app()
