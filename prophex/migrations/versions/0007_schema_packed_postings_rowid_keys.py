"""schema: postings packed per (transaction, account); real rowid keys for SQLite's journal

``postings`` becomes one row per (transaction, account) holding the net amount of that
account's postings in the transaction (``txn_seq``, ``account``, ``amount``; key
``(txn_seq, account)``; index ``(account, txn_seq)``; ``WITHOUT ROWID`` on SQLite). The
individual postings stay in each transaction's canonical, hash-chained text
(``transactions.data``), so nothing is lost: the downgrade unpacks them from there.

On SQLite, ``blocks.height``, ``commands.seq`` and ``transactions.seq`` become
``INTEGER PRIMARY KEY`` (the table's rowid) instead of ``BIGINT PRIMARY KEY``, which SQLite
keeps as a second B-tree beside the rowid. PostgreSQL keeps ``BIGINT`` keys.

Existing rows are migrated: the upgrade packs the stored postings with ``SUM ... GROUP BY``,
the downgrade rebuilds ``(txn_seq, idx, account, amount)`` from the canonical text.

Revision ID: 0007_schema
Revises: 0006_speed
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_schema"
down_revision: str | None = "0006_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTINGS_INDEX = "ix_postings_account_txn"
COPY_PAGE = 10_000


def _key(rowid: bool) -> sa.types.TypeEngine[int]:
    return sa.Integer() if rowid else sa.BigInteger()


def _keyed_tables(meta: sa.MetaData, rowid: bool) -> list[sa.Table]:
    """``blocks``, ``commands`` and ``transactions`` as 0006 left them, with their sequence key
    ``INTEGER`` (a rowid alias on SQLite) or ``BIGINT``."""
    return [
        sa.Table(
            "blocks",
            meta,
            sa.Column("height", _key(rowid), autoincrement=False, nullable=False),
            sa.Column("first_command", sa.BigInteger(), nullable=False),
            sa.Column("last_command", sa.BigInteger(), nullable=False),
            sa.Column("sim_time", sa.BigInteger(), nullable=False),
            sa.Column("last_hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("height"),
        ),
        sa.Table(
            "commands",
            meta,
            sa.Column("seq", _key(rowid), autoincrement=False, nullable=False),
            sa.Column("block", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("receipt", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("seq"),
        ),
        sa.Table(
            "transactions",
            meta,
            sa.Column("seq", _key(rowid), autoincrement=False, nullable=False),
            sa.Column("command_seq", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("market", sa.String(length=64), nullable=True),
            sa.Column("sim_time", sa.BigInteger(), nullable=False),
            sa.Column("data", sa.Text(), nullable=False),
            sa.Column("prev_hash", sa.String(length=64), nullable=False),
            sa.Column("hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("seq"),
            sa.Index("ix_transactions_kind_seq", "kind", "seq"),
            sa.Index("ix_transactions_market_seq", "market", "seq"),
        ),
    ]


def _postings(meta: sa.MetaData, packed: bool) -> sa.Table:
    if packed:
        return sa.Table(
            "postings",
            meta,
            sa.Column("txn_seq", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("account", sa.String(length=80), nullable=False),
            sa.Column("amount", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("txn_seq", "account"),
            sa.Index(POSTINGS_INDEX, "account", "txn_seq"),
            sqlite_with_rowid=False,
        )
    return sa.Table(
        "postings",
        meta,
        sa.Column("txn_seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("txn_seq", "idx"),
        sa.Index(POSTINGS_INDEX, "account", "txn_seq"),
    )


def _set_aside(name: str) -> str:
    """Rename ``name`` to ``<name>_old`` after dropping its indexes (their names are reused by
    the new table); on PostgreSQL the primary key's name moves along too."""
    old = f"{name}_old"
    bind = op.get_bind()
    for index in sa.inspect(bind).get_indexes(name):
        if index["name"] and not index.get("duplicates_constraint"):
            op.drop_index(index["name"], table_name=name)
    op.rename_table(name, old)
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {name}_pkey TO {old}_pkey")
    return old


def _create(table: sa.Table) -> None:
    """Create ``table`` (columns, key, options) and then its indexes."""
    table.create(op.get_bind())


def _rebuild_keyed(rowid: bool) -> None:
    """SQLite: copy ``blocks``, ``commands`` and ``transactions`` into tables whose key has the
    other declared type (``INSERT ... SELECT`` keeps every row and value)."""
    for table in _keyed_tables(sa.MetaData(), rowid):
        old = _set_aside(table.name)
        _create(table)
        columns = ", ".join(c.name for c in table.columns)
        op.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {old}")
        op.drop_table(old)


def _pack_postings() -> None:
    old = _set_aside("postings")
    _create(_postings(sa.MetaData(), packed=True))
    op.execute(
        "INSERT INTO postings (txn_seq, account, amount) "
        f"SELECT txn_seq, account, SUM(amount) FROM {old} GROUP BY txn_seq, account"
    )
    op.drop_table(old)


def _unpack_postings() -> None:
    """Rebuild one row per posting from each transaction's canonical text, in engine order."""
    old = _set_aside("postings")
    table = _postings(sa.MetaData(), packed=False)
    _create(table)
    bind = op.get_bind()
    after = 0
    while True:
        page = bind.execute(
            sa.text("SELECT seq, data FROM transactions WHERE seq > :after ORDER BY seq LIMIT :n"),
            {"after": after, "n": COPY_PAGE},
        ).all()
        if not page:
            break
        rows = [
            {"txn_seq": seq, "idx": idx, "account": account, "amount": amount}
            for seq, text in page
            for idx, (account, amount) in enumerate(json.loads(text)["postings"])
        ]
        if rows:
            bind.execute(table.insert(), rows)
        after = page[-1][0]
    op.drop_table(old)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_keyed(rowid=True)
    _pack_postings()


def downgrade() -> None:
    _unpack_postings()
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_keyed(rowid=False)
