"""The streamed digest hashes exactly ``canonical_json(snapshot(state))`` and
``digest_and_check`` finds what ``check_invariants`` finds (prophex/engine/state.py; issue 13,
"cheaper final digest/invariants, same bytes")."""

from __future__ import annotations

import contextlib
import hashlib

import pytest

from prophex.bench.core import bench_params, build_plan, setup_commands
from prophex.engine.commands import SetMarginMode
from prophex.engine.events import position_account
from prophex.engine.exchange import Exchange
from prophex.engine.state import (
    State,
    canonical_json,
    check_invariants,
    digest,
    digest_and_check,
    snapshot,
)
from prophex.errors import ProphexError


def reference_digest(state: State) -> str:
    return hashlib.sha256(canonical_json(snapshot(state)).encode()).hexdigest()


@pytest.fixture(scope="module")
def state() -> State:
    """Opens, closes and liquidations over 100 markets: closed and liquidated rows (with a
    ``closed_at``), open rows, and more positions than one hashing chunk."""
    exchange = Exchange.create(bench_params())
    for command in setup_commands():
        exchange.apply(command)
    for command in build_plan(12_000, seed=5):
        with contextlib.suppress(ProphexError):
            exchange.apply(command)
    return exchange.state


def test_streamed_digest_hashes_the_canonical_snapshot_bytes(state: State) -> None:
    assert len(state.positions) > 4_096  # several chunks
    assert {p.status for p in state.positions.values()} >= {"open", "closed"}
    assert digest(state) == reference_digest(state)
    found, problems = digest_and_check(state)
    assert found == reference_digest(state)
    assert problems == [] == check_invariants(state)


def test_streamed_digest_covers_portfolio_and_escaped_strings() -> None:
    exchange = Exchange.create(bench_params())
    for command in setup_commands()[:3]:
        exchange.apply(command)
    state = exchange.state
    state.markets['m"\\é'] = state.markets.pop("m000")
    exchange.apply(SetMarginMode(account="a00000", mode="portfolio"))
    assert "portfolio" in snapshot(state)
    assert digest(state) == reference_digest(state)
    assert digest_and_check(state)[0] == reference_digest(state)


def test_digest_and_check_reports_what_check_invariants_reports(state: State) -> None:
    broken = next(p for p in state.positions.values() if p.status == "open")
    broken.margin += 1  # the position no longer mirrors its margin account
    try:
        problems = digest_and_check(state)[1]
        assert problems == check_invariants(state)
        assert f"position {broken.id} margin {broken.margin} != balance " in problems[0]
        assert state.balances[position_account(broken.id)] == broken.margin - 1
    finally:
        broken.margin -= 1
