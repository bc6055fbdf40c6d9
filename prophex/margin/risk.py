"""Expected shortfall, aggregation, floors, add-ons: from cluster losses to a requirement.

The waterfall is

    gross (FC) -> intra-cluster netting (sum of cluster ES) -> diversification (base)
    -> core = max(base, top-2 floor, minimum margin) -> + add-ons -> PM = min(., FC)

Two aggregation rules for the base are always computed side by side: the square-root rule
``sqrt(ES^T R ES)`` over the LCA correlation matrix (what the published dashboard is
calibrated to) and the joint Monte-Carlo ES of the whole book. The square-root rule is a
Gaussian approximation that understates the tail of binary books, so the exchange uses
the joint rule; ``rule="sqrt"`` exists to reproduce the published figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from prophex.margin.contracts import AddOnParams, Book
from prophex.margin.errors import INVALID_PARAMETER, MarginError
from prophex.margin.scenarios import (
    FloatArray,
    ScenarioParams,
    linear_loss,
)

Rule = Literal["joint", "sqrt"]
RULES: tuple[Rule, ...] = ("joint", "sqrt")
BINDING_LABELS = {
    "base": "correlations (base)",
    "top2_floor": "top-2 concentration floor",
    "min_margin": "minimum margin",
    "none": "none (empty book)",
}
HISTOGRAM_BINS = 60
TAIL_SAMPLE = 50_000  # subsample size used to locate the tail before partitioning


def tail_size(paths: int, alpha: float) -> int:
    """ceil((1 - alpha) N), guarded against 0.01 * N landing a hair above an integer."""
    return max(1, math.ceil((1.0 - alpha) * paths - 1e-9))


def expected_shortfall(losses: FloatArray, alpha: float) -> tuple[float, float]:
    """Return (ES, standard error): the mean of the worst ceil((1-alpha)N) losses.

    The standard error is the asymptotic one of the ES estimator,
    ``sqrt(Var((L - VaR)^+) / N) / (1 - alpha)``, with VaR estimated by the smallest tail
    loss. For a binary book whose whole tail sits on one loss level it is exactly 0, which is
    right: the estimate is then that level on every sample large enough to resolve it.
    """
    n = losses.shape[0]
    k = tail_size(n, alpha)
    tail = worst(losses, k)
    excess = tail - tail.min()
    mean = float(excess.sum()) / n
    var = max(float(np.dot(excess, excess)) / n - mean * mean, 0.0)
    return float(tail.mean()), math.sqrt(var / n) / (1.0 - alpha)


def worst(losses: FloatArray, k: int) -> FloatArray:
    """The k largest losses (as a multiset), without partitioning all N paths.

    A strided subsample gives a level t just below the k-th largest loss; only the losses
    above t are then partitioned. Binary books put many paths on one loss level, so when
    fewer than k losses exceed t but at least k reach it, the k-th largest is t itself.
    Falls back to a full partition if the subsample's guess was too high.
    """
    n = losses.shape[0]
    sample = losses[:: max(1, n // TAIL_SAMPLE)]
    j = max(0, min(sample.shape[0] - 1, int(sample.shape[0] * (1.0 - 2.0 * k / n)) - 1))
    level = np.partition(sample, j)[j]
    above = losses[losses > level]
    if above.shape[0] >= k:
        return np.partition(above, above.shape[0] - k)[above.shape[0] - k :]
    if np.count_nonzero(losses >= level) >= k:
        return np.concatenate([above, np.full(k - above.shape[0], level)])
    return np.partition(losses, n - k)[n - k :]


@dataclass(frozen=True, slots=True)
class ClusterRisk:
    """Standalone risk of one cluster."""

    name: str
    gross: float
    es: float
    es_se: float


@dataclass(frozen=True, slots=True)
class MarginParams:
    """Everything besides the book that fixes a requirement."""

    paths: int = 200_000
    seed: int = 0
    rule: Rule = "joint"
    alpha: float = 0.99
    rho_within: float = 0.68
    rho_cross: float = 0.35
    eta: float = 0.0
    addons: AddOnParams = field(default_factory=AddOnParams)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise MarginError(
                INVALID_PARAMETER, "rule", f"must be one of {RULES}, was {self.rule!r}"
            )
        if not 0.5 < self.alpha < 1.0:
            raise MarginError(INVALID_PARAMETER, "alpha", f"must be in (0.5, 1), was {self.alpha}")

    def scenario(self) -> ScenarioParams:
        return ScenarioParams(self.paths, self.seed, self.rho_within, self.rho_cross, self.eta)


def params_for(book: Book, **overrides: Any) -> MarginParams:
    """Margin parameters from the book's settings and hierarchy, then ``overrides``.

    ``None`` overrides are ignored, so CLI options can be passed straight through.
    """
    s = book.settings
    base: dict[str, Any] = {
        "alpha": s.alpha,
        "rho_within": book.hierarchy.rho_within if s.rho_within is None else s.rho_within,
        "rho_cross": book.hierarchy.rho_cross if s.rho_cross is None else s.rho_cross,
        "eta": s.eta,
        "addons": s.addons,
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    return MarginParams(**base)


@dataclass(frozen=True)
class MarginResult:
    """The full waterfall of one requirement, in USD floats plus exchange integers."""

    book: str
    params: MarginParams
    clusters: list[ClusterRisk]
    correlation: list[list[float]]
    full_collateral: float
    sum_es: float
    base_sqrt: float
    base_sqrt_se: float
    base_joint: float
    base_joint_se: float
    floor_top2: float
    floor_top2_se: float
    floor_top2_clusters: list[str]
    min_margin: float
    binding: str
    addons: dict[str, float]
    pm: float
    pm_se: float
    capped_at_fc: bool
    histogram: dict[str, list[float]] = field(default_factory=dict)

    @property
    def base(self) -> float:
        """The base of the selected rule."""
        return self.base_joint if self.params.rule == "joint" else self.base_sqrt

    @property
    def core(self) -> float:
        return max(self.base, self.floor_top2, self.min_margin)

    @property
    def addons_total(self) -> float:
        return sum(self.addons.values())

    @property
    def release(self) -> float:
        """Capital released against full collateralization."""
        return 0.0 if self.full_collateral <= 0 else 1.0 - self.pm / self.full_collateral

    @property
    def pm_micro_usd(self) -> int:
        """The requirement for the exchange, rounded up in the protocol's favour."""
        return math.ceil(self.pm * 1_000_000 - 1e-6)

    def waterfall(self) -> list[tuple[str, float, float]]:
        """(step, change, running total) from gross to portfolio margin."""
        steps = [
            ("gross (full collateralization)", self.full_collateral),
            ("intra-cluster netting", self.sum_es - self.full_collateral),
            ("cross-cluster diversification", self.base - self.sum_es),
            ("floors", self.core - self.base),
            ("add-ons", self.addons_total),
            ("cap at full collateralization", self.pm - self.core - self.addons_total),
        ]
        out, running = [], 0.0
        for name, delta in steps:
            running += delta
            out.append((name, delta, running))
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with every figure the CLI shows."""
        return {
            "book": self.book,
            "params": asdict(self.params) | {"addons": self.params.addons.model_dump()},
            "full_collateral": self.full_collateral,
            "clusters": [asdict(c) for c in self.clusters],
            "correlation": {
                "clusters": [c.name for c in self.clusters],
                "matrix": self.correlation,
            },
            "sum_es": self.sum_es,
            "base": {
                "rule": self.params.rule,
                "value": self.base,
                "sqrt": self.base_sqrt,
                "sqrt_se": self.base_sqrt_se,
                "joint": self.base_joint,
                "joint_se": self.base_joint_se,
            },
            "floor_top2": {
                "value": self.floor_top2,
                "se": self.floor_top2_se,
                "clusters": self.floor_top2_clusters,
            },
            "min_margin": self.min_margin,
            "core": self.core,
            "binding": self.binding,
            "addons": self.addons | {"total": self.addons_total},
            "pm": self.pm,
            "pm_se": self.pm_se,
            "pm_micro_usd": self.pm_micro_usd,
            "full_collateral_micro_usd": math.ceil(self.full_collateral * 1_000_000 - 1e-6),
            "capped_at_fc": self.capped_at_fc,
            "release": self.release,
            "waterfall": [{"step": s, "change": d, "total": t} for s, d, t in self.waterfall()],
            "se_method": "asymptotic ES-estimator SE: sqrt(Var((L-VaR)+)/N)/(1-alpha)",
        }


def correlation_matrix(
    book: Book, names: list[str], losses: dict[str, FloatArray], p: MarginParams
) -> list[list[float]]:
    """LCA correlations; parlay rows are the measured correlation of simulated losses."""
    n = len(names)
    out = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            rho = book.hierarchy.correlation(names[i], names[j], p.rho_within, p.rho_cross)
            if rho is None:
                rho = _pearson(losses[names[i]], losses[names[j]])
            out[i][j] = out[j][i] = rho
    return out


def _pearson(x: FloatArray, y: FloatArray) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(np.dot(xc, xc)) * float(np.dot(yc, yc)))
    return 0.0 if denom == 0.0 else float(np.dot(xc, yc)) / denom


def sqrt_rule(es: list[float], se: list[float], corr: list[list[float]]) -> tuple[float, float]:
    """sqrt(ES^T R ES) and a first-order SE bound (sum of |gradient| x cluster SE)."""
    v, r = np.array(es), np.array(corr)
    value = math.sqrt(max(float(v @ r @ v), 0.0))
    if value == 0.0:
        return 0.0, 0.0
    grad = (r @ v) / value
    return value, float(np.abs(grad) @ np.array(se))


def addon_amounts(book: Book, addons: AddOnParams, full_collateral: float) -> dict[str, float]:
    """Basis (threshold divergence), parlay and liquidity add-ons in USD."""
    const, slope = linear_loss(book)
    sides: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    parlay = 0.0
    for k, b in slope.items():
        c = book.contracts[k]
        max_loss = max(const[k], const[k] + b, 0.0)
        if c.kind == "parlay":
            parlay += max_loss
        elif c.kind == "threshold" and b != 0.0:
            up = (b < 0.0) == (c.direction == "above")
            sides[(c.cluster, f"u:{c.underlying}")][0 if up else 1] += max_loss
        elif c.kind == "exclusive" and b != 0.0:
            sides[(c.cluster, f"g:{c.group}")][0 if b < 0.0 else 1] += max_loss
    basis = sum(min(pair) for pair in sides.values())
    return {
        "basis": addons.beta * basis,
        "parlay": addons.gamma * parlay,
        "liquidity": addons.lam * full_collateral,
    }


def gross_by_cluster(book: Book) -> dict[str, float]:
    gross: dict[str, list[float]] = defaultdict(list)
    for pos in book.positions:
        gross[book.contracts[pos.contract].cluster].append(pos.max_loss)
    return {c: math.fsum(v) for c, v in gross.items()}


def risk_asset_histogram(book: Book, losses: dict[str, FloatArray]) -> dict[str, list[float]]:
    """Loss distribution of the risk-asset (threshold) clusters, for the plot."""
    names = [c for c in losses if book.hierarchy.clusters[c].model == "threshold"]
    if not names:
        return {}
    counts, edges = np.histogram(sum_losses([losses[c] for c in names]), bins=HISTOGRAM_BINS)
    return {"edges": edges.tolist(), "counts": counts.astype(float).tolist()}


def sum_losses(vectors: list[FloatArray]) -> FloatArray:
    """Sum path vectors in place into one new vector (no (k, N) stacking)."""
    total = vectors[0].copy()
    for v in vectors[1:]:
        total += v
    return total
