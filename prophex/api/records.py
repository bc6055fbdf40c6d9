"""The order index: one typed ``Order`` per executed open or close, derived from the journal.

Ids and rendering are in :mod:`prophex.api.order_render`, the deferred row writer in
:mod:`prophex.api.deferred`. The rendered body is stored in
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
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, func, select

from prophex.api.deferred import DeferredWriter, order_row
from prophex.api.history import txn_event
from prophex.api.order_render import ORDER_KINDS, fill_of, now_us, render_order
from prophex.engine.commands import Command, to_dict
from prophex.engine.events import Receipt
from prophex.engine.journal import Event
from prophex.engine.results import from_json
from prophex.ledger import schema

log = logging.getLogger("prophex.api.records")
o = schema.api_orders
RECENT_ORDERS = 10_000


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
                select(c.c.seq, c.c.kind, c.c.payload, c.c.receipt)
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
            by_command: dict[int, list[tuple[int, Event]]] = {}
            times: dict[int, int] = {}
            for row in txn_rows:
                by_command.setdefault(int(row.command_seq), []).append(
                    (int(row.seq), txn_event(str(row.kind), row.data))
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
                    from_json(str(command.kind), receipt["result"]),
                    by_command.get(seq, []),
                    times.get(seq, 0),
                    wall,
                )
                if body is not None:
                    rows.append(order_row(body, wall))
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
            txns = [(t.seq, t.event) for t in receipt.transactions]
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
