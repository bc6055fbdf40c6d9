"""Exact rules of docs/portfolio-margin.md, "Trading in portfolio mode": the strike-order
projection of prices, and what a portfolio loser owes at an UNKNOWN resolution."""

from __future__ import annotations

from statistics import NormalDist

from pm_helpers import M, make_exchange, portfolio_account

from prophex.api.portfolio import account_margin
from prophex.engine import pm_book
from prophex.engine.commands import Deposit, Open, OpenPortfolio, Resolve, Withdraw


def test_prices_against_the_strike_order_are_projected_onto_the_previous_threshold() -> None:
    ex = make_exchange(at_reference_prices=False)
    held = [
        pm_book.Holding("BTC80", "A", 10 * M, 3 * M),
        pm_book.Holding("BTC100", "A", 10 * M, 5 * M),
        pm_book.Holding("BTC105", "A", 10 * M, 5 * M),
        pm_book.Holding("BTC110", "A", 10 * M, 5 * M),
    ]
    # BTC105 dearer than BTC100 (refused by the library): it takes BTC100's threshold;
    # BTC110 is cheaper than that again and is left alone; BTC80 (below) comes first.
    marks = {"BTC80": 0.3, "BTC100": 0.45, "BTC105": 0.6, "BTC110": 0.2}
    book = pm_book.build_book(held, ex.state.markets, marks)
    t100 = NormalDist().inv_cdf(1.0 - 0.45)
    assert book.contracts["BTC105"].price == 1.0 - NormalDist().cdf(t100)
    assert abs(book.contracts["BTC105"].price - 0.45) < 1e-12
    assert [book.contracts[m].price for m in ("BTC80", "BTC100", "BTC110")] == [0.3, 0.45, 0.2]
    # a below contract above the running threshold is projected the same way
    marks = {"BTC80": 0.7, "BTC100": 0.45, "BTC105": 0.3, "BTC110": 0.2}
    book = pm_book.build_book(held, ex.state.markets, marks)
    t80 = NormalDist().inv_cdf(0.7)
    assert book.contracts["BTC100"].price == 1.0 - NormalDist().cdf(t80)
    assert book.contracts["BTC105"].price == 0.3  # its threshold equals BTC80's: left alone


def test_unknown_resolution_charges_a_portfolio_position_c_minus_floor_half_n() -> None:
    ex = make_exchange(at_reference_prices=False)
    portfolio_account(ex, "dear", 5_000)
    portfolio_account(ex, "cheap", 5_000)
    ex.apply(Deposit("mm", 100_000 * M))
    ex.apply(Open("mm", "G01", "A", 20_000 * M, 100))  # A now above 0.5
    dear = ex.apply(OpenPortfolio("dear", "G01", "A", 1_000 * M + 1)).result
    cheap = ex.apply(OpenPortfolio("cheap", "G01", "B", 1_000 * M + 1)).result
    half = (1_000 * M + 1) // 2
    assert dear.cost > half > cheap.cost
    receipt = ex.apply(Resolve("G01", "UNKNOWN"))
    records = receipt.transactions[0].data["settlements"]
    lost = records[str(dear.position_id)]
    assert lost["from_lock"] + lost["from_wallet"] + lost["bad_debt"] == dear.cost - half
    assert lost["payout"] == 0 and lost["pnl"] == -(dear.cost - half)
    won = records[str(cheap.position_id)]
    assert "from_lock" not in won  # value >= C: settled by the common plan


def test_account_margin_what_if_puts_an_untagged_market_in_its_kinds_default_cluster() -> None:
    ex = make_exchange(at_reference_prices=False)
    ex.apply(Deposit("iso", 10_000 * M))
    ex.apply(Open("iso", "RAIN", "A", 100 * M, 200))
    ex.apply(Open("iso", "G01", "B", 100 * M, 200))
    figures = account_margin(ex.state, "iso", paths=1_000, seed=0)
    assert [c["cluster"] for c in figures["clusters"]] == ["SPORTS"]  # not EVENT:RAIN
    costs = sum(p.cost_basis for p in ex.state.positions.values() if p.account == "iso")
    assert figures["max_loss"] == figures["full_collateral"] == costs
    assert figures["isolated_margin"] == 200 * M


def test_a_lock_of_zero_is_liquidated_once_its_loss_is_not_negative() -> None:
    """The worked example's end: the re-lock leaves 0 in the lock with an empty wallet; the
    remaining short is in profit (loss < 0 = lock), and is liquidated as soon as a price move
    makes its loss 0 or more, with nothing to seize."""
    ex = make_exchange(at_reference_prices=False)
    portfolio_account(ex, "alice", 12_000)
    ex.apply(OpenPortfolio("alice", "BTC100", "A", 10_000 * M))
    short = ex.apply(OpenPortfolio("alice", "BTC105", "B", 10_000 * M)).result
    ex.apply(Withdraw("alice", ex.state.balance("wallet:alice") - 500 * M))
    receipt = ex.apply(Resolve("BTC100", "B"))
    assert [t.kind for t in receipt.transactions] == ["resolve", "pm_lock"]
    relock = receipt.transactions[1].data
    assert (relock["requirement"], relock["locked"]) == (short.cost, 0)
    ex.apply(Deposit("mm", 100_000 * M))
    receipt = ex.apply(Open("mm", "BTC105", "A", 30_000 * M, 100))
    (liquidation,) = [t.data for t in receipt.transactions if t.kind == "pm_liquidation"]
    assert (liquidation["position"], liquidation["locked"], liquidation["seized"]) == (
        short.position_id,
        0,
        0,
    )
    assert liquidation["bad_debt"] == short.cost - liquidation["exit_proceeds"] > 0
