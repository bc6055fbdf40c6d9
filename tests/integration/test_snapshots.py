"""The state tables are a snapshot, the journal is the truth (docs/architecture.md, "Snapshots").

A block appends its journal rows; every ``snapshot_every`` blocks (and at a clean close) the same
transaction also rewrites the state tables. A load is the snapshot plus the journal after it,
replayed and verified: a crash between two snapshots reloads the writer's exact state, a tampered
tail is refused with ``JOURNAL_MISMATCH``, and the audit passes on a database whose snapshot is
behind its head.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers_commands import generate_commands, write_jsonl
from helpers_db import run_cli
from sqlalchemy import Engine, create_engine, func, select

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Command, CreateMarket, Deposit, Open, parse_user_command
from prophex.engine.state import digest
from prophex.errors import JournalMismatch
from prophex.ledger import schema
from prophex.ledger.store import Store, make_db_engine
from prophex.money import MICRO as USD
from prophex.params import profile

SEED = 4_242
COUNT = 1_200
BLOCK = 50
EVERY = 5
STATE_TABLES = (
    schema.balances,
    schema.markets,
    schema.positions,
    schema.client_orders,
    schema.margin_accounts,
    schema.meta,
)


def commands() -> list[Command]:
    return [parse_user_command(c) for c in generate_commands(SEED, COUNT, profile("mature"))]


def reference(count: int) -> str:
    """Digest an in-memory run reaches after the first ``count`` commands, in blocks."""
    sequencer = Sequencer.in_memory(profile("mature"))
    parsed = commands()[:count]
    for start in range(0, count, BLOCK):
        sequencer.execute(parsed[start : start + BLOCK])
    return digest(sequencer.state)


CRASHING_WRITER = """
import os, sys
sys.path.insert(0, {tests!r})
from test_snapshots import BLOCK, EVERY, commands
from prophex.chain.sequencer import Sequencer
from prophex.params import profile
parsed = commands()[:{count}]
sequencer = Sequencer.open({url!r}, profile("mature"), block_size=BLOCK, snapshot_every=EVERY)
sequencer.execute(parsed)
os._exit(0)  # the process dies: no close, no final snapshot
"""


def crash_after(url: str, count: int) -> None:
    """A separate process writes ``count`` commands and dies without closing."""
    script = CRASHING_WRITER.format(tests=str(Path(__file__).parent), count=count, url=url)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def heights(url: str) -> tuple[int, int]:
    """(the snapshot's block, the journal's head block)."""
    engine = make_db_engine(url)
    try:
        with engine.connect() as conn:
            snap = Store(engine).meta_value(conn, "block_height")
            head = conn.execute(select(func.max(schema.blocks.c.height))).scalar_one()
        return int(snap), int(head)
    finally:
        engine.dispose()


def tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every state table's rows, sorted."""
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in STATE_TABLES}


def admin(url: str, sql: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- crash and load


def test_crash_between_snapshots_reloads_the_exact_state(db_url: str) -> None:
    count = 17 * BLOCK  # genesis + 17 blocks: snapshots at blocks 1, 6, 11, 16; head at 18
    crash_after(db_url, count)
    assert heights(db_url) == (16, 18)
    expected = reference(count)
    with Sequencer.open(db_url, block_size=BLOCK, snapshot_every=EVERY) as sequencer:
        assert digest(sequencer.state) == expected
        # it writes on from there, and its next snapshot covers the replayed tail too
        sequencer.execute(commands()[count : count + 3 * BLOCK])
        assert heights(db_url) == (21, 21)
        assert digest(sequencer.state) == reference(count + 3 * BLOCK)
        engine = make_db_engine(db_url)
        try:
            with engine.connect() as conn:
                state, _ = Store(engine).load_snapshot(conn)
        finally:
            engine.dispose()
        assert digest(state) == digest(sequencer.state)  # the tables alone are the state


def test_the_audit_passes_with_the_snapshot_behind_the_head(db_url: str) -> None:
    count = 12 * BLOCK
    crash_after(db_url, count)
    snap, head = heights(db_url)
    assert snap < head
    engine = make_db_engine(db_url)
    try:
        report = audit_database(engine)
    finally:
        engine.dispose()
    assert report.ok, report.violations
    assert report.stored_digest == report.replayed_digest == reference(count)


FAIL_BLOCKS = """
CREATE FUNCTION prophex_injected() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'injected commit failure'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER injected BEFORE INSERT ON blocks FOR EACH ROW EXECUTE FUNCTION prophex_injected();
"""


def test_recovery_after_a_failed_commit_between_snapshots(pg_url: str) -> None:
    """A block fails to commit while the tables are behind: recovery reloads snapshot + tail,
    proves it equal to the journal, and the sequencer writes on from exactly there."""
    parsed = commands()
    with Sequencer.open(pg_url, profile("mature"), block_size=BLOCK, snapshot_every=EVERY) as seq:
        seq.execute(parsed[: 7 * BLOCK])  # head 8, snapshot at 6
        assert heights(pg_url) == (6, 8)
        admin(pg_url, FAIL_BLOCKS)
        outcomes = seq.execute(parsed[7 * BLOCK : 8 * BLOCK])
        assert {getattr(o, "code", "ok") for o in outcomes} <= {"WRITE_UNAVAILABLE"}
        admin(pg_url, "DROP TRIGGER injected ON blocks")
        recovered = seq.recover()
        assert recovered is not None
        assert (recovered.block_height, recovered.digest) == (8, reference(7 * BLOCK))
        seq.execute(parsed[7 * BLOCK : 9 * BLOCK])
        assert digest(seq.state) == reference(9 * BLOCK)
        assert heights(pg_url) == (6, 10)
    assert heights(pg_url) == (10, 10)  # the clean close snapshotted


# --------------------------------------------------------------------------- tampering


def _tampered(url: str, statement: str) -> JournalMismatch:
    crash_after(url, 12 * BLOCK)  # snapshot at block 11, head at 13
    admin(url, statement)
    engine = make_db_engine(url)
    try:
        with pytest.raises(JournalMismatch) as info:
            Store(engine).load_state()
    finally:
        engine.dispose()
    with pytest.raises(JournalMismatch):
        Sequencer.open(url, block_size=BLOCK)
    return info.value


def _tail_txn(url: str) -> int:
    """The last deposit transaction, which is after the snapshot."""
    engine = make_db_engine(url)
    txns = schema.transactions
    try:
        with engine.connect() as conn:
            seq = conn.execute(select(func.max(txns.c.seq)).where(txns.c.kind == "deposit"))
            snapshot_txn = Store(engine).meta_value(conn, "txn_seq")
            found = int(seq.scalar_one())
    finally:
        engine.dispose()
    assert found > snapshot_txn
    return found


def test_a_tampered_transaction_in_the_tail_is_refused(db_url: str) -> None:
    crash_after(db_url, 12 * BLOCK)
    seq = _tail_txn(db_url)
    admin(
        db_url,
        'UPDATE transactions SET data = replace(data, \'"kind":"deposit"\', '
        f'\'"kind":"deposit "\') WHERE seq = {seq}',
    )
    engine = make_db_engine(db_url)
    try:
        with pytest.raises(JournalMismatch, match=f"transaction {seq}"):
            Store(engine).load_state()
        report = audit_database(engine)
    finally:
        engine.dispose()
    assert not report.ok
    assert any(v.startswith("load: ") for v in report.violations), report.violations
    with pytest.raises(JournalMismatch):
        Sequencer.open(db_url, block_size=BLOCK)


def test_a_tampered_command_in_the_tail_is_refused(db_url: str) -> None:
    """A stored command changed after the snapshot: its replay differs from the chain."""
    error = _tampered(
        db_url,
        "UPDATE commands SET payload = replace(payload, '\"amount\":', '\"amount\":1') "
        "WHERE seq = (SELECT max(seq) FROM commands WHERE kind = 'deposit')",
    )
    assert error.code == "JOURNAL_MISMATCH"


def test_a_snapshot_that_is_not_in_the_journal_is_refused(db_url: str) -> None:
    error = _tampered(
        db_url, "UPDATE meta SET value = '\"" + "0" * 64 + "\"' WHERE key = 'last_hash'"
    )
    assert "state tables claim block 11" in error.message


# --------------------------------------------------------------------------- what the tables hold


def test_snapshot_every_block_writes_the_state_tables_every_block(tmp_path: Path) -> None:
    """``snapshot_every=1`` is the old behaviour: after every block the tables are the state;
    and whatever the cadence, a clean close leaves the same tables."""
    parsed = commands()
    urls = {every: f"sqlite:///{tmp_path}/every{every}.db" for every in (1, 7)}
    for every, url in urls.items():
        with Sequencer.open(url, profile("mature"), block_size=BLOCK, snapshot_every=every) as s:
            for start in range(0, 10 * BLOCK, BLOCK):
                s.execute(parsed[start : start + BLOCK])
                if every == 1:
                    assert heights(url)[0] == heights(url)[1]
                    engine = make_db_engine(url)
                    try:
                        with engine.connect() as conn:
                            state, _ = Store(engine).load_snapshot(conn)
                    finally:
                        engine.dispose()
                    assert digest(state) == digest(s.state)
    engines = {every: make_db_engine(url) for every, url in urls.items()}
    try:
        assert tables(engines[1]) == tables(engines[7])
    finally:
        for engine in engines.values():
            engine.dispose()


def test_a_clean_run_leaves_the_state_tables_current(tmp_path: Path) -> None:
    """After ``prophex run`` the tables answer SQL: balances, meta at the head."""
    file = write_jsonl(tmp_path / "commands.jsonl", generate_commands(SEED, 300, profile("mature")))
    url = f"sqlite:///{tmp_path}/run.db"
    done = run_cli("run", str(file), "--db", url, "--block-size", "7", "--profile", "mature")
    assert done.returncode in (0, 1), done.stderr
    snap, head = heights(url)
    assert snap == head > 2
    engine = make_db_engine(url)
    try:
        with engine.connect() as conn:
            state, _ = Store(engine).load_snapshot(conn)
            balances = dict(conn.execute(select(schema.balances)).all())
        assert digest(state) == digest(Store(engine).load_state())
        assert balances == {a: b for a, b in state.balances.items()}
    finally:
        engine.dispose()
    again = run_cli("db", "snapshot", "--db", url)
    assert again.returncode == 0, again.stderr
    assert "already current" in again.stdout


def test_db_snapshot_brings_the_tables_to_the_head(sqlite_url: str) -> None:
    crash_after(sqlite_url, 8 * BLOCK)
    assert heights(sqlite_url) == (6, 9)
    done = run_cli("db", "snapshot", "--db", sqlite_url)
    assert done.returncode == 0, done.stderr
    assert heights(sqlite_url) == (9, 9)


def test_an_old_database_loads_unchanged(sqlite_url: str) -> None:
    """Written before snapshots (every block wrote its rows): the snapshot is the head and the
    tail is empty. ``snapshot_every=1`` writes exactly such a database."""
    with Sequencer.open(sqlite_url, profile("mature"), block_size=BLOCK, snapshot_every=1) as s:
        s.execute(commands()[: 4 * BLOCK])
        expected = digest(s.state)
    engine = make_db_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            state, snap = Store(engine).load_snapshot(conn)
        assert (snap.height, digest(state)) == (5, expected)
    finally:
        engine.dispose()
    with Sequencer.open(sqlite_url, block_size=BLOCK) as again:
        assert digest(again.state) == expected


def test_an_id_the_state_tables_cannot_hold_is_refused_with_its_command(db_url: str) -> None:
    """A 70-character account (a canonical command built in code; the user form stops it) fits
    the journal but not ``positions.account``: the state rows are written only at a snapshot,
    so the block check refuses the command that made it, on both backends."""
    long = "x" * 70
    with Sequencer.open(db_url, snapshot_every=EVERY) as sequencer:
        sequencer.execute([CreateMarket(market="m1")])
        outcomes = sequencer.execute(
            [
                Deposit(account=long, amount=500 * USD),
                Open(account=long, market="m1", side="A", margin=100 * USD, leverage_centi=300),
                Deposit(account="bob", amount=500 * USD),
            ]
        )
        assert [getattr(o, "code", "ok") for o in outcomes] == ["ok", "STORAGE_REJECTED", "ok"]
        assert sequencer.failure is None
        assert not sequencer.state.positions
        final = digest(sequencer.state)
    engine = make_db_engine(db_url)
    try:
        assert digest(Store(engine).load_state()) == final
        assert audit_database(engine).ok
    finally:
        engine.dispose()


def test_the_default_cadence_is_the_measured_one(db_url: str) -> None:
    """32 blocks on SQLite; every block on PostgreSQL, where snapshots measured no faster."""
    engine = make_db_engine(db_url)
    try:
        expected = 32 if db_url.startswith("sqlite") else 1
        assert Store(engine).snapshot_every == expected
    finally:
        engine.dispose()
