"""Coverage of the fund over the drawn paths: per-path totals, the p99, and the largest caps.

Amounts stay exact integers (no float touches them); the quantile is inverted-CDF, an actual
path's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from prophex.audit.outcomes import BoolMatrix
from prophex.audit.shortfall import Book, shortfall
from prophex.engine import amm
from prophex.engine.domain import OTHER
from prophex.engine.events import INSURANCE_FUND
from prophex.engine.state import Market, State
from prophex.money import MAX_AMOUNT

QUANTILE = 0.99
MANY_WALLETS = (10, 100, 1_000)
"""Wallet counts for the per-wallet cap when that many wallets each take the cap at once."""


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


def _many(cap: int | None, wallets: int) -> int | None:
    """A cap found against ``MAX_AMOUNT // wallets`` that reached it is unbounded."""
    return MAX_AMOUNT if cap is not None and cap >= MAX_AMOUNT // wallets else cap


def caps_covering_p99(
    state: State, markets: list[Market], books: list[Book], ones: NDArray[np.int64]
) -> dict[str, Any]:
    """The largest wallet cap (alone, and taken by ``MANY_WALLETS`` wallets at once) and
    market OI cap at which the fund still covers the 99% worst path."""

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
    }
