"""The SDK's pure parts: money encoding, the request each endpoint builds (path, query,
credential, Idempotency-Key, retry safety), the blocking twin of every coroutine, model
parsing of the issue-12 bodies, backoff, and the sequencing of the private channel."""

from __future__ import annotations

import asyncio
import inspect
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from prophex.sdk import (
    AccountStream,
    AsyncProphexClient,
    Call,
    MarketStream,
    ProphexClient,
    StreamProtocolError,
    backoff_delay,
    models,
    money,
)

ORDER = {
    "order_id": "o-17", "client_order_id": "bot-1-3", "account": "acct-1", "market": "m1",
    "side": "A", "kind": "open", "status": "filled", "notional": "30", "margin": "10",
    "leverage": "3", "average_price": "0.517862", "fee": "0.03", "position_id": 1,
    "realized_pnl": None, "liquidations": [], "command_seq": 4, "txn_seq": 4, "sim_time": 0,
    "wall_time": "2026-11-30T01:00:00Z", "duplicate": False,
}  # fmt: skip
FILL = {
    "fill_id": "f-1", "order_id": "o-17", "client_order_id": "bot-1-3", "account": "acct-1",
    "market": "m1", "side": "A", "kind": "close", "notional": "30", "price": "0.505888",
    "fee": "0.03", "realized_pnl": "-0.000001", "position_id": 1, "txn_seq": 5, "sim_time": 60,
    "wall_time": "2026-11-30T01:00:01Z",
}  # fmt: skip


def test_money_is_sent_as_plain_decimal_strings_and_floats_are_refused() -> None:
    assert money(Decimal("1E+3")) == "1000"
    assert money(Decimal("12.500000")) == "12.5"
    assert money(7) == "7"
    assert money("0.000001") == "0.000001"
    with pytest.raises(TypeError):
        money(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        money(True)
    with pytest.raises(ValueError):
        money(Decimal("NaN"))


def test_contract_bodies_parse_to_decimal_money() -> None:
    order = models.Order.model_validate_json(json.dumps(ORDER))
    assert order.average_price == Decimal("0.517862") and order.fee == Decimal("0.03")
    assert order.order_id == "o-17" and order.kind == "open" and order.realized_pnl is None
    fill = models.FillPage.model_validate({"items": [FILL], "next_cursor": None}).items[0]
    assert fill.realized_pnl == Decimal("-0.000001") and fill.price == Decimal("0.505888")
    assert isinstance(fill.notional, Decimal)
    clock = models.ServerTime.model_validate(
        {"sim_time": 3600, "wall_time": "2026-11-30T01:00:00Z", "block_height": 9}
    )
    assert clock.sim_time == 3600
    newer = models.Order.model_validate({**ORDER, "venue_field": 1})
    assert newer.venue_field == 1  # type: ignore[attr-defined]


def _captured(method: Any, *args: Any, **kwargs: Any) -> Call[Any]:
    """The Call an endpoint builds, captured instead of sent."""
    client = AsyncProphexClient("http://127.0.0.1:9", "pxk_k", admin_key="adm", id_prefix="t")
    sent: list[Call[Any]] = []

    async def capture(call: Call[Any]) -> Any:
        sent.append(call)
        return None

    client.send = capture  # type: ignore[method-assign]
    asyncio.run(getattr(client, method)(*args, **kwargs))
    return sent[0]


def test_new_endpoints_build_the_contract_requests() -> None:
    call = _captured("time")
    assert (call.method, call.path, call.auth, call.safe) == ("GET", "/v1/time", "none", True)
    call = _captured("orders", market="m1", status="filled", since=5, limit=50)
    assert call.path == "/v1/orders"
    assert call.params == {"market": "m1", "status": "filled", "since": 5, "limit": 50}
    call = _captured("fills", order_id="o-17")
    assert (call.path, call.params) == ("/v1/fills", {"order_id": "o-17", "limit": 100})
    assert _captured("order", "o-17").path == "/v1/orders/o-17"
    assert _captured("order_by_client_id", "c1").path == "/v1/orders/by-client-id/c1"
    call = _captured("create_key", "ro", scopes=["read"])
    assert call.json == {"label": "ro", "scopes": ["read"]} and call.idempotency_key == "t-1"


def test_every_mutation_carries_an_idempotency_key_fixed_per_call() -> None:
    call = _captured("open_order", "m1", "A", Decimal("10"), 3, max_avg_price=Decimal("0.6"))
    assert call.json == {
        "market": "m1", "side": "A", "margin": "10", "leverage": "3",
        "client_order_id": "t-1", "max_avg_price": "0.6",
    }  # fmt: skip
    assert call.idempotency_key == "t-1" and call.safe
    call = _captured("close_position", 4, client_order_id="bot-7-2")
    assert call.idempotency_key == "bot-7-2" and call.json == {"client_order_id": "bot-7-2"}
    for method, args in (("deposit", ("5",)), ("withdraw", ("5",)), ("add_margin", (1, "5"))):
        call = _captured(method, *args)
        assert call.idempotency_key == "t-1" and call.safe, method
        assert _captured(method, *args, idempotency_key="mine").idempotency_key == "mine"
    for method, args in (("create_account", ("x",)), ("admin_create_market", ("m",))):
        call = _captured(method, *args)
        assert call.idempotency_key is None and not call.safe, method


def test_the_blocking_client_has_a_twin_of_every_coroutine() -> None:
    coroutines = {
        name
        for name, fn in inspect.getmembers(AsyncProphexClient, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in {"aclose", "send", "collect"}
    }
    assert coroutines <= set(dir(ProphexClient))
    assert ProphexClient.fills.__doc__ == AsyncProphexClient.fills.__doc__


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, 0.1, 1.0, rng) for n in range(1, 8)]
    bounds = [min(1.0, 0.1 * 2 ** (n - 1)) for n in range(1, 8)]
    assert all(b / 2 <= d < b for d, b in zip(delays, bounds, strict=True))
    assert delays[-1] < 1.0 and delays[3] > delays[0]


class _Socket:
    """Records what the stream sends (the stream's only use of the socket here)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, raw: str) -> None:
        self.sent.append(json.loads(raw))


def _feed(stream: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stream._ws = _Socket()

    async def run() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in messages:
            out += await stream._accept(message)
        return out

    return asyncio.run(run())


def test_account_channel_yields_each_event_once_in_order_and_resyncs_gaps() -> None:
    stream = AccountStream("ws://127.0.0.1:9/v1/stream", "pxk_k")
    ev = lambda seq: {"channel": "account", "seq": seq, "type": "fill", "data": {}}  # noqa: E731
    out = _feed(
        stream,
        [
            {"type": "snapshot", "channel": "account", "seq": 5, "data": {}},
            ev(6), ev(6), ev(8),  # repeat skipped; 8 is a gap -> resync from 7
            ev(7), ev(8), {"type": "resynced", "channel": "account", "seq": 8},
            {"type": "heartbeat", "account_seq": 9},  # missed tail -> resync from 9
        ],
    )  # fmt: skip
    assert [e.get("seq") for e in out] == [5, 6, 7, 8]
    assert stream._ws.sent == [
        {"op": "resync", "channel": "account", "from_seq": 7},
        {"op": "resync", "channel": "account", "from_seq": 9},
    ]


def test_protocol_errors_are_raised_not_swallowed() -> None:
    stream = MarketStream("ws://127.0.0.1:9/v1/stream", ["m1"])
    with pytest.raises(StreamProtocolError) as error:
        _feed(stream, [{"type": "error", "code": "NOT_FOUND", "detail": "no market"}])
    assert error.value.code == "NOT_FOUND"
    with pytest.raises(StreamProtocolError):
        stream._decode("[1, 2]")
    with pytest.raises(StreamProtocolError):
        stream._decode("{not json")
    account = AccountStream("ws://127.0.0.1:9/v1/stream", "pxk_k")
    with pytest.raises(StreamProtocolError) as gap:
        _feed(
            account,
            [
                {"type": "snapshot", "channel": "account", "seq": 1, "data": {}},
                {"type": "resynced", "channel": "account", "seq": 4},
            ],
        )
    assert gap.value.code == "RESYNC_GAP"
