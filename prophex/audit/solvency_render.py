"""The terminal view of a solvency report (rich tables)."""

from __future__ import annotations

from typing import Any

from prophex.money import MAX_AMOUNT, format_usd


def render(report: dict[str, Any]) -> Any:
    """A rich renderable of the report (tables)."""
    from rich.console import Group
    from rich.table import Table

    fund = report["insurance_fund"]
    table = Table(title=f"Solvency: insurance fund {format_usd(fund)} USD")
    for column in ("market", "price A", "shortfall if A", "shortfall if B", "cover A", "cover B"):
        table.add_column(column, justify="left" if column == "market" else "right")
    for row in report["markets"]:
        table.add_row(
            row["market"],
            row["price_a"],
            format_usd(row["if_a"]["shortfall"]),
            format_usd(row["if_b"]["shortfall"]),
            row["coverage_if_a"] or "-",
            row["coverage_if_b"] or "-",
        )
    mc = report["monte_carlo"]
    caps = report["caps_covering_p99"]
    summary = Table(show_header=False, title="Fund depletion and caps")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for name, value in (
        ("worst case, every market its worse way (USD)", format_usd(report["worst_case_total"])),
        ("coverage of that worst case", report["coverage_worst_total"] or "-"),
        (
            "P(fund depleted) [95% Wilson]",
            f"{mc['depletion_probability']:.4%} [{mc['wilson_95'][0]:.2%}, "
            f"{mc['wilson_95'][1]:.2%}]",
        ),
        ("Monte-Carlo standard error", f"{mc['standard_error']:.4%}"),
        ("outcome probabilities", mc["outcome_model"]["probabilities"]),
        ("99% shortfall (USD)", format_usd(mc["shortfall_p99"])),
        ("mean shortfall (USD)", format_usd(mc["mean_shortfall"])),
        ("correlation", mc["correlation"]),
        ("paths / seed", f"{mc['paths']} / {mc['seed']}"),
        ("largest wallet cap covering p99 (USD)", _cap(caps["wallet_cap"])),
        ("largest market OI cap covering p99 (USD)", _cap(caps["market_oi_cap"])),
        *(
            (f"wallet cap if {n} wallets each take it (USD)", _cap(v))
            for n, v in caps["wallet_cap_if_many_wallets"].items()
        ),
    ):
        summary.add_row(name, value)
    dynamic = report.get("paths_to_resolution")
    if dynamic is not None:
        low, high = dynamic["wilson_95"]
        table_d = Table(show_header=False, title="Paths to resolution (through the engine)")
        shape = f"{dynamic['settings']['steps']} / {dynamic['settings']['horizon']}"
        bounds = f"[{low:.2%}, {high:.2%}]"
        table_d.add_column("figure")
        table_d.add_column("value", justify="right")
        for name, value in (
            ("paths / steps / horizon (s)", f"{len(dynamic['paths'])} / {shape}"),
            ("P(fund depleted) [95% Wilson]", f"{dynamic['depletion_probability']:.2%} {bounds}"),
            ("mean fund drawn (USD)", format_usd(dynamic["mean_fund_drawn"])),
            ("of which on profitable closes (USD)", format_usd(dynamic["mean_drawn_on_closes"])),
            ("99% fund drawn (USD)", format_usd(dynamic["p99_fund_drawn"])),
            ("mean liquidations per path", f"{dynamic['mean_liquidations']:.1f}"),
        ):
            table_d.add_row(name, value)
        summary = Group(summary, table_d)  # type: ignore[assignment]
    notes = mc["outcome_model"].get("notes", [])
    if notes:
        from rich.text import Text

        return Group(table, summary, *(Text(f"note: {n}") for n in notes))
    return Group(table, summary)


def _cap(value: int | None) -> str:
    if value is None:
        return "none (already uncovered)"
    return "unbounded" if value >= MAX_AMOUNT else format_usd(value)
