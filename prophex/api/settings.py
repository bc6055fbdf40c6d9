"""API settings, read from the environment once at start-up.

pydantic-settings is not a dependency, so this is a plain frozen dataclass with an explicit
:meth:`ApiSettings.from_env`; tests build it directly with the values they need, which keeps
every knob visible at the call site instead of hidden in process-wide state.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace

from prophex.ledger.store import database_url


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else float(raw)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else int(raw)


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Every tunable of the API server. Defaults suit a local simulator run."""

    database_url: str = field(default_factory=database_url)
    admin_key: str = ""
    profile: str = "launch"
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    max_body_bytes: int = 64 * 1024
    block_max_commands: int = 500
    block_wait_ms: float = 1.0
    heartbeat_seconds: float = 5.0
    stream_queue_limit: int = 20_000
    page_limit_max: int = 500
    order_fast_path: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        """Settings from ``PROPHEX_*`` variables; explicit ``overrides`` win."""
        settings = cls(
            database_url=database_url(),
            admin_key=os.environ.get("PROPHEX_ADMIN_KEY", ""),
            profile=os.environ.get("PROPHEX_PROFILE", "launch"),
            rate_limit_per_second=_float("PROPHEX_RATE_LIMIT_PER_SECOND", 200.0),
            rate_limit_burst=_int("PROPHEX_RATE_LIMIT_BURST", 400),
            max_body_bytes=_int("PROPHEX_MAX_BODY_BYTES", 64 * 1024),
            block_max_commands=_int("PROPHEX_BLOCK_MAX_COMMANDS", 500),
            block_wait_ms=_float("PROPHEX_BLOCK_WAIT_MS", 1.0),
            heartbeat_seconds=_float("PROPHEX_HEARTBEAT_SECONDS", 5.0),
            order_fast_path=os.environ.get("PROPHEX_ORDER_FAST_PATH", "1") != "0",
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean)  # type: ignore[arg-type]

    def with_admin_key(self) -> tuple[ApiSettings, bool]:
        """Settings with an admin key, generating one when none is configured.

        Returns whether the key was generated, so the caller can print it exactly once.
        """
        if self.admin_key:
            return self, False
        return replace(self, admin_key="adm_" + secrets.token_urlsafe(32)), True
