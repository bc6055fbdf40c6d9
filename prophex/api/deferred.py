"""The API's derived rows (orders, account events), written off the block writer's path."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import Engine

from prophex.ledger import schema

log = logging.getLogger("prophex.api.deferred")
o = schema.api_orders
COALESCE_SECONDS = 0.01


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def order_row(body: dict[str, Any], wall_time_us: int) -> dict[str, Any]:
    return {
        "command_seq": body["command_seq"],
        "account": body["account"],
        "market": body["market"],
        "client_order_id": body["client_order_id"],
        "txn_seq": body["txn_seq"],
        "sim_time": body["sim_time"],
        "wall_time_us": wall_time_us,
        "body": json.dumps(body, separators=(",", ":")),
    }


class DeferredWriter:
    """Stores the API's derived rows (orders, account events) off the block writer's path.

    The block writer renders and numbers rows while it holds the sequencer's lock, hands them
    here and answers its requests; this thread writes everything queued in one SQL transaction.
    The rows are derived from the journal, so losing queued rows in a crash loses nothing
    (start-up catches up). Readers call :meth:`wait` first, which returns once every block
    handed over before the call is stored: a bot always reads its own acknowledged orders.
    """

    def __init__(
        self, engine: Engine, exclusive: Callable[[], AbstractContextManager[Any]] | None = None
    ) -> None:
        self._engine = engine
        self._exclusive = exclusive if exclusive is not None else nullcontext
        self._queue: queue.SimpleQueue[tuple[int, list[Any], list[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._cond = threading.Condition()
        self.submitted = 0
        self.flushed = 0
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = {
            table.name: f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) "
            f"VALUES ({', '.join(mark for _ in table.columns)})"
            for table in (o, schema.api_account_events)
        }
        self._thread = threading.Thread(target=self._run, name="api-index-writer", daemon=True)
        self._thread.start()

    def put(
        self, order_rows: list[tuple[dict[str, Any], int]], event_rows: list[dict[str, Any]]
    ) -> None:
        """Queue (order body, wall time) pairs and account-event rows (``data`` still a dict)."""
        if not order_rows and not event_rows:
            return
        with self._cond:
            self.submitted += 1
            ticket = self.submitted
        self._queue.put((ticket, order_rows, event_rows))

    def wait(self, timeout: float = 10.0) -> None:
        with self._cond:
            target = self.submitted
            self._cond.wait_for(lambda: self.flushed >= target, timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            time.sleep(COALESCE_SECONDS)  # let a few blocks accumulate: one transaction for all
            batch = [item]
            stop = False
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            orders = [
                tuple(order_row(body, wall).values()) for _, rows, _ in batch for body, wall in rows
            ]
            events = [
                (r["account"], r["seq"], r["txn_seq"], r["type"], _dumps(r["data"]))
                for _, _, rows in batch
                for r in rows
            ]
            try:
                # On SQLite the write lock is one per file: taking the sequencer's lock first
                # means a block commit never meets this transaction (and SQLite's busy handler,
                # which sleeps in growing steps, never runs).
                with self._exclusive(), self._engine.begin() as conn:
                    if orders:
                        conn.exec_driver_sql(self._sql[o.name], orders)
                    if events:
                        conn.exec_driver_sql(self._sql["api_account_events"], events)
            except Exception:
                log.exception("could not store %d orders and %d events", len(orders), len(events))
            with self._cond:
                self.flushed = batch[-1][0]
                self._cond.notify_all()
            if stop:
                return

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._engine.dispose()
