"""One writer per database: a PostgreSQL advisory lock, or an exclusive lock file for SQLite.

A second sequencer on the same database must fail at once with a clear message rather than
interleave blocks. The lock lives as long as the sequencer (a held connection or an open file
descriptor), and the operating system releases it if the process dies, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from prophex.errors import SequencerLocked, WriterFenced
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

    def ensure(self) -> None:
        """Before each block (PostgreSQL): prove the session holding the advisory lock is alive
        (``SELECT 1`` on it).

        A terminated backend drops the lock with it. If the lock is free again, take it back on
        a new connection; if another sequencer holds it, this one was superseded:
        :class:`WriterFenced`. (The epoch fence inside every block transaction is what makes a
        superseded writer unable to commit; this check makes it notice before trying, and lets
        a second writer started after a connection loss be refused instead.)
        """
        if self._conn is None:
            return
        try:
            # A session lock is only ever released by its own session, so a live session
            # still holds it: one round trip proves it.
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return
        except Exception:  # the lock's connection is gone: so is the lock
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
        self._conn = None
        try:
            self._acquire_postgres()
        except SequencerLocked as taken:
            raise WriterFenced(
                "this sequencer lost its PostgreSQL advisory lock (its connection was closed) "
                "and another sequencer now holds it; this one will not write again",
                database=taken.details.get("database"),
            ) from None

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
            with contextlib.suppress(Exception):  # a dead connection has no lock to release
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
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
