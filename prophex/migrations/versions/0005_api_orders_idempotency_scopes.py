"""api: order index, account events, idempotency keys, key scopes

Revision ID: 0005_api
Revises: 0004_portfolio
Create Date: 2026-11-30 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_api"
down_revision: str | None = "0004_portfolio"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_orders",
        sa.Column("command_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("txn_seq", sa.BigInteger(), nullable=False),
        sa.Column("sim_time", sa.BigInteger(), nullable=False),
        sa.Column("wall_time_us", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("command_seq"),
    )
    with op.batch_alter_table("api_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_orders_account_seq", ["account", "command_seq"], unique=False
        )
        batch_op.create_index(
            "ix_api_orders_account_client", ["account", "client_order_id"], unique=False
        )
    op.create_table(
        "api_account_events",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("txn_seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "seq"),
    )
    with op.batch_alter_table("api_account_events", schema=None) as batch_op:
        batch_op.create_index("ix_api_account_events_txn", ["txn_seq"], unique=False)
    op.create_table(
        "api_idempotency",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("idem_key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "idem_key"),
    )
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.create_index("ix_api_idempotency_created", ["created_at"], unique=False)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scopes")
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.drop_index("ix_api_idempotency_created")
    op.drop_table("api_idempotency")
    with op.batch_alter_table("api_account_events", schema=None) as batch_op:
        batch_op.drop_index("ix_api_account_events_txn")
    op.drop_table("api_account_events")
    with op.batch_alter_table("api_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_api_orders_account_client")
        batch_op.drop_index("ix_api_orders_account_seq")
    op.drop_table("api_orders")
