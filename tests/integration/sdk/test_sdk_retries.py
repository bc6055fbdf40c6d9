"""Which requests the SDK repeats, against a real server with its shipped rate limiter set to
one request per second: a 429 is waited out and retried for any call (nothing was done); a
read timeout is retried for a read but never for ``create_account`` or an admin call, whose
request may already have taken effect. Attempts are counted with an httpx request hook."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from prophex.api.server import ServerProcess
from prophex.sdk import AsyncProphexClient

pytestmark = pytest.mark.slow


@pytest.fixture
def server(sqlite_url: str) -> Any:
    env = {"PROPHEX_RATE_LIMIT_PER_SECOND": "1", "PROPHEX_RATE_LIMIT_BURST": "1"}
    with ServerProcess(sqlite_url, env=env) as running:
        yield running


def _counted(client: AsyncProphexClient) -> list[str]:
    sent: list[str] = []

    async def hook(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    client.http.event_hooks["request"].append(hook)
    return sent


def test_rate_limited_calls_are_waited_out_and_retried(server: ServerProcess) -> None:
    async def run() -> list[str]:
        async with AsyncProphexClient(server.url, retries=3) as client:
            sent = _counted(client)
            await client.create_account("first")
            second = await client.create_account("second")  # 429 first, then accepted
            assert second.label == "second"
            return sent

    sent = asyncio.run(run())
    assert sent.count("POST /v1/accounts") == 3


def test_timeouts_are_retried_only_for_safe_calls(server: ServerProcess) -> None:
    timeout = httpx.Timeout(5.0, read=0.000001)

    async def run() -> list[str]:
        async with AsyncProphexClient(
            server.url, admin_key=server.admin_key, timeout=timeout, retries=2,
            retry_backoff=0.01,
        ) as client:  # fmt: skip
            sent = _counted(client)
            with pytest.raises(httpx.ReadTimeout):
                await client.markets()
            with pytest.raises(httpx.ReadTimeout):
                await client.admin_create_market("maybe-created")
            return sent

    sent = asyncio.run(run())
    assert sent == ["GET /v1/markets"] * 3 + ["POST /v1/admin/markets"]
