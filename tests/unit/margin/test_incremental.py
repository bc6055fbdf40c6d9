"""The cached requirement (``prophex.margin.incremental``) equals ``compute_margin`` bit for bit,
whatever is already in the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prophex.margin import Book, Position, compute_margin, load_book, params_for
from prophex.margin.incremental import clear_cache, fast_margin

BOOKS = Path(__file__).resolve().parents[3] / "scenarios" / "portfolio"


@pytest.mark.parametrize(
    "name",
    [
        "reference-8-cluster",
        "btc-spread-right-way",
        "btc-spread-wrong-way",
        "long-btc-short-eth",
        "two-independent-bets",
    ],
)
def test_fast_equals_full_on_shipped_books(name: str) -> None:
    book = load_book(BOOKS / f"{name}.yaml")
    params = params_for(book, paths=20_000, seed=3)
    full = compute_margin(book, params)
    for _ in range(2):  # cold, then from the cache
        fast = fast_margin(book, params)
        assert fast.pm == full.pm
        assert fast.pm_micro_usd == full.pm_micro_usd
        assert fast.base_joint == full.base_joint
        assert fast.floor_top2 == full.floor_top2
        assert fast.pm_se == full.pm_se


def test_fast_equals_full_along_a_sequence_of_changed_books() -> None:
    clear_cache()
    base = load_book(BOOKS / "reference-8-cluster.yaml")
    rng = np.random.default_rng(11)
    positions = list(base.positions)
    params = params_for(base, paths=10_000, seed=9)
    for _ in range(12):
        i = int(rng.integers(len(positions)))
        p = positions[i]
        positions[i] = Position(
            p.contract, p.side, p.contracts * float(rng.uniform(0.5, 1.5)), p.price
        )
        book = Book(base.name, base.hierarchy, base.contracts, tuple(positions), base.settings)
        assert fast_margin(book, params).pm == compute_margin(book, params).pm
