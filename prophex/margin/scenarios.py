"""Joint settlement scenarios: one simulated outcome for every contract on every path.

All contracts are evaluated on the *same* paths, which is what makes exact intra-cluster
netting, parlays on shared legs and the joint Monte-Carlo ES possible.

* Risk assets follow a two-level Gaussian factor model,
  ``Z_a = sqrt(rc) M + sqrt(rw - rc) C_class(a) + sqrt(1 - rw) e_a``,
  so two assets correlate at ``rw`` inside a class and ``rc`` across classes.
* A threshold contract is YES iff its underlying's Z crosses the threshold implied by its
  price; all contracts on one underlying share that Z, so nested strikes stay consistent.
  Optional contract noise ``eta`` blends in a private normal (other expiry or source).
* An exclusive group draws one winner per path from Categorical(p / sum p).
* Independent events are Bernoulli(p); a parlay is YES iff all of its legs are.

Random streams are keyed by (seed, entity name), not by draw order, so adding a contract
leaves every other contract's outcomes unchanged (common random numbers), and the result
never depends on the order of positions in the book.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from prophex.margin.contracts import Book, Contract
from prophex.margin.errors import INVALID_PARAMETER, MarginError
from prophex.margin.hierarchy import check_rhos

PATHS_MIN = 1_000
PATHS_MAX = 20_000_000

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ScenarioParams:
    """What fixes a scenario set: its size, its seed and the factor correlations."""

    paths: int
    seed: int
    rho_within: float
    rho_cross: float
    eta: float = 0.0

    def __post_init__(self) -> None:
        if not PATHS_MIN <= self.paths <= PATHS_MAX:
            raise MarginError(
                INVALID_PARAMETER,
                "paths",
                f"must be in [{PATHS_MIN}, {PATHS_MAX}], was {self.paths}",
            )
        if self.seed < 0:
            raise MarginError(INVALID_PARAMETER, "seed", f"must be >= 0, was {self.seed}")
        if not 0.0 <= self.eta <= 1.0:
            raise MarginError(INVALID_PARAMETER, "eta", f"must be in [0, 1], was {self.eta}")
        check_rhos(self.rho_within, self.rho_cross)


def stream(seed: int, key: str) -> np.random.Generator:
    """A generator private to one entity, derived from the request seed and its name."""
    digest = hashlib.sha256(key.encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *words])))


def linear_loss(book: Book) -> tuple[dict[str, float], dict[str, float]]:
    """Per-contract coefficients of the settlement loss ``a_k + b_k X_k``.

    Long n at p loses ``n (p - X)``; short n loses ``n (X - p)``. Summing per contract is
    the exact netting of opposite positions on the same contract.
    """
    const: dict[str, list[float]] = defaultdict(list)
    slope: dict[str, list[float]] = defaultdict(list)
    for pos in book.positions:
        sign = 1.0 if pos.side == "long" else -1.0
        const[pos.contract].append(sign * pos.contracts * pos.price)
        slope[pos.contract].append(-sign * pos.contracts)
    # fsum is exact, so the result does not depend on the order of positions.
    return {k: math.fsum(v) for k, v in const.items()}, {k: math.fsum(v) for k, v in slope.items()}


Draws = dict[tuple[int, int, str], NDArray[Any]]
"""Optional cache of raw random draws, keyed by (seed, paths, entity key)."""


class _Outcomes:
    """Evaluates YES indicators lazily and keeps only those parlays still need.

    ``draws`` (optional) caches the raw random draws of each entity, so a caller pricing many
    books on one scenario set generates each stream once; results are identical either way.
    """

    def __init__(
        self, book: Book, params: ScenarioParams, keep: set[str], draws: Draws | None = None
    ) -> None:
        self.book, self.params, self.keep = book, params, keep
        self.kept: dict[str, BoolArray] = {}
        self.draws = draws
        self._factors: dict[str, NDArray[np.float32]] = {}
        self._latents: dict[str, NDArray[np.float32]] = {}
        self._winners: dict[str, tuple[list[str], NDArray[np.intp]]] = {}

    def _draw(self, key: str, kind: str) -> NDArray[Any]:
        """The entity's raw draw: float32 normals, float32 or float64 uniforms."""
        cache_key = (self.params.seed, self.params.paths, f"{kind}|{key}")
        if self.draws is not None and cache_key in self.draws:
            return self.draws[cache_key]
        gen = stream(self.params.seed, key)
        n = self.params.paths
        if kind == "normal":
            out: NDArray[Any] = gen.standard_normal(n, dtype=np.float32)
        elif kind == "u32":
            out = gen.random(n, dtype=np.float32)
        else:
            out = gen.random(n)
        if self.draws is not None:
            out.setflags(write=False)
            self.draws[cache_key] = out
        return out

    def _normal(self, key: str) -> NDArray[np.float32]:
        return self._draw(key, "normal")

    def _factor(self, key: str) -> NDArray[np.float32]:
        if key not in self._factors:
            self._factors[key] = self._normal(key)
        return self._factors[key]

    def latent(self, underlying: str) -> NDArray[np.float32]:
        """Z of one underlying (memoised per instance)."""
        if underlying in self._latents:
            return self._latents[underlying]
        p = self.params
        z = self._normal(f"asset:{underlying}") * np.float32(math.sqrt(1.0 - p.rho_within))
        if p.rho_cross > 0:
            z += np.float32(math.sqrt(p.rho_cross)) * self._factor("factor:risk-on")
        if p.rho_within > p.rho_cross:
            asset_class = self.book.hierarchy.asset_class(underlying)
            z += np.float32(math.sqrt(p.rho_within - p.rho_cross)) * self._factor(
                f"class:{asset_class}"
            )
        self._latents[underlying] = z
        return z

    def threshold(self, c: Contract, z: NDArray[np.float32]) -> BoolArray:
        eta = self.params.eta if c.eta is None else c.eta
        if eta > 0:
            noise = self._normal(f"contract:{c.id}")
            z = np.float32(math.sqrt(1.0 - eta)) * z + np.float32(math.sqrt(eta)) * noise
        if c.direction == "below":
            return z < np.float32(ndtri(c.price))
        return z > np.float32(ndtri(1.0 - c.price))

    def group_members(self, group: str) -> list[str]:
        return sorted(
            k
            for k, x in self.book.contracts.items()
            if x.kind == "exclusive" and (x.group or x.id) == group
        )

    def exclusive(self, c: Contract) -> BoolArray:
        group = c.group or c.id
        if group not in self._winners:
            members = self.group_members(group)
            probs = np.array([self.book.contracts[m].price for m in members])
            edges = np.cumsum(probs / probs.sum())[:-1]
            u = self._draw(f"group:{group}", "u64")
            self._winners[group] = (members, np.searchsorted(edges, u, side="right"))
        members, winner = self._winners[group]
        yes: BoolArray = winner == members.index(c.id)
        return yes

    def independent(self, c: Contract) -> BoolArray:
        u = self._draw(f"event:{c.id}", "u32")
        return u < np.float32(c.price)

    def parlay(self, c: Contract) -> BoolArray:
        out = self.yes(c.legs[0]).copy()
        for leg in c.legs[1:]:
            out &= self.yes(leg)
        return out

    def yes(self, contract_id: str) -> BoolArray:
        """The YES indicator of any contract of the book (legs are kept once computed)."""
        if contract_id in self.kept:
            return self.kept[contract_id]
        c = self.book.contracts[contract_id]
        if c.kind == "threshold" and c.underlying is not None:
            x = self.threshold(c, self.latent(c.underlying))
        elif c.kind == "exclusive":
            x = self.exclusive(c)
        elif c.kind == "independent":
            x = self.independent(c)
        else:
            x = self.parlay(c)
        return self.record(contract_id, x)

    def record(self, contract_id: str, x: BoolArray) -> BoolArray:
        if contract_id in self.keep:
            self.kept[contract_id] = x
        return x


def loss_column(x: BoolArray, const: float, slope: float) -> FloatArray:
    """One contract's settlement loss per path, ``const + slope * X`` (float64)."""
    column: FloatArray = np.asarray(x * slope, dtype=np.float64)
    column += const
    return column


def tree_sum(
    leaves: Sequence[Any], leaf: Callable[[Any], FloatArray], node: Callable[..., Any] | None = None
) -> FloatArray:
    """Sum leaf vectors over a balanced binary tree on ``leaves`` (in their given order):
    ``sum(l[i:j]) = sum(l[i:m]) + sum(l[m:j])``, ``m = (i + j) // 2``.

    The tree fixes the order of the floating-point additions, so a caller that caches nodes
    (``node(key, compute)``, keyed by the leaves below it) gets the very same bits while
    recomputing only the path from a changed leaf to the root. Memory: O(log n) vectors.
    """

    def go(i: int, j: int) -> FloatArray:
        if j - i == 1:
            return leaf(leaves[i])
        m = (i + j) // 2

        def compute() -> FloatArray:
            out: FloatArray = go(i, m) + go(m, j)
            return out

        if node is None:
            return compute()
        cached: FloatArray = node(tuple(leaves[i:j]), compute)
        return cached

    return go(0, len(leaves))


def simulate_cluster_losses(
    book: Book, params: ScenarioParams, draws: Draws | None = None
) -> dict[str, FloatArray]:
    """Settlement loss per cluster and path (float64, positive = loss), exact netting inside.

    Each held contract's loss column ``a_k + b_k X_k`` is computed on the shared paths; a
    cluster's vector is the :func:`tree_sum` of its contracts' columns in sorted id order.
    Clusters are processed one at a time (non-parlay clusters first), so memory stays at a
    few vectors whatever the book's size.
    """
    const, slope = linear_loss(book)
    parlay_held = {k for k, b in slope.items() if b != 0.0 and book.contracts[k].kind == "parlay"}
    legs = {leg for k in parlay_held for leg in book.contracts[k].legs}
    outcomes = _Outcomes(book, params, legs, draws)
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for k in sorted(const):
        by_cluster[book.contracts[k].cluster].append(k)

    def leaf(k: str) -> FloatArray:
        if slope[k] == 0.0:
            return np.full(params.paths, const[k])
        return loss_column(outcomes.yes(k), const[k], slope[k])

    losses: dict[str, FloatArray] = {}
    order = sorted(by_cluster, key=lambda c: (book.hierarchy.clusters[c].model == "parlay", c))
    for cluster in order:
        losses[cluster] = tree_sum(by_cluster[cluster], leaf)
        outcomes._latents.clear()
    return dict(sorted(losses.items()))
