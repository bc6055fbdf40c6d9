"""History served from the SQL journal: feeds, ledger statements, price history, stream replay.

Reads use their own engine so they never wait behind the sequencer's write transaction (SQLite
in WAL mode lets readers see the last committed block while a new one is being written; on
SQLite we also avoid the store's ``BEGIN IMMEDIATE`` hook, which would make every reader take
the write lock). The journal is append-only, so a cursor is simply the last ``seq`` seen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from prophex.ledger import schema
from prophex.ledger.store import make_read_engine as make_ledger_read_engine

t = schema.transactions
p = schema.postings
c = schema.commands
PRICE_KINDS = ("open", "close", "liquidation")


def make_read_engine(url: str) -> Engine:
    """An engine for readers only: the ledger's one read-only factory (never takes the write
    lock, so history reads never stall the block writer)."""
    return make_ledger_read_engine(url, pool_size=8)


@dataclass(frozen=True, slots=True)
class TxnRow:
    seq: int
    kind: str
    market: str | None
    time: int
    data: dict[str, Any]


def txn_data(text: str) -> dict[str, Any]:
    """The ``data`` of a journalled transaction (the column holds the hashed canonical text)."""
    doc: dict[str, Any] = json.loads(text)
    inner = doc.get("data")
    return inner if isinstance(inner, dict) and "postings" in doc else doc


def parse_cursor(cursor: str | None) -> int:
    """Cursors are decimal sequence numbers; anything else starts from the beginning."""
    if cursor is None or not cursor.isdigit() or len(cursor) > 18:
        return 0
    return int(cursor)


class History:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    def transactions(
        self, kinds: Sequence[str], market: str | None, after: int, limit: int
    ) -> list[TxnRow]:
        query = select(t.c.seq, t.c.kind, t.c.market, t.c.sim_time, t.c.data).where(
            t.c.kind.in_(kinds), t.c.seq > after
        )
        if market is not None:
            query = query.where(t.c.market == market)
        query = query.order_by(t.c.seq).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [TxnRow(r.seq, r.kind, r.market, r.sim_time, txn_data(r.data)) for r in rows]

    def market_events(self, market: str, from_seq: int, limit: int) -> list[TxnRow]:
        """The market's journalled transactions numbered from 1 (the stream's ``seq``)."""
        query = (
            select(t.c.seq, t.c.kind, t.c.market, t.c.sim_time, t.c.data)
            .where(t.c.market == market)
            .order_by(t.c.seq)
            .offset(max(0, from_seq - 1))
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [TxnRow(r.seq, r.kind, r.market, r.sim_time, txn_data(r.data)) for r in rows]

    def market_counts(self) -> dict[str, int]:
        query = select(t.c.market, func.count()).where(t.c.market.is_not(None)).group_by(t.c.market)
        with self.engine.connect() as conn:
            return {str(m): int(n) for m, n in conn.execute(query).all()}

    def price_points(self, market: str, after: int, limit: int) -> list[tuple[int, TxnRow]]:
        """(block, last price-moving transaction of that block) for one market."""
        ti, ci = t.alias("ti"), c.alias("ci")
        last_per_block = (
            select(func.max(ti.c.seq))
            .select_from(ti.join(ci, ci.c.seq == ti.c.command_seq))
            .where(ti.c.market == market, ti.c.kind.in_(PRICE_KINDS))
            .group_by(ci.c.block)
        )
        joined = t.join(c, c.c.seq == t.c.command_seq)
        query = (
            select(c.c.block, t.c.seq, t.c.kind, t.c.market, t.c.sim_time, t.c.data)
            .select_from(joined)
            .where(t.c.seq.in_(last_per_block), t.c.seq > after)
            .order_by(t.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            (int(r.block), TxnRow(r.seq, r.kind, r.market, r.sim_time, txn_data(r.data)))
            for r in rows
        ]

    def postings(
        self, accounts: Sequence[str], after: tuple[int, int], limit: int
    ) -> list[tuple[int, int, str, int, str, str | None, int]]:
        """(txn_seq, idx, account, amount, kind, market, time) after a (seq, idx) cursor."""
        seq, idx = after
        query = (
            select(
                p.c.txn_seq, p.c.idx, p.c.account, p.c.amount, t.c.kind, t.c.market, t.c.sim_time
            )
            .select_from(p.join(t, t.c.seq == p.c.txn_seq))
            .where(
                p.c.account.in_(list(accounts)),
                or_(p.c.txn_seq > seq, and_(p.c.txn_seq == seq, p.c.idx > idx)),
            )
            .order_by(p.c.txn_seq, p.c.idx)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query).all()]

    def block_height(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(schema.blocks.c.height))).scalar()
        return int(value or 0)
