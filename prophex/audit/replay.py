"""``prophex audit``: replay the journal from genesis and prove the stored state is what it says.

The audit trusts nothing it did not recompute:

1. every stored transaction's hash is recomputed and the chain linked from genesis;
2. every transaction's postings sum to zero (in SQL, over the stored postings);
3. each account's stored balance equals the sum of its postings up to the block the state
   tables hold (the last snapshot, docs/architecture.md "Snapshots");
4. the stored commands are re-executed on a fresh engine, and every transaction it produces must
   equal the stored one byte for byte (same canonical text, so the same hash), and its postings
   packed per account must equal the stored (packed) postings rows of that transaction;
5. where the replay reaches the snapshot's block, its state must equal the state tables exactly
   (same digest; the differing balances, markets and positions are named); at the end it must
   equal the stored state at the head (the snapshot plus the verified journal after it, as
   every load reads it), whose loading must succeed;
6. the invariants of DESIGN.md must hold on the replayed state and on the state tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from prophex.engine.exchange import Exchange
from prophex.engine.state import State, check_invariants, digest
from prophex.errors import JournalMismatch
from prophex.ledger import schema
from prophex.ledger.store import Store
from prophex.ledger.tail import JournalReader, Snapshot, iter_commands, replay_command

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
    snapshot_state, snap = store.load_snapshot(conn)
    try:
        head_state: State | None = store.load_state(conn)
    except JournalMismatch as error:
        report.add(f"load: {error.message}")
        head_state = None
    if head_state is not None:
        report.stored_digest = digest(head_state)
    _check_sql_sums(conn, report, snap)
    replayed = _replay_and_compare_journal(conn, report, snapshot_state, snap)
    if replayed is None:
        return report
    report.replayed_digest = digest(replayed)
    if head_state is not None and report.replayed_digest != report.stored_digest:
        report.add("replayed state digest differs from the stored state digest")
        _explain_difference(head_state, replayed, report)
    for problem in check_invariants(replayed):
        report.add(f"invariant: {problem}")
    for problem in check_invariants(snapshot_state):
        report.add(f"invariant (stored state): {problem}")
    return report


def _check_sql_sums(conn: Connection, report: AuditReport, snap: Snapshot) -> None:
    postings = schema.postings
    unbalanced = conn.execute(
        select(postings.c.txn_seq, func.sum(postings.c.amount))
        .group_by(postings.c.txn_seq)
        .having(func.sum(postings.c.amount) != 0)
        .limit(MAX_REPORTED)
    ).all()
    for seq, total in unbalanced:
        report.add(f"transaction {seq} does not balance: postings sum to {total}")
    _check_balances(conn, report, snap)


def _check_balances(conn: Connection, report: AuditReport, snap: Snapshot) -> None:
    """Each stored balance equals the sum of its account's postings up to the snapshot's last
    transaction (packed rows sum the same)."""
    postings = schema.postings
    sums = dict(
        conn.execute(
            select(postings.c.account, func.sum(postings.c.amount))
            .where(postings.c.txn_seq <= snap.txn_seq)
            .group_by(postings.c.account)
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


def _replay_and_compare_journal(
    conn: Connection, report: AuditReport, stored: State, snap: Snapshot
) -> State | None:
    """Re-execute every command and compare its transactions with the stored, hash-chained
    ones; where the replay reaches the snapshot's block, compare it with the state tables."""
    exchange = Exchange()
    journal = JournalReader(conn, report.add)
    compared = False
    for seq, payload in iter_commands(conn):
        report.commands += 1
        receipt = replay_command(exchange, seq, payload)
        if isinstance(receipt, str):
            report.add(receipt)
            return None
        for txn in receipt.transactions:
            if not journal.compare(txn, seq, exchange.state.time):
                report.transactions = journal.count
                return None
        if seq == snap.command_seq:
            _compare_snapshot(stored, exchange.state, snap, report)
            compared = True
    journal.finish()
    report.transactions = journal.count
    if not compared:
        report.add(f"the state tables claim command {snap.command_seq}, beyond the journal")
    return exchange.state


def _compare_snapshot(stored: State, replayed: State, snap: Snapshot, report: AuditReport) -> None:
    """The state tables (the snapshot at block ``snap.height``) against the replay there."""
    if digest(stored) != digest(replayed):
        report.add(
            f"the state tables (snapshot at block {snap.height}) differ from the replay at "
            "that block"
        )
        _explain_difference(stored, replayed, report)


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
