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
import logging
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from prophex.api import views
from prophex.api.deps import AppContext, check_scope, identify
from prophex.api.errors import Forbidden, MalformedRequest, ScopeRequired
from prophex.api.hub import Subscriber
from prophex.api.inputs import strict_json
from prophex.api.views import stream_event
from prophex.errors import ProphexError

log = logging.getLogger("prophex.api.stream")

router = APIRouter()
REPLAY_PAGE = 1_000
MAX_MARKETS = 1_000
MAX_FRAME_BYTES = 64 * 1024
MAX_SEQ = 2**62
CLOSE_INVALID_FRAME = 1007
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_SLOW = 4008


def _error(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, **extra}


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _seq_arg(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQ:
        return None
    return value


class _Session:
    def __init__(self, ctx: AppContext, ws: WebSocket, sub: Subscriber) -> None:
        self.ctx = ctx
        self.ws = ws
        self.sub = sub
        self.last_sent: dict[str, int] = {}
        self.account_sent = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(message, separators=(",", ":")))

    async def deliver(self, message: dict[str, Any]) -> None:
        """Send a queued message, dropping deltas already sent by a replay or a snapshot."""
        kind = message["type"]
        if kind == "_resync":
            await self.replay(message["market"], message["from_seq"])
            return
        if kind == "_account_resync":
            await self.replay_account(message["from_seq"])
            return
        if message.get("channel") == "account":
            if kind == "snapshot":
                self.account_sent = message["seq"]
            elif "seq" in message:
                if message["seq"] <= self.account_sent or not self.sub.account_subscribed:
                    return
                self.account_sent = message["seq"]
            await self.send(message)
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
                await self.send(stream_event(seq, row.seq, row.time, row.event, row.order_id))
                self.last_sent[market] = max(self.last_sent.get(market, 0), seq)
                seq += 1
            if len(rows) < REPLAY_PAGE:
                break
        await self.send({"type": "resynced", "market": market, "seq": seq - 1})

    async def replay_account(self, from_seq: int) -> None:
        account = self.sub.account
        if account is None:  # an explicit check (survives python -O); handle_account checks too
            await self.send(_error("UNAUTHORIZED", 'send {"op": "auth", "key": ...} first'))
            return
        log = self.ctx.account_log
        seq = from_seq
        while True:
            rows = await anyio.to_thread.run_sync(log.replay, account, seq, REPLAY_PAGE)
            for row in rows:
                await self.send(row)
                self.account_sent = max(self.account_sent, row["seq"])
                seq = row["seq"] + 1
            if len(rows) < REPLAY_PAGE:
                break
        await self.send({"type": "resynced", "channel": "account", "seq": seq - 1})

    async def sender(self) -> None:
        heartbeat = self.ctx.settings.heartbeat_seconds
        while True:
            if self.sub.overflowed:
                await self.ws.close(code=CLOSE_SLOW, reason="slow consumer: reconnect and resync")
                return
            try:
                message = await asyncio.wait_for(self.sub.queue.get(), timeout=heartbeat)
            except TimeoutError:
                seqs = {m: self.ctx.hub.seqs.get(m, 0) for m in sorted(self.sub.markets)}
                beat: dict[str, Any] = {"type": "heartbeat", "seqs": seqs}
                if self.sub.account_subscribed and self.sub.account is not None:
                    beat["account_seq"] = self.ctx.account_log.seqs.get(self.sub.account, 0)
                await self.send(beat)
                continue
            await self.deliver(message)

    def account_snapshot(self) -> dict[str, Any]:
        """The account view, its open positions and its current sequence number, read under
        the sequencer's lock (the block writer numbers account events under the same lock)."""
        account = self.sub.account
        if account is None:  # an explicit check (survives python -O); handle_account checks too
            raise _Close(CLOSE_UNAUTHORIZED, "authenticate before the account channel")
        with self.ctx.read() as exchange:
            state = exchange.state
            view = views.account_view(state, account).model_dump()
            view["positions"] = [
                views.position_view(state, p).model_dump()
                for p in sorted(views.account_positions(state, account), key=lambda p: p.id)
                if p.status == "open"
            ]
            view["sim_time"] = state.time
            seq = self.ctx.account_log.seqs.get(account, 0)
        return {"type": "snapshot", "channel": "account", "seq": seq, "data": view}

    def authenticate(self, message: dict[str, Any]) -> None:
        key = message.get("key")
        if not isinstance(key, str) or not key or len(key) > 200:
            raise _Close(CLOSE_UNAUTHORIZED, "auth needs a key")
        try:
            record = identify(self.ctx, key)
            caller = check_scope(record, "read")
        except ScopeRequired as error:
            raise _Close(CLOSE_FORBIDDEN, error.message) from None
        except Forbidden as error:
            raise _Close(CLOSE_FORBIDDEN, error.message) from None
        except ProphexError as error:
            raise _Close(CLOSE_UNAUTHORIZED, error.message) from None
        if self.sub.account is not None and self.sub.account != caller.account:
            raise _Close(CLOSE_FORBIDDEN, "this connection is bound to another account")
        self.sub.account = caller.account
        self.sub.push({"type": "authenticated", "account": caller.account})

    def handle_account(self, op: str, message: dict[str, Any]) -> None:
        if self.sub.account is None:
            self.sub.push(_error("UNAUTHORIZED", 'send {"op": "auth", "key": ...} first'))
            return
        if op == "subscribe":
            self.sub.account_subscribed = True
            self.sub.push(self.account_snapshot())
        elif op == "unsubscribe":
            self.sub.account_subscribed = False
        else:  # resync
            from_seq = _seq_arg(message.get("from_seq"))
            if from_seq is None:
                self.sub.push(_error("VALIDATION_ERROR", f"from_seq must be 1..{MAX_SEQ}"))
                return
            latest = self.ctx.account_log.seqs.get(self.sub.account, 0)
            if from_seq > latest + 1:
                self.sub.push(
                    _error(
                        "INVALID_SEQ",
                        f"from_seq {from_seq} is past the latest account event {latest}",
                        channel="account",
                        latest=latest,
                    )
                )
                return
            self.sub.account_subscribed = True
            self.sub.push({"type": "_account_resync", "from_seq": from_seq})

    def handle(self, message: Any) -> None:
        """Apply one client message; replies go through the queue to keep ordering."""
        if not isinstance(message, dict):
            self.sub.push(_error("VALIDATION_ERROR", "messages are JSON objects with an 'op'"))
            return
        op = message.get("op")
        if op == "ping":
            self.sub.push({"type": "pong"})
        elif op == "auth":
            self.authenticate(message)
        elif op in ("subscribe", "unsubscribe", "resync") and message.get("channel") is not None:
            if message.get("channel") != "account":
                self.sub.push(_error("VALIDATION_ERROR", "channel must be 'account'"))
                return
            self.handle_account(str(op), message)
        elif op in ("subscribe", "unsubscribe"):
            self.handle_markets(str(op), message)
        elif op == "resync":
            self.resync_market(message)
        else:
            self.sub.push(_error("VALIDATION_ERROR", f"unknown op {str(op)[:32]!r}"))

    def handle_markets(self, op: str, message: dict[str, Any]) -> None:
        """Subscribe to (with each market's snapshot) or unsubscribe from public markets."""
        hub = self.ctx.hub
        markets = message.get("markets")
        if (
            not isinstance(markets, list)
            or len(markets) > MAX_MARKETS
            or not all(isinstance(m, str) for m in markets)
        ):
            self.sub.push(
                _error(
                    "VALIDATION_ERROR",
                    f"markets must be a list of at most {MAX_MARKETS} market ids",
                )
            )
            return
        for market in dict.fromkeys(markets):  # each market once, in the order given
            if op == "unsubscribe":
                self.sub.markets.discard(market)
            elif market not in hub.snapshots:
                self.sub.push(_error("NOT_FOUND", f"market {market[:64]!r} does not exist"))
            else:
                self.sub.markets.add(market)
                self.sub.push(hub.snapshot_message(market))

    def resync_market(self, message: dict[str, Any]) -> None:
        """Replay one market's events from ``from_seq`` (subscribing to it)."""
        hub = self.ctx.hub
        market, from_seq = message.get("market"), _seq_arg(message.get("from_seq"))
        if not isinstance(market, str) or market not in hub.snapshots or from_seq is None:
            self.sub.push(
                _error(
                    "VALIDATION_ERROR",
                    f"resync needs a known market and 1 <= from_seq <= {MAX_SEQ}",
                )
            )
            return
        latest = hub.seqs.get(market, 0)
        if from_seq > latest + 1:
            self.sub.push(
                _error(
                    "INVALID_SEQ",
                    f"from_seq {from_seq} is past the latest event {latest} of {market!r}",
                    market=market,
                    latest=latest,
                )
            )
            return
        self.sub.markets.add(market)
        self.sub.push({"type": "_resync", "market": market, "from_seq": from_seq})


def _frame(text: str) -> Any:
    if len(text) > MAX_FRAME_BYTES:
        raise _Close(CLOSE_TOO_BIG, f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        return strict_json(text)
    except MalformedRequest as error:
        raise _Close(CLOSE_INVALID_FRAME, error.message[:120]) from None


@router.websocket("/v1/stream")
async def stream(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    await ws.accept()
    sub = ctx.hub.subscriber()
    session = _Session(ctx, ws, sub)
    sender = asyncio.create_task(session.sender())
    try:
        while not sender.done():
            receive = asyncio.create_task(ws.receive())
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            frame = receive.result()
            if frame["type"] == "websocket.disconnect":
                break
            text = frame.get("text")
            if text is None:
                raw = frame.get("bytes") or b""
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise _Close(CLOSE_INVALID_FRAME, "frames are UTF-8 JSON text") from None
            session.handle(_frame(text))
    except _Close as close:
        sender.cancel()
        with contextlib.suppress(Exception):
            await ws.close(code=close.code, reason=close.reason)
    except (WebSocketDisconnect, RuntimeError):
        pass
    except Exception:
        log.exception("stream connection failed")
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_INTERNAL, reason="internal error")
    finally:
        ctx.hub.drop(sub)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
