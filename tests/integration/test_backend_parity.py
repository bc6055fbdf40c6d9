"""SQLite, PostgreSQL and memory agree: same digest, same outcomes, same hash chain.

One seeded sequence of mixed commands (deposits, markets, opens up to 25x with liquidations,
partial and full closes, margin top-ups, halts and resumes, funding on a perpetual, resolutions
A / B / UNKNOWN, voids, and commands the engine rejects) runs through ``Sequencer.open`` on each
backend, in blocks of an odd size, and through ``Sequencer.in_memory``. Then the database is
reopened (state rebuilt from the tables, indexes re-derived) and the rest of the sequence runs
on the reloaded engine, which must still match memory exactly.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest
from helpers_commands import generate_commands, stress_params
from sqlalchemy import select

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Outcome, Sequencer
from prophex.engine.commands import Command, Genesis, parse_user_command
from prophex.engine.exchange import Exchange
from prophex.engine.state import canonical_json, digest
from prophex.errors import ProphexError
from prophex.ledger import schema
from prophex.ledger.store import GENESIS_HASH, canonical_txn, make_db_engine, txn_hash

SEED = 11
FIRST = 600
TOTAL = 700
BLOCK = 37


def fingerprint(outcome: Outcome) -> tuple[str, str]:
    """The outcome code of a command and its result, in a backend-independent form."""
    if isinstance(outcome, ProphexError):
        return outcome.code, canonical_json(outcome.to_dict())
    return outcome.kind, canonical_json(outcome.result)


@dataclass
class Reference:
    parsed: list[Command]
    outcomes: list[tuple[str, str]]
    digest_first: str
    digest_total: str
    last_hash_first: str
    txn_kinds: Counter[str]


@pytest.fixture(scope="module")
def reference() -> Reference:
    params = stress_params()
    parsed = [parse_user_command(c) for c in generate_commands(SEED, TOTAL, params)]
    # One command at a time, so that each transaction is hashed with the clock of its own
    # command exactly as the store does; the hash chain is then backend-independent.
    exchange = Exchange()
    genesis = exchange.apply(Genesis(params=params.model_dump(mode="json")))
    replay = Sequencer(exchange, store=None, lock=None)
    prev = GENESIS_HASH
    for txn in genesis.transactions:
        prev = txn_hash(prev, canonical_txn(txn, genesis.command_seq, replay.state.time))
    outcomes: list[tuple[str, str]] = []
    kinds: Counter[str] = Counter()
    last_hash_first = digest_first = ""
    for index, command in enumerate(parsed):
        (outcome,) = replay.execute([command])
        outcomes.append(fingerprint(outcome))
        if not isinstance(outcome, ProphexError):
            for txn in outcome.transactions:
                kinds[txn.kind] += 1
                prev = txn_hash(prev, canonical_txn(txn, outcome.command_seq, replay.state.time))
        if index + 1 == FIRST:
            last_hash_first, digest_first = prev, digest(replay.state)
    # A bulk in-memory run agrees with the one-at-a-time run.
    bulk = Sequencer.in_memory(params)
    assert [fingerprint(o) for o in bulk.execute(parsed)] == outcomes
    assert digest(bulk.state) == digest(replay.state)
    return Reference(parsed, outcomes, digest_first, digest(replay.state), last_hash_first, kinds)


def test_the_sequence_exercises_every_feature(reference: Reference) -> None:
    kinds = reference.txn_kinds
    for kind in ("open", "close", "liquidation", "funding", "add_margin", "halt", "resume",
                 "resolve", "void", "withdraw", "deposit", "clock", "create_market"):  # fmt: skip
        assert kinds[kind] > 0, kind
    codes = Counter(code for code, _ in reference.outcomes[:FIRST])
    assert codes["MARKET_NOT_OPEN"] > 0
    assert codes["LEVERAGE_TOO_HIGH"] > 0
    assert codes["NOT_FOUND"] > 0
    outcomes = {
        json.loads(result).get("outcome")
        for code, result in reference.outcomes[:FIRST]
        if code == "resolve"
    }
    assert {"A", "B", "UNKNOWN"} <= outcomes


def _journal_head(url: str) -> tuple[str, int, int]:
    engine = make_db_engine(url)
    try:
        with engine.connect() as conn:
            last = conn.execute(
                select(schema.transactions.c.hash)
                .order_by(schema.transactions.c.seq.desc())
                .limit(1)
            ).scalar_one()
            blocks = conn.execute(select(schema.blocks.c.height)).all()
            commands = conn.execute(select(schema.commands.c.seq)).all()
    finally:
        engine.dispose()
    return last, len(blocks), len(commands)


def test_backend_matches_memory_and_survives_restart(db_url: str, reference: Reference) -> None:
    params = stress_params()
    first, rest = reference.parsed[:FIRST], reference.parsed[FIRST:]

    with Sequencer.open(db_url, params, block_size=BLOCK) as sequencer:
        outcomes = [fingerprint(o) for o in sequencer.execute(first)]
        assert digest(sequencer.state) == reference.digest_first
    assert outcomes == reference.outcomes[:FIRST]

    last_hash, blocks, commands = _journal_head(db_url)
    assert last_hash == reference.last_hash_first
    accepted = sum(1 for code, _ in outcomes if not code.isupper())
    assert commands == accepted + 1  # plus genesis
    assert blocks == 1 + -(-FIRST // BLOCK)  # genesis, then one block per chunk of 37

    engine = make_db_engine(db_url)
    try:
        report = audit_database(engine)
        assert report.ok, report.violations
        assert report.replayed_digest == report.stored_digest == reference.digest_first
        assert report.commands == commands
    finally:
        engine.dispose()

    # Restart: the state (and every derived index) is rebuilt from the tables.
    with Sequencer.open(db_url, block_size=BLOCK) as reopened:
        assert digest(reopened.state) == reference.digest_first
        more = [fingerprint(o) for o in reopened.execute(rest)]
        assert digest(reopened.state) == reference.digest_total
    assert more == reference.outcomes[FIRST:]

    engine = make_db_engine(db_url)
    try:
        report = audit_database(engine)
        assert report.ok, report.violations
        assert report.replayed_digest == reference.digest_total
    finally:
        engine.dispose()
    with Sequencer.open(db_url) as again:
        assert digest(again.state) == reference.digest_total
