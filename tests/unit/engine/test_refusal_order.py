"""Which refusal an open gets when several checks fail (docs/concepts.md, "Which check refuses
an open"): the checks run in the documented order and the first failure is the answer.

Each step below breaks every later check too, then repairs the one named, so the next code in
the order must appear."""

from __future__ import annotations

from fractions import Fraction

import pytest

from prophex.engine.commands import Close, CreateMarket, Deposit, Halt, Open, Resume
from prophex.engine.exchange import Exchange
from prophex.errors import ProphexError
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


def _code(exchange: Exchange, command: Open) -> str:
    with pytest.raises(ProphexError) as refused:
        exchange.apply(command)
    return refused.value.code


def test_open_checks_run_in_the_documented_order() -> None:
    exchange = Exchange.create(profile("launch", wallet_cap=1_000, market_oi_cap=1_200))
    exchange.apply(CreateMarket(market="m", kind="prediction"))
    exchange.apply(Deposit("rich", 10_000 * USD))
    exchange.apply(Open("rich", "m", "A", 300 * USD, 300))  # 900 of the 1,200 market cap
    exchange.apply(Halt("m"))
    never = Fraction(1, 100)  # a slippage bound no fill meets
    too_much = 400 * USD  # at 3x: 1,200 notional, over both caps
    assert _code(exchange, Open("nobody", "nowhere", "A", too_much, 300)) == "NOT_FOUND"
    assert _code(exchange, Open("nobody", "m", "A", too_much, 500, never)) == "MARKET_NOT_OPEN"
    exchange.apply(Resume("m"))
    assert _code(exchange, Open("nobody", "m", "A", too_much, 50, never)) == "INVALID_COMMAND"
    assert _code(exchange, Open("nobody", "m", "A", too_much, 500, never)) == "LEVERAGE_TOO_HIGH"
    tiny = Open("nobody", "m", "A", MICRO // 10, 300, never)  # 0.3 USD notional, under 1 USD
    assert _code(exchange, tiny) == "POSITION_TOO_SMALL"
    assert _code(exchange, Open("nobody", "m", "A", too_much, 300, never)) == (
        "INSUFFICIENT_BALANCE"
    )
    exchange.apply(Deposit("other", 10_000 * USD))
    assert _code(exchange, Open("other", "m", "A", too_much, 300, never)) == ("WALLET_CAP_EXCEEDED")
    within_wallet = 150 * USD  # 450 notional: wallet cap 1,000 holds, market 900 + 450 > 1,200
    assert _code(exchange, Open("other", "m", "A", within_wallet, 300, never)) == (
        "MARKET_OI_CAP_EXCEEDED"
    )
    assert _code(exchange, Open("other", "m", "A", 50 * USD, 300, never)) == "SLIPPAGE_EXCEEDED"
    exchange.apply(Open("other", "m", "A", 50 * USD, 300))  # every check passes


def test_a_close_may_leave_less_than_min_notional_but_not_more_than_held() -> None:
    exchange = Exchange.create(profile("launch"))
    exchange.apply(CreateMarket(market="m", kind="prediction"))
    exchange.apply(Deposit("a", 100 * USD))
    opened = exchange.apply(Open("a", "m", "A", 1 * USD, 300)).result  # 3 USD notional
    with pytest.raises(ProphexError) as refused:
        exchange.apply(Close("a", opened.position_id, 3 * USD + 1))
    assert refused.value.code == "CLOSE_EXCEEDS_POSITION"
    closed = exchange.apply(Close("a", opened.position_id, 2_500_000)).result
    assert closed.remaining_notional == 500_000  # 0.5 USD, under the 1 USD minimum


def test_an_open_may_reach_the_wallet_cap_exactly() -> None:
    exchange = Exchange.create(profile("launch", wallet_cap=1_000))
    exchange.apply(CreateMarket(market="m", kind="prediction"))
    exchange.apply(Deposit("a", 10_000 * USD))
    exchange.apply(Open("a", "m", "A", 300 * USD, 300))  # 900
    exchange.apply(Open("a", "m", "B", 50 * USD, 200))  # 100 more on the other side: 1,000
    with pytest.raises(ProphexError) as refused:
        exchange.apply(Open("a", "m", "B", MICRO, 100))  # one more USD
    assert refused.value.code == "WALLET_CAP_EXCEEDED"
    assert refused.value.to_dict()["used"] == "1000"
