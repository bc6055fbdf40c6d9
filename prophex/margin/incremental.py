"""The joint-rule requirement with per-cluster caching, bit for bit equal to ``compute_margin``.

The exchange recomputes an account's requirement after every order. Between two orders of
one account usually one market's price and one position change, so only one cluster's loss
vector changes. This module keys every cluster's loss vector (and its ES) by a fingerprint of
exactly what determines it: the scenario parameters, the cluster's contracts (with their
prices) and the positions in it. A cluster vector is computed by
:func:`~prophex.margin.scenarios.simulate_cluster_losses` on the book restricted to that
cluster, which performs the same floating-point operations in the same order as on the
whole book (random streams are keyed by entity, additions inside a cluster follow the sorted
contract order), so the vectors, the joint sum in sorted cluster order, and therefore the
requirement are identical to :func:`~prophex.margin.requirement.compute_margin`'s, to the
last bit. ``tests/unit/margin/test_incremental.py`` checks that on random books.

The cache is process-local, bounded (least recently used out) and never part of any state:
it only saves work.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from prophex.margin.contracts import Book, Contract, Position
from prophex.margin.risk import (
    MarginParams,
    addon_amounts,
    expected_shortfall,
    sum_losses,
)
from prophex.margin.scenarios import FloatArray, simulate_cluster_losses

CACHE_VECTORS = 96
"""Cluster loss vectors kept (LRU); 96 x 50,000 paths x 8 bytes is under 40 MB."""


@dataclass(frozen=True, slots=True)
class FastResult:
    """What the exchange needs of a requirement (the same figures as ``MarginResult``)."""

    pm: float
    pm_se: float
    full_collateral: float
    base_joint: float
    base_joint_se: float
    floor_top2: float
    min_margin: float
    binding: str
    addons: dict[str, float]
    clusters: dict[str, tuple[float, float]]  # name -> (ES, SE)

    @property
    def pm_micro_usd(self) -> int:
        """Rounded up in the protocol's favour, exactly like ``MarginResult.pm_micro_usd``."""
        return math.ceil(self.pm * 1_000_000 - 1e-6)


_vectors: OrderedDict[tuple[Any, ...], tuple[FloatArray, float, float]] = OrderedDict()


def clear_cache() -> None:
    _vectors.clear()


def _cluster_contracts(book: Book, cluster: str) -> dict[str, Contract]:
    """The contracts that determine ``cluster``'s vector: its own, plus parlay legs (and,
    for a leg in an exclusive group, every member of that group)."""
    own = {k: c for k, c in book.contracts.items() if c.cluster == cluster}
    legs = {leg for c in own.values() if c.kind == "parlay" for leg in c.legs}
    for leg in sorted(legs):
        leg_cluster = book.contracts[leg].cluster
        own.update({k: c for k, c in book.contracts.items() if c.cluster == leg_cluster})
    return own


def _fingerprint(
    scenario: Any, cluster: str, contracts: dict[str, Contract], positions: tuple[Position, ...]
) -> tuple[Any, ...]:
    return (
        scenario,
        cluster,
        tuple(sorted((k, c) for k, c in contracts.items())),
        tuple(sorted((p.contract, p.side, p.contracts, p.price) for p in positions)),
    )


def cluster_vector(
    book: Book, params: MarginParams, cluster: str
) -> tuple[FloatArray, float, float]:
    """(loss vector, ES, SE) of one cluster of ``book``, from the cache when possible."""
    contracts = _cluster_contracts(book, cluster)
    positions = tuple(p for p in book.positions if book.contracts[p.contract].cluster == cluster)
    scenario = params.scenario()
    key = (*_fingerprint(scenario, cluster, contracts, positions), params.alpha)
    hit = _vectors.get(key)
    if hit is not None:
        _vectors.move_to_end(key)
        return hit
    sub = Book(book.name, book.hierarchy, contracts, positions, book.settings)
    vector = simulate_cluster_losses(sub, scenario)[cluster]
    es, se = expected_shortfall(vector, params.alpha)
    _vectors[key] = (vector, es, se)
    while len(_vectors) > CACHE_VECTORS:
        _vectors.popitem(last=False)
    return vector, es, se


def fast_margin(book: Book, params: MarginParams) -> FastResult:
    """The joint-rule requirement of ``book``: the same arithmetic as ``compute_margin``."""
    if params.rule != "joint":
        raise ValueError("fast_margin implements the joint rule only")
    params.scenario()
    fc = book.full_collateral
    if not book.positions:
        zero = {"basis": 0.0, "parlay": 0.0, "liquidity": 0.0}
        return FastResult(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "none", zero, {})
    names = sorted({book.contracts[p.contract].cluster for p in book.positions})
    cached = {c: cluster_vector(book, params, c) for c in names}
    base, base_se = expected_shortfall(sum_losses([cached[c][0] for c in names]), params.alpha)
    risks = [(c, cached[c][1], cached[c][2]) for c in names]
    top = sorted(risks, key=lambda t: (-t[1], t[0]))[:2]
    floor, floor_se = sum(t[1] for t in top), sum(t[2] for t in top)
    min_margin = params.addons.mu * fc
    candidates = [
        ("base", base, base_se),
        ("top2_floor", floor, floor_se),
        ("min_margin", min_margin, 0.0),
    ]
    binding, core, core_se = max(candidates, key=lambda t: t[1])
    addons = addon_amounts(book, params.addons, fc)
    uncapped = core + sum(addons.values())
    pm = min(uncapped, fc)
    return FastResult(
        pm=pm,
        pm_se=0.0 if uncapped > fc else core_se,
        full_collateral=fc,
        base_joint=base,
        base_joint_se=base_se,
        floor_top2=floor,
        min_margin=min_margin,
        binding=binding,
        addons=addons,
        clusters={c: (es, se) for c, es, se in risks},
    )
