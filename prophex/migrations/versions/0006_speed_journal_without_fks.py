"""speed: no per-row foreign-key checks on the append-only journal

The journal (``commands``, ``transactions``, ``postings``) is append-only and hash-chained; its
integrity is the chain and the audit, which re-derives every transaction byte for byte. The
foreign keys ``commands.block -> blocks``, ``transactions.command_seq -> commands`` and
``postings.txn_seq -> transactions`` only re-checked, row by row, what the single writer builds
in one SQL transaction; on PostgreSQL the postings ``COPY``'s FK trigger was the largest part of
the server's time (docs/performance.md, docs/decisions.md "Speed").

PostgreSQL drops the three constraints; SQLite, which cannot drop a constraint, rebuilds the
three tables (same columns, keys and indexes) children first.

Revision ID: 0006_speed
Revises: 0005_api
Create Date: 2026-11-30 02:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_speed"
down_revision: str | None = "0005_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referenced table.column, PostgreSQL's default constraint name), children first
FOREIGN_KEYS = (
    ("postings", "txn_seq", "transactions.seq", "postings_txn_seq_fkey"),
    ("transactions", "command_seq", "commands.seq", "transactions_command_seq_fkey"),
    ("commands", "block", "blocks.height", "commands_block_fkey"),
)


def _journal_table(name: str, with_fk: bool) -> sa.Table:
    """The table as 0001 created it, with or without its foreign key (for SQLite rebuilds)."""
    meta = sa.MetaData()
    fk: list[sa.ForeignKeyConstraint] = []
    if name == "commands":
        if with_fk:
            sa.Table("blocks", meta, sa.Column("height", sa.BigInteger(), primary_key=True))
            fk = [sa.ForeignKeyConstraint(["block"], ["blocks.height"])]
        return sa.Table(
            "commands",
            meta,
            sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("block", sa.BigInteger(), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("receipt", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("seq"),
            *fk,
        )
    if name == "transactions":
        if with_fk:
            sa.Table("commands", meta, sa.Column("seq", sa.BigInteger(), primary_key=True))
            fk = [sa.ForeignKeyConstraint(["command_seq"], ["commands.seq"])]
        return sa.Table(
            "transactions",
            meta,
            sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
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
            *fk,
        )
    if with_fk:
        sa.Table("transactions", meta, sa.Column("seq", sa.BigInteger(), primary_key=True))
        fk = [sa.ForeignKeyConstraint(["txn_seq"], ["transactions.seq"])]
    return sa.Table(
        "postings",
        meta,
        sa.Column("txn_seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("txn_seq", "idx"),
        sa.Index("ix_postings_account_txn", "account", "txn_seq"),
        *fk,
    )


def _rebuild_sqlite(name: str, with_fk: bool) -> None:
    with op.batch_alter_table(
        name, recreate="always", copy_from=_journal_table(name, with_fk)
    ) as batch_op:
        if with_fk:
            _table, column, target, fk_name = next(f for f in FOREIGN_KEYS if f[0] == name)
            batch_op.create_foreign_key(
                fk_name, target.split(".")[0], [column], [target.split(".")[1]]
            )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, _column, _target, _name in FOREIGN_KEYS:
            _rebuild_sqlite(table, with_fk=False)
        return
    for table, _column, _target, name in FOREIGN_KEYS:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, _column, _target, _name in reversed(FOREIGN_KEYS):
            _rebuild_sqlite(table, with_fk=True)
        return
    for table, column, target, name in reversed(FOREIGN_KEYS):
        referred, referred_column = target.split(".")
        op.create_foreign_key(name, table, referred, [column], [referred_column])
