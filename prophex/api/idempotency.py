"""``Idempotency-Key`` on every mutating call.

A key is 1-64 characters of ``[A-Za-z0-9._:-]``, scoped to the calling account. The first
request with a key runs; if it succeeds (2xx) its exact response bytes and status are stored
with a fingerprint of the request (route, path parameters, body fields with defaults applied).
A later request with the same key and the same fingerprint gets the stored bytes back, with
``Idempotent-Replayed: true``, and executes nothing; the same key with a different request is
409 ``IDEMPOTENCY_KEY_REUSED`` naming the first differing ``field``. Concurrent requests with
one key are serialised in the server (one sequencer process), so the second waits for the
first and is then answered from its stored result. A refused request (4xx) stores nothing: a
retry is evaluated afresh.

Retention: a stored answer is kept for :data:`RETENTION_SECONDS` (24 h of wall-clock time)
and at most :data:`MAX_KEYS_PER_ACCOUNT` per account (the oldest go first); pruning runs on
insert. A retry after that is a new request.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from sqlalchemy import Engine, and_, delete, func, select

from prophex.api.errors import IdempotencyKeyReused, ValidationFailed
from prophex.ledger.schema import api_idempotency as table

KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION_SECONDS = 86_400
MAX_KEYS_PER_ACCOUNT = 10_000
PRUNE_EVERY = 256
_KEY = re.compile(KEY_PATTERN)

Action = Callable[[], Awaitable[tuple[int, bytes]]]


def check_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY.match(value):
        raise ValidationFailed(
            f"{HEADER} must be 1-64 characters of letters, digits, '.', '_', ':' or '-'",
            field=HEADER,
        )
    return value


def first_difference(stored: dict[str, Any], sent: dict[str, Any]) -> str:
    for name in list(stored) + [k for k in sent if k not in stored]:
        if stored.get(name) != sent.get(name):
            return name
    return "body"


class IdempotencyStore:
    def __init__(
        self,
        engine: Engine,
        retention_seconds: int = RETENTION_SECONDS,
        max_per_account: int = MAX_KEYS_PER_ACCOUNT,
    ) -> None:
        self._engine = engine
        self.retention_seconds = retention_seconds
        self.max_per_account = max_per_account
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._inserts = 0

    def dispose(self) -> None:
        self._engine.dispose()

    async def run(
        self, account: str, key: str | None, fingerprint: dict[str, Any], action: Action
    ) -> tuple[int, bytes, bool]:
        """(status, body, replayed) of the request, executing ``action`` at most once per key."""
        if key is None:
            status, body = await action()
            return status, body, False
        ident = (account, key)
        lock, users = self._locks.get(ident, (asyncio.Lock(), 0))
        self._locks[ident] = (lock, users + 1)
        try:
            async with lock:
                found = await anyio.to_thread.run_sync(self._load, account, key)
                if found is not None:
                    stored_print, status, body = found
                    if stored_print != fingerprint:
                        field = first_difference(stored_print, fingerprint)
                        raise IdempotencyKeyReused(
                            f"{HEADER} {key!r} was used for a different request "
                            f"(first difference: {field!r})",
                            field=field,
                            idempotency_key=key,
                        )
                    return status, body, True
                status, body = await action()
                await anyio.to_thread.run_sync(self._store, account, key, fingerprint, status, body)
                return status, body, False
        finally:
            lock, users = self._locks[ident]
            if users <= 1:
                del self._locks[ident]
            else:
                self._locks[ident] = (lock, users - 1)

    def _load(self, account: str, key: str) -> tuple[dict[str, Any], int, bytes] | None:
        horizon = int(time.time()) - self.retention_seconds
        query = select(table.c.fingerprint, table.c.status, table.c.response).where(
            table.c.account == account, table.c.idem_key == key, table.c.created_at >= horizon
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return json.loads(row.fingerprint), int(row.status), row.response.encode()

    def _store(
        self, account: str, key: str, fingerprint: dict[str, Any], status: int, body: bytes
    ) -> None:
        now = int(time.time())
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c.account == account, table.c.idem_key == key))
            conn.execute(
                table.insert(),
                [
                    {
                        "account": account,
                        "idem_key": key,
                        "fingerprint": json.dumps(fingerprint, separators=(",", ":")),
                        "status": status,
                        "response": body.decode(),
                        "created_at": now,
                    }
                ],
            )
            count = conn.execute(
                select(func.count()).select_from(table).where(table.c.account == account)
            ).scalar_one()
            if count > self.max_per_account:
                oldest = (
                    select(table.c.idem_key)
                    .where(table.c.account == account)
                    .order_by(table.c.created_at, table.c.idem_key)
                    .limit(int(count) - self.max_per_account)
                )
                doomed = [r[0] for r in conn.execute(oldest).all()]
                conn.execute(
                    delete(table).where(
                        and_(table.c.account == account, table.c.idem_key.in_(doomed))
                    )
                )
            self._inserts += 1
            if self._inserts % PRUNE_EVERY == 0:
                conn.execute(delete(table).where(table.c.created_at < now - self.retention_seconds))
