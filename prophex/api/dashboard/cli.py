"""``prophex dashboard``: the API and its dashboard on an embedded SQLite database that the demo
has pre-filled (markets, trades, a liquidation cascade, a skewed resolution)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import typer
from rich.console import Console


def prepare_demo_database(path: Path) -> str:
    """(Re)create ``path`` with the demo's exchange and return an API key of trader ``dave``."""
    from prophex.api.keys import KeyStore
    from prophex.ledger.store import make_db_engine
    from prophex.simulation.demo import run_demo

    run_demo(path, Console(file=io.StringIO()))
    keys = KeyStore(make_db_engine(f"sqlite:///{path}"))
    try:
        keys.prepare()
        token, _record = keys.create("dave", "dashboard demo")
    finally:
        keys.dispose()
    return token


def dashboard_command(
    host: str = typer.Option("127.0.0.1", "--host", help="interface to bind"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    db: Path = typer.Option(
        Path("prophex-dashboard.db"), "--db", help="SQLite file to (re)create with the demo"
    ),
) -> None:
    """Serve the dashboard on a fresh SQLite database pre-filled by the demo."""
    import uvicorn

    key = prepare_demo_database(db)
    os.environ["PROPHEX_DATABASE_URL"] = f"sqlite:///{db}"
    base = f"http://{host}:{port}"
    typer.echo(
        f"prophex: dashboard at {base}/dashboard/  (margin lab {base}/dashboard/margin, API docs "
        f"{base}/docs) on {db}\nprophex: API key of demo trader 'dave' (account view): {key}"
    )
    uvicorn.run(
        "prophex.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
        access_log=False,
    )
