"""Concurrent bots against a real server on PostgreSQL: nothing lost, nothing doubled.

16 clients each send 200 orders at once on one hot market, then across several markets. Every
acknowledged order must be in the journal exactly once, positions must add up to the orders,
and the journal must replay to the stored state. Concurrent retries of one client_order_id
must execute once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from sqlalchemy import create_engine, select

from prophex.api.schemas import OrderResult
from prophex.api.server import ServerProcess
from prophex.audit.replay import audit_database
from prophex.client import AsyncProphexClient, ProphexClient
from prophex.ledger import schema
from prophex.money import MICRO, parse_usd

pytestmark = pytest.mark.slow
CLIENTS = 16
ORDERS = 200
HOT = "hot"
SPREAD = ["m-1", "m-2", "m-3", "m-4"]


IN_FLIGHT = 4


async def _bot(url: str, key: str, index: int, markets: list[str], prefix: str) -> list[int]:
    """One bot: 200 orders, up to IN_FLIGHT outstanding at a time."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncProphexClient(url, key, retries=0) as client:

        async def order(i: int) -> OrderResult:
            async with gate:
                return await client.open_order(
                    markets[i % len(markets)],
                    "AB"[(i + index) % 2],
                    "1",
                    "1",
                    client_order_id=f"{prefix}-{index}-{i}",
                )

        results = await asyncio.gather(*(order(i) for i in range(ORDERS)))
    assert not any(r.duplicate for r in results)
    return [r.command_seq for r in results]


async def _retry_storm(url: str, key: str) -> list[tuple[int, bool]]:
    async with AsyncProphexClient(url, key, retries=0) as client:
        results = await asyncio.gather(
            *(client.open_order(HOT, "A", "2", "1", client_order_id="same-id") for _ in range(24))
        )
    return [(r.command_seq, r.duplicate) for r in results]


def test_parallel_bots_lose_and_duplicate_nothing(pg_url: str) -> None:
    with ServerProcess(pg_url, env={"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        for market in [HOT, *SPREAD]:
            admin.admin_create_market(market)
        accounts = [admin.create_account(f"bot-{i}") for i in range(CLIENTS)]
        for created in accounts:
            ProphexClient(server.url, created.api_key).deposit("10000")

        async def run(markets: list[str], prefix: str) -> list[list[int]]:
            return await asyncio.gather(
                *(_bot(server.url, a.api_key, i, markets, prefix) for i, a in enumerate(accounts))
            )

        hot_seqs = asyncio.run(run([HOT], "hot"))
        spread_seqs = asyncio.run(run(SPREAD, "spread"))
        storm = asyncio.run(_retry_storm(server.url, accounts[0].api_key))

        acknowledged = [s for seqs in hot_seqs + spread_seqs for s in seqs]
        assert len(acknowledged) == len(set(acknowledged)) == 2 * CLIENTS * ORDERS
        assert sum(not duplicate for _, duplicate in storm) == 1
        assert len({seq for seq, _ in storm}) == 1

        for index, created in enumerate(accounts):
            client = ProphexClient(server.url, created.api_key)
            positions = client.positions(limit=500).items
            by_market = Counter[str]()
            for position in positions:
                by_market[position.market] += parse_usd(position.notional) // MICRO
            expected_hot = ORDERS + (2 if index == 0 else 0)
            assert by_market[HOT] == expected_hot
            assert all(by_market[m] == ORDERS // len(SPREAD) for m in SPREAD)
            client.close()
        hot = admin.market(HOT)
        real = parse_usd(hot.real_oi_a, allow_zero=True) + parse_usd(hot.real_oi_b, allow_zero=True)
        assert real == (CLIENTS * ORDERS + 2) * MICRO

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(schema.commands.c.seq, schema.commands.c.payload).where(
                    schema.commands.c.kind == "open"
                )
            ).all()
        journal = {seq: json.loads(payload) for seq, payload in rows}
        assert set(acknowledged) <= set(journal)
        ids = Counter((body["account"], body["client_order_id"]) for body in journal.values())
        assert all(count == 1 for count in ids.values())
        assert ids[(accounts[0].account, "same-id")] == 1
        assert len(journal) == 2 * CLIENTS * ORDERS + 1
        report = audit_database(engine)
        assert report.ok, report.violations
    finally:
        engine.dispose()
