"""Storage limits and the fail-stop checks of the engine (prophex.engine.limits,
prophex.chain.invariants): exact bounds, rejected before any mutation."""

from __future__ import annotations

import pytest

from prophex.chain.invariants import OutOfRange, check_block
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import AdvanceClock, Close, CreateMarket, Deposit, Open
from prophex.engine.events import EXTERNAL, Journal, wallet_account
from prophex.engine.exchange import Exchange
from prophex.engine.limits import BIGINT_MAX, MAX_STORED, MAX_WALLET
from prophex.engine.state import digest
from prophex.errors import AmountLimitExceeded, InvariantViolation
from prophex.ledger.store import BlockEntry
from prophex.money import MAX_AMOUNT
from prophex.params import profile

USD = 1_000_000


def test_the_bounds_leave_room_below_bigint() -> None:
    assert MAX_STORED == 4_611_686_018_427_387_904
    assert 2 * MAX_STORED - 1 == BIGINT_MAX  # any two stored values sum inside a BIGINT
    assert MAX_WALLET == 100_000_000_000 * USD


def test_a_wallet_fills_to_exactly_max_wallet() -> None:
    exchange = Exchange.create()
    for _ in range(MAX_WALLET // MAX_AMOUNT):
        exchange.apply(Deposit("whale", MAX_AMOUNT))
    before = digest(exchange.state)
    with pytest.raises(AmountLimitExceeded) as caught:
        exchange.apply(Deposit("whale", 1))
    error = caught.value
    assert (error.code, error.status) == ("AMOUNT_LIMIT_EXCEEDED", 422)
    assert error.details == {"field": "balance", "limit": MAX_WALLET, "value": MAX_WALLET + 1}
    assert error.message == (
        f"the balance of wallet 'whale' would reach {MAX_WALLET + 1}, above the limit "
        f"{MAX_WALLET}; nothing was written"
    )
    assert digest(exchange.state) == before  # nothing changed, no command number used
    assert exchange.state.balance(wallet_account("whale")) == MAX_WALLET


def test_total_deposits_are_bounded_by_max_stored() -> None:
    exchange = Exchange.create()
    exchange.state.balances[EXTERNAL] = -(MAX_STORED - 5)  # as if the exchange were nearly full
    with pytest.raises(AmountLimitExceeded) as caught:
        exchange.apply(Deposit("late", 6))
    assert caught.value.details["field"] == "total_deposits"
    assert caught.value.message == (
        f"the money held by the exchange would reach {MAX_STORED + 1}, above the limit "
        f"{MAX_STORED}; nothing was written"
    )
    exchange.apply(Deposit("late", 5))  # exactly up to the bound is fine


def test_opens_keep_room_for_their_close_and_closes_are_never_refused() -> None:
    params = profile("launch", max_leverage=100, fee_rate=0)
    exchange = Exchange.create(params)
    exchange.apply(CreateMarket(market="m", wallet_cap=MAX_AMOUNT, market_oi_cap=MAX_AMOUNT))
    exchange.apply(Deposit("w", 20_000_000 * USD))
    market = exchange.state.markets["m"]
    notional = MAX_AMOUNT
    market.volume = MAX_STORED - 2 * notional  # room for exactly one more open and its close
    receipt = exchange.apply(Open("w", "m", "A", notional // 100, 10_000))
    position = receipt.result.position_id
    assert market.volume + market.real_oi_a == MAX_STORED
    with pytest.raises(AmountLimitExceeded) as caught:
        exchange.apply(Open("w", "m", "A", 1 * USD, 10_000))
    assert caught.value.details["field"] == "volume"
    exchange.apply(Close("w", position))  # the close still fits
    assert market.volume == MAX_STORED


def test_the_clock_is_bounded() -> None:
    exchange = Exchange.create(profile("launch", funding_interval_seconds=2_592_000))
    exchange.state.time = MAX_STORED - 10
    with pytest.raises(AmountLimitExceeded) as caught:
        exchange.apply(AdvanceClock(11))
    assert caught.value.details["field"] == "time"
    exchange.apply(AdvanceClock(10))


def test_limit_checks_do_not_reorder_validation_errors() -> None:
    exchange = Exchange.create()
    with pytest.raises(Exception) as caught:
        exchange.apply(Deposit("x", -5))
    assert getattr(caught.value, "code", None) == "INVALID_AMOUNT"
    # above MAX_AMOUNT the amount is malformed: its own refusal, not the wallet bound's
    with pytest.raises(Exception) as huge:
        exchange.apply(Deposit("x", MAX_WALLET + 1))
    assert getattr(huge.value, "code", None) == "INVALID_AMOUNT"
    with pytest.raises(Exception) as missing:
        exchange.apply(Open("x", "nowhere", "A", 10 * USD, 200))
    assert getattr(missing.value, "code", None) == "NOT_FOUND"


def test_journal_move_refuses_negative_amounts() -> None:
    journal = Journal()
    with pytest.raises(InvariantViolation) as caught:
        journal.move("wallet:a", "wallet:b", -1)
    assert caught.value.message == "negative move of -1 from wallet:a to wallet:b"
    assert caught.value.details == {"source": "wallet:a", "destination": "wallet:b", "amount": -1}
    journal.move("wallet:a", "wallet:b", 0)
    assert journal.postings == []


def test_block_check_catches_broken_invariants_and_out_of_range_values() -> None:
    sequencer = Sequencer.in_memory()
    exchange = sequencer.exchange
    receipt = exchange.apply(Deposit("a", 10 * USD))
    entries = [BlockEntry(Deposit("a", 10 * USD), receipt, 0)]
    check_block(exchange.state, entries)  # a sound block passes
    exchange.state.balances[wallet_account("a")] = -1
    with pytest.raises(InvariantViolation, match="negative"):
        check_block(exchange.state, entries)
    exchange.state.balances[wallet_account("a")] = MAX_STORED + 1
    with pytest.raises(OutOfRange):
        check_block(exchange.state, entries)
    exchange.state.balances[wallet_account("a")] = 10 * USD
    receipt.transactions[0].postings.append(("treasury", 1))
    with pytest.raises(InvariantViolation, match="does not balance"):
        check_block(exchange.state, entries)


def test_an_invariant_violation_stops_the_writer(tmp_path: object) -> None:
    with Sequencer.open(f"sqlite:///{tmp_path}/p.db") as sequencer:  # type: ignore[str-bytes-safe]
        sequencer.execute([CreateMarket(market="m"), Deposit("a", 100 * USD)])
        stored = digest(sequencer.state)
        sequencer.state.markets["m"].real_oi_a += 1  # a bug: OI no longer matches positions
        outcomes = sequencer.execute([Deposit("a", 1 * USD), Open("a", "m", "A", USD, 200)])
        assert [getattr(o, "code", "ok") for o in outcomes] == ["INVARIANT_VIOLATION"] * 2
        assert sequencer.failure is not None
        assert sequencer.execute([Deposit("b", USD)])[0].code == "INVARIANT_VIOLATION"  # type: ignore[union-attr]
        sequencer.recover()  # an operator's explicit recovery reloads the stored state
        assert digest(sequencer.state) == stored


def test_production_code_has_no_assert_statements() -> None:
    """``python -O`` strips asserts: every check in prophex/ must be an explicit raise."""
    import ast
    from pathlib import Path

    import prophex

    offenders = [
        f"{path.name}:{node.lineno}"
        for path in Path(prophex.__file__).parent.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []
