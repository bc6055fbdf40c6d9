"""SIGKILL safety: a killed ``prophex run`` leaves the database at a block boundary.

The writer commits one SQL transaction per block of 200 commands. We kill it with SIGKILL at
several points, then check that the journal holds exactly the committed blocks (no partial
block), that the audit passes, that a restarted sequencer loads the state an in-memory run of
the same prefix reaches, and that it can keep writing. On one database we crash, resume and
crash again, so recovery is also exercised on a database that has already been recovered.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers_commands import generate_commands, write_jsonl
from helpers_db import PROPHEX, block_height
from sqlalchemy import Engine, func, select

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Command, parse_user_command
from prophex.engine.state import digest
from prophex.errors import ProphexError, SequencerLocked
from prophex.ledger import schema
from prophex.ledger.store import DEFAULT_SNAPSHOT_EVERY, make_db_engine
from prophex.params import profile

BLOCK = 200
COUNT = 20_000
SEED = 20_261_121


@dataclass
class Reference:
    """The command file and the in-memory digest after each whole block of it."""

    commands: list[dict[str, object]]
    parsed: list[Command]
    digests: list[str]  # digests[k]: state after genesis and the first k blocks of the file


@pytest.fixture(scope="module")
def reference() -> Reference:
    params = profile("mature")
    commands = generate_commands(SEED, COUNT, params)
    parsed = [parse_user_command(c) for c in commands]
    sequencer = Sequencer.in_memory(params)
    digests = [digest(sequencer.state)]
    for start in range(0, COUNT, BLOCK):
        outcomes = sequencer.execute(parsed[start : start + BLOCK])
        # Every chunk commits something, so block height h holds exactly chunk h-2 of the file
        # (block 1 is genesis) and a block count tells us how much of the file was consumed.
        assert any(not isinstance(o, ProphexError) for o in outcomes)
        digests.append(digest(sequencer.state))
    return Reference(commands, parsed, digests)


def run_process(file: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            PROPHEX,
            "run",
            str(file),
            "--db",
            url,
            "--block-size",
            str(BLOCK),
            "--profile",
            "mature",
            "--json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(proc: subprocess.Popen[bytes], engine: Engine, height: int) -> None:
    """SIGKILL ``proc`` as soon as the database has reached block ``height``."""
    deadline = time.monotonic() + 30
    while block_height(engine) < height:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(
                f"prophex run ended (exit {proc.returncode}) before block {height}: {stderr}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"block {height} was not reached in 30 s")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"


def open_after_crash(url: str) -> Sequencer:
    """Open the database again. SQLite's flock dies with the process at once; a PostgreSQL
    backend may take a moment to notice its client is gone and release the advisory lock."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return Sequencer.open(url, block_size=BLOCK)
        except SequencerLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def assert_block_boundary(engine: Engine) -> int:
    """The journal is exactly the union of the committed blocks. Returns the block height."""
    blocks, commands, txns = schema.blocks, schema.commands, schema.transactions
    with engine.connect() as conn:
        rows = conn.execute(select(blocks).order_by(blocks.c.height)).all()
        per_block = {
            block: (count, low, high)
            for block, count, low, high in conn.execute(
                select(
                    commands.c.block,
                    func.count(),
                    func.min(commands.c.seq),
                    func.max(commands.c.seq),
                ).group_by(commands.c.block)
            )
        }
        total = conn.execute(select(func.count()).select_from(commands)).scalar_one()
        max_seq = conn.execute(select(func.max(commands.c.seq))).scalar_one()
        last_txn = conn.execute(
            select(txns.c.hash, txns.c.command_seq).order_by(txns.c.seq.desc()).limit(1)
        ).one()
        meta = {
            row.key: json.loads(row.value)
            for row in conn.execute(select(schema.meta.c.key, schema.meta.c.value))
        }
    assert rows, "no block committed"
    assert [r.height for r in rows] == list(range(1, len(rows) + 1))
    previous_last = 0
    for row in rows:
        assert row.first_command == previous_last + 1, f"gap before block {row.height}"
        assert row.last_command >= row.first_command
        size = row.last_command - row.first_command + 1
        assert per_block.get(row.height) == (size, row.first_command, row.last_command), (
            f"block {row.height} is not whole: {per_block.get(row.height)}"
        )
        previous_last = row.last_command
    assert set(per_block) == {r.height for r in rows}, "commands rows of an uncommitted block"
    top = rows[-1]
    assert max_seq == top.last_command
    assert total == top.last_command
    assert last_txn.command_seq <= top.last_command
    assert last_txn.hash == top.last_hash
    # The state tables are the last snapshot (docs/architecture.md, "Snapshots"): at a
    # committed block at most ``snapshot_every`` blocks behind the head, and that block's.
    snapshot = rows[meta["block_height"] - 1]
    assert top.height - snapshot.height < DEFAULT_SNAPSHOT_EVERY
    assert meta["last_hash"] == snapshot.last_hash
    assert meta["command_seq"] == snapshot.last_command
    return int(top.height)


def check_recovered(url: str, engine: Engine, ref: Reference) -> int:
    """Boundary, audit and reload after a crash; returns the number of file blocks committed."""
    height = assert_block_boundary(engine)
    chunks = height - 1
    report = audit_database(engine)
    assert report.ok, report.violations
    assert report.replayed_digest == ref.digests[chunks]
    assert report.stored_digest == ref.digests[chunks]
    sequencer = open_after_crash(url)
    try:
        assert digest(sequencer.state) == ref.digests[chunks]
    finally:
        sequencer.close()
    return chunks


def test_repeated_sigkill_and_resume(db_url: str, tmp_path: Path, reference: Reference) -> None:
    """Crash, check, resume the rest of the file, crash again, ..., then keep writing."""
    engine = make_db_engine(db_url)
    try:
        chunks = 0
        for round_no, extra in enumerate((1, 7, 18)):
            rest = write_jsonl(
                tmp_path / f"rest{round_no}.jsonl", reference.commands[chunks * BLOCK :]
            )
            target = max(block_height(engine), 1) + extra
            kill_when(run_process(rest, db_url), engine, target)
            new_chunks = check_recovered(db_url, engine, reference)
            assert new_chunks >= target - 1
            chunks = new_chunks
        # The recovered database keeps accepting writes where the file left off.
        sequencer = open_after_crash(db_url)
        try:
            sequencer.execute(reference.parsed[chunks * BLOCK : (chunks + 5) * BLOCK])
            assert digest(sequencer.state) == reference.digests[chunks + 5]
        finally:
            sequencer.close()
        assert assert_block_boundary(engine) == chunks + 5 + 1
        report = audit_database(engine)
        assert report.ok, report.violations
        assert report.replayed_digest == reference.digests[chunks + 5]
    finally:
        engine.dispose()


def test_sigkill_at_arbitrary_moments_sqlite(tmp_path: Path, reference: Reference) -> None:
    """Kills at random times, including during start-up, migration and genesis (SQLite)."""
    rng = random.Random(7)
    file = write_jsonl(tmp_path / "all.jsonl", reference.commands)
    for attempt in range(4):
        url = f"sqlite:///{tmp_path}/arbitrary{attempt}.db"
        proc = run_process(file, url)
        time.sleep(rng.uniform(0.2, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        engine = make_db_engine(url)
        try:
            if block_height(engine) == 0:
                # Killed before genesis committed: nothing to audit, and a fresh open must
                # run genesis as if the database were new.
                sequencer = Sequencer.open(url, profile("mature"), block_size=BLOCK)
                try:
                    assert digest(sequencer.state) == reference.digests[0]
                    sequencer.execute(reference.parsed[:BLOCK])
                    assert digest(sequencer.state) == reference.digests[1]
                finally:
                    sequencer.close()
                assert assert_block_boundary(engine) == 2
            else:
                check_recovered(url, engine, reference)
        finally:
            engine.dispose()
