"""``prophex bench replay``: measured replay throughput and sweep throughput.

Three figures, each against its target: a replay of about a million commands (10,000
traders, 100 markets) with the SQLite ledger and in memory, and 1,000 runs of the 200-trader
skew scenario in a local sweep. The wall clock is read here only, to measure; nothing it
returns feeds back into a simulation.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # imported when the benchmark runs, not for ``prophex --help``
    from prophex.scenarios.schema import Scenario

TRADERS = 10_000
MARKETS = 100
ORDERS_PER_TRADER = 94
SKEW_FILE = Path(__file__).resolve().parents[2] / "scenarios" / "skew-80-launch.yaml"
TARGETS = {"replay_sqlite": 60.0, "replay_memory": 20.0, "sweep_1000": 120.0}


def million_command_scenario(traders: int = TRADERS, orders: float = ORDERS_PER_TRADER) -> Scenario:
    """10,000 traders over 100 markets; order count tuned so the run is ~1,000,000 commands."""
    markets = "\n".join(f"  - {{id: M{i:03d}}}" for i in range(MARKETS))
    bias = ", ".join(f"M{i:03d}: {0.3 + 0.4 * (i % 5) / 4:.2f}" for i in range(MARKETS))
    text = f"""
name: bench-replay
seed: 1
protocol:
  profile: mature
  params: {{wallet_cap: "100000", market_oi_cap: "100000000", if_seed: "10000000"}}
duration: 10d
tick: 1h
markets:
{markets}
populations:
  - name: t
    count: {traders}
    balance: {{dist: fixed, value: 100000}}
    margin: {{dist: lognormal, median: 20, sigma: 0.8, low: 2, high: 400}}
    leverage: {{dist: choice, values: [1, 2, 3, 5, 10], weights: [2, 3, 3, 1, 1]}}
    side_bias: {{{bias}}}
    arrivals: {{process: uniform, start: 0, end: 9d, orders_per_trader: {orders}}}
    behaviours:
      - {{kind: hold, share: 0.6}}
      - {{kind: exit, share: 0.3, take_profit: 0.5, stop_loss: 0.5}}
      - {{kind: top_up, share: 0.1, trigger: 0.7, amount: 0.5}}
"""
    from prophex.scenarios.loader import parse_scenario

    return parse_scenario(text, "<bench>")


def _timed(run: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, value): CPU time shows what a run costs
    when other work shares the machine."""
    start, cpu = time.perf_counter(), time.process_time()
    value = run()
    return time.perf_counter() - start, time.process_time() - cpu, value


def _replay_figures(seconds: float, cpu: float, result: Any) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "commands": result.commands,
        "digest": result.digest,
    }


def bench_replay_memory(scenario: Scenario) -> dict[str, Any]:
    from prophex.scenarios.replay import run_scenario

    return _replay_figures(*_timed(lambda: run_scenario(scenario)))


def bench_replay_sqlite(scenario: Scenario) -> dict[str, Any]:
    from prophex.scenarios.replay import run_scenario

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        return _replay_figures(*_timed(lambda: run_scenario(scenario, url=url)))


def bench_sweep(runs: int = 1_000) -> dict[str, Any]:
    from prophex.scenarios.loader import load_scenario
    from prophex.scenarios.sweep import sweep

    scenario = load_scenario(SKEW_FILE)
    seconds, _cpu, outcome = _timed(lambda: sweep(scenario, {"max_leverage": ["3"]}, runs))
    table: list[dict[str, Any]] = outcome[0]
    return {
        "seconds": seconds,
        "runs": runs,
        "depletion_probability": table[0]["depletion_probability"],
    }


def run_benchmarks(
    sqlite: bool = True, memory: bool = True, sweep_runs: int = 1_000, traders: int = TRADERS
) -> dict[str, Any]:
    from prophex.perf import build_info

    scenario = million_command_scenario(traders)
    figures: dict[str, Any] = {}
    if memory:
        figures["replay_memory"] = bench_replay_memory(scenario)
    if sqlite:
        figures["replay_sqlite"] = bench_replay_sqlite(scenario)
    if sweep_runs:
        figures["sweep_1000"] = bench_sweep(sweep_runs)
    for name, data in figures.items():
        data.update(build_info())  # which build (pure or compiled) and interpreter ran
        data["target_seconds"] = TARGETS[name]
        data["met"] = data["seconds"] <= TARGETS[name]
        if "commands" in data:
            data["commands_per_second"] = round(data["commands"] / data["seconds"])
    return figures


def bench_replay_command(
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    sqlite: bool = typer.Option(True, "--sqlite/--no-sqlite", help="Include the SQLite replay."),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Include the in-memory replay."),
    sweep_runs: int = typer.Option(1_000, "--sweep-runs", help="Sweep runs (0 to skip)."),
    traders: int = typer.Option(
        TRADERS, "--traders", help="Traders (10,000 = about 1M commands; 1,000 = about 100k)."
    ),
) -> None:
    """Benchmark: 1M-command replay (SQLite and memory) and a 1,000-run local sweep."""
    figures = run_benchmarks(sqlite, memory, sweep_runs, traders)
    if json_out:
        sys.stdout.write(json.dumps(figures, sort_keys=True) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="prophex bench replay")
    for column in ("benchmark", "seconds", "target", "met", "commands/s"):
        table.add_column(column, justify="right")
    for name, data in figures.items():
        table.add_row(
            name,
            f"{data['seconds']:.1f}",
            f"{data['target_seconds']:.0f}",
            "yes" if data["met"] else "NO",
            f"{data.get('commands_per_second', '-'):,}" if "commands" in data else "-",
        )
    Console().print(table)
