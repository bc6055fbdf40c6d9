"""The market stream against a real server: every trade, in order, no gap, across a forced
disconnect; heartbeats when idle; explicit resync from the journal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from prophex.api.server import ServerProcess
from prophex.client import AsyncProphexClient, MarketStream, ProphexClient

pytestmark = pytest.mark.slow
MARKET = "streamed"
BOTS = 4
ORDERS = 60


async def _trade(url: str, key: str, index: int) -> None:
    async with AsyncProphexClient(url, key) as client:
        for i in range(ORDERS):
            await client.open_order(MARKET, "AB"[(i + index) % 2], "1", "1")


async def _run(url: str, admin_key: str) -> tuple[list[dict[str, Any]], int]:
    admin = ProphexClient(url, admin_key=admin_key)
    admin.admin_create_market(MARKET)
    keys = []
    for i in range(BOTS):
        created = admin.create_account(f"streamer-{i}")
        ProphexClient(url, created.api_key).deposit("1000")
        keys.append(created.api_key)
    stream = MarketStream(url.replace("http", "ws") + "/v1/stream", [MARKET], idle_timeout=5)
    events: list[dict[str, Any]] = []
    expected = BOTS * ORDERS

    async def consume() -> None:
        async for event in stream:
            events.append(event)
            trades = sum(e["type"] == "trade" for e in events)
            if trades == expected // 3 and stream.reconnects == 0:
                await stream.drop_connection()
            if trades == expected:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    await asyncio.gather(*(_trade(url, key, i) for i, key in enumerate(keys)))
    await asyncio.wait_for(consumer, timeout=60)
    await stream.close()
    return events, stream.reconnects


@pytest.fixture
def server(sqlite_url: str) -> Any:
    env = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0", "PROPHEX_HEARTBEAT_SECONDS": "0.5"}
    with ServerProcess(sqlite_url, env=env) as running:
        yield running


def test_every_trade_in_order_after_forced_disconnect(server: ServerProcess) -> None:
    events, reconnects = asyncio.run(_run(server.url, server.admin_key))
    assert reconnects >= 1
    assert events[0]["type"] == "snapshot" and events[0]["seq"] == 0
    deltas = events[1:]
    assert [e["seq"] for e in deltas] == list(range(1, BOTS * ORDERS + 1))
    feed: list[int] = []
    cursor = None
    client = ProphexClient(server.url)
    while True:
        page = client.trades(market=MARKET, cursor=cursor, limit=500)
        feed += [t.txn_seq for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [e["data"]["txn_seq"] for e in deltas] == feed


async def _raw(url: str) -> list[dict[str, Any]]:
    received = []
    async with websockets.connect(url.replace("http", "ws") + "/v1/stream") as ws:
        await ws.send(json.dumps({"op": "subscribe", "markets": ["quiet", "absent"]}))
        for _ in range(3):
            received.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=5)))
        await ws.send(json.dumps({"op": "resync", "market": "quiet", "from_seq": 1}))
        for _ in range(3):
            received.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=5)))
    return received


def test_heartbeat_errors_and_resync(server: ServerProcess) -> None:
    admin = ProphexClient(server.url, admin_key=server.admin_key)
    admin.admin_create_market("quiet")
    admin.admin_halt("quiet")
    admin.admin_resume("quiet")
    snapshot, error, heartbeat, first, second, done = asyncio.run(_raw(server.url))
    assert (snapshot["type"], snapshot["seq"]) == ("snapshot", 2)
    assert (error["type"], error["code"]) == ("error", "NOT_FOUND")
    assert heartbeat == {"type": "heartbeat", "seqs": {"quiet": 2}}
    assert (first["seq"], first["kind"], first["data"]["status"]) == (1, "halt", "halted")
    assert (second["seq"], second["kind"]) == (2, "resume")
    assert done == {"type": "resynced", "market": "quiet", "seq": 2}
