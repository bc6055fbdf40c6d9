"""No split brain after a PostgreSQL connection loss (issue 8), with real uvicorn servers.

Bots send orders to a server; mid-load every backend of the database is terminated
(``pg_terminate_backend``), which also drops the server's session advisory lock. A second
server is then started on the same database. Either it is refused (the first writer took its
lock back) or it starts and the first one stops writing with ``WRITER_FENCED``; never do both
write. Afterwards every acknowledged order is in the journal exactly once and the audit passes.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select, text

from prophex.api.server import ServerProcess
from prophex.audit.replay import audit_database
from prophex.client import ProphexApiError, ProphexClient
from prophex.ledger import schema
from prophex.ledger.store import make_read_engine

pytestmark = pytest.mark.slow
ENV = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}
BOTS = 4
MARKET = "hot"


class Bot(threading.Thread):
    """Sends orders with fresh client_order_ids until stopped; records every answer."""

    def __init__(self, url: str, key: str, name: str, stop: threading.Event) -> None:
        super().__init__(name=name)
        self.client = ProphexClient(url, key, retries=0, timeout=30)
        self.stop_event = stop
        self.acked: list[str] = []
        self.refused: Counter[str] = Counter()

    def run(self) -> None:
        i = 0
        while not self.stop_event.is_set():
            i += 1
            coid = f"{self.name}-{i}"
            try:
                self.client.open_order(MARKET, "AB"[i % 2], "1", "2", client_order_id=coid)
                self.acked.append(coid)
            except ProphexApiError as error:
                self.refused[f"{error.status} {error.code}"] += 1
            except Exception as error:  # a dropped connection: the order's fate is unknown
                self.refused[type(error).__name__] += 1


def terminate_backends(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).all()
            )
    finally:
        admin.dispose()


def wait_for_acks(bots: list[Bot], more_than: int) -> None:
    deadline = threading.Event()
    timer = threading.Timer(60, deadline.set)
    timer.start()
    try:
        while sum(len(b.acked) for b in bots) <= more_than and not deadline.is_set():
            deadline.wait(0.02)
    finally:
        timer.cancel()
    assert sum(len(b.acked) for b in bots) > more_than, [b.refused for b in bots]


def test_backend_termination_during_load_has_no_split_brain(pg_url: str) -> None:
    stop = threading.Event()
    bots: list[Bot] = []
    with ServerProcess(pg_url, env=ENV) as first:
        admin = ProphexClient(first.url, admin_key=first.admin_key)
        admin.admin_create_market(MARKET, virtual_oi="5000", wallet_cap="100000",
                                  market_oi_cap="10000000")  # fmt: skip
        for n in range(BOTS):
            created = admin.create_account(f"bot{n}")
            ProphexClient(first.url, created.api_key).deposit("100000")
            bots.append(Bot(first.url, created.api_key, f"bot{n}", stop))
        probe = admin.create_account("probe")  # known to every server's key map
        for bot in bots:
            bot.start()
        try:
            wait_for_acks(bots, 40)
            assert terminate_backends(pg_url) >= 2  # the lock's session and the pool's
            acked_at_kill = sum(len(b.acked) for b in bots)
            # The first server keeps serving: before its next block it finds its lock gone and
            # takes it back on a new connection (nobody else holds it yet).
            wait_for_acks(bots, acked_at_kill + 20)
            # So a second server started now is refused: it cannot get the lock.
            with pytest.raises(RuntimeError, match="exited"):
                ServerProcess(pg_url, env=ENV).start()
            wait_for_acks(bots, sum(len(b.acked) for b in bots) + 10)
        finally:
            stop.set()
            for bot in bots:
                bot.join()

        # Now the connections die while the first server is idle, and a second server starts
        # before the first writes again: the second gets the lock and a newer writer epoch.
        assert terminate_backends(pg_url) >= 1
        with ServerProcess(pg_url, env=ENV) as second:
            # The first server refuses every write and says why, and serves no stale reads.
            with pytest.raises(ProphexApiError) as refused:
                ProphexClient(first.url, probe.api_key, retries=0).deposit("1")
            assert refused.value.status == 503
            assert refused.value.code == "WRITER_FENCED"
            assert "another sequencer" in refused.value.detail
            with pytest.raises(ProphexApiError) as stale:
                ProphexClient(first.url, probe.api_key, retries=0).account()
            assert (stale.value.status, stale.value.code) == (503, "WRITER_FENCED")
            # The second server owns the database.
            client = ProphexClient(second.url, probe.api_key, retries=0)
            assert client.deposit("1").wallet_balance == Decimal("1")
            assert client.deposit("2").wallet_balance == Decimal("3")

    acked = [coid for bot in bots for coid in bot.acked]
    assert len(acked) > 70
    engine = make_read_engine(pg_url)
    try:
        report = audit_database(engine)
        with engine.connect() as conn:
            payloads = conn.execute(
                select(schema.commands.c.payload).where(schema.commands.c.kind == "open")
            ).scalars()
            journalled = Counter(json.loads(p).get("client_order_id") for p in payloads)
    finally:
        engine.dispose()
    assert report.ok, report.violations
    assert all(journalled[coid] == 1 for coid in acked), [
        (c, journalled[c]) for c in acked if journalled[c] != 1
    ][:5]


FAIL_ALL = """
CREATE FUNCTION prophex_injected() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'injected commit failure'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER injected BEFORE INSERT ON blocks FOR EACH ROW EXECUTE FUNCTION prophex_injected();
"""


def run_sql(url: str, sql: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_injected_commit_failure_answers_503_to_the_whole_block(pg_url: str) -> None:
    """A trigger makes every block fail: each request of a concurrent burst gets 503
    WRITE_UNAVAILABLE and nothing is written; once it is gone, writes succeed again, the
    balances are exactly the acknowledged deposits and the audit passes."""
    with ServerProcess(pg_url, env={**ENV, "PROPHEX_BLOCK_WAIT_MS": "20"}) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        keys = [admin.create_account(f"u{n}").api_key for n in range(6)]
        clients = [ProphexClient(server.url, key, retries=0) for key in keys]
        assert clients[0].deposit("5").wallet_balance == Decimal("5")
        run_sql(pg_url, FAIL_ALL)
        answers: list[str] = []

        def deposit(client: ProphexClient) -> None:
            try:
                client.deposit("7")
                answers.append("ok")
            except ProphexApiError as error:
                answers.append(f"{error.status} {error.code}")

        burst = [threading.Thread(target=deposit, args=(c,)) for c in clients]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join()
        assert answers == ["503 WRITE_UNAVAILABLE"] * len(clients)
        run_sql(pg_url, "DROP TRIGGER injected ON blocks")
        assert [c.deposit("1").wallet_balance for c in clients] == [Decimal("6")] + [
            Decimal("1")
        ] * 5
        assert clients[0].account().wallet_balance == Decimal("6")
    engine = make_read_engine(pg_url)
    try:
        report = audit_database(engine)
    finally:
        engine.dispose()
    assert report.ok, report.violations
