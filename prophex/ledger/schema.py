"""The SQL schema (SQLAlchemy Core). Alembic migrations in ``prophex/migrations/`` create it; a test
asserts the two agree.

The journal is append-only: ``commands`` (what was asked, in sequence order, with its receipt),
``transactions`` (what happened, hash-chained) and ``postings`` (how money moved). ``balances``,
``markets``, ``positions``, ``client_orders`` and ``meta`` are the current state, written in the
same SQL transaction as the journal rows of each block, so they can never disagree with it
without the audit noticing.

Migration ``0007_schema`` packs ``postings`` per (transaction, account) and makes the journal's
sequence keys SQLite rowids (below). The journal tables carry no foreign keys (migration
``0006_speed``): they are append-only and
hash-chained, written by the single writer in one SQL transaction per block, and their integrity
is the chain and the audit, not a per-row trigger (docs/decisions.md, "Speed").
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

JournalKey = BigInteger().with_variant(Integer(), "sqlite")
"""A journal table's sequence key: ``BIGINT`` on PostgreSQL, ``INTEGER`` on SQLite, where only
a column declared ``INTEGER PRIMARY KEY`` is the table's rowid (a ``BIGINT`` key is a second
B-tree beside the rowid, paid on every insert). SQLite's ``INTEGER`` is 64-bit (migration
``0007_schema``)."""

blocks = Table(
    "blocks",
    metadata,
    Column("height", JournalKey, primary_key=True, autoincrement=False),
    Column("first_command", BigInteger, nullable=False),
    Column("last_command", BigInteger, nullable=False),
    Column("sim_time", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

commands = Table(
    "commands",
    metadata,
    Column("seq", JournalKey, primary_key=True, autoincrement=False),
    Column("block", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("receipt", Text, nullable=False),
)

transactions = Table(
    "transactions",
    metadata,
    Column("seq", JournalKey, primary_key=True, autoincrement=False),
    Column("command_seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("market", String(64), nullable=True),
    Column("sim_time", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_transactions_kind_seq", "kind", "seq"),
    Index("ix_transactions_market_seq", "market", "seq"),
)

postings = Table(
    "postings",
    metadata,
    Column("txn_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(80), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Index("ix_postings_account_txn", "account", "txn_seq"),
    sqlite_with_rowid=False,
)
"""Postings packed per (transaction, account): the net amount each account's postings in one
transaction sum to (zero kept), so sums per account and per transaction are those of the
individual postings. The individual postings, in engine order, are in the transaction's
canonical text (``transactions.data``), which the hash chain covers and the audit re-derives;
the API's ledger unpacks them from there. On SQLite the table is ``WITHOUT ROWID`` (its key is
its only B-tree)."""

balances = Table(
    "balances",
    metadata,
    Column("account", String(80), primary_key=True),
    Column("balance", BigInteger, nullable=False),
)

markets = Table(
    "markets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("virtual_oi", BigInteger, nullable=False),
    Column("real_oi_a", BigInteger, nullable=False),
    Column("real_oi_b", BigInteger, nullable=False),
    Column("funding", Boolean, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("tags", JSON, nullable=False),
    Column("wallet_cap", BigInteger, nullable=True),
    Column("market_oi_cap", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("volume", BigInteger, nullable=False),
    Column("bad_debt", BigInteger, nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(64), nullable=False),
    Column("market", String(64), nullable=False),
    Column("side", String(1), nullable=False),
    Column("notional", BigInteger, nullable=False),
    Column("cost_basis", BigInteger, nullable=False),
    Column("margin", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    Column("realized_pnl", BigInteger, nullable=False),
    Column("haircut", BigInteger, nullable=False),
    Index("ix_positions_account_status", "account", "status"),
    Index("ix_positions_market_status", "market", "status"),
)

client_orders = Table(
    "client_orders",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("client_order_id", String(64), primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("result", Text, nullable=False),
)

margin_accounts = Table(
    "margin_accounts",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("requirement", BigInteger, nullable=False),
)
"""Accounts in portfolio mode and their last requirement (micro-USD); the lock itself is the
balance of ``pm_margin:<account>``. Isolated accounts have no row."""

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("account", String(64), nullable=False),
    Column("label", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("scopes", String(64), nullable=True),
    Index("ix_api_keys_account", "account"),
)
"""API keys (hashes only). Not ledger state and not journalled: replay does not need them."""

writer = Table(
    "writer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
    Column("holder", String(200), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
)
"""The writer fence: one row (``id = 1``). A sequencer that opens the database increments
``epoch`` and remembers it; every block transaction first updates the row *where the epoch is
still its own*, so a writer that was superseded can never commit again. Not ledger state."""

api_orders = Table(
    "api_orders",
    metadata,
    Column("command_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(64), nullable=False),
    Column("market", String(64), nullable=False),
    Column("client_order_id", String(64), nullable=True),
    Column("txn_seq", BigInteger, nullable=False),
    Column("sim_time", BigInteger, nullable=False),
    Column("wall_time_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_api_orders_account_seq", "account", "command_seq"),
    Index("ix_api_orders_account_client", "account", "client_order_id"),
)
"""The API's order index (one row per executed open or close), derived from the journal and
caught up from it at start-up; ``wall_time_us`` is the commit's wall-clock time."""

api_account_events = Table(
    "api_account_events",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("txn_seq", BigInteger, nullable=False),
    Column("type", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_api_account_events_txn", "txn_seq"),
)
"""The private stream's per-account events, numbered 1, 2, 3... per account in journal order;
derived from the journal (and caught up from it at start-up)."""

api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("idem_key", String(64), primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_api_idempotency_created", "created_at"),
)
"""Stored answers of mutating calls sent with an ``Idempotency-Key`` (bounded retention)."""

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

STATE_TABLES = (balances, markets, positions, client_orders, meta)
JOURNAL_TABLES = (blocks, commands, transactions, postings)
