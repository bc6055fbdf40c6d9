"""The SDK against a real ``prophex serve`` (uvicorn subprocess): Decimal round trip,
``with_key`` keeping every setting, the blocking wrapper and the async core giving the same
answers, and the market stream surviving a server restart with backoff, then raising
:class:`StreamUnavailable` after its bound once the server stays down."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest

from prophex.api.server import ServerProcess
from prophex.sdk import (
    AsyncProphexClient,
    ProphexApiError,
    ProphexClient,
    StreamUnavailable,
    backoff_delay,
)

pytestmark = pytest.mark.slow
ENV = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0", "PROPHEX_HEARTBEAT_SECONDS": "0.5"}


@pytest.fixture
def server(sqlite_url: str) -> Any:
    with ServerProcess(sqlite_url, env=ENV) as running:
        yield running


def _trader(server: ServerProcess, market: str, **options: Any) -> ProphexClient:
    admin = ProphexClient(server.url, admin_key=server.admin_key)
    admin.admin_create_market(market, virtual_oi=Decimal("5000"))
    created = admin.create_account(market)
    return (
        admin.with_key(created.api_key)
        if not options
        else ProphexClient(server.url, created.api_key, **options)
    )


def test_money_round_trips_as_decimal(server: ServerProcess) -> None:
    trader = _trader(server, "dec")
    change = trader.deposit(Decimal("123.456789"))
    assert change.wallet_balance == Decimal("123.456789")
    assert isinstance(change.wallet_balance, Decimal)
    quote = trader.quote("dec", "A", Decimal("10.5"), 2)
    assert quote.notional == Decimal("21") and quote.pre_trade_price == Decimal("0.5")
    order = trader.open_order("dec", "A", Decimal("10.5"), 2, max_avg_price=quote.post_trade_price)
    assert order.fee == quote.fee and order.average_price == quote.average_price
    position = trader.position(order.position_id)
    assert position.notional == Decimal("21") and position.margin == Decimal("10.5")
    account = trader.account()
    assert account.wallet_balance == Decimal("123.456789") - Decimal("10.5") - order.fee
    with pytest.raises(TypeError):
        trader.deposit(1.5)  # type: ignore[arg-type]
    with pytest.raises(ProphexApiError) as refused:
        trader.withdraw(Decimal("1000000"))
    assert refused.value.code == "INSUFFICIENT_BALANCE"


def test_with_key_keeps_timeout_retries_transport_and_ids(server: ServerProcess) -> None:
    transport = httpx.AsyncHTTPTransport(retries=0)
    admin = ProphexClient(
        server.url, admin_key=server.admin_key, timeout=3.5, retries=5,
        transport=transport, retry_backoff=0.2, id_prefix="wk",
    )  # fmt: skip
    created = admin.create_account("wk")
    trader = admin.with_key(created.api_key)
    assert trader.settings == admin.settings
    assert trader.settings.timeout == 3.5 and trader.settings.retries == 5
    assert trader.core.http is admin.core.http  # same pool, same transport
    assert trader.core.http.timeout == httpx.Timeout(3.5)
    assert trader.api_key == created.api_key and admin.api_key is None
    assert trader.next_id() == "wk-1" and admin.next_id() == "wk-2"
    assert trader.deposit("50").wallet_balance == Decimal("50")
    trader.close()  # a with_key client leaves the shared pool open
    assert admin.health().status == "ok"
    admin.close()


def test_blocking_wrapper_and_async_core_answer_the_same(server: ServerProcess) -> None:
    sync = _trader(server, "same-s")
    sync.deposit("1000")
    admin = ProphexClient(server.url, admin_key=server.admin_key)
    admin.admin_create_market("same-a", virtual_oi="5000")
    async_key = admin.create_account("same-a").api_key

    async def run_async() -> list[Any]:
        async with AsyncProphexClient(server.url, async_key) as client:
            await client.deposit("1000")
            opened = await client.open_order("same-a", "B", "20", "3", client_order_id="a-1")
            closed = await client.close_position(opened.position_id, notional="15")
            return [opened, closed, await client.account(), await client.market("same-a")]

    opened = sync.open_order("same-s", "B", "20", "3", client_order_id="s-1")
    closed = sync.close_position(opened.position_id, notional="15")
    answers = [opened, closed, sync.account(), sync.market("same-s")]
    skip = {"account", "id", "market", "client_order_id", "command_seq", "created_at"}
    skip |= {
        "txn_seq",
        "position_id",
        "order_id",
        "fill_id",
        "wall_time",
        "caps",
    }  # caps: fund-scaled
    for mine, theirs in zip(answers, asyncio.run(run_async()), strict=True):
        assert type(mine) is type(theirs)
        assert mine.model_dump(exclude=skip) == theirs.model_dump(exclude=skip)
    assert closed.realized_pnl is not None and closed.fee > 0
    # The blocking stream iterator: the snapshot (after the open and the close), then a trade.
    events = sync.stream(["same-s"], max_events=2, idle_timeout=5)
    snapshot = next(events)
    assert (snapshot["type"], snapshot["seq"]) == ("snapshot", 2)
    again = sync.open_order("same-s", "A", "5", "2")
    trade = next(events)
    assert (trade["type"], trade["seq"]) == ("trade", 3)
    assert Decimal(trade["data"]["average_price"]) == again.average_price
    assert list(events) == []  # max_events reached: the iterator ends and closes the socket


def test_market_stream_reconnects_after_restart_with_backoff_then_gives_up(
    sqlite_url: str,
) -> None:
    server = ServerProcess(sqlite_url, env=ENV).start()
    try:
        trader = _trader(server, "restart")
        trader.deposit("1000")
        asyncio.run(_restart_scenario(server, trader))
    finally:
        server.stop()


async def _restart_scenario(server: ServerProcess, trader: ProphexClient) -> None:
    base, cap = 0.05, 0.4
    client = AsyncProphexClient(server.url, trader.api_key)
    stream = client.stream(
        ["restart"], idle_timeout=5, backoff_base=base, backoff_max=cap, max_attempts=200,
        rng=random.Random(7),
    )  # fmt: skip
    events: list[dict[str, Any]] = []
    wanted = 1 + 10

    async def consume() -> None:
        async for event in stream:
            events.append(event)
            if len(events) == wanted:
                return

    consumer = asyncio.create_task(consume())

    async def trade(first: int) -> None:
        for i in range(first, first + 5):
            await client.open_order("restart", "AB"[i % 2], "2", "2", client_order_id=f"r-{i}")

    while not events:
        await asyncio.sleep(0.05)
    await trade(0)
    while len(events) < 6:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(server.stop)
    while len(stream.delays) < 3:  # the server is down: refused tries, each after a backoff
        await asyncio.sleep(0.05)
    await asyncio.to_thread(server.start)
    await trade(5)
    await asyncio.wait_for(consumer, timeout=90)

    assert events[0]["type"] == "snapshot"
    assert [e["seq"] for e in events[1:]] == list(range(1, 11))  # no gap, no repeat
    assert [e["type"] for e in events[1:]] == ["trade"] * 10
    assert stream.reconnects >= 1
    rng = random.Random(7)
    assert stream.delays == [
        backoff_delay(n, base, cap, rng) for n in range(1, len(stream.delays) + 1)
    ]

    # The server goes away for good: the iterator gives up after max_attempts tries.
    stream.max_attempts = 4
    await asyncio.to_thread(server.stop)
    before = len(stream.delays)
    with pytest.raises(StreamUnavailable) as gone:
        async for _event in stream:
            pass
    assert gone.value.attempts == 4
    assert len(stream.delays) - before == 3  # immediate first retry, then 3 backoffs
    await client.aclose()
