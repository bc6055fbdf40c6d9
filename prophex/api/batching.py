"""The block writer: many concurrent requests, one sequencer call per block.

Requests put their command on a queue and await a future. A single background task drains
whatever has accumulated (natural batching: while one block commits, the next one fills up),
runs ``Sequencer.execute`` in a worker thread, and resolves every future with that command's
receipt or typed error. Because ``execute`` only returns after the block is committed, an
acknowledged order is always durable, and a failed commit fails every order of the block with
nothing written (the sequencer reloads its state from the database).

Idempotency needs nothing extra here: commands are applied one at a time in queue order, so of
two concurrent retries of the same ``client_order_id`` the first executes and the second is
answered by the engine from the stored result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from prophex.api.accountlog import AccountLog
from prophex.api.errors import WriteUnavailable
from prophex.api.history import order_id_of
from prophex.api.hub import PublishedTxn
from prophex.api.order_render import now_us
from prophex.api.records import OrderIndex
from prophex.api.views import market_view
from prophex.chain.sequencer import Outcome, Sequencer
from prophex.engine.commands import Command
from prophex.engine.events import Receipt
from prophex.engine.journal import MarketCreated, market_of
from prophex.engine.results import ClockResult
from prophex.errors import ProphexError

log = logging.getLogger("prophex.api.writer")


Answer = tuple[Outcome, dict[str, Any] | None]


@dataclass(slots=True)
class _Pending:
    command: Command
    future: asyncio.Future[Answer]


@dataclass(slots=True)
class BlockResult:
    outcomes: list[Outcome]
    txns: list[PublishedTxn]
    views: dict[str, dict[str, Any]]
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    wall_time_us: int = 0
    receipts: list[tuple[Receipt, int]] = field(default_factory=list)
    account_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


OnBlock = Callable[[BlockResult], None]


class BlockWriter:
    def __init__(
        self,
        sequencer: Sequencer,
        on_block: OnBlock,
        max_commands: int,
        wait_ms: float,
        orders: OrderIndex | None = None,
        account_log: AccountLog | None = None,
    ) -> None:
        self.sequencer = sequencer
        self.orders = orders
        self.account_log = account_log
        self.on_block = on_block
        self.max_commands = max_commands
        self.wait_seconds = wait_ms / 1000
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.blocks = 0
        self.commands = 0
        self.execute_seconds = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="block-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, command: Command) -> Receipt:
        """Queue one command and wait for its committed receipt (or raise its typed error)."""
        return (await self.submit_order(command))[0]

    async def submit_order(self, command: Command) -> tuple[Receipt, dict[str, Any] | None]:
        """Like :meth:`submit`, also returning the rendered ``Order`` of an executed order
        (None for other commands and for duplicates)."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Pending(command, future))
        outcome, body = await asyncio.shield(future)
        if isinstance(outcome, ProphexError):
            raise outcome
        return outcome, body

    async def _next_batch(self) -> list[_Pending]:
        batch = [await self.queue.get()]
        if self.wait_seconds > 0:
            await asyncio.sleep(self.wait_seconds)
        while len(batch) < self.max_commands:
            try:
                batch.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            commands = [item.command for item in batch]
            try:
                result = await asyncio.to_thread(self._execute, commands)
            except Exception:
                log.exception("block of %d commands failed to commit", len(commands))
                failure = WriteUnavailable("the block could not be committed; retry the request")
                for item in batch:
                    if not item.future.done():
                        item.future.set_result((failure, None))
                continue
            self.blocks += 1
            self.commands += len(commands)
            self.on_block(result)
            for item, outcome in zip(batch, result.outcomes, strict=True):
                if not item.future.done():
                    body = None
                    if isinstance(outcome, Receipt) and not outcome.duplicate:
                        body = result.orders.get(outcome.command_seq)
                    item.future.set_result((outcome, body))

    def _execute(self, commands: list[Command]) -> BlockResult:
        """Runs in a worker thread, holding the sequencer's (re-entrant) lock from the commit
        until the block's orders and account events are numbered and stored, so a reader that
        takes the lock sees state and account sequence numbers of the same block."""
        with self.sequencer.reading():
            return self._execute_locked(commands)

    def _execute_locked(self, commands: list[Command]) -> BlockResult:
        started = perf_counter()
        sequencer = self.sequencer
        time = sequencer.state.time
        outcomes = sequencer.execute(commands)
        wall = now_us()
        self.execute_seconds += perf_counter() - started
        txns: list[PublishedTxn] = []
        touched: set[str] = set()
        executed: list[tuple[Command, Receipt, int]] = []
        receipts: list[tuple[Receipt, int]] = []
        for command, outcome in zip(commands, outcomes, strict=True):
            if not isinstance(outcome, Receipt) or outcome.duplicate:
                continue
            if isinstance(outcome.result, ClockResult):
                time = outcome.result.time
            executed.append((command, outcome, time))
            receipts.append((outcome, time))
            oid = order_id_of(outcome.command_seq, outcome.kind)
            for txn in outcome.transactions:
                txns.append(PublishedTxn(txn, time, oid))
                event = txn.event
                market = market_of(event)
                if isinstance(event, MarketCreated):
                    market = str(event.market["id"])
                if market is not None:
                    touched.add(market)
        exchange = sequencer.exchange
        views = {
            m: market_view(exchange, exchange.state.markets[m]).model_dump()
            for m in sorted(touched)
            if m in exchange.state.markets
        }
        orders = self.orders.record(executed, wall) if self.orders is not None else {}
        events = (
            self.account_log.record(receipts, orders, wall) if self.account_log is not None else []
        )
        return BlockResult(outcomes, txns, views, orders, wall, receipts, events)
