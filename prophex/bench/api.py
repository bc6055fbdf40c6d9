"""``prophex bench api``: orders per second and latency through HTTP against a real server.

The server runs as a uvicorn subprocess (one process, as deployed) with its settings as
shipped: the per-key rate limiter stays on (``PROPHEX_RATE_LIMIT_PER_SECOND`` is not
touched). Each simulated client behaves like a bot: its own account and key, one keep-alive
connection, one order in flight; it sends the next ``POST /v1/orders`` only after the answer
to the previous one, with a deterministic ``client_order_id`` (``bench-<client>-<n>``) that
is also its ``Idempotency-Key``, as the SDK sends it. A ``429`` is waited out for its
``Retry-After`` like the SDK does, and counted.

The load generator itself is a minimal HTTP/1.1 client on raw asyncio streams: on a 2-core
machine an HTTP library in the generator would eat the core the server needs and measure the
client instead. Only answers received after a warm-up second count. Latency is measured per
order from send to full answer; percentiles are nearest-rank on the sorted latencies.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field

import typer

from prophex.api.server import REPO_ROOT, ServerProcess
from prophex.engine.domain import Side
from prophex.sdk import ProphexClient

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
    rate_limited: int
    seconds: float
    orders_per_second: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    error_statuses: dict[str, int] = field(default_factory=dict)
    build: dict[str, str] = field(default_factory=dict)


def build_info() -> dict[str, str]:
    """What produced the figures: interpreter, platform, cores, commit."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=5, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        commit = ""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "commit": commit or "unknown",
        "executable": sys.executable,
    }


def percentile(sorted_ms: list[float], per_mille: int) -> float:
    """Nearest-rank percentile of an ascending list: the value of rank
    ``ceil(per_mille * n / 1000)`` (1-based); 0 when empty."""
    if not sorted_ms:
        return 0.0
    rank = max(1, -(-per_mille * len(sorted_ms) // 1000))
    return sorted_ms[min(len(sorted_ms), rank) - 1]


class _Connection:
    """One keep-alive HTTP/1.1 connection sending pre-encoded requests."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, key: str, body: bytes, idem: str) -> tuple[int, float]:
        """Status and ``Retry-After`` seconds (0 when absent)."""
        if self.reader is None or self.writer is None:  # survives python -O (issue 8)
            raise RuntimeError("connect() first")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {key}\r\n"
            f"Idempotency-Key: {idem}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length, retry_after = 0, 0.0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "retry-after" and value.strip().isdigit():
                retry_after = float(value.strip())
        await self.reader.readexactly(length)
        return int(status_line.split()[1]), retry_after

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass(slots=True)
class _Tally:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    limited: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


async def _worker(
    url: str, key: str, index: int, market: str, stop_at: float, warm_until: float, tally: _Tally
) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = _Connection(host, int(port))
    await conn.open()
    side, n = Side.A, 0
    try:
        while (now := time.perf_counter()) < stop_at:
            n += 1
            order_id = f"bench-{index}-{n}"
            body = json.dumps(
                {"market": market, "side": side, "margin": "1", "leverage": "1",
                 "client_order_id": order_id}
            ).encode()  # fmt: skip
            side = side.other
            status, retry_after = await conn.post("/v1/orders", key, body, order_id)
            done = time.perf_counter()
            if now >= warm_until:
                if status == 200:
                    tally.ok += 1
                    tally.latencies.append(done - now)
                else:
                    tally.statuses[str(status)] = tally.statuses.get(str(status), 0) + 1
            if status == 429:
                tally.limited += 1
                await asyncio.sleep(retry_after or 0.05)
    finally:
        conn.close()


def _prepare(url: str, admin_key: str, clients: int) -> tuple[list[str], str]:
    admin = ProphexClient(url, admin_key=admin_key)
    market = "bench-hot"
    admin.admin_create_market(market, wallet_cap="1000000", market_oi_cap="100000000")
    keys = []
    for i in range(clients):
        created = admin.create_account(f"bench-{i}")
        admin.with_key(created.api_key).deposit("1000000")
        keys.append(created.api_key)
    admin.close()
    return keys, market


async def _load(url: str, keys: list[str], market: str, duration: float) -> BenchResult:
    tally = _Tally()
    start = time.perf_counter()
    warm_until = start + WARMUP_SECONDS
    stop_at = warm_until + duration
    await asyncio.gather(
        *(_worker(url, key, i, market, stop_at, warm_until, tally) for i, key in enumerate(keys))
    )
    ms = sorted(x * 1000 for x in tally.latencies)
    errors = sum(tally.statuses.values())
    return BenchResult(
        backend="",
        clients=len(keys),
        orders=tally.ok,
        errors=errors,
        rate_limited=tally.limited,
        seconds=duration,
        orders_per_second=round(tally.ok / duration, 1),
        p50_ms=round(percentile(ms, 500), 2),
        p99_ms=round(percentile(ms, 990), 2),
        p999_ms=round(percentile(ms, 999), 2),
        max_ms=round(ms[-1] if ms else 0.0, 2),
        error_statuses=dict(sorted(tally.statuses.items())),
    )


def run_bench(
    database_url: str,
    backend: str,
    clients: int = CLIENTS,
    duration: float = DURATION_SECONDS,
) -> BenchResult:
    with ServerProcess(database_url, admin_key="bench-admin") as server:
        keys, market = _prepare(server.url, server.admin_key, clients)
        result = asyncio.run(_load(server.url, keys, market, duration))
    result.backend = backend
    result.build = build_info()
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
    clients: int = typer.Option(CLIENTS, "--clients", min=1, help="concurrent bot clients"),
    duration: float = typer.Option(
        DURATION_SECONDS, "--duration", min=0.5, help="measured seconds (after 1 s warm-up)"
    ),
) -> None:
    """Orders/s, p50/p99/p99.9 latency and errors of POST /v1/orders from closed-loop bot
    clients (one order in flight each, rate limiter on as shipped), real uvicorn."""
    results: list[BenchResult] = []
    if db is not None:
        results.append(run_bench(db, db.split(":", 1)[0], clients, duration))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_bench(f"sqlite:///{tmp}/bench.db", "sqlite", clients, duration))
        created = _postgres_database()
        if created is not None:
            url, name = created
            try:
                results.append(run_bench(url, "postgresql", clients, duration))
            finally:
                _drop_postgres(name)
    if json_out:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for r in results:
        typer.echo(
            f"{r.backend:<11} {r.orders_per_second:>9.1f} orders/s  p50 {r.p50_ms:6.2f} ms  "
            f"p99 {r.p99_ms:6.2f} ms  p99.9 {r.p999_ms:7.2f} ms  max {r.max_ms:7.2f} ms  "
            f"({r.orders} orders, {r.errors} errors, {r.rate_limited} rate-limited, "
            f"{r.clients} clients, {r.build.get('python', '')})"
        )


if __name__ == "__main__":
    typer.run(bench_api_command)
