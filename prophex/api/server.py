"""Run the API as a real uvicorn subprocess (end-to-end tests, the benchmark, demos).

Tests and the benchmark talk to the server exactly as a bot would: over TCP, through uvicorn,
with the lifespan, the writer lock and the database of a real deployment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

import prophex

REPO_ROOT = Path(prophex.__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``with ServerProcess(db_url, admin_key="...") as server: server.url``."""

    def __init__(
        self,
        database_url: str,
        *,
        admin_key: str = "admin-test-key",
        env: dict[str, str] | None = None,
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.database_url = database_url
        self.admin_key = admin_key
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        env = {
            **os.environ,
            "PROPHEX_DATABASE_URL": self.database_url,
            "PROPHEX_ADMIN_KEY": self.admin_key,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            **self.extra_env,
        }
        command = [
            sys.executable, "-m", "uvicorn", "prophex.api.app:app_from_env", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            "--no-access-log", "--timeout-keep-alive", "30",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, cwd=str(REPO_ROOT))
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is None:  # survives python -O (issue 8)
                raise RuntimeError("server process not started")
            if self.process.poll() is not None:
                raise RuntimeError(f"API server exited with code {self.process.returncode}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"API server not ready after {self.startup_timeout}s")

    def stop(self) -> None:
        """Graceful stop (SIGTERM lets the lifespan close the sequencer), then force."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()
