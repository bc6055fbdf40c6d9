"""Resolution, the insurance fund, haircuts, liquidation cascades, funding, caps, idempotency."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    CreateMarket,
    Deposit,
    Open,
    Resolve,
    Void,
)
from prophex.engine.events import EXTERNAL, INSURANCE_FUND, TREASURY, vault_account
from prophex.engine.exchange import Exchange
from prophex.engine.settlement import allocate_pro_rata
from prophex.engine.state import check_invariants, digest
from prophex.errors import (
    DuplicateClientOrderId,
    MarketOiCapExceeded,
    WalletCapExceeded,
)
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


def skewed_market(if_seed: int, traders: int = 200, seed: int = 11) -> Exchange:
    """80% of traders levered long A (2-3x), 20% long B, on the launch profile."""
    exchange = Exchange.create(profile("launch", if_seed=if_seed))
    exchange.apply(CreateMarket(market="skew"))
    rng = np.random.default_rng(seed)
    for i in range(traders):
        name = f"t{i:03d}"
        exchange.apply(Deposit(name, 1_000 * USD))
        side = "A" if i % 5 else "B"
        exchange.apply(
            Open(name, "skew", side, int(rng.integers(50, 300)) * USD, int(rng.choice([200, 300])))
        )
    return exchange


def money_inside(exchange: Exchange) -> int:
    return sum(v for k, v in exchange.state.balances.items() if k != EXTERNAL)


@pytest.mark.parametrize("winner", ["A", "B"])
def test_fund_pays_exactly_the_vault_shortfall(winner: str) -> None:
    exchange = skewed_market(if_seed=100_000)
    market = exchange.state.markets["skew"]
    positions = [p for p in exchange.state.positions.values() if p.status == "open"]
    owed = sum(p.notional - p.cost_basis for p in positions if p.side == winner)
    collected = sum(min(p.margin, p.cost_basis) for p in positions if p.side != winner)
    vault = exchange.state.balance(vault_account("skew"))
    fund_before = exchange.state.balance(INSURANCE_FUND)
    total_before = money_inside(exchange)
    result = exchange.apply(Resolve("skew", winner)).result
    shortfall = max(0, owed - vault - collected)
    assert result.owed_to_winners == owed
    assert result.fund_draw == shortfall
    assert result.haircut_total == 0
    surplus = vault + collected + shortfall - owed
    assert result.surplus_to_fund == surplus
    assert exchange.state.balance(INSURANCE_FUND) == fund_before - shortfall + surplus
    assert market.status == "resolved" and market.real_oi_a == market.real_oi_b == 0
    assert money_inside(exchange) == total_before
    assert check_invariants(exchange.state) == []
    if winner == "A":
        assert shortfall > 0  # the crowd winning is what drains the fund


def test_small_fund_haircuts_winners_pro_rata_and_exactly() -> None:
    exchange = skewed_market(if_seed=1_000)
    winners = {
        p.id: p.notional - p.cost_basis
        for p in exchange.state.positions.values()
        if p.status == "open" and p.side == "A"
    }
    predicted = exchange.resolution_shortfall("skew", "A")
    fund = exchange.state.balance(INSURANCE_FUND)
    assert predicted["shortfall"] > fund  # the fund cannot cover it
    wallets_before = {
        p.id: exchange.state.balance(f"wallet:{p.account}")
        for p in exchange.state.positions.values()
    }
    total_before = money_inside(exchange)
    result = exchange.apply(Resolve("skew", "A")).result
    uncovered = predicted["shortfall"] - fund
    assert result.fund_draw == fund
    assert exchange.state.balance(INSURANCE_FUND) == 0
    haircuts = {pid: exchange.state.positions[pid].haircut for pid in winners}
    assert sum(haircuts.values()) == uncovered == result.haircut_total
    total_profit = sum(winners.values())
    for pid, profit in winners.items():
        exact_share = uncovered * profit / total_profit
        assert abs(haircuts[pid] - exact_share) < 1  # largest remainder: within one micro-dollar
        position = exchange.state.positions[pid]
        received = exchange.state.balance(f"wallet:{position.account}") - wallets_before[pid]
        margin = received - (profit - haircuts[pid])
        assert margin > 0  # margin returned in full, profit less haircut on top
    assert money_inside(exchange) == total_before
    assert check_invariants(exchange.state) == []


def test_allocate_pro_rata_sums_exactly() -> None:
    shares = allocate_pro_rata(10, [(1, 1), (2, 1), (3, 1)])
    assert shares == {1: 4, 2: 3, 3: 3}
    assert sum(allocate_pro_rata(999_999, [(i, i * 7 + 1) for i in range(50)]).values()) == 999_999
    assert allocate_pro_rata(0, [(1, 5)]) == {1: 0}


def test_void_returns_every_margin_and_keeps_fees() -> None:
    exchange = skewed_market(if_seed=100_000, traders=20)
    margins = {p.account: p.margin for p in exchange.state.positions.values() if p.status == "open"}
    wallets = {a: exchange.state.balance(f"wallet:{a}") for a in margins}
    treasury = exchange.state.balance(TREASURY)
    exchange.apply(Void("skew"))
    for account, margin in margins.items():
        assert exchange.state.balance(f"wallet:{account}") == wallets[account] + margin
    assert exchange.state.balance(TREASURY) == treasury
    assert exchange.state.markets["skew"].status == "voided"
    assert check_invariants(exchange.state) == []


def test_unknown_outcome_settles_both_sides_at_one_half() -> None:
    exchange = Exchange.create(profile("launch", fee_rate=0))
    exchange.apply(CreateMarket(market="m"))
    for name in ("a", "b"):
        exchange.apply(Deposit(name, 1_000 * USD))
    pa = exchange.apply(Open("a", "m", "A", 300 * USD, 300)).result
    pb = exchange.apply(Open("b", "m", "B", 100 * USD, 200)).result
    exchange.apply(Resolve("m", "UNKNOWN"))
    pnl_a = pa.notional // 2 - pa.cost
    pnl_b = pb.notional // 2 - pb.cost
    assert exchange.state.positions[pa.position_id].realized_pnl == pnl_a
    assert exchange.state.positions[pb.position_id].realized_pnl == pnl_b
    assert check_invariants(exchange.state) == []


def test_profitable_close_draws_the_fund_then_haircuts_when_it_is_empty() -> None:
    exchange = Exchange.create(profile("mature", if_seed=10, fee_rate=0, wallet_cap=50_000))
    exchange.apply(CreateMarket(market="m"))
    for name in ("early", "late"):
        exchange.apply(Deposit(name, 20_000 * USD))
    early = exchange.apply(Open("early", "m", "A", 1_000 * USD, 500)).result
    exchange.apply(Open("late", "m", "A", 2_000 * USD, 500))  # pushes A up: early is in profit
    assert exchange.state.balance(vault_account("m")) == 0
    result = exchange.apply(Close("early", early.position_id)).result
    profit = result.proceeds - early.cost
    assert profit > 10 * USD
    assert result.haircut == profit - 10 * USD  # the fund paid its 10 USD, the rest is cut
    assert result.realized_pnl == 10 * USD
    assert exchange.state.balance(INSURANCE_FUND) == 0
    assert exchange.state.positions[early.position_id].haircut == result.haircut
    assert check_invariants(exchange.state) == []


def test_cascade_liquidates_highest_liquidation_price_first() -> None:
    exchange = Exchange.create(profile("mature", wallet_cap=50_000, liq_penalty_to_if=0.25))
    exchange.apply(CreateMarket(market="m"))
    ids = {}
    for name, margin, lev in (("low", 200, 500), ("high", 100, 1_000), ("mid", 150, 400)):
        exchange.apply(Deposit(name, 5_000 * USD))
        ids[name] = exchange.apply(Open(name, "m", "A", margin * USD, lev)).result.position_id
    exchange.apply(Deposit("whale", 20_000 * USD))
    fund_before = exchange.state.balance(INSURANCE_FUND)
    receipt = exchange.apply(Open("whale", "m", "B", 1_000 * USD, 900))
    liquidations = [t.data for t in receipt.transactions if t.kind == "liquidation"]
    assert [d["account"] for d in liquidations] == ["high", "mid", "low"]
    for data in liquidations:
        assert data["penalty_to_fund"] == data["seized_margin"] // 4
        assert data["to_vault"] == data["seized_margin"] - data["penalty_to_fund"]
        # the trigger held at the mark where each was processed (loss at spot >= margin)
        assert data["cost_basis"] * data["mark_den"] - data["seized_margin"] * data["mark_den"] >= (
            data["mark_num"] * data["notional"]
        )
    fee = receipt.result.fee // 2
    assert exchange.state.balance(INSURANCE_FUND) == fund_before + fee + sum(
        d["penalty_to_fund"] for d in liquidations
    )
    assert all(exchange.state.positions[i].status == "liquidated" for i in ids.values())
    assert exchange.state.markets["m"].real_oi_a == 0
    assert check_invariants(exchange.state) == []


def test_add_margin_moves_the_liquidation_price_away() -> None:
    exchange = Exchange.create(profile("mature", wallet_cap=50_000))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 5_000 * USD))
    exchange.apply(Deposit("whale", 20_000 * USD))
    pid = exchange.apply(Open("t", "m", "A", 100 * USD, 1_000)).result.position_id
    exchange.apply(AddMargin("t", pid, 400 * USD))
    exchange.apply(Open("whale", "m", "B", 1_000 * USD, 300))
    assert exchange.state.positions[pid].status == "open"  # 10x alone would have died


def test_funding_moves_margin_from_the_crowded_side_zero_sum() -> None:
    exchange = Exchange.create(
        profile("launch", funding_k=0.01, funding_max_rate=0.002, funding_interval_seconds=3600)
    )
    exchange.apply(CreateMarket(market="perp", kind="perpetual"))
    for name in ("a1", "a2", "b1"):
        exchange.apply(Deposit(name, 1_000 * USD))
    exchange.apply(Open("a1", "perp", "A", 200 * USD, 300))
    exchange.apply(Open("a2", "perp", "A", 100 * USD, 300))
    exchange.apply(Open("b1", "perp", "B", 100 * USD, 200))
    margins = {p.account: p.margin for p in exchange.state.positions.values()}
    result = exchange.apply(AdvanceClock(2 * 3600)).result
    # skew = (900 - 200) / 1100; rate = min(0.01 * skew, 0.002) = 0.002 per interval
    per_interval = (600 + 300) * USD * 2_000 // 1_000_000
    assert result.funding_payments == 2 * per_interval
    after = {p.account: p.margin for p in exchange.state.positions.values()}
    assert margins["a1"] - after["a1"] == 2 * 600 * USD * 2_000 // 1_000_000
    assert after["b1"] - margins["b1"] == 2 * per_interval
    assert check_invariants(exchange.state) == []


def test_caps_report_headroom_and_scale_with_the_fund() -> None:
    exchange = Exchange.create(profile("launch", max_leverage=3, market_oi_cap=1_500, fee_rate=0))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("w", 10_000 * USD))
    exchange.apply(Open("w", "m", "A", 300 * USD, 300))  # 900 of the 1,000 wallet cap
    before = digest(exchange.state)
    with pytest.raises(WalletCapExceeded) as wallet:
        exchange.apply(Open("w", "m", "B", 50 * USD, 300))
    assert wallet.value.details["headroom"] == "100"
    assert wallet.value.details["cap"] == "1000"
    exchange.apply(Deposit("x", 10_000 * USD))
    exchange.apply(Open("x", "m", "A", 200 * USD, 300))
    with pytest.raises(MarketOiCapExceeded) as market:
        exchange.apply(Open("x", "m", "A", 1 * USD, 100))
    assert market.value.details["headroom"] == "0"
    assert digest(exchange.state) != before  # x's first open went through
    # Caps never block a close, even at the cap.
    pid = exchange.state.open_by_key[("w", "m", "A")]
    exchange.apply(Close("w", pid, notional=100 * USD))
    # A fund twice its seed doubles both caps.
    bigger = copy.deepcopy(exchange)
    bigger.state.balances[INSURANCE_FUND] = 2 * bigger.state.rules.if_seed
    assert bigger.cap_headroom("w", bigger.state.markets["m"]).wallet_cap == 2_000 * USD


def test_client_order_id_is_idempotent() -> None:
    exchange = Exchange.create()
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 1_000 * USD))
    order = Open("t", "m", "A", 100 * USD, 200, client_order_id="order-1")
    first = exchange.apply(order)
    snapshot = digest(exchange.state)
    again = exchange.apply(order)
    assert again.duplicate and again.transactions == []
    assert again.result.position_id == first.result.position_id
    assert digest(exchange.state) == snapshot
    with pytest.raises(DuplicateClientOrderId):
        exchange.apply(Open("t", "m", "A", 101 * USD, 200, client_order_id="order-1"))
    assert digest(exchange.state) == snapshot


def test_coverage_cap_rule_refuses_what_the_fund_could_not_cover() -> None:
    exchange = Exchange.create(profile("launch", cap_rule="coverage", if_seed=100))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 1_000 * USD))
    exchange.apply(Open("t", "m", "A", 50 * USD, 300))
    worst = exchange.worst_case_shortfall(exchange.state.markets["m"])
    assert 0 < worst <= exchange.state.balance(INSURANCE_FUND)
    before = digest(exchange.state)
    with pytest.raises(Exception) as refused:
        exchange.apply(Open("t", "m", "A", 250 * USD, 300))
    assert getattr(refused.value, "code", "") == "COVERAGE_CAP_EXCEEDED"
    assert digest(exchange.state) == before


def test_liquidation_heap_is_compacted_and_still_exact() -> None:
    """Every margin top-up pushes a fresh heap entry; stale ones are compacted away, and the
    position is still liquidated exactly when its loss reaches its (larger) margin."""
    exchange = Exchange.create(profile("mature", wallet_cap=50_000, fee_rate=0))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 5_000 * USD))
    exchange.apply(Deposit("whale", 40_000 * USD))
    pid = exchange.apply(Open("t", "m", "A", 100 * USD, 2_000)).result.position_id
    for _ in range(300):
        exchange.apply(AddMargin("t", pid, 1 * USD))
    heap = exchange.state.markets["m"].liquidations.heaps["A"]
    assert len(heap) <= 1 + 64  # bounded by the open positions, not by the update count
    position = exchange.state.positions[pid]
    assert position.margin == 400 * USD
    # (C - M) / N is the liquidation price: push A just above it, then just below it.
    market = exchange.state.markets["m"]
    while True:
        receipt = exchange.apply(Open("whale", "m", "B", 20 * USD, 100))
        if position.status != "open":
            break
        threshold = (position.cost_basis - position.margin) * (market.oi("A") + market.oi("B"))
        assert threshold < market.oi("A") * position.notional  # healthy while above it
    liquidation = next(t.data for t in receipt.transactions if t.kind == "liquidation")
    assert liquidation["seized_margin"] == 400 * USD
    assert check_invariants(exchange.state) == []


@pytest.mark.parametrize("surplus_to_fund", [True, False])
def test_void_sends_the_vault_balance_to_the_fund_only_when_configured(
    surplus_to_fund: bool,
) -> None:
    """docs/concepts.md: a void returns margins with no PnL, and the vault's balance (here the
    realised loss of an earlier close) goes to the fund when ``vault_surplus_to_if``."""
    exchange = Exchange.create(profile("launch", fee_rate=0, vault_surplus_to_if=surplus_to_fund))
    exchange.apply(CreateMarket(market="m"))
    for name in ("a", "b"):
        exchange.apply(Deposit(name, 1_000 * USD))
    opened = exchange.apply(Open("a", "m", "A", 300 * USD, 300)).result.position_id
    exchange.apply(Open("b", "m", "B", 300 * USD, 300))  # pushes A's price down
    loss = -exchange.apply(Close("a", opened)).result.realized_pnl
    assert loss > 0
    vault, fund = exchange.state.balance("vault:m"), exchange.state.balance(INSURANCE_FUND)
    assert vault == loss  # the close's loss stayed in the vault (no profit paid from it)
    exchange.apply(Void("m"))
    moved = loss if surplus_to_fund else 0
    assert exchange.state.balance("vault:m") == vault - moved
    assert exchange.state.balance(INSURANCE_FUND) == fund + moved
    assert check_invariants(exchange.state) == []
