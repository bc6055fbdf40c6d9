"""PNG report: the margin waterfall beside the risk-asset loss distribution."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the CLI runs on servers and in CI

import itertools

import matplotlib.pyplot as plt

from prophex.margin.risk import MarginResult


def write_plot(result: MarginResult, path: Path) -> None:
    """Write the two panels to ``path`` (PNG)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    steps = result.waterfall()
    labels = [textwrap.fill(s[0], 14) for s in steps] + ["portfolio\nmargin"]
    starts = [0.0] + [total - delta for _, delta, total in steps[1:]]
    heights = [steps[0][1]] + [delta for _, delta, _ in steps[1:]]
    starts.append(0.0)
    heights.append(result.pm)
    colors = (
        ["tab:gray"] + ["tab:green" if h < 0 else "tab:red" for h in heights[1:-1]] + ["tab:blue"]
    )
    left.bar(range(len(labels)), heights, bottom=starts, color=colors)
    left.set_xticks(range(len(labels)), labels, fontsize=7)
    left.set_ylabel("USD")
    left.set_title(f"{result.book}: waterfall (rule {result.params.rule})")
    hist = result.histogram
    if hist:
        edges, counts = hist["edges"], hist["counts"]
        total = sum(counts)
        widths = [b - a for a, b in itertools.pairwise(edges)]
        right.bar(
            edges[:-1], [c / total for c in counts], width=widths, align="edge", color="tab:orange"
        )
        right.set_yscale("log")
    right.set_xlabel("risk-asset book settlement loss (USD)")
    right.set_ylabel("share of paths")
    right.set_title(f"risk-asset loss distribution, {result.params.paths:,} paths")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
