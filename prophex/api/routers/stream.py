"""``/v1/stream``: snapshot then numbered deltas per market, heartbeats, resync.

Protocol (JSON text frames):

* client ``{"op": "subscribe", "markets": ["m1", ...]}`` -> per market a ``snapshot`` message
  with the market view and its current ``seq``, then every event of that market with
  ``seq`` = previous + 1 (types ``trade``, ``liquidation``, ``resolution``, ``status``,
  ``funding``).
* client ``{"op": "resync", "market": "m1", "from_seq": N}`` -> events N, N+1, ... replayed from
  the journal, then live again with no gap and no repeat (this also subscribes).
* client ``{"op": "unsubscribe", "markets": [...]}``, ``{"op": "ping"}`` -> ``pong``.
* server ``heartbeat`` after ``heartbeat_seconds`` of silence, carrying the latest ``seq`` of
  each subscribed market, so a silent freeze and a missed tail are both detectable.
* a client that cannot keep up is disconnected (close code 4008) rather than silently
  skipped; it reconnects and resyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from prophex.api.deps import AppContext
from prophex.api.hub import Subscriber
from prophex.api.views import stream_event

router = APIRouter()
REPLAY_PAGE = 1_000
MAX_MARKETS = 1_000


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


class _Session:
    def __init__(self, ctx: AppContext, ws: WebSocket, sub: Subscriber) -> None:
        self.ctx = ctx
        self.ws = ws
        self.sub = sub
        self.last_sent: dict[str, int] = {}

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(message, separators=(",", ":")))

    async def deliver(self, message: dict[str, Any]) -> None:
        """Send a queued message, dropping deltas already sent by a replay."""
        kind = message["type"]
        if kind == "_resync":
            await self.replay(message["market"], message["from_seq"])
            return
        market = str(message.get("market", ""))
        if kind == "snapshot":
            self.last_sent[market] = message["seq"]
        elif market and "seq" in message:
            if message["seq"] <= self.last_sent.get(market, 0) or market not in self.sub.markets:
                return
            self.last_sent[market] = message["seq"]
        await self.send(message)

    async def replay(self, market: str, from_seq: int) -> None:
        history = self.ctx.history
        seq = from_seq
        while True:
            rows = await anyio.to_thread.run_sync(history.market_events, market, seq, REPLAY_PAGE)
            for row in rows:
                await self.send(stream_event(seq, row.seq, row.time, row.kind, row.data))
                self.last_sent[market] = max(self.last_sent.get(market, 0), seq)
                seq += 1
            if len(rows) < REPLAY_PAGE:
                break
        await self.send({"type": "resynced", "market": market, "seq": seq - 1})

    async def sender(self) -> None:
        heartbeat = self.ctx.settings.heartbeat_seconds
        while True:
            if self.sub.overflowed:
                await self.ws.close(code=4008, reason="slow consumer: reconnect and resync")
                return
            try:
                message = await asyncio.wait_for(self.sub.queue.get(), timeout=heartbeat)
            except TimeoutError:
                seqs = {m: self.ctx.hub.seqs.get(m, 0) for m in sorted(self.sub.markets)}
                await self.send({"type": "heartbeat", "seqs": seqs})
                continue
            await self.deliver(message)

    def handle(self, message: Any) -> None:
        """Apply one client message; replies go through the queue to keep ordering."""
        hub = self.ctx.hub
        if not isinstance(message, dict):
            self.sub.push(_error("VALIDATION_ERROR", "messages are JSON objects with an 'op'"))
            return
        op = message.get("op")
        if op == "ping":
            self.sub.push({"type": "pong"})
        elif op in ("subscribe", "unsubscribe"):
            markets = message.get("markets")
            if not isinstance(markets, list) or not all(isinstance(m, str) for m in markets):
                self.sub.push(_error("VALIDATION_ERROR", "markets must be a list of market ids"))
                return
            for market in markets[:MAX_MARKETS]:
                if op == "unsubscribe":
                    self.sub.markets.discard(market)
                elif market not in hub.snapshots:
                    self.sub.push(_error("NOT_FOUND", f"market {market!r} does not exist"))
                else:
                    self.sub.markets.add(market)
                    self.sub.push(hub.snapshot_message(market))
        elif op == "resync":
            market, from_seq = message.get("market"), message.get("from_seq")
            if market not in hub.snapshots or not isinstance(from_seq, int) or from_seq < 1:
                self.sub.push(
                    _error("VALIDATION_ERROR", "resync needs a known market and from_seq >= 1")
                )
                return
            self.sub.markets.add(market)
            self.sub.push({"type": "_resync", "market": market, "from_seq": from_seq})
        else:
            self.sub.push(_error("VALIDATION_ERROR", f"unknown op {op!r}"))


@router.websocket("/v1/stream")
async def stream(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    await ws.accept()
    sub = ctx.hub.subscriber()
    session = _Session(ctx, ws, sub)
    sender = asyncio.create_task(session.sender())
    try:
        while not sender.done():
            receive = asyncio.create_task(ws.receive_text())
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            try:
                message = json.loads(receive.result())
            except json.JSONDecodeError:
                sub.push(_error("MALFORMED_REQUEST", "not valid JSON"))
                continue
            session.handle(message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ctx.hub.drop(sub)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
