"""portfolio-mode accounts (issue 9): margin_accounts

Accounts in portfolio mode and their last requirement. The lock is the balance of the ledger
account ``pm_margin:<account>`` (the balances table already holds every account kind).

Revision ID: 0004_portfolio
Revises: 0003_writer_fence
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_portfolio"
down_revision: str | None = "0003_writer_fence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "margin_accounts",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("requirement", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )


def downgrade() -> None:
    op.drop_table("margin_accounts")
