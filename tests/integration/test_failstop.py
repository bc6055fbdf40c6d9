"""Fail-stop writer (issue 8): a failed commit, a lost lock or an overflow never acknowledges a
write that is not durable, and one bad command never fails the others in its block.

Real SQLite and PostgreSQL; failures are injected in the database itself (a trigger that
raises, connections refused, a competing write lock), never by mocking the driver.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers_db import PROPHEX, block_height, stored_digest
from sqlalchemy import create_engine, text

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Outcome, Sequencer
from prophex.engine.commands import Close, Command, CreateMarket, Deposit, Open
from prophex.engine.events import Receipt, wallet_account
from prophex.engine.limits import MAX_STORED, MAX_WALLET
from prophex.engine.state import digest
from prophex.errors import ProphexError, WriterFenced, WriteUnavailable
from prophex.ledger.store import Store, make_db_engine, make_read_engine
from prophex.money import MAX_AMOUNT

USD = 1_000_000


def codes(outcomes: list[Outcome]) -> list[str]:
    return ["ok" if isinstance(o, Receipt) else o.code for o in outcomes]


def audit_ok(url: str) -> None:
    engine = make_read_engine(url)
    try:
        report = audit_database(engine)
    finally:
        engine.dispose()
    assert report.ok, report.violations


def assert_state_is_stored(sequencer: Sequencer, url: str) -> None:
    assert digest(sequencer.state) == stored_digest(url)


def admin(url: str, sql: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def deposits(*accounts: str, amount: int = 10 * USD) -> list[Command]:
    return [Deposit(account=a, amount=amount) for a in accounts]


# --------------------------------------------------------------------------- commit failures

FAIL_ALL = """
CREATE FUNCTION prophex_injected() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'injected commit failure'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER injected BEFORE INSERT ON blocks FOR EACH ROW EXECUTE FUNCTION prophex_injected();
"""


def test_postgres_trigger_failure_refuses_the_whole_block_and_later_blocks(pg_url: str) -> None:
    with Sequencer.open(pg_url) as sequencer:
        assert codes(sequencer.execute(deposits("alice"))) == ["ok"]
        admin(pg_url, FAIL_ALL)
        outcomes = sequencer.execute(deposits("alice", "bob", "carol"))
        assert codes(outcomes) == ["WRITE_UNAVAILABLE"] * 3
        assert all(o.status == 503 for o in outcomes if isinstance(o, ProphexError))
        # The state was reloaded and proved equal to the stored one: nothing phantom.
        assert sequencer.state.balances.get(wallet_account("bob"), 0) == 0
        assert_state_is_stored(sequencer, pg_url)
        # While the fault lasts, every later command is refused too.
        assert codes(sequencer.execute(deposits("dave"))) == ["WRITE_UNAVAILABLE"]
        admin(pg_url, "DROP TRIGGER injected ON blocks")
        assert codes(sequencer.execute(deposits("bob"))) == ["ok"]
        assert sequencer.state.balances[wallet_account("bob")] == 10 * USD
        assert sequencer.state.balances[wallet_account("alice")] == 10 * USD
        assert_state_is_stored(sequencer, pg_url)
    audit_ok(pg_url)


def test_postgres_unreachable_stays_stopped_until_recovery(pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    with Sequencer.open(pg_url) as sequencer:
        assert codes(sequencer.execute(deposits("alice"))) == ["ok"]
        admin(admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin(
            admin_url,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        try:
            outcomes = sequencer.execute(deposits("alice", "bob"))
            assert codes(outcomes) == ["WRITE_UNAVAILABLE"] * 2
            assert isinstance(sequencer.failure, WriteUnavailable)
            # Reads are refused as well: the in-memory state may be ahead of the database.
            with pytest.raises(WriteUnavailable), sequencer.reading():
                pass
            assert codes(sequencer.execute(deposits("carol"))) == ["WRITE_UNAVAILABLE"]
            with pytest.raises(WriteUnavailable, match="recovery failed"):
                sequencer.recover()
        finally:
            admin(admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        head = sequencer.recover()
        assert head is not None  # a stored sequencer reports what it verified
        assert sequencer.failure is None
        assert head.command_seq == 2  # genesis and alice's first deposit, nothing else
        assert head.digest == digest(sequencer.state) == stored_digest(pg_url)
        assert sequencer.state.balances[wallet_account("alice")] == 10 * USD
        assert codes(sequencer.execute(deposits("bob"))) == ["ok"]
        assert_state_is_stored(sequencer, pg_url)
    audit_ok(pg_url)


@contextmanager
def sqlite_write_locked(url: str) -> Iterator[None]:
    """Another connection holds SQLite's write lock (as a stuck process would)."""
    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_sqlite_locked_database_stops_the_writer_until_recovery(sqlite_url: str) -> None:
    engine = make_db_engine(sqlite_url, busy_timeout_ms=50)
    with Sequencer.open(sqlite_url, engine=engine) as sequencer:
        assert codes(sequencer.execute(deposits("alice"))) == ["ok"]
        with sqlite_write_locked(sqlite_url):
            outcomes = sequencer.execute(deposits("alice", "bob", "carol"))
            assert codes(outcomes) == ["WRITE_UNAVAILABLE"] * 3
            assert "database is locked" in str(sequencer.failure)
            assert codes(sequencer.execute(deposits("dave"))) == ["WRITE_UNAVAILABLE"]
        head = sequencer.recover()
        assert head is not None  # a stored sequencer reports what it verified
        assert head.command_seq == 2
        assert sequencer.state.balances[wallet_account("alice")] == 10 * USD
        assert wallet_account("bob") not in sequencer.state.balances
        assert codes(sequencer.execute(deposits("bob"))) == ["ok"]
        assert_state_is_stored(sequencer, sqlite_url)
    audit_ok(sqlite_url)


# --------------------------------------------------------------------------- one bad command


def refuse_mallory(url: str) -> None:
    """A database that refuses (as a data error) to store any transaction of 'mallory'."""
    if url.startswith("sqlite"):
        admin(
            url,
            "CREATE TRIGGER refuse_mallory BEFORE INSERT ON transactions "
            "WHEN NEW.data LIKE '%\"mallory\"%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        return
    admin(
        url,
        """
        CREATE FUNCTION refuse_mallory() RETURNS trigger AS $$
        BEGIN
          IF NEW.data LIKE '%"mallory"%' THEN
            RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_mallory BEFORE INSERT ON transactions
          FOR EACH ROW EXECUTE FUNCTION refuse_mallory();
        """,
    )


def test_a_data_error_fails_only_the_offending_command(db_url: str) -> None:
    with Sequencer.open(db_url) as sequencer:
        sequencer.execute([CreateMarket(market="m1")])
        refuse_mallory(db_url)
        block: list[Command] = [
            Deposit(account="alice", amount=500 * USD),
            Deposit(account="mallory", amount=500 * USD),
            Deposit(account="bob", amount=500 * USD),
            Open(account="alice", market="m1", side="A", margin=100 * USD, leverage_centi=300),
            Open(account="bob", market="m1", side="B", margin=100 * USD, leverage_centi=200),
        ]
        outcomes = sequencer.execute(block)
        assert codes(outcomes) == ["ok", "STORAGE_REJECTED", "ok", "ok", "ok"]
        assert sequencer.failure is None
        assert wallet_account("mallory") not in sequencer.state.balances
        assert len(sequencer.state.positions) == 2
        assert_state_is_stored(sequencer, db_url)
    audit_ok(db_url)


def test_overflow_attack_is_refused_alone_and_bystanders_commit(db_url: str) -> None:
    """Deposits of 1e9 USD (the largest amount) into one account: once the wallet would pass
    MAX_WALLET the deposit is refused with AMOUNT_LIMIT_EXCEEDED; the orders and deposits of
    other users in the same block succeed."""
    per_wallet = MAX_WALLET // MAX_AMOUNT  # 100 deposits fill a wallet
    with Sequencer.open(db_url) as sequencer:
        sequencer.execute([CreateMarket(market="m1")])
        block: list[Command] = []
        for i in range(per_wallet + 3):
            block.append(Deposit(account="mallory", amount=MAX_AMOUNT))
            if i % 20 == 0:
                block.append(Deposit(account=f"bystander{i}", amount=100 * USD))
                block.append(
                    Open(
                        account=f"bystander{i}",
                        market="m1",
                        side="A",
                        margin=10 * USD,
                        leverage_centi=200,
                    )
                )
        outcomes = sequencer.execute(block)
        refused = [o for o in outcomes if isinstance(o, ProphexError)]
        assert [o.code for o in refused] == ["AMOUNT_LIMIT_EXCEEDED"] * 3
        assert all(o.status == 422 for o in refused)
        assert refused[0].details["field"] == "balance"
        assert refused[0].details["limit"] == MAX_WALLET
        assert sequencer.state.balances[wallet_account("mallory")] == MAX_WALLET
        bystanders = [f"bystander{i}" for i in range(0, per_wallet + 3, 20)]
        for name in bystanders:
            assert sequencer.state.balances[wallet_account(name)] > 0
        assert len(sequencer.state.positions) == len(bystanders)
        assert_state_is_stored(sequencer, db_url)
    audit_ok(db_url)


def test_total_money_in_the_exchange_is_bounded(sqlite_url: str) -> None:
    """Sybil accounts cannot push the external account past MAX_STORED either."""
    per_wallet = MAX_WALLET // MAX_AMOUNT
    wallets = MAX_STORED // MAX_WALLET + 1
    with Sequencer.open(sqlite_url, block_size=2_000) as sequencer:
        block: list[Command] = [
            Deposit(account=f"sybil{w}", amount=MAX_AMOUNT)
            for w in range(wallets)
            for _ in range(per_wallet)
        ]
        outcomes = sequencer.execute(block)
        refused = [o for o in outcomes if isinstance(o, ProphexError)]
        assert {o.code for o in refused} == {"AMOUNT_LIMIT_EXCEEDED"}
        assert {o.details["field"] for o in refused} == {"total_deposits"}
        held = -sequencer.state.balances["external"]
        assert MAX_STORED - MAX_AMOUNT < held <= MAX_STORED
        assert sequencer.failure is None
        assert_state_is_stored(sequencer, sqlite_url)
    audit_ok(sqlite_url)


# --------------------------------------------------------------------------- the writer fence


def test_a_superseded_writer_is_fenced_for_good(db_url: str) -> None:
    with Sequencer.open(db_url) as first:
        assert codes(first.execute(deposits("alice"))) == ["ok"]
        # What a second sequencer does on start once it holds the lock: claim a newer epoch.
        intruder = Store(make_db_engine(db_url))
        try:
            intruder.claim_writer("intruder:1")
        finally:
            intruder.engine.dispose()
        outcomes = first.execute(deposits("alice", "bob"))
        assert codes(outcomes) == ["WRITER_FENCED"] * 2
        fenced = outcomes[0]
        assert isinstance(fenced, WriterFenced)
        assert fenced.status == 503
        assert "another sequencer took over" in fenced.message
        assert "intruder:1" in fenced.message
        with pytest.raises(WriterFenced):
            first.recover()
        with pytest.raises(WriterFenced), first.reading():
            pass
        assert codes(first.execute(deposits("carol"))) == ["WRITER_FENCED"]
    with Sequencer.open(db_url) as second:  # a new writer takes over normally
        assert second.state.balances[wallet_account("alice")] == 10 * USD
        assert wallet_account("bob") not in second.state.balances
        assert codes(second.execute(deposits("bob"))) == ["ok"]
    audit_ok(db_url)


# --------------------------------------------------------------------------- audit, missing DB


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROPHEX_DATABASE_URL"}
    env.update(COLUMNS="80", NO_COLOR="1")  # a narrow console: the error must still be one line
    return subprocess.run(
        [PROPHEX, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )


@pytest.mark.parametrize("solvency", [False, True], ids=["journal", "solvency"])
def test_audit_of_a_missing_sqlite_database_creates_nothing(tmp_path: Path, solvency: bool) -> None:
    extra = ["--solvency", "--paths", "1000"] if solvency else []
    missing = tmp_path / "prophex-demo.db"
    for args in (["audit", *extra], ["audit", "--db", f"sqlite:///{missing}", *extra]):
        run = run_in(tmp_path, *args)
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert "DATABASE_MISSING" in lines[0]
        assert "prophex demo --db" in lines[0]
        assert "Traceback" not in run.stderr
        assert run.stdout == ""
    assert f"sqlite:///{missing}" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no prophex.db, no lock file


@pytest.mark.parametrize("solvency", [False, True], ids=["journal", "solvency"])
def test_audit_of_a_non_prophex_database_is_one_line(tmp_path: Path, solvency: bool) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = other.read_bytes()
    extra = ["--solvency"] if solvency else []
    run = run_in(tmp_path, "audit", "--db", f"sqlite:///{other}", *extra)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "DATABASE_MISSING" in run.stderr and "no such table" in run.stderr
    assert other.read_bytes() == before


def test_audit_of_a_missing_postgres_database(pg_url: str, tmp_path: Path) -> None:
    missing = pg_url + "_absent"
    run = run_in(tmp_path, "audit", "--db", missing)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "DATABASE_MISSING" in run.stderr
    assert missing.rsplit("/", 1)[1] in run.stderr


# --------------------------------------------------------------------------- readers never lock


def test_audits_against_a_live_sqlite_writer_cause_no_write_unavailable(sqlite_url: str) -> None:
    """The writer gives up on SQLite's write lock after 20 ms; audits that took the write lock
    (``BEGIN IMMEDIATE``, as every reader did before) stall it longer than that. With the
    read-only engine they take none: not one command is refused while they run."""
    from prophex.audit.solvency import solvency_report
    from prophex.engine.commands import Close
    from prophex.ledger.store import open_read_only

    engine = make_db_engine(sqlite_url, busy_timeout_ms=20)
    with Sequencer.open(sqlite_url, engine=engine, block_size=25) as sequencer:
        setup: list[Command] = [CreateMarket(market="m1"), CreateMarket(market="m2")]
        for i in range(400):
            setup += [
                Deposit(account=f"t{i}", amount=50 * USD),
                Open(account=f"t{i}", market=f"m{1 + i % 2}", side="AB"[i % 2],
                     margin=5 * USD, leverage_centi=200),
            ]  # fmt: skip
        assert set(codes(sequencer.execute(setup))) == {"ok"}
        outcomes: list[Outcome] = []
        stop = threading.Event()

        def write() -> None:
            round_ = 0
            while not stop.is_set():
                round_ += 1
                account = f"live{round_}"
                outcomes.extend(
                    sequencer.execute(
                        [
                            Deposit(account=account, amount=20 * USD),
                            Open(
                                account=account,
                                market="m1",
                                side="A",
                                margin=2 * USD,
                                leverage_centi=200,
                            ),
                            Close(account=account, position_id=sequencer.state.next_position_id),
                        ]
                    )
                )

        writer = threading.Thread(target=write)
        writer.start()
        try:
            for _ in range(3):
                reader = open_read_only(sqlite_url)
                try:
                    report = audit_database(reader)
                finally:
                    reader.dispose()
                assert report.ok, report.violations
                assert report.commands > 800
                solvency = solvency_report(sqlite_url, paths=2_000, seed=1)
                assert solvency["insurance_fund"] > 0
            cli = subprocess.run(
                [PROPHEX, "audit", "--db", sqlite_url],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert cli.returncode == 0, cli.stdout + cli.stderr
        finally:
            stop.set()
            writer.join()
        assert len(outcomes) > 30  # the writer really was writing while the audits ran
        assert "WRITE_UNAVAILABLE" not in codes(outcomes)
        assert sequencer.failure is None
        assert_state_is_stored(sequencer, sqlite_url)
    audit_ok(sqlite_url)


# --------------------------------------------------------------------------- volume overflow


def test_cumulative_volume_cannot_overflow_a_run(tmp_path: Path) -> None:
    """Open and close 1e9 USD of notional 4,700 times: the cumulative volume would pass
    2**63 - 1 (the old ``prophex run --db sqlite:`` died with OverflowError). Opens that would
    take ``volume + OI + 2 * notional`` past MAX_STORED are refused; closes never are."""
    cycles = 4_700
    margin = "10000000"  # 1e7 USD at 100x: 1e9 USD (MAX_AMOUNT) of notional
    lines = [
        '- {type: create_market, market: m, wallet_cap: "1000000000", market_oi_cap: "1000000000"}',
        '- {type: deposit, account: w, amount: "20000000"}',
    ]
    for position in range(1, cycles + 1):
        lines.append(
            f'- {{type: open, account: w, market: m, side: A, margin: "{margin}", leverage: "100"}}'
        )
        lines.append(f"- {{type: close, account: w, position_id: {position}}}")
    file = tmp_path / "volume.yaml"
    file.write_text("\n".join(lines) + "\n")
    run = run_in(
        tmp_path, "run", str(file), "--db", "sqlite://", "--json",
        "--param", "max_leverage=100", "--param", "fee_rate=0",
    )  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 1, run.stderr  # some commands were rejected
    state = json.loads(run.stdout)
    rejected = {r["code"] for r in state["rejections"]}
    assert rejected <= {"AMOUNT_LIMIT_EXCEEDED", "NOT_FOUND"}  # a refused open's close
    accepted_opens = MAX_STORED // (2 * MAX_AMOUNT)
    (market,) = state["markets"]
    assert int(market["volume"]) <= MAX_STORED
    assert int(market["volume"]) == 2 * accepted_opens * MAX_AMOUNT


def test_cli_run_stops_with_exit_3_when_another_writer_takes_over(tmp_path: Path) -> None:
    """A long ``prophex run`` is fenced mid-way (a newer writer epoch is claimed, as a second
    sequencer does on start): it writes nothing more, says why on one line and exits 3."""
    file = tmp_path / "deposits.jsonl"
    file.write_text(
        "".join(
            json.dumps({"type": "deposit", "account": f"a{i % 50}", "amount": "1"}) + "\n"
            for i in range(200_000)
        )
    )
    url = f"sqlite:///{tmp_path}/prophex.db"
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [PROPHEX, "run", str(file), "--db", url, "--block-size", "100", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watcher = make_read_engine(url)
    try:
        while block_height(watcher) < 3:  # wait until the run is writing blocks
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        intruder = Store(make_db_engine(url))
        intruder.claim_writer("intruder:2")  # waits for the run's in-flight block
        fenced_at = block_height(watcher)
        intruder.engine.dispose()
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 3, stderr
        assert "WRITER_FENCED" in stderr and "intruder:2" in stderr
        assert len(stderr.strip().splitlines()) == 1
        assert stdout == ""
        assert block_height(watcher) == fenced_at  # nothing written after the takeover
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watcher.dispose()
    audit_ok(url)


@pytest.mark.parametrize("command", ["run", "db upgrade"])
@pytest.mark.parametrize("where", ["missing pg database", "missing directory"])
def test_writers_on_an_unopenable_database_fail_in_one_line(
    pg_url: str, tmp_path: Path, command: str, where: str
) -> None:
    url = pg_url + "_absent" if where == "missing pg database" else "sqlite:////no/such/dir/x.db"
    file = tmp_path / "one.yaml"
    file.write_text('- {type: deposit, account: a, amount: "1"}\n')
    args = ["run", str(file)] if command == "run" else ["db", "upgrade"]
    run = run_in(tmp_path, *args, "--db", url)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "DATABASE_UNAVAILABLE" in run.stderr
    assert "Traceback" not in run.stderr


# --------------------------------------------------------------------------- open-interest check


def corrupt_after(
    sequencer: Sequencer, command_index: int, corrupt: Callable[[Sequencer], None]
) -> None:
    """Fault injection: after the engine applies the ``command_index``-th next command (inside
    its block, before the block is checked and written), ``corrupt`` breaks the state."""
    exchange = sequencer.exchange
    real_apply = exchange.apply
    calls = [0]

    def apply(command: Command) -> Receipt:
        receipt = real_apply(command)
        if calls[0] == command_index:
            corrupt(sequencer)
        calls[0] += 1
        return receipt

    exchange.apply = apply  # type: ignore[method-assign]


def trading_day(sqlite_url: str) -> Sequencer:
    """A writer whose markets have several open positions on both sides, over several blocks
    (so the incremental OI check has adopted them and carried them across blocks)."""
    sequencer = Sequencer.open(sqlite_url, block_size=3)
    setup: list[Command] = [CreateMarket(market="m"), CreateMarket(market="n")]
    setup += deposits("a", "b", "c", "d", "e", amount=1000 * USD)
    trades = [("a", "m", "A"), ("b", "m", "B"), ("c", "m", "A"), ("d", "n", "A"), ("e", "m", "B")]
    setup += [Open(account, market, side, 10 * USD, 300) for account, market, side in trades]
    outcomes = sequencer.execute(setup)
    assert codes(outcomes) == ["ok"] * len(setup)
    assert codes(sequencer.execute([Open("b", "m", "B", 5 * USD, 200)])) == ["ok"]  # adds to 2
    closes: list[Command] = [Close("a", 1), Close("e", 5, notional=USD)]
    assert codes(sequencer.execute(closes)) == ["ok"] * 2
    return sequencer


def bump_notional(s: Sequencer) -> None:
    """A position's notional moves without its market's OI."""
    s.state.positions[2].notional += 1


def drop_real_oi(s: Sequencer) -> None:
    """The market's OI moves without any position."""
    s.state.markets["m"].real_oi_b -= 1


OI_BUGS: dict[str, Callable[[Sequencer], None]] = {
    "notional": bump_notional,
    "real_oi": drop_real_oi,
}


@pytest.mark.parametrize("bug", sorted(OI_BUGS))
def test_an_open_interest_bug_inside_a_block_stops_the_writer(sqlite_url: str, bug: str) -> None:
    """The per-block OI check is incremental (it re-adds only what the block touched) yet still
    catches a real OI that disagrees with the open positions, in a market adopted blocks ago."""
    sequencer = trading_day(sqlite_url)
    with sequencer:
        written, stored = sequencer.blocks_written, digest(sequencer.state)

        def break_state(s: Sequencer) -> None:
            OI_BUGS[bug](s)
            s.state.dirty_positions.add(2)  # the buggy code path did mark what it touched
            s.state.dirty_markets.add("m")

        corrupt_after(sequencer, 1, break_state)
        outcomes = sequencer.execute([Deposit("a", USD), Open("b", "m", "A", USD, 200)])
        assert codes(outcomes) == ["INVARIANT_VIOLATION"] * 2
        assert sequencer.blocks_written == written  # nothing of the block was written
        sequencer.recover()
        assert digest(sequencer.state) == stored
    audit_ok(sqlite_url)


def test_a_notional_change_marked_on_the_position_alone_is_caught(sqlite_url: str) -> None:
    """A bug that changes an open position's notional and marks only the position dirty (not
    its market) is still caught: the market of every touched position is checked."""
    sequencer = trading_day(sqlite_url)
    with sequencer:

        def break_state(s: Sequencer) -> None:
            s.state.positions[4].notional -= 1  # d's open position in market n
            s.state.dirty_positions.add(4)

        corrupt_after(sequencer, 0, break_state)
        outcomes = sequencer.execute([Deposit("b", USD)])
        assert codes(outcomes) == ["INVARIANT_VIOLATION"]
        assert "n real OI" in str(sequencer.failure)


def test_an_open_position_missing_from_its_market_is_caught(sqlite_url: str) -> None:
    sequencer = trading_day(sqlite_url)
    with sequencer:

        def break_state(s: Sequencer) -> None:
            s.state.open_in_market["m"].discard(2)
            s.state.dirty_positions.add(2)

        corrupt_after(sequencer, 0, break_state)
        assert codes(sequencer.execute([Deposit("b", USD)])) == ["INVARIANT_VIOLATION"]


def test_the_incremental_record_matches_a_full_recount(sqlite_url: str) -> None:
    """After opens, adds, full and partial closes over several blocks, the checker's running
    sums are exactly the markets' real OI and the open positions' notional re-added."""
    sequencer = trading_day(sqlite_url)
    with sequencer:
        ledger = sequencer._oi_ledger
        state = sequencer.state
        for market_id in ("m", "n"):
            recount = [0, 0]
            for position_id in state.open_in_market[market_id]:
                position = state.positions[position_id]
                recount[0 if position.side == "A" else 1] += position.notional
                assert ledger.notional[position_id] == position.notional
            market = state.markets[market_id]
            assert ledger.sums[market_id] == (market.real_oi_a, market.real_oi_b) == tuple(recount)
        assert 1 not in ledger.notional  # a closed position leaves the record
