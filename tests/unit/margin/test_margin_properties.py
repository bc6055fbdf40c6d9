"""Properties of the requirement, checked with Hypothesis on small random books.

Each example runs 20,000 paths. Comparisons between two requirements allow 4 reported
standard errors of each (the asymptotic ES-estimator SE), never a guessed tolerance.
"""

from __future__ import annotations

from typing import Any

from helpers_margin import make_book, run
from hypothesis import given, settings
from hypothesis import strategies as st

from prophex.margin import compute_margin, params_for

PATHS = 20_000
ADDONS = {"beta": 0.1, "gamma": 0.25, "lam": 0.02, "mu": 0.05}
UNIVERSE: list[dict[str, Any]] = [
    {
        "id": "B1",
        "kind": "threshold",
        "underlying": "BTC",
        "strike": 90,
        "direction": "above",
        "price": 0.55,
    },
    {
        "id": "B2",
        "kind": "threshold",
        "underlying": "BTC",
        "strike": 100,
        "direction": "above",
        "price": 0.37,
    },
    {
        "id": "B3",
        "kind": "threshold",
        "underlying": "BTC",
        "strike": 70,
        "direction": "below",
        "price": 0.2,
    },
    {
        "id": "E1",
        "kind": "threshold",
        "underlying": "ETH",
        "strike": 4000,
        "direction": "above",
        "price": 0.3,
    },
    {
        "id": "S1",
        "kind": "threshold",
        "underlying": "SPX",
        "strike": 6200,
        "direction": "above",
        "price": 0.34,
    },
    {
        "id": "O1",
        "kind": "threshold",
        "underlying": "OIL",
        "strike": 80,
        "direction": "above",
        "price": 0.32,
    },
    {"id": "C1", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": 0.5},
    {"id": "C2", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": 0.3},
    {"id": "C3", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": 0.2},
    {"id": "G1", "kind": "independent", "cluster": "SPORTS", "price": 0.6},
    {"id": "G2", "kind": "independent", "cluster": "SPORTS", "price": 0.45},
    {"id": "G3", "kind": "independent", "cluster": "SPORTS", "price": 0.97},
    {"id": "P1", "kind": "parlay", "cluster": "PARLAY", "legs": ["B2", "G1"], "price": 0.22},
]
# Positions that gain when the risk factors rise or when events happen: every loss is a
# decreasing function of positively associated drivers, and prices are the probabilities.
UP_SIDE = {"B1": "long", "B2": "long", "B3": "short", "E1": "long", "S1": "long", "O1": "long",
           "G1": "long", "G2": "long", "G3": "long", "P1": "long"}  # fmt: skip

position = st.fixed_dictionaries(
    {
        "contract": st.sampled_from([c["id"] for c in UNIVERSE]),
        "side": st.sampled_from(["long", "short"]),
        "contracts": st.integers(1, 20_000).map(float),
    }
)
up_position = st.sampled_from(sorted(UP_SIDE)).flatmap(
    lambda cid: st.integers(1, 20_000).map(
        lambda n: {"contract": cid, "side": UP_SIDE[cid], "contracts": float(n)}
    )
)


def book_of(positions: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return make_book(UNIVERSE, positions, addons=ADDONS)


@settings(max_examples=15, deadline=None)
@given(st.lists(position, max_size=8), st.integers(0, 2**31), st.sampled_from(["joint", "sqrt"]))
def test_same_seed_gives_identical_output(positions, seed, rule) -> None:  # type: ignore[no-untyped-def]
    book = book_of(positions)
    first = run(book, paths=PATHS, seed=seed, rule=rule).to_dict()
    again = run(book_of(list(reversed(positions))), paths=PATHS, seed=seed, rule=rule).to_dict()
    assert first == again  # also independent of position order


@settings(max_examples=20, deadline=None)
@given(st.lists(position, max_size=8), st.sampled_from(["joint", "sqrt"]))
def test_requirement_never_exceeds_full_collateral(positions, rule) -> None:  # type: ignore[no-untyped-def]
    r = run(book_of(positions), paths=PATHS, seed=3, rule=rule)
    assert 0.0 <= r.pm <= r.full_collateral + 1e-9
    assert r.pm_micro_usd >= r.pm * 1_000_000 - 1e-3


def test_empty_book_needs_nothing() -> None:
    book = book_of([])
    r = compute_margin(book, params_for(book, paths=PATHS))
    assert (r.pm, r.pm_micro_usd, r.full_collateral, r.binding) == (0.0, 0, 0.0, "none")


@settings(max_examples=20, deadline=None)
@given(
    st.lists(up_position, min_size=1, max_size=6), up_position, st.sampled_from(["joint", "sqrt"])
)
def test_adding_a_same_direction_position_never_lowers_the_requirement(  # type: ignore[no-untyped-def]
    positions, extra, rule
) -> None:

    before = run(book_of(positions), paths=PATHS, seed=8, rule=rule)
    after = run(book_of([*positions, extra]), paths=PATHS, seed=8, rule=rule)
    assert after.pm >= before.pm - 4 * (before.pm_se + after.pm_se) - 1e-9
