"""``prophex bench core`` and ``prophex bench ledger``: measured throughput of the write path.

Workload (same for both): 100 markets, 10,000 funded accounts, then a mixed stream of opens,
increases, partial and full closes at leverage 2-25x, so that price moves liquidate positions
and cascades occur. Intents are drawn up front from a seeded generator and turned into commands
(looking up the position id each one refers to) by an untimed build pass on a separate in-memory
engine; the engine is deterministic, so the timed run meets exactly the states the build pass
met. The timed loop only applies pre-built commands: the figure measures the system, not the
driver.

Every benchmark reports commands/s (wall clock, and per second of this process's CPU time, which
is steadier on a shared machine; on PostgreSQL the server's CPU is not in it), per-block wall
time p50/p99 (blocks of 1,000 commands), peak RSS, the final state digest, which build runs
(pure or compiled) and the interpreter. The timed loop runs under
:func:`prophex.perf.long_run_gc`.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any

import numpy as np

from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Close, Command, CreateMarket, Deposit, Open, Side
from prophex.engine.exchange import Exchange
from prophex.engine.state import State, check_invariants, digest
from prophex.errors import ProphexError
from prophex.money import MICRO
from prophex.params import profile
from prophex.perf import build_info, long_run_gc

MARKETS = 100
ACCOUNTS = 10_000
BLOCK = 1_000


def bench_params() -> Any:
    return profile("mature", wallet_cap=1_000_000, market_oi_cap=100_000_000, if_seed=10_000_000)


def setup_commands() -> list[Command]:
    commands: list[Command] = [CreateMarket(market=f"m{i:03d}") for i in range(MARKETS)]
    commands += [Deposit(account=f"a{i:05d}", amount=1_000_000 * MICRO) for i in range(ACCOUNTS)]
    return commands


def intents(count: int, seed: int) -> Iterator[tuple[int, int, int, int, int, int]]:
    """(account, market, action, side, margin_usd, leverage_centi) tuples; action: 0 open or
    increase, 1 partial close, 2 full close."""
    rng = np.random.default_rng(seed)
    accounts = rng.integers(0, ACCOUNTS, count)
    home = rng.integers(0, 3, count)  # each account trades three markets
    markets = (accounts * 7 + home * 31) % MARKETS
    actions = rng.choice(3, size=count, p=[0.5, 0.25, 0.25])
    sides = rng.integers(0, 2, count)
    margins = rng.integers(10, 400, count)
    leverages = rng.choice([200, 300, 500, 1_000, 2_500], size=count, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    for row in zip(accounts, markets, actions, sides, margins, leverages, strict=True):
        yield tuple(int(v) for v in row)  # type: ignore[misc]


def to_command(state: State, intent: tuple[int, int, int, int, int, int]) -> Command:
    account_i, market_i, action, side_i, margin, leverage = intent
    account, market = f"a{account_i:05d}", f"m{market_i:03d}"
    side: Side = "A" if side_i == 0 else "B"
    position_id = state.open_by_key.get((account, market, side))
    if action == 0 or position_id is None:
        return Open(account, market, side, margin * MICRO, leverage)
    if action == 1:
        notional = state.positions[position_id].notional // 2
        if notional > 0:
            return Close(account, position_id, notional=notional)
    return Close(account, position_id)


def build_plan(count: int, seed: int = 7) -> list[Command]:
    """The workload's commands, built (untimed) against a separate in-memory engine."""
    exchange = Exchange.create(bench_params())
    for command in setup_commands():
        exchange.apply(command)
    plan: list[Command] = []
    for intent in intents(count, seed):
        command = to_command(exchange.state, intent)
        plan.append(command)
        with suppress(ProphexError):
            exchange.apply(command)
    return plan


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _block_figures(block_seconds: Sequence[float]) -> dict[str, Any]:
    return {
        "block_ms_p50": round(_percentile(block_seconds, 0.50) * 1000, 2),
        "block_ms_p99": round(_percentile(block_seconds, 0.99) * 1000, 2),
    }


def bench_core(commands: int = 200_000, seed: int = 7) -> dict[str, Any]:
    """Engine alone: no SQL, no hashing."""
    plan = build_plan(commands, seed)
    exchange = Exchange.create(bench_params())
    for command in setup_commands():
        exchange.apply(command)
    liquidations = rejected = 0
    block_seconds: list[float] = []
    apply = exchange.apply
    with long_run_gc():
        started, cpu_started = time.perf_counter(), time.process_time()
        for start in range(0, len(plan), BLOCK):
            block_started = time.perf_counter()
            for command in plan[start : start + BLOCK]:
                try:
                    receipt = apply(command)
                except ProphexError:
                    rejected += 1
                    continue
                if len(receipt.transactions) > 1:
                    liquidations += sum(1 for t in receipt.transactions if t.kind == "liquidation")
            block_seconds.append(time.perf_counter() - block_started)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    problems = check_invariants(exchange.state)
    return {
        "benchmark": "core",
        **build_info(),
        "commands": commands,
        "seconds": round(elapsed, 3),
        "commands_per_second": round(commands / elapsed),
        "cpu_seconds": round(cpu, 3),
        "commands_per_cpu_second": round(commands / cpu),
        **_block_figures(block_seconds),
        "liquidations": liquidations,
        "rejected": rejected,
        "markets": MARKETS,
        "accounts": ACCOUNTS,
        "peak_rss_mb": round(_peak_mb(), 1),
        "invariants_ok": not problems,
        "digest": digest(exchange.state),
    }


def bench_ledger(
    url: str | None = None,
    commands: int = 100_000,
    seed: int = 7,
    block_size: int = BLOCK,
    snapshot_every: int | None = None,
) -> dict[str, Any]:
    """Engine + ledger: blocks of ``block_size`` commands, each one SQL transaction. The timed
    part ends with a snapshot, so every changed state row is written whatever the cadence."""
    plan = build_plan(commands, seed)
    block_seconds: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        target = url or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        sequencer = Sequencer.open(
            target, bench_params(), block_size=block_size, snapshot_every=snapshot_every
        )
        try:
            sequencer.execute(setup_commands())
            accepted = 0
            with long_run_gc():
                started, cpu_started = time.perf_counter(), time.process_time()
                for start in range(0, len(plan), block_size):
                    block_started = time.perf_counter()
                    outcomes = sequencer.execute(plan[start : start + block_size])
                    block_seconds.append(time.perf_counter() - block_started)
                    accepted += sum(1 for o in outcomes if not isinstance(o, Exception))
                sequencer.snapshot()
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
            backend = sequencer.store.engine.dialect.name if sequencer.store else "memory"
            every = sequencer.store.snapshot_every if sequencer.store else 0
            final_digest = digest(sequencer.state)
        finally:
            sequencer.close()
    return {
        "benchmark": "ledger",
        **build_info(),
        "backend": backend,
        "commands_submitted": len(plan),
        "commands_accepted": accepted,
        "block_size": block_size,
        "snapshot_every": every,
        "seconds": round(elapsed, 3),
        "commands_per_second": round(len(plan) / elapsed),
        "cpu_seconds": round(cpu, 3),
        "commands_per_cpu_second": round(len(plan) / cpu),
        **_block_figures(block_seconds),
        "peak_rss_mb": round(_peak_mb(), 1),
        "digest": final_digest,
    }
