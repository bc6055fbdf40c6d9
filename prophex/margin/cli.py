"""CLI commands of the margin engine, registered by the lead on the main ``prophex`` app.

``main_app.command("margin")(margin_command)``; its benchmark is :mod:`prophex.bench.margin`.
Bad input never shows a traceback: it prints the error code and the field, and exits with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from prophex.margin.contracts import load_book
from prophex.margin.errors import MarginError
from prophex.margin.requirement import compute_margin
from prophex.margin.risk import BINDING_LABELS, MarginResult, params_for

EXIT_BAD_INPUT = 2


def _fail(exc: MarginError) -> typer.Exit:
    Console(stderr=True).print(
        f"[bold red]error[/] {exc.code} in field '{exc.field}': {exc.message}"
    )
    return typer.Exit(code=EXIT_BAD_INPUT)


def margin_command(
    book: Path = typer.Argument(..., help="Book YAML (see scenarios/portfolio/)."),
    rho_within: float | None = typer.Option(None, "--rho-within", help="Same-class correlation."),
    rho_cross: float | None = typer.Option(
        None, "--rho-cross", help="Cross-class risk-on correlation."
    ),
    paths: int = typer.Option(200_000, "--paths", help="Monte-Carlo paths (>= 1,000)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the scenario set."),
    rule: str = typer.Option(
        "joint", "--rule", help="Base rule: 'joint' (exchange) or 'sqrt' (published)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a PNG of the waterfall and loss distribution."
    ),
) -> None:
    """Compute the portfolio-margin waterfall of a book."""
    try:
        loaded = load_book(book)
        params = params_for(
            loaded, rho_within=rho_within, rho_cross=rho_cross, paths=paths, seed=seed, rule=rule
        )
        result = compute_margin(loaded, params)
    except MarginError as exc:
        raise _fail(exc) from None
    if plot is not None:
        from prophex.margin.plot import write_plot

        write_plot(result, plot, loaded)  # risk analysis (issue 11): whole-book losses
    if json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print_result(result)


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _print_result(r: MarginResult) -> None:
    console = Console()
    p = r.params
    console.print(
        f"[bold]{r.book}[/]: {p.paths:,} paths, seed {p.seed}, alpha {p.alpha}, "
        f"rho_within {p.rho_within}, rho_cross {p.rho_cross}, rule [bold]{p.rule}[/]"
    )
    console.print(_cluster_table(r))
    console.print(_correlation_table(r))
    console.print(_waterfall_table(r))
    console.print(
        f"base by sqrt rule {_money(r.base_sqrt)} (+/- {r.base_sqrt_se:,.1f}), "
        f"joint Monte-Carlo {_money(r.base_joint)} (+/- {r.base_joint_se:,.1f}); "
        f"top-2 floor {_money(r.floor_top2)} ({' + '.join(r.floor_top2_clusters)}); "
        f"minimum margin {_money(r.min_margin)}"
    )
    capped = " (capped at full collateralization)" if r.capped_at_fc else ""
    console.print(
        f"binding control: [bold]{BINDING_LABELS[r.binding]}[/]{capped}; "
        f"PM {_money(r.pm)} = {r.pm_micro_usd:,} micro-USD; capital released {r.release:.1%}"
    )


def _cluster_table(r: MarginResult) -> Table:
    t = Table(title="clusters: gross vs 99% ES (exact netting inside)")
    for col in ("cluster", "gross", "ES", "ES/gross", "MC s.e."):
        t.add_column(col, justify="left" if col == "cluster" else "right")
    for c in r.clusters:
        ratio = c.es / c.gross if c.gross > 0 else 0.0
        t.add_row(c.name, _money(c.gross), _money(c.es), f"{ratio:.0%}", f"{c.es_se:,.1f}")
    return t


def _correlation_table(r: MarginResult) -> Table:
    names = [c.name for c in r.clusters]
    t = Table(title="generated correlations (LCA; parlay rows measured)")
    t.add_column("")
    for n in names:
        t.add_column(n, justify="right")
    for n, row in zip(names, r.correlation, strict=True):
        t.add_row(n, *(f"{x:.2f}" for x in row))
    return t


def _waterfall_table(r: MarginResult) -> Table:
    t = Table(title="margin waterfall (USD)")
    t.add_column("step")
    t.add_column("change", justify="right")
    t.add_column("total", justify="right")
    for step, delta, total in r.waterfall():
        t.add_row(step, "" if step.startswith("gross") else f"{delta:+,.0f}", _money(total))
        if step == "add-ons":
            for name, value in r.addons.items():
                t.add_row(f"  of which {name}", f"{value:+,.0f}", "")
    t.add_row("[bold]portfolio margin[/]", "", f"[bold]{_money(r.pm)}[/]")
    return t
