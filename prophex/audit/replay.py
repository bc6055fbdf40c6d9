"""``prophex audit``: replay the journal from genesis and prove the stored state is what it says.

The audit trusts nothing it did not recompute:

1. every stored transaction's hash is recomputed and the chain linked from genesis;
2. every transaction's postings sum to zero (in SQL, over the stored postings);
3. each account's stored balance equals the sum of its postings;
4. the stored commands are re-executed on a fresh engine, and every transaction it produces must
   equal the stored one byte for byte (same canonical text, so the same hash), and its postings
   packed per account must equal the stored (packed) postings rows of that transaction;
5. the replayed balances, markets and positions must equal the stored tables exactly, and the
   state digests must match;
6. the invariants of DESIGN.md must hold on the replayed state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from prophex.engine.commands import from_dict
from prophex.engine.events import Receipt, Transaction
from prophex.engine.exchange import Exchange
from prophex.engine.state import State, check_invariants, digest
from prophex.errors import ProphexError
from prophex.ledger import schema
from prophex.ledger.codecs import GENESIS_HASH, canonical_txn, pack_postings, txn_hash
from prophex.ledger.store import Store

MAX_REPORTED = 20


@dataclass(slots=True)
class AuditReport:
    commands: int = 0
    transactions: int = 0
    postings: int = 0
    accounts: int = 0
    stored_digest: str = ""
    replayed_digest: str = ""
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, problem: str) -> None:
        if len(self.violations) < MAX_REPORTED:
            self.violations.append(problem)
        elif len(self.violations) == MAX_REPORTED:
            self.violations.append("... more violations not shown")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "commands": self.commands,
            "transactions": self.transactions,
            "postings": self.postings,
            "accounts": self.accounts,
            "stored_digest": self.stored_digest,
            "replayed_digest": self.replayed_digest,
            "violations": self.violations,
        }


def audit_database(engine: Engine) -> AuditReport:
    """Run every check against one database.

    Everything is read in one transaction, so against a live database the audit sees one
    committed snapshot (SQLite WAL: a deferred read transaction; PostgreSQL: the read engine's
    REPEATABLE READ). Give it an engine from :func:`prophex.ledger.store.make_read_engine` (as
    ``prophex audit`` does) and it takes no write lock: a running sequencer is never stalled.
    """
    with engine.connect() as conn:
        return _audit(conn, Store(engine))


def _audit(conn: Connection, store: Store) -> AuditReport:
    report = AuditReport()
    if conn.execute(select(func.count()).select_from(schema.meta)).scalar_one() == 0:
        report.add("database has no genesis: nothing to audit")
        return report
    stored_state = store.load_state(conn)
    report.stored_digest = digest(stored_state)
    _check_sql_sums(conn, report)
    replayed = _replay_and_compare_journal(conn, store, report)
    if replayed is None:
        return report
    report.replayed_digest = digest(replayed)
    if report.replayed_digest != report.stored_digest:
        report.add("replayed state digest differs from the stored state digest")
        _explain_difference(stored_state, replayed, report)
    for problem in check_invariants(replayed):
        report.add(f"invariant: {problem}")
    for problem in check_invariants(stored_state):
        report.add(f"invariant (stored state): {problem}")
    return report


def _check_sql_sums(conn: Connection, report: AuditReport) -> None:
    postings = schema.postings
    unbalanced = conn.execute(
        select(postings.c.txn_seq, func.sum(postings.c.amount))
        .group_by(postings.c.txn_seq)
        .having(func.sum(postings.c.amount) != 0)
        .limit(MAX_REPORTED)
    ).all()
    for seq, total in unbalanced:
        report.add(f"transaction {seq} does not balance: postings sum to {total}")
    _check_balances(conn, report)


def _check_balances(conn: Connection, report: AuditReport) -> None:
    """Each stored balance equals the sum of its account's postings (packed rows sum the same)."""
    postings = schema.postings
    sums = dict(
        conn.execute(
            select(postings.c.account, func.sum(postings.c.amount)).group_by(postings.c.account)
        ).all()
    )
    stored = dict(conn.execute(select(schema.balances.c.account, schema.balances.c.balance)).all())
    report.postings = conn.execute(select(func.count()).select_from(postings)).scalar_one()
    report.accounts = len(stored)
    for account in sorted(set(sums) | set(stored)):
        if int(sums.get(account, 0)) != int(stored.get(account, 0)):
            report.add(
                f"balance of {account} is {stored.get(account, 0)} but its postings sum to "
                f"{sums.get(account, 0)}"
            )


class _StoredJournal:
    """The stored transactions and packed postings, read in sequence order beside the replay.

    Stops the comparison (``ok`` false) only where continuing would compare unrelated rows."""

    def __init__(self, conn: Connection, report: AuditReport) -> None:
        txns, postings = schema.transactions, schema.postings
        columns = (txns.c.seq, txns.c.data, txns.c.prev_hash, txns.c.hash)
        self.txns = iter(conn.execute(select(*columns).order_by(txns.c.seq)).yield_per(10_000))
        rows = conn.execute(
            select(postings.c.txn_seq, postings.c.account, postings.c.amount).order_by(
                postings.c.txn_seq, postings.c.account
            )
        ).yield_per(10_000)
        self.groups: Iterator[tuple[int, Any]] = groupby(rows, key=lambda r: int(r[0]))
        self.pending: tuple[int, dict[str, int]] | None = self._next_group()
        self.report = report
        self.prev = GENESIS_HASH
        self.expected_seq = 1

    def _next_group(self) -> tuple[int, dict[str, int]] | None:
        group = next(self.groups, None)
        if group is None:
            return None
        return group[0], {str(r[1]): int(r[2]) for r in group[1]}

    def postings_of(self, seq: int) -> dict[str, int]:
        """The stored packed postings of transaction ``seq`` (rows of skipped, unknown
        transactions before it are reported)."""
        while self.pending is not None and self.pending[0] < seq:
            self.report.add(f"postings stored for transaction {self.pending[0]} that replay lacks")
            self.pending = self._next_group()
        if self.pending is None or self.pending[0] != seq:
            return {}
        found = self.pending[1]
        self.pending = self._next_group()
        return found

    def compare(self, txn: Transaction, command_seq: int, sim_time: int) -> bool:
        """Compare one replayed transaction with the next stored one; False ends the audit."""
        report = self.report
        row = next(self.txns, None)
        if row is None:
            report.add(f"replay produced transaction {txn.seq} that is not stored")
            return False
        report.transactions += 1
        if row.seq != self.expected_seq:
            report.add(f"transaction sequence gap at {row.seq} (expected {self.expected_seq})")
        self.expected_seq = row.seq + 1
        text = canonical_txn(txn, command_seq, sim_time)
        recomputed = txn_hash(self.prev, text)
        if row.prev_hash != self.prev:
            report.add(f"hash chain broken at transaction {row.seq}")
        if txn_hash(row.prev_hash, row.data) != row.hash:
            report.add(f"transaction {row.seq}: stored text does not match its hash")
        if row.data != text or row.hash != recomputed:
            report.add(
                f"transaction {row.seq} differs from its replay (stored hash "
                f"{row.hash[:12]}, replay {recomputed[:12]})"
            )
        if self.postings_of(txn.seq) != pack_postings(txn.postings):
            report.add(f"stored postings of transaction {txn.seq} differ from its replay")
        self.prev = row.hash
        return True

    def finish(self) -> None:
        if next(self.txns, None) is not None:
            self.report.add("stored journal has transactions the replay did not produce")
        if self.pending is not None:
            self.report.add(f"postings stored for transaction {self.pending[0]} that replay lacks")


def _replay_command(
    exchange: Exchange, seq: int, payload: dict[str, Any], report: AuditReport
) -> Receipt | None:
    try:
        receipt = exchange.apply(from_dict(payload))
    except ProphexError as error:
        report.add(f"command {seq} was journalled but is rejected on replay: {error}")
        return None
    if receipt.command_seq != seq:
        report.add(f"command sequence gap: stored {seq}, replay numbered it {receipt.command_seq}")
        return None
    return receipt


def _replay_and_compare_journal(
    conn: Connection, store: Store, report: AuditReport
) -> State | None:
    """Re-execute every command and compare its transactions with the stored, hash-chained ones."""
    exchange = Exchange()
    journal = _StoredJournal(conn, report)
    for seq, payload in store.iter_commands(conn):
        report.commands += 1
        receipt = _replay_command(exchange, seq, payload, report)
        if receipt is None:
            return None
        for txn in receipt.transactions:
            if not journal.compare(txn, seq, exchange.state.time):
                return None
    journal.finish()
    return exchange.state


def _explain_difference(stored: State, replayed: State, report: AuditReport) -> None:
    for account in sorted(set(stored.balances) | set(replayed.balances)):
        a, b = stored.balances.get(account, 0), replayed.balances.get(account, 0)
        if a != b:
            report.add(f"stored balance of {account} is {a}, replay gives {b}")
    for market_id in sorted(set(stored.markets) | set(replayed.markets)):
        a_row = stored.markets[market_id].to_row() if market_id in stored.markets else None
        b_row = replayed.markets[market_id].to_row() if market_id in replayed.markets else None
        if a_row != b_row:
            report.add(f"stored market {market_id} differs from its replay")
    for pid in sorted(set(stored.positions) | set(replayed.positions)):
        a_pos = stored.positions[pid].to_row() if pid in stored.positions else None
        b_pos = replayed.positions[pid].to_row() if pid in replayed.positions else None
        if a_pos != b_pos:
            report.add(f"stored position {pid} differs from its replay")
    if stored.meta() != replayed.meta():
        report.add("stored meta (params, clock, counters) differs from the replay")
