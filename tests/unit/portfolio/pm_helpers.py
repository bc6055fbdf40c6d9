"""Shared set-ups for the portfolio-mode tests: markets with taxonomy tags, the reference book
built through exchange orders, and the independent path to the same requirement
(``book_from_positions`` + ``compute_margin``, the library behind ``prophex margin``)."""

from __future__ import annotations

from typing import Any

from prophex.engine import pm_book
from prophex.engine.commands import CreateMarket, Deposit, Open, OpenPortfolio, SetMarginMode
from prophex.engine.exchange import Exchange
from prophex.margin import book_from_positions, compute_margin
from prophex.params import profile

M = 1_000_000

THRESHOLDS = {
    # market: (underlying, strike, direction)
    "BTC100": ("BTC", "100000", "above"),
    "BTC105": ("BTC", "105000", "above"),
    "BTC110": ("BTC", "110000", "above"),
    "BTC80": ("BTC", "80000", "below"),
    "ETH4000": ("ETH", "4000", "above"),
    "ETH4500": ("ETH", "4500", "above"),
    "SOL200": ("SOL", "200", "above"),
    "SPX6200": ("SPX", "6200", "above"),
    "SPX6400": ("SPX", "6400", "above"),
    "WTI80": ("OIL", "80", "above"),
    "WTI85": ("OIL", "85", "above"),
}
ELECTION = ("ELEC-A", "ELEC-B", "ELEC-C", "ELEC-D")
GAMES = tuple(f"G{i:02d}" for i in range(1, 21))

# The reference book (scenarios/portfolio/reference-8-cluster.yaml) without its parlay
# (a market cannot carry parlay legs): (market, side, contracts).
REFERENCE = [
    ("BTC100", "A", 7030),
    ("BTC110", "B", 4690),
    ("BTC80", "B", 3520),
    ("ETH4000", "A", 8370),
    ("ETH4500", "B", 4190),
    ("SOL200", "A", 4510),
    ("SPX6200", "A", 14290),
    ("SPX6400", "B", 7140),
    ("WTI80", "B", 4780),
    ("WTI85", "A", 2390),
    ("ELEC-A", "A", 5790),
    ("ELEC-B", "B", 8690),
    ("ELEC-C", "B", 8690),
    ("ELEC-D", "B", 8690),
    *[(g, "A", 870) for g in GAMES],
]


PRICES = {
    "BTC100": 0.373,
    "BTC105": 0.308,
    "BTC110": 0.251,
    "BTC80": 0.313,
    "ETH4000": 0.289,
    "ETH4500": 0.186,
    "SOL200": 0.323,
    "SPX6200": 0.341,
    "SPX6400": 0.223,
    "WTI80": 0.324,
    "WTI85": 0.211,
    "ELEC-A": 0.45,
    "ELEC-B": 0.30,
    "ELEC-C": 0.15,
    "ELEC-D": 0.10,
    **{g: round(0.35 + 0.3 * i / 19, 4) for i, g in enumerate(GAMES)},
}
"""The reference book's prices; :func:`set_prices` moves the markets there."""


def set_prices(ex: Exchange, prices: dict[str, float] = PRICES) -> None:
    """An isolated market maker ``mm`` (1x leverage) moves each market from 0.5 to about
    ``prices[market]``: with virtual OI V, ``a = V (2p - 1) / (1 - p)`` on A (or the mirror
    image on B)."""
    v = ex.state.rules.virtual_oi
    ex.apply(Deposit("mm", 10_000_000 * M))
    for market, p in prices.items():
        if p > 0.5:
            side, notional = "A", int(v * (2 * p - 1) / (1 - p))
        elif p < 0.5:
            side, notional = "B", int(v * (1 - 2 * p) / p)
        else:
            continue
        ex.apply(Open("mm", market, side, notional, 100))  # type: ignore[arg-type]


def make_exchange(*, at_reference_prices: bool = True, **overrides: Any) -> Exchange:
    params: dict[str, Any] = {
        "virtual_oi": 100_000,
        "wallet_cap": 1_000_000,
        "market_oi_cap": 10_000_000,
        "pm_paths": 20_000,
        "pm_seed": 7,
    }
    params.update(overrides)
    ex = Exchange.create(profile("launch", **params))
    for market, (underlying, strike, direction) in THRESHOLDS.items():
        ex.apply(
            CreateMarket(
                market,
                cluster=underlying,
                underlying=underlying,
                contract_kind="threshold",
                strike=strike,
                direction=direction,
            )
        )
    for market in ELECTION:
        ex.apply(
            CreateMarket(market, cluster="ELECTION", contract_kind="exclusive", group="election")
        )
    for game in GAMES:
        ex.apply(CreateMarket(game, cluster="SPORTS", contract_kind="independent"))
    ex.apply(CreateMarket("RAIN"))  # untagged: an independent event in its own cluster
    if at_reference_prices:
        set_prices(ex)
    return ex


def portfolio_account(ex: Exchange, account: str, deposit_usd: int) -> None:
    ex.apply(Deposit(account, deposit_usd * M))
    ex.apply(SetMarginMode(account, "portfolio"))


def build(ex: Exchange, account: str, book: list[tuple[str, str, int]]) -> None:
    for market, side, contracts in book:
        ex.apply(OpenPortfolio(account, market, side, contracts * M))  # type: ignore[arg-type]


def taxonomy(ex: Exchange, market_id: str) -> dict[str, Any]:
    market = ex.state.markets[market_id]
    tags = market.tags
    data: dict[str, Any] = {"price": market.oi("A") / (market.oi("A") + market.oi("B"))}
    if pm_book.is_untagged(tags):
        return {**data, "kind": "independent", "cluster": f"EVENT:{market_id}"}
    data["kind"] = tags["contract_kind"]
    for key in ("cluster", "underlying", "direction", "group"):
        if tags.get(key):
            data[key] = tags[key]
    if tags.get("strike"):
        data["strike"] = float(tags["strike"])
    return data


def independent_requirement(ex: Exchange, account: str) -> tuple[int, Any]:
    """``prophex margin`` on the equivalent book: same seed, paths and prices."""
    state = ex.state
    positions = [
        {"market_id": p.market, "side": p.side, "notional": p.notional, "cost_basis": p.cost_basis}
        for p in sorted(state.positions.values(), key=lambda p: p.id)
        if p.account == account and p.status == "open"
    ]
    markets = {p["market_id"] for p in positions}
    own = tuple(sorted(f"EVENT:{m}" for m in markets if pm_book.is_untagged(state.markets[m].tags)))
    book = book_from_positions(
        positions,
        {m: taxonomy(ex, m) for m in markets},
        hierarchy=pm_book.hierarchy_for(own),
    )
    params = pm_book.margin_params(state.rules, state.time)
    result = compute_margin(book, params)
    return result.pm_micro_usd, result
