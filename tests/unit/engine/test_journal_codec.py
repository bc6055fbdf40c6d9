"""The journal codec: every transaction's ``data`` decodes to its typed event and encodes back
to the same dict, key order included (the canonical bytes depend on nothing else)."""

from __future__ import annotations

import json

import pytest
from test_journal_tables import BOOKS

from prophex.engine import journal
from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    Command,
    CreateMarket,
    Deposit,
    Genesis,
    Halt,
    Open,
    OpenPortfolio,
    Resolve,
    ResolveBatch,
    Resume,
    SetMarginMode,
    SetParams,
    Void,
    Withdraw,
)
from prophex.engine.domain import OTHER, SIDE_OF, SIDES, Side
from prophex.engine.events import Transaction
from prophex.engine.exchange import Exchange
from prophex.engine.state import canonical_json
from prophex.errors import ProphexError
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


def _every_kind() -> list[Transaction]:
    params = profile("launch", max_leverage=10, wallet_cap=10_000, funding_interval_seconds=60)
    exchange = Exchange()
    commands: list[Command] = [
        Genesis(params=params.model_dump(mode="json")),
        CreateMarket(market="m"),
        CreateMarket(market="v"),
        CreateMarket(market="x"),
        CreateMarket(market="y"),
        CreateMarket(market="perp", kind="perpetual"),
        Deposit("a", 5_000 * USD),
        Deposit("b", 5_000 * USD),
        Withdraw("b", 1 * USD),
        Open("a", "m", "A", 90 * USD, 1_000),
        Open("b", "m", "B", 300 * USD, 300),
        Open("a", "perp", "A", 90 * USD, 300),
        Open("b", "perp", "B", 20 * USD, 300),
        AddMargin("b", 4, 1 * USD),
        Close("b", 2, notional=100 * USD),
        AdvanceClock(120),
        Deposit("w", 5_000 * USD),
        Open("w", "m", "B", 900 * USD, 1_000),  # liquidates a's 10x long A
        Deposit("c", 100 * USD),
        Open("c", "m", "A", 10 * USD, 100),  # a winner when A wins
        Halt("m"),
        Resume("m"),
        SetParams(params={"fee_rate": "0.002"}),
        Resolve("m", "A"),
        Void("v"),
        Open("a", "x", "A", 50 * USD, 300),
        Open("b", "y", "B", 50 * USD, 300),
        ResolveBatch(outcomes={"x": "A", "y": "A"}),
        CreateMarket(market="pm"),
        Deposit("p", 1_000 * USD),
        SetMarginMode("p", "portfolio"),
        OpenPortfolio("p", "pm", "A", 100 * USD),
    ]
    transactions = [t for c in commands for t in exchange.apply(c).transactions]
    held = exchange.state.open_by_key[("p", "pm", "A")]
    closing = [Close("p", held, notional=40 * USD), Resolve("pm", "B")]
    return transactions + [t for c in closing for t in exchange.apply(c).transactions]


def test_every_transaction_round_trips_through_its_typed_event() -> None:
    for txn in _every_kind():
        event = journal.decode(txn.kind, txn.data)
        assert journal.kind_of(event) == txn.kind
        encoded = journal.encode(event)
        assert encoded == txn.data
        assert list(encoded) == list(txn.data)


# A portfolio account's liquidation needs a whole book pushed to its trigger; its round trip is
# covered by tests/unit/portfolio (the audit re-derives those transactions byte for byte).
NOT_EMITTED_HERE = {"pm_liquidation"}


def test_codec_covers_every_kind_the_engine_emits() -> None:
    assert {t.kind for t in _every_kind()} == set(journal.EVENT_TYPES) - NOT_EMITTED_HERE


def test_settlement_records_name_payout_pnl_bad_debt_and_winner_haircut() -> None:
    resolve = next(t for t in _every_kind() if t.kind == "resolve")
    records = resolve.data["settlements"]
    assert records, "the resolved market had open positions"
    for record in records.values():
        winner = record["pnl"] >= 0 and "haircut" in record
        expected = {"payout", "pnl", "bad_debt", "account"} | ({"haircut"} if winner else set())
        assert set(record) == expected
    assert any("haircut" in r for r in records.values())
    assert any("haircut" not in r for r in records.values())
    void = next(t for t in _every_kind() if t.kind == "void")
    assert all(
        set(r) == {"payout", "pnl", "bad_debt", "account"}
        for r in void.data["settlements"].values()
    )


def test_transaction_fields_name_real_entities_and_replay_the_open_interest() -> None:
    """Every event names the account, market, side and position it touched, and the open
    interest it reports equals the replay of the notional the journal says came and went."""
    virtual = profile("launch").rules().virtual_oi
    real: dict[tuple[str, str], int] = {}
    owners: dict[int, tuple[str, str, str]] = {}
    for txn in _every_kind():
        d = txn.data
        if txn.kind in ("open", "close", "liquidation"):
            key = (d["market"], d["side"])
            sign = 1 if txn.kind == "open" else -1
            real[key] = real.get(key, 0) + sign * d["notional"]
            owners.setdefault(d["position"], (d["account"], d["market"], d["side"]))
            assert owners[d["position"]] == (d["account"], d["market"], d["side"])
            assert d["oi_a"] == virtual + real.get((d["market"], "A"), 0)
            assert d["oi_b"] == virtual + real.get((d["market"], "B"), 0)
        elif txn.kind == "add_margin":
            assert owners[d["position"]][0] == d["account"] and d["amount"] == 1 * USD
        elif txn.kind in ("deposit", "withdraw"):
            assert isinstance(d["account"], str) and d["amount"] > 0
        elif txn.kind in ("halt", "resume"):
            assert d == {"market": "m", "status": "halted" if txn.kind == "halt" else "open"}
        elif txn.kind == "clock":
            assert d == {"from": 0, "to": 120}
        elif txn.kind == "set_params":
            assert d["params"]["fee_rate"] == "0.002"
    assert owners[2] == ("b", "m", "B")


def _decoded_enum_fields(book: str) -> set[str]:
    """Over one journal-table book: the canonical text read back and decoded is the very event
    the engine emitted, its enum fields members of the domain enums (in the live event too: the
    controllers pass members), and it encodes to the same bytes. Returns the enum fields met."""
    exchange = Exchange()
    seen: set[str] = set()
    for command in BOOKS[book]():
        try:
            receipt = exchange.apply(command)
        except ProphexError:
            continue
        for txn in receipt.transactions:
            text = canonical_json(txn.data)
            event = journal.decode(txn.kind, json.loads(text))
            assert event == txn.event
            assert canonical_json(journal.encode(event)) == text
            assert list(journal.encode(event)) == list(txn.data)
            for name, enum in journal.ENUM_FIELDS.items():
                for value in (getattr(event, name, None), getattr(txn.event, name, None)):
                    if value is not None:
                        assert type(value) is enum, (txn.kind, name, value)
                        seen.add(name)
    return seen


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_stored_text_decodes_to_the_event_the_engine_emitted(book: str) -> None:
    assert "side" in _decoded_enum_fields(book)


def test_the_books_meet_every_enum_field() -> None:
    seen = set().union(*(_decoded_enum_fields(book) for book in BOOKS))
    assert seen == set(journal.ENUM_FIELDS)


def test_side_other_and_the_lookup_tables_agree() -> None:
    assert Side.A.other is Side.B and Side.B.other is Side.A
    for side in SIDES:
        assert OTHER[side] is side.other and OTHER[str(side)] is side.other
        assert SIDE_OF[str(side)] is side and SIDE_OF[side] is side
