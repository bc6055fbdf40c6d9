"""Rounding directions, with amounts chosen so every division is inexact.

Each test would fail if the rounding direction it names were flipped: the amounts leave a
remainder, so floor and ceiling differ by one micro-dollar.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prophex.engine import amm
from prophex.engine.caps import scale_cap
from prophex.engine.commands import AdvanceClock, Close, CreateMarket, Deposit, Open
from prophex.engine.exchange import Exchange
from prophex.engine.fees import fee_split, penalty_split, trading_fee
from prophex.engine.funding import funding_payment, funding_rate, paying_side
from prophex.engine.liquidation import is_liquidatable
from prophex.engine.positions import (
    liquidation_price,
    partial_shares,
    unrealized_pnl,
    value_at_mark,
)
from prophex.engine.settlement import allocate_pro_rata, settlement_value
from prophex.engine.state import check_invariants
from prophex.errors import SlippageExceeded
from prophex.money import MICRO, PPM, format_price, format_prices_apart, ratio_float
from prophex.params import profile

USD = MICRO

CTX = Context(prec=80)


def exact_open(side: int, other: int, n: int) -> Decimal:
    total = Decimal(side + other)
    return Decimal(n) - Decimal(other) * CTX.ln(CTX.divide(total + n, total))


def exact_close(side: int, other: int, n: int) -> Decimal:
    total = Decimal(side + other)
    return Decimal(n) - Decimal(other) * CTX.ln(CTX.divide(total, total - n))


# ---------------------------------------------------------------------------- AMM


@pytest.mark.parametrize(
    ("side", "other", "notional", "expected"),
    [
        # exact 1,734,973.00000043: the float says ...973, the ceiling is ...974
        (53_250_473, 912_723_251_198_105, 56_224_928_405, 1_734_974),
        # exact 10,078,508.99999589: the float says ...510, the ceiling is ...509
        (410_983_707, 936_913_321_578_329, 137_020_433_349, 10_078_509),
    ],
)
def test_open_cost_thin_side_against_huge_side(
    side: int, other: int, notional: int, expected: int
) -> None:
    """The float's error scales with the terms (~N), not with the small result."""
    assert amm.open_cost(side, other, notional) == expected
    exact = exact_open(side, other, notional)
    assert expected - 1 < exact < expected


def test_close_proceeds_thin_side_against_huge_side() -> None:
    side, other = 56_224_928_405 + 53_250_473, 912_723_251_198_105
    proceeds = amm.close_proceeds(side, other, 56_224_928_405)
    exact = exact_close(side, other, 56_224_928_405)
    assert proceeds <= exact < proceeds + 1


# the whole domain Params allows: OI up to a large multiple of MAX_AMOUNT, sizes up to MAX_AMOUNT
thin = st.integers(min_value=1, max_value=10**10)
huge = st.integers(min_value=1, max_value=10**18)
size = st.integers(min_value=1, max_value=10**15)


@given(thin, huge, size)
def test_open_cost_is_the_exact_ceiling_on_the_whole_domain(side: int, other: int, n: int) -> None:
    cost = amm.open_cost(side, other, n)
    exact = exact_open(side, other, n)
    assert cost - 1 < exact <= cost


@given(huge, huge, st.data())
def test_close_proceeds_are_the_exact_floor_on_the_whole_domain(
    side: int, other: int, data: st.DataObject
) -> None:
    n = data.draw(st.integers(min_value=1, max_value=side))
    proceeds = amm.close_proceeds(side, other, n)
    exact = exact_close(side, other, n)
    assert proceeds <= exact < proceeds + 1


# ---------------------------------------------------------------------------- funding


def _perp_exchange(**overrides: object) -> Exchange:
    params = profile(
        "launch",
        wallet_cap=200_000,
        market_oi_cap=1_000_000,
        funding_interval_seconds=3_600,
        **overrides,
    )
    exchange = Exchange.create(params)
    exchange.apply(CreateMarket(market="perp", kind="perpetual"))
    return exchange


def test_funding_pays_the_exact_rational_rate_docs_case() -> None:
    """docs/concepts.md: real OI A 101,094 vs B 100,000 USD; the 100,000 USD A position pays
    ceil(100,000 x 0.001 x 1,094 / 201,094) = ceil(0.5440241877) = 0.544025 USD per interval,
    3.808175 over seven (a rate truncated to whole ppm, 5 ppm, would charge 0.50 per interval
    and 3.50 over seven)."""
    exchange = _perp_exchange()
    for name in ("big", "small", "b"):
        exchange.apply(Deposit(name, 200_000 * USD))
    big = exchange.apply(Open("big", "perp", "A", 100_000 * USD, 100)).result.position_id
    exchange.apply(Open("small", "perp", "A", 1_094 * USD, 100))
    exchange.apply(Open("b", "perp", "B", 100_000 * USD, 100))
    before = exchange.state.positions[big].margin
    funding = exchange.apply(AdvanceClock(3_600)).transactions[0]
    assert before - exchange.state.positions[big].margin == 544_025
    paid = 544_025 + 5_952  # the 1,094 USD position pays ceil(5,951.6...)
    assert funding.kind == "funding"
    assert funding.data == {
        "market": "perp",
        "rate_ppm": 5,
        "rate_num": 547,
        "rate_den": 100_547_000,
        "payer_side": "A",
        "amount": paid,
    }
    assert exchange.state.balance("vault:perp") == 0  # everything collected is paid out
    assert ("vault:perp", 544_025) in funding.postings  # through the market's own vault
    exchange.apply(AdvanceClock(6 * 3_600))
    assert before - exchange.state.positions[big].margin == 3_808_175
    assert check_invariants(exchange.state) == []


def test_funding_below_one_ppm_still_pays() -> None:
    """Skew 1/20,001 with k = 0.001: rate 0.05 ppm, so 100 USD pays ceil(4.9998) = 5 micro."""
    exchange = _perp_exchange()
    exchange.apply(Deposit("a", 20_000 * USD))
    exchange.apply(Deposit("b", 20_000 * USD))
    exchange.apply(Open("a", "perp", "A", 10_001 * USD, 100))
    pid = exchange.apply(Open("b", "perp", "B", 10_000 * USD, 100)).result.position_id
    payer = exchange.state.open_by_key[("a", "perp", "A")]
    before = exchange.state.positions[payer].margin
    received_before = exchange.state.positions[pid].margin
    exchange.apply(AdvanceClock(3_600))
    expected = -(-10_001 * USD * 1_000 * USD // (PPM * 20_001 * USD))  # ceil
    assert expected != 10_001 * USD * 1_000 * USD // (PPM * 20_001 * USD)  # inexact on purpose
    assert before - exchange.state.positions[payer].margin == expected
    assert exchange.state.positions[pid].margin - received_before == expected


def test_funding_rate_is_capped_exactly() -> None:
    rules = profile("launch", funding_k="0.5", funding_max_rate="0.000333").rules()
    assert funding_rate(3, 1, rules) == Fraction(333, 1_000_000)
    assert funding_rate(1_000_001, 1_000_000, rules) == Fraction(500_000, 2_000_001 * PPM)
    assert funding_payment(7, Fraction(1, 3)) == 3
    assert funding_rate(5, 0, rules) == 0


# ---------------------------------------------------------------------------- slippage text


def test_slippage_refusal_shows_the_prices_apart() -> None:
    """A bound with more than six decimals: both figures print with enough digits to differ."""
    exchange = Exchange.create(profile("launch", fee_rate=0))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 1_000 * USD))
    plan = exchange.plan_open(Open("t", "m", "A", 300 * USD, 300), enforce=False)
    average = Fraction(plan.cost, plan.notional)
    bound = Fraction(int(average * 10**9), 10**9)  # just below the average, nine decimals
    assert format_price(average.numerator, average.denominator) == format_price(
        bound.numerator, bound.denominator
    )
    with pytest.raises(SlippageExceeded) as refused:
        exchange.apply(Open("t", "m", "A", 300 * USD, 300, max_avg_price=bound))
    shown_average = Decimal(refused.value.details["average_price"])
    shown_bound = Decimal(refused.value.details["bound"])
    assert shown_average > shown_bound
    assert Fraction(shown_bound) == bound  # a terminating bound prints exactly
    assert f"average price {shown_average} is above the bound {shown_bound}" in str(refused.value)


def test_format_prices_apart() -> None:
    assert format_prices_apart(Fraction(5214981, 10**7), Fraction(521498, 10**6)) == (
        "0.5214981",
        "0.5214980",
    )
    assert format_prices_apart(Fraction(1, 3), Fraction(1, 2)) == ("0.333333", "0.500000")
    assert format_prices_apart(Fraction(1, 3), Fraction(1, 3)) == ("0.333333", "0.333333")


# ---------------------------------------------------------------------------- pure helpers
# Each figure below has a remainder, so flipping the rounding direction changes it by one.


def test_trading_fee_rounds_up_and_the_fund_share_down() -> None:
    rules = profile("launch", fee_rate="0.001", fee_to_if="0.333333").rules()
    assert trading_fee(1_234_567, rules) == 1_235  # 1,234.567 up
    to_fund, to_treasury = fee_split(1_235, rules)
    assert (to_fund, to_treasury) == (411, 824)  # 411.66625 down; the treasury keeps the rest


def test_penalty_split_fund_share_rounds_down() -> None:
    rules = profile("launch", liq_penalty_to_if="0.2").rules()
    assert penalty_split(1_234_567, rules) == (246_913, 987_654)  # 246,913.4 down


def test_scaled_cap_rounds_down() -> None:
    rules = profile("launch", if_seed=3, cap_max_multiplier=10).rules()  # seed 3 USD
    # fund 4.000001 USD: base x 4,000,001 / 3,000,000 = 1,333,333.67 -> 1,333,333
    assert scale_cap(1_000_000, 4_000_001, rules) == 1_333_333
    assert scale_cap(1_000_000, 1, rules) == 1_000_000  # below the seed: multiplier 1
    assert scale_cap(1_000_000, 10**9, rules) == 10_000_000  # clamped at 10x


def test_value_at_mark_rounds_down_and_pnl_with_it() -> None:
    assert value_at_mark(1_000_001, 1, 3) == 250_000  # 250,000.25 down
    assert unrealized_pnl(1_000_001, 200_000, 1, 3) == 50_000


def test_partial_close_shares_cost_up_and_margin_down() -> None:
    # closing 1 of 3: cost 1,000,000/3 = 333,333.3 up, margin 500,000/3 = 166,666.7 down
    assert partial_shares(3, 1_000_000, 500_000, 1) == (333_334, 166_666)
    assert partial_shares(3, 1_000_000, 500_000, 3) == (1_000_000, 500_000)


def test_settlement_value_at_one_half_rounds_down() -> None:
    assert settlement_value(1_000_001, "A", "UNKNOWN") == 500_000
    assert settlement_value(1_000_001, "B", "UNKNOWN") == 500_000
    assert settlement_value(1_000_001, "A", "A") == 1_000_001
    assert settlement_value(1_000_001, "B", "A") == 0


def test_haircuts_by_largest_remainder_sum_exactly() -> None:
    # 10 over weights 1:1:1 -> 3.33 each; the leftover micro-dollar goes to the lowest key
    assert allocate_pro_rata(10, [(7, 1), (3, 1), (5, 1)]) == {7: 3, 3: 4, 5: 3}
    # 5 over 2:1 -> 3.33 and 1.67: the larger remainder (0.67) takes the extra one
    assert allocate_pro_rata(5, [(1, 2), (2, 1)]) == {1: 3, 2: 2}


def test_notional_from_margin_and_leverage_rounds_down() -> None:
    exchange = Exchange.create(profile("launch", fee_rate=0))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 1_000 * USD))
    plan = exchange.plan_open(Open("t", "m", "A", 333_333_333, 250), enforce=False)
    assert plan.notional == 833_333_332  # 833,333,332.5 down


def test_liquidation_price_is_exact_and_triggers_at_it() -> None:
    """(C - M) / N is kept as a fraction; the trigger is exact at the boundary."""
    assert liquidation_price(700_001, 300_000, 1_000_003) == (400_001, 1_000_003)
    # price_X = OI_X / (OI_X + OI_O) exactly at the liquidation price: liquidatable
    assert is_liquidatable(700_001, 300_000, 1_000_003, 400_001, 600_002)
    # one micro-dollar more of OI on the side: above the liquidation price, safe
    assert not is_liquidatable(700_001, 300_000, 1_000_003, 400_002, 600_002)


def test_a_close_fee_rounds_up_on_an_inexact_notional() -> None:
    exchange = Exchange.create(profile("launch", fee_rate="0.001"))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 1_000 * USD))
    opened = exchange.apply(Open("t", "m", "A", 100_000_001, 300)).result
    assert opened.fee == 300_001  # 300,000.003 up
    closed = exchange.apply(Close("t", opened.position_id, notional=100_000_001)).result
    assert closed.fee == 100_001  # 100,000.001 up


def test_amm_degenerate_terms_are_exact() -> None:
    """No other side (no logarithm term) or no trade: the value is a whole number, which the
    exact path must return at once rather than refine forever."""
    assert amm.open_cost(5_000_000, 0, 1_234_567) == 1_234_567
    assert amm.close_proceeds(5_000_000, 0, 1_234_567) == 1_234_567
    assert amm.open_cost(5_000_000, 7_000_000, 0) == 0
    assert amm.close_proceeds(5_000_000, 7_000_000, 0) == 0


@pytest.mark.parametrize("start", [2, 4, 7, 13])
def test_amm_exact_path_refines_until_it_can_decide(start: int) -> None:
    """Started at a few digits, the Decimal path must double its precision until the value is
    provably clear of a whole number, and land on the same ceiling and floor."""
    side, other, n = 53_250_473, 912_723_251_198_105, 56_224_928_405
    total = side + other
    assert amm._exact(other, n, total + n, total, ROUND_CEILING, start) == 1_734_974
    assert amm._exact(other, n, total + n, total, ROUND_FLOOR, start) == 1_734_973
    # closing the same n right after: S = total + n before the close
    exact = exact_close(side + n, other, n)
    floor = amm._exact(other, n, total + n, total, ROUND_FLOOR, start)
    assert floor == int(exact) == amm.close_proceeds(side + n, other, n)


def test_liquidation_price_exists_only_above_a_zero_numerator() -> None:
    assert liquidation_price(100, 100, 500) is None  # margin covers the whole premium
    assert liquidation_price(99, 100, 500) is None
    assert liquidation_price(101, 100, 500) == (1, 500)


def test_funding_rate_is_the_documented_minimum() -> None:
    rules = profile("launch", funding_k="1", funding_max_rate="1").rules()
    assert funding_rate(3, 1, rules) == Fraction(1, 2)  # k x skew, under the cap
    assert paying_side(3, 1) == "A" and paying_side(1, 3) == "B"


@given(thin, huge, size, st.integers(min_value=2, max_value=20))
def test_amm_exact_path_error_bound_is_sound(side: int, other: int, n: int, start: int) -> None:
    """At any starting precision the refinement stops only when its error bound proves the
    rounding: a bound too tight would stop early on the wrong side of a whole number."""
    total = side + other
    cost = amm._exact(other, n, total + n, total, ROUND_CEILING, start)
    exact = exact_open(side, other, n)
    assert cost - 1 < exact <= cost


def test_close_of_all_but_a_sliver_of_a_huge_total_is_exact_on_both_builds() -> None:
    # The compiled build once divided these ints as floats (each rounded to 2^53 precision):
    # the ratio became 1.0 and log1p(-1.0) raised "math domain error" (found by the property
    # above on the compiled build). ratio_float keeps Python's correctly rounded division.
    side, n = 9_208_081_978_490_879, 9_208_081_978_490_879
    assert ratio_float(n, side + 1) == 1 - 2**-53  # correctly rounded, below 1
    proceeds = amm.close_proceeds(side, 1, n)
    assert proceeds == 9_208_081_978_490_842
    exact = exact_close(side, 1, n)
    assert proceeds <= exact < proceeds + 1
