"""History served from the SQL journal: feeds, ledger statements, price history, stream replay.

Reads use their own engine so they never wait behind the sequencer's write transaction (SQLite
in WAL mode lets readers see the last committed block while a new one is being written; on
SQLite we also avoid the store's ``BEGIN IMMEDIATE`` hook, which would make every reader take
the write lock). The journal is append-only, so a cursor is simply the last ``seq`` seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from prophex.api.errors import InvalidCursor
from prophex.engine.journal import Event, decode
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
    event: Event
    """The typed journal event (the stored canonical text, decoded by ``journal.decode``)."""
    command_seq: int = 0
    command_kind: str = ""

    @property
    def order_id(self) -> str | None:
        """``o-<command_seq>`` when an order (open or close) caused this transaction."""
        return order_id_of(self.command_seq, self.command_kind)


def order_id_of(command_seq: int, command_kind: str) -> str | None:
    return f"o-{command_seq}" if command_kind in ("open", "close", "open_portfolio") else None


_COLS = (t.c.seq, t.c.kind, t.c.market, t.c.sim_time, t.c.data, t.c.command_seq, c.c.kind)
_JOIN = t.join(c, c.c.seq == t.c.command_seq)


def _txn_row(r: Any) -> TxnRow:
    return TxnRow(r[0], r[1], r[2], r[3], txn_event(r[1], r[4]), int(r[5]), str(r[6]))


def txn_data(text: str) -> dict[str, Any]:
    """The ``data`` of a journalled transaction (the column holds the hashed canonical text)."""
    doc: dict[str, Any] = json.loads(text)
    inner = doc.get("data")
    return inner if isinstance(inner, dict) and "postings" in doc else doc


def txn_event(kind: str, text: str) -> Event:
    """The typed event of a journalled transaction of ``kind`` from its stored text."""
    return decode(kind, txn_data(text))


_SEQ_CURSOR = re.compile(r"^[0-9]{1,18}$")
_PAIR_CURSOR = re.compile(r"^([0-9]{1,18}):([0-9]{1,9})$")


def parse_cursor(cursor: str | None) -> int:
    """Cursors are decimal sequence numbers (as issued in ``next_cursor``); no cursor is the
    beginning and anything else is refused with 422 ``INVALID_CURSOR``."""
    if cursor is None:
        return 0
    if not _SEQ_CURSOR.match(cursor):
        raise InvalidCursor(f"invalid cursor {cursor[:64]!r}", field="cursor")
    return int(cursor)


def parse_pair_cursor(cursor: str | None) -> tuple[int, int]:
    """A ``txn_seq:idx`` cursor (ledger and fund postings); a bare ``txn_seq`` also works."""
    if cursor is None:
        return 0, -1
    match = _PAIR_CURSOR.match(cursor)
    if match is None:
        return parse_cursor(cursor), -1
    return int(match.group(1)), int(match.group(2))


class History:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    def transactions(
        self, kinds: Sequence[str], market: str | None, after: int, limit: int
    ) -> list[TxnRow]:
        query = select(*_COLS).select_from(_JOIN).where(t.c.kind.in_(kinds), t.c.seq > after)
        if market is not None:
            query = query.where(t.c.market == market)
        query = query.order_by(t.c.seq).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_txn_row(r) for r in rows]

    def market_events(self, market: str, from_seq: int, limit: int) -> list[TxnRow]:
        """The market's journalled transactions numbered from 1 (the stream's ``seq``)."""
        query = (
            select(*_COLS)
            .select_from(_JOIN)
            .where(t.c.market == market)
            .order_by(t.c.seq)
            .offset(max(0, from_seq - 1))
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_txn_row(r) for r in rows]

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
            (int(r.block), TxnRow(r.seq, r.kind, r.market, r.sim_time, txn_event(r.kind, r.data)))
            for r in rows
        ]

    def postings(
        self, accounts: Sequence[str], after: tuple[int, int], limit: int
    ) -> list[tuple[int, int, str, int, str, str | None, int, int, str]]:
        """(txn_seq, idx, account, amount, kind, market, time, command_seq, command kind) after
        a (seq, idx) cursor, one row per individual posting.

        The ``postings`` table is packed per (transaction, account); its ``(account, txn_seq)``
        index finds the transactions that touched the accounts, and their postings, with each
        one's index in the transaction, are unpacked from the canonical text. Every packed row
        gives at least one posting, so ``limit`` rows after the cursor's transaction (plus one
        per account for that transaction itself) are enough for a page of ``limit``."""
        seq, idx = after
        wanted = set(accounts)
        touched = (
            select(p.c.txn_seq)
            .where(p.c.account.in_(list(wanted)), p.c.txn_seq >= seq)
            .order_by(p.c.txn_seq)
            .limit(limit + len(wanted))
        )
        query = (
            select(t.c.seq, t.c.kind, t.c.market, t.c.sim_time, t.c.command_seq, c.c.kind, t.c.data)
            .select_from(_JOIN)
            .where(t.c.seq.in_(touched))
            .order_by(t.c.seq)
        )
        with self.engine.connect() as conn:
            txns = conn.execute(query).all()
        rows = [
            (int(r[0]), i, account, int(amount), r[1], r[2], int(r[3]), int(r[4]), str(r[5]))
            for r in txns
            for i, (account, amount) in enumerate(json.loads(r[6])["postings"])
            if account in wanted and (int(r[0]), i) > (seq, idx)
        ]
        return rows[:limit]

    def block_height(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(schema.blocks.c.height))).scalar()
        return int(value or 0)
