"""The store: writes blocks (journal + current state) in one SQL transaction and loads state.

Hot path: each block is a handful of ``executemany`` calls through SQLAlchemy Core, one per
table, with the rows the engine marked dirty. Nothing is read back during a write.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Integer,
    String,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from prophex.engine.commands import Command, to_dict
from prophex.engine.events import Receipt, Transaction
from prophex.engine.liquidation import LiquidationIndex
from prophex.engine.results import StoredOrder
from prophex.engine.results import to_json as result_json
from prophex.engine.state import Market, Position, State, canonical_json
from prophex.errors import DatabaseMissing, InvalidCommand, WriterFenced
from prophex.ledger import schema
from prophex.params import make_params

GENESIS_HASH = "0" * 64
DEFAULT_SQLITE_FILE = "prophex.db"


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else ``PROPHEX_DATABASE_URL``, else an SQLite file in the working directory.

    An unparseable URL is a typed error (``INVALID_COMMAND``, field ``db``), not a traceback."""
    url = explicit or os.environ.get("PROPHEX_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_FILE}"
    try:
        make_url(url)
    except ArgumentError:
        raise InvalidCommand(
            f"not a database URL: {url!r} (e.g. sqlite:///prophex.db, sqlite:// for memory, "
            "postgresql+psycopg://user@host/db)",
            field="db",
        ) from None
    return url


def make_db_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """Create an engine with the settings each backend needs for a single fast writer.

    SQLite: WAL journal (readers never block the writer), ``synchronous=NORMAL`` (a crash of the
    process loses nothing committed; see docs/decisions.md for power loss), foreign keys on, and
    ``BEGIN IMMEDIATE`` so a write transaction takes the write lock up front instead of failing
    half-way with "database is locked". A 64 MiB page cache and a WAL checkpoint every 10,000
    pages (instead of 1,000) cut the per-block commit cost by about a fifth on the ledger
    benchmark; durability is unchanged.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        timeout = busy_timeout_ms / 1000
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": timeout}}
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_read_engine(url: str, *, pool_size: int = 5) -> Engine:
    """The one engine factory for readers (audits, solvency, API history and key loading).

    A reader never takes the write lock, so it never stalls the sequencer. SQLite: no
    ``BEGIN IMMEDIATE``; a plain (deferred) ``BEGIN`` so that everything read inside one
    ``engine.begin()``/``connect()`` block comes from one WAL snapshot; ``PRAGMA query_only``
    so a reader cannot write even by mistake. PostgreSQL: every transaction is ``READ ONLY``
    and ``REPEATABLE READ`` (one snapshot per transaction, no locks that block a writer).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            isolation_level="REPEATABLE READ",
            connect_args={"options": "-c default_transaction_read_only=on"},
        )
    in_memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def open_read_only(url: str) -> Engine:
    """A read-only engine on an existing Prophex database, or :class:`DatabaseMissing`.

    Never creates anything: an SQLite file that does not exist is reported before any
    connection is made (connecting would create an empty file), and a database without the
    Prophex tables or without genesis is reported instead of a driver traceback.
    """
    shown = make_url(url).render_as_string(hide_password=True)
    hint = (
        "create one with `prophex demo --db FILE`, `prophex run COMMANDS --db URL` or "
        "`prophex serve`, or point --db / PROPHEX_DATABASE_URL at an existing one"
    )
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise DatabaseMissing(f"no Prophex database at {shown} (in-memory): {hint}", url=shown)
        if not path.is_file():
            raise DatabaseMissing(
                f"no Prophex database at {shown} (no such file): {hint}", url=shown
            )
    engine = make_read_engine(url)
    try:
        with engine.connect() as conn:
            genesis = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "command_seq")
            ).first()
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise DatabaseMissing(
            f"no Prophex database at {shown} ({reason[0] if reason else type(exc).__name__}): "
            f"{hint}",
            url=shown,
        ) from None
    if genesis is None:
        engine.dispose()
        raise DatabaseMissing(
            f"no Prophex exchange in {shown} (no genesis written yet): {hint}", url=shown
        )
    return engine


def _pg_binary_type(column_type: Any) -> str:
    """The PostgreSQL type a column's values are sent as in a binary ``COPY``."""
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, String):  # Text and String(n): the same wire format
        return "text"
    raise TypeError(f"no binary COPY type for {column_type!r}")


def txn_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def canonical_txn(txn: Transaction, command_seq: int, sim_time: int) -> str:
    """The exact text a transaction's hash is taken over."""
    return canonical_json(
        {
            "seq": txn.seq,
            "command_seq": command_seq,
            "kind": txn.kind,
            "time": sim_time,
            "postings": [[account, amount] for account, amount in txn.postings],
            "data": txn.data,
        }
    )


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
            state.markets[row.id] = Market(
                id=row.id,
                kind=row.kind,
                virtual_oi=row.virtual_oi,
                funding=row.funding,
                tags=dict(row.tags),
                wallet_cap=row.wallet_cap,
                market_oi_cap=row.market_oi_cap,
                status=row.status,
                real_oi_a=row.real_oi_a,
                real_oi_b=row.real_oi_b,
                outcome=row.outcome,
                created_at=row.created_at,
                volume=row.volume,
                bad_debt=row.bad_debt,
                liquidations=LiquidationIndex(),
            )
            state.open_in_market[row.id] = set()
        for row in conn.execute(select(schema.positions).order_by(schema.positions.c.id)):
            state.positions[row.id] = Position(**row._asdict())
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
            height, prev = self._head[0] + 1, self._head[1]
            command_rows: list[tuple[Any, ...]] = []
            txn_rows: list[tuple[Any, ...]] = []
            posting_rows: list[tuple[Any, ...]] = []
            for entry in entries:
                receipt = entry.receipt
                seq = receipt.command_seq
                command_rows.append(
                    (
                        seq,
                        height,
                        receipt.kind,
                        canonical_json(to_dict(entry.command)),
                        canonical_json(
                            {
                                "result": result_json(receipt.result),
                                "txns": [t.seq for t in receipt.transactions],
                            }
                        ),
                    )
                )
                for txn in receipt.transactions:
                    text = canonical_txn(txn, seq, entry.sim_time)
                    digest = txn_hash(prev, text)
                    market = txn.data.get("market")
                    txn_rows.append(
                        (
                            txn.seq,
                            seq,
                            txn.kind,
                            market if isinstance(market, str) else None,
                            entry.sim_time,
                            text,
                            prev,
                            digest,
                        )
                    )
                    prev = digest
                    tseq = txn.seq
                    posting_rows += [
                        (tseq, i, account, amount)
                        for i, (account, amount) in enumerate(txn.postings)
                    ]
            first, last = entries[0].receipt.command_seq, entries[-1].receipt.command_seq
            conn.exec_driver_sql(self._sql["blocks"], [(height, first, last, state.time, prev)])
            self._append(conn, schema.commands, command_rows)
            self._append(conn, schema.transactions, txn_rows)
            self._append(conn, schema.postings, posting_rows)
            self._write_state(conn, state, height, prev)
            self.attempted = (height, prev)
        self._head = (height, prev)
        clear_dirty(state)
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
            copy.set_types([_pg_binary_type(c.type) for c in table.columns])
            for row in rows:
                copy.write_row(row)

    def _prepare(self) -> dict[str, str]:
        """Driver-level SQL for the hot tables: one parse per statement, no per-row compiling.

        ``INSERT ... ON CONFLICT (...) DO UPDATE`` is spelled the same in SQLite and PostgreSQL;
        only the placeholder differs (``?`` versus ``%s``).
        """
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

        def insert(table: Any, keys: tuple[str, ...] = ()) -> str:
            columns = [c.name for c in table.columns]
            marks = ", ".join([mark] * len(columns))
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            if keys:
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
                sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
            return sql

        def merge(table: Any, keys: tuple[str, ...]) -> str:
            columns = [c.name for c in table.columns]
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
            return (
                f"INSERT INTO {table.name} ({', '.join(columns)}) "
                f"SELECT {', '.join(columns)} FROM stage_{table.name} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
            )

        return {
            "fence": f"UPDATE writer SET epoch = epoch WHERE id = 1 AND epoch = {mark}",
            "merge_balances": merge(schema.balances, ("account",)),
            "merge_positions": merge(schema.positions, ("id",)),
            "blocks": insert(schema.blocks),
            "commands": insert(schema.commands),
            "transactions": insert(schema.transactions),
            "postings": insert(schema.postings),
            "balances": insert(schema.balances, ("account",)),
            "markets": insert(schema.markets, ("id",)),
            "positions": insert(schema.positions, ("id",)),
            "client_orders": insert(schema.client_orders, ("account", "client_order_id")),
            "meta": insert(schema.meta, ("key",)),
            "margin_accounts": insert(schema.margin_accounts, ("account",)),
        }

    def _write_state(self, conn: Connection, state: State, height: int, last_hash: str) -> None:
        sql = self._sql
        if state.dirty_accounts:
            self._upsert_rows(
                conn,
                schema.balances,
                [(a, state.balances[a]) for a in sorted(state.dirty_accounts)],
            )
        if state.dirty_markets:
            rows = []
            for market_id in sorted(state.dirty_markets):
                row = state.markets[market_id].to_row()
                row["tags"] = canonical_json(row["tags"])
                rows.append(tuple(row[c.name] for c in schema.markets.columns))
            conn.exec_driver_sql(sql["markets"], rows)
        if state.dirty_positions:
            positions = state.positions
            self._upsert_rows(
                conn,
                schema.positions,
                [
                    (
                        p.id,
                        p.account,
                        p.market,
                        p.side,
                        p.notional,
                        p.cost_basis,
                        p.margin,
                        p.status,
                        p.opened_at,
                        p.closed_at,
                        p.realized_pnl,
                        p.haircut,
                    )
                    for p in (positions[i] for i in sorted(state.dirty_positions))
                ],
            )
        if state.dirty_client_orders:
            conn.exec_driver_sql(
                sql["client_orders"],
                [
                    (
                        key[0],
                        key[1],
                        state.client_orders[key].fingerprint,
                        canonical_json(state.client_orders[key].to_json()),
                    )
                    for key in sorted(state.dirty_client_orders)
                ],
            )
        if state.dirty_margin_accounts:
            self._write_margin_accounts(conn, state)
        meta_rows = {**state.meta(), "block_height": height, "last_hash": last_hash}
        conn.exec_driver_sql(
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


def clear_dirty(state: State) -> None:
    state.dirty_margin_accounts.clear()
    state.dirty_accounts.clear()
    state.dirty_positions.clear()
    state.dirty_markets.clear()
    state.dirty_client_orders.clear()


def rebuild_indexes(state: State) -> None:
    """Derive the lookup indexes (open positions per key and market, wallet notional, the
    liquidation heaps) from positions; they are never stored, so they cannot drift."""
    for position in state.positions.values():
        if position.status != "open":
            continue
        state.open_by_key[(position.account, position.market, position.side)] = position.id
        state.open_in_market.setdefault(position.market, set()).add(position.id)
        key = (position.account, position.market)
        state.wallet_notional[key] = state.wallet_notional.get(key, 0) + position.notional
        state.markets[position.market].expose(position, 1)
        if position.account in state.margin_modes:  # portfolio positions: no heap entry
            continue
        state.markets[position.market].liquidations.track(
            position.side,
            position.id,
            position.version,
            position.cost_basis - position.margin,
            position.notional,
        )


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL (None for other backends and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
