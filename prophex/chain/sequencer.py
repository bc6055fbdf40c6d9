"""The sequencer: the single writer. Command -> engine -> receipt, grouped into blocks.

One block is one SQL transaction holding every command accepted in it, their transactions,
postings and the resulting state rows: a crash leaves the whole block or none of it. If a
write fails, the in-memory engine is ahead of the database, so it is thrown away and reloaded
from the database (crash-only recovery through the normal start-up path).

The API, the CLI and the scenario replayer all write through here; nothing else mutates state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from prophex.chain.lock import WriterLock
from prophex.engine.commands import Command, Genesis
from prophex.engine.events import Receipt
from prophex.engine.exchange import Exchange
from prophex.engine.state import State
from prophex.errors import ProphexError
from prophex.ledger import migrate
from prophex.ledger.store import BlockEntry, Store, clear_dirty, database_url, make_db_engine
from prophex.params import Params, profile

Outcome = Receipt | ProphexError
DEFAULT_BLOCK_SIZE = 1_000


class Sequencer:
    """Owns the engine and (unless in memory) the database's write lock."""

    def __init__(
        self,
        exchange: Exchange,
        store: Store | None,
        lock: WriterLock | None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        self.exchange = exchange
        self.store = store
        self._lock = lock
        self.block_size = block_size
        self._mutex = threading.RLock()
        self.blocks_written = 0

    # ------------------------------------------------------------------ construction

    @classmethod
    def in_memory(cls, params: Params | None = None) -> Sequencer:
        """No database: for fast what-if runs and the engine benchmark."""
        return cls(Exchange.create(params), store=None, lock=None)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        params: Params | None = None,
        *,
        engine: Engine | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> Sequencer:
        """Open a database for writing: take the lock, migrate, then load state or run genesis.

        ``params`` only matter for a fresh database; an existing one keeps its own.
        """
        resolved = database_url(url)
        db = engine if engine is not None else make_db_engine(resolved)
        lock = WriterLock(db, resolved)
        lock.acquire()
        try:
            migrate.upgrade(db)
            store = Store(db)
            if store.is_empty():
                sequencer = cls(Exchange(), store, lock, block_size)
                sequencer._genesis(params)
            else:
                sequencer = cls(Exchange(store.load_state()), store, lock, block_size)
        except BaseException:
            lock.release()
            raise
        return sequencer

    def _genesis(self, params: Params | None) -> None:
        """Journal the genesis command (parameters and the insurance-fund seed) as block 1."""
        chosen = params if params is not None else profile("launch")
        command = Genesis(params=chosen.model_dump(mode="json"))
        receipt = self.exchange.apply(command)
        assert self.store is not None
        self.store.write_block([BlockEntry(command, receipt, self.state.time)], self.state)

    @property
    def state(self) -> State:
        return self.exchange.state

    @contextmanager
    def reading(self) -> Iterator[Exchange]:
        """The engine, held still: no block is applied while the caller reads, so a view never
        mixes two blocks (and only committed blocks are ever visible, since ``execute`` holds
        the same lock until its block is written)."""
        with self._mutex:
            yield self.exchange

    # ------------------------------------------------------------------ writing

    def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Run commands in order, committing accepted ones in blocks of ``block_size``.

        Each result is the receipt or the typed error of that command. Nothing is acknowledged
        before its block is committed.
        """
        results: list[Outcome] = []
        with self._mutex:
            for start in range(0, len(commands), self.block_size):
                results.extend(self._block(commands[start : start + self.block_size]))
        return results

    def submit(self, command: Command) -> Receipt:
        """Run one command in its own block; raise its typed error if rejected."""
        (result,) = self.execute([command])
        if isinstance(result, ProphexError):
            raise result
        return result

    def _block(self, commands: Iterable[Command]) -> list[Outcome]:
        results: list[Outcome] = []
        entries: list[BlockEntry] = []
        for command in commands:
            try:
                receipt = self.exchange.apply(command)
            except ProphexError as error:
                results.append(error)
                continue
            results.append(receipt)
            if not receipt.duplicate:
                entries.append(BlockEntry(command, receipt, self.exchange.state.time))
        if self.store is None:
            clear_dirty(self.state)
        elif entries:
            try:
                self.store.write_block(entries, self.state)
            except BaseException:
                self.reload()
                raise
            self.blocks_written += 1
        return results

    def reload(self) -> None:
        """Throw away in-memory state and rebuild it from the database."""
        if self.store is not None:
            self.exchange = Exchange(self.store.load_state())

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self.store is not None:
            self.store.engine.dispose()

    def __enter__(self) -> Sequencer:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()
