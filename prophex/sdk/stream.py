"""Sequenced WebSocket streams: the public market channel and the private account channel.

Both channels number their events (``seq`` 1, 2, 3... per market, or per account), so the
iterator can promise each event **exactly once, in order**, across drops and server
restarts:

* an event whose ``seq`` is at or below the last one yielded is a repeat and is skipped;
* an event whose ``seq`` skips ahead, or a heartbeat announcing a later ``seq``, is a gap:
  the iterator asks the server to replay from the last ``seq`` + 1 (``resync``) and yields
  the replayed events, never the out-of-order one;
* a dropped connection, or a silent one (nothing, heartbeats included, for
  ``idle_timeout`` seconds), is reopened and resynced from the last ``seq`` seen.

Reopening uses jittered exponential backoff: before the n-th consecutive retry (n = 1, 2...)
the iterator sleeps ``min(backoff_max, backoff_base * 2**(n-1))`` times a uniform factor in
[0.5, 1.0). The first reopening after a drop is immediate. After ``max_attempts`` consecutive
failed tries it raises :class:`StreamUnavailable`; the count restarts once a message arrives.

Protocol errors are raised, never swallowed: an ``error`` message, a frame that is not a JSON
object, an authentication refusal (close codes 4001/4003), or a ``resynced`` announcing a
``seq`` beyond the last replayed event (code ``RESYNC_GAP``) raises
:class:`StreamProtocolError`. A slow-consumer close (4008) is a drop like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, WebSocketException

from prophex.sdk.errors import StreamProtocolError, StreamUnavailable

AUTH_CLOSE_CODES = {4001: "UNAUTHORIZED", 4003: "FORBIDDEN"}
ACCOUNT = "account"


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): ``min(cap, base *
    2**(attempt-1))`` scaled by a uniform jitter factor in [0.5, 1.0)."""
    return float(min(cap, base * (1 << (attempt - 1)))) * (0.5 + rng.random() / 2)


def _close_code(error: ConnectionClosed) -> int | None:
    frame = error.rcvd
    return None if frame is None else int(frame.code)


class SequencedStream:
    """Base of :class:`MarketStream` and :class:`AccountStream` (see the module docstring).

    Attributes worth reading: ``last`` (last ``seq`` yielded per market, or ``"account"``),
    ``reconnects`` (times the connection was reopened after a drop), ``delays`` (every
    backoff slept, in seconds)."""

    def __init__(
        self,
        url: str,
        *,
        idle_timeout: float = 30.0,
        max_attempts: int = 8,
        backoff_base: float = 0.1,
        backoff_max: float = 5.0,
        open_timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self.idle_timeout = idle_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.open_timeout = open_timeout
        self.rng = rng or random.Random()
        self.last: dict[str, int] = {}
        self.reconnects = 0
        self.delays: list[float] = []
        self._failures = 0
        self._ws: Any = None
        self._pending: set[str] = set()
        self._closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def close(self) -> None:
        """Close the connection and end the iteration."""
        self._closed = True
        await self._discard()

    async def drop_connection(self) -> None:
        """Abruptly close the socket; the iterator reconnects and resyncs by itself."""
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------ subclass hooks

    def _key(self, message: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def _heartbeat_seqs(self, message: dict[str, Any]) -> dict[str, int]:
        raise NotImplementedError

    async def _handshake(self) -> None:
        raise NotImplementedError

    def _resync_message(self, key: str, from_seq: int) -> dict[str, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------ connection

    async def _discard(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(OSError, WebSocketException):
                await ws.close()

    async def _open(self) -> None:
        """Connect and handshake, retrying with backoff; StreamUnavailable after the bound."""
        self._pending.clear()
        while True:
            if self._failures:
                delay = backoff_delay(self._failures, self.backoff_base, self.backoff_max, self.rng)
                self.delays.append(delay)
                await asyncio.sleep(delay)
            try:
                self._ws = await websockets.connect(
                    self.url, max_size=2**24, open_timeout=self.open_timeout
                )
                await self._handshake()
                return
            except ConnectionClosed as error:
                await self._discard()
                self._refused(error)
                last: BaseException = error
            except (OSError, WebSocketException, TimeoutError) as error:
                await self._discard()
                last = error
            self._failures += 1
            if self._failures >= self.max_attempts:
                raise StreamUnavailable(self._failures, last)

    @staticmethod
    def _refused(error: ConnectionClosed) -> None:
        code = _close_code(error)
        if code in AUTH_CLOSE_CODES:
            frame = error.rcvd
            raise StreamProtocolError(
                AUTH_CLOSE_CODES[code], frame.reason if frame is not None else ""
            ) from error

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def _receive(self) -> dict[str, Any] | None:
        """The next message, or None when the connection dropped or fell silent."""
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that lands as the frame arrives, and a cancelled iterator went on
            async with asyncio.timeout(self.idle_timeout):
                raw = await self._ws.recv()
        except TimeoutError:
            return None
        except ConnectionClosed as error:
            self._refused(error)
            return None
        except OSError:
            return None
        return self._decode(raw)

    @staticmethod
    def _decode(raw: str | bytes) -> dict[str, Any]:
        try:
            message = json.loads(raw)
        except ValueError as error:
            raise StreamProtocolError("MALFORMED_FRAME", f"not JSON: {raw[:80]!r}") from error
        if not isinstance(message, dict):
            raise StreamProtocolError("MALFORMED_FRAME", f"not a JSON object: {raw[:80]!r}")
        return message

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        while not self._closed:
            if self._ws is None:
                await self._open()
            message = await self._receive()
            if message is None:
                if self._closed:
                    return
                await self._discard()
                self.reconnects += 1
                continue
            self._failures = 0
            for event in await self._accept(message):
                yield event

    # ------------------------------------------------------------ sequencing

    async def _resync(self, key: str) -> None:
        self._pending.add(key)
        await self._send(self._resync_message(key, self.last.get(key, 0) + 1))

    async def _accept(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The events of ``message`` to yield (none, or the message itself)."""
        kind = message.get("type")
        if kind == "error":
            raise StreamProtocolError(
                str(message.get("code", "ERROR")), str(message.get("detail", "")), message
            )
        key = self._key(message)
        if kind == "snapshot" and key is not None:
            return self._accept_snapshot(key, message)
        if kind == "heartbeat":
            await self._check_heartbeat(message)
            return []
        if kind == "resynced" and key is not None:
            self._accept_resynced(key, message)
            return []
        if key is not None and "seq" in message:
            return await self._accept_sequenced(key, message)
        if kind in ("pong", "authenticated"):
            return []
        return [message]

    def _accept_snapshot(self, key: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """A channel's first snapshot is yielded; one after a reconnect is not (the replay
        continues from the last ``seq`` instead)."""
        if key in self.last:
            return []
        self.last[key] = int(message["seq"])
        return [message]

    async def _check_heartbeat(self, message: dict[str, Any]) -> None:
        """A heartbeat ahead of what we saw on a channel means events were lost: resync."""
        for name, seq in self._heartbeat_seqs(message).items():
            if name in self.last and seq > self.last[name] and name not in self._pending:
                await self._resync(name)

    def _accept_resynced(self, key: str, message: dict[str, Any]) -> None:
        """The end of a replay: it must have reached the seq the server announces."""
        self._pending.discard(key)
        if int(message.get("seq", 0)) > self.last.get(key, 0):
            raise StreamProtocolError(
                "RESYNC_GAP",
                f"{key}: resynced at seq {message.get('seq')} but the replay stopped at "
                f"{self.last.get(key, 0)}",
                message,
            )

    async def _accept_sequenced(self, key: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Yield the next ``seq`` exactly once; drop repeats; resync on a gap."""
        seq, last = int(message["seq"]), self.last.get(key, 0)
        if seq <= last:
            return []
        if seq > last + 1:
            if key not in self._pending:
                await self._resync(key)
            return []
        self.last[key] = seq
        return [message]


class MarketStream(SequencedStream):
    """Public market events: each market's ``snapshot`` (first subscription only), then its
    ``trade``/``liquidation``/``resolution``/``status``/``funding`` events in ``seq`` order,
    each exactly once. ``url`` is the WebSocket URL (``ws://host:port/v1/stream``)."""

    def __init__(self, url: str, markets: list[str], **options: Any) -> None:
        super().__init__(url, **options)
        self.markets = list(markets)

    def _key(self, message: dict[str, Any]) -> str | None:
        market = message.get("market")
        return market if isinstance(market, str) and message.get("channel") != ACCOUNT else None

    def _heartbeat_seqs(self, message: dict[str, Any]) -> dict[str, int]:
        seqs = message.get("seqs", {})
        return {str(k): int(v) for k, v in seqs.items()} if isinstance(seqs, dict) else {}

    def _resync_message(self, key: str, from_seq: int) -> dict[str, Any]:
        return {"op": "resync", "market": key, "from_seq": from_seq}

    async def _handshake(self) -> None:
        fresh = [m for m in self.markets if m not in self.last]
        if fresh:
            await self._send({"op": "subscribe", "markets": fresh})
        for market in list(self.last):
            await self._resync(market)


class AccountStream(SequencedStream):
    """The private account channel: after authenticating with ``api_key``, one ``snapshot``
    of the account, then its ``order``, ``fill``, ``position``, ``liquidation``,
    ``settlement`` and ``balance`` events in ``seq`` order, each exactly once across
    reconnects and server restarts."""

    def __init__(self, url: str, api_key: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.api_key = api_key
        self.account: str | None = None

    def _key(self, message: dict[str, Any]) -> str | None:
        return ACCOUNT if message.get("channel") == ACCOUNT else None

    def _heartbeat_seqs(self, message: dict[str, Any]) -> dict[str, int]:
        seq = message.get("account_seq")
        return {ACCOUNT: int(seq)} if isinstance(seq, int) else {}

    def _resync_message(self, key: str, from_seq: int) -> dict[str, Any]:
        return {"op": "resync", "channel": ACCOUNT, "from_seq": from_seq}

    async def _handshake(self) -> None:
        await self._send({"op": "auth", "key": self.api_key})
        async with asyncio.timeout(self.open_timeout):
            raw = await self._ws.recv()
        reply = self._decode(raw)
        if reply.get("type") != "authenticated":
            if reply.get("type") == "error":
                await self._accept(reply)
            raise StreamProtocolError("UNEXPECTED_MESSAGE", f"expected authenticated: {reply}")
        self.account = str(reply.get("account"))
        if ACCOUNT in self.last:
            await self._resync(ACCOUNT)
        else:
            await self._send({"op": "subscribe", "channel": ACCOUNT})
