"""The ``prophex`` command (typer + rich). Every write goes through the sequencer."""

from __future__ import annotations

import typer

from prophex.commands_cli import audit_cmd, bench_core_cmd, bench_ledger_cmd, db_upgrade_cmd, demo_cmd, run_cmd

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

app.command("demo")(demo_cmd)
app.command("run")(run_cmd)
app.command("audit")(audit_cmd)
db_app.command("upgrade")(db_upgrade_cmd)
bench_app.command("core")(bench_core_cmd)
bench_app.command("ledger")(bench_ledger_cmd)


def _register_optional() -> None:
    """Commands of the other subsystems (margin, API, scenarios) register themselves here."""
    from prophex.margin import cli as margin_cli

    app.command("margin")(margin_cli.margin_command)
    bench_app.command("margin")(margin_cli.bench_margin_command)


def main() -> None:
    _register_optional()
    app()
