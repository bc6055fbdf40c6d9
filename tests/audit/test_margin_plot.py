"""The margin plot (issue 11): whole-book loss distribution with VaR/ES, binding control shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prophex.margin import load_book
from prophex.margin.plot import _wrap, book_losses, var_es, write_plot
from prophex.margin.requirement import compute_margin
from prophex.margin.risk import params_for

BOOKS = Path(__file__).resolve().parents[2] / "scenarios" / "portfolio"


def test_politics_and_sports_book_has_a_loss_distribution(tmp_path: Path) -> None:
    book = load_book(BOOKS / "two-independent-bets.yaml")
    result = compute_margin(book, params_for(book, paths=20_000, seed=3))
    losses = book_losses(book, result)
    # long 10,000 at 0.70: a loss of 7,000 with probability 0.3, a gain of 3,000 otherwise
    assert set(np.round(losses).astype(int).tolist()) == {-6_000, 4_000, 14_000}
    assert abs(np.mean(losses >= 13_999) - 0.09) < 0.01
    var, es = var_es(losses, 0.99)
    assert round(var) == round(es) == 14_000  # both lose together 9% > 1% of the time
    assert round(result.base) == 14_000 and result.binding == "base"
    png = tmp_path / "margin.png"
    write_plot(result, png, book)
    assert png.stat().st_size > 10_000
    write_plot(result, tmp_path / "without-book.png")  # the old panel still works
    assert (tmp_path / "without-book.png").exists()


def test_var_es_definitions_and_labels_wrap_on_spaces() -> None:
    losses = np.arange(1, 101, dtype=float)  # 1..100
    var, es = var_es(losses, 0.95)  # k = 5 worst: 96..100
    assert (var, es) == (96.0, 98.0)
    assert _wrap("cross-cluster diversification") == "cross-cluster\ndiversification"
    assert "-\n" not in _wrap("cap at full collateralization")
