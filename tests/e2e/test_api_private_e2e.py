"""A bot session on the private side against real uvicorn, on SQLite and on PostgreSQL.

Fills from the private stream, ``GET /v1/fills`` and ``GET /v1/account/ledger`` must agree to
the micro-dollar and join by ``order_id``; the bot's liquidation and settlement must arrive on
the stream; across a forced server restart (SIGKILL) the account's sequence numbers continue
with no gap and no repeat; retried money moves with one ``Idempotency-Key`` execute once even
when the retries run concurrently. Plain httpx and websockets, no SDK.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from typing import Any

import httpx
import pytest
import websockets

from prophex.api.server import REPO_ROOT, ServerProcess
from prophex.money import parse_usd

pytestmark = pytest.mark.slow
ENV = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0", "PROPHEX_HEARTBEAT_SECONDS": "0.5"}
SMALL = {"virtual_oi": "100", "wallet_cap": "100000", "market_oi_cap": "1000000"}


def _micro(text: str) -> int:
    negative = text.startswith("-")
    value = parse_usd(text.lstrip("-"), allow_zero=True)
    return -value if negative else value


class Bot:
    """A REST session plus a private-stream reader that keeps every account event."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        self.events: list[dict[str, Any]] = []

    def post(self, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=headers)
        assert response.is_success, response.text
        result: dict[str, Any] = response.json()
        return result

    def pages(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            page = self.http.get(path, params=params).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    async def read(self, from_seq: int, until: Any, timeout: float = 30) -> None:
        """Resync from ``from_seq`` and keep reading until ``until(self.events)`` holds."""
        ws_url = self.url.replace("http", "ws") + "/v1/stream"
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"op": "auth", "key": self.key}))
            assert json.loads(await ws.recv())["type"] == "authenticated"
            await ws.send(json.dumps({"op": "resync", "channel": "account", "from_seq": from_seq}))
            async with asyncio.timeout(timeout):
                while not until(self.events):
                    message = json.loads(await ws.recv())
                    if message.get("channel") == "account" and message["type"] not in (
                        "resynced",
                        "snapshot",
                    ):
                        self.events.append(message)


def _admin(server: ServerProcess) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}
    )


def _new_bot(url: str, deposit: str) -> Bot:
    created = httpx.post(url + "/v1/accounts", json={"label": "bot"}).json()
    bot = Bot(url, created["api_key"])
    bot.post("/v1/account/deposit", {"amount": deposit}, **{"Idempotency-Key": "first-deposit"})
    return bot


def _order(market: str, side: str, margin: str, **extra: Any) -> dict[str, Any]:
    return {"market": market, "side": side, "margin": margin, "leverage": "3", **extra}


def test_bot_session_fills_ledger_stream_agree_across_restart(db_url: str) -> None:
    server = ServerProcess(db_url, env=ENV).start()
    try:
        admin = _admin(server)
        for market in ("hunted", "settled"):
            assert admin.post("/v1/admin/markets", json={"market": market, **SMALL}).is_success
        bot = _new_bot(server.url, "1000")
        whale = _new_bot(server.url, "5000")
        hunted = bot.post("/v1/orders", _order("hunted", "A", "30", client_order_id="b-1"))
        kept = bot.post("/v1/orders", _order("settled", "A", "20", client_order_id="b-2"))
        bot.post(f"/v1/positions/{kept['position_id']}/margin", {"amount": "5"})
        part = bot.post(
            f"/v1/positions/{kept['position_id']}/close", {"notional": "10"}, **{
                "Idempotency-Key": "close-1"})  # fmt: skip
        big = whale.post("/v1/orders", _order("hunted", "B", "1000"))
        assert [liq["position_id"] for liq in big["liquidations"]] == [hunted["position_id"]]
        asyncio.run(bot.read(1, lambda ev: any(e["type"] == "liquidation" for e in ev)))
        before_kill = len(bot.events)
        server.process.kill()  # type: ignore[union-attr]
        server.process.wait()  # type: ignore[union-attr]
        server.process = None
    finally:
        server.stop()

    with ServerProcess(db_url, env=ENV) as server:
        admin = _admin(server)
        bot.url = server.url
        bot.http = httpx.Client(base_url=server.url, headers=bot.http.headers)
        assert admin.post("/v1/admin/markets/settled/resolve", json={"outcome": "A"}).is_success
        last = bot.events[-1]["seq"]
        asyncio.run(bot.read(last + 1, lambda ev: any(e["type"] == "settlement" for e in ev)))
        asyncio.run(_drain(bot))
        health = httpx.get(server.url + "/v1/health").json()
        assert health["block_height"] > 0

        seqs = [e["seq"] for e in bot.events]
        assert seqs == list(range(1, len(seqs) + 1)), "no gap and no repeat across the restart"
        assert len(seqs) > before_kill
        kinds = [e["type"] for e in bot.events]
        assert "liquidation" in kinds and "settlement" in kinds
        liquidation = next(e["data"] for e in bot.events if e["type"] == "liquidation")
        assert (liquidation["order_id"], liquidation["position_id"]) == (
            big["order_id"], hunted["position_id"])  # fmt: skip
        settlement = next(e["data"] for e in bot.events if e["type"] == "settlement")
        assert settlement["position_id"] == kept["position_id"]

        # fills: stream == GET /v1/fills, joined by order_id
        stream_fills = {e["data"]["order_id"]: e["data"] for e in bot.events if e["type"] == "fill"}
        rest_fills = {f["order_id"]: f for f in bot.pages("/v1/fills")}
        assert stream_fills == rest_fills
        assert set(rest_fills) == {hunted["order_id"], kept["order_id"], part["order_id"]}
        orders = {o["order_id"]: o for o in bot.pages("/v1/orders")}
        for oid, fill in rest_fills.items():
            order = orders[oid]
            assert (fill["price"], fill["fee"], fill["notional"]) == (
                order["average_price"], order["fee"], order["notional"])  # fmt: skip

        # ledger == balance events of the stream, to the micro-dollar, per order_id and in total
        account = orders[hunted["order_id"]]["account"]
        wallet = f"wallet:{account}"
        ledger = [e for e in bot.pages("/v1/account/ledger") if e["ledger_account"] == wallet]
        balances = [e["data"] for e in bot.events if e["type"] == "balance"]
        per_txn: dict[int, tuple[int, str | None]] = {}
        for entry in ledger:  # a transaction may post to the wallet more than once
            moved, _ = per_txn.get(entry["txn_seq"], (0, None))
            per_txn[entry["txn_seq"]] = (moved + _micro(entry["amount"]), entry["order_id"])
        assert [(seq, *per_txn[seq]) for seq in sorted(per_txn) if per_txn[seq][0]] == [
            (b["txn_seq"], _micro(b["amount"]), b["order_id"]) for b in balances
        ]
        for oid, order in orders.items():
            moved = sum(_micro(e["amount"]) for e in ledger if e["order_id"] == oid)
            if order["kind"] == "open":
                assert moved == -(_micro(order["margin"]) + _micro(order["fee"]))
            assert all(
                e["client_order_id"] == order["client_order_id"]
                for e in ledger
                if e["order_id"] == oid
            )
        total = sum(_micro(e["amount"]) for e in ledger)
        assert total == _micro(bot.http.get("/v1/account").json()["wallet_balance"])


async def _drain(bot: Bot) -> None:
    """Read whatever the server still has after the last event (nothing must be new)."""
    last = bot.events[-1]["seq"]
    ws_url = bot.url.replace("http", "ws") + "/v1/stream"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"op": "auth", "key": bot.key}))
        await ws.recv()
        await ws.send(json.dumps({"op": "resync", "channel": "account", "from_seq": last + 1}))
        async with asyncio.timeout(10):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "resynced":
                    assert message["seq"] >= last
                    break
                bot.events.append(message)


async def _retry_concurrently(url: str, key: str, path: str, body: dict[str, Any]) -> set[bytes]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Idempotency-Key": "retry-" + path.rsplit("/", 1)[-1],
    }
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        answers = await asyncio.gather(*(client.post(path, json=body) for _ in range(10)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 9
    return {a.content for a in answers}


def test_concurrent_retries_execute_once(db_url: str) -> None:
    with ServerProcess(db_url, env=ENV) as server:
        assert _admin(server).post("/v1/admin/markets", json={"market": "m", **SMALL}).is_success
        created = httpx.post(server.url + "/v1/accounts", json={}).json()
        key = created["api_key"]
        bot = Bot(server.url, key)
        deposit = asyncio.run(
            _retry_concurrently(server.url, key, "/v1/account/deposit", {"amount": "100"})
        )
        assert len(deposit) == 1
        order = bot.post("/v1/orders", _order("m", "A", "10"))
        margin = asyncio.run(
            _retry_concurrently(
                server.url, key, f"/v1/positions/{order['position_id']}/margin", {"amount": "5"}
            )
        )
        assert len(margin) == 1
        withdraw = asyncio.run(
            _retry_concurrently(server.url, key, "/v1/account/withdraw", {"amount": "7"})
        )
        assert len(withdraw) == 1
        account = bot.http.get("/v1/account").json()
        fee = _micro(order["fee"])
        expected = 100_000_000 - 10_000_000 - fee - 5_000_000 - 7_000_000
        assert _micro(account["wallet_balance"]) == expected
        position = bot.http.get(f"/v1/positions/{order['position_id']}").json()
        assert position["margin"] == "15"
        txns = {(e["txn_seq"], e["kind"]) for e in bot.pages("/v1/account/ledger")}
        kinds = [kind for _, kind in txns]
        assert (kinds.count("deposit"), kinds.count("add_margin"), kinds.count("withdraw")) == (
            1, 1, 1)  # fmt: skip


PM_MARKET = {"cluster": "BTC", "underlying": "BTC", "contract_kind": "threshold"}


def test_portfolio_bot_orders_fills_stream_reconcile_with_ledger(db_url: str) -> None:
    """A portfolio-mode bot opens two positions and closes one: GET /v1/orders lists the three
    orders, GET /v1/fills the three fills, the private stream delivers them, and per order_id
    the ledger postings (wallet, positions and the pm_margin lock) equal
    sum(realized_pnl) - sum(fee) of its fills, to the micro-dollar."""
    with ServerProcess(db_url, env=ENV) as server:
        admin = _admin(server)
        for market, strike in (("btc100", "100000"), ("btc105", "105000")):
            body = {"market": market, "strike": strike, "direction": "above", **PM_MARKET}
            assert admin.post("/v1/admin/markets", json=body).is_success
        bot = _new_bot(server.url, "1500")
        bot.post("/v1/account/margin-mode", {"mode": "portfolio"})
        first = bot.post(
            "/v1/portfolio/orders",
            {"market": "btc100", "side": "A", "notional": "1000", "client_order_id": "pm-1"},
        )
        second = bot.post(
            "/v1/portfolio/orders", {"market": "btc105", "side": "B", "notional": "800"}
        )
        closed = bot.post(f"/v1/positions/{first['position_id']}/close", {"notional": "400"})
        opens = [first["order_id"], second["order_id"]]
        assert opens == [f"o-{first['command_seq']}", f"o-{second['command_seq']}"]
        asyncio.run(bot.read(1, lambda ev: sum(e["type"] == "position" for e in ev) == 3))

        orders = {o["order_id"]: o for o in bot.pages("/v1/orders")}
        assert list(orders) == [*opens, closed["order_id"]]
        one, two = orders[opens[0]], orders[opens[1]]
        assert (one["kind"], one["margin"], one["leverage"]) == ("open", None, None)
        assert (one["client_order_id"], one["position_id"]) == ("pm-1", first["position_id"])
        assert (one["notional"], one["fee"], one["cost"]) == ("1000", first["fee"], first["cost"])
        assert (two["notional"], two["fee"], two["market"]) == ("800", second["fee"], "btc105")
        assert orders[closed["order_id"]]["kind"] == "close"
        assert bot.http.get(f"/v1/orders/{opens[1]}").json() == {**two, "duplicate": False}

        stream_fills = {e["data"]["order_id"]: e["data"] for e in bot.events if e["type"] == "fill"}
        rest_fills = {f["order_id"]: f for f in bot.pages("/v1/fills")}
        assert stream_fills == rest_fills and list(rest_fills) == list(orders)
        stream_orders = [e["data"] for e in bot.events if e["type"] == "order"]
        assert [{**o, "duplicate": False} for o in orders.values()] == stream_orders
        changes = [e["data"]["change"] for e in bot.events if e["type"] == "position"]
        assert changes == ["open", "open", "close"]

        ledger = bot.pages("/v1/account/ledger")
        account = one["account"]
        assert {e["ledger_account"] for e in ledger} >= {
            f"wallet:{account}",
            f"pm_margin:{account}",
        }
        for oid, fill in rest_fills.items():
            postings = [e for e in ledger if e["order_id"] == oid]
            assert postings and all(
                e["client_order_id"] == fill["client_order_id"] for e in postings
            )
            pnl = 0 if fill["realized_pnl"] is None else _micro(fill["realized_pnl"])
            assert sum(_micro(e["amount"]) for e in postings) == pnl - _micro(fill["fee"])
        assert all(e["order_id"] is not None for e in ledger if e["kind"] != "deposit")
        # the example bots' reconciliation (examples/bots/common.py) agrees
        from prophex.sdk.models import Fill, LedgerEntry

        path = REPO_ROOT / "examples" / "bots" / "common.py"
        spec = importlib.util.spec_from_file_location("bots_common", path)
        assert spec is not None and spec.loader is not None
        common = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(common)
        assert (
            common.mismatches(
                [Fill.model_validate(f) for f in rest_fills.values()],
                [LedgerEntry.model_validate(e) for e in ledger],
                streamed=[Fill.model_validate(f) for f in stream_fills.values()],
            )
            == []
        )
        wallet = sum(
            _micro(e["amount"]) for e in ledger if e["ledger_account"].startswith("wallet:")
        )
        assert wallet == _micro(bot.http.get("/v1/account").json()["wallet_balance"])
