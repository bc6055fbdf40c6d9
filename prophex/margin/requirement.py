"""The portfolio-margin requirement of a book: simulate once, then walk the waterfall."""

from __future__ import annotations

from prophex.margin.contracts import Book
from prophex.margin.risk import (
    ClusterRisk,
    MarginParams,
    MarginResult,
    addon_amounts,
    correlation_matrix,
    expected_shortfall,
    gross_by_cluster,
    risk_asset_histogram,
    sqrt_rule,
    sum_losses,
)
from prophex.margin.scenarios import FloatArray, simulate_cluster_losses


def compute_margin(book: Book, params: MarginParams) -> MarginResult:
    """Compute the full waterfall of ``book`` on the scenario set fixed by ``params``.

    The same book and parameters always give the same result: all randomness comes from
    generators seeded by ``params.seed``.
    """
    scenario = params.scenario()  # validates paths, seed and correlations even for empty books
    fc = book.full_collateral
    if not book.positions:
        return _empty(book, params)
    losses = simulate_cluster_losses(book, scenario)
    gross = gross_by_cluster(book)
    names = sorted(losses)
    clusters = [_cluster_risk(c, gross.get(c, 0.0), losses[c], params.alpha) for c in names]
    corr = correlation_matrix(book, names, losses, params)
    base_sqrt, base_sqrt_se = sqrt_rule([c.es for c in clusters], [c.es_se for c in clusters], corr)
    base_joint, base_joint_se = expected_shortfall(
        sum_losses([losses[c] for c in names]), params.alpha
    )
    top = sorted(clusters, key=lambda c: (-c.es, c.name))[:2]
    floor, floor_se = sum(c.es for c in top), sum(c.es_se for c in top)
    min_margin = params.addons.mu * fc
    base, base_se = (
        (base_joint, base_joint_se) if params.rule == "joint" else (base_sqrt, base_sqrt_se)
    )
    candidates = [
        ("base", base, base_se),
        ("top2_floor", floor, floor_se),
        ("min_margin", min_margin, 0.0),
    ]
    binding, core, core_se = max(candidates, key=lambda t: t[1])
    addons = addon_amounts(book, params.addons, fc)
    uncapped = core + sum(addons.values())
    pm = min(uncapped, fc)
    return MarginResult(
        book=book.name,
        params=params,
        clusters=clusters,
        correlation=corr,
        full_collateral=fc,
        sum_es=sum(c.es for c in clusters),
        base_sqrt=base_sqrt,
        base_sqrt_se=base_sqrt_se,
        base_joint=base_joint,
        base_joint_se=base_joint_se,
        floor_top2=floor,
        floor_top2_se=floor_se,
        floor_top2_clusters=[c.name for c in top],
        min_margin=min_margin,
        binding=binding,
        addons=addons,
        pm=pm,
        pm_se=0.0 if uncapped > fc else core_se,
        capped_at_fc=uncapped > fc,
        histogram=risk_asset_histogram(book, losses),
    )


def _cluster_risk(name: str, gross: float, losses: FloatArray, alpha: float) -> ClusterRisk:
    es, se = expected_shortfall(losses, alpha)
    return ClusterRisk(name, gross, es, se)


def _empty(book: Book, params: MarginParams) -> MarginResult:
    """An empty book needs nothing; no paths are drawn."""
    zero = {"basis": 0.0, "parlay": 0.0, "liquidity": 0.0}
    return MarginResult(
        book=book.name,
        params=params,
        clusters=[],
        correlation=[],
        full_collateral=0.0,
        sum_es=0.0,
        base_sqrt=0.0,
        base_sqrt_se=0.0,
        base_joint=0.0,
        base_joint_se=0.0,
        floor_top2=0.0,
        floor_top2_se=0.0,
        floor_top2_clusters=[],
        min_margin=0.0,
        binding="none",
        addons=zero,
        pm=0.0,
        pm_se=0.0,
        capped_at_fc=False,
    )


def requirement_micro_usd(book: Book, params: MarginParams) -> int:
    """The portfolio requirement of ``book`` in integer micro-USD, rounded up."""
    return compute_margin(book, params).pm_micro_usd
