"""Solvency audit: can the insurance fund keep "winners are paid in full regardless of skew"?

Per open prediction market it gives the exact resolution shortfall if A wins and if B wins
(the vault's gap the fund must fill, to the micro-dollar, computed the way the engine settles),
the fund's coverage per outcome and in the worst case, the probability that the fund is
depleted when every market resolves at random with its current price as probability, and the
largest wallet and OI caps at which the fund still covers the 99% worst case.

Correlation between markets comes from the portfolio-margin engine (``prophex.margin``): each
market becomes a contract of its taxonomy (threshold on an underlying, member of an exclusive
group, independent event) and outcomes are drawn on that engine's joint scenario paths, so
crypto thresholds resolve together as the hierarchy says. Markets whose taxonomy the hierarchy
does not know are independent events; if the book cannot be built at all, every market is
independent and the report says why.

Depletion is measured conservatively: the fund must cover the sum of the shortfalls, and
surpluses of markets that resolve well are not counted, because the order of resolutions is
not known in advance.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from prophex.engine import amm
from prophex.engine.domain import OTHER
from prophex.engine.events import INSURANCE_FUND, vault_account
from prophex.engine.pm_settlement import plan_with_portfolio
from prophex.engine.state import Market, State
from prophex.errors import ProphexError
from prophex.ledger.store import Store, database_url, make_db_engine, sqlite_path
from prophex.money import MAX_AMOUNT, format_price, format_usd

QUANTILE = 0.99
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


# --------------------------------------------------------------------------- outcome paths


def _contract_spec(market: Market, hierarchy: Any) -> dict[str, Any]:
    """The margin engine's contract for a market; unknown taxonomy -> an independent event."""
    tags = market.tags
    price = market.oi("A") / (market.oi("A") + market.oi("B"))
    kind = tags.get("contract_kind", "independent")
    spec: dict[str, Any] = {"id": market.id, "kind": kind, "price": price}
    if kind == "threshold" and tags.get("underlying") in hierarchy.underlying_cluster:
        try:
            strike = float(tags.get("strike", ""))
        except ValueError:
            strike = 0.0
        if strike > 0 and tags.get("direction") in ("above", "below"):
            return {
                **spec,
                "underlying": tags["underlying"],
                "strike": strike,
                "direction": tags["direction"],
            }
    cluster = tags.get("cluster")
    exclusive = cluster in hierarchy.clusters and hierarchy.clusters[cluster].model == "exclusive"
    if kind == "exclusive" and exclusive and tags.get("group"):
        return {**spec, "cluster": cluster, "group": tags["group"]}
    independent = sorted(c for c, v in hierarchy.clusters.items() if v.model == "independent")
    if not independent:
        raise ValueError("the hierarchy has no cluster for independent events")
    return {**spec, "kind": "independent", "cluster": independent[0]}


def correlated_outcomes(markets: list[Market], paths: int, seed: int) -> tuple[BoolMatrix, str]:
    """``A wins`` per (path, market) from the portfolio-margin scenario paths.

    Each market is simulated with the full contract set (so exclusive groups and shared
    underlyings are the same on every call) but a single unit position, whose loss ``p - X``
    reveals the outcome X. The engine keys its random streams by (seed, name), so the calls
    share one joint set of paths.
    """
    from prophex.margin import ScenarioParams, load_hierarchy, parse_book, simulate_cluster_losses

    hierarchy = load_hierarchy()
    contracts = [_contract_spec(m, hierarchy) for m in markets]
    params = ScenarioParams(
        paths=paths, seed=seed, rho_within=hierarchy.rho_within, rho_cross=hierarchy.rho_cross
    )
    wins = np.zeros((paths, len(markets)), dtype=np.bool_)
    for j, spec in enumerate(contracts):
        book = parse_book(
            {
                "name": f"solvency-{spec['id']}",
                "contracts": contracts,
                "positions": [{"contract": spec["id"], "side": "long", "contracts": 1.0}],
            },
            hierarchy,
        )
        losses = simulate_cluster_losses(book, params)
        (loss,) = [v for v in losses.values() if np.any(v != 0)] or [np.zeros(paths)]
        wins[:, j] = loss < 0
    kinds = sorted({c["kind"] for c in contracts})
    return wins, f"portfolio-margin hierarchy ({', '.join(kinds)})"


def independent_outcomes(markets: list[Market], paths: int, seed: int) -> BoolMatrix:
    rng = np.random.default_rng(seed)
    prices = np.array([m.oi("A") / (m.oi("A") + m.oi("B")) for m in markets])
    wins: BoolMatrix = rng.random((paths, len(markets))) < prices
    return wins


def outcome_paths(markets: list[Market], paths: int, seed: int) -> tuple[BoolMatrix, str]:
    """Joint outcomes: correlated through the margin hierarchy when possible."""
    if not markets:
        return np.zeros((paths, 0), dtype=np.bool_), "none (no open prediction market)"
    try:
        return correlated_outcomes(markets, paths, seed)
    except Exception as exc:  # any margin-engine refusal falls back, and says why
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return independent_outcomes(markets, paths, seed), f"independent ({reason})"


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
    assert best is not None
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


def solvency_of_state(state: State, *, paths: int, seed: int) -> dict[str, Any]:
    """The solvency report of an in-memory state (what :func:`solvency_report` computes)."""
    if paths < 1:
        raise SolvencyError("paths must be at least 1", field="paths")
    fund = state.balance(INSURANCE_FUND)
    markets = [
        state.markets[k]
        for k in sorted(state.markets)
        if state.markets[k].status in ("open", "halted") and state.markets[k].kind == "prediction"
    ]
    books = [market_book(state, m.id) for m in markets]
    rows = [_market_row(state, m, b) for m, b in zip(markets, books, strict=True)]
    wins, correlation = outcome_paths(markets, max(paths, 1_000), seed)
    if_a = [r["if_a"]["shortfall"] for r in rows]
    if_b = [r["if_b"]["shortfall"] for r in rows]
    ones = wins.astype(np.int64)
    totals = path_totals(ones, if_a, if_b)
    worst_total = sum(r["worst_case"] for r in rows)

    def wallet_ok(cap: int) -> bool:
        return _covered(state, markets, books, ones, [cap] * len(markets))

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
            "paths": int(wins.shape[0]),
            "seed": seed,
            "correlation": correlation,
            "depletion_probability": float(np.mean(totals > fund)) if totals.size else 0.0,
            "mean_shortfall": int(totals.sum() // max(totals.size, 1)),
            "shortfall_p99": quantile(totals),
            "max_shortfall": int(totals.max()) if totals.size else 0,
        },
        "caps_covering_p99": {
            "model": "every open market gets one more position of the cap at max leverage on "
            "the side whose win costs the fund most; fees and liquidations ignored",
            "wallet_cap": largest_cap(wallet_ok) if markets else None,
            "market_oi_cap": largest_cap(oi_ok) if markets else None,
        },
    }


def load_state_read_only(url: str | None) -> State:
    """Load the state of a database without taking the sequencer's write lock."""
    resolved = database_url(url)
    file = sqlite_path(resolved)
    if file is not None and not file.exists():
        raise SolvencyError(f"no database at {file}", field="db")
    engine = make_db_engine(resolved)
    try:
        store = Store(engine)
        if store.is_empty():
            raise SolvencyError(f"database {resolved} has no exchange yet", field="db")
        return store.load_state()
    except ProphexError:
        raise
    except Exception as exc:
        raise SolvencyError(f"cannot read {resolved}: {exc}".splitlines()[0], field="db") from None
    finally:
        engine.dispose()


def solvency_report(url: str | None, *, paths: int, seed: int) -> dict[str, Any]:
    """Solvency of the exchange stored at ``url`` (``None``: the default database)."""
    return solvency_of_state(load_state_read_only(url), paths=paths, seed=seed)


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
        ("P(fund depleted)", f"{mc['depletion_probability']:.4%}"),
        ("99% shortfall (USD)", format_usd(mc["shortfall_p99"])),
        ("mean shortfall (USD)", format_usd(mc["mean_shortfall"])),
        ("correlation", mc["correlation"]),
        ("paths / seed", f"{mc['paths']} / {mc['seed']}"),
        ("largest wallet cap covering p99 (USD)", _cap(caps["wallet_cap"])),
        ("largest market OI cap covering p99 (USD)", _cap(caps["market_oi_cap"])),
    ):
        summary.add_row(name, value)
    return Group(table, summary)


def _cap(value: int | None) -> str:
    if value is None:
        return "none (already uncovered)"
    return "unbounded" if value >= MAX_AMOUNT else format_usd(value)


def solvency_cli(db: str | None, json_out: bool, paths: int, seed: int) -> int:
    """For ``prophex audit --solvency``: print the report; exit 1 if the fund can be depleted
    at the 99% level, 2 if the audit could not run."""
    from rich.console import Console

    try:
        report = solvency_report(db, paths=paths, seed=seed)
    except ProphexError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc.code}: {exc.message}", highlight=False)
        return 2
    if json_out:
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
    else:
        Console().print(render(report))
    return 1 if report["monte_carlo"]["shortfall_p99"] > report["insurance_fund"] else 0


def write_report(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
