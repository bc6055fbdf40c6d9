"""The outcome model of the solvency audit: how every open market resolves on each path.

Outcomes are drawn by a Gaussian copula (:func:`draw_outcomes`): one latent normal per
independent market and per threshold underlying (nested strikes share it; underlyings correlate
as the portfolio-margin hierarchy says), exclusive groups of two or more open markets draw one
winner, and a one-member exclusive group is an ordinary yes/no. docs/audit.md states the model
exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from prophex.audit.shortfall import SolvencyError
from prophex.engine.state import Market

BoolMatrix = NDArray[np.bool_]


PROBABILITY_SOURCES = ("prices", "user", "crowd")


@dataclass(frozen=True, slots=True)
class Correlation:
    """A user-set correlation: every pair of the named markets (after expanding clusters)."""

    names: tuple[str, ...]
    """Market ids, or ``cluster:NAME`` for every open market tagged with that cluster."""
    rho: float


@dataclass(frozen=True, slots=True)
class OutcomeModel:
    """How the Monte-Carlo draws outcomes (see docs/audit.md, "The outcome model").

    ``probabilities``: ``prices`` (P(A) = the market's price of A), ``user`` (the given
    ``user_probabilities`` of A per market id; markets not given use their price), or
    ``crowd`` (the stress "the crowd is right": the side the price favours wins surely; at
    exactly 0.5 it is a coin flip; in an exclusive group the member with the highest price
    wins, ties to the lowest market id). ``correlations`` apply in order, later ones win.
    """

    probabilities: str = "prices"
    user_probabilities: tuple[tuple[str, float], ...] = ()
    correlations: tuple[Correlation, ...] = ()

    def __post_init__(self) -> None:
        if self.probabilities not in PROBABILITY_SOURCES:
            raise SolvencyError(
                f"probabilities must be one of {', '.join(PROBABILITY_SOURCES)}, "
                f"got {self.probabilities!r}",
                field="probabilities",
            )
        for market, p in self.user_probabilities:
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise SolvencyError(
                    f"probability of A for {market} must be in [0, 1], got {p}",
                    field="probability",
                )
        if self.user_probabilities and self.probabilities != "user":
            raise SolvencyError(
                "user probabilities need probabilities='user'", field="probabilities"
            )
        for c in self.correlations:
            if not (math.isfinite(c.rho) and -1.0 <= c.rho <= 1.0):
                raise SolvencyError(
                    f"correlation must be in [-1, 1], got {c.rho}", field="correlation"
                )
            if len(c.names) < 1:
                raise SolvencyError("a correlation names markets or clusters", field="correlation")


def price_of_a(market: Market) -> float:
    """The market's spot price of A (what the crowd's trading says P(A) is)."""
    return market.oi("A") / (market.oi("A") + market.oi("B"))


@dataclass(frozen=True, slots=True)
class _Plan:
    """Which latent variable or exclusive group decides each market."""

    latents: list[str]  # latent names: "underlying:BTC" or "market:ID"
    rule: dict[str, tuple[str, str, float]]  # market -> (latent, "below"|"above", p)
    groups: dict[str, list[tuple[str, float]]]  # group -> [(market, weight)] (>= 2 members)
    notes: list[str]


def _probabilities(markets: list[Market], model: OutcomeModel) -> dict[str, float]:
    given = dict(model.user_probabilities)
    ids = {m.id for m in markets}
    unknown = sorted(set(given) - ids)
    if unknown:
        raise SolvencyError(
            f"probability given for {unknown[0]}, which is not an open prediction market",
            field="probability",
        )
    out: dict[str, float] = {}
    for m in markets:
        price = price_of_a(m)
        if model.probabilities == "user" and m.id in given:
            out[m.id] = given[m.id]
        elif model.probabilities == "crowd":
            out[m.id] = 1.0 if price > 0.5 else 0.0 if price < 0.5 else 0.5
        else:
            out[m.id] = price
    return out


def _plan(markets: list[Market], probs: dict[str, float], hierarchy: Any) -> _Plan:
    notes: list[str] = []
    members: dict[str, list[Market]] = {}
    for m in markets:
        if m.tags.get("contract_kind") == "exclusive" and m.tags.get("group"):
            members.setdefault(m.tags["group"], []).append(m)
    groups: dict[str, list[tuple[str, float]]] = {}
    grouped: set[str] = set()
    for group, ms in sorted(members.items()):
        if len(ms) == 1:
            notes.append(
                f"exclusive group {group!r} has one open market ({ms[0].id}): it is drawn as an "
                "ordinary yes/no at its own probability"
            )
            continue
        weights = [(m.id, probs[m.id]) for m in sorted(ms, key=lambda x: x.id)]
        if sum(w for _, w in weights) <= 0:
            raise SolvencyError(
                f"exclusive group {group!r}: every member has probability 0", field="probability"
            )
        groups[group] = weights
        grouped |= {m.id for m in ms}
    latents: list[str] = []
    rule: dict[str, tuple[str, str, float]] = {}
    for m in markets:
        if m.id in grouped:
            continue
        tags = m.tags
        underlying = tags.get("underlying", "")
        direction = tags.get("direction", "")
        if (
            tags.get("contract_kind") == "threshold"
            and underlying in hierarchy.underlying_cluster
            and direction in ("above", "below")
        ):
            latent = f"underlying:{underlying}"
        else:
            latent, direction = f"market:{m.id}", "below"
        if latent not in latents:
            latents.append(latent)
        rule[m.id] = (latent, direction, probs[m.id])
    return _Plan(latents, rule, groups, notes)


def _expand(name: str, markets: list[Market]) -> list[str]:
    if name.startswith("cluster:"):
        cluster = name.removeprefix("cluster:")
        found = [m.id for m in markets if m.tags.get("cluster") == cluster]
        if not found:
            raise SolvencyError(f"no open market in cluster {cluster!r}", field="correlation")
        return found
    if name not in {m.id for m in markets}:
        raise SolvencyError(
            f"correlation names {name!r}, which is not an open prediction market",
            field="correlation",
        )
    return [name]


def correlation_matrix(
    markets: list[Market], plan: _Plan, model: OutcomeModel, hierarchy: Any
) -> NDArray[np.float64]:
    """Correlations of the latent normals: hierarchy defaults, then the user's settings."""
    k = len(plan.latents)
    index = {name: i for i, name in enumerate(plan.latents)}
    corr = np.eye(k)
    underlyings = [n.removeprefix("underlying:") for n in plan.latents]
    for i, a in enumerate(plan.latents):
        for j, b in enumerate(plan.latents):
            if i < j and a.startswith("underlying:") and b.startswith("underlying:"):
                same = hierarchy.asset_class(underlyings[i]) == hierarchy.asset_class(
                    underlyings[j]
                )
                corr[i, j] = corr[j, i] = hierarchy.rho_within if same else hierarchy.rho_cross
    for c in model.correlations:
        ids = sorted({x for name in c.names for x in _expand(name, markets)})
        for market in ids:
            if market not in plan.rule:
                raise SolvencyError(
                    f"{market} is in an exclusive group; groups draw one winner and take no "
                    "correlation",
                    field="correlation",
                )
        latent_ids = sorted({index[plan.rule[x][0]] for x in ids})
        for i in latent_ids:
            for j in latent_ids:
                if i != j:
                    corr[i, j] = c.rho
    return corr


def draw_outcomes(
    markets: list[Market], paths: int, seed: int, model: OutcomeModel | None = None
) -> tuple[BoolMatrix, dict[str, Any]]:
    """``A wins`` per (path, market), and a description of how it was drawn.

    Gaussian copula: one standard normal latent per independent market and per threshold
    underlying, correlated by the hierarchy (thresholds) and the user's settings; a market
    with probability p of A resolves A when its latent is below Phi^-1(p) (``above`` thresholds:
    above Phi^-1(1 - p)). Exclusive groups of two or more markets draw one winner per path
    with probability proportional to the members' probabilities. One generator seeded with
    ``seed`` draws the latents (paths x latents, standard normal), then one uniform per path
    per group in group-name order.
    """
    from scipy.special import ndtri

    from prophex.margin import load_hierarchy

    model = model or OutcomeModel()
    hierarchy = load_hierarchy()
    probs = _probabilities(markets, model)
    plan = _plan(markets, probs, hierarchy)
    corr = correlation_matrix(markets, plan, model, hierarchy)
    try:
        chol = np.linalg.cholesky(corr) if len(plan.latents) else np.zeros((0, 0))
    except np.linalg.LinAlgError:
        raise SolvencyError(
            "the correlations set are not a valid correlation matrix (not positive definite)",
            field="correlation",
        ) from None
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((paths, len(plan.latents))) @ chol.T
    prices = {m.id: price_of_a(m) for m in markets}
    wins = np.zeros((paths, len(markets)), dtype=np.bool_)
    column = {m.id: j for j, m in enumerate(markets)}
    index = {name: i for i, name in enumerate(plan.latents)}
    for market, (latent, direction, p) in plan.rule.items():
        x = z[:, index[latent]]
        j = column[market]
        wins[:, j] = x > ndtri(1.0 - p) if direction == "above" else x < ndtri(p)
    for group in sorted(plan.groups):
        weights = plan.groups[group]
        u = rng.random(paths)
        if model.probabilities == "crowd":
            best = min(weights, key=lambda w: (-prices[w[0]], w[0]))[0]
            for market, _ in weights:
                wins[:, column[market]] = market == best
            continue
        total = sum(w for _, w in weights)
        edges = np.cumsum([w / total for _, w in weights])[:-1]
        winner = np.searchsorted(edges, u, side="right")
        for i, (market, _) in enumerate(weights):
            wins[:, column[market]] = winner == i
    described = {
        "probabilities": model.probabilities,
        "p_a": {m: round(p, 6) for m, p in sorted(probs.items())},
        "exclusive_groups": {g: [m for m, _ in w] for g, w in sorted(plan.groups.items())},
        "latents": plan.latents,
        "correlation_matrix": [[round(float(v), 6) for v in row] for row in corr],
        "notes": plan.notes,
    }
    return wins, described


def outcome_paths(
    markets: list[Market], paths: int, seed: int, model: OutcomeModel | None = None
) -> tuple[BoolMatrix, dict[str, Any]]:
    """Joint outcomes of the open prediction markets under ``model``."""
    if not markets:
        empty: dict[str, Any] = {"probabilities": (model or OutcomeModel()).probabilities}
        return np.zeros((paths, 0), dtype=np.bool_), {**empty, "notes": []}
    return draw_outcomes(markets, paths, seed, model)


def parse_model(
    probabilities: str = "prices",
    probability: list[str] | None = None,
    correlate: list[str] | None = None,
) -> OutcomeModel:
    """The outcome model from the command line: ``--probability MARKET=P`` (repeat) and
    ``--correlate NAME[,NAME...]=RHO`` (repeat; a NAME is a market id or ``cluster:NAME``)."""
    given: list[tuple[str, float]] = []
    for pair in probability or []:
        market, sep, value = pair.partition("=")
        try:
            given.append((market.strip(), float(value)))
        except ValueError:
            sep = ""
        if not sep or not market.strip():
            raise SolvencyError(
                f"--probability expects MARKET=P, got {pair!r}", field="probability"
            )
    links: list[Correlation] = []
    for pair in correlate or []:
        names, sep, value = pair.rpartition("=")
        try:
            rho = float(value)
        except ValueError:
            sep = ""
        listed = tuple(n.strip() for n in names.split(",") if n.strip())
        if not sep or not listed:
            raise SolvencyError(
                f"--correlate expects NAME[,NAME...]=RHO, got {pair!r}", field="correlation"
            )
        links.append(Correlation(listed, rho))
    if given and probabilities == "prices":
        probabilities = "user"
    return OutcomeModel(probabilities, tuple(given), tuple(links))
