"""Book-building helpers shared by the margin tests (imported as ``helpers_margin``)."""

from __future__ import annotations

from typing import Any

from prophex.margin import Book, MarginResult, compute_margin, params_for, parse_book

NO_ADDONS = {"beta": 0.0, "gamma": 0.0, "lam": 0.0, "mu": 0.0}


def make_book(
    contracts: list[dict[str, Any]], positions: list[dict[str, Any]], **settings: Any
) -> Book:
    """A book on the default hierarchy; add-ons off unless ``settings`` says otherwise."""
    settings.setdefault("addons", NO_ADDONS)
    return parse_book({"contracts": contracts, "positions": positions, "settings": settings})


def run(book: Book, paths: int = 50_000, seed: int = 11, **overrides: Any) -> MarginResult:
    """Compute with the book's own settings plus ``overrides``."""
    return compute_margin(book, params_for(book, paths=paths, seed=seed, **overrides))
