"""Portfolio margin of a live exchange account (the bridge to prophex.margin)."""

from __future__ import annotations

from prophex.api.portfolio import account_margin
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import CreateMarket, Deposit, Open
from prophex.engine.exchange import Exchange
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


def btc_spread_book() -> Exchange:
    exchange = Exchange.create(profile("mature", wallet_cap=100_000))
    for market, strike in (("btc100", "100000"), ("btc110", "110000")):
        exchange.apply(
            CreateMarket(
                market=market,
                cluster="BTC",
                underlying="BTC",
                contract_kind="threshold",
                strike=strike,
                direction="above",
            )
        )
    exchange.apply(CreateMarket(market="game"))
    exchange.apply(Deposit("t", 100_000 * USD))
    exchange.apply(Open("t", "btc100", "A", 1_000 * USD, 500))  # long BTC > 100k
    exchange.apply(Open("t", "btc110", "B", 1_000 * USD, 500))  # short BTC > 110k
    exchange.apply(Open("t", "game", "A", 500 * USD, 300))
    return exchange


def test_right_way_spread_nets_inside_its_cluster() -> None:
    figures = account_margin(btc_spread_book().state, "t", paths=50_000, seed=3)
    assert figures["positions"] == 3
    assert figures["isolated_margin"] == 2_500 * USD
    clusters = {c["cluster"]: c for c in figures["clusters"]}
    # The nested strikes share one driver: the worst case is bounded by the spread, far below
    # the two legs' gross maximum loss; the lone sports bet gets no relief at all.
    assert clusters["BTC"]["es"] < clusters["BTC"]["gross"] / 5
    assert clusters["SPORTS"]["es"] == clusters["SPORTS"]["gross"]
    assert figures["portfolio_margin"] <= figures["full_collateral"] == figures["max_loss"]
    assert figures["portfolio_margin"] < figures["isolated_margin"]
    again = account_margin(btc_spread_book().state, "t", paths=50_000, seed=3)
    assert again == figures  # same book, same seed: the same number


def test_empty_account_needs_nothing(sqlite_url: str) -> None:
    with Sequencer.open(sqlite_url) as sequencer:
        assert account_margin(sequencer.state, "nobody")["portfolio_margin"] == 0
