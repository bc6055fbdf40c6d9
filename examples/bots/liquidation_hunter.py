"""A liquidation hunter: push a skewed market through its crowd's liquidation prices.

On a vAMM every levered position has a liquidation price, and a crowd that piled into one
side sits close to it. The hunter watches the public stream; when price_A is more than
``--trigger`` away from 0.5 it buys the cheap side (``--margin`` x ``--leverage``), which
moves the price against the crowd. Liquidations happen inside the same command, so its own
order answer lists them; the public stream shows them to everyone, and the hunter then closes
its position (each liquidated position is closed into the curve, moving the price further
its way). The private stream reports the hunter's own orders and fills as they happen.

It stops after ``--hunts`` liquidations it caused, or after ``--duration`` seconds, closes
what it holds, checks that the fills of the private stream are exactly those of
``GET /v1/fills``, reconciles them against the ledger (joined by order_id, to the
micro-dollar) and exits 1 on any mismatch. Order ids are ``hunt-<seed>-<n>``.

    python examples/bots/liquidation_hunter.py --url http://127.0.0.1:8000 --key pxk_... \
        --market small-v --margin 50 --leverage 3 --duration 20
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

from common import parse_args, reconcile

from prophex.sdk import (
    AccountStream,
    AsyncProphexClient,
    MarketStream,
    ProphexApiError,
    ProphexClient,
)
from prophex.sdk.models import Fill, Order

FAIR = Decimal("0.5")
OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--trigger", {"default": "0.05", "help": "distance of price_A from 0.5 to act on"}),
    ("--hunts", {"type": int, "default": 1, "help": "stop after this many liquidations"}),
    ("--duration", {"type": float, "default": 30.0, "help": "seconds to hunt at most"}),
]


class Hunter:
    def __init__(self, client: AsyncProphexClient, market: str, args: Any) -> None:
        self.client = client
        self.market = market
        self.margin = Decimal(args.margin)
        self.leverage = Decimal(args.leverage)
        self.trigger = Decimal(args.trigger)
        self.hunts_wanted = args.hunts
        self.placed: list[Order] = []
        self.streamed: list[Fill] = []
        self.caused = 0
        self.holding: int | None = None
        self.done = asyncio.Event()
        self.public: MarketStream | None = None
        self.private: AccountStream | None = None

    async def on_price(self, price_a: Decimal) -> None:
        if self.done.is_set() or self.holding is not None or abs(price_a - FAIR) <= self.trigger:
            return
        side = "B" if price_a > FAIR else "A"
        try:
            order = await self.client.open_order(self.market, side, self.margin, self.leverage)
        except ProphexApiError as error:
            print(f"  push refused: {error.code} {error.detail}")
            return
        self.placed.append(order)
        self.holding = order.position_id
        self.caused += len(order.liquidations)
        print(
            f"  price_A {price_a}: pushed {order.notional} {side} at {order.average_price}, "
            f"liquidated {len(order.liquidations)}"
        )
        if order.liquidations:
            await self.take_profit()

    async def take_profit(self) -> None:
        if self.holding is None:
            return
        closed = await self.client.close_position(self.holding)
        self.placed.append(closed)
        self.holding = None
        print(f"  closed: pnl {closed.realized_pnl} USD")
        if self.caused >= self.hunts_wanted:
            self.done.set()

    async def watch_public(self) -> None:
        self.public = self.client.stream([self.market], idle_timeout=15)
        async for event in self.public:
            kind, data = event["type"], event.get("data", {})
            if kind == "snapshot" or kind == "trade":
                await self.on_price(Decimal(data["price_a"]))
            elif kind == "liquidation":
                print(f"  public: liquidation of {data['notional']} {data['side']}")
                await self.take_profit()
            elif kind == "resolution":
                self.done.set()

    async def watch_private(self) -> None:
        self.private = self.client.account_stream(idle_timeout=15)
        async for event in self.private:
            if event["type"] == "fill":
                self.streamed.append(Fill.model_validate(event["data"]))
            elif event["type"] in ("liquidation", "settlement"):
                print(f"  private: {event['type']} {event['data']}")

    async def wait_for_private_fills(self, timeout: float) -> None:
        """The private stream is asynchronous: give it time to deliver our last fills."""
        wanted = {o.order_id for o in self.placed}
        for _ in range(int(timeout / 0.05)):
            if wanted <= {f.order_id for f in self.streamed}:
                return
            await asyncio.sleep(0.05)


async def hunt(args: Any) -> Hunter:
    async with AsyncProphexClient(args.url, args.key, id_prefix=f"hunt-{args.seed}") as client:
        market = args.market or (await client.markets(status="open", limit=1)).items[0].id
        hunter = Hunter(client, market, args)
        tasks = [
            asyncio.create_task(hunter.watch_private()),
            asyncio.create_task(hunter.watch_public()),
        ]
        for task in tasks:  # a stream that fails (e.g. a refused key) ends the hunt at once
            task.add_done_callback(lambda _task: hunter.done.set())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hunter.done.wait(), timeout=args.duration)
        if hunter.public is not None:  # close the streams (ends their iterators), then cancel
            await hunter.public.close()
        for task in tasks[1:]:
            task.cancel()
        await hunter.take_profit()
        await hunter.wait_for_private_fills(timeout=10)
        if hunter.private is not None:
            await hunter.private.close()
        tasks[0].cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        print(f"done: caused {hunter.caused} liquidations with {len(hunter.placed)} orders")
        return hunter


def main() -> None:
    args = parse_args("Liquidation hunter", OPTIONS, margin="50", leverage="3")
    hunter = asyncio.run(hunt(args))
    with ProphexClient(args.url, args.key) as client:
        reconcile(client, hunter.placed, hunter.streamed)


if __name__ == "__main__":
    main()
