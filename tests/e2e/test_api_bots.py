"""The example bots run against a live server, trade without a single server error, and end
by reconciling their fills against the ledger (exit code 0 = every fill agrees to the
micro-dollar). The liquidation hunter liquidates a levered crowd on a small-V market.

The bots need the private side of the API (``GET /v1/fills``, order ids in the ledger, the
private stream), which the server has: a missing ``GET /v1/fills`` fails the test."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from prophex.api.server import REPO_ROOT, ServerProcess
from prophex.sdk import ProphexClient

pytestmark = pytest.mark.slow


def _bot(script: str, url: str, key: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "examples" / "bots" / script), "--url", url,
         "--key", key, "--seed", "7", *extra],
        env={"PYTHONPATH": str(REPO_ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _require_private_api(url: str, key: str) -> None:
    status = httpx.get(url + "/v1/fills", headers={"Authorization": f"Bearer {key}"}).status_code
    assert status == 200, "GET /v1/fills is part of the server: the bots need it"


def test_example_bots_trade_and_reconcile_against_a_live_server(sqlite_url: str) -> None:
    with ServerProcess(sqlite_url, env={"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        admin.admin_create_market("bots", virtual_oi="200")
        keys = []
        for name in ("maker", "momentum", "pusher"):
            created = admin.create_account(name)
            admin.with_key(created.api_key).deposit("500")
            keys.append(created.api_key)
        _require_private_api(server.url, keys[0])
        pusher = admin.with_key(keys[2])
        pusher.open_order("bots", "A", "20", "2")
        common = ("--iterations", "12", "--interval", "0.05")
        runs = [
            _bot("market_maker.py", server.url, keys[0], *common),
            _bot("momentum.py", server.url, keys[1], *common),
        ]
        for i in range(6):
            pusher.open_order("bots", "AB"[i % 2], "10", "2")
        outputs = [run.communicate(timeout=90)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert all("reconciled:" in out for out in outputs), outputs
        maker = admin.with_key(keys[0])
        assert maker.positions(status="all").items, outputs[0]
        assert all(o.client_order_id.startswith("mm-7-") for o in maker.orders().items)


def test_liquidation_hunter_liquidates_a_levered_crowd(sqlite_url: str) -> None:
    with ServerProcess(sqlite_url, env={"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        # A small-V market with a wallet cap above the default: one account can move it.
        admin.admin_create_market("thin", virtual_oi="200", wallet_cap="10000")
        crowd = admin.with_key(admin.create_account("crowd").api_key)
        hunter_key = admin.create_account("hunter").api_key
        crowd.deposit("1000")
        admin.with_key(hunter_key).deposit("1000")
        _require_private_api(server.url, hunter_key)
        crowd.open_order("thin", "A", "100", "3")  # price_A 0.714286, liquidation at 0.293589
        run = _bot(
            "liquidation_hunter.py", server.url, hunter_key, "--market", "thin",
            "--margin", "400", "--leverage", "3", "--duration", "30",
        )  # fmt: skip
        output = run.communicate(timeout=90)[0]
        assert run.returncode == 0, output
        assert "caused 1 liquidations" in output and "reconciled:" in output, output
        (victim,) = crowd.positions(status="all").items
        assert victim.status == "liquidated"
        assert [liq.txn_seq for liq in admin.liquidations(market="thin").items]
