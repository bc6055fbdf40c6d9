"""``prophex bench api``: orders per second and latency through HTTP against a real server.

The server runs as a uvicorn subprocess (one process, as deployed). The load generator is a
minimal keep-alive HTTP/1.1 client on raw asyncio streams: on a 2-core machine an HTTP library
in the generator would eat the core the server needs and measure the client instead. Every
order is a real ``POST /v1/orders`` with a fresh ``client_order_id``; only 200 answers count.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass

import typer

from prophex.api.server import ServerProcess
from prophex.client import ProphexClient

CLIENTS = 32
DURATION_SECONDS = 6.0
WARMUP_SECONDS = 1.0
PG_ADMIN_URL = os.environ.get(
    "PROPHEX_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass(slots=True)
class BenchResult:
    backend: str
    clients: int
    orders: int
    errors: int
    seconds: float
    orders_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float


class _Connection:
    """One keep-alive HTTP/1.1 connection sending pre-encoded requests."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, key: str, body: bytes) -> int:
        if self.reader is None or self.writer is None:  # survives python -O (issue 8)
            raise RuntimeError("connect() first")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _worker(
    url: str, key: str, market: str, stop_at: float, warm_until: float, latencies: list[float]
) -> tuple[int, int]:
    host, port = url.removeprefix("http://").split(":")
    conn = _Connection(host, int(port))
    await conn.open()
    ok = errors = 0
    side = "A"
    try:
        while (now := time.perf_counter()) < stop_at:
            body = json.dumps(
                {"market": market, "side": side, "margin": "1", "leverage": "1",
                 "client_order_id": "b" + uuid.uuid4().hex}
            ).encode()  # fmt: skip
            side = "B" if side == "A" else "A"
            status = await conn.post("/v1/orders", key, body)
            done = time.perf_counter()
            if now >= warm_until:
                if status == 200:
                    ok += 1
                    latencies.append(done - now)
                else:
                    errors += 1
    finally:
        conn.close()
    return ok, errors


def _prepare(url: str, admin_key: str, clients: int) -> tuple[list[str], str]:
    admin = ProphexClient(url, admin_key=admin_key)
    market = "bench-hot"
    admin.admin_create_market(market, wallet_cap="1000000", market_oi_cap="100000000")
    keys = []
    for i in range(clients):
        created = admin.create_account(f"bench-{i}")
        ProphexClient(url, created.api_key).deposit("1000000")
        keys.append(created.api_key)
    admin.close()
    return keys, market


async def _load(url: str, keys: list[str], market: str, duration: float) -> BenchResult:
    latencies: list[float] = []
    start = time.perf_counter()
    warm_until = start + WARMUP_SECONDS
    stop_at = warm_until + duration
    results = await asyncio.gather(
        *(_worker(url, key, market, stop_at, warm_until, latencies) for key in keys)
    )
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    latencies.sort()
    ms = [x * 1000 for x in latencies] or [0.0]
    return BenchResult(
        backend="",
        clients=len(keys),
        orders=ok,
        errors=errors,
        seconds=duration,
        orders_per_second=round(ok / duration, 1),
        p50_ms=round(statistics.median(ms), 2),
        p99_ms=round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        max_ms=round(ms[-1], 2),
    )


def run_bench(database_url: str, backend: str, clients: int = CLIENTS) -> BenchResult:
    env = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}
    with ServerProcess(database_url, admin_key="bench-admin", env=env) as server:
        keys, market = _prepare(server.url, server.admin_key, clients)
        result = asyncio.run(_load(server.url, keys, market, DURATION_SECONDS))
    result.backend = backend
    return result


def _postgres_database() -> tuple[str, str] | None:
    """Create a scratch database on the local PostgreSQL, or None if it is unreachable."""
    from sqlalchemy import create_engine, text

    name = f"prophex_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception:
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, name


def _drop_postgres(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bench_api_command(
    json_out: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
    db: str | None = typer.Option(
        None, "--db", help="benchmark only this database URL (default: SQLite and local PostgreSQL)"
    ),
) -> None:
    """Orders/s and p50/p99 latency of POST /v1/orders, 32 concurrent clients, real uvicorn."""
    results: list[BenchResult] = []
    if db is not None:
        results.append(run_bench(db, db.split(":", 1)[0]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_bench(f"sqlite:///{tmp}/bench.db", "sqlite"))
        created = _postgres_database()
        if created is not None:
            url, name = created
            try:
                results.append(run_bench(url, "postgresql"))
            finally:
                _drop_postgres(name)
    if json_out:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for r in results:
        typer.echo(
            f"{r.backend:<11} {r.orders_per_second:>9.1f} orders/s  p50 {r.p50_ms:6.2f} ms  "
            f"p99 {r.p99_ms:6.2f} ms  max {r.max_ms:7.2f} ms  ({r.orders} orders, "
            f"{r.errors} errors, {r.clients} clients)"
        )


if __name__ == "__main__":
    typer.run(bench_api_command)
