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
from dataclasses import dataclass

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


class _Outcomes:
    """Evaluates YES indicators lazily and keeps only those parlays still need."""

    def __init__(self, book: Book, params: ScenarioParams, keep: set[str]) -> None:
        self.book, self.params, self.keep = book, params, keep
        self.kept: dict[str, BoolArray] = {}
        self._factors: dict[str, NDArray[np.float32]] = {}
        self._winners: dict[str, tuple[list[str], NDArray[np.intp]]] = {}

    def _normal(self, key: str) -> NDArray[np.float32]:
        return stream(self.params.seed, key).standard_normal(self.params.paths, dtype=np.float32)

    def _factor(self, key: str) -> NDArray[np.float32]:
        if key not in self._factors:
            self._factors[key] = self._normal(key)
        return self._factors[key]

    def latent(self, underlying: str) -> NDArray[np.float32]:
        """Z of one underlying; callers evaluate all its contracts before moving on."""
        p = self.params
        z = self._normal(f"asset:{underlying}")
        z *= np.float32(math.sqrt(1.0 - p.rho_within))
        if p.rho_cross > 0:
            z += np.float32(math.sqrt(p.rho_cross)) * self._factor("factor:risk-on")
        if p.rho_within > p.rho_cross:
            asset_class = self.book.hierarchy.asset_class(underlying)
            z += np.float32(math.sqrt(p.rho_within - p.rho_cross)) * self._factor(
                f"class:{asset_class}"
            )
        return z

    def threshold(self, c: Contract, z: NDArray[np.float32]) -> BoolArray:
        eta = self.params.eta if c.eta is None else c.eta
        if eta > 0:
            noise = self._normal(f"contract:{c.id}")
            z = np.float32(math.sqrt(1.0 - eta)) * z + np.float32(math.sqrt(eta)) * noise
        if c.direction == "below":
            return z < np.float32(ndtri(c.price))
        return z > np.float32(ndtri(1.0 - c.price))

    def exclusive(self, c: Contract) -> BoolArray:
        group = c.group or c.id
        if group not in self._winners:
            members = sorted(
                k
                for k, x in self.book.contracts.items()
                if x.kind == "exclusive" and x.group == group
            )
            probs = np.array([self.book.contracts[m].price for m in members])
            edges = np.cumsum(probs / probs.sum())[:-1]
            u = stream(self.params.seed, f"group:{group}").random(self.params.paths)
            self._winners[group] = (members, np.searchsorted(edges, u, side="right"))
        members, winner = self._winners[group]
        yes: BoolArray = winner == members.index(c.id)
        return yes

    def independent(self, c: Contract) -> BoolArray:
        u = stream(self.params.seed, f"event:{c.id}").random(self.params.paths, dtype=np.float32)
        return u < np.float32(c.price)

    def parlay(self, c: Contract) -> BoolArray:
        out = self.kept[c.legs[0]].copy()
        for leg in c.legs[1:]:
            out &= self.kept[leg]
        return out

    def record(self, contract_id: str, x: BoolArray) -> BoolArray:
        if contract_id in self.keep:
            self.kept[contract_id] = x
        return x


def simulate_cluster_losses(book: Book, params: ScenarioParams) -> dict[str, FloatArray]:
    """Settlement loss per cluster and path (float64, positive = loss), exact netting inside."""
    const, slope = linear_loss(book)
    held = {k for k, b in slope.items() if b != 0.0}
    parlays = sorted(k for k in held if book.contracts[k].kind == "parlay")
    legs = {leg for k in parlays for leg in book.contracts[k].legs}
    losses: dict[str, FloatArray] = {}
    for k, a in sorted(const.items()):
        cluster = book.contracts[k].cluster
        losses.setdefault(cluster, np.zeros(params.paths))
        losses[cluster] += a
    outcomes = _Outcomes(book, params, legs)

    def book_loss(k: str, x: BoolArray) -> None:
        outcomes.record(k, x)
        if k in held:
            losses[book.contracts[k].cluster] += x * slope[k]

    by_underlying: dict[str, list[Contract]] = defaultdict(list)
    for k in sorted(held | legs):
        c = book.contracts[k]
        if c.kind == "threshold" and c.underlying is not None:
            by_underlying[c.underlying].append(c)
        elif c.kind == "exclusive":
            book_loss(k, outcomes.exclusive(c))
        elif c.kind == "independent":
            book_loss(k, outcomes.independent(c))
    for underlying in sorted(by_underlying):
        z = outcomes.latent(underlying)
        for c in by_underlying[underlying]:
            book_loss(c.id, outcomes.threshold(c, z))
    for k in parlays:
        book_loss(k, outcomes.parlay(book.contracts[k]))
    return losses
