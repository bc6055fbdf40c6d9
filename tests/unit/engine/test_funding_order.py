"""The order funding runs in (docs/concepts.md, "Funding"): the multiples of the interval in
``(start, end]``, in increasing order; at each, the open funding markets by ascending id, each
one's transaction followed by its own liquidation pass; one-sided, balanced or halted markets
pay nothing."""

from __future__ import annotations

from prophex.engine.commands import AdvanceClock, CreateMarket, Deposit, Halt, Open
from prophex.engine.events import Receipt
from prophex.engine.exchange import Exchange
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


def _exchange() -> Exchange:
    params = profile(
        "launch", wallet_cap=200_000, market_oi_cap=1_000_000, funding_interval_seconds=3_600
    )
    exchange = Exchange.create(params)
    for market in ("p2", "p1", "halted", "onesided", "balanced"):  # created out of id order
        exchange.apply(CreateMarket(market=market, kind="perpetual"))
    for name in ("a", "b"):
        exchange.apply(Deposit(name, 100_000 * USD))
    for market in ("p1", "p2", "halted"):
        exchange.apply(Open("a", market, "A", 2_000 * USD, 100))
        exchange.apply(Open("b", market, "B", 1_000 * USD, 100))
    exchange.apply(Open("a", "onesided", "A", 1_000 * USD, 100))
    exchange.apply(Open("a", "balanced", "A", 1_000 * USD, 100))
    exchange.apply(Open("b", "balanced", "B", 1_000 * USD, 100))
    exchange.apply(Halt("halted"))
    return exchange


def _trail(receipt: Receipt) -> list[tuple[str, object]]:
    return [(t.kind, t.data.get("market")) for t in receipt.transactions]


def test_each_interval_funds_the_open_markets_in_ascending_id() -> None:
    exchange = _exchange()
    receipt = exchange.apply(AdvanceClock(2 * 3_600))
    assert _trail(receipt) == [
        ("funding", "p1"),
        ("funding", "p2"),
        ("funding", "p1"),
        ("funding", "p2"),
        ("clock", None),
    ]
    # real OI 2,000 vs 1,000 USD: rate 0.001 x 1,000 / 3,000 = 1/3,000 (under the 1/2,000 cap);
    # the 2,000 USD payer pays ceil(666,666.67) micro-USD in each market, at each interval
    assert [t.data["amount"] for t in receipt.transactions[:4]] == [666_667] * 4


def test_intervals_are_the_multiples_in_the_half_open_span() -> None:
    exchange = _exchange()
    assert len(exchange.apply(AdvanceClock(3_599)).transactions) == 1  # (0, 3599]: none
    assert _trail(exchange.apply(AdvanceClock(1))) == [  # (3599, 3600]: the boundary 3600
        ("funding", "p1"),
        ("funding", "p2"),
        ("clock", None),
    ]
    assert len(exchange.apply(AdvanceClock(3_599)).transactions) == 1  # (3600, 7199]: none
