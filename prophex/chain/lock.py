"""One writer per database: a PostgreSQL advisory lock, or an exclusive lock file for SQLite.

A second sequencer on the same database must fail at once with a clear message rather than
interleave blocks. The lock lives as long as the sequencer (a held connection or an open file
descriptor), and the operating system releases it if the process dies, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from prophex.errors import SequencerLocked
from prophex.ledger.store import sqlite_path

ADVISORY_LOCK_KEY = 0x50524F50  # "PROP"


class WriterLock:
    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self._url = url
        self._conn: Connection | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._engine.dialect.name == "postgresql":
            self._acquire_postgres()
            return
        path = sqlite_path(self._url)
        if path is not None:
            self._acquire_file(path.with_name(path.name + ".lock"))

    def _acquire_postgres(self) -> None:
        conn = self._engine.connect()
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
        ).scalar()
        conn.commit()
        if not got:
            conn.close()
            raise SequencerLocked(
                "another sequencer is already writing to this PostgreSQL database "
                "(advisory lock held); stop it first or point at another database",
                database=self._engine.url.render_as_string(hide_password=True),
            )
        self._conn = conn

    def _acquire_file(self, lock_path: Path) -> None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SequencerLocked(
                f"another sequencer is already writing to {lock_path.with_suffix('')} "
                f"(lock file {lock_path} is held); stop it first or use another database",
                database=str(lock_path.with_suffix("")),
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.release()
