"""The portfolio-mode API: margin mode, quotes with requirement before/after, orders by
notional, the margin breakdown, closes through the common route, and typed refusals."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from prophex.api.app import create_app
from prophex.api.settings import ApiSettings

ADMIN = {"Authorization": "Bearer pm-admin"}
PROBLEM = "application/problem+json"
BTC = {"cluster": "BTC", "underlying": "BTC", "contract_kind": "threshold", "direction": "above"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/pm.db",
        admin_key="pm-admin",
        rate_limit_per_second=0,
        block_wait_ms=0,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for market, strike in (("btc100", "100000"), ("btc105", "105000")):
            body = {"market": market, "strike": strike, **BTC}
            assert client.post("/v1/admin/markets", json=body, headers=ADMIN).status_code == 201
        yield client


def _account(api: TestClient, deposit: str) -> dict[str, str]:
    created = api.post("/v1/accounts", json={"label": "pm"}).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert api.post("/v1/account/deposit", json={"amount": deposit}, headers=headers).is_success
    return headers


def _problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code
    return body


def test_portfolio_flow_over_http(api: TestClient) -> None:
    me = _account(api, "1500")
    mode = api.post("/v1/account/margin-mode", json={"mode": "portfolio"}, headers=me)
    assert mode.status_code == 200 and mode.json()["mode"] == "portfolio"
    long_leg = {"market": "btc100", "side": "A", "notional": "1000"}
    quote = api.post("/v1/portfolio/quote", json=long_leg, headers=me).json()
    assert quote["requirement_before"] == "0" and quote["accepted"] is True
    first = api.post("/v1/portfolio/orders", json=long_leg, headers=me)
    assert first.status_code == 200, first.text
    assert first.json()["locked"] == quote["requirement_after"]
    hedge = {"market": "btc105", "side": "B", "notional": "1000"}
    hedge_quote = api.post("/v1/portfolio/quote", json=hedge, headers=me).json()
    assert Decimal(hedge_quote["requirement_after"]) < Decimal(hedge_quote["requirement_before"])
    assert Decimal(hedge_quote["lock_change"]) < 0
    second = api.post("/v1/portfolio/orders", json=hedge, headers=me).json()
    assert second["requirement"] == hedge_quote["requirement_after"]
    margin = api.get("/v1/account/margin", headers=me).json()
    assert margin["mode"] == "portfolio" and margin["positions"] == 2
    assert margin["locked"] == second["locked"] == margin["last_requirement"]
    assert [c["cluster"] for c in margin["clusters"]] == ["BTC"]
    assert Decimal(margin["distance_to_liquidation"]) > 0
    assert margin["binding"] in ("base", "top2_floor", "min_margin")
    # refusals: isolated fields on a portfolio account, switch while not flat, uncovered
    iso = {"market": "btc100", "side": "A", "margin": "10", "leverage": "2"}
    _problem(api.post("/v1/orders", json=iso, headers=me), 422, "INVALID_COMMAND")
    _problem(
        api.post("/v1/account/margin-mode", json={"mode": "isolated"}, headers=me),
        409,
        "ACCOUNT_NOT_FLAT",
    )
    big = {"market": "btc100", "side": "A", "notional": "50000"}
    refused = api.post("/v1/portfolio/quote", json=big, headers=me).json()
    assert refused["accepted"] is False
    assert refused["rejection"]["code"] in ("INSUFFICIENT_BALANCE", "WALLET_CAP_EXCEEDED")
    # close both legs through the common route: the lock returns to the wallet
    for position_id in (first.json()["position_id"], second["position_id"]):
        closed = api.post(f"/v1/positions/{position_id}/close", json={}, headers=me)
        assert closed.status_code == 200, closed.text
    margin = api.get("/v1/account/margin", headers=me).json()
    assert margin["locked"] == "0" and margin["positions"] == 0
    assert api.post("/v1/account/margin-mode", json={"mode": "isolated"}, headers=me).is_success


def test_isolated_account_cannot_use_portfolio_orders(api: TestClient) -> None:
    me = _account(api, "100")
    body = {"market": "btc100", "side": "A", "notional": "10"}
    _problem(api.post("/v1/portfolio/orders", json=body, headers=me), 422, "INVALID_COMMAND")
    _problem(
        api.post("/v1/account/margin-mode", json={"mode": "cross"}, headers=me),
        422,
        "VALIDATION_ERROR",
    )


def test_sdk_portfolio_methods(tmp_path: Path) -> None:
    """The SDK's portfolio methods against a real server (uvicorn subprocess)."""
    from prophex.api.server import ServerProcess
    from prophex.client import ProphexClient

    env = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0", "PROPHEX_BLOCK_WAIT_MS": "0"}
    with ServerProcess(f"sqlite:///{tmp_path}/sdk-pm.db", env=env) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        for market, strike in (("btc100", "100000"), ("btc105", "105000")):
            admin.admin_create_market(market, strike=strike, **BTC)
        created = admin.create_account("sdk")
        client = admin.with_key(created.api_key)
        _sdk_portfolio_scenario(client)
        admin.close()


def _sdk_portfolio_scenario(client: Any) -> None:
    client.deposit("2000")
    assert client.set_margin_mode("portfolio").mode == "portfolio"
    quote = client.quote_portfolio("btc100", "A", "500")
    assert quote.requirement_before == Decimal(0) and quote.accepted
    assert isinstance(quote.requirement_after, Decimal)
    order = client.open_portfolio_order("btc100", "A", "500", client_order_id="pm-1")
    assert order.locked == quote.requirement_after and not order.duplicate
    again = client.open_portfolio_order("btc100", "A", "500", client_order_id="pm-1")
    assert again.duplicate and again.command_seq == order.command_seq
    assert again.locked == order.locked
    hedge = client.quote_portfolio("btc105", "B", "500")
    assert hedge.requirement_after < order.requirement
    breakdown = client.account_margin()
    assert breakdown.locked == order.locked and breakdown.positions == 1
    assert breakdown.mode == "portfolio" and breakdown.distance_to_liquidation > 0
    closed = client.close_position(order.position_id)
    assert closed.kind == "close" and closed.position_id == order.position_id
    assert client.order(str(closed.order_id)) == closed
    assert client.account_margin().locked == Decimal(0)


def test_account_liquidations_are_stream_events() -> None:
    from prophex.api.views import stream_event
    from prophex.chain.sequencer import Sequencer
    from prophex.engine.commands import (
        CreateMarket,
        Deposit,
        Open,
        OpenPortfolio,
        SetMarginMode,
        Withdraw,
    )
    from prophex.params import profile

    m = 1_000_000
    seq = Sequencer.in_memory(
        profile("launch", virtual_oi=100_000, wallet_cap=1_000_000, market_oi_cap=10_000_000)
    )
    tags = {"cluster": "BTC", "underlying": "BTC", "contract_kind": "threshold"}
    outcomes = seq.execute(
        [
            CreateMarket("b1", strike="100000", direction="above", **tags),
            CreateMarket("b2", strike="105000", direction="above", **tags),
            Deposit("pm", 30_000 * m),
            Deposit("bear", 1_000_000 * m),
            SetMarginMode("pm", "portfolio"),
            OpenPortfolio("pm", "b1", "A", 10_000 * m),
            OpenPortfolio("pm", "b2", "B", 10_000 * m),
            Withdraw("pm", 28_000 * m),
            Open("bear", "b1", "B", 200_000 * m, 100),
        ]
    )
    receipt = outcomes[-1]
    events = [
        stream_event(1, t.seq, 0, t.event)
        for t in receipt.transactions  # type: ignore[union-attr]
        if t.kind == "pm_liquidation"
    ]
    assert [(e["type"], e["market"], e["data"]["account"]) for e in events] == [
        ("account_liquidation", "b1", "pm"),
        ("account_liquidation", "b2", "pm"),
    ]
    assert {e["data"]["locked_margin"] for e in events} == {events[0]["data"]["locked_margin"]}


def test_account_view_of_a_portfolio_account(api: TestClient) -> None:
    """GET /v1/account names the mode and counts the pm_margin lock in margin locked and equity
    (the same equity as GET /v1/account/margin: wallet + lock - loss)."""
    me = _account(api, "1500")
    assert api.get("/v1/account", headers=me).json()["margin_mode"] == "isolated"
    api.post("/v1/account/margin-mode", json={"mode": "portfolio"}, headers=me)
    order = {"market": "btc100", "side": "A", "notional": "1000"}
    assert api.post("/v1/portfolio/orders", json=order, headers=me).is_success
    view = api.get("/v1/account", headers=me).json()
    margin = api.get("/v1/account/margin", headers=me).json()
    assert view["margin_mode"] == "portfolio" and view["open_positions"] == 1
    assert view["margin_locked"] == margin["locked"] != "0"
    assert view["wallet_balance"] == margin["wallet"]
    assert Decimal(view["equity"]) == Decimal(margin["wallet"]) + Decimal(margin["locked"]) - (
        Decimal(margin["unrealized_loss"])
    )


def _account_events(api: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with api.websocket_connect("/v1/stream") as ws:
        ws.send_json({"op": "auth", "key": headers["Authorization"][7:]})
        ws.receive_json()
        ws.send_json({"op": "resync", "channel": "account", "from_seq": 1})
        ws.send_json({"op": "ping"})
        while True:
            message = ws.receive_json()
            if message.get("type") == "pong":
                return events
            if message.get("channel") == "account" and message["type"] not in (
                "resynced",
                "snapshot",
            ):
                events.append(message)


def _strip_wall(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_wall(v) for k, v in value.items() if k != "wall_time"}
    if isinstance(value, list):
        return [_strip_wall(v) for v in value]
    return value


def test_portfolio_orders_are_indexed_and_rebuilt_from_the_journal(tmp_path: Path) -> None:
    """Portfolio opens are orders (kind open, margin and leverage null) with fills, ledger
    order ids and private events; deleting their index rows and restarting derives them
    again from the journal, identical apart from wall_time."""
    from sqlalchemy import create_engine, delete

    from prophex.ledger.schema import api_account_events, api_orders

    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/pm.db",
        admin_key="pm-admin",
        rate_limit_per_second=0,
        block_wait_ms=0,
    )
    with TestClient(create_app(settings)) as api:
        for market, strike in (("btc100", "100000"), ("btc105", "105000")):
            body = {"market": market, "strike": strike, **BTC}
            assert api.post("/v1/admin/markets", json=body, headers=ADMIN).status_code == 201
        me = _account(api, "1500")
        api.post("/v1/account/margin-mode", json={"mode": "portfolio"}, headers=me)
        leg = {"market": "btc100", "side": "A", "notional": "1000", "client_order_id": "leg-1"}
        first = api.post("/v1/portfolio/orders", json=leg, headers=me).json()
        hedge = {"market": "btc105", "side": "B", "notional": "600"}
        second = api.post("/v1/portfolio/orders", json=hedge, headers=me).json()
        close = {"notional": "250"}
        closed = api.post(f"/v1/positions/{first['position_id']}/close", json=close, headers=me)
        assert closed.status_code == 200, closed.text
        before_orders = api.get("/v1/orders", headers=me).json()["items"]
        before_fills = api.get("/v1/fills", headers=me).json()["items"]
        before_events = _account_events(api, me)
        ledger = api.get("/v1/account/ledger", headers=me).json()["items"]
    oid = f"o-{first['command_seq']}"
    assert [o["order_id"] for o in before_orders] == [
        oid,
        f"o-{second['command_seq']}",
        closed.json()["order_id"],
    ]
    order = before_orders[0]
    assert (order["kind"], order["margin"], order["leverage"]) == ("open", None, None)
    assert (order["client_order_id"], order["notional"], order["fee"]) == (
        "leg-1",
        "1000",
        first["fee"],
    )
    assert order["position"]["notional"] == "1000" and order["position"]["margin"] == "0"
    assert [f["order_id"] for f in before_fills] == [o["order_id"] for o in before_orders]
    assert [f["fill_id"] for f in before_fills] == [f"f-{o['txn_seq']}" for o in before_orders]
    kinds = [(e["type"], e["data"].get("order_id")) for e in before_events]
    for o in before_orders:
        for kind in ("order", "fill", "position"):
            assert (kind, o["order_id"]) in kinds
    # reconciliation: per order, postings (wallet + pm_margin) = realized pnl - fee
    for fill in before_fills:
        moved = sum(_usd_micro(e["amount"]) for e in ledger if e["order_id"] == fill["order_id"])
        pnl = 0 if fill["realized_pnl"] is None else _usd_micro(fill["realized_pnl"])
        assert moved == pnl - _usd_micro(fill["fee"])
    assert {e["client_order_id"] for e in ledger if e["order_id"] == oid} == {"leg-1"}

    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(delete(api_orders).where(api_orders.c.command_seq >= first["command_seq"]))
        conn.execute(delete(api_account_events).where(api_account_events.c.txn_seq > 3))
    engine.dispose()
    with TestClient(create_app(settings)) as api:
        after_orders = api.get("/v1/orders", headers=me).json()["items"]
        after_fills = api.get("/v1/fills", headers=me).json()["items"]
        after_events = _account_events(api, me)
    assert _strip_wall(after_orders) == _strip_wall(before_orders)
    assert _strip_wall(after_fills) == _strip_wall(before_fills)
    assert _strip_wall(after_events) == _strip_wall(before_events)


def _usd_micro(text: str) -> int:
    negative = text.startswith("-")
    units, _, frac = text.lstrip("-").partition(".")
    value = int(units) * 1_000_000 + int((frac + "000000")[:6])
    return -value if negative else value
