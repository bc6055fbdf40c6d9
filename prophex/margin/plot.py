"""PNG report: the margin waterfall (binding control marked) beside the book's loss distribution.

Left: the waterfall from gross to portfolio margin; the bar of the control that binds (the
largest of the base, the top-two floor and the minimum margin) is hatched and named in the
title, and the three candidates are drawn as horizontal lines. Labels wrap on spaces only.

Right: when the book is given, the **whole book's** settlement loss over the same joint
scenario paths (same seed and paths as the requirement, so the same outcomes), with its VaR
(the ``alpha`` quantile) and ES (the mean of the worst ``ceil((1 - alpha) N)`` losses) as
vertical lines. Without the book only the risk-asset histogram the result carries is shown.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the CLI runs on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

from prophex.margin.contracts import Book
from prophex.margin.risk import MarginResult, expected_shortfall, sum_losses, tail_size

BINDING_NAMES = {"base": "base", "top2_floor": "top-two floor", "min_margin": "minimum margin"}


def _wrap(label: str) -> str:
    return textwrap.fill(label, 16, break_long_words=False, break_on_hyphens=False)


def book_losses(book: Book, result: MarginResult) -> NDArray[np.float64]:
    """The whole book's settlement loss per path (USD, positive = loss)."""
    from prophex.margin.scenarios import simulate_cluster_losses

    losses = simulate_cluster_losses(book, result.params.scenario())
    if not losses:
        return np.zeros(result.params.paths)
    return sum_losses([losses[k] for k in sorted(losses)])


def var_es(losses: NDArray[np.float64], alpha: float) -> tuple[float, float]:
    """VaR: the k-th largest loss, k = ceil((1 - alpha) N) (the ES tail's smallest member);
    ES: the mean of those k worst losses."""
    k = tail_size(losses.shape[0], alpha)
    var = float(np.partition(losses, losses.shape[0] - k)[losses.shape[0] - k])
    es, _ = expected_shortfall(losses, alpha)
    return var, es


def write_plot(result: MarginResult, path: Path, book: Book | None = None) -> None:
    """Write the two panels to ``path`` (PNG)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    steps = result.waterfall()
    labels = [_wrap(s[0]) for s in steps] + ["portfolio\nmargin"]
    starts = [0.0] + [total - delta for _, delta, total in steps[1:]]
    heights = [steps[0][1]] + [delta for _, delta, _ in steps[1:]]
    starts.append(0.0)
    heights.append(result.pm)
    colors = (
        ["tab:gray"] + ["tab:green" if h < 0 else "tab:red" for h in heights[1:-1]] + ["tab:blue"]
    )
    bars = left.bar(range(len(labels)), heights, bottom=starts, color=colors)
    binding = BINDING_NAMES.get(result.binding, result.binding)
    # the binding control decides the "floors" step (floor binds) or the diversified base
    bound_bar = 3 if result.binding in ("top2_floor", "min_margin") else 2
    if result.binding != "none":
        bars[bound_bar].set_hatch("//")
        bars[bound_bar].set_edgecolor("black")
    for value, name, style in (
        (result.base, "base", "-"),
        (result.floor_top2, "top-two floor", "--"),
        (result.min_margin, "minimum margin", ":"),
    ):
        left.axhline(value, color="black", linestyle=style, linewidth=0.8, label=f"{name}")
    left.set_xticks(range(len(labels)), labels, fontsize=7)
    left.set_ylabel("USD")
    left.set_title(f"{result.book}: waterfall (rule {result.params.rule}); binding: {binding}")
    left.legend(fontsize="small")
    alpha = result.params.alpha
    if book is not None:
        losses = book_losses(book, result)
        var, es = var_es(losses, alpha)
        counts, edges = np.histogram(losses, bins=60)
        widths = np.diff(edges)
        right.bar(edges[:-1], counts / counts.sum(), width=widths, align="edge", color="tab:orange")
        right.axvline(var, color="tab:red", linestyle="--", label=f"VaR {alpha:.0%}: {var:,.2f}")
        right.axvline(es, color="black", linestyle="-", label=f"ES {alpha:.0%}: {es:,.2f}")
        right.set_yscale("log")
        right.legend(fontsize="small")
        right.set_xlabel("whole-book settlement loss (USD)")
        right.set_title(f"whole-book loss distribution, {result.params.paths:,} paths")
    else:
        hist = result.histogram
        if hist:
            edges_list, counts_list = hist["edges"], hist["counts"]
            total = sum(counts_list)
            widths_list = [b - a for a, b in itertools.pairwise(edges_list)]
            right.bar(
                edges_list[:-1],
                [c / total for c in counts_list],
                width=widths_list,
                align="edge",
                color="tab:orange",
            )
            right.set_yscale("log")
        right.set_xlabel("risk-asset book settlement loss (USD)")
        right.set_title(f"risk-asset loss distribution, {result.params.paths:,} paths")
    right.set_ylabel("share of paths")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
