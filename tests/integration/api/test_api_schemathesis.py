"""Property-based API testing from the OpenAPI document (schemathesis, in-process ASGI).

Every operation gets generated valid and invalid requests. The server must never answer 5xx,
every answer must match the documented schema, status and media type, invalid data must be
refused; afterwards the engine's invariants and the journal-replay audit must still hold,
which is how "bad input never causes a partial write" is checked.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import create_engine

from prophex.api.app import create_app
from prophex.api.keys import KeyStore
from prophex.api.settings import ApiSettings
from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import CreateMarket, Deposit
from prophex.engine.state import check_invariants
from prophex.ledger.store import make_db_engine

ADMIN_KEY = "schemathesis-admin-key"
ACCOUNT = "acct-fuzz"
DB_URL = f"sqlite:///{Path(tempfile.mkdtemp(prefix='prophex-st-')) / 'st.db'}"


def _seed() -> str:
    """A market, a funded account and its key, before the app starts (so fuzzing reaches the
    engine's checks and not only 404s)."""
    with Sequencer.open(DB_URL) as sequencer:
        sequencer.execute(
            [
                CreateMarket(market="fuzz-market", cluster="fuzz"),
                Deposit(account=ACCOUNT, amount=10_000_000_000),
            ]
        )
    keys = KeyStore(make_db_engine(DB_URL))
    keys.prepare()
    token, _ = keys.create(ACCOUNT, "fuzz")
    keys.dispose()
    return token


TRADER_KEY = _seed()
APP = create_app(
    ApiSettings(database_url=DB_URL, admin_key=ADMIN_KEY, rate_limit_per_second=0, block_wait_ms=0)
)
# Business rules legitimately refuse some schema-valid requests: an unknown market (404), a
# balance, cap or state check (409), an engine-level bound such as a zero amount or a leverage
# above the parameter in force (422). Anything else counts as a wrongly refused valid request.
# Keys are given to schemathesis as configuration (not added to each call), so it knows when a
# negative case is "no Authorization header" and expects the 401 it then gets.
CONFIG = SchemathesisConfig.from_str(
    f"""
headers = {{ Authorization = "Bearer {TRADER_KEY}" }}

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[[operations]]
include-path-regex = "^/v1/admin"
headers = {{ Authorization = "Bearer {ADMIN_KEY}" }}
"""
)
SEEN: Counter[tuple[str, int]] = Counter()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    response = case.call_and_validate()
    SEEN[(case.operation.label, response.status_code)] += 1


@pytest.mark.slow
def test_state_sound_after_fuzzing() -> None:
    """Runs after the fuzzing in this module (pytest keeps file order)."""
    authenticated = {label for (label, status), _ in SEEN.items() if 200 <= status < 300}
    assert {"GET /v1/account", "POST /v1/account/deposit", "GET /v1/admin/params"} <= authenticated
    ctx = APP.state.ctx
    with ctx.read() as exchange:
        assert check_invariants(exchange.state) == []
    engine = create_engine(DB_URL)
    try:
        report = audit_database(engine)
    finally:
        engine.dispose()
    assert report.ok, report.violations
