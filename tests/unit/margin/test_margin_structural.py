"""Long X / short Y on co-moving binaries gets ~0% offset at 99% unless q < 1%.

The pair loses 10,000 exactly when X misses and Y hits, with probability
q = 1/4 - arcsin(rho)/(2 pi). The simulated frequency must match q within 4 binomial SEs
and the pair ES must match 10,000 min(1, q / 1%) within 4 reported ES standard errors.
"""

from __future__ import annotations

import math

import pytest
from helpers_margin import make_book, run

from prophex.margin import (
    ScenarioParams,
    simulate_cluster_losses,
)

PATHS = 200_000
CONTRACTS = [
    {
        "id": "X",
        "kind": "threshold",
        "underlying": "BTC",
        "strike": 100,
        "direction": "above",
        "price": 0.5,
    },
    {
        "id": "Y",
        "kind": "threshold",
        "underlying": "ETH",
        "strike": 4000,
        "direction": "above",
        "price": 0.5,
    },
]
POSITIONS = [
    {"contract": "X", "side": "long", "contracts": 10_000},
    {"contract": "Y", "side": "short", "contracts": 10_000},
]


def closed_form_q(rho: float) -> float:
    return 0.25 - math.asin(rho) / (2 * math.pi)


@pytest.mark.parametrize(
    ("rho", "q_table", "es_table"),
    [
        (0.35, 0.193, 10_000),
        (0.68, 0.131, 10_000),
        (0.90, 0.072, 10_000),
        (0.99, 0.0225, 10_000),
        (0.999, 0.0071, 7_109),
        (0.9999, 0.0023, 2_226),
    ],
)
def test_q_versus_rho_matches_closed_form(rho: float, q_table: float, es_table: float) -> None:
    q = closed_form_q(rho)
    assert q == pytest.approx(q_table, abs=0.0006)
    book = make_book(CONTRACTS, POSITIONS, rho_within=rho, rho_cross=0.0)
    losses = simulate_cluster_losses(book, ScenarioParams(PATHS, 21, rho, 0.0))
    pair = losses["BTC"] + losses["ETH"]
    q_mc = float((pair > 9_999.0).mean())
    assert abs(q_mc - q) <= 4 * math.sqrt(q * (1 - q) / PATHS)
    result = run(book, paths=PATHS, seed=21, rule="joint")
    expected = 10_000 * min(1.0, q / 0.01)
    assert result.base_joint == pytest.approx(expected, abs=4 * result.base_joint_se + 1e-6)
    # The published-table ES values are themselves Monte-Carlo figures rounded to q's 2 digits.
    assert expected == pytest.approx(es_table, rel=0.02)
    offset = 1 - result.base_joint / (result.clusters[0].es + result.clusters[1].es)
    assert (offset == pytest.approx(0.0, abs=1e-12)) == (q >= 0.01)


def test_linear_pair_would_get_sixty_percent() -> None:
    """The Gaussian benchmark the binaries are compared with: 1 - sqrt(2(1-rho))/2 at 0.68."""
    assert 1 - math.sqrt(2 * (1 - 0.68)) / 2 == pytest.approx(0.60, abs=0.005)
