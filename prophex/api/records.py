"""The order index: one typed ``Order`` per executed open or close, derived from the journal.

``order_id`` is ``"o-<command_seq>"`` and the order's single fill is ``"f-<txn_seq>"`` (the
vAMM fills every accepted order at once, at the curve-average price), so both ids follow from
the command sequence alone and survive any restart. The rendered body is stored in
``api_orders`` right after its block commits, with the commit's wall-clock time, and is what
``POST /v1/orders``, ``POST /v1/positions/{id}/close``, ``GET /v1/orders...`` and a duplicate
reply all return: one rendering, so a duplicate is byte-identical to the original apart from
``duplicate: true``. At start-up every journalled order missing from the index (a crash between
the block commit and the index write) is rendered from the journal; its wall time is then the
catch-up time, which is the only case where ``wall_time`` is later than the commit.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from prophex.api import views
from prophex.api.history import txn_data
from prophex.engine.commands import Command, to_dict
from prophex.engine.events import Receipt
from prophex.ledger import schema
from prophex.money import format_usd

log = logging.getLogger("prophex.api.records")
o = schema.api_orders
# the command kinds that are orders: a portfolio-mode open (``open_portfolio``, journalled as
# ``pm_open``) is an order of kind ``open`` like an isolated one
ORDER_KINDS = ("open", "close", "open_portfolio")
# the journal transaction that is an order's fill, by command kind (a close of a portfolio-mode
# position journals a ``pm_close`` with the same result fields)
FILL_TXN_KINDS = {"open": ("open",), "close": ("close", "pm_close"), "open_portfolio": ("pm_open",)}
RECENT_ORDERS = 10_000
COALESCE_SECONDS = 0.01


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def order_id(command_seq: int) -> str:
    return f"o-{command_seq}"


def fill_id(txn_seq: int) -> str:
    return f"f-{txn_seq}"


def parse_order_id(text: str) -> int | None:
    """The command sequence of an ``o-<n>`` id, or None if it is not one."""
    if not text.startswith("o-") or not text[2:].isdigit() or len(text) > 20:
        return None
    return int(text[2:])


def rfc3339(wall_time_us: int) -> str:
    """UTC wall-clock time with microseconds, e.g. ``2026-11-30T01:02:03.456789Z``."""
    seconds, micros = divmod(wall_time_us, 1_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_us() -> int:
    return time.time_ns() // 1_000


def _leverage(centi: int) -> str:
    whole, frac = divmod(centi, 100)
    return str(whole) if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


def render_order(
    command: dict[str, Any],
    command_seq: int,
    result: dict[str, Any],
    txns: Sequence[tuple[int, str, dict[str, Any]]],
    sim_time: int,
    wall_time_us: int,
) -> dict[str, Any] | None:
    """The ``Order`` body (without ``duplicate``) of one executed open/close, from journalled
    data only; None if the command is not an order."""
    command_kind = str(command.get("type"))
    main_kinds = FILL_TXN_KINDS.get(command_kind, ())
    main = next(((seq, data) for seq, k, data in txns if k in main_kinds), None)
    if main is None:
        return None
    portfolio = command_kind == "open_portfolio"
    kind = "open" if portfolio else command_kind
    txn_seq, data = main
    oid = order_id(command_seq)
    total = int(data["oi_a"]) + int(data["oi_b"])
    liquidations = [
        views.liquidation_event(seq, sim_time, d, oid).model_dump()
        for seq, k, d in txns
        if k == "liquidation"
    ]
    body: dict[str, Any] = {
        "order_id": oid,
        "client_order_id": command.get("client_order_id"),
        "account": str(data["account"]),
        "market": str(data["market"]),
        "side": str(data["side"]),
        "kind": kind,
        "status": "filled",
    }
    if kind == "open":
        notional, cost = int(result["notional"]), int(result["cost"])
        body |= {
            "notional": format_usd(notional),
            # a portfolio open posts no margin of its own (the account's lock moves instead)
            # and has no leverage: both null
            "margin": None if portfolio else format_usd(int(result["margin"])),
            "leverage": None if portfolio else _leverage(int(command["leverage_centi"])),
            "average_price": views.price(cost, notional),
            "fee": format_usd(int(result["fee"])),
            "position_id": int(result["position_id"]),
            "realized_pnl": None,
            "cost": format_usd(cost),
            "proceeds": None,
            "haircut": None,
            "remaining_notional": None,
            "closed_notional": None,
            "position": {
                "notional": format_usd(int(result["position_notional"])),
                "cost_basis": format_usd(int(result["position_cost_basis"])),
                "margin": format_usd(0 if portfolio else int(result["position_margin"])),
            },
        }
    else:
        closed, proceeds = int(result["closed_notional"]), int(result["proceeds"])
        body |= {
            "notional": format_usd(closed),
            "margin": None,
            "leverage": None,
            "average_price": views.price(proceeds, closed),
            "fee": format_usd(int(result["fee"])),
            "position_id": int(result["position_id"]),
            "realized_pnl": format_usd(int(result["realized_pnl"])),
            "cost": None,
            "proceeds": format_usd(proceeds),
            "haircut": format_usd(int(result["haircut"])),
            "remaining_notional": format_usd(int(result["remaining_notional"])),
            "closed_notional": format_usd(closed),
            "position": None,
        }
    body |= {
        "price_a": views.price(int(data["oi_a"]), total),
        "price_b": views.price(int(data["oi_b"]), total),
        "liquidations": liquidations,
        "command_seq": command_seq,
        "txn_seq": txn_seq,
        "sim_time": sim_time,
        "wall_time": rfc3339(wall_time_us),
    }
    return body


def fill_of(order: dict[str, Any]) -> dict[str, Any]:
    """The single fill of an order."""
    return {
        "fill_id": fill_id(int(order["txn_seq"])),
        "order_id": order["order_id"],
        "client_order_id": order["client_order_id"],
        "account": order["account"],
        "market": order["market"],
        "side": order["side"],
        "kind": order["kind"],
        "notional": order["notional"],
        "price": order["average_price"],
        "fee": order["fee"],
        "realized_pnl": order["realized_pnl"],
        "position_id": order["position_id"],
        "txn_seq": order["txn_seq"],
        "sim_time": order["sim_time"],
        "wall_time": order["wall_time"],
    }


def _row(body: dict[str, Any], wall_time_us: int) -> dict[str, Any]:
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
                tuple(_row(body, wall).values()) for _, rows, _ in batch for body, wall in rows
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


class OrderIndex:
    """Renders orders (block writer thread) and reads ``api_orders``."""

    def __init__(self, engine: Engine, read_engine: Engine, deferred: DeferredWriter) -> None:
        self._engine = engine
        self._read = read_engine
        self.deferred = deferred
        self.recent: dict[int, dict[str, Any]] = {}

    def dispose(self) -> None:
        self._engine.dispose()

    def catch_up(self) -> int:
        """Index every journalled order not yet in the table; returns how many."""
        c, t = schema.commands, schema.transactions
        with self._engine.begin() as conn:
            done = conn.execute(select(func.max(o.c.command_seq))).scalar() or 0
            commands = conn.execute(
                select(c.c.seq, c.c.payload, c.c.receipt)
                .where(c.c.seq > done, c.c.kind.in_(ORDER_KINDS))
                .order_by(c.c.seq)
            ).all()
            if not commands:
                return 0
            seqs = [int(r.seq) for r in commands]
            txn_rows = conn.execute(
                select(t.c.seq, t.c.command_seq, t.c.kind, t.c.sim_time, t.c.data)
                .where(t.c.command_seq.in_(seqs))
                .order_by(t.c.seq)
            ).all()
            by_command: dict[int, list[tuple[int, str, dict[str, Any]]]] = {}
            times: dict[int, int] = {}
            for row in txn_rows:
                by_command.setdefault(int(row.command_seq), []).append(
                    (int(row.seq), str(row.kind), txn_data(row.data))
                )
                times[int(row.command_seq)] = int(row.sim_time)
            wall = now_us()
            rows = []
            for command in commands:
                seq = int(command.seq)
                receipt = json.loads(command.receipt)
                body = render_order(
                    json.loads(command.payload),
                    seq,
                    receipt["result"],
                    by_command.get(seq, []),
                    times.get(seq, 0),
                    wall,
                )
                if body is not None:
                    rows.append(_row(body, wall))
            if rows:
                conn.execute(o.insert(), rows)
        log.info("order index caught up %d orders from the journal", len(rows))
        return len(rows)

    def record(
        self, executed: Sequence[tuple[Command, Receipt, int]], wall_time_us: int
    ) -> dict[int, dict[str, Any]]:
        """Render the orders of one committed block and hand them to the deferred writer;
        returns them by command_seq. A failed insert is logged, not raised: the block is
        committed, the answers are still correct, and start-up's :meth:`catch_up` fills the
        gap."""
        bodies: dict[int, dict[str, Any]] = {}
        for command, receipt, sim_time in executed:
            if receipt.kind not in ORDER_KINDS:
                continue
            txns = [(t.seq, t.kind, t.data) for t in receipt.transactions]
            body = render_order(
                to_dict(command), receipt.command_seq, receipt.result, txns, sim_time, wall_time_us
            )
            if body is not None:
                bodies[receipt.command_seq] = body
        if bodies:
            self.remember(bodies)
            self.deferred.put([(b, wall_time_us) for b in bodies.values()], [])
        return bodies

    def remember(self, bodies: dict[int, dict[str, Any]]) -> None:
        """Keep the latest orders in memory for duplicate replies (bounded)."""
        self.recent.update(bodies)
        while len(self.recent) > RECENT_ORDERS:
            del self.recent[next(iter(self.recent))]

    # ------------------------------------------------------------------ reads

    def _bodies(self, query: Any) -> list[dict[str, Any]]:
        self.deferred.wait()
        with self._read.connect() as conn:
            return [json.loads(r.body) for r in conn.execute(query).all()]

    def get(self, account: str, command_seq: int) -> dict[str, Any] | None:
        cached = self.recent.get(command_seq)
        if cached is not None:
            return cached if cached["account"] == account else None
        found = self._bodies(
            select(o.c.body).where(o.c.command_seq == command_seq, o.c.account == account)
        )
        return found[0] if found else None

    def get_any(self, command_seq: int) -> dict[str, Any] | None:
        """The order of ``command_seq`` whatever its account (start-up catch-up only)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(o.c.body).where(o.c.command_seq == command_seq)).first()
        return None if row is None else dict(json.loads(row[0]))

    def by_client_id(self, account: str, client_order_id: str) -> dict[str, Any] | None:
        found = self._bodies(
            select(o.c.body)
            .where(o.c.account == account, o.c.client_order_id == client_order_id)
            .order_by(o.c.command_seq.desc())
            .limit(1)
        )
        return found[0] if found else None

    def orders(
        self,
        account: str,
        market: str | None,
        since: int | None,
        until: int | None,
        after: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Oldest first, after the command sequence ``after``; ``since``/``until`` bound the
        simulated time (inclusive)."""
        cond = [o.c.account == account, o.c.command_seq > after]
        if market is not None:
            cond.append(o.c.market == market)
        if since is not None:
            cond.append(o.c.sim_time >= since)
        if until is not None:
            cond.append(o.c.sim_time <= until)
        return self._bodies(
            select(o.c.body).where(and_(*cond)).order_by(o.c.command_seq).limit(limit)
        )

    def fills(
        self, account: str, market: str | None, command_seq: int | None, after: int, limit: int
    ) -> list[dict[str, Any]]:
        """Fills oldest first after the transaction sequence ``after``."""
        cond = [o.c.account == account, o.c.txn_seq > after]
        if market is not None:
            cond.append(o.c.market == market)
        if command_seq is not None:
            cond.append(o.c.command_seq == command_seq)
        bodies = self._bodies(
            select(o.c.body).where(and_(*cond)).order_by(o.c.command_seq).limit(limit)
        )
        return [fill_of(b) for b in bodies]

    def client_ids(self, command_seqs: Sequence[int]) -> dict[int, str | None]:
        """command_seq -> client_order_id of the orders among ``command_seqs``."""
        if not command_seqs:
            return {}
        self.deferred.wait()
        query = select(o.c.command_seq, o.c.client_order_id).where(
            o.c.command_seq.in_(sorted(set(command_seqs)))
        )
        with self._read.connect() as conn:
            return {int(r.command_seq): r.client_order_id for r in conn.execute(query).all()}
