"""The source's worked examples, replayed through the sequencer, give the documented numbers."""

from __future__ import annotations

from fractions import Fraction

from scenario_lib import library

from prophex.engine.settlement import settlement_value
from prophex.scenarios.replay import run_scenario
from prophex.scenarios.report import build_summary


def _prices(result: object, market: str) -> list[str]:
    series = result.metrics.markets[market].series  # type: ignore[attr-defined]
    return [f"{Fraction(r[1], r[1] + r[2]):.6f}" for r in series if r[0] > 0]


def _fmt(value: Fraction) -> str:
    return f"{float(value):.6f}"


def test_w1_alice_bob_prices_and_close() -> None:
    result = run_scenario(library("alice-bob-w1"))
    series = result.metrics.markets["W1"].series
    after = {row[0]: Fraction(row[1], row[1] + row[2]) for row in series}
    assert _fmt(after[60]) == "0.565217"  # Alice opens A 1,500
    assert _fmt(after[120]) == "0.537190"  # Bob opens B 600
    assert _fmt(after[180]) == "0.471698"  # Alice closes
    alice, bob = result.state.positions[1], result.state.positions[2]
    assert alice.status == "closed"
    assert round(alice.realized_pnl / 1e6, 2) == -42.36  # average exit 0.505888
    assert f"{bob.cost_basis / bob.notional:.6f}" == "0.449034"  # average B price


def test_settlement_fund_pays_thin_book() -> None:
    summary = build_summary(run_scenario(library("alice-bob-settlement")))
    res = summary["markets"]["W1"]["resolution"]
    assert res["outcome"] == "A"
    assert round(res["owed_to_winners"] / 1e6, 2) == 698.81  # Alice's profit 0.46587 x 1,500
    assert round(res["fund_draw"] / 1e6, 2) == 498.81  # mechanics.md 3.6
    assert res["fund_draw"] == res["vault_shortfall"]


def test_liquidations_lose_exactly_the_margin() -> None:
    result = run_scenario(library("liquidation-5x"))
    alice, bob = result.state.positions[1], result.state.positions[2]
    assert alice.status == "liquidated" and bob.status == "liquidated"
    # W5: 200 at 5x is 1,000 notional, liquidation price = entry - 0.2
    assert alice.notional == 1_000_000_000
    assert Fraction(alice.cost_basis - 200_000_000, alice.notional) == Fraction(
        alice.cost_basis, alice.notional
    ) - Fraction(1, 5)
    # W4: 200 at 3x long B is 600 notional, liquidated when A reaches entry_A + 1/3
    assert bob.notional == 600_000_000
    assert alice.realized_pnl == -200_000_000 and bob.realized_pnl == -200_000_000
    summary = build_summary(result)
    assert summary["liquidations"]["count"] == 2
    assert summary["bad_debt"] > 0  # the price jumped past Alice's level: the gap is recorded


def test_thin_market_moves_far() -> None:
    result = run_scenario(library("thin-market"))
    deep = result.metrics.markets["DEEP"].series[-1]
    thin = result.metrics.markets["THIN"].series[-1]
    assert _fmt(Fraction(deep[1], deep[1] + deep[2])) == "0.523810"  # W2 (docs' ~55% is a slip)
    assert _fmt(Fraction(thin[1], thin[1] + thin[2])) == "0.857143"


def test_whale_is_stopped_by_the_wallet_cap() -> None:
    result = run_scenario(library("whale-wallet-cap"))
    summary = build_summary(result)
    assert summary["commands"]["rejected"] == {"WALLET_CAP_EXCEEDED": 2}
    whale = [p for p in result.state.positions.values() if p.account == "whale"]
    assert [p.notional for p in whale] == [990_000_000]  # 900 + 90; 900 and 15,000 refused


def test_unknown_settles_at_one_half() -> None:
    result = run_scenario(library("unknown-5050"))
    state = result.state
    assert state.markets["DISPUTED"].outcome == "UNKNOWN"
    assert state.markets["CANCELLED"].status == "voided"
    for position in state.positions.values():
        if position.market == "DISPUTED":
            value = settlement_value(position.notional, position.side, "UNKNOWN")
            assert value == position.notional // 2
        if position.market == "CANCELLED" and position.status == "settled":
            assert position.realized_pnl == 0


def test_perpetual_pays_funding_and_stays_open() -> None:
    summary = build_summary(run_scenario(library("perpetual-funding")))
    perp = summary["markets"]["PERP"]
    assert perp["status"] == "open" and perp["resolution"] is None
    assert perp["funding_paid"] > 0


def test_crypto_thresholds_all_resolve_together() -> None:
    result = run_scenario(library("crypto-thresholds"))
    outcomes = {m.id: (m.status, m.outcome) for m in result.state.markets.values()}
    assert outcomes == {
        "BTC-90K": ("resolved", "A"),
        "BTC-100K": ("resolved", "A"),
        "BTC-110K": ("resolved", "B"),
        "ETH-4K": ("resolved", "A"),
        "ETH-5K": ("resolved", "B"),
    }
