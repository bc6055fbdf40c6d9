"""Authentication, isolation between accounts, admin separation, limits, problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from prophex.api.app import create_app
from prophex.api.settings import ApiSettings

ADMIN = {"Authorization": "Bearer sec-admin"}
PROBLEM = "application/problem+json"


def _client(tmp_path: Path, **overrides: object) -> TestClient:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/sec.db",
        admin_key="sec-admin",
        rate_limit_per_second=0,
        block_wait_ms=0,
    )
    for key, value in overrides.items():
        object.__setattr__(settings, key, value)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path) as client:
        assert (
            client.post("/v1/admin/markets", json={"market": "m"}, headers=ADMIN).status_code == 201
        )
        yield client


def _account(api: TestClient) -> tuple[str, dict[str, str]]:
    created = api.post("/v1/accounts", json={"label": "t"}).json()
    return created["account"], {"Authorization": f"Bearer {created['api_key']}"}


def _problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code and body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    return body


def test_missing_wrong_and_revoked_keys_are_401(api: TestClient) -> None:
    _problem(api.get("/v1/account"), 401, "UNAUTHORIZED")
    _problem(api.get("/v1/account", headers={"Authorization": "Bearer nope"}), 401, "UNAUTHORIZED")
    _problem(
        api.post("/v1/orders", json={}, headers={"Authorization": "Bearer x"}), 401, "UNAUTHORIZED"
    )
    created = api.post("/v1/accounts", json={"label": "t"}).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert api.get("/v1/account", headers=headers).status_code == 200
    second = api.post("/v1/account/keys", json={"label": "b"}, headers=headers).json()
    other = {"Authorization": f"Bearer {second['api_key']}"}
    key_id = created["key_id"]
    assert len(api.get("/v1/account/keys", headers=headers).json()["items"]) == 2
    revoked = api.delete(f"/v1/account/keys/{key_id}", headers=other)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    _problem(api.get("/v1/account", headers=headers), 401, "UNAUTHORIZED")
    body = {"market": "m", "side": "A", "margin": "1", "leverage": "1"}
    _problem(api.post("/v1/orders", json=body, headers=headers), 401, "UNAUTHORIZED")
    assert api.get("/v1/account", headers=other).status_code == 200


def test_other_accounts_positions_look_missing(api: TestClient) -> None:
    _, alice = _account(api)
    _, bob = _account(api)
    api.post("/v1/account/deposit", json={"amount": "100"}, headers=alice)
    api.post("/v1/account/deposit", json={"amount": "100"}, headers=bob)
    order = {"market": "m", "side": "A", "margin": "10", "leverage": "2", "client_order_id": "x1"}
    position_id = api.post("/v1/orders", json=order, headers=alice).json()["position_id"]
    missing = _problem(api.get(f"/v1/positions/{position_id}", headers=bob), 404, "NOT_FOUND")
    absent = _problem(api.get("/v1/positions/999", headers=bob), 404, "NOT_FOUND")
    assert missing["title"] == absent["title"]
    _problem(api.post(f"/v1/positions/{position_id}/close", json={}, headers=bob), 404, "NOT_FOUND")
    _problem(
        api.post(f"/v1/positions/{position_id}/margin", json={"amount": "1"}, headers=bob),
        404,
        "NOT_FOUND",
    )
    _problem(api.get("/v1/orders/x1", headers=bob), 404, "NOT_FOUND")
    _problem(api.get("/v1/orders/by-client-id/x1", headers=bob), 404, "NOT_FOUND")
    _problem(api.get("/v1/orders/o-4", headers=bob), 404, "NOT_FOUND")
    assert api.get("/v1/positions", headers=bob).json()["items"] == []
    ledger = api.get("/v1/account/ledger", headers=bob).json()["items"]
    assert {e["ledger_account"] for e in ledger} == {ledger[0]["ledger_account"]}
    same = order | {"client_order_id": "x1"}
    assert api.post("/v1/orders", json=same, headers=bob).json()["duplicate"] is False
    assert api.get(f"/v1/positions/{position_id}", headers=alice).json()["margin"] == "10"


def test_admin_routes_refuse_trading_keys(api: TestClient) -> None:
    _, headers = _account(api)
    _problem(api.post("/v1/admin/markets/m/halt", headers=headers), 403, "FORBIDDEN")
    _problem(api.post("/v1/admin/clock", json={"seconds": 1}, headers=headers), 403, "FORBIDDEN")
    _problem(api.post("/v1/admin/markets/m/halt"), 401, "UNAUTHORIZED")
    _problem(api.post("/v1/orders", json={}, headers=ADMIN), 403, "FORBIDDEN")
    assert (
        api.post("/v1/admin/markets/m/halt", headers=ADMIN).json()["market"]["status"] == "halted"
    )


def test_errors_name_the_failing_check(api: TestClient) -> None:
    _, headers = _account(api)
    api.post("/v1/account/deposit", json={"amount": "2000"}, headers=headers)
    order = {"market": "m", "side": "A", "margin": "400", "leverage": "3"}
    body = _problem(api.post("/v1/orders", json=order, headers=headers), 409, "WALLET_CAP_EXCEEDED")
    assert (body["cap"], body["headroom"], body["requested"]) == ("1000", "1000", "1200")
    small = order | {"margin": "1", "max_avg_price": "0.4"}
    body = _problem(api.post("/v1/orders", json=small, headers=headers), 409, "SLIPPAGE_EXCEEDED")
    assert body["bound"] == "0.400000"
    body = _problem(
        api.post("/v1/orders", json=order | {"leverage": "5"}, headers=headers),
        422,
        "LEVERAGE_TOO_HIGH",
    )
    assert body["max_leverage"] == "3"
    body = _problem(
        api.post("/v1/orders", json=order | {"margin": 1.5}, headers=headers),
        422,
        "VALIDATION_ERROR",
    )
    assert body["field"] == "margin"
    bad = api.post(
        "/v1/orders", content=b"{not json", headers=headers | {"Content-Type": "application/json"}
    )
    _problem(bad, 400, "MALFORMED_REQUEST")
    state = api.get("/v1/account", headers=headers).json()
    assert state["wallet_balance"] == "2000" and state["open_positions"] == 0


def test_body_limit_and_rate_limit(tmp_path: Path) -> None:
    with _client(tmp_path, rate_limit_per_second=1.0, rate_limit_burst=3) as api:
        created = api.post("/v1/accounts", json={}).json()
        headers = {"Authorization": f"Bearer {created['api_key']}"}
        big = b'{"amount": "1", "pad": "' + b"x" * 70_000 + b'"}'
        _problem(
            api.post("/v1/account/deposit", content=big, headers=headers), 413, "PAYLOAD_TOO_LARGE"
        )
        seen = [api.get("/v1/account", headers=headers) for _ in range(3)]
        assert all(r.status_code == 200 for r in seen[1:])
        assert seen[-1].headers["X-RateLimit-Remaining"] == "0"
        limited = api.get("/v1/account", headers=headers)
        body = _problem(limited, 429, "RATE_LIMITED")
        assert limited.headers["Retry-After"] == "1" and body["retry_after"] == 1
