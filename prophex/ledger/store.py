"""The store: writes blocks (journal + current state) in one SQL transaction and loads state.

Hot path: each block is a handful of ``executemany`` calls (``COPY`` on PostgreSQL), one per
table, with the rows the engine marked dirty. Nothing is read back during a write. Rows are
built by the per-table codecs of :mod:`prophex.ledger.codecs`; the engines (connection
settings) live in :mod:`prophex.ledger.engines`. Both are re-exported here for callers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from prophex.engine.commands import Command, to_dict
from prophex.engine.events import Receipt
from prophex.engine.indexes import rebuild_indexes
from prophex.engine.journal import market_of
from prophex.engine.liquidation import LiquidationIndex
from prophex.engine.results import StoredOrder
from prophex.engine.results import to_json as result_json
from prophex.engine.state import Market, Position, State, canonical_json
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
from prophex.params import make_params

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


@dataclass(slots=True)
class BlockEntry:
    command: Command
    receipt: Receipt
    sim_time: int


class Store:
    """Reads and writes one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sql = self._prepare()
        self._head: tuple[int, str] | None = None
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
        """(block height, last hash, command seq) as stored."""
        seq = self.meta_value(conn, "command_seq")
        return self.block_height(conn), self.last_hash(conn), 0 if seq is None else int(seq)

    def journal_head(self, conn: Connection) -> tuple[int, str, int]:
        """(highest block, hash of the last transaction, highest command) read from the
        journal itself, to compare with the head the state tables claim."""
        height = conn.execute(select(func.max(schema.blocks.c.height))).scalar()
        seq = conn.execute(select(func.max(schema.commands.c.seq))).scalar()
        txns = schema.transactions
        last = conn.execute(select(txns.c.hash).order_by(txns.c.seq.desc()).limit(1)).scalar()
        return int(height or 0), str(last) if last is not None else GENESIS_HASH, int(seq or 0)

    def forget_head(self) -> None:
        """After a failed write: re-read the head from the database before the next block."""
        self._head = None

    # ------------------------------------------------------------------ reading

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.meta)).scalar_one() == 0

    def meta_value(self, conn: Connection, key: str) -> Any:
        row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
        return None if row is None else json.loads(row[0])

    def last_hash(self, conn: Connection) -> str:
        value = self.meta_value(conn, "last_hash")
        return GENESIS_HASH if value is None else str(value)

    def block_height(self, conn: Connection) -> int:
        value = self.meta_value(conn, "block_height")
        return 0 if value is None else int(value)

    def load_state(self, conn: Connection | None = None) -> State:
        """Rebuild the engine state (and its indexes) from the state tables (in ``conn``'s
        snapshot when given)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.load_state(own)
        stored_meta = {row.key: json.loads(row.value) for row in conn.execute(select(schema.meta))}
        params = make_params(stored_meta["params"])
        state = State(
            params=params,
            rules=params.rules(),
            time=stored_meta["time"],
            command_seq=stored_meta["command_seq"],
            txn_seq=stored_meta["txn_seq"],
            next_position_id=stored_meta["next_position_id"],
        )
        for row in conn.execute(select(schema.balances)):
            state.balances[row.account] = row.balance
        for row in conn.execute(select(schema.markets)):
            fields = codecs.MARKETS.fields(row)
            fields["tags"] = dict(fields["tags"])
            state.markets[row.id] = Market(**fields, liquidations=LiquidationIndex())
            state.open_in_market[row.id] = set()
        for row in conn.execute(select(schema.positions).order_by(schema.positions.c.id)):
            state.positions[row.id] = Position(**codecs.POSITIONS.fields(row))
        for row in conn.execute(select(schema.client_orders)):
            key = (row.account, row.client_order_id)
            kind = json.loads(row.fingerprint)["type"]
            state.client_orders[key] = StoredOrder.from_json(
                row.fingerprint, kind, json.loads(row.result)
            )
        for row in conn.execute(select(schema.margin_accounts)):
            state.margin_modes[row.account] = row.mode
            state.pm_requirement[row.account] = row.requirement
        rebuild_indexes(state)
        return state

    def iter_commands(self, conn: Connection) -> Iterator[tuple[int, dict[str, Any]]]:
        query = select(schema.commands.c.seq, schema.commands.c.payload).order_by(
            schema.commands.c.seq
        )
        for seq, payload in conn.execute(query).yield_per(10_000):
            yield seq, json.loads(payload)

    # ------------------------------------------------------------------ writing

    def write_block(self, entries: Sequence[BlockEntry], state: State) -> int:
        """Append one block and the state it produced, atomically. Returns the block height."""
        self.attempted = None
        with self.engine.begin() as conn:
            self.check_fence(conn)
            if self._head is None:  # only this store writes (the sequencer holds the lock)
                self._head = (self.block_height(conn), self.last_hash(conn))
            height = self._head[0] + 1
            commands, txns, postings, last = journal_rows(entries, height, self._head[1])
            first = entries[0].receipt.command_seq
            block = (height, first, entries[-1].receipt.command_seq, state.time, last)
            conn.exec_driver_sql(self._sql["blocks"], [block])
            self._append(conn, schema.commands, commands)
            self._append(conn, schema.transactions, txns)
            self._append(conn, schema.postings, postings)
            self._write_state(conn, state, height, last)
            self.attempted = (height, last)
        self._head = (height, last)
        state.clear_dirty()
        return height

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

    def _write_state(self, conn: Connection, state: State, height: int, last_hash: str) -> None:
        """Upsert the rows the engine marked dirty, each built by its table's codec."""
        sql = self._sql
        rows: list[tuple[Any, ...]]
        if state.dirty_accounts:
            balances = state.balances
            rows = [(a, balances[a]) for a in sorted(state.dirty_accounts)]  # codecs.BALANCES
            self._upsert_rows(conn, schema.balances, rows)
        if state.dirty_markets:
            markets = state.markets
            rows = [codecs.MARKETS.row(markets[m]) for m in sorted(state.dirty_markets)]
            conn.exec_driver_sql(sql["markets"], rows)
        if state.dirty_positions:
            positions, row = state.positions, codecs.POSITIONS.row
            rows = [row(positions[i]) for i in sorted(state.dirty_positions)]
            self._upsert_rows(conn, schema.positions, rows)
        if state.dirty_client_orders:
            orders = state.client_orders
            rows = [  # codecs.CLIENT_ORDERS
                (key[0], key[1], orders[key].fingerprint, canonical_json(orders[key].to_json()))
                for key in sorted(state.dirty_client_orders)
            ]
            conn.exec_driver_sql(sql["client_orders"], rows)
        if state.dirty_margin_accounts:
            self._write_margin_accounts(conn, state)
        meta_rows = {**state.meta(), "block_height": height, "last_hash": last_hash}
        conn.exec_driver_sql(  # codecs.META
            sql["meta"], [(k, json.dumps(v, sort_keys=True)) for k, v in meta_rows.items()]
        )

    def _write_margin_accounts(self, conn: Connection, state: State) -> None:
        """Portfolio-mode accounts: upsert those in portfolio mode, delete those that left."""
        table = schema.margin_accounts
        dirty = sorted(state.dirty_margin_accounts)
        rows = [
            (a, state.margin_modes[a], state.pm_requirement.get(a, 0))
            for a in dirty
            if a in state.margin_modes
        ]
        if rows:
            conn.exec_driver_sql(self._sql["margin_accounts"], rows)
        gone = [a for a in dirty if a not in state.margin_modes]
        if gone:
            conn.execute(delete(table).where(table.c.account.in_(gone)))


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
