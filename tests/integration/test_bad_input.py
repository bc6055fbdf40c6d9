"""Bad input: a typed error with a stable code, and the database exactly as it was.

Each case is a user-form command (what a file or the API sends). It must fail either at parsing
or in the engine, with the expected code, and leave the stored state digest and the journal
length unchanged, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import parse_user_command
from prophex.engine.state import digest
from prophex.errors import ProphexError
from prophex.ledger import schema
from prophex.params import profile

OPEN = {"type": "open", "account": "alice", "market": "live", "side": "A", "leverage": 3}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("zero margin", {**OPEN, "margin": "0"}, "INVALID_AMOUNT"),
    ("negative margin", {**OPEN, "margin": "-5"}, "INVALID_AMOUNT"),
    ("negative zero", {**OPEN, "margin": "-0"}, "INVALID_AMOUNT"),
    ("NaN margin", {**OPEN, "margin": "NaN"}, "INVALID_AMOUNT"),
    ("infinite margin", {**OPEN, "margin": "Infinity"}, "INVALID_AMOUNT"),
    ("overflowing exponent", {**OPEN, "margin": "1e400"}, "INVALID_AMOUNT"),
    ("non-numeric", {**OPEN, "margin": "ten"}, "INVALID_AMOUNT"),
    ("absurdly large", {**OPEN, "margin": "1" + "0" * 20}, "INVALID_AMOUNT"),
    ("seven decimals", {**OPEN, "margin": "1.0000001"}, "INVALID_AMOUNT"),
    ("float nan", {**OPEN, "margin": float("nan")}, "INVALID_AMOUNT"),
    ("leverage zero", {**OPEN, "margin": "10", "leverage": 0}, "INVALID_COMMAND"),
    ("leverage negative", {**OPEN, "margin": "10", "leverage": -2}, "INVALID_COMMAND"),
    ("leverage above max", {**OPEN, "margin": "10", "leverage": 4}, "LEVERAGE_TOO_HIGH"),
    ("leverage 3 decimals", {**OPEN, "margin": "10", "leverage": "2.555"}, "INVALID_COMMAND"),
    ("leverage absurd", {**OPEN, "margin": "10", "leverage": "1e9"}, "LEVERAGE_TOO_HIGH"),
    ("unknown market", {**OPEN, "margin": "10", "market": "nope"}, "NOT_FOUND"),
    ("halted market", {**OPEN, "margin": "10", "market": "halted"}, "MARKET_NOT_OPEN"),
    ("resolved market", {**OPEN, "margin": "10", "market": "resolved"}, "MARKET_NOT_OPEN"),
    ("voided market", {**OPEN, "margin": "10", "market": "voided"}, "MARKET_NOT_OPEN"),
    ("over wallet cap", {**OPEN, "margin": "400"}, "WALLET_CAP_EXCEEDED"),
    (
        "over market cap",
        {**OPEN, "account": "bob", "margin": "300", "market": "tight"},
        "MARKET_OI_CAP_EXCEEDED",
    ),
    (
        "insufficient balance",
        {**OPEN, "account": "pauper", "margin": "100"},
        "INSUFFICIENT_BALANCE",
    ),
    (
        "withdraw too much",
        {"type": "withdraw", "account": "alice", "amount": "99999"},
        "INSUFFICIENT_BALANCE",
    ),
    (
        "close more than held",
        {"type": "close", "account": "alice", "position_id": 1, "notional": "100000"},
        "CLOSE_EXCEEDS_POSITION",
    ),
    ("someone else's position", {"type": "close", "account": "bob", "position_id": 1}, "NOT_FOUND"),
    (
        "margin to someone else's",
        {"type": "add_margin", "account": "bob", "position_id": 1, "amount": "5"},
        "NOT_FOUND",
    ),
    ("slippage", {**OPEN, "margin": "10", "max_avg_price": "0.2"}, "SLIPPAGE_EXCEEDED"),
    ("price outside (0,1)", {**OPEN, "margin": "10", "max_avg_price": "1.5"}, "INVALID_AMOUNT"),
    ("unknown command", {"type": "mint", "account": "alice"}, "INVALID_COMMAND"),
    ("unknown field", {**OPEN, "margin": "10", "colour": "red"}, "INVALID_COMMAND"),
    ("missing field", {"type": "deposit", "account": "alice"}, "INVALID_COMMAND"),
    ("bad side", {**OPEN, "margin": "10", "side": "C"}, "INVALID_COMMAND"),
    (
        "bad account name",
        {"type": "deposit", "account": "al ice", "amount": "1"},
        "INVALID_COMMAND",
    ),
    (
        "resolve a perpetual",
        {"type": "resolve", "market": "perp", "outcome": "A"},
        "INVALID_COMMAND",
    ),
    ("duplicate market", {"type": "create_market", "market": "live"}, "ALREADY_EXISTS"),
    ("bad parameter", {"type": "set_params", "params": {"fee_rate": "-1"}}, "INVALID_PARAMETERS"),
    ("unknown parameter", {"type": "set_params", "params": {"fees": "1"}}, "INVALID_PARAMETERS"),
]

SETUP = [
    {"type": "create_market", "market": market}
    for market in ("live", "halted", "resolved", "voided")
] + [
    {"type": "create_market", "market": "tight", "market_oi_cap": "500"},
    {"type": "create_market", "market": "perp", "kind": "perpetual"},
    {"type": "halt", "market": "halted"},
    {"type": "resolve", "market": "resolved", "outcome": "A"},
    {"type": "void", "market": "voided"},
    {"type": "deposit", "account": "alice", "amount": "5000"},
    {"type": "deposit", "account": "bob", "amount": "5000"},
    {"type": "deposit", "account": "pauper", "amount": "1"},
    {
        "type": "open",
        "account": "alice",
        "market": "live",
        "side": "A",
        "margin": "100",
        "leverage": 3,
    },
    {
        "type": "open",
        "account": "alice",
        "market": "tight",
        "side": "A",
        "margin": "100",
        "leverage": 3,
    },
]


@pytest.fixture
def sequencer(db_url: str) -> Iterator[Sequencer]:
    seq = Sequencer.open(db_url, profile("launch"))
    for outcome in seq.execute([parse_user_command(body) for body in SETUP]):
        assert not isinstance(outcome, ProphexError), outcome
    yield seq
    seq.close()


def journal_length(seq: Sequencer) -> tuple[int, int]:
    assert seq.store is not None
    with seq.store.engine.connect() as conn:
        commands = conn.execute(select(func.count()).select_from(schema.commands)).scalar_one()
        postings = conn.execute(select(func.count()).select_from(schema.postings)).scalar_one()
    return commands, postings


def test_every_bad_input_is_a_typed_error_that_changes_nothing(sequencer: Sequencer) -> None:
    for name, body, code in CASES:
        before = (digest(sequencer.state), journal_length(sequencer))
        try:
            command = parse_user_command(body)
            (outcome,) = sequencer.execute([command])
        except ProphexError as error:
            outcome = error
        assert isinstance(outcome, ProphexError), f"{name}: accepted"
        assert outcome.code == code, f"{name}: got {outcome.code} ({outcome.message})"
        assert outcome.message, name
        assert (digest(sequencer.state), journal_length(sequencer)) == before, name
    sequencer.close()
    reopened = Sequencer.open(
        sequencer.store.engine.url.render_as_string(hide_password=False)  # type: ignore[union-attr]
    )
    assert digest(reopened.state) == digest(sequencer.state)
    reopened.close()


def test_insufficient_balance_names_required_and_available(sequencer: Sequencer) -> None:
    (outcome,) = sequencer.execute(
        [parse_user_command({**OPEN, "account": "pauper", "margin": "100"})]
    )
    assert isinstance(outcome, ProphexError)
    assert outcome.details == {
        "check": "margin plus opening fee",
        "required": "100.3",
        "available": "1",
    }
