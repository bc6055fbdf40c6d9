"""The example bots run against a live server and trade without a single server error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prophex.api.server import REPO_ROOT, ServerProcess
from prophex.client import ProphexClient

pytestmark = pytest.mark.slow


def test_example_bots_trade_against_a_live_server(sqlite_url: str) -> None:
    with ServerProcess(sqlite_url, env={"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        admin.admin_create_market("bots", virtual_oi="200")
        keys = []
        for name in ("maker", "momentum", "pusher"):
            created = admin.create_account(name)
            ProphexClient(server.url, created.api_key).deposit("500")
            keys.append(created.api_key)
        pusher = ProphexClient(server.url, keys[2])
        pusher.open_order("bots", "A", "20", "2")
        env = {"PYTHONPATH": str(REPO_ROOT)}
        runs = []
        for script, key in (("market_maker.py", keys[0]), ("momentum.py", keys[1])):
            runs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(REPO_ROOT / "examples" / "bots" / script),
                        "--url",
                        server.url,
                        "--key",
                        key,
                        "--iterations",
                        "12",
                        "--interval",
                        "0.05",
                    ],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        for i in range(6):
            pusher.open_order("bots", "AB"[i % 2], "10", "2")
        outputs = [run.communicate(timeout=60)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert "done:" in outputs[0] and "done:" in outputs[1]
        maker = ProphexClient(server.url, keys[0])
        assert maker.positions(status="all").items, outputs[0]
