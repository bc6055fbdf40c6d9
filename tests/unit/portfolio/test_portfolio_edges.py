"""Portfolio-mode rules that the books of the other tests did not tell apart (found by mutation
testing, docs/mutation.md): the mark after a side-B fill or a partial close, an open paid with
exactly the fee when the requirement falls, an account liquidated by a resolution's relock, and
the order of a ``below`` and an ``above`` threshold at the same strike."""

from __future__ import annotations

import copy

import pytest
from pm_helpers import (
    GAMES,
    M,
    build,
    independent_requirement,
    make_exchange,
    portfolio_account,
)

from prophex.engine import pm_book
from prophex.engine.commands import (
    Close,
    Deposit,
    Open,
    OpenPortfolio,
    Resolve,
    SetMarginMode,
    Void,
    Withdraw,
)
from prophex.engine.controllers.pm_risk import account_positions
from prophex.engine.exchange import Exchange
from prophex.engine.pm_account import open_holdings, requirement_of
from prophex.engine.pm_book import mark_a
from prophex.engine.state import check_invariants, digest
from prophex.errors import InsufficientBalance, InvalidCommand, MarketOiCapExceeded
from prophex.margin.contracts import Contract

SPREAD = [("BTC100", "A", 10_000), ("BTC105", "B", 10_000)]


def lock(ex, account: str) -> int:  # type: ignore[no-untyped-def]
    return ex.state.balance(f"pm_margin:{account}")


def wallet(ex, account: str) -> int:  # type: ignore[no-untyped-def]
    return ex.state.balance(f"wallet:{account}")


def games_book() -> Exchange:
    """Ten independent games held long (1,000 contracts each): the sports cluster's 99 % ES
    mixes several loss levels, so the requirement moves with each game's mark (a spread of two
    thresholds has a single tail level and does not)."""
    ex = make_exchange()
    portfolio_account(ex, "g", 50_000)
    build(ex, "g", [(game, "A", 1_000) for game in GAMES[:10]])
    assert lock(ex, "g") == 3_652_551_648
    return ex


def test_requirement_moves_with_a_game_mark() -> None:
    ex = games_book()
    held = open_holdings(ex.state, "g")
    at = {mark: requirement_of(ex.state, held, {"G01": mark})[0] for mark in (0.4, 0.5)}
    assert at == {0.4: 3_622_551_648, 0.5: 3_567_551_648}


def test_side_b_open_is_priced_at_the_mark_after_its_own_fill() -> None:
    """The requirement after an open uses the mark with the fill added to its own side (here
    B): it equals ``prophex margin`` on the book after the open, at the marks after it."""
    ex = games_book()
    before = {"G11": mark_a(ex.state.markets["G11"])}
    result = ex.apply(OpenPortfolio("g", "G11", "B", 5_000 * M)).result
    assert result.requirement_before == 3_652_551_648
    assert result.requirement == lock(ex, "g") == 5_923_790_646
    assert independent_requirement(ex, "g")[0] == result.requirement
    stale, _ = requirement_of(ex.state, open_holdings(ex.state, "g"), {"G11": before["G11"]})
    assert stale == 5_938_790_646  # the pre-fill mark would lock 15 USD more
    assert check_invariants(ex.state) == []


def test_partial_close_relocks_at_the_mark_after_the_close() -> None:
    """docs/portfolio-margin.md: after a close the lock moves to the requirement of the
    remaining book at the mark after the close."""
    ex = games_book()
    ex.apply(OpenPortfolio("g", "G01", "A", 5_000 * M))
    position = account_positions(ex.state, "g")[0]
    assert (position.market, position.notional) == ("G01", 6_000 * M)
    before = mark_a(ex.state.markets["G01"])
    result = ex.apply(Close("g", position.id, 2_500 * M)).result
    assert result.remaining_notional == 3_500 * M
    assert result.requirement == result.locked == lock(ex, "g") == 4_549_975_050
    assert independent_requirement(ex, "g")[0] == result.requirement
    stale, _ = requirement_of(ex.state, open_holdings(ex.state, "g"), {"G01": before})
    assert stale == 4_544_975_050  # the pre-close mark would lock 5 USD less
    assert check_invariants(ex.state) == []


def test_open_that_lowers_the_requirement_needs_only_the_fee() -> None:
    """A portfolio open needs the fee plus the rise of the lock, and a fall is no rise: with
    exactly the fee in the wallet a hedge is accepted and releases the difference."""
    ex = make_exchange()
    portfolio_account(ex, "h", 20_000)
    ex.apply(OpenPortfolio("h", "BTC100", "A", 10_000 * M))
    order = OpenPortfolio("h", "BTC105", "B", 10_000 * M)
    plan = ex.plan_open_portfolio(order, enforce=False)
    assert plan.fee == 10_000_000  # 0.1 % of 10,000 USD
    assert plan.requirement_after == 1_194_997_387 < plan.locked_before == 3_844_106_696
    ex.apply(Withdraw("h", wallet(ex, "h") - plan.fee))
    assert wallet(ex, "h") == plan.fee
    result = ex.apply(order).result
    assert result.requirement == lock(ex, "h") == 1_194_997_387
    assert wallet(ex, "h") == 3_844_106_696 - 1_194_997_387  # the fee paid, the fall released
    assert check_invariants(ex.state) == []


def test_resolution_that_empties_the_lock_liquidates_the_rest_of_the_book() -> None:
    """A resolution charges the losing leg's full cost from the lock, then the wallet; the
    relock of the remaining leg is capped at what is left (0), and the risk pass then
    liquidates the account, whose remaining leg is at a loss, in the same command."""
    ex = make_exchange(max_leverage=25)
    portfolio_account(ex, "pm", 5_000)
    build(ex, "pm", SPREAD)
    ex.apply(Withdraw("pm", wallet(ex, "pm") - 1_000 * M))
    ex.apply(Deposit("bull", 1_000_000 * M))
    ex.apply(Open("bull", "BTC105", "A", 5_000 * M, 100))  # the B leg now loses a little
    long_leg, short_leg = account_positions(ex.state, "pm")
    assert lock(ex, "pm") == 1_194_997_387  # healthy before the resolution
    before = copy.deepcopy(ex)
    receipt = ex.apply(Resolve("BTC100", "B"))
    kinds = [t.kind for t in receipt.transactions]
    assert kinds == ["resolve", "pm_lock", "pm_liquidation"]
    settled = receipt.transactions[0].data["settlements"][str(long_leg.id)]
    assert (settled["from_lock"], settled["from_wallet"]) == (1_194_997_387, 1_000 * M)
    assert settled["bad_debt"] == long_leg.cost_basis - 2_194_997_387 == 1_649_109_309
    relock = receipt.transactions[1].data
    assert (relock["requirement"], relock["locked"]) == (short_leg.cost_basis, 0)
    liquidated = receipt.transactions[2].data
    assert liquidated["position"] == short_leg.id
    assert liquidated["cost_basis"] == 6_966_480_021
    assert liquidated["exit_proceeds"] == 6_862_397_515
    assert (liquidated["locked"], liquidated["seized"]) == (0, 0)
    assert liquidated["bad_debt"] == 6_966_480_021 - 6_862_397_515
    assert account_positions(ex.state, "pm") == []
    assert ex.state.pm_requirement.get("pm", 0) == 0
    assert check_invariants(ex.state) == []
    assert account_positions(before.state, "pm")  # the resolution, not the bull, liquidated


def _threshold(cid: str, price: float, direction: str) -> Contract:
    return Contract(cid, "threshold", "BTC", price, "BTC", 100_000.0, direction, None)


def test_equal_strikes_project_below_before_above() -> None:
    """docs/portfolio-margin.md: in strike order, ``below`` before ``above`` at equal strikes.
    The above contract (id first alphabetically) is projected onto the below one's level."""
    normal = pm_book._NORMAL
    contracts = {
        "ABOVE": _threshold("ABOVE", 0.7, "above"),  # latent threshold inv_cdf(0.3) < 0
        "BELOW": _threshold("BELOW", 0.6, "below"),  # latent threshold inv_cdf(0.6) > 0
    }
    pm_book._project_strike_order(contracts)
    assert contracts["BELOW"].price == 0.6
    assert contracts["ABOVE"].price == 1.0 - normal.cdf(normal.inv_cdf(0.6))
    assert abs(contracts["ABOVE"].price - 0.4) < 1e-12


def test_below_contract_raised_to_a_lower_strike_level() -> None:
    """Two ``below`` thresholds: P(X < 100k) must not be under P(X < 90k); the dearer lower
    strike's level is the floor, so the 100k contract is priced at 0.6."""
    contracts = {
        "LOW": Contract("LOW", "threshold", "BTC", 0.6, "BTC", 90_000.0, "below", None),
        "HIGH": Contract("HIGH", "threshold", "BTC", 0.3, "BTC", 100_000.0, "below", None),
    }
    pm_book._project_strike_order(contracts)
    assert contracts["LOW"].price == 0.6
    assert abs(contracts["HIGH"].price - 0.6) < 1e-12


def test_contract_spec_of_a_clustered_market_without_kind_is_independent() -> None:
    assert pm_book.contract_spec("X", {"cluster": "SPORTS"}) == {
        "kind": "independent",
        "cluster": "SPORTS",
    }
    assert pm_book.contract_spec("X", {}) == {"kind": "independent", "cluster": "EVENT:X"}


def test_portfolio_refusals_name_their_check_and_field() -> None:
    ex = make_exchange()
    portfolio_account(ex, "h", 20_000)
    build(ex, "h", SPREAD)
    ex.apply(Withdraw("h", wallet(ex, "h")))
    hedge = account_positions(ex.state, "h")[1]
    before = digest(ex.state)
    # closing the hedge leg raises the requirement back to the long leg's full cost
    with pytest.raises(InsufficientBalance) as close_err:
        ex.apply(Close("h", hedge.id))
    assert close_err.value.message == (
        "portfolio requirement after the close needs 2649.10931 USD more locked margin "
        "(requirement 3844.106696 USD) but the wallet has 0 USD free"
    )
    assert close_err.value.details == {
        "check": "portfolio requirement after the close",
        "required": "2649.10931",
        "available": "0",
        "requirement": "3844.106696",
    }
    with pytest.raises(InvalidCommand) as mode_err:
        ex.apply(SetMarginMode("h", "cross"))  # type: ignore[arg-type]
    assert (mode_err.value.message, mode_err.value.details) == (
        "mode must be 'isolated' or 'portfolio'",
        {"field": "mode"},
    )
    with pytest.raises(InvalidCommand) as side_err:
        ex.apply(OpenPortfolio("h", "BTC100", "C", 10 * M))  # type: ignore[arg-type]
    assert (side_err.value.message, side_err.value.details) == (
        "side must be 'A' or 'B'",
        {"field": "side"},
    )
    assert digest(ex.state) == before


def test_portfolio_open_respects_the_fixed_market_oi_cap() -> None:
    ex = make_exchange(at_reference_prices=False, market_oi_cap=1_000)
    assert ex.state.rules.cap_rule == "fixed"
    portfolio_account(ex, "f", 20_000)
    with pytest.raises(MarketOiCapExceeded) as err:
        ex.apply(OpenPortfolio("f", "RAIN", "A", 1_001 * M))
    assert err.value.message == (
        "order of 1001 USD notional exceeds the market OI cap: 1000 USD of 1000 left"
    )
    result = ex.apply(OpenPortfolio("f", "RAIN", "A", 1_000 * M)).result
    assert (result.requirement_before, result.cost) == (0, 501_245_849)  # 0 since the switch


def test_every_portfolio_loser_pays_into_the_vault_before_winners_are_paid() -> None:
    """Two portfolio accounts lose on one resolution: the vault that pays the winners holds
    what both paid (lock, then wallet), before any draw on the fund."""
    ex = make_exchange()
    for account, usd in (("thin", 5_000), ("rich", 100_000)):
        portfolio_account(ex, account, usd)
        build(ex, account, SPREAD)
    ex.apply(Withdraw("thin", wallet(ex, "thin") - 100 * M))
    vault = ex.state.balance("vault:BTC100")
    receipt = ex.apply(Resolve("BTC100", "B"))
    data = receipt.transactions[0].data
    paid = [r for r in data["settlements"].values() if r["account"] in ("thin", "rich")]
    assert len(paid) == 2
    collected = sum(r["from_lock"] + r["from_wallet"] for r in paid)
    assert data["vault_before_draw"] == vault + collected
    assert data["fund_draw"] == data["owed_to_winners"] - data["vault_before_draw"]


def test_a_void_returns_portfolio_holders_to_their_lock_with_no_pnl() -> None:
    """A voided market held by a portfolio account settles no PnL (no loser leg): the position
    leaves the book, wallet plus lock is unchanged, and the lock is the requirement of the nine
    games left."""
    ex = games_book()
    before = wallet(ex, "g") + lock(ex, "g")
    held = ex.state.open_by_key[("g", "G01", "A")]
    ex.apply(Void("G01"))
    assert ex.state.positions[held].status != "open"
    assert ex.state.positions[held].realized_pnl == 0
    assert wallet(ex, "g") + lock(ex, "g") == before
    assert lock(ex, "g") == independent_requirement(ex, "g")[0] < 3_652_551_648
    assert check_invariants(ex.state) == []
