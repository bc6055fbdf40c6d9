"""The private account channel through the SDK iterator against a real server, across a
forced restart: no gap, no repeat; every fill agrees with ``GET /v1/fills`` and the ledger
(joined by order_id, to the micro-dollar); the account's liquidation and settlement arrive.

Needs the server side of issue 12 (private channel, fills, order ids in the ledger), which is
merged: a stream that ends before its snapshot fails the test."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from decimal import Decimal
from typing import Any

import pytest

from prophex.api.server import REPO_ROOT, ServerProcess
from prophex.sdk import AsyncProphexClient, ProphexClient
from prophex.sdk.models import Fill

sys.path.insert(0, str(REPO_ROOT / "examples" / "bots"))
from common import mismatches

pytestmark = pytest.mark.slow
ENV = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0", "PROPHEX_HEARTBEAT_SECONDS": "0.5"}


def test_account_stream_survives_a_restart_exactly_once(db_url: str) -> None:
    server = ServerProcess(db_url, env=ENV).start()
    try:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        admin.admin_create_market("acct-a", virtual_oi="200", wallet_cap="10000")
        admin.admin_create_market("acct-b", virtual_oi="5000")
        trader_key = admin.create_account("trader").api_key
        pusher = admin.with_key(admin.create_account("pusher").api_key)
        admin.with_key(trader_key).deposit("1000")
        pusher.deposit("2000")
        asyncio.run(_scenario(server, admin, pusher, trader_key))
    finally:
        server.stop()


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.05)


async def _scenario(
    server: ServerProcess, admin: ProphexClient, pusher: ProphexClient, key: str
) -> None:
    client = AsyncProphexClient(server.url, key, id_prefix="acct-7")
    stream = client.account_stream(idle_timeout=5, backoff_base=0.05, backoff_max=0.5,
                                   max_attempts=200)  # fmt: skip
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in stream:
            events.append(event)

    consumer = asyncio.create_task(consume())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_until(lambda: events or consumer.done()), timeout=30)
    if consumer.done():  # the private channel is part of the server: no skip
        await client.aclose()
        pytest.fail(f"the account stream ended before its snapshot: {consumer.exception()!r}")
    assert events[0]["type"] == "snapshot"

    placed = []
    for i in range(4):
        placed.append(await client.open_order("acct-b", "AB"[i % 2], "5", "2"))
    placed.append(await client.close_position(placed[0].position_id))
    await _until(lambda: sum(e["type"] == "fill" for e in events) >= 5)
    await asyncio.to_thread(server.stop)
    await _until(lambda: len(stream.delays) >= 2)
    await asyncio.to_thread(server.start)
    # After the restart: a liquidation of the trader and a settlement of its other position.
    victim = await client.open_order("acct-a", "A", "100", "3")
    placed.append(victim)
    pushed = pusher.open_order("acct-a", "B", "400", "3")
    assert len(pushed.liquidations) == 1
    admin.admin_resolve("acct-b", "A")
    await asyncio.wait_for(
        _until(lambda: {"liquidation", "settlement"} <= {e["type"] for e in events}), timeout=60
    )
    await asyncio.wait_for(
        _until(lambda: sum(e["type"] == "fill" for e in events) >= len(placed)), timeout=60
    )
    await stream.close()
    consumer.cancel()

    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no repeat
    assert stream.reconnects >= 1
    streamed = [Fill.model_validate(e["data"]) for e in events if e["type"] == "fill"]
    fills = await client.collect(client.fills, limit=500)
    ledger = await client.collect(client.ledger, limit=500)
    assert mismatches(fills, ledger, placed, streamed) == []
    assert {f.order_id for f in fills} == {o.order_id for o in placed}
    assert sum((f.fee for f in fills), Decimal(0)) == sum((o.fee for o in placed), Decimal(0))
    await client.aclose()
