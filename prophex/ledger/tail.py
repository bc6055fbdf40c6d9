"""The journal read back beside a replay: the load's verified tail and the audit's full replay.

The state tables are a snapshot of the state after block ``meta.block_height`` (written every
``snapshot_every`` blocks, docs/architecture.md "Snapshots"); the journal after it is the tail.
:func:`replay_tail` re-executes the tail's commands on the snapshot and checks every transaction
it produces against the stored, hash-chained one (same canonical text, so the same hash, linked
from the snapshot's hash), then that the replay ends exactly at the journal's head. Any
difference raises :class:`~prophex.errors.JournalMismatch`: a load never returns a state the
journal does not prove. :class:`JournalReader` is shared with the audit
(:mod:`prophex.audit.replay`), which replays from genesis and reports instead of raising.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, select

from prophex.engine.commands import from_dict
from prophex.engine.events import Receipt, Transaction
from prophex.engine.exchange import Exchange
from prophex.engine.state import State
from prophex.errors import JournalMismatch, ProphexError
from prophex.ledger import schema
from prophex.ledger.codecs import GENESIS_HASH, canonical_txn, pack_postings, txn_hash


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where the state tables stand: the block whose state they hold, that block's last
    transaction hash, and the command and transaction counters of that state."""

    height: int
    last_hash: str
    command_seq: int
    txn_seq: int


@dataclass(frozen=True, slots=True)
class Head:
    """The journal's own head: its last block, that block's last hash and last command."""

    height: int
    last_hash: str
    command_seq: int


def journal_head(conn: Connection) -> Head:
    """The head as the journal says: the last ``blocks`` row (one indexed read)."""
    blocks = schema.blocks
    row = conn.execute(
        select(blocks.c.height, blocks.c.last_hash, blocks.c.last_command)
        .order_by(blocks.c.height.desc())
        .limit(1)
    ).first()
    if row is None:
        return Head(0, GENESIS_HASH, 0)
    return Head(int(row.height), str(row.last_hash), int(row.last_command))


class JournalReader:
    """The stored transactions (and, if asked, packed postings) after transaction ``after``,
    read in sequence order beside a replay. Each difference is passed to ``problem``; the
    audit collects them, the load raises at the first."""

    def __init__(
        self,
        conn: Connection,
        problem: Callable[[str], None],
        *,
        after: int = 0,
        prev: str = GENESIS_HASH,
        postings: bool = True,
    ) -> None:
        txns = schema.transactions
        columns = (txns.c.seq, txns.c.data, txns.c.prev_hash, txns.c.hash)
        query = select(*columns).where(txns.c.seq > after).order_by(txns.c.seq)
        self.txns = iter(conn.execute(query).yield_per(10_000))
        self.groups: Iterator[tuple[int, Any]] = iter(())
        if postings:
            table = schema.postings
            rows = conn.execute(
                select(table.c.txn_seq, table.c.account, table.c.amount)
                .where(table.c.txn_seq > after)
                .order_by(table.c.txn_seq, table.c.account)
            ).yield_per(10_000)
            self.groups = groupby(rows, key=lambda r: int(r[0]))
        self.check_postings = postings
        self.pending: tuple[int, dict[str, int]] | None = self._next_group()
        self.problem = problem
        self.prev = prev
        self.expected_seq = after + 1
        self.count = 0

    def _next_group(self) -> tuple[int, dict[str, int]] | None:
        group = next(self.groups, None)
        if group is None:
            return None
        return group[0], {str(r[1]): int(r[2]) for r in group[1]}

    def postings_of(self, seq: int) -> dict[str, int]:
        """The stored packed postings of transaction ``seq`` (rows of skipped, unknown
        transactions before it are reported)."""
        while self.pending is not None and self.pending[0] < seq:
            self.problem(f"postings stored for transaction {self.pending[0]} that replay lacks")
            self.pending = self._next_group()
        if self.pending is None or self.pending[0] != seq:
            return {}
        found = self.pending[1]
        self.pending = self._next_group()
        return found

    def compare(self, txn: Transaction, command_seq: int, sim_time: int) -> bool:
        """Compare one replayed transaction with the next stored one; False: nothing stored
        is left to compare it with."""
        problem = self.problem
        row = next(self.txns, None)
        if row is None:
            problem(f"replay produced transaction {txn.seq} that is not stored")
            return False
        self.count += 1
        if row.seq != self.expected_seq:
            problem(f"transaction sequence gap at {row.seq} (expected {self.expected_seq})")
        self.expected_seq = row.seq + 1
        text = canonical_txn(txn, command_seq, sim_time)
        recomputed = txn_hash(self.prev, text)
        if row.prev_hash != self.prev:
            problem(f"hash chain broken at transaction {row.seq}")
        if txn_hash(row.prev_hash, row.data) != row.hash:
            problem(f"transaction {row.seq}: stored text does not match its hash")
        if row.data != text or row.hash != recomputed:
            problem(
                f"transaction {row.seq} differs from its replay (stored hash "
                f"{row.hash[:12]}, replay {recomputed[:12]})"
            )
        if self.check_postings and self.postings_of(txn.seq) != pack_postings(txn.postings):
            problem(f"stored postings of transaction {txn.seq} differ from its replay")
        self.prev = row.hash
        return True

    def finish(self) -> None:
        if next(self.txns, None) is not None:
            self.problem("stored journal has transactions the replay did not produce")
        if self.pending is not None:
            self.problem(f"postings stored for transaction {self.pending[0]} that replay lacks")


def iter_commands(conn: Connection, after: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """The stored commands after sequence ``after``, in order, as (seq, payload)."""
    table = schema.commands
    query = select(table.c.seq, table.c.payload).where(table.c.seq > after).order_by(table.c.seq)
    for seq, payload in conn.execute(query).yield_per(10_000):
        yield int(seq), json.loads(payload)


def replay_command(exchange: Exchange, seq: int, payload: dict[str, Any]) -> Receipt | str:
    """Re-execute one stored command: its receipt, or why the replay cannot accept it."""
    try:
        receipt = exchange.apply(from_dict(payload))
    except ProphexError as error:
        return f"command {seq} was journalled but is rejected on replay: {error}"
    if receipt.command_seq != seq:
        return f"command sequence gap: stored {seq}, replay numbered it {receipt.command_seq}"
    return receipt


def _raise(message: str) -> None:
    raise JournalMismatch(f"the journal after the snapshot does not replay: {message}")


def check_snapshot(conn: Connection, snap: Snapshot) -> None:
    """The snapshot's block must be in the journal with the snapshot's hash and last command."""
    blocks = schema.blocks
    row = conn.execute(
        select(blocks.c.last_hash, blocks.c.last_command).where(blocks.c.height == snap.height)
    ).first()
    if row is None or (str(row.last_hash), int(row.last_command)) != (
        snap.last_hash,
        snap.command_seq,
    ):
        found = None if row is None else (str(row.last_hash), int(row.last_command))
        raise JournalMismatch(
            f"the state tables claim block {snap.height} (hash {snap.last_hash[:12]}, command "
            f"{snap.command_seq}) but the journal has {found}",
            snapshot_height=snap.height,
        )


def replay_tail(conn: Connection, state: State, snap: Snapshot) -> Head:
    """Bring ``state`` (the snapshot) to the journal's head by replaying the commands stored
    after it, verifying each transaction against the stored chain. Returns the head reached.

    The replayed commands mark their rows dirty: afterwards ``state``'s dirty sets hold
    exactly the rows that differ from the state tables (the next snapshot writes them)."""
    head = journal_head(conn)
    check_snapshot(conn, snap)
    if head.height == snap.height:
        return head
    exchange = Exchange(state)
    reader = JournalReader(conn, _raise, after=snap.txn_seq, prev=snap.last_hash, postings=False)
    for seq, payload in iter_commands(conn, snap.command_seq):
        receipt = replay_command(exchange, seq, payload)
        if isinstance(receipt, str):
            _raise(receipt)
            raise AssertionError  # pragma: no cover - _raise always raises
        time = exchange.state.time
        for txn in receipt.transactions:
            reader.compare(txn, seq, time)
    reader.finish()
    reached = (exchange.state.command_seq, reader.prev)
    if reached != (head.command_seq, head.last_hash):
        _raise(
            f"replay ends at command {reached[0]} with hash {reached[1][:12]}, the journal's "
            f"head is command {head.command_seq} with hash {head.last_hash[:12]}"
        )
    return head
