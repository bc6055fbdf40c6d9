"""POST /v1/orders answers the same with the ASGI fast path on and off.

Both call the one shared order path (``deps.authenticate`` + ``orders.order_answer``), so this
is a regression check of the transport, not a parity contract between two implementations.
The same script of requests (accepted, duplicate, conflicting, refused by each check, invalid
JSON, schema violations, bad keys) runs against an app with the fast path and one without;
statuses, media types, rate-limit headers and bodies must be identical (apart from the account
id and wall-clock time, which differ between the two databases).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from prophex.api.app import create_app
from prophex.api.settings import ApiSettings

ADMIN = {"Authorization": "Bearer fp-admin"}
ORDER = {"market": "m", "side": "A", "margin": "10", "leverage": "2"}
SCRIPT: list[tuple[str, Any]] = [
    ("json", ORDER | {"client_order_id": "o-1"}),
    ("json", ORDER | {"client_order_id": "o-1"}),
    ("json", ORDER | {"client_order_id": "o-1", "margin": "11"}),
    ("json", ORDER | {"margin": "400", "leverage": "3"}),
    ("json", ORDER | {"margin": "5000"}),
    ("json", ORDER | {"max_avg_price": "0.1"}),
    ("json", ORDER | {"leverage": "9"}),
    ("json", ORDER | {"market": "nope"}),
    ("json", ORDER | {"margin": 10}),
    ("json", ORDER | {"surprise": 1}),
    ("json", {"market": "m"}),
    ("json", [1, 2]),
    ("raw", b"{broken"),
    ("raw", b""),
    ("badkey", ORDER),
    ("nokey", ORDER),
    ("admin", ORDER),
]


def _run(tmp_path: Path, fast: bool) -> list[tuple[int, str, str | None, Any]]:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/{'fast' if fast else 'slow'}.db",
        admin_key="fp-admin",
        rate_limit_per_second=0.001,
        rate_limit_burst=1000,
        block_wait_ms=0,
        order_fast_path=fast,
    )
    out = []
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        api.post("/v1/admin/markets", json={"market": "m"}, headers=ADMIN)
        key = api.post("/v1/accounts", json={}).json()["api_key"]
        headers = {"Authorization": f"Bearer {key}"}
        api.post("/v1/account/deposit", json={"amount": "1000"}, headers=headers)
        for kind, payload in SCRIPT:
            if kind == "raw":
                sent = headers | {"Content-Type": "application/json"}
                response = api.post("/v1/orders", content=payload, headers=sent)
            else:
                chosen = {
                    "json": headers,
                    "badkey": {"Authorization": "Bearer wrong"},
                    "nokey": {},
                    "admin": ADMIN,
                }[kind]
                response = api.post("/v1/orders", json=payload, headers=chosen)
            out.append(
                (
                    response.status_code,
                    response.headers["content-type"],
                    response.headers.get("x-ratelimit-remaining"),
                    _normal(response.json()),
                )
            )
    return out


def _normal(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: "*" if k in ("account", "wall_time") else _normal(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_normal(v) for v in body]
    return body


def test_fast_path_matches_the_route(tmp_path: Path) -> None:
    fast, slow = _run(tmp_path, True), _run(tmp_path, False)
    assert [r[0] for r in fast] == [200, 200, 409, 409, 409, 409, 422, 404, 422, 422, 422, 422,
                                    400, 422, 401, 401, 403]  # fmt: skip
    for got, expected in zip(fast, slow, strict=True):
        assert got == expected
