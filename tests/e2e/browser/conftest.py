"""Browser tests: Playwright for Python driving Debian's Chromium (by executable path, nothing is
downloaded) against a real ``prophex serve`` process (uvicorn) on a SQLite file that the demo
has filled. Without Chromium the tests are skipped locally but FAIL in CI (``CI=true`` or
``PROPHEX_REQUIRE_POSTGRES=1``, which .ci/run sets), so a missing browser is never silent there.
Each page collects console errors and uncaught exceptions; a test fails if there was any.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prophex.api.dashboard.cli import prepare_demo_database
from prophex.api.server import ServerProcess

CHROMIUM = Path(os.environ.get("PROPHEX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# The committed screenshots (docs/screenshots/) are refreshed only on request
# (`make screenshots`): an ordinary test run writes them to a scratch folder, so `make test`
# leaves the work tree clean.
SCREENSHOTS = Path(
    os.environ.get("PROPHEX_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "prophex-screenshots"
)
ADMIN_KEY = "admin-browser-key"

pytestmark = pytest.mark.slow


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get(
        "PROPHEX_REQUIRE_POSTGRES"
    ) in ("1", "true")


def _missing(reason: str) -> None:
    if _required():
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, which would break every later test in the same worker that calls
# asyncio.run() (xdist puts other files after these in one process).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the 'playwright' package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found: apt-get install -y chromium (make test does it)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Demo:
    url: str
    admin_key: str
    dave_key: str
    db_path: Path


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Demo]:
    """A real server on the demo's SQLite database (rate limits off: tests burst requests)."""
    path = tmp_path_factory.mktemp("dashboard") / "demo.db"
    dave_key = prepare_demo_database(path)
    env = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0", "PROPHEX_HEARTBEAT_SECONDS": "1"}
    with ServerProcess(f"sqlite:///{path}", admin_key=ADMIN_KEY, env=env) as server:
        yield Demo(server.url, ADMIN_KEY, dave_key, path)


class Page:
    """A Playwright page plus the console errors it logged."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        """Everything must come from the server itself: no CDN, no telemetry."""
        url = str(request.url)
        if not url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:")):
            self.errors.append(f"external request: {url}")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text}")

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / name
        self.page.screenshot(path=str(target), full_page=True)
        return target


@pytest.fixture
def make_page(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    pages: list[Page] = []

    def make(width: int = 1280, height: int = 800) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        contexts.append(context)
        page = Page(context.new_page())
        pages.append(page)
        return page

    yield make
    errors = [e for p in pages for e in p.errors]
    for context in contexts:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"
