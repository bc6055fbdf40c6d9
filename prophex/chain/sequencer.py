"""The sequencer: the single writer. Command -> engine -> receipt, grouped into blocks.

One block is one SQL transaction holding every command accepted in it, their transactions,
postings and the resulting state rows: a crash leaves the whole block or none of it.

Fail-stop (docs/architecture.md, "Fail-stop writer"): if a block cannot be committed, the
in-memory engine may be ahead of the database, so the sequencer stops: every command and every
read is refused (``WRITE_UNAVAILABLE``) until :meth:`Sequencer.recover` has reloaded a state
that provably equals the stored one. A data error refuses only the offending command; a
newer writer epoch (``WRITER_FENCED``) or a broken invariant stops it for good.

The API, the CLI and the scenario replayer all write through here; nothing else mutates state.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from prophex.chain.invariants import OpenInterestLedger, check_block, is_data_error
from prophex.chain.lock import WriterLock
from prophex.chain.recovery import Recovery, load_verified
from prophex.engine.commands import Command, Genesis
from prophex.engine.events import Receipt
from prophex.engine.exchange import Exchange
from prophex.engine.state import State, digest
from prophex.errors import (
    DatabaseUnavailable,
    InvariantViolation,
    ProphexError,
    StorageRejected,
    WriterFenced,
    WriteUnavailable,
)
from prophex.ledger import migrate
from prophex.ledger.store import (
    BlockEntry,
    Store,
    database_url,
    make_db_engine,
)
from prophex.params import Params, profile

Outcome = Receipt | ProphexError
log = logging.getLogger("prophex.sequencer")
DEFAULT_BLOCK_SIZE = 1_000
RECOVERY_BACKOFF = 0.5
"""Seconds between automatic recovery attempts of a stopped sequencer (explicit
:meth:`Sequencer.recover` calls are never delayed)."""


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
        self._failure: ProphexError | None = None
        self._head: tuple[int, str] | None = None
        self._last_recovery = float("-inf")
        self._oi_ledger = OpenInterestLedger()

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
        snapshot_every: int | None = None,
    ) -> Sequencer:
        """Open a database for writing: take the lock, migrate, then load state (the last
        snapshot plus the verified journal after it) or run genesis.

        ``params`` only matter for a fresh database; an existing one keeps its own.
        ``snapshot_every``: blocks between two rewrites of the state tables (1: every block;
        default: the backend's measured cadence, ``store.default_snapshot_every``).
        """
        resolved = database_url(url)
        db = engine if engine is not None else make_db_engine(resolved)
        lock = WriterLock(db, resolved)
        try:
            lock.acquire()
        except (OSError, SQLAlchemyError) as exc:
            raise _unavailable(db, exc) from None
        try:
            migrate.upgrade(db)
            store = Store(db, snapshot_every)
            store.claim_writer(f"{socket.gethostname()}:{os.getpid()}")
            if store.is_empty():
                sequencer = cls(Exchange(), store, lock, block_size)
                sequencer._genesis(params)
            else:
                sequencer = cls(Exchange(store.load_state()), store, lock, block_size)
        except SQLAlchemyError as exc:
            lock.release()
            raise _unavailable(db, exc) from None
        except BaseException:
            lock.release()
            raise
        return sequencer

    def _genesis(self, params: Params | None) -> None:
        """Journal the genesis command (parameters and the insurance-fund seed) as block 1."""
        chosen = params if params is not None else profile("launch")
        command = Genesis(params=chosen.model_dump(mode="json"))
        receipt = self.exchange.apply(command)
        if self.store is None:
            raise InvariantViolation("genesis needs a store")
        entry = BlockEntry(command, receipt, self.state.time)
        self.store.write_block([entry], self.state, snapshot=True)  # meta says: not empty

    @property
    def state(self) -> State:
        return self.exchange.state

    @contextmanager
    def reading(self) -> Iterator[Exchange]:
        """The engine, held still: no block is applied while the caller reads, so a view never
        mixes two blocks (and only committed blocks are ever visible, since ``execute`` holds
        the same lock until its block is written)."""
        with self._mutex:
            if self._failure is not None and not self._auto_recover():
                raise self._failure
            yield self.exchange

    # ------------------------------------------------------------------ writing

    @property
    def failure(self) -> ProphexError | None:
        """Why the sequencer refuses commands (None: it is writing normally)."""
        return self._failure

    def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Run commands in order, committing accepted ones in blocks of ``block_size``.

        Each result is the receipt or the typed error of that command. Nothing is acknowledged
        before its block is committed. If a block cannot be committed, every command of it is
        answered ``WRITE_UNAVAILABLE`` (or ``WRITER_FENCED``) and so is every later command,
        until :meth:`recover` has reloaded a state that provably equals the stored one.
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

    def _block(self, commands: Sequence[Command]) -> list[Outcome]:
        if self._failure is not None and not self._auto_recover():
            return [self._failure] * len(commands)
        results, entries = self._apply_all(commands)
        if self._failure is not None:  # a command hit an engine invariant: a bug
            return [self._failure] * len(commands)
        if self.store is None:
            self.state.clear_dirty()
            return results
        if not entries:
            return results
        verdict = self._commit(entries)
        if verdict == "ok":
            return results
        if verdict == "data":
            return self._isolate(commands)
        return [self._refusal()] * len(commands)

    def _apply_all(self, commands: Iterable[Command]) -> tuple[list[Outcome], list[BlockEntry]]:
        results: list[Outcome] = []
        entries: list[BlockEntry] = []
        for command in commands:
            try:
                receipt = self.exchange.apply(command)
            except InvariantViolation as bug:  # the caller answers the whole block with it
                self._stop(bug)
                return [], []
            except ProphexError as error:
                results.append(error)
                continue
            results.append(receipt)
            if not receipt.duplicate:
                entries.append(BlockEntry(command, receipt, self.exchange.state.time))
        return results, entries

    def _commit(self, entries: Sequence[BlockEntry]) -> str:
        """Check and write one block. Returns ``"ok"``, ``"data"`` (the database refused a value:
        state reloaded, retry without the offender) or ``"failed"`` (sequencer stopped, or
        recovered with the block not written)."""
        store = self.store
        if store is None:  # only called with a store
            raise InvariantViolation("commit without a store")
        try:
            check_block(self.state, entries, self._oi_ledger)
            if self._lock is not None:
                self._lock.ensure()
            store.write_block(entries, self.state)
        except InvariantViolation as bug:
            self._stop(bug)
            return "failed"
        except WriterFenced as fenced:
            self._stop(fenced)
            return "failed"
        except Exception as exc:
            if is_data_error(exc):
                log.warning("block refused by the database (%s); isolating the offender", exc)
                self._stop(WriteUnavailable(f"block refused by the database: {_line(exc)}"))
                return "data" if self._try_recover() else "failed"
            log.exception("block commit failed")
            self._stop(WriteUnavailable(f"the block could not be committed: {_line(exc)}"))
            attempted = store.attempted
            if self._try_recover() and attempted is not None and self._head == attempted:
                # The COMMIT reached the database although the driver reported an error: the
                # reloaded state includes this block, so its receipts are durable.
                self.blocks_written += 1
                return "ok"
            return "failed"
        self.blocks_written += 1
        return "ok"

    def _isolate(self, commands: Sequence[Command]) -> list[Outcome]:
        """After a data error: re-run the block one command per block, so only the command the
        database cannot store is refused (``STORAGE_REJECTED``); the state was reloaded."""
        results: list[Outcome] = []
        for command in commands:
            if self._failure is not None:
                results.append(self._failure)
                continue
            outcome, entries = self._apply_all([command])
            if self._failure is not None:
                results.append(self._failure)
                continue
            if not entries:
                results.extend(outcome)
                continue
            verdict = self._commit(entries)
            if verdict == "ok":
                results.extend(outcome)
            elif verdict == "data":
                results.append(
                    StorageRejected(
                        "the database refused to store this command's result; nothing of it "
                        "was written",
                        command_seq=entries[0].receipt.command_seq,
                    )
                )
            else:
                results.append(self._refusal())
        return results

    # ------------------------------------------------------------------ fail-stop and recovery

    def _stop(self, error: ProphexError) -> None:
        """Refuse every command (and every read) from now on, until recovery."""
        if not isinstance(self._failure, (WriterFenced, InvariantViolation)):
            self._failure = error
        log.error("sequencer stopped writing: [%s] %s", error.code, error.message)

    def _refusal(self) -> ProphexError:
        if self._failure is None:
            return WriteUnavailable("the block could not be committed; nothing was written")
        return self._failure

    def _auto_recover(self) -> bool:
        """A failed commit is retried by reloading (at most once per ``RECOVERY_BACKOFF``
        seconds, so a database that hangs cannot stall every request); a fence or a bug needs an
        operator."""
        if isinstance(self._failure, (WriterFenced, InvariantViolation)):
            return False
        if time.monotonic() - self._last_recovery < RECOVERY_BACKOFF:
            return False
        return self._try_recover()

    def _try_recover(self) -> bool:
        self._last_recovery = time.monotonic()
        try:
            self.recover()
        except ProphexError:
            return False
        return True

    def recover(self) -> Recovery | None:
        """Reload the state from the database and prove it is the stored one; on success the
        sequencer writes again. Raises (and stays stopped) if the database is unreachable,
        the head does not match, or another writer holds the fence.

        Proof (:func:`prophex.chain.recovery.load_verified`): within one transaction the last
        snapshot is read and the journal after it replayed, every transaction equal to the
        stored one and the replay ending at the journal's head (block height, last transaction
        hash, command sequence); a second, independent load must give the same digest; the
        invariants must hold.
        """
        with self._mutex:
            if isinstance(self._failure, WriterFenced):
                raise self._failure
            store = self.store
            if store is None:
                self._failure = None
                return None  # in memory: nothing stored to reload
            store.forget_head()
            try:
                if self._lock is not None:
                    self._lock.ensure()
                state, head = load_verified(store)
            except WriterFenced as fenced:
                self._stop(fenced)
                raise
            except ProphexError:
                raise
            except Exception as exc:
                log.warning("recovery failed: %s", _line(exc))
                raise WriteUnavailable(
                    f"recovery failed, the sequencer stays stopped: {_line(exc)}"
                ) from None
            self.exchange = Exchange(state)
            self._head = head[:2]
            self._failure = None
            log.warning("sequencer recovered at block %d, command %d", head[0], head[2])
            return Recovery(
                block_height=head[0], last_hash=head[1], command_seq=head[2], digest=digest(state)
            )

    def snapshot(self) -> bool:
        """Bring the state tables up to the head now (they are otherwise rewritten every
        ``snapshot_every`` blocks and at a clean close). Returns whether anything was written;
        a stopped sequencer refuses (its engine may be ahead of the database)."""
        with self._mutex:
            if self._failure is not None:
                raise self._failure
            if self.store is None:
                return False
            if self._lock is not None:
                self._lock.ensure()
            return self.store.write_snapshot(self.state)

    def close(self) -> None:
        """Release the database. A sequencer that is writing normally first snapshots the state
        at its head, so the state tables are current after a clean close; if that fails
        nothing is lost (the journal is complete; the next load replays its tail)."""
        with self._mutex:
            if self._failure is None and self.store is not None and self._lock is not None:
                try:
                    self.store.write_snapshot(self.state)
                except Exception as exc:
                    log.warning("no snapshot at close (%s); the next load replays", _line(exc))
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            if self.store is not None:
                self.store.engine.dispose()

    def __enter__(self) -> Sequencer:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def _unavailable(engine: Engine, exc: BaseException) -> DatabaseUnavailable:
    shown = engine.url.render_as_string(hide_password=True)
    return DatabaseUnavailable(f"cannot open {shown} for writing: {_line(exc)}", url=shown)


def _line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
