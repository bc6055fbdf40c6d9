"""Outputs of a sweep: CSV/Parquet tables, heatmaps, and the terminal views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prophex.scenarios.sweep.solver import SolveResult

METRICS = ("depletion_probability", "mean_shortfall", "p99_shortfall", "mean_liquidations")
MONEY_METRICS = ("mean_shortfall", "p99_shortfall")


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


def print_table(table: list[dict[str, Any]], keys: list[str], confidence: float) -> None:
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


def print_solution(result: SolveResult) -> None:
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
