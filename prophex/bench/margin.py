"""Benchmarks of the margin engine (run by ``prophex bench margin``).

Each case is timed ``REPEATS`` times after a warm-up run (imports, first-touch allocations)
and the median is reported (shared machines make single runs noisy). Peak traced memory is
measured in a separate run so that tracing does not distort the timing.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from prophex.margin.contracts import Book, load_book, parse_book
from prophex.margin.hierarchy import Hierarchy
from prophex.margin.requirement import compute_margin
from prophex.margin.risk import params_for

REFERENCE_BOOK = Path("scenarios/portfolio/reference-8-cluster.yaml")
REPEATS = 3
CLASSES = ("Crypto", "Equity", "Macro", "Rates", "FX")


def synthetic_book(underlyings: int = 100, per_underlying: int = 10, seed: int = 0) -> Book:
    """``underlyings`` x ``per_underlying`` threshold positions, one cluster per underlying."""
    rng = np.random.default_rng(seed)
    per_class = -(-underlyings // len(CLASSES))
    classes = []
    for ci, name in enumerate(CLASSES):
        names = [f"U{u:03d}" for u in range(ci * per_class, min((ci + 1) * per_class, underlyings))]
        clusters = [
            {"name": u, "kind": "cluster", "model": "threshold", "underlyings": [u]} for u in names
        ]
        if clusters:
            classes.append({"name": name, "kind": "class", "children": clusters})
    hierarchy = Hierarchy.from_dict(
        {
            "root": {
                "name": "Root",
                "kind": "branch",
                "children": [{"name": "Risk", "kind": "risk", "children": classes}],
            }
        }
    )
    contracts, positions = [], []
    for u in range(underlyings):
        prices = np.sort(rng.uniform(0.05, 0.95, per_underlying))[::-1]
        for j, price in enumerate(prices):
            cid = f"U{u:03d}>{j}"
            contracts.append(
                {
                    "id": cid,
                    "kind": "threshold",
                    "underlying": f"U{u:03d}",
                    "strike": 100.0 + j,
                    "direction": "above",
                    "price": float(price),
                }
            )
            side = "long" if rng.random() < 0.5 else "short"
            positions.append(
                {"contract": cid, "side": side, "contracts": float(rng.integers(100, 5000))}
            )
    return parse_book(
        {"name": "synthetic", "contracts": contracts, "positions": positions}, hierarchy
    )


def reference_book() -> Book:
    """The reference book from the repository (falls back to the working directory)."""
    root = Path(__file__).resolve().parents[2]
    path = root / REFERENCE_BOOK
    return load_book(path if path.exists() else REFERENCE_BOOK)


def _measure(name: str, run: Callable[[], object], memory: bool) -> dict[str, Any]:
    run()  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    out: dict[str, Any] = {
        "name": name,
        "seconds": statistics.median(times),
        "min_seconds": min(times),
    }
    if memory:
        tracemalloc.start()
        run()
        out["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return out


def run_benchmarks() -> dict[str, Any]:
    """Measure the three documented cases and return them as a JSON-ready mapping."""
    ref = reference_book()
    big = synthetic_book()

    def case(book: Book, paths: int) -> Callable[[], object]:
        return lambda: compute_margin(book, params_for(book, paths=paths, seed=1, rule="joint"))

    cases = [
        _measure("reference book, 1,000,000 paths", case(ref, 1_000_000), memory=True),
        _measure("reference book, 200,000 paths", case(ref, 200_000), memory=True),
        _measure(
            "1,000 positions / 100 underlyings, 200,000 paths", case(big, 200_000), memory=True
        ),
    ]
    return {"cases": cases, "budget_seconds": [1.0, 0.25, 3.0], "budget_peak_mb": 300}


def bench_margin_command(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Measure the engine: reference book at 1M and 200k paths, 1,000 positions at 200k."""
    figures = run_benchmarks()
    if json_out:
        typer.echo(json.dumps(figures, indent=2))
        return
    table = Table(title="margin engine benchmarks")
    table.add_column("case")
    table.add_column("seconds", justify="right")
    table.add_column("peak MB", justify="right")
    for case in figures["cases"]:
        peak = case.get("peak_mb")
        table.add_row(case["name"], f"{case['seconds']:.3f}", "" if peak is None else f"{peak:.1f}")
    Console().print(table)
