"""Exact rules of docs/audit.md: rounding of figures, the latents' drawing order, and what the
paths to resolution count (portfolio closes and account liquidations included)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from prophex.audit.coverage import _many, _whale, largest_cap, path_totals, quantile
from prophex.audit.outcomes import OutcomeModel, draw_outcomes, outcome_paths
from prophex.audit.paths import PathResult, _fold, _order_size, _profitable_closes
from prophex.audit.shortfall import Book, SolvencyError
from prophex.audit.solvency import _ratio, solvency_of_state
from prophex.audit.stats import wilson_interval
from prophex.engine import amm
from prophex.engine.commands import (
    Close,
    CreateMarket,
    Deposit,
    Open,
    OpenPortfolio,
    SetMarginMode,
)
from prophex.engine.exchange import Exchange
from prophex.money import MAX_AMOUNT
from prophex.params import profile

M = 1_000_000
BTC = {"cluster": "BTC", "underlying": "BTC", "contract_kind": "threshold"}


def exchange() -> Exchange:
    ex = Exchange.create(
        profile("launch", virtual_oi=100_000, wallet_cap=1_000_000, market_oi_cap=10_000_000,
                pm_paths=20_000, pm_seed=7)
    )  # fmt: skip
    ex.apply(CreateMarket("BTC100", strike="100000", direction="above", **BTC))
    ex.apply(CreateMarket("BTC105", strike="105000", direction="above", **BTC))
    ex.apply(CreateMarket("ETH4000", cluster="ETH", underlying="ETH", contract_kind="threshold",
                          strike="4000", direction="above"))  # fmt: skip
    ex.apply(CreateMarket("A-GAME"))
    ex.apply(Deposit("mm", 1_000_000 * M))
    return ex


def portfolio(ex: Exchange, account: str, usd: int) -> None:
    ex.apply(Deposit(account, usd * M))
    ex.apply(SetMarginMode(account, "portfolio"))


def test_coverage_ratios_have_four_decimals_rounded_down() -> None:
    assert _ratio(1, 3) == "0.3333" and _ratio(2, 3) == "0.6666"
    assert _ratio(3, 20_000) == "0.0001"  # 0.00015: down
    assert _ratio(99_999, 100_000) == "0.9999"  # just under full cover never reads 1.0000
    assert _ratio(5, 4) == "1.2500"
    assert _ratio(7, 0) is None


def test_p99_is_the_ceil_099_n_th_smallest_path_total() -> None:
    assert quantile(np.arange(1, 201, dtype=np.int64)) == 198
    assert quantile(np.arange(1, 151, dtype=np.int64)) == 149
    assert quantile(np.arange(1, 101, dtype=np.int64)) == 99


def test_wilson_interval_written_formula() -> None:
    z = 1.959964
    p, n = 3 / 40, 40
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(3, 40) == (centre - half, centre + half)
    assert wilson_interval(0, 40)[0] == 0.0 and wilson_interval(40, 40)[1] == 1.0


def test_latents_are_numbered_in_market_id_order_and_drawn_from_one_generator() -> None:
    ex = exchange()
    ex.apply(Open("mm", "BTC100", "A", 10_000 * M, 100))
    markets = [ex.state.markets[m] for m in sorted(ex.state.markets)]
    wins, described = draw_outcomes(markets, 500, 9)
    assert described["latents"] == ["market:A-GAME", "underlying:BTC", "underlying:ETH"]
    prices = {m.id: m.oi("A") / (m.oi("A") + m.oi("B")) for m in markets}
    assert described["p_a"] == {m: round(p, 6) for m, p in prices.items()}
    assert described["p_a"]["BTC100"] == 0.52381  # 110,000 / 210,000, shown to 6 decimals
    corr = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.68], [0.0, 0.68, 1.0]])  # one class
    z = np.random.default_rng(9).standard_normal((500, 3)) @ np.linalg.cholesky(corr).T
    p = {m.id: m.oi("A") / (m.oi("A") + m.oi("B")) for m in markets}
    assert wins[:, 0].tolist() == (z[:, 0] < ndtri(p["A-GAME"])).tolist()
    assert wins[:, 1].tolist() == (z[:, 1] > ndtri(1 - p["BTC100"])).tolist()
    assert wins[:, 2].tolist() == (z[:, 1] > ndtri(1 - p["BTC105"])).tolist()
    assert wins[:, 3].tolist() == (z[:, 2] > ndtri(1 - p["ETH4000"])).tolist()


def test_a_group_of_zero_probabilities_is_an_error() -> None:
    ex = exchange()
    for m in ("E1", "E2"):
        ex.apply(CreateMarket(m, cluster="ELECTION", contract_kind="exclusive", group="g"))
    markets = [ex.state.markets[m] for m in sorted(ex.state.markets)]
    model = OutcomeModel("user", (("E1", 0.0), ("E2", 0.0)))
    with pytest.raises(SolvencyError) as info:
        draw_outcomes(markets, 100, 1, model)
    assert info.value.details["field"] == "probability"


def test_paths_are_raised_to_1000_and_the_mean_rounds_down() -> None:
    ex = exchange()
    ex.apply(Open("mm", "BTC100", "A", 10_000 * M, 300))
    ex.apply(Open("mm", "A-GAME", "B", 7_777 * M, 300))
    report = solvency_of_state(ex.state, paths=10, seed=2)
    mc = report["monte_carlo"]
    assert mc["paths"] == 1_000
    markets = [ex.state.markets[m] for m in sorted(ex.state.markets)]
    wins, _ = outcome_paths(markets, 1_000, 2)
    rows = report["markets"]
    totals = path_totals(wins, [r["if_a"]["shortfall"] for r in rows],
                         [r["if_b"]["shortfall"] for r in rows])  # fmt: skip
    assert mc["mean_shortfall"] == -(-int(totals.sum()) // 1_000)  # rounded up (a loss)
    assert mc["depletion_probability"] == np.count_nonzero(totals > report["insurance_fund"]) / 1e3


def test_order_size_medians_in_whole_cents_and_the_default_without_isolated_positions() -> None:
    ex = exchange()
    assert _order_size(ex.state) == (100 * M, 300)
    ex.apply(Open("mm", "BTC100", "A", 100_005_000, 150))
    ex.apply(Open("mm", "ETH4000", "B", 200_017_000, 250))
    portfolio(ex, "pm", 5_000)
    ex.apply(OpenPortfolio("pm", "A-GAME", "A", 1_000 * M))  # margin 0: not counted
    assert _order_size(ex.state) == (200_010_000, 250)


def in_profit() -> tuple[Exchange, int]:
    """A portfolio and an isolated position in profit on A-GAME (the isolated one below 1x
    its margin); returns the exchange and the portfolio position's id."""
    ex = exchange()
    portfolio(ex, "alice", 5_000)
    opened = ex.apply(OpenPortfolio("alice", "A-GAME", "A", 1_000 * M)).result
    ex.apply(Deposit("bob", 5_000 * M))
    ex.apply(Open("bob", "A-GAME", "A", 1_000 * M, 100))
    ex.apply(Open("mm", "A-GAME", "A", 20_000 * M, 100))
    return ex, opened.position_id


def test_paths_never_take_profit_on_portfolio_positions() -> None:
    ex, _ = in_profit()
    assert _profitable_closes(ex, 1.0) == []  # held to resolution (D171)
    bob = ex.state.open_by_key["bob", "A-GAME", "A"]
    assert _profitable_closes(ex, 0.0) == [Close("bob", bob)]  # isolated, in profit


def test_paths_count_portfolio_close_fund_draws() -> None:
    ex, position_id = in_profit()
    receipt = ex.apply(Close("alice", position_id))
    txn = receipt.transactions[0]
    assert txn.kind == "pm_close" and txn.data["fund_draw"] > 0  # the vault holds nothing
    result = PathResult(outcomes={})
    _fold(result, receipt)
    assert result.fund_draw_closes == txn.data["fund_draw"]


def test_paths_count_account_liquidations() -> None:
    ex = exchange()
    portfolio(ex, "alice", 12_000)
    ex.apply(OpenPortfolio("alice", "BTC100", "A", 10_000 * M))
    ex.apply(OpenPortfolio("alice", "BTC105", "B", 10_000 * M))  # the hedge: a small lock
    receipt = ex.apply(Open("mm", "BTC100", "B", 100_000 * M, 100))
    kinds = [t.kind for t in receipt.transactions]
    assert kinds.count("pm_liquidation") == 2
    result = PathResult(outcomes={})
    _fold(result, receipt)
    assert result.liquidations == kinds.count("liquidation") + 2


def test_whale_takes_the_costlier_side_a_on_a_tie_and_pays_its_margin_if_it_loses() -> None:
    ex = exchange()
    state, market = ex.state, ex.state.markets["A-GAME"]
    empty = Book("A-GAME", 0, {"A": 0, "B": 0}, {"A": 0, "B": 0})
    x = 999 * M
    cost = amm.open_cost(market.oi("A"), market.oi("B"), x)
    assert _whale(state, market, empty, x) == (x - cost, 0)  # a tie: side A
    ex.apply(Open("mm", "A-GAME", "A", 30_000 * M, 100))  # B is now the cheap side
    market = ex.state.markets["A-GAME"]
    book = Book("A-GAME", 0, {"A": 5 * M, "B": 0}, {"A": 0, "B": 0})
    cost_b = amm.open_cost(market.oi("B"), market.oi("A"), x)
    margin = x * 100 // state.rules.max_leverage_centi
    assert _whale(state, market, book, x) == (max(0, 5 * M - min(margin, cost_b)), x - cost_b)


def test_largest_cap_bisects_to_the_largest_covered_amount() -> None:
    assert largest_cap(lambda c: c <= 12_345) == 12_345
    assert largest_cap(lambda c: False) is None
    assert largest_cap(lambda c: True) == MAX_AMOUNT
    assert _many(MAX_AMOUNT // 10, 10) == MAX_AMOUNT and _many(7, 10) == 7
