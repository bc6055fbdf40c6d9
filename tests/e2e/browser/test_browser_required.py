"""Without Chromium the browser tests fail in CI (never a silent skip) and skip locally."""

from __future__ import annotations

import os
import subprocess
import sys

from prophex.api.server import REPO_ROOT

ONE_TEST = "tests/e2e/browser/test_exchange_view.py::test_api_docs_load_offline"


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "PROPHEX_REQUIRE_POSTGRES")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "no:randomly", "-p", "no:cacheprovider",
         "-n", "0", ONE_TEST],
        cwd=REPO_ROOT, env={**clean, "PROPHEX_CHROMIUM": "/nonexistent/chromium", **env},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_missing_chromium_fails_in_ci() -> None:
    for env in ({"CI": "true"}, {"PROPHEX_REQUIRE_POSTGRES": "1"}):
        run = _run(**env)
        assert run.returncode != 0, run.stdout
        assert "browser tests cannot run in CI" in run.stdout


def test_missing_chromium_skips_locally() -> None:
    run = _run()
    assert run.returncode == 0, run.stdout
    assert "SKIPPED" in run.stdout and "/nonexistent/chromium not found" in run.stdout
