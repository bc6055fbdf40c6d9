"""``prophex dashboard``: a fresh demo database, the server, the printed URL and demo key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from prophex.api.server import REPO_ROOT, free_port

pytestmark = pytest.mark.slow


def test_dashboard_command_serves_the_demo(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "dash.db"
    command = [
        sys.executable, "-c", "from prophex.cli import main; main()", "dashboard",
        "--port", str(port), "--db", str(db),
    ]  # fmt: skip
    env = {**os.environ, "PROPHEX_ADMIN_KEY": "dash-admin"}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert f"dashboard at http://127.0.0.1:{port}/dashboard/" in first
        key = re.search(r"(pxk_\S+)", second)
        assert key is not None
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # wait for the server to start (at most ~30 s)
            assert process.poll() is None, "prophex dashboard exited"
            try:
                if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        markets = httpx.get(base + "/v1/markets").json()["items"]
        assert {m["id"] for m in markets} == {"w1", "cascade", "skew"}
        assert len(httpx.get(base + "/v1/feeds/liquidations").json()["items"]) == 3
        assert httpx.get(base + "/dashboard/").status_code == 200
        account = httpx.get(base + "/v1/account", headers={"Authorization": f"Bearer {key[1]}"})
        assert account.json()["account"] == "dave"
    finally:
        process.terminate()
        process.wait(timeout=30)
