"""Bad input of every kind gets its documented 4xx and changes nothing (issue 8, point 4).

Each case is sent to a live app (real SQLite); the command sequence and the stored block height
must be unchanged afterwards, which is how "nothing written" is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prophex.api.app import create_app
from prophex.api.settings import ApiSettings

ADMIN = {"Authorization": "Bearer in-admin"}
PROBLEM = "application/problem+json"
ORDER = b'{"market":"m","side":"A","margin":"10","leverage":"2"}'
DEEP = b'{"market":' + b"[" * 5000 + b"]" * 5000 + b"}"
MILDLY_DEEP = b'{"label":' + b"[" * 40 + b"]" * 40 + b"}"
JSON_CT = {"Content-Type": "application/json"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/inputs.db",
        admin_key="in-admin",
        rate_limit_per_second=0,
        block_wait_ms=0,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/v1/admin/markets", json={"market": "m"}, headers=ADMIN).is_success
        key = client.post("/v1/accounts", json={}).json()["api_key"]
        auth = {"Authorization": f"Bearer {key}"}
        assert client.post("/v1/account/deposit", json={"amount": "100"}, headers=auth).is_success
        assert client.post("/v1/orders", content=ORDER, headers=auth | JSON_CT).is_success
        yield client, auth


def _state(client: TestClient) -> tuple[int, int]:
    health = client.get("/v1/health").json()
    return health["command_seq"], health["block_height"]


POSTS: list[tuple[str, str, bytes, dict[str, str], int, str]] = [
    ("orders-text-plain", "/v1/orders", ORDER, {"Content-Type": "text/plain"}, 415,
     "UNSUPPORTED_MEDIA_TYPE"),
    ("orders-no-content-type", "/v1/orders", ORDER, {}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("orders-form", "/v1/orders", b"market=m",
     {"Content-Type": "application/x-www-form-urlencoded"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("deposit-text-plain", "/v1/account/deposit", b'{"amount":"1"}',
     {"Content-Type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("keys-no-content-type", "/v1/account/keys", b'{"label":"x"}', {}, 415,
     "UNSUPPORTED_MEDIA_TYPE"),
    ("orders-deep-json", "/v1/orders", DEEP, JSON_CT, 400, "MALFORMED_REQUEST"),
    ("deposit-deep-json", "/v1/account/deposit", DEEP, JSON_CT, 400, "MALFORMED_REQUEST"),
    ("keys-mildly-deep-json", "/v1/account/keys", MILDLY_DEEP, JSON_CT, 400,
     "MALFORMED_REQUEST"),
    ("orders-duplicate-key", "/v1/orders",
     b'{"market":"m","side":"A","margin":"10","margin":"20","leverage":"2"}', JSON_CT, 400,
     "MALFORMED_REQUEST"),
    ("deposit-duplicate-key", "/v1/account/deposit", b'{"amount":"1","amount":"2"}', JSON_CT,
     400, "MALFORMED_REQUEST"),
    ("orders-broken-json", "/v1/orders", b'{"market":', JSON_CT, 400, "MALFORMED_REQUEST"),
    ("deposit-not-utf8", "/v1/account/deposit", b'{"amount":"\xff"}', JSON_CT, 400,
     "MALFORMED_REQUEST"),
    ("orders-margin-zero", "/v1/orders",
     b'{"market":"m","side":"A","margin":"0","leverage":"2"}', JSON_CT, 422, "VALIDATION_ERROR"),
    ("deposit-above-max", "/v1/account/deposit", b'{"amount":"1000000000.000001"}', JSON_CT,
     422, "VALIDATION_ERROR"),
    ("deposit-zero", "/v1/account/deposit", b'{"amount":"0.000"}', JSON_CT, 422,
     "VALIDATION_ERROR"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code"),
    [case[1:] for case in POSTS],
    ids=[case[0] for case in POSTS],
)
def test_bad_body_is_refused_and_changes_nothing(
    api: tuple[TestClient, dict[str, str]],
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    client, auth = api
    before = _state(client)
    response = client.post(path, content=body, headers=auth | headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert _state(client) == before


GETS: list[tuple[str, str]] = [
    ("trades-letters", "/v1/feeds/trades?cursor=abc"),
    ("trades-negative", "/v1/feeds/trades?cursor=-5"),
    ("liquidations-huge", "/v1/feeds/liquidations?cursor=1" + "0" * 30),
    ("ledger-pair", "/v1/account/ledger?cursor=x:y"),
    ("ledger-junk", "/v1/account/ledger?cursor=12:3:4"),
    ("positions", "/v1/positions?cursor=zz"),
    ("settlements", "/v1/account/settlements?cursor=1.5"),
    ("prices", "/v1/markets/m/prices?cursor=%20"),
]


@pytest.mark.parametrize("path", [case[1] for case in GETS], ids=[case[0] for case in GETS])
def test_invalid_cursor_is_422(api: tuple[TestClient, dict[str, str]], path: str) -> None:
    client, auth = api
    response = client.get(path, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "INVALID_CURSOR"


def test_valid_cursors_still_page(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    first = client.get("/v1/account/ledger?limit=1", headers=auth).json()
    assert first["next_cursor"] is not None
    second = client.get(f"/v1/account/ledger?limit=1&cursor={first['next_cursor']}", headers=auth)
    assert second.status_code == 200 and second.json()["items"] != first["items"]


def test_rate_limited_order_carries_headers(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/rl.db",
        admin_key="in-admin",
        rate_limit_per_second=0.001,
        rate_limit_burst=2,
        block_wait_ms=0,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        key = client.post("/v1/accounts", json={}).json()["api_key"]
        auth = {"Authorization": f"Bearer {key}"} | JSON_CT
        statuses = [client.post("/v1/orders", content=ORDER, headers=auth) for _ in range(3)]
        refused = statuses[-1]
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Limit"] == "2"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["Retry-After"]) >= 1


def test_health_reports_stored_block_height_after_restart(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/h.db", admin_key="in-admin", block_wait_ms=0
    )
    with TestClient(create_app(settings)) as client:
        client.post("/v1/admin/markets", json={"market": "m"}, headers=ADMIN)
        height = client.get("/v1/health").json()["block_height"]
        assert height >= 2
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/health").json()["block_height"] == height


def test_ws_resync_huge_from_seq_is_an_error_not_a_drop(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = api
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"op": "resync", "market": "m", "from_seq": 10**30})
        error = ws.receive_json()
        assert (error["type"], error["code"]) == ("error", "VALIDATION_ERROR")
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_ws_resync_past_latest_names_latest(api: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = api
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"op": "subscribe", "markets": ["m"]})
        latest = ws.receive_json()["seq"]
        ws.send_json({"op": "resync", "market": "m", "from_seq": latest + 5})
        error = ws.receive_json()
        assert (error["type"], error["code"], error["latest"]) == ("error", "INVALID_SEQ", latest)
        ws.send_json({"op": "resync", "market": "m", "from_seq": latest + 1})
        assert ws.receive_json() == {"type": "resynced", "market": "m", "seq": latest}


def test_ws_deep_frame_closes_with_1007(api: tuple[TestClient, dict[str, str]]) -> None:
    from starlette.websockets import WebSocketDisconnect

    client, _ = api
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text("[" * 20_000 + "]" * 20_000)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1007


def test_ws_duplicate_key_frame_closes_with_1007(api: tuple[TestClient, dict[str, str]]) -> None:
    from starlette.websockets import WebSocketDisconnect

    client, _ = api
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text('{"op":"ping","op":"subscribe"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1007


def test_ws_subscribe_dedupes(api: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = api
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"op": "subscribe", "markets": ["m"] * 1000})
        ws.send_json({"op": "ping"})
        assert ws.receive_json()["type"] == "snapshot"
        assert ws.receive_json() == {"type": "pong"}
