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
from typing import Any

import numpy as np

from prophex.audit.coverage import (
    MANY_WALLETS,
    QUANTILE,
    caps_covering_p99,
    largest_cap,
    path_totals,
    quantile,
)
from prophex.audit.outcomes import (
    PROBABILITY_SOURCES,
    BoolMatrix,
    Correlation,
    OutcomeModel,
    correlation_matrix,
    draw_outcomes,
    outcome_paths,
    parse_model,
    price_of_a,
)
from prophex.audit.shortfall import (
    Book,
    SolvencyError,
    market_book,
    predict_resolution,
    shortfall,
)
from prophex.audit.solvency_render import render
from prophex.audit.stats import wilson_interval
from prophex.engine.events import INSURANCE_FUND
from prophex.engine.state import Market, State
from prophex.errors import ProphexError
from prophex.ledger.store import Store, database_url, open_read_only
from prophex.money import format_price, mul_div_ceil, mul_div_floor

__all__ = [
    "MANY_WALLETS",
    "PROBABILITY_SOURCES",
    "QUANTILE",
    "Book",
    "BoolMatrix",
    "Correlation",
    "OutcomeModel",
    "SolvencyError",
    "correlation_matrix",
    "draw_outcomes",
    "largest_cap",
    "load_state_read_only",
    "market_book",
    "outcome_paths",
    "parse_model",
    "path_totals",
    "predict_resolution",
    "price_of_a",
    "quantile",
    "render",
    "shortfall",
    "solvency_cli",
    "solvency_of_state",
    "solvency_report",
    "wilson_interval",
]


def _ratio(fund: int, need: int) -> str | None:
    """fund / need with 4 decimals, rounded down: a coverage just under 1 never reads 1.0000."""
    if need == 0:
        return None
    whole, frac = divmod(mul_div_floor(fund, 10**4, need), 10**4)
    return f"{whole}.{frac:04d}"


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
            "mean_shortfall": mul_div_ceil(int(totals.sum()), 1, max(int(totals.size), 1)),
            "shortfall_p99": quantile(totals),
            "max_shortfall": int(totals.max()) if totals.size else 0,
        },
        "caps_covering_p99": caps_covering_p99(state, markets, books, ones),
    }


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
