"""API keys: high-entropy bearer tokens, stored only as SHA-256 hashes.

A key is shown once, at creation. The table belongs to the API (it is not ledger state and is
not journalled); the Alembic migrations create it with the ledger tables. SHA-256 without a
salt is enough because the tokens carry 256 bits of entropy: there is nothing to brute-force.

Lookups are served from an in-memory map loaded at start-up and updated on every change, so
authenticating a request never touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from prophex.ledger.schema import api_keys
from prophex.ledger.store import make_read_engine

KEY_PREFIX = "pxk_"
SCOPES = ("read", "trade", "withdraw")
"""What a trading key may do: ``read`` (every GET and the streams), ``trade`` (orders, close,
add-margin, deposit, quote, key management) and ``withdraw``. Keys stored before scopes
existed (``scopes`` NULL) hold all three."""
ALL_SCOPES = frozenset(SCOPES)


def _scopes_text(scopes: frozenset[str]) -> str:
    return ",".join(s for s in SCOPES if s in scopes)


def _scopes_of(text: str | None) -> frozenset[str]:
    return ALL_SCOPES if text is None else frozenset(s for s in text.split(",") if s)


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_account_id() -> str:
    """Server-chosen account names: a client can never claim an existing ledger account."""
    return "acct-" + secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    account: str
    label: str
    created_at: int
    revoked_at: int | None
    scopes: frozenset[str] = ALL_SCOPES


class KeyStore:
    """The API-key table plus its in-memory index (hash -> record)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._by_hash: dict[str, KeyRecord] = {}
        self._mutex = threading.Lock()

    def dispose(self) -> None:
        self._engine.dispose()

    def prepare(self) -> None:
        """Load every key into memory, through the read-only engine (a reader never takes the
        write lock); key writes below are their own short transactions."""
        url = self._engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        reader = self._engine if in_memory else make_read_engine(url.render_as_string(False))
        try:
            with reader.connect() as conn:
                for row in conn.execute(select(api_keys)):
                    self._by_hash[row.key_hash] = KeyRecord(
                        row.key_id,
                        row.account,
                        row.label,
                        row.created_at,
                        row.revoked_at,
                        _scopes_of(row.scopes),
                    )
        finally:
            if reader is not self._engine:
                reader.dispose()

    def create(
        self, account: str, label: str, scopes: frozenset[str] = ALL_SCOPES
    ) -> tuple[str, KeyRecord]:
        """Issue a key for ``account``; returns the token (shown once) and its record."""
        token = new_token()
        digest = hash_key(token)
        record = KeyRecord(digest[:16], account, label, int(time.time()), None, scopes)
        with self._engine.begin() as conn:
            conn.execute(
                api_keys.insert(),
                [
                    {
                        "key_hash": digest,
                        "key_id": record.key_id,
                        "account": account,
                        "label": label,
                        "created_at": record.created_at,
                        "revoked_at": None,
                        "scopes": _scopes_text(scopes),
                    }
                ],
            )
        with self._mutex:
            self._by_hash[digest] = record
        return token, record

    def authenticate(self, token: str) -> KeyRecord | None:
        """The live record of ``token``, or None. The final comparison is constant-time."""
        digest = hash_key(token)
        record = self._by_hash.get(digest)
        if record is None or record.revoked_at is not None:
            return None
        expected = digest[:16]
        if not hmac.compare_digest(expected.encode(), record.key_id.encode()):
            return None
        return record

    def keys_of(self, account: str) -> list[KeyRecord]:
        with self._mutex:
            found = [r for r in self._by_hash.values() if r.account == account]
        return sorted(found, key=lambda r: (r.created_at, r.key_id))

    def revoke(self, account: str, key_id: str) -> KeyRecord | None:
        """Revoke one of ``account``'s keys; None if it has no such key (no existence leak)."""
        with self._mutex:
            match = next(
                (
                    (h, r)
                    for h, r in self._by_hash.items()
                    if r.key_id == key_id and r.account == account
                ),
                None,
            )
        if match is None:
            return None
        digest, record = match
        if record.revoked_at is not None:
            return record
        now = int(time.time())
        with self._engine.begin() as conn:
            conn.execute(
                update(api_keys).where(api_keys.c.key_hash == digest).values(revoked_at=now)
            )
        revoked = KeyRecord(
            record.key_id, record.account, record.label, record.created_at, now, record.scopes
        )
        with self._mutex:
            self._by_hash[digest] = revoked
        return revoked


def admin_matches(token: str, admin_key: str) -> bool:
    """Constant-time comparison of the admin key (hash both so lengths never leak)."""
    return hmac.compare_digest(hash_key(token).encode(), hash_key(admin_key).encode())
