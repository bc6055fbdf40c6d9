"""``prophex serve``: uvicorn serving the API (SQLite by default, PostgreSQL via URL)."""

from __future__ import annotations

import os

import typer


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="interface to bind"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    db: str | None = typer.Option(
        None, "--db", help="database URL (default: PROPHEX_DATABASE_URL or sqlite:///prophex.db)"
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level"),
) -> None:
    """Serve the trading API; migrations are applied on start. OpenAPI at /openapi.json,
    interactive docs at /docs, the stream at /v1/stream."""
    import uvicorn

    if db:
        os.environ["PROPHEX_DATABASE_URL"] = db
    database = os.environ.get("PROPHEX_DATABASE_URL", "sqlite:///prophex.db")
    typer.echo(
        f"prophex: serving http://{host}:{port}  (docs /docs, OpenAPI /openapi.json, stream "
        f"ws://{host}:{port}/v1/stream) on {database.split('@')[-1]}"
    )
    uvicorn.run(
        "prophex.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=10,
        timeout_keep_alive=30,
        access_log=False,
    )
