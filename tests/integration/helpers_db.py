"""Small database helpers shared by the integration tests (reading, not writing, the ledger)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import DBAPIError

from prophex.ledger import schema
from prophex.ledger.store import Store, make_db_engine

PROPHEX = str(Path(sys.executable).parent / "prophex")
PROJECT_TABLES = {t.name for t in schema.metadata.sorted_tables}


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def stored_digest(url: str) -> str:
    """Digest of the state as loaded from the state tables (no writer lock taken)."""
    from prophex.engine.state import digest

    engine = make_db_engine(url)
    try:
        return digest(Store(engine).load_state())
    finally:
        engine.dispose()


def count_rows(url: str, table: Any) -> int:
    engine = make_db_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def block_height(engine: Engine) -> int:
    """Highest committed block, 0 when the schema or genesis is not there yet."""
    try:
        with engine.connect() as conn:
            value = conn.execute(select(func.max(schema.blocks.c.height))).scalar()
    except DBAPIError:  # table not created yet: the writer is still migrating
        return 0
    return 0 if value is None else int(value)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``prophex ARGS`` and capture its output (a wide console, so rich does not wrap)."""
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1"}
    return subprocess.run(
        [PROPHEX, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def flat(text: str) -> str:
    """Whitespace collapsed, for asserting on messages a console may have wrapped."""
    return " ".join(text.split())
