"""Account liquidation (exact trigger, mixed cascades) and resolution of portfolio accounts."""

from __future__ import annotations

import copy
from fractions import Fraction

from pm_helpers import M, build, make_exchange, portfolio_account

from prophex.engine.commands import Deposit, Open, Resolve, Withdraw
from prophex.engine.controllers.pm_risk import account_positions, unrealized_loss
from prophex.engine.exchange import Exchange
from prophex.engine.state import check_invariants

SPREAD = [("BTC100", "A", 10_000), ("BTC105", "B", 10_000)]


def spread_exchange() -> Exchange:
    ex = make_exchange(max_leverage=25)
    portfolio_account(ex, "pm", 5_000)
    build(ex, "pm", SPREAD)
    ex.apply(Withdraw("pm", ex.state.balance("wallet:pm") - 1_000 * M))
    ex.apply(Deposit("bear", 1_000_000 * M))
    return ex


def push(ex: Exchange, notional: int) -> Exchange:
    """A copy of ``ex`` after ``bear`` buys ``notional`` of BTC100 B at 1x."""
    out = copy.deepcopy(ex)
    out.apply(Open("bear", "BTC100", "B", notional, 100))
    return out


def loss_and_lock(ex: Exchange, account: str) -> tuple[Fraction, int]:
    positions = account_positions(ex.state, account)
    return unrealized_loss(ex.state, positions), ex.state.balance(f"pm_margin:{account}")


def test_liquidation_exactly_at_the_trigger_not_one_micro_dollar_before() -> None:
    ex = spread_exchange()
    lo, hi = M, 200_000 * M  # lo: healthy, hi: liquidated
    assert account_positions(push(ex, lo).state, "pm")
    assert not account_positions(push(ex, hi).state, "pm")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if account_positions(push(ex, mid).state, "pm"):
            lo = mid
        else:
            hi = mid
    # one micro-dollar less of the adverse order: loss < lock, still open, invariants hold
    before = push(ex, lo)
    loss, locked = loss_and_lock(before, "pm")
    assert loss < locked
    assert check_invariants(before.state) == []
    # recompute the loss at the mark the liquidation saw (the state after the bear's fill)
    market = copy.deepcopy(ex.state.markets["BTC100"])
    market.real_oi_b += hi
    btc100 = next(p for p in account_positions(ex.state, "pm") if p.market == "BTC100")
    btc105 = next(p for p in account_positions(ex.state, "pm") if p.market == "BTC105")
    m105 = ex.state.markets["BTC105"]
    den = market.oi("A") + market.oi("B")
    loss_at = Fraction(btc100.cost_basis * den - market.oi("A") * btc100.notional, den) + Fraction(
        btc105.cost_basis * (m105.oi("A") + m105.oi("B")) - m105.oi("B") * btc105.notional,
        m105.oi("A") + m105.oi("B"),
    )
    assert loss_at >= locked
    after = push(ex, hi)
    assert after.state.balance("pm_margin:pm") == 0
    assert after.state.pm_requirement["pm"] == 0
    assert check_invariants(after.state) == []


def test_account_liquidation_money_and_records() -> None:
    ex = spread_exchange()
    fund_before = ex.state.balance("insurance_fund")
    locked = ex.state.balance("pm_margin:pm")
    wallet = ex.state.balance("wallet:pm")
    out = copy.deepcopy(ex)
    receipt = out.apply(Open("bear", "BTC100", "B", 150_000 * M, 100))
    records = {
        str(t.data["position"]): t.data for t in receipt.transactions if t.kind == "pm_liquidation"
    }
    assert len(records) == 2
    assert {r["locked"] for r in records.values()} == {locked}
    assert sum(r["seized"] for r in records.values()) == locked
    to_fund = sum(r["penalty_to_fund"] for r in records.values())
    assert to_fund == sum(r["seized"] * 200_000 // M for r in records.values())
    # the wallet is untouched: the account loses exactly its lock
    assert out.state.balance("wallet:pm") == wallet
    assert out.state.balance("insurance_fund") - fund_before >= to_fund
    statuses = {out.state.positions[int(pid)].status for pid in records}
    assert statuses == {"liquidated"}
    assert check_invariants(out.state) == []


def test_mixed_cascade_runs_in_the_documented_order() -> None:
    ex = spread_exchange()
    ex.apply(Deposit("iso1", 10_000 * M))
    ex.apply(Deposit("iso2", 10_000 * M))
    ex.apply(Deposit("iso4", 10_000 * M))
    ex.apply(Open("iso1", "BTC100", "A", 100 * M, 1000))  # liquidation price ~0.30
    ex.apply(Open("iso2", "BTC100", "A", 125 * M, 800))  # ~0.27
    ex.apply(Open("iso4", "BTC100", "A", 181_818_181, 550))  # below the bear's fill
    receipt = ex.apply(Open("bear", "BTC100", "B", 200_000 * M, 100))
    order = [
        (t.kind, t.data.get("account"), t.data.get("market"))
        for t in receipt.transactions
        if t.kind != "open"
    ]
    # isolated positions of the moved market first (highest liquidation price first), then the
    # portfolio account holding it; its closes move BTC100 and BTC105, which are then re-checked
    assert order == [
        ("liquidation", "iso1", "BTC100"),
        ("liquidation", "iso2", "BTC100"),
        ("pm_liquidation", "pm", "BTC100"),
        ("pm_liquidation", "pm", "BTC105"),
        ("liquidation", "iso4", "BTC100"),  # BTC100 re-queued by the account's exit
    ]
    assert check_invariants(ex.state) == []


def test_resolution_charges_full_cost_from_lock_then_wallet() -> None:
    ex = spread_exchange()
    long_leg = next(p for p in account_positions(ex.state, "pm") if p.market == "BTC100")
    locked, wallet = ex.state.balance("pm_margin:pm"), ex.state.balance("wallet:pm")
    assert long_leg.cost_basis > locked  # the lock alone does not cover the full cost
    receipt = ex.apply(Resolve("BTC100", "B"))
    record = receipt.transactions[0].data["settlements"][str(long_leg.id)]
    assert record["from_lock"] == locked
    assert record["from_wallet"] == min(wallet, long_leg.cost_basis - locked)
    assert record["bad_debt"] == long_leg.cost_basis - record["from_lock"] - record["from_wallet"]
    assert record["pnl"] == -(record["from_lock"] + record["from_wallet"])
    # the remaining short leg re-locks its requirement from whatever the wallet still holds
    relock = next(t for t in receipt.transactions if t.kind == "pm_lock")
    assert relock.data["account"] == "pm"
    assert check_invariants(ex.state) == []


def test_resolution_bad_debt_only_beyond_lock_and_wallet() -> None:
    ex = make_exchange()
    portfolio_account(ex, "thin", 5_000)
    build(ex, "thin", SPREAD)
    ex.apply(Withdraw("thin", ex.state.balance("wallet:thin") - 100 * M))
    portfolio_account(ex, "rich", 100_000)
    build(ex, "rich", SPREAD)
    thin = next(p for p in account_positions(ex.state, "thin") if p.market == "BTC100")
    rich = next(p for p in account_positions(ex.state, "rich") if p.market == "BTC100")
    receipt = ex.apply(Resolve("BTC100", "B"))
    data = receipt.transactions[0].data["settlements"]
    assert data[str(rich.id)]["bad_debt"] == 0
    assert data[str(rich.id)]["pnl"] == -rich.cost_basis  # full cost e * N
    assert data[str(thin.id)]["bad_debt"] > 0
    assert ex.state.balance("wallet:thin") == 0
    assert receipt.transactions[0].data["bad_debt"] == data[str(thin.id)]["bad_debt"]
    assert check_invariants(ex.state) == []


def test_solvency_audit_counts_portfolio_losers_like_resolution() -> None:
    from prophex.audit.solvency import market_book, predict_resolution

    ex = spread_exchange()
    ex.apply(Deposit("winner", 100_000 * M))
    ex.apply(Open("winner", "BTC100", "B", 5_000 * M, 100))
    for outcome in ("A", "B"):
        predicted = predict_resolution(ex.state, "BTC100", outcome)
        book = market_book(ex.state, "BTC100")
        data = copy.deepcopy(ex).apply(Resolve("BTC100", outcome)).transactions[0].data
        assert predicted["owed_to_winners"] == data["owed_to_winners"] == book.owed[outcome]
        assert predicted["vault_before_draw"] == data["vault_before_draw"]
        assert predicted["fund_draw"] == data["fund_draw"]
    # when B wins, the portfolio long pays its lock and wallet into the vault
    pm_pays = ex.state.balance("pm_margin:pm") + ex.state.balance("wallet:pm")
    assert market_book(ex.state, "BTC100").losers_pay["B"] >= pm_pays
