"""``book_from_positions`` maps exchange positions (micro-USD integers) onto contracts."""

from __future__ import annotations

import pytest
from helpers_margin import NO_ADDONS

from prophex.margin import (
    BookSettings,
    ExchangePosition,
    MarginError,
    book_from_positions,
    compute_margin,
    params_for,
)

BTC_100K = {"underlying": "BTC", "strike": 100_000, "direction": "above"}
TAXONOMY = {
    "btc-100k": {"kind": "threshold", "cluster": "BTC", **BTC_100K},
    "btc-110k": {"contract_kind": "threshold", **BTC_100K, "strike": 110_000, "price": 0.25},
    "game-1": {"kind": "independent", "cluster": "SPORTS"},
    "parlay": {"kind": "parlay", "cluster": "PARLAY", "legs": ["btc-100k", "game-1"]},
}


def test_long_a_is_n_contracts_bought_at_entry_and_long_b_is_short_yes() -> None:
    positions = [
        ExchangePosition("btc-100k", "A", notional=7_030_000_000, cost_basis=2_622_190_000),
        {
            "market_id": "btc-110k",
            "side": "B",
            "notional": 4_690_000_000,
            "cost_basis": 3_517_500_000,
        },
    ]
    book = book_from_positions(positions, TAXONOMY, settings=BookSettings(addons=NO_ADDONS))  # type: ignore[arg-type]
    long_a, short_yes = book.positions
    assert (long_a.side, long_a.contracts, long_a.price) == ("long", 7_030.0, pytest.approx(0.373))
    assert (short_yes.side, short_yes.contracts, short_yes.price) == (
        "short",
        4_690.0,
        pytest.approx(0.25),
    )
    assert long_a.max_loss == pytest.approx(2_622.19)
    assert short_yes.max_loss == pytest.approx(3_517.5)  # = B's cost basis: what B can lose
    assert book.contracts["btc-110k"].price == 0.25 and book.contracts[
        "btc-100k"
    ].price == pytest.approx(0.373)
    result = compute_margin(book, params_for(book, paths=20_000))
    assert result.pm_micro_usd >= result.pm * 1_000_000
    assert result.full_collateral == pytest.approx(2_622.19 + 3_517.5)


def test_parlay_legs_come_along_without_positions() -> None:
    taxonomy = TAXONOMY | {"game-1": TAXONOMY["game-1"] | {"price": 0.5}}
    positions = [
        {"market_id": "parlay", "side": "A", "notional": 1_000_000, "cost_basis": 200_000},
        {"market_id": "btc-100k", "side": "A", "notional": 1_000_000, "cost_basis": 373_000},
    ]
    book = book_from_positions(positions, taxonomy)
    assert set(book.contracts) == {"parlay", "btc-100k", "game-1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"side": "C"}, "positions[0].side"),
        ({"notional": -1}, "positions[0].notional"),
        ({"cost_basis": 0}, "positions[0].cost_basis"),
        ({"cost_basis": 2_000_000}, "positions[0].cost_basis"),
        ({"market_id": "nope"}, "positions[0].market_id"),
    ],
)
def test_bad_exchange_positions(change: dict[str, object], field: str) -> None:
    position = {
        "market_id": "game-1",
        "side": "A",
        "notional": 1_000_000,
        "cost_basis": 500_000,
    } | change
    with pytest.raises(MarginError) as info:
        book_from_positions([position], TAXONOMY)
    assert info.value.field == field


def test_unknown_underlying_in_taxonomy() -> None:
    taxonomy = {"x": {"kind": "threshold", "underlying": "DOGE", "strike": 1, "direction": "above"}}
    with pytest.raises(MarginError) as info:
        book_from_positions(
            [{"market_id": "x", "side": "A", "notional": 10, "cost_basis": 5}], taxonomy
        )
    assert info.value.code == "UNKNOWN_UNDERLYING"
