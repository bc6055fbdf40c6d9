"""Stream fan-out: per-market sequence numbers, cached snapshots, bounded subscriber queues.

Everything here runs on the event loop, which is what makes a snapshot and the deltas after it
consistent: ``publish`` (called by the block writer after a commit) and a subscription (which
enqueues a snapshot and starts listening) never interleave. A market's ``seq`` counts its
journalled transactions, the same numbering :meth:`History.market_events` reads back, so a
client that missed events can ask for them by number.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from prophex.api.views import stream_event
from prophex.engine.events import Transaction
from prophex.engine.journal import market_of


@dataclass(slots=True)
class PublishedTxn:
    txn: Transaction
    time: int
    order_id: str | None = None


@dataclass(eq=False, slots=True)
class Subscriber:
    queue: asyncio.Queue[dict[str, Any]]
    markets: set[str] = field(default_factory=set)
    overflowed: bool = False
    account: str | None = None
    """Set once the connection authenticated with a key holding ``read``."""
    account_subscribed: bool = False

    def push(self, message: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


class StreamHub:
    def __init__(self, queue_limit: int) -> None:
        self.queue_limit = queue_limit
        self.seqs: dict[str, int] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.subscribers: set[Subscriber] = set()

    def load(self, counts: dict[str, int], snapshots: dict[str, dict[str, Any]]) -> None:
        self.seqs = dict(counts)
        self.snapshots = dict(snapshots)
        for market in snapshots:
            self.seqs.setdefault(market, 0)

    def subscriber(self) -> Subscriber:
        sub = Subscriber(asyncio.Queue(maxsize=self.queue_limit))
        self.subscribers.add(sub)
        return sub

    def drop(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def snapshot_message(self, market: str) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "market": market,
            "seq": self.seqs.get(market, 0),
            "data": self.snapshots[market],
        }

    def publish_account(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Fan out one block's account events to the connections subscribed to that account."""
        if not events:
            return
        listening = [s for s in self.subscribers if s.account_subscribed]
        if not listening:
            return
        for account, message in events:
            for sub in listening:
                if sub.account == account:
                    sub.push(message)

    def publish(self, txns: list[PublishedTxn], views: dict[str, dict[str, Any]]) -> None:
        """Number and fan out one committed block's market transactions, in journal order."""
        self.snapshots.update(views)
        for known in views:
            self.seqs.setdefault(known, 0)
        for item in txns:
            market = market_of(item.txn.event)
            if market is None:
                continue
            seq = self.seqs.get(market, 0) + 1
            self.seqs[market] = seq
            message = stream_event(seq, item.txn.seq, item.time, item.txn.event, item.order_id)
            for sub in self.subscribers:
                if market in sub.markets:
                    sub.push(message)
