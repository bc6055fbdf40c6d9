"""One writer per database: a second sequencer fails at once with a clear message."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers_db import PROPHEX, count_rows

from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Deposit
from prophex.engine.state import digest
from prophex.errors import SequencerLocked
from prophex.ledger import schema


def test_second_sequencer_is_refused_until_the_first_closes(db_url: str) -> None:
    first = Sequencer.open(db_url)
    try:
        first.submit(Deposit(account="alice", amount=5_000_000))
        with pytest.raises(SequencerLocked) as caught:
            Sequencer.open(db_url)
        error = caught.value
        assert error.code == "SEQUENCER_LOCKED"
        assert "another sequencer is already writing" in error.message
        # The refused opener wrote nothing: the first one still owns the database.
        first.submit(Deposit(account="bob", amount=1_000_000))
        expected = digest(first.state)
    finally:
        first.close()
    second = Sequencer.open(db_url)
    try:
        assert digest(second.state) == expected
        assert second.state.balances["wallet:alice"] == 5_000_000
        second.submit(Deposit(account="alice", amount=1))
        assert second.state.balances["wallet:alice"] == 5_000_001
    finally:
        second.close()
    assert count_rows(db_url, schema.blocks) == 4  # genesis + three single-command blocks


def test_sqlite_message_names_the_database_and_lock_file(sqlite_url: str, tmp_path: Path) -> None:
    with Sequencer.open(sqlite_url), pytest.raises(SequencerLocked) as caught:
        Sequencer.open(sqlite_url)
    message = caught.value.message
    assert str(tmp_path / "prophex.db") in message
    assert str(tmp_path / "prophex.db.lock") in message


def test_postgres_message_says_advisory_lock(pg_url: str) -> None:
    with Sequencer.open(pg_url), pytest.raises(SequencerLocked) as caught:
        Sequencer.open(pg_url)
    assert "PostgreSQL database" in caught.value.message
    assert "advisory lock" in caught.value.message


def _hold_lock(url: str, ready: Path) -> subprocess.Popen[bytes]:
    """A separate process that opens a sequencer on ``url`` and sleeps holding the lock."""
    code = textwrap.dedent(
        f"""
        import pathlib, time
        from prophex.chain.sequencer import Sequencer
        seq = Sequencer.open({url!r})
        pathlib.Path({str(ready)!r}).write_text("ready")
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"lock holder died: {proc.stderr.read().decode() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("lock holder did not start in 30 s")
        time.sleep(0.02)
    return proc


def test_cli_run_fails_with_exit_2_while_another_process_holds_the_lock(
    db_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "cmds.yaml"
    file.write_text('- {type: deposit, account: alice, amount: "10"}\n')
    holder = _hold_lock(db_url, tmp_path / "ready")
    try:
        blocks_before = count_rows(db_url, schema.blocks)
        run = subprocess.run(
            [PROPHEX, "run", str(file), "--db", db_url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2, run.stderr
        stderr = " ".join(run.stderr.split())  # rich wraps long lines at the console width
        assert "SEQUENCER_LOCKED" in stderr
        assert "another sequencer is already writing" in stderr
        assert run.stdout == ""
        assert count_rows(db_url, schema.blocks) == blocks_before == 1
    finally:
        holder.kill()
        holder.wait()
    # The holder died; the operating system (or the PostgreSQL backend) released its lock.
    deadline = time.monotonic() + 15
    while True:
        run = subprocess.run(
            [PROPHEX, "run", str(file), "--db", db_url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if run.returncode != 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert run.returncode == 0, run.stderr
    assert count_rows(db_url, schema.blocks) == 2


def test_each_sequencer_claims_a_newer_writer_epoch(db_url: str) -> None:
    """The writer fence (docs/architecture.md, "Single writer"): every open claims epoch + 1."""
    import os

    from sqlalchemy import select

    from prophex.ledger.store import make_read_engine

    epochs = []
    for _ in range(3):
        with Sequencer.open(db_url) as sequencer:
            assert sequencer.store is not None
            epochs.append(sequencer.store.epoch)
    assert epochs == [1, 2, 3]
    engine = make_read_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(schema.writer)).one()
    finally:
        engine.dispose()
    assert (row.id, row.epoch) == (1, 3)
    assert row.holder.endswith(f":{os.getpid()}")
