"""The joint-rule requirement with cached columns and tree nodes, bit for bit ``compute_margin``.

The exchange recomputes an account's requirement after every order, and between two orders
of one account usually one market's price and one position change. Every figure here is
computed by the same functions, on the same values, in the same order as
:func:`~prophex.margin.requirement.compute_margin`, only with three process-local caches:

* raw random draws per entity (scenario seed, paths, entity key);
* per-contract loss columns ``a_k + b_k X_k``, keyed by everything that determines them (the
  scenario, the contract with its price, ``a_k``, ``b_k``, and for an exclusive group or a
  parlay the prices of the contracts it reads);
* the nodes of each cluster's balanced summation tree
  (:func:`~prophex.margin.scenarios.tree_sum`), keyed by the leaves below them, and each
  cluster's ES by its root.

A changed contract therefore costs one column and the ``log2(n)`` tree nodes above it; the
joint ES re-sums the cluster vectors in sorted order and partitions once. The result equals
``compute_margin``'s to the last bit (``tests/unit/margin/test_incremental.py``). The caches
are bounded by bytes (least recently used out) and are never part of any exchange state.
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from prophex.margin.contracts import Book
from prophex.margin.risk import MarginParams, addon_amounts, expected_shortfall, sum_losses
from prophex.margin.scenarios import (
    FloatArray,
    ScenarioParams,
    _Outcomes,
    linear_loss,
    loss_column,
    tree_sum,
)

CACHE_BYTES = 128 * 2**20
"""Budget of cached vectors (draws, columns, nodes); 128 MiB is ~330 float64 vectors of
50,000 paths."""


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


class _Lru:
    """Arrays by key, evicting the least recently used beyond a byte budget."""

    def __init__(self, budget: int) -> None:
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.nbytes = 0
        self.budget = budget

    def get(self, key: Any) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> Any:
        self.items[key] = value
        self.nbytes += _size(value)
        while self.nbytes > self.budget and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.nbytes -= _size(old)
        return value

    def __contains__(self, key: Any) -> bool:
        return key in self.items

    def __getitem__(self, key: Any) -> Any:
        return self.get(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def clear(self) -> None:
        self.items.clear()
        self.nbytes = 0


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple) and value and isinstance(value[0], np.ndarray):
        return int(value[0].nbytes)
    return 64


_cache = _Lru(CACHE_BYTES)
_leaf_ids: dict[tuple[Any, ...], int] = {}


def clear_cache() -> None:
    _cache.clear()
    _leaf_ids.clear()


def _reads(book: Book, k: str) -> tuple[Any, ...]:
    """The other contracts (with prices) whose values a contract's column depends on."""
    c = book.contracts[k]
    if c.kind == "exclusive":
        group = c.group or c.id
        return tuple(
            sorted(
                (m, x.price)
                for m, x in book.contracts.items()
                if x.kind == "exclusive" and (x.group or x.id) == group
            )
        )
    if c.kind == "parlay":
        return tuple((leg, book.contracts[leg], _reads(book, leg)) for leg in c.legs)
    return ()


def _leaf_id(key: tuple[Any, ...]) -> int:
    if len(_leaf_ids) > 1_000_000:  # ids are only names for cache keys: start afresh
        clear_cache()
    return _leaf_ids.setdefault(key, len(_leaf_ids))


def _cluster_vectors(
    book: Book, scenario: ScenarioParams, alpha: float
) -> dict[str, tuple[FloatArray, float, float]]:
    const, slope = linear_loss(book)
    outcomes = _Outcomes(book, scenario, set(), draws=_cache)  # type: ignore[arg-type]
    by_cluster: dict[str, list[int]] = defaultdict(list)
    meaning: dict[int, str] = {}
    for k in sorted(const):
        lid = _leaf_id((scenario, k, book.contracts[k], const[k], slope[k], _reads(book, k)))
        meaning[lid] = k
        by_cluster[book.contracts[k].cluster].append(lid)

    def leaf(lid: int) -> FloatArray:
        hit: FloatArray | None = _cache.get(("column", lid))
        if hit is not None:
            return hit
        k = meaning[lid]
        if slope[k] == 0.0:
            column: FloatArray = np.full(scenario.paths, const[k])
        else:
            column = loss_column(outcomes.yes(k), const[k], slope[k])
        column.setflags(write=False)
        return _cache.put(("column", lid), column)  # type: ignore[no-any-return]

    def node(key: tuple[int, ...], compute: Any) -> FloatArray:
        hit: FloatArray | None = _cache.get(("node", key))
        if hit is not None:
            return hit
        vector: FloatArray = compute()
        vector.setflags(write=False)
        return _cache.put(("node", key), vector)  # type: ignore[no-any-return]

    out: dict[str, tuple[FloatArray, float, float]] = {}
    for cluster in sorted(by_cluster):
        leaves = by_cluster[cluster]
        key = ("es", tuple(leaves), alpha)
        hit = _cache.get(key)
        if hit is None:
            vector = tree_sum(leaves, leaf, node)
            es, se = expected_shortfall(vector, alpha)
            hit = _cache.put(key, (vector, es, se))
        out[cluster] = hit
    return out


def fast_margin(book: Book, params: MarginParams) -> FastResult:
    """The joint-rule requirement of ``book``: the same arithmetic as ``compute_margin``."""
    if params.rule != "joint":
        raise ValueError("fast_margin implements the joint rule only")
    scenario = params.scenario()
    fc = book.full_collateral
    if not book.positions:
        zero = {"basis": 0.0, "parlay": 0.0, "liquidity": 0.0}
        return FastResult(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "none", zero, {})
    cached = _cluster_vectors(book, scenario, params.alpha)
    names = sorted(cached)
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
