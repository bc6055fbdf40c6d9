"""Alembic environment: the URL comes from the caller (``prophex db upgrade``) or the env."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from prophex.ledger.schema import metadata
from prophex.ledger.store import database_url, make_db_engine

config = context.config
target_metadata = metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = make_db_engine(config.get_main_option("sqlalchemy.url") or database_url())
    with engine.connect() as conn:
        run_with(conn)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
