"""The private side of the bot API, in process (real SQLite): order ids, orders and fills,
ids in the ledger and feeds, idempotency keys, key scopes, the clocks, the account channel."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prophex.api.app import create_app
from prophex.api.schemas import Fill, Order
from prophex.api.settings import ApiSettings

ADMIN = {"Authorization": "Bearer pv-admin"}
MARKET = {"market": "m", "virtual_oi": "100", "wallet_cap": "100000", "market_oi_cap": "1000000"}


def _settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(
        database_url=f"sqlite:///{tmp_path}/private.db",
        admin_key="pv-admin",
        rate_limit_per_second=0,
        block_wait_ms=0,
        heartbeat_seconds=30,
    )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path)), raise_server_exceptions=False) as client:
        assert client.post("/v1/admin/markets", json=MARKET, headers=ADMIN).is_success
        yield client


def _account(api: TestClient, deposit: str = "1000") -> tuple[str, dict[str, str]]:
    created = api.post("/v1/accounts", json={}).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    if deposit:
        assert api.post("/v1/account/deposit", json={"amount": deposit}, headers=headers).is_success
    return created["account"], headers


def _order(side: str, margin: str, **extra: Any) -> dict[str, Any]:
    return {"market": "m", "side": side, "margin": margin, "leverage": "3", **extra}


# ---------------------------------------------------------------- orders, fills, ledger


def test_order_ids_join_orders_fills_and_ledger(api: TestClient) -> None:
    account, auth = _account(api)
    opened = api.post("/v1/orders", json=_order("A", "10", client_order_id="c-1"), headers=auth)
    assert opened.status_code == 200
    order = opened.json()
    Order.model_validate(order)
    assert order["order_id"] == f"o-{order['command_seq']}"
    assert (order["kind"], order["status"], order["client_order_id"]) == ("open", "filled", "c-1")
    assert (order["account"], order["leverage"], order["margin"]) == (account, "3", "10")
    assert order["wall_time"].endswith("Z") and order["sim_time"] == 0
    closed = api.post(
        f"/v1/positions/{order['position_id']}/close", json={"notional": "10"}, headers=auth
    ).json()
    Order.model_validate(closed)
    assert (closed["kind"], closed["margin"], closed["leverage"]) == ("close", None, None)
    assert closed["realized_pnl"] is not None and closed["remaining_notional"] == "20"

    listed = api.get("/v1/orders", headers=auth).json()
    assert [o["order_id"] for o in listed["items"]] == [order["order_id"], closed["order_id"]]
    assert listed["items"][0] == order
    assert api.get(f"/v1/orders/{order['order_id']}", headers=auth).json() == order
    assert api.get("/v1/orders/by-client-id/c-1", headers=auth).json() == order
    missing = api.get("/v1/orders/by-client-id/never", headers=auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    page = api.get("/v1/orders?limit=1", headers=auth).json()
    assert len(page["items"]) == 1 and page["next_cursor"] == str(order["command_seq"])
    rest = api.get(f"/v1/orders?limit=1&cursor={page['next_cursor']}", headers=auth).json()
    assert rest["items"][0]["order_id"] == closed["order_id"]
    assert api.get("/v1/orders?market=other", headers=auth).json()["items"] == []
    assert api.get("/v1/orders?since=1", headers=auth).json()["items"] == []

    fills = api.get("/v1/fills", headers=auth).json()["items"]
    for fill in fills:
        Fill.model_validate(fill)
    assert [(f["order_id"], f["price"], f["fee"]) for f in fills] == [
        (o["order_id"], o["average_price"], o["fee"]) for o in (order, closed)
    ]
    assert fills[0]["fill_id"] == f"f-{order['txn_seq']}"
    only = api.get(f"/v1/fills?order_id={closed['order_id']}", headers=auth).json()["items"]
    assert [f["order_id"] for f in only] == [closed["order_id"]]

    ledger = api.get("/v1/account/ledger", headers=auth).json()["items"]
    by_order: dict[str | None, list[dict[str, Any]]] = {}
    for entry in ledger:
        by_order.setdefault(entry["order_id"], []).append(entry)
    assert set(by_order) == {None, order["order_id"], closed["order_id"]}
    assert all(e["client_order_id"] == "c-1" for e in by_order[order["order_id"]])
    # the wallet posting of the open is -(margin + fee); of the close +(proceeds - fee ...)
    wallet = f"wallet:{account}"
    open_wallet = sum(
        _micro(e["amount"]) for e in by_order[order["order_id"]] if e["ledger_account"] == wallet
    )
    assert open_wallet == -(_micro(order["margin"]) + _micro(order["fee"]))

    trades = api.get("/v1/feeds/trades").json()["items"]
    assert [t["order_id"] for t in trades] == [order["order_id"], closed["order_id"]]


def _micro(text: str) -> int:
    from prophex.money import parse_usd

    if text.startswith("-"):
        return -parse_usd(text[1:], allow_zero=True)
    return parse_usd(text, allow_zero=True)


def test_duplicate_reply_is_byte_identical(api: TestClient) -> None:
    _, bob = _account(api, "5000")
    _, alice = _account(api)
    assert api.post("/v1/orders", json=_order("A", "30"), headers=alice).is_success
    body = _order("B", "1000", client_order_id="big")
    first = api.post("/v1/orders", json=body, headers=bob)
    again = api.post("/v1/orders", json=body, headers=bob)
    original, replay = first.json(), again.json()
    assert original["liquidations"], "the big order should liquidate alice"
    assert replay["duplicate"] is True and original["duplicate"] is False
    assert again.content == first.content.replace(b'"duplicate":false', b'"duplicate":true')
    liquidation = original["liquidations"][0]
    assert liquidation["order_id"] == original["order_id"]
    assert {"account", "position_id"} <= liquidation.keys()


# ---------------------------------------------------------------- idempotency


def test_idempotency_key_on_every_mutating_call(api: TestClient) -> None:
    _, auth = _account(api, "")
    calls = [
        ("/v1/account/deposit", {"amount": "100"}),
        ("/v1/orders", _order("A", "10")),
        ("/v1/positions/1/margin", {"amount": "5"}),
        ("/v1/positions/1/close", {"notional": "5"}),
        ("/v1/account/withdraw", {"amount": "1"}),
        ("/v1/account/keys", {"label": "bot"}),
    ]
    for index, (path, body) in enumerate(calls):
        headers = auth | {"Idempotency-Key": f"k-{index}"}
        first = api.post(path, json=body, headers=headers)
        assert first.is_success, (path, first.text)
        seq = api.get("/v1/health").json()["command_seq"]
        again = api.post(path, json=body, headers=headers)
        assert again.status_code == first.status_code
        assert again.content == first.content, path
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert api.get("/v1/health").json()["command_seq"] == seq, path
        changed = {k: v for k, v in body.items()} | {"label" if "label" in body else
                   next(iter(body)): "7"}  # fmt: skip
        conflict = api.post(path, json=changed, headers=headers)
        assert conflict.status_code == 409, (path, conflict.text)
        assert conflict.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert conflict.json()["field"] == ("label" if "label" in body else next(iter(body)))
    reused = api.post("/v1/account/withdraw", json={"amount": "100"}, headers=auth | {
        "Idempotency-Key": "k-0"})  # fmt: skip
    assert reused.status_code == 409 and reused.json()["field"] == "route"
    bad = api.post(
        "/v1/account/deposit", json={"amount": "1"}, headers=auth | {"Idempotency-Key": "a b"}
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")
    wallet = api.get("/v1/account", headers=auth).json()["wallet_balance"]
    assert wallet == api.get("/v1/account", headers=auth).json()["wallet_balance"]


def test_concurrent_retries_execute_once(api: TestClient) -> None:
    _, auth = _account(api, "")
    results: list[Any] = []

    def deposit() -> None:
        results.append(
            api.post(
                "/v1/account/deposit",
                json={"amount": "3"},
                headers=auth | {"Idempotency-Key": "same"},
            )
        )

    threads = [threading.Thread(target=deposit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.status_code == 200 for r in results)
    assert len({r.content for r in results}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 7
    assert api.get("/v1/account", headers=auth).json()["wallet_balance"] == "3"


# ---------------------------------------------------------------- scopes


def test_scopes_are_enforced(api: TestClient) -> None:
    _, full = _account(api)
    created = api.post("/v1/accounts", json={}).json()
    assert created["scopes"] == ["read", "trade", "withdraw"]
    reader_key = api.post("/v1/account/keys", json={"scopes": ["read"]}, headers=full).json()
    trader_key = api.post("/v1/account/keys", json={"label": "t"}, headers=full).json()
    assert reader_key["scopes"] == ["read"] and trader_key["scopes"] == ["read", "trade"]
    reader = {"Authorization": f"Bearer {reader_key['api_key']}"}
    trader = {"Authorization": f"Bearer {trader_key['api_key']}"}
    assert api.get("/v1/account", headers=reader).status_code == 200
    assert api.get("/v1/orders", headers=reader).status_code == 200
    refused = [
        api.post("/v1/orders", json=_order("A", "10"), headers=reader),
        api.post("/v1/account/deposit", json={"amount": "1"}, headers=reader),
        api.post("/v1/account/withdraw", json={"amount": "1"}, headers=reader),
        api.post("/v1/quote", json=_order("A", "10"), headers=reader),
        api.post("/v1/account/keys", json={"scopes": ["read"]}, headers=reader),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "SCOPE_REQUIRED"
    assert refused[0].json()["required_scope"] == "trade"
    assert refused[2].json()["required_scope"] == "withdraw"
    assert api.post("/v1/orders", json=_order("A", "10"), headers=trader).status_code == 200
    withdraw = api.post("/v1/account/withdraw", json={"amount": "1"}, headers=trader)
    assert (withdraw.status_code, withdraw.json()["required_scope"]) == (403, "withdraw")
    escalate = api.post("/v1/account/keys", json={"scopes": ["withdraw"]}, headers=trader)
    assert (escalate.status_code, escalate.json()["code"]) == (403, "SCOPE_REQUIRED")
    assert api.post("/v1/account/withdraw", json={"amount": "1"}, headers=full).is_success
    listed = api.get("/v1/account/keys", headers=reader).json()["items"]
    assert sorted(k["scopes"] == ["read"] for k in listed) == [False, False, True]


# ---------------------------------------------------------------- clocks and resolution


def test_time_and_resolved_price(api: TestClient) -> None:
    _, auth = _account(api)
    now = api.get("/v1/time").json()
    assert now["sim_time"] == 0 and now["wall_time"].endswith("Z") and now["block_height"] >= 3
    assert api.post("/v1/admin/clock", json={"seconds": 3600}, headers=ADMIN).is_success
    assert api.get("/v1/time").json()["sim_time"] == 3600
    order = api.post("/v1/orders", json=_order("A", "10"), headers=auth).json()
    assert order["sim_time"] == 3600
    assert api.post("/v1/admin/markets/m/resolve", json={"outcome": "A"}, headers=ADMIN).is_success
    market = api.get("/v1/markets/m").json()
    assert (market["price_a"], market["price_b"]) == ("1.000000", "0.000000")


# ---------------------------------------------------------------- private channel


def _recv(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message


def _until_pong(ws: Any) -> list[dict[str, Any]]:
    ws.send_json({"op": "ping"})
    out = []
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == "pong":
            return out
        out.append(message)


def test_private_channel_snapshot_events_resync(api: TestClient) -> None:
    account, alice = _account(api)
    _, bob = _account(api, "5000")
    with api.websocket_connect("/v1/stream") as ws:
        ws.send_json({"op": "subscribe", "channel": "account"})
        assert ws.receive_json()["code"] == "UNAUTHORIZED"
        ws.send_json({"op": "auth", "key": alice["Authorization"][7:]})
        assert ws.receive_json() == {"type": "authenticated", "account": account}
        ws.send_json({"op": "subscribe", "channel": "account"})
        snapshot = ws.receive_json()
        assert (snapshot["type"], snapshot["channel"]) == ("snapshot", "account")
        assert snapshot["data"]["wallet_balance"] == "1000" and snapshot["data"]["positions"] == []
        start = snapshot["seq"]
        assert start == 1  # the deposit's balance event
        opened = api.post(
            "/v1/orders", json=_order("A", "30", client_order_id="mine"), headers=alice
        )
        big = api.post("/v1/orders", json=_order("B", "1000"), headers=bob).json()
        assert big["liquidations"]
        kept = api.post("/v1/orders", json=_order("B", "10"), headers=alice).json()
        resolved = api.post("/v1/admin/markets/m/resolve", json={"outcome": "B"}, headers=ADMIN)
        assert resolved.is_success
        events = _until_pong(ws)
    assert [e["seq"] for e in events] == list(range(start + 1, start + len(events) + 1))
    assert all(e["channel"] == "account" for e in events)
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["order", "fill", "position", "balance"]
    assert kinds[4] == "liquidation"
    assert kinds[-2:] == ["settlement", "balance"]
    order = events[0]["data"]
    assert order == opened.json()
    assert events[1]["data"]["order_id"] == order["order_id"]
    assert events[1]["data"]["client_order_id"] == "mine"
    assert events[4]["data"]["order_id"] == big["order_id"]
    assert events[4]["data"]["account"] == account
    settlement = events[-2]["data"]
    assert (settlement["position_id"], settlement["account"]) == (kept["position_id"], account)

    with api.websocket_connect("/v1/stream") as ws:
        ws.send_json({"op": "auth", "key": alice["Authorization"][7:]})
        ws.receive_json()
        ws.send_json({"op": "resync", "channel": "account", "from_seq": 1})
        replayed = [ws.receive_json() for _ in range(start + len(events))]
        done = _recv(ws, "resynced")
        ws.send_json({"op": "resync", "channel": "account", "from_seq": done["seq"] + 2})
        error = ws.receive_json()
    assert [e["seq"] for e in replayed] == list(range(1, start + len(events) + 1))
    assert replayed[start:] == events
    assert done == {"type": "resynced", "channel": "account", "seq": replayed[-1]["seq"]}
    assert (error["code"], error["latest"]) == ("INVALID_SEQ", done["seq"])


def test_private_channel_refuses_bad_keys(api: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with api.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"op": "auth", "key": "pxk_nope"}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4001


def _strip_wall(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_wall(v) for k, v in value.items() if k != "wall_time"}
    if isinstance(value, list):
        return [_strip_wall(v) for v in value]
    return value


def test_index_and_account_log_are_rebuilt_from_the_journal(tmp_path: Path) -> None:
    """A crash between a block's commit and the API's index writes loses nothing: start-up
    derives the missing orders and account events from the journal, with the same ids and
    sequence numbers."""
    from sqlalchemy import create_engine, delete

    from prophex.ledger.schema import api_account_events, api_orders

    settings = _settings(tmp_path)
    with TestClient(create_app(settings)) as api:
        assert api.post("/v1/admin/markets", json=MARKET, headers=ADMIN).is_success
        _, alice = _account(api)
        _, bob = _account(api, "5000")
        api.post("/v1/orders", json=_order("A", "30", client_order_id="x"), headers=alice)
        api.post("/v1/orders", json=_order("B", "1000"), headers=bob)
        api.post("/v1/orders", json=_order("B", "10"), headers=alice)
        before_orders = api.get("/v1/orders", headers=alice).json()["items"]
        with api.websocket_connect("/v1/stream") as ws:
            ws.send_json({"op": "auth", "key": alice["Authorization"][7:]})
            ws.receive_json()
            ws.send_json({"op": "resync", "channel": "account", "from_seq": 1})
            before_events = _until_pong(ws)
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(delete(api_orders).where(api_orders.c.command_seq > 3))
        conn.execute(delete(api_account_events).where(api_account_events.c.txn_seq > 3))
    engine.dispose()
    with TestClient(create_app(settings)) as api:
        after_orders = api.get("/v1/orders", headers=alice).json()["items"]
        with api.websocket_connect("/v1/stream") as ws:
            ws.send_json({"op": "auth", "key": alice["Authorization"][7:]})
            ws.receive_json()
            ws.send_json({"op": "resync", "channel": "account", "from_seq": 1})
            after_events = _until_pong(ws)
    assert len(before_orders) == 2 and len(before_events) > 8
    assert _strip_wall(after_orders) == _strip_wall(before_orders)
    assert _strip_wall(after_events) == _strip_wall(before_events)
