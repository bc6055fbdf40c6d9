"""``prophex bench core`` and ``prophex bench ledger``: measured throughput of the write path.

Workload (same for both): 100 markets, 10,000 funded accounts, then a mixed stream of opens,
increases, partial and full closes at leverage 2-25x, so that price moves liquidate positions
and cascades occur. Intents are drawn up front from a seeded generator; turning an intent into a
command (looking up the position id) happens inside the timed loop, so the figure is honest
about what a caller pays.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Close, Command, CreateMarket, Deposit, Open, Side
from prophex.engine.exchange import Exchange
from prophex.engine.state import State, check_invariants
from prophex.money import MICRO
from prophex.params import profile

MARKETS = 100
ACCOUNTS = 10_000


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


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_core(commands: int = 200_000, seed: int = 7) -> dict[str, Any]:
    """Engine alone: no SQL, no hashing."""
    exchange = Exchange.create(bench_params())
    for command in setup_commands():
        exchange.apply(command)
    plan = list(intents(commands, seed))
    liquidations = rejected = 0
    started = time.perf_counter()
    for intent in plan:
        try:
            receipt = exchange.apply(to_command(exchange.state, intent))
        except Exception:
            rejected += 1
            continue
        liquidations += sum(1 for t in receipt.transactions if t.kind == "liquidation")
    elapsed = time.perf_counter() - started
    problems = check_invariants(exchange.state)
    return {
        "benchmark": "core",
        "commands": commands,
        "seconds": round(elapsed, 3),
        "commands_per_second": round(commands / elapsed),
        "liquidations": liquidations,
        "rejected": rejected,
        "markets": MARKETS,
        "accounts": ACCOUNTS,
        "peak_rss_mb": round(_peak_mb(), 1),
        "invariants_ok": not problems,
    }


def bench_ledger(
    url: str | None = None, commands: int = 100_000, seed: int = 7, block_size: int = 1_000
) -> dict[str, Any]:
    """Engine + ledger: blocks of ``block_size`` commands, each one SQL transaction."""
    with tempfile.TemporaryDirectory() as tmp:
        target = url or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        sequencer = Sequencer.open(target, bench_params(), block_size=block_size)
        try:
            sequencer.execute(setup_commands())
            plan = list(intents(commands, seed))
            started = time.perf_counter()
            accepted = 0
            for start in range(0, len(plan), block_size):
                state = sequencer.state
                block: list[Command] = []
                seen: set[tuple[int, int, int]] = set()
                for intent in plan[start : start + block_size]:
                    key = (intent[0], intent[1], intent[3])
                    if key in seen:  # a later intent may depend on an earlier one in the block
                        continue
                    seen.add(key)
                    block.append(to_command(state, intent))
                outcomes = sequencer.execute(block)
                accepted += sum(1 for o in outcomes if not isinstance(o, Exception))
            elapsed = time.perf_counter() - started
            backend = sequencer.store.engine.dialect.name if sequencer.store else "memory"
        finally:
            sequencer.close()
    return {
        "benchmark": "ledger",
        "backend": backend,
        "commands_submitted": accepted,
        "block_size": block_size,
        "seconds": round(elapsed, 3),
        "commands_per_second": round(accepted / elapsed),
        "peak_rss_mb": round(_peak_mb(), 1),
    }
