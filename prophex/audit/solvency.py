"""Solvency audit: can the insurance fund keep "winners are paid in full regardless of skew"?

Per open prediction market it gives the exact resolution shortfall if A wins and if B wins
(the vault's gap the fund must fill, to the micro-dollar, computed the way the engine settles),
the fund's coverage per outcome and in the worst case, the probability that the fund is
depleted when every market resolves at random with its current price as probability, and the
largest wallet and OI caps at which the fund still covers the 99% worst case.

Outcomes are drawn by a Gaussian copula (:func:`draw_outcomes`): one latent normal per
independent market and per threshold underlying (nested strikes share it; underlyings correlate
as the portfolio-margin hierarchy says), exclusive groups of two or more open markets draw one
winner, and a one-member exclusive group is an ordinary yes/no. Probabilities are the market
prices, the user's own, or the "crowd is right" stress; the user can set correlations between
markets or clusters. docs/audit.md states the model exactly.

Depletion is measured conservatively: the fund must cover the sum of the shortfalls, and
surpluses of markets that resolve well are not counted, because the order of resolutions is
not known in advance.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from prophex.engine import amm
from prophex.engine.domain import OTHER
from prophex.engine.events import INSURANCE_FUND, vault_account
from prophex.engine.pm_settlement import plan_with_portfolio
from prophex.engine.state import Market, State
from prophex.errors import ProphexError
from prophex.ledger.store import Store, database_url, open_read_only
from prophex.money import MAX_AMOUNT, format_price, format_usd

QUANTILE = 0.99
MANY_WALLETS = (10, 100, 1_000)
"""Wallet counts for the per-wallet cap when that many wallets each take the cap at once."""
BoolMatrix = NDArray[np.bool_]


class SolvencyError(ProphexError):
    code = "SOLVENCY_AUDIT_FAILED"
    status = 422
    title = "Solvency audit could not run"


@dataclass(frozen=True, slots=True)
class Book:
    """What settlement of one market depends on: money owed to each side and the vault."""

    market: str
    vault: int
    owed: dict[str, int]
    """Profit owed to winners if that side wins."""
    losers_pay: dict[str, int]
    """What the *other* side's positions pay into the vault if this side wins."""


# --------------------------------------------------------------------------- exact shortfall


def market_book(state: State, market_id: str) -> Book:
    """Aggregate a market's open positions with the engine's own settlement plan (portfolio
    losers pay from their lock, then wallet, as at resolution). Each market is priced as if it
    resolved alone: an account losing in several markets on one path is counted with its whole
    lock and wallet in each (exact per market; optimistic jointly for such accounts)."""
    positions = [state.positions[i] for i in sorted(state.open_in_market.get(market_id, ()))]
    owed = {"A": 0, "B": 0}
    pays = {"A": 0, "B": 0}
    for outcome in ("A", "B"):
        totals = plan_with_portfolio(state, positions, market_id, outcome, 0, 0)[0].totals
        owed[outcome] = totals.owed_to_winners
        pays[outcome] = totals.vault_after_losers
    return Book(market_id, state.balance(vault_account(market_id)), owed, pays)


def predict_resolution(state: State, market_id: str, outcome: str) -> dict[str, int]:
    """Exactly what resolving ``market_id`` as ``outcome`` now would do to vault and fund."""
    if outcome not in ("A", "B", "UNKNOWN"):
        raise SolvencyError(f"outcome must be A, B or UNKNOWN, got {outcome!r}", field="outcome")
    positions = [state.positions[i] for i in sorted(state.open_in_market.get(market_id, ()))]
    vault, fund = state.balance(vault_account(market_id)), state.balance(INSURANCE_FUND)
    totals = plan_with_portfolio(state, positions, market_id, outcome, vault, fund)[0].totals
    return {
        "owed_to_winners": totals.owed_to_winners,
        "vault_before_draw": totals.vault_after_losers,
        "shortfall": totals.shortfall,
        "fund_draw": totals.fund_draw,
        "uncovered": totals.uncovered,
    }


def shortfall(book: Book, outcome: str, extra_profit: int = 0, extra_pay: int = 0) -> int:
    """Vault shortfall if ``outcome`` wins, with optional added winner profit / loser payment."""
    owed = book.owed[outcome] + extra_profit
    return max(0, owed - book.vault - book.losers_pay[outcome] - extra_pay)


# --------------------------------------------------------------------------- outcome model

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


# --------------------------------------------------------------------------- statistics


def path_totals(
    wins: BoolMatrix | NDArray[np.int64], if_a: list[int], if_b: list[int]
) -> NDArray[np.int64]:
    """Total shortfall per path (exact integers: no float touches the amounts).

    ``wins`` may be given already as int64 (0/1) so repeated calls do not convert it again.
    """
    a = np.asarray(if_a, dtype=np.int64)
    b = np.asarray(if_b, dtype=np.int64)
    if wins.shape[1] == 0:
        return np.zeros(wins.shape[0], dtype=np.int64)
    ones = wins if wins.dtype == np.int64 else wins.astype(np.int64)
    totals: NDArray[np.int64] = ones @ (a - b) + int(b.sum())
    return totals


def quantile(totals: NDArray[np.int64], q: float = QUANTILE) -> int:
    """The empirical ``q`` quantile (inverted CDF: an actual path's value, an integer)."""
    if totals.size == 0:
        return 0
    ordered = np.sort(totals)
    index = min(len(ordered) - 1, max(0, int(np.ceil(q * len(ordered))) - 1))
    return int(ordered[index])


def _whale(state: State, market: Market, book: Book, extra: int) -> tuple[int, int]:
    """Shortfalls (if A, if B) after ``extra`` notional more lands on the worse side at max
    leverage. The side chosen is the one whose win would then cost the fund most."""
    if extra <= 0:
        return shortfall(book, "A"), shortfall(book, "B")
    best: tuple[int, int] | None = None
    for side in ("A", "B"):
        cost = amm.open_cost(market.oi(side), market.oi(OTHER[side]), extra)
        margin = extra * 100 // state.rules.max_leverage_centi
        pays = min(margin, cost)
        win = shortfall(book, side, extra_profit=extra - cost)
        lose = shortfall(book, OTHER[side], extra_pay=pays)
        pair = (win, lose) if side == "A" else (lose, win)
        if best is None or max(pair) > max(best):
            best = pair
    if best is None:  # survives python -O (issue 8)
        raise ValueError("no candidate side was evaluated")
    return best


def _covered(
    state: State,
    markets: list[Market],
    books: list[Book],
    wins: NDArray[np.int64],
    extras: list[int],
) -> bool:
    pairs = [_whale(state, m, b, e) for m, b, e in zip(markets, books, extras, strict=True)]
    totals = path_totals(wins, [p[0] for p in pairs], [p[1] for p in pairs])
    return quantile(totals) <= state.balance(INSURANCE_FUND)


def largest_cap(check: Any, hi: int = MAX_AMOUNT) -> int | None:
    """Largest integer x in [0, hi] with check(x) true (None if even 0 fails; hi if all pass).

    Bisection assumes coverage only gets worse as the cap grows, which holds for the model
    (the added winner profit ``x - cost(x)`` grows with x).
    """
    if not check(0):
        return None
    if check(hi):
        return hi
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if check(mid):
            lo = mid
        else:
            hi = mid
    return lo


# --------------------------------------------------------------------------- the report


def _ratio(fund: int, need: int) -> str | None:
    return None if need == 0 else format_price(fund, need, 4)


def _market_row(state: State, market: Market, book: Book) -> dict[str, Any]:
    fund = state.balance(INSURANCE_FUND)
    a = predict_resolution(state, market.id, "A")
    b = predict_resolution(state, market.id, "B")
    worst = max(a["shortfall"], b["shortfall"])
    return {
        "market": market.id,
        "status": market.status,
        "price_a": format_price(market.oi("A"), market.oi("A") + market.oi("B")),
        "real_oi_a": market.real_oi_a,
        "real_oi_b": market.real_oi_b,
        "vault": book.vault,
        "if_a": a,
        "if_b": b,
        "worst_case": worst,
        "coverage_if_a": _ratio(fund, a["shortfall"]),
        "coverage_if_b": _ratio(fund, b["shortfall"]),
        "coverage_worst": _ratio(fund, worst),
    }


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (default: 95%)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def solvency_of_state(
    state: State, *, paths: int, seed: int, model: OutcomeModel | None = None
) -> dict[str, Any]:
    """The solvency report of an in-memory state (what :func:`solvency_report` computes)."""
    if paths < 1:
        raise SolvencyError("paths must be at least 1", field="paths")
    model = model or OutcomeModel()
    fund = state.balance(INSURANCE_FUND)
    markets = [
        state.markets[k]
        for k in sorted(state.markets)
        if state.markets[k].status in ("open", "halted") and state.markets[k].kind == "prediction"
    ]
    books = [market_book(state, m.id) for m in markets]
    rows = [_market_row(state, m, b) for m, b in zip(markets, books, strict=True)]
    wins, described = outcome_paths(markets, max(paths, 1_000), seed, model)
    if_a = [r["if_a"]["shortfall"] for r in rows]
    if_b = [r["if_b"]["shortfall"] for r in rows]
    ones = wins.astype(np.int64)
    totals = path_totals(ones, if_a, if_b)
    worst_total = sum(r["worst_case"] for r in rows)
    n = int(wins.shape[0])
    depleted = int(np.count_nonzero(totals > fund))
    probability = depleted / n
    low, high = wilson_interval(depleted, n)

    def wallet_ok(cap: int) -> bool:
        return _covered(state, markets, books, ones, [cap] * len(markets))

    def wallets_ok(wallets: int) -> Any:
        def ok(cap: int) -> bool:
            return _covered(state, markets, books, ones, [cap * wallets] * len(markets))

        return ok

    def oi_ok(cap: int) -> bool:
        extras = [max(0, cap - m.real_oi_a - m.real_oi_b) for m in markets]
        return _covered(state, markets, books, ones, extras)

    return {
        "units": "amounts are integer micro-USD; ratios and prices are decimal strings",
        "insurance_fund": fund,
        "markets": rows,
        "worst_case_total": worst_total,
        "coverage_worst_total": _ratio(fund, worst_total),
        "monte_carlo": {
            "paths": n,
            "seed": seed,
            "correlation": _describe_correlation(described),
            "outcome_model": described,
            "depletion_probability": probability,
            "standard_error": math.sqrt(probability * (1 - probability) / n),
            "wilson_95": [low, high],
            "mean_shortfall": int(totals.sum() // max(totals.size, 1)),
            "shortfall_p99": quantile(totals),
            "max_shortfall": int(totals.max()) if totals.size else 0,
        },
        "caps_covering_p99": {
            "model": "every open market gets one more position of the cap at max leverage on "
            "the side whose win costs the fund most; fees and liquidations ignored; with N "
            "wallets, N positions of the cap on that side (the curve cost of N equal opens on "
            "one side is that of one open of N times the size)",
            "wallet_cap": largest_cap(wallet_ok) if markets else None,
            "wallet_cap_if_many_wallets": {
                str(n): _many(largest_cap(wallets_ok(n), MAX_AMOUNT // n), n) if markets else None
                for n in MANY_WALLETS
            },
            "market_oi_cap": largest_cap(oi_ok) if markets else None,
        },
    }


def _many(cap: int | None, wallets: int) -> int | None:
    """A cap found against ``MAX_AMOUNT // wallets`` that reached it is unbounded."""
    return MAX_AMOUNT if cap is not None and cap >= MAX_AMOUNT // wallets else cap


def _describe_correlation(described: dict[str, Any]) -> str:
    latents = described.get("latents", [])
    groups = described.get("exclusive_groups", {})
    matrix = described.get("correlation_matrix", [])
    off = [v for i, row in enumerate(matrix) for j, v in enumerate(row) if i != j and v != 0]
    parts = [f"{len(latents)} gaussian latent(s)"]
    parts.append("correlated (hierarchy and user settings)" if off else "independent")
    if groups:
        parts.append(f"{len(groups)} exclusive group(s) drawing one winner")
    return "gaussian copula: " + ", ".join(parts)


def load_state_read_only(url: str | None) -> State:
    """Load the state of a database without taking the sequencer's write lock."""
    resolved = database_url(url)
    engine = open_read_only(resolved)  # DATABASE_MISSING if absent; never creates a file
    try:
        return Store(engine).load_state()
    except ProphexError:
        raise
    except Exception as exc:
        raise SolvencyError(f"cannot read {resolved}: {exc}".splitlines()[0], field="db") from None
    finally:
        engine.dispose()


def solvency_report(
    url: str | None, *, paths: int, seed: int, model: OutcomeModel | None = None
) -> dict[str, Any]:
    """Solvency of the exchange stored at ``url`` (``None``: the default database)."""
    return solvency_of_state(load_state_read_only(url), paths=paths, seed=seed, model=model)


# --------------------------------------------------------------------------- rendering


def render(report: dict[str, Any]) -> Any:
    """A rich renderable of the report (tables)."""
    from rich.console import Group
    from rich.table import Table

    fund = report["insurance_fund"]
    table = Table(title=f"Solvency: insurance fund {format_usd(fund)} USD")
    for column in ("market", "price A", "shortfall if A", "shortfall if B", "cover A", "cover B"):
        table.add_column(column, justify="left" if column == "market" else "right")
    for row in report["markets"]:
        table.add_row(
            row["market"],
            row["price_a"],
            format_usd(row["if_a"]["shortfall"]),
            format_usd(row["if_b"]["shortfall"]),
            row["coverage_if_a"] or "-",
            row["coverage_if_b"] or "-",
        )
    mc = report["monte_carlo"]
    caps = report["caps_covering_p99"]
    summary = Table(show_header=False, title="Fund depletion and caps")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for name, value in (
        ("worst case, every market its worse way (USD)", format_usd(report["worst_case_total"])),
        ("coverage of that worst case", report["coverage_worst_total"] or "-"),
        (
            "P(fund depleted) [95% Wilson]",
            f"{mc['depletion_probability']:.4%} [{mc['wilson_95'][0]:.2%}, "
            f"{mc['wilson_95'][1]:.2%}]",
        ),
        ("Monte-Carlo standard error", f"{mc['standard_error']:.4%}"),
        ("outcome probabilities", mc["outcome_model"]["probabilities"]),
        ("99% shortfall (USD)", format_usd(mc["shortfall_p99"])),
        ("mean shortfall (USD)", format_usd(mc["mean_shortfall"])),
        ("correlation", mc["correlation"]),
        ("paths / seed", f"{mc['paths']} / {mc['seed']}"),
        ("largest wallet cap covering p99 (USD)", _cap(caps["wallet_cap"])),
        ("largest market OI cap covering p99 (USD)", _cap(caps["market_oi_cap"])),
        *(
            (f"wallet cap if {n} wallets each take it (USD)", _cap(v))
            for n, v in caps["wallet_cap_if_many_wallets"].items()
        ),
    ):
        summary.add_row(name, value)
    dynamic = report.get("paths_to_resolution")
    if dynamic is not None:
        low, high = dynamic["wilson_95"]
        table_d = Table(show_header=False, title="Paths to resolution (through the engine)")
        shape = f"{dynamic['settings']['steps']} / {dynamic['settings']['horizon']}"
        bounds = f"[{low:.2%}, {high:.2%}]"
        table_d.add_column("figure")
        table_d.add_column("value", justify="right")
        for name, value in (
            ("paths / steps / horizon (s)", f"{len(dynamic['paths'])} / {shape}"),
            ("P(fund depleted) [95% Wilson]", f"{dynamic['depletion_probability']:.2%} {bounds}"),
            ("mean fund drawn (USD)", format_usd(dynamic["mean_fund_drawn"])),
            ("of which on profitable closes (USD)", format_usd(dynamic["mean_drawn_on_closes"])),
            ("99% fund drawn (USD)", format_usd(dynamic["p99_fund_drawn"])),
            ("mean liquidations per path", f"{dynamic['mean_liquidations']:.1f}"),
        ):
            table_d.add_row(name, value)
        summary = Group(summary, table_d)  # type: ignore[assignment]
    notes = mc["outcome_model"].get("notes", [])
    if notes:
        from rich.text import Text

        return Group(table, summary, *(Text(f"note: {n}") for n in notes))
    return Group(table, summary)


def _cap(value: int | None) -> str:
    if value is None:
        return "none (already uncovered)"
    return "unbounded" if value >= MAX_AMOUNT else format_usd(value)


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


def solvency_cli(
    db: str | None,
    json_out: bool,
    paths: int,
    seed: int,
    model: OutcomeModel | None = None,
    dynamic: Any = None,
) -> int:
    """For ``prophex audit --solvency``: print the report; exit 1 if the fund can be depleted
    at the 99% level (with ``dynamic`` PathSettings, also when more than 1% of the paths to
    resolution deplete it), 2 if the audit could not run."""
    from rich.console import Console

    try:
        state = load_state_read_only(db)
        report = solvency_of_state(state, paths=paths, seed=seed, model=model)
        if dynamic is not None:
            from prophex.audit.paths import dynamic_solvency

            found = dynamic_solvency(state, seed=seed, settings=dynamic, model=model)
            report["paths_to_resolution"] = found.to_dict()
    except ProphexError as exc:
        Console(stderr=True).print(
            f"[red]error:[/] {exc.code}: {exc.message}", highlight=False, soft_wrap=True
        )
        return 2
    if json_out:
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
    else:
        Console().print(render(report))
    uncovered = report["monte_carlo"]["shortfall_p99"] > report["insurance_fund"]
    dynamic_report = report.get("paths_to_resolution")
    if dynamic_report is not None and dynamic_report["depletion_probability"] > 1 - QUANTILE:
        uncovered = True
    return 1 if uncovered else 0
