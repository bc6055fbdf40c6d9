"""Portfolio margin of a live exchange account: exchange positions -> margin-engine book.

This is the bridge between the exchange core and :mod:`prophex.margin`. A position long X with
notional N and cost basis C is N contracts paying $1 if X wins, bought at ``C / N``. Each
market's taxonomy tags (cluster, underlying, contract kind, strike, direction, group) place it
in the asset hierarchy, and its current spot price is used as the probability.

The figures let a reader compare three requirements for the same book:

- what isolated margin actually locks (the sum of position margins);
- full collateralisation (every position's maximum loss);
- the portfolio requirement.
"""

from __future__ import annotations

from typing import Any

from prophex.engine.domain import OTHER
from prophex.engine.state import Market, State
from prophex.margin import book_from_positions, compute_margin, params_for
from prophex.money import MICRO

DEFAULT_CLUSTER = {"independent": "SPORTS", "exclusive": "ELECTION", "parlay": "PARLAY"}


def market_taxonomy(market: Market) -> dict[str, Any]:
    """The margin engine's view of one market: its tags plus the current probability of A."""
    tags = market.tags
    kind = tags.get("contract_kind", "independent") or "independent"
    oi_a, oi_b = market.oi("A"), market.oi("B")
    taxonomy: dict[str, Any] = {
        "kind": kind,
        "cluster": tags.get("cluster") or DEFAULT_CLUSTER.get(kind),
        "price": oi_a / (oi_a + oi_b),
    }
    for key in ("underlying", "direction", "group"):
        if tags.get(key):
            taxonomy[key] = tags[key]
    if tags.get("strike"):
        taxonomy["strike"] = float(tags["strike"])
    return taxonomy


def account_margin(
    state: State, account: str, *, paths: int = 200_000, seed: int = 0, rule: str = "joint"
) -> dict[str, Any]:
    """Isolated margin, full collateralisation and portfolio margin of ``account``'s book."""
    positions = [p for p in state.positions.values() if p.account == account and p.status == "open"]
    isolated = sum(p.margin for p in positions)
    max_loss = sum(p.cost_basis for p in positions)
    summary: dict[str, Any] = {
        "account": account,
        "positions": len(positions),
        "isolated_margin": isolated,
        "max_loss": max_loss,
    }
    if not positions:
        return {**summary, "portfolio_margin": 0, "binding": "empty book", "clusters": []}
    taxonomy = {p.market: market_taxonomy(state.markets[p.market]) for p in positions}
    book = book_from_positions(
        [
            {
                "market_id": p.market,
                "side": p.side,
                "notional": p.notional,
                "cost_basis": p.cost_basis,
            }
            for p in sorted(positions, key=lambda p: p.id)
        ],
        taxonomy,
        name=f"account {account}",
    )
    result = compute_margin(book, params_for(book, paths=paths, seed=seed, rule=rule))
    return {
        **summary,
        "portfolio_margin": result.pm_micro_usd,
        "portfolio_margin_se": round(result.pm_se * MICRO),
        "full_collateral": round(result.full_collateral * MICRO),
        "binding": result.binding,
        "rule": rule,
        "clusters": [
            {"cluster": c.name, "gross": round(c.gross * MICRO), "es": round(c.es * MICRO)}
            for c in result.clusters
        ],
    }


__all__ = ["OTHER", "account_margin", "market_taxonomy"]
