"""Analytic cases: figures that follow from probability alone, checked on the simulation.

Tolerances are multiples of the Monte-Carlo standard error the engine reports (or of the
binomial SE of a path frequency); where the ES is exact on any sample that resolves the
tail, the reported SE is 0 and the check is exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from helpers_margin import make_book, run

from prophex.margin import (
    ScenarioParams,
    load_book,
    simulate_cluster_losses,
)
from prophex.margin.scenarios import _Outcomes

BOOKS = Path(__file__).resolve().parents[3] / "scenarios" / "portfolio"


Z = 4.0  # tolerance in standard errors


@pytest.mark.parametrize(
    ("side", "price"), [("long", 0.5), ("long", 0.98), ("short", 0.3), ("short", 0.015)]
)
def test_single_binary_with_loss_probability_over_one_percent_has_full_es(
    side: str, price: float
) -> None:
    """P(lose) >= 1% puts the whole tail on the max loss: ES is the full premium/collateral."""
    book = make_book(
        [{"id": "G", "kind": "independent", "cluster": "SPORTS", "price": price}],
        [{"contract": "G", "side": side, "contracts": 1000}],
    )
    result = run(book, paths=100_000)
    max_loss = 1000 * (price if side == "long" else 1 - price)
    assert result.clusters[0].es == pytest.approx(max_loss, rel=1e-12)
    assert result.clusters[0].es_se == 0.0


def test_two_independent_bets_joint_rule_vs_sqrt_rule() -> None:
    """Both lose together with p = 9% > 1%: joint ES 14,000; sqrt rule sqrt(2) x 7,000."""
    book = load_book(BOOKS / "two-independent-bets.yaml")
    joint = run(book, paths=100_000, rule="joint")
    assert joint.base_joint == pytest.approx(14_000, abs=Z * joint.base_joint_se + 1e-6)
    assert joint.base_sqrt == pytest.approx(9_899.49, abs=0.01)
    assert joint.pm == pytest.approx(14_000, abs=Z * joint.pm_se + 1e-6)
    sqrt = run(book, paths=100_000, rule="sqrt")
    assert sqrt.binding == "top2_floor"  # the floor is what rescues the sqrt rule here


def test_nested_strikes_are_consistent_on_every_path() -> None:
    """Above-strike YES sets are nested and disjoint from the below-strike ones, path by path."""
    contracts = [
        {
            "id": "B<80",
            "kind": "threshold",
            "underlying": "BTC",
            "strike": 80,
            "direction": "below",
            "price": 0.31,
        },
        {
            "id": "B>100",
            "kind": "threshold",
            "underlying": "BTC",
            "strike": 100,
            "direction": "above",
            "price": 0.37,
        },
        {
            "id": "B>105",
            "kind": "threshold",
            "underlying": "BTC",
            "strike": 105,
            "direction": "above",
            "price": 0.37,
        },
        {
            "id": "B>110",
            "kind": "threshold",
            "underlying": "BTC",
            "strike": 110,
            "direction": "above",
            "price": 0.25,
        },
    ]
    book = make_book(
        contracts, [{"contract": c["id"], "side": "long", "contracts": 1} for c in contracts]
    )
    outcomes = _Outcomes(book, ScenarioParams(100_000, 5, 0.68, 0.35), set())
    z = outcomes.latent("BTC")
    below, a100, a105, a110 = (outcomes.threshold(book.contracts[c["id"]], z) for c in contracts)
    assert not np.any(a110 & ~a105) and not np.any(a105 & ~a100)
    assert not np.any(below & a100)
    assert abs(a100.mean() - 0.37) < Z * math.sqrt(0.37 * 0.63 / 100_000)


def test_exclusive_group_has_exactly_one_winner_per_path() -> None:
    prices = [0.45, 0.30, 0.15, 0.10]
    contracts = [
        {"id": f"C{i}", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": p}
        for i, p in enumerate(prices)
    ]
    book = make_book(
        contracts, [{"contract": c["id"], "side": "long", "contracts": 1} for c in contracts]
    )
    outcomes = _Outcomes(book, ScenarioParams(100_000, 2, 0.68, 0.35), set())
    yes = np.array([outcomes.exclusive(book.contracts[c["id"]]) for c in contracts])
    assert np.all(yes.sum(axis=0) == 1)
    for row, p in zip(yes, prices, strict=True):
        assert abs(row.mean() - p) < Z * math.sqrt(p * (1 - p) / 100_000)


def test_parlay_is_yes_only_when_all_legs_are() -> None:
    contracts = [
        {
            "id": "B",
            "kind": "threshold",
            "underlying": "BTC",
            "strike": 100,
            "direction": "above",
            "price": 0.373,
        },
        {
            "id": "S",
            "kind": "threshold",
            "underlying": "SPX",
            "strike": 6200,
            "direction": "above",
            "price": 0.341,
        },
        {"id": "G", "kind": "independent", "cluster": "SPORTS", "price": 0.35},
        {"id": "P", "kind": "parlay", "cluster": "PARLAY", "legs": ["B", "S", "G"], "price": 0.045},
    ]
    book = make_book(contracts, [{"contract": "P", "side": "long", "contracts": 1}])
    outcomes = _Outcomes(book, ScenarioParams(50_000, 9, 0.68, 0.35), {"B", "S", "G"})
    b = outcomes.record("B", outcomes.threshold(book.contracts["B"], outcomes.latent("BTC")))
    s = outcomes.record("S", outcomes.threshold(book.contracts["S"], outcomes.latent("SPX")))
    g = outcomes.record("G", outcomes.independent(book.contracts["G"]))
    parlay = outcomes.parlay(book.contracts["P"])
    assert np.array_equal(parlay, b & s & g)
    losses = simulate_cluster_losses(book, ScenarioParams(50_000, 9, 0.68, 0.35))
    assert np.array_equal(losses["PARLAY"], 0.045 - parlay.astype(float))


def test_right_way_spread_offsets_94_percent_wrong_way_none() -> None:
    right = run(load_book(BOOKS / "btc-spread-right-way.yaml"))
    assert right.pm == pytest.approx(650.0, abs=1e-6)
    assert 1 - right.pm / right.full_collateral == pytest.approx(0.939, abs=0.001)
    wrong = run(load_book(BOOKS / "btc-spread-wrong-way.yaml"))
    assert wrong.pm == pytest.approx(wrong.full_collateral, abs=1e-6) and wrong.pm == pytest.approx(
        9_350.0
    )


@pytest.mark.parametrize("kind", ["continuous", "ties", "constant", "two-level", "tiny"])
def test_worst_k_matches_a_full_sort(kind: str) -> None:
    """The subsample-then-partition tail equals the k largest of a full sort."""
    from prophex.margin.risk import worst

    rng = np.random.default_rng(4)
    n = 200_003 if kind != "tiny" else 1_000
    losses = {
        "continuous": rng.standard_normal(n),
        "ties": rng.integers(0, 5, n).astype(float),
        "constant": np.full(n, 7.0),
        "two-level": np.where(rng.random(n) < 0.995, 0.0, 3.0),
        "tiny": rng.standard_normal(n),
    }[kind]
    for k in (1, 10, 2_001):
        k = min(k, n)
        assert np.array_equal(np.sort(worst(losses, k)), np.sort(losses)[-k:])
