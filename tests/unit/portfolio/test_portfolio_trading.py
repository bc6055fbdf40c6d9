"""Portfolio-mode accounts: mode switch, opens by notional, requirement and lock (issue 9)."""

from __future__ import annotations

import copy

import pytest
from pm_helpers import (
    REFERENCE,
    M,
    build,
    independent_requirement,
    make_exchange,
    portfolio_account,
)

from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    Deposit,
    Open,
    OpenPortfolio,
    SetMarginMode,
    parse_user_command,
)
from prophex.engine.state import check_invariants, digest
from prophex.errors import AccountNotFlat, InsufficientBalance, InvalidCommand
from prophex.money import format_usd


def lock(ex, account: str) -> int:  # type: ignore[no-untyped-def]
    return ex.state.balance(f"pm_margin:{account}")


def wallet(ex, account: str) -> int:  # type: ignore[no-untyped-def]
    return ex.state.balance(f"wallet:{account}")


def test_reference_book_locks_exactly_what_prophex_margin_computes() -> None:
    ex = make_exchange()
    portfolio_account(ex, "fund", 200_000)
    build(ex, "fund", REFERENCE)
    expected, result = independent_requirement(ex, "fund")
    assert lock(ex, "fund") == expected
    assert ex.state.pm_requirement["fund"] == expected
    assert len(result.clusters) == 7
    # far below full collateralisation, and the joint base binds
    assert expected < 0.6 * result.full_collateral * M
    assert result.binding == "base"
    assert check_invariants(ex.state) == []


def test_reference_book_plus_own_cluster_event_and_epochs() -> None:
    ex = make_exchange()
    portfolio_account(ex, "fund", 200_000)
    build(ex, "fund", [*REFERENCE[:4], ("RAIN", "A", 1000)])
    expected, result = independent_requirement(ex, "fund")
    assert lock(ex, "fund") == expected
    assert "EVENT:RAIN" in {c.name for c in result.clusters}
    # the next epoch draws a new scenario set; the lock moves at the next order only
    ex.apply(AdvanceClock(86_400))
    before = lock(ex, "fund")
    ex.apply(OpenPortfolio("fund", "SOL200", "A", 100 * M))
    expected, _ = independent_requirement(ex, "fund")
    assert lock(ex, "fund") == expected != before


def test_right_way_spread_locks_much_less_than_wrong_way() -> None:
    ex = make_exchange()
    portfolio_account(ex, "right", 20_000)
    portfolio_account(ex, "wrong", 20_000)
    build(ex, "right", [("BTC100", "A", 10_000), ("BTC105", "B", 10_000)])
    right = lock(ex, "right")
    ex2 = make_exchange()
    portfolio_account(ex2, "wrong", 20_000)
    build(ex2, "wrong", [("BTC105", "A", 10_000), ("BTC100", "B", 10_000)])
    wrong = lock(ex2, "wrong")
    assert right == independent_requirement(ex, "right")[0]
    assert wrong == independent_requirement(ex2, "wrong")[0]
    assert right * 5 < wrong
    assert (right, wrong) == (1_194_997_387, 9_522_310_792)  # shipped books: 650 / 9,350 + add-ons


def test_long_btc_short_eth_gets_no_offset() -> None:
    ex = make_exchange()
    portfolio_account(ex, "pair", 20_000)
    build(ex, "pair", [("BTC100", "A", 10_000), ("ETH4000", "B", 10_000)])
    full = sum(p.cost_basis for p in ex.state.positions.values() if p.account == "pair")
    _, result = independent_requirement(ex, "pair")
    assert result.capped_at_fc
    assert abs(lock(ex, "pair") - full) <= 1


def test_hedge_lowers_requirement_and_releases_the_difference() -> None:
    ex = make_exchange()
    portfolio_account(ex, "h", 20_000)
    ex.apply(OpenPortfolio("h", "BTC100", "A", 10_000 * M))
    before_lock, before_wallet = lock(ex, "h"), wallet(ex, "h")
    receipt = ex.apply(OpenPortfolio("h", "BTC105", "B", 10_000 * M))
    after_lock = lock(ex, "h")
    assert after_lock < before_lock // 3
    fee = receipt.result.fee
    assert wallet(ex, "h") == before_wallet + (before_lock - after_lock) - fee
    assert receipt.result.requirement_before == before_lock
    assert receipt.result.requirement == after_lock
    assert check_invariants(ex.state) == []


def test_uncovered_order_is_refused_with_figures_and_changes_nothing() -> None:
    ex = make_exchange()
    portfolio_account(ex, "poor", 1_000)
    ex.apply(OpenPortfolio("poor", "BTC100", "A", 1_000 * M))
    before = digest(ex.state)
    snapshot = copy.deepcopy(ex.state.balances)
    with pytest.raises(InsufficientBalance) as err:
        ex.apply(OpenPortfolio("poor", "ETH4000", "A", 5_000 * M))
    details = err.value.details
    assert details["check"] == "portfolio requirement rise plus opening fee"
    free = wallet(ex, "poor")
    assert details["available"] == format_usd(free) == "624.833544"
    plan = ex.plan_open_portfolio(OpenPortfolio("poor", "ETH4000", "A", 5_000 * M), enforce=False)
    rise = plan.requirement_after - lock(ex, "poor")
    assert details["required"] == format_usd(rise + plan.fee)
    assert rise + plan.fee > free
    assert digest(ex.state) == before
    assert ex.state.balances == snapshot


def test_mode_switch_refused_while_not_flat_and_fields_by_mode() -> None:
    ex = make_exchange()
    portfolio_account(ex, "p", 5_000)
    ex.apply(Deposit("i", 5_000 * M))
    pid = ex.apply(OpenPortfolio("p", "BTC100", "A", 100 * M)).result.position_id
    with pytest.raises(AccountNotFlat) as err:
        ex.apply(SetMarginMode("p", "isolated"))
    assert err.value.code == "ACCOUNT_NOT_FLAT"
    with pytest.raises(InvalidCommand) as bad:
        ex.apply(Open("p", "BTC100", "A", 10 * M, 200))
    assert bad.value.details["field"] == "margin"
    with pytest.raises(InvalidCommand):
        ex.apply(AddMargin("p", pid, 5 * M))
    with pytest.raises(InvalidCommand) as bad:
        ex.apply(OpenPortfolio("i", "BTC100", "A", 100 * M))
    assert bad.value.details["field"] == "notional"
    with pytest.raises(InvalidCommand) as bad:
        parse_user_command(
            {
                "type": "open",
                "account": "p",
                "market": "BTC100",
                "side": "A",
                "notional": "100",
                "leverage": 2,
            }
        )
    assert bad.value.details["field"] == "leverage"
    with pytest.raises(InvalidCommand):
        ex.apply(SetMarginMode("i", "cross"))
    # flat again: the switch is accepted and the lock is back in the wallet
    ex.apply(Close("p", pid))
    assert lock(ex, "p") == 0
    ex.apply(SetMarginMode("p", "isolated"))
    assert "p" not in ex.state.margin_modes
    assert check_invariants(ex.state) == []


def test_user_form_and_replay_give_the_same_digest() -> None:
    ex = make_exchange()
    ex.apply(parse_user_command({"type": "deposit", "account": "u", "amount": "9000"}))
    ex.apply(parse_user_command({"type": "set_margin_mode", "account": "u", "mode": "portfolio"}))
    cmd = parse_user_command(
        {"type": "open", "account": "u", "market": "SPX6200", "side": "A", "notional": "2500.5"}
    )
    assert cmd == OpenPortfolio("u", "SPX6200", "A", 2_500_500_000)
    clone = copy.deepcopy(ex)
    ex.apply(cmd)
    clone.apply(cmd)
    assert digest(ex.state) == digest(clone.state)
    assert "portfolio" in __import__("prophex.engine.state", fromlist=["snapshot"]).snapshot(
        ex.state
    )


def test_isolated_only_digest_has_no_portfolio_section() -> None:
    from prophex.engine.state import snapshot

    ex = make_exchange()
    ex.apply(Deposit("i", 5_000 * M))
    ex.apply(Open("i", "BTC100", "A", 100 * M, 200))
    assert "portfolio" not in snapshot(ex.state)
    assert "pm_paths" in ex.state.params.model_dump(mode="json")  # set in this profile


def test_marks_against_the_strike_order_are_projected() -> None:
    """BTC > 110k dearer than BTC > 100k: the engine prices the book with BTC > 110k at
    BTC > 100k's level (the library refuses such a book outright)."""
    from prophex.engine import pm_book
    from prophex.margin import book_from_positions, compute_margin

    ex = make_exchange(at_reference_prices=False)
    portfolio_account(ex, "x", 20_000)
    ex.apply(OpenPortfolio("x", "BTC100", "B", 2_000 * M))
    ex.apply(OpenPortfolio("x", "BTC110", "A", 2_000 * M))
    state = ex.state
    p100 = state.markets["BTC100"].oi("A") / (
        state.markets["BTC100"].oi("A") + state.markets["BTC100"].oi("B")
    )
    positions = [
        {"market_id": p.market, "side": p.side, "notional": p.notional, "cost_basis": p.cost_basis}
        for p in state.positions.values()
        if p.account == "x"
    ]
    normal = pm_book._NORMAL
    projected = 1.0 - normal.cdf(normal.inv_cdf(1.0 - p100))
    m110 = state.markets["BTC110"]
    assert m110.oi("A") / (m110.oi("A") + m110.oi("B")) > p100  # against the strike order
    assert abs(projected - p100) < 1e-12
    taxonomy = {
        "BTC100": {"kind": "threshold", "underlying": "BTC", "strike": 100000.0,
                   "direction": "above", "price": p100},
        "BTC110": {"kind": "threshold", "underlying": "BTC", "strike": 110000.0,
                   "direction": "above", "price": projected},
    }  # fmt: skip
    book = book_from_positions(positions, taxonomy)
    expected = compute_margin(book, pm_book.margin_params(state.rules, state.time)).pm_micro_usd
    assert lock(ex, "x") == expected


def test_portfolio_orders_are_idempotent_and_funding_markets_refused() -> None:
    from prophex.engine.commands import CreateMarket

    ex = make_exchange(at_reference_prices=False)
    portfolio_account(ex, "c", 10_000)
    order = OpenPortfolio("c", "BTC100", "A", 500 * M, client_order_id="o-1")
    first = ex.apply(order)
    before = digest(ex.state)
    again = ex.apply(order)
    assert again.duplicate and again.result.position_id == first.result.position_id
    assert digest(ex.state) == before
    ex.apply(CreateMarket("PERP", kind="perpetual", cluster="SPORTS"))
    with pytest.raises(InvalidCommand) as err:
        ex.apply(OpenPortfolio("c", "PERP", "A", 100 * M))
    assert err.value.details["field"] == "market"
    ex.apply(CreateMarket("BAD", cluster="NOWHERE"))  # a cluster the hierarchy does not know
    with pytest.raises(InvalidCommand) as err:
        ex.apply(OpenPortfolio("c", "BAD", "A", 100 * M))
    assert err.value.details["field"] == "market"
    assert digest(ex.state) != before  # only the two market creations changed it
    assert check_invariants(ex.state) == []
