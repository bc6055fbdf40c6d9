"""Properties of the vAMM, checked against 60-digit Decimal arithmetic with Hypothesis."""

from __future__ import annotations

from decimal import Context, Decimal

from hypothesis import given
from hypothesis import strategies as st

from prophex.engine import amm
from prophex.engine.commands import Close, CreateMarket, Deposit, Open
from prophex.engine.exchange import Exchange
from prophex.engine.state import check_invariants
from prophex.money import MICRO
from prophex.params import profile

CTX = Context(prec=60)
oi = st.integers(min_value=1 * MICRO, max_value=10_000_000 * MICRO)
size = st.integers(min_value=1, max_value=1_000_000 * MICRO)


def exact_open(side: int, other: int, n: int) -> Decimal:
    total = Decimal(side + other)
    return Decimal(n) - Decimal(other) * CTX.ln(CTX.divide(total + n, total))


def exact_close(side: int, other: int, n: int) -> Decimal:
    total = Decimal(side + other)
    return Decimal(n) - Decimal(other) * CTX.ln(CTX.divide(total, total - n))


@given(oi, oi, size)
def test_open_cost_is_exact_ceiling(side: int, other: int, n: int) -> None:
    """Rounded up, never by a whole micro-dollar: the trader never pays less than the curve."""
    exact = exact_open(side, other, n)
    cost = amm.open_cost(side, other, n)
    assert Decimal(cost) >= exact
    assert Decimal(cost) - exact < 1


@given(oi, oi, st.data())
def test_close_proceeds_are_exact_floor(side: int, other: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=side))
    exact = exact_close(side, other, n)
    proceeds = amm.close_proceeds(side, other, n)
    assert Decimal(proceeds) <= exact
    assert exact - Decimal(proceeds) < 1


@given(oi, oi, size)
def test_average_price_lies_between_pre_and_post_spot(side: int, other: int, n: int) -> None:
    cost = amm.open_cost(side, other, n)
    assert cost * (side + other) >= side * n  # >= pre-trade spot (allowing rounding up)
    assert (cost - 1) * (side + other + n) <= (side + n) * n  # <= post-trade spot


@given(oi, oi, size, size)
def test_cost_is_monotonic_in_size(side: int, other: int, a: int, b: int) -> None:
    small, large = sorted((a, b))
    assert amm.open_cost(side, other, small) <= amm.open_cost(side, other, large)


@given(oi, oi, size)
def test_round_trip_loses_at_most_one_micro_dollar_to_the_protocol(
    side: int, other: int, n: int
) -> None:
    """Open then close at once: the curve integral is the same both ways, so only rounding
    remains, and it always goes to the protocol (cost rounds up, proceeds down)."""
    cost = amm.open_cost(side, other, n)
    proceeds = amm.close_proceeds(side + n, other, n)
    assert cost - proceeds in (0, 1)
    assert cost - proceeds == (0 if exact_open(side, other, n) == cost else 1)


@given(oi, oi, st.lists(st.integers(min_value=1, max_value=50_000 * MICRO), min_size=1, max_size=8))
def test_split_order_costs_the_same_within_k_micro_dollars(
    side: int, other: int, pieces: list[int]
) -> None:
    whole = amm.open_cost(side, other, sum(pieces))
    split, current = 0, side
    for piece in pieces:
        split += amm.open_cost(current, other, piece)
        current += piece
    assert 0 <= split - whole <= len(pieces)


@given(
    margin=st.integers(min_value=10, max_value=300),
    leverage=st.sampled_from([100, 150, 300, 500, 1_000, 2_500]),
    side=st.sampled_from(["A", "B"]),
    skew=st.integers(min_value=0, max_value=4_000),
)
def test_open_then_close_returns_margin_minus_fees(
    margin: int, leverage: int, side: str, skew: int
) -> None:
    """Through the engine: the wallet gets back margin - open fee - close fee - rounding,
    where rounding is the 0 or 1 micro-dollar predicted by the curve (never more)."""
    exchange = Exchange.create(profile("mature", wallet_cap=100_000))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("lp", 100_000 * MICRO))
    if skew:
        exchange.apply(Open("lp", "m", "B", skew * MICRO, 100))
    exchange.apply(Deposit("t", 10_000 * MICRO))
    before = exchange.state.balance("wallet:t")
    market = exchange.state.markets["m"]
    other = "B" if side == "A" else "A"
    oi_side, oi_other = market.oi(side), market.oi(other)
    opened = exchange.apply(Open("t", "m", side, margin * MICRO, leverage)).result
    closed = exchange.apply(Close("t", opened.position_id)).result
    rounding = opened.cost - amm.close_proceeds(
        oi_side + opened.notional, oi_other, opened.notional
    )
    assert rounding in (0, 1)
    returned = exchange.state.balance("wallet:t") - before
    assert returned == -opened.fee - closed.fee - rounding
    assert check_invariants(exchange.state) == []
