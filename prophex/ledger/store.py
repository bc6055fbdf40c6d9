"""The store: appends blocks to the journal, snapshots the state tables, loads state.

Hot path: each block is one SQL transaction of a few ``executemany`` calls (``COPY`` on
PostgreSQL), one per journal table; every ``snapshot_every`` blocks the same transaction also
rewrites the state rows changed since the previous snapshot (:mod:`prophex.ledger.snapshot`).
A load is that snapshot plus the journal after it, replayed and verified
(:mod:`prophex.ledger.tail`). Nothing is read back during a write. Rows are
built by the per-table codecs of :mod:`prophex.ledger.codecs`; the engines (connection
settings) live in :mod:`prophex.ledger.engines`. Both are re-exported here for callers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from prophex.engine.commands import Command, to_dict
from prophex.engine.events import Receipt
from prophex.engine.journal import market_of
from prophex.engine.results import to_json as result_json
from prophex.engine.state import State, canonical_json
from prophex.errors import WriterFenced
from prophex.ledger import codecs, schema
from prophex.ledger.codecs import GENESIS_HASH, canonical_txn, pack_postings, txn_hash
from prophex.ledger.engines import (
    DEFAULT_SQLITE_FILE,
    database_url,
    make_db_engine,
    make_read_engine,
    open_read_only,
    sqlite_path,
)
from prophex.ledger.snapshot import Pending, read_snapshot, write_snapshot
from prophex.ledger.tail import Snapshot, iter_commands, journal_head, replay_tail

__all__ = [
    "DEFAULT_SQLITE_FILE",
    "GENESIS_HASH",
    "BlockEntry",
    "Store",
    "canonical_txn",
    "database_url",
    "make_db_engine",
    "make_read_engine",
    "open_read_only",
    "sqlite_path",
    "txn_hash",
]


DEFAULT_SNAPSHOT_EVERY = 32
"""Blocks between two rewrites of the state tables on SQLite (docs/performance.md, "Append-only
state with snapshots"). PostgreSQL defaults to 1 (every block, as before): there, the snapshot
measured no faster than the per-block merge (D158)."""


def default_snapshot_every(engine: Engine) -> int:
    """The measured default cadence of this backend: 32 on SQLite, 1 elsewhere."""
    return DEFAULT_SNAPSHOT_EVERY if engine.dialect.name == "sqlite" else 1


@dataclass(slots=True)
class BlockEntry:
    command: Command
    receipt: Receipt
    sim_time: int


class Store:
    """Reads and writes one database."""

    def __init__(self, engine: Engine, snapshot_every: int | None = None) -> None:
        if snapshot_every is None:
            snapshot_every = default_snapshot_every(engine)
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.engine = engine
        self.snapshot_every = snapshot_every
        """Rewrite the state tables every this many blocks (1: every block)."""
        self._sql = self._prepare()
        self._head: tuple[int, str] | None = None
        self.snapshot_height = 0
        """The block whose state the state tables hold (read with the head)."""
        self.pending = Pending()
        """Rows changed by the blocks committed since that snapshot."""
        self.epoch: int | None = None
        """The writer epoch this store claimed (None: unfenced, e.g. a test's raw store)."""
        self.attempted: tuple[int, str] | None = None
        """(height, last hash) of the last block sent to COMMIT: after an ambiguous commit
        failure, a stored head equal to this proves the block is durable."""

    # ------------------------------------------------------------------ the writer fence

    def claim_writer(self, holder: str) -> int:
        """Become the writer: increment the fence epoch atomically and remember it.

        ``UPDATE ... SET epoch = epoch + 1 RETURNING epoch`` takes the row lock, so two
        claimers always get different epochs; every older writer is fenced from then on.
        """
        table = schema.writer
        now = int(time.time())
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(table)
                .where(table.c.id == 1)
                .values(epoch=table.c.epoch + 1, holder=holder[:200], claimed_at=now)
                .returning(table.c.epoch)
            ).scalar()
            if claimed is None:
                conn.execute(
                    table.insert().values(id=1, epoch=1, holder=holder[:200], claimed_at=now)
                )
                claimed = 1
        self.epoch = int(claimed)
        return self.epoch

    def check_fence(self, conn: Connection) -> None:
        """Inside a block's transaction: prove this store is still the writer, else
        :class:`WriterFenced`. The UPDATE locks the fence row until the block commits, so a new
        writer's claim waits for this block and every block after the claim is refused."""
        if self.epoch is None:
            return
        result = conn.exec_driver_sql(self._sql["fence"], (self.epoch,))
        if result.rowcount == 1:
            return
        row = conn.execute(select(schema.writer.c.epoch, schema.writer.c.holder)).first()
        newer = "none" if row is None else f"epoch {row.epoch} held by {row.holder}"
        raise WriterFenced(
            f"another sequencer took over this database (this writer has epoch {self.epoch}; "
            f"the database now has {newer}); this writer will not write again: stop one of them",
            epoch=self.epoch,
            current=None if row is None else int(row.epoch),
        )

    def stored_head(self, conn: Connection) -> tuple[int, str, int]:
        """(block height, last hash, command seq) of the journal's head: its last block."""
        head = journal_head(conn)
        return head.height, head.last_hash, head.command_seq

    def forget_head(self) -> None:
        """After a failed write: re-read the head and the snapshot's height from the database
        before the next block, and forget the rows pending for the next snapshot (the reloaded
        state's dirty sets name them again, :func:`prophex.ledger.tail.replay_tail`)."""
        self._head = None
        self.pending.clear()

    # ------------------------------------------------------------------ reading

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.meta)).scalar_one() == 0

    def meta_value(self, conn: Connection, key: str) -> Any:
        row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
        return None if row is None else json.loads(row[0])

    def load_state(self, conn: Connection | None = None) -> State:
        """The state at the journal's head (in ``conn``'s snapshot when given): the state
        tables (the last snapshot) plus the journal after them, replayed and verified
        transaction by transaction against the stored hash chain. Raises
        :class:`~prophex.errors.JournalMismatch` rather than return a state the journal does
        not prove. The rows the replay changed are left dirty (not yet in the tables)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.load_state(own)
        state, snap = read_snapshot(conn)
        replay_tail(conn, state, snap)
        return state

    def load_snapshot(self, conn: Connection) -> tuple[State, Snapshot]:
        """The state the tables hold, unreplayed, and the block it belongs to."""
        return read_snapshot(conn)

    def iter_commands(self, conn: Connection) -> Iterator[tuple[int, dict[str, Any]]]:
        return iter_commands(conn)

    # ------------------------------------------------------------------ writing

    def write_block(
        self, entries: Sequence[BlockEntry], state: State, *, snapshot: bool = False
    ) -> int:
        """Append one block atomically; every ``snapshot_every`` blocks (or if ``snapshot``)
        the same transaction also rewrites the state tables to this block's state. Returns the
        block height."""
        self.attempted = None
        written = False
        with self.engine.begin() as conn:
            self.check_fence(conn)
            if self._head is None:  # only this store writes (the sequencer holds the lock)
                self._read_head(conn)
            prev_height, prev_hash = self._head or (0, GENESIS_HASH)
            height = prev_height + 1
            commands, txns, postings, last = journal_rows(entries, height, prev_hash)
            first = entries[0].receipt.command_seq
            block = (height, first, entries[-1].receipt.command_seq, state.time, last)
            conn.exec_driver_sql(self._sql["blocks"], [block])
            self._append(conn, schema.commands, commands)
            self._append(conn, schema.transactions, txns)
            self._append(conn, schema.postings, postings)
            if snapshot or height - self.snapshot_height >= self.snapshot_every:
                keys = self.pending.with_block(state)
                write_snapshot(conn, self._sql, self._upsert_rows, state, keys, (height, last))
                written = True
            self.attempted = (height, last)
        self._head = (height, last)
        if written:
            self.snapshot_height = height
            self.pending.clear()
        else:
            self.pending.absorb(state)
        state.clear_dirty()
        return height

    def write_snapshot(self, state: State) -> bool:
        """Rewrite the state tables to ``state`` (the state at the head this store wrote) in
        their own transaction, if any block since the last snapshot left them behind. For a
        clean close and for tools that read the tables. Returns whether it wrote."""
        with self.engine.begin() as conn:
            self.check_fence(conn)
            if self._head is None:
                self._read_head(conn)
            head = self._head or (0, GENESIS_HASH)
            if head[0] == self.snapshot_height:
                return False
            keys = self.pending.with_block(state)
            write_snapshot(conn, self._sql, self._upsert_rows, state, keys, head)
        self.snapshot_height = head[0]
        self.pending.clear()
        state.clear_dirty()
        return True

    def _read_head(self, conn: Connection) -> None:
        head = journal_head(conn)
        self._head = (head.height, head.last_hash)
        height = self.meta_value(conn, "block_height")
        self.snapshot_height = 0 if height is None else int(height)

    def _append(self, conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> None:
        """Append journal rows: ``COPY`` on PostgreSQL (one stream instead of a statement per
        row), ``executemany`` elsewhere."""
        if not rows:
            return
        if self.engine.dialect.name != "postgresql":
            conn.exec_driver_sql(self._sql[table.name], rows)
            return
        self._copy(conn, table.name, table, rows)

    def _upsert_rows(self, conn: Connection, table: Any, rows: list[tuple[Any, ...]]) -> None:
        """Insert-or-update state rows. On PostgreSQL the rows are copied into a temporary
        staging table and merged with one ``INSERT ... SELECT ... ON CONFLICT``."""
        if not rows:
            return
        if self.engine.dialect.name != "postgresql":
            conn.exec_driver_sql(self._sql[table.name], rows)
            return
        stage = f"stage_{table.name}"
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name}) ON COMMIT DELETE ROWS"
        )
        self._copy(conn, stage, table, rows)
        conn.exec_driver_sql(self._sql[f"merge_{table.name}"])

    @staticmethod
    def _copy(conn: Connection, target: str, table: Any, rows: list[tuple[Any, ...]]) -> None:
        """``COPY ... FROM STDIN (FORMAT BINARY)``: integers travel as 8 bytes instead of being
        printed and parsed (docs/performance.md)."""
        columns = ", ".join(c.name for c in table.columns)
        raw = conn.connection.driver_connection
        if raw is None:  # a live psycopg connection inside an open transaction has one
            raise RuntimeError("COPY needs a live driver connection")
        statement = f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types([codecs.pg_binary_type(c.type) for c in table.columns])
            for row in rows:
                copy.write_row(row)

    def _prepare(self) -> dict[str, str]:
        """Driver-level SQL for the hot tables: one parse per statement, no per-row compiling."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        upserts = {
            schema.balances: ("account",),
            schema.markets: ("id",),
            schema.positions: ("id",),
            schema.client_orders: ("account", "client_order_id"),
            schema.meta: ("key",),
            schema.margin_accounts: ("account",),
        }
        sql = {t.name: codecs.insert_sql(t, mark) for t in schema.JOURNAL_TABLES}
        sql |= {t.name: codecs.insert_sql(t, mark, keys) for t, keys in upserts.items()}
        sql["merge_balances"] = codecs.merge_sql(schema.balances, ("account",))
        sql["merge_positions"] = codecs.merge_sql(schema.positions, ("id",))
        sql["fence"] = f"UPDATE writer SET epoch = epoch WHERE id = 1 AND epoch = {mark}"
        return sql


def journal_rows(
    entries: Sequence[BlockEntry], height: int, prev: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], str]:
    """The block's journal rows (commands, transactions, packed postings) and the last hash.

    Layouts: ``codecs.COMMANDS``, ``codecs.TRANSACTIONS`` and ``codecs.POSTINGS`` (checked
    against the tables at import). Each transaction's hash chains from the previous one."""
    command_rows: list[tuple[Any, ...]] = []
    txn_rows: list[tuple[Any, ...]] = []
    posting_rows: list[tuple[Any, ...]] = []
    for entry in entries:
        receipt = entry.receipt
        seq = receipt.command_seq
        receipt_text = canonical_json(
            {"result": result_json(receipt.result), "txns": [t.seq for t in receipt.transactions]}
        )
        payload = canonical_json(to_dict(entry.command))
        command_rows.append((seq, height, receipt.kind, payload, receipt_text))
        for txn in receipt.transactions:
            text = canonical_txn(txn, seq, entry.sim_time)
            digest = txn_hash(prev, text)
            market = market_of(txn.event)
            txn_rows.append((txn.seq, seq, txn.kind, market, entry.sim_time, text, prev, digest))
            prev = digest
            tseq = txn.seq
            posting_rows += [(tseq, a, net) for a, net in pack_postings(txn.postings).items()]
    return command_rows, txn_rows, posting_rows, prev
