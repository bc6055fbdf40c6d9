"""The state's rows, snapshot and invariant checker (:mod:`prophex.engine.state`), pinned.

The store writes ``to_row`` column by column and the digest hashes ``snapshot``; the invariant
checker is what every machine test relies on to see a broken state. Each problem it can report
is provoked here on an otherwise sound exchange, and its exact text asserted, so a check that
is silently weakened (a flipped comparison, a skipped side) fails a test (docs/mutation.md)."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import orjson
import pytest

from prophex.engine.commands import CreateMarket, Deposit, Open, OpenPortfolio, SetMarginMode
from prophex.engine.exchange import Exchange
from prophex.engine.state import (
    Market,
    Position,
    State,
    canonical_json,
    check_invariants,
    digest,
    snapshot,
)
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


@pytest.fixture
def exchange() -> Exchange:
    """Two markets, one isolated position on A of ``m`` and one on B of ``n``."""
    ex = Exchange.create(profile("launch", fee_rate=0))
    ex.apply(CreateMarket(market="m", question="Will it?", wallet_cap=900 * USD))
    ex.apply(CreateMarket(market="n"))
    ex.apply(Deposit("t", 500 * USD))
    ex.apply(Open("t", "m", "A", 100 * USD, 300))
    ex.apply(Open("t", "n", "B", 50 * USD, 200))
    assert check_invariants(ex.state) == []
    return ex


def test_market_row_lists_every_column(exchange: Exchange) -> None:
    market = exchange.state.markets["m"]
    row = market.to_row()
    assert list(row) == [
        "id", "kind", "status", "virtual_oi", "real_oi_a", "real_oi_b", "funding", "outcome",
        "tags", "wallet_cap", "market_oi_cap", "created_at", "volume", "bad_debt",
    ]  # fmt: skip
    assert row["id"] == "m"
    assert row["kind"] == "prediction"
    assert row["status"] == "open"
    assert row["virtual_oi"] == market.virtual_oi > 0
    assert row["real_oi_a"] == 300 * USD
    assert row["real_oi_b"] == 0
    assert row["funding"] is False
    assert row["outcome"] is None
    assert row["tags"]["question"] == "Will it?"
    assert list(row["tags"]) == sorted(row["tags"])
    assert row["wallet_cap"] == 900 * USD
    assert row["market_oi_cap"] is None
    assert row["created_at"] == 0
    assert row["volume"] == 300 * USD
    assert row["bad_debt"] == 0
    other = exchange.state.markets["n"].to_row()
    assert (other["real_oi_a"], other["real_oi_b"]) == (0, 100 * USD)


def test_position_row_lists_every_column(exchange: Exchange) -> None:
    position = exchange.state.positions[1]
    assert position.to_row() == {
        "id": 1,
        "account": "t",
        "market": "m",
        "side": "A",
        "notional": 300 * USD,
        "cost_basis": position.cost_basis,
        "margin": 100 * USD,
        "status": "open",
        "opened_at": 0,
        "closed_at": None,
        "realized_pnl": 0,
        "haircut": 0,
    }
    assert 0 < position.cost_basis < 300 * USD


def test_market_side_helpers() -> None:
    market = Market(id="x", kind="prediction", virtual_oi=10, funding=False, tags={})
    market.add_real_oi("A", 3)
    market.add_real_oi("B", 5)
    market.add_real_oi("A", 1)
    assert (market.real_oi_a, market.real_oi_b) == (4, 5)
    assert (market.oi("A"), market.oi("B")) == (14, 15)
    position = Position(
        id=1, account="a", market="x", side="B", notional=100, cost_basis=40, margin=30
    )
    market.expose(position, 1)
    assert market.win_profit == {"A": 0, "B": 60}
    assert market.collectible == {"A": 0, "B": 30}
    market.expose(position, -1)
    assert market.win_profit == {"A": 0, "B": 0}
    assert market.collectible == {"A": 0, "B": 0}


def test_state_postings_balances_and_requirements() -> None:
    state = State(params=profile("launch"), rules=profile("launch").rules())
    state.apply_postings([("a", 5), ("b", -5), ("a", 2)])
    assert state.balances == {"a": 7, "b": -5}
    assert state.dirty_accounts == {"a", "b"}
    assert state.balance("a") == 7
    assert state.balance("nobody") == 0
    state.set_requirement("p", 11)
    assert state.pm_requirement == {"p": 11}
    assert state.dirty_margin_accounts == {"p"}


def test_snapshot_and_digest_are_the_canonical_json(exchange: Exchange) -> None:
    state = exchange.state
    state.balances["zero"] = 0
    snap = snapshot(state)
    assert list(snap) == ["meta", "balances", "markets", "positions"]
    assert snap["meta"] == {
        "params": state.params.model_dump(mode="json"),
        "time": state.time,
        "command_seq": 6,  # genesis is command 1
        "txn_seq": state.txn_seq,
        "next_position_id": 3,
    }
    assert "zero" not in snap["balances"]
    assert [m["id"] for m in snap["markets"]] == ["m", "n"]
    assert [p["id"] for p in snap["positions"]] == [1, 2]
    text = canonical_json(snap)
    assert text == orjson.dumps(snap, option=orjson.OPT_SORT_KEYS).decode()
    assert canonical_json({"b": 1, "a": [1, "x"]}) == '{"a":[1,"x"],"b":1}'
    assert digest(state) == hashlib.sha256(text.encode()).hexdigest()


def test_snapshot_of_a_portfolio_exchange_lists_modes_and_requirements() -> None:
    ex = Exchange.create(profile("launch", fee_rate=0))
    ex.apply(CreateMarket(market="m"))
    ex.apply(Deposit("pm", 500 * USD))
    ex.apply(SetMarginMode("pm", "portfolio"))
    assert snapshot(ex.state)["portfolio"] == {
        "modes": {"pm": "portfolio"},
        "requirements": {"pm": 0},
    }
    ex.apply(OpenPortfolio("pm", "m", "A", 100 * USD))
    portfolio = snapshot(ex.state)["portfolio"]
    assert portfolio["modes"] == {"pm": "portfolio"}
    assert portfolio["requirements"]["pm"] > 0
    assert check_invariants(ex.state) == []


def test_each_broken_invariant_is_named(exchange: Exchange) -> None:
    state = exchange.state
    state.balances["wallet:t"] += 1
    assert check_invariants(state) == ["sum of balances is 1, not 0"]
    state.balances["wallet:t"] -= 1
    state.balances["wallet:ghost"] = -2
    state.balances["external"] += 2
    assert check_invariants(state) == ["wallet:ghost is negative: -2"]
    state.balances["wallet:ghost"] = 0
    state.balances["external"] -= 2
    assert check_invariants(state) == []
    state.balances["external"] -= 1
    state.balances["wallet:t"] += 1
    assert check_invariants(state) == []  # the external account may be negative: it is


def test_position_problems_are_named(exchange: Exchange) -> None:
    state = exchange.state
    position = state.positions[1]
    position.margin += 1
    assert check_invariants(state) == [
        f"position 1 margin {100 * USD + 1} != balance {100 * USD}",
        "m exposure aggregates on A disagree",
    ]
    position.margin -= 1
    position.status = "closed"
    assert check_invariants(state) == [
        f"closed position 1 still holds {100 * USD}",
        f"m real OI A is {300 * USD}, positions sum 0",
        "per-wallet notional index disagrees with open positions",
        "m exposure aggregates on A disagree",
    ]
    position.status = "open"
    cost = position.cost_basis
    position.cost_basis = -1
    assert check_invariants(state)[0] == f"position 1 has notional {300 * USD}"
    position.cost_basis = 0
    assert "position 1 has notional" not in " ".join(check_invariants(state))
    position.cost_basis = cost
    position.notional = 0
    assert check_invariants(state)[0] == "position 1 has notional 0"


def test_open_interest_and_exposure_problems_are_named(exchange: Exchange) -> None:
    state = exchange.state
    state.markets["n"].real_oi_b += 1
    assert check_invariants(state) == [f"n real OI B is {100 * USD + 1}, positions sum {100 * USD}"]
    state.markets["n"].real_oi_b -= 1
    state.markets["n"].real_oi_a += 1
    assert check_invariants(state) == ["n real OI A is 1, positions sum 0"]
    state.markets["n"].real_oi_a -= 1
    state.wallet_notional[("t", "m")] += 1
    assert check_invariants(state) == ["per-wallet notional index disagrees with open positions"]
    state.wallet_notional[("t", "m")] -= 1
    state.wallet_notional[("t", "gone")] = 0  # zero entries are ignored
    assert check_invariants(state) == []
    state.markets["m"].collectible["A"] += 1
    assert check_invariants(state) == ["m exposure aggregates on A disagree"]
    state.markets["m"].collectible["A"] -= 1
    state.markets["n"].win_profit["A"] = 1
    assert check_invariants(state) == ["n exposure aggregates on A disagree"]
    state.markets["n"].win_profit["A"] = 0
    state.markets["n"].win_profit["B"] += 1
    assert check_invariants(state) == ["n exposure aggregates on B disagree"]


def test_portfolio_problems_are_named() -> None:
    ex = Exchange.create(profile("launch", fee_rate=0))
    ex.apply(CreateMarket(market="m"))
    ex.apply(Deposit("pm", 500 * USD))
    ex.apply(Deposit("iso", 400 * USD))
    ex.apply(SetMarginMode("pm", "portfolio"))
    ex.apply(OpenPortfolio("pm", "m", "A", 100 * USD))
    ex.apply(Open("iso", "m", "B", 100 * USD, 300))  # moves the price against pm
    state = ex.state
    lock = state.balance("pm_margin:pm")
    assert lock == state.pm_requirement["pm"] > 0
    assert check_invariants(state) == []

    state.balances["pm_margin:iso"] = 3
    state.balances["wallet:iso"] -= 3
    assert check_invariants(state) == ["pm_margin:iso holds 3 outside portfolio mode"]
    state.balances["pm_margin:iso"] = 0
    state.balances["wallet:iso"] += 3

    state.pm_requirement["pm"] = lock + 1
    assert check_invariants(state) == [f"pm locks {lock} but its requirement is {lock + 1}"]
    wallet = state.balances["wallet:pm"]
    state.balances["wallet:pm"] = 0
    state.balances["external"] += wallet
    assert check_invariants(state) == []  # below the requirement only with an empty wallet
    state.pm_requirement["pm"] = lock - 1
    assert check_invariants(state) == [f"pm locks {lock} but its requirement is {lock - 1}"]
    state.pm_requirement["pm"] = lock

    position = next(p for p in state.positions.values() if p.account == "pm")
    market = state.markets["m"]
    den = market.oi("A") + market.oi("B")
    loss = Fraction(position.cost_basis * den - market.oi("A") * position.notional, den)
    assert 0 < loss < lock
    state.balances["pm_margin:pm"] = 0
    state.balances["external"] += lock
    state.pm_requirement["pm"] = 0
    assert check_invariants(state) == ["portfolio account pm has unrealised loss >= its lock 0"]


def test_the_loss_at_mark_sums_positions_exactly() -> None:
    ex = Exchange.create(profile("launch", fee_rate=0))
    ex.apply(CreateMarket(market="m"))
    ex.apply(CreateMarket(market="k"))
    ex.apply(Deposit("pm", 900 * USD))
    ex.apply(SetMarginMode("pm", "portfolio"))
    ex.apply(OpenPortfolio("pm", "m", "A", 100 * USD))
    ex.apply(OpenPortfolio("pm", "k", "B", 70 * USD))
    ex.apply(Deposit("iso", 800 * USD))
    ex.apply(Open("iso", "m", "B", 100 * USD, 300))  # prices move against pm on both markets
    ex.apply(Open("iso", "k", "A", 100 * USD, 300))
    state = ex.state
    total = Fraction(0)
    for p in state.positions.values():
        if p.account != "pm":
            continue
        mk = state.markets[p.market]
        den = mk.oi("A") + mk.oi("B")
        total += Fraction(p.cost_basis * den - mk.oi(p.side) * p.notional, den)
    lock = state.balance("pm_margin:pm")
    assert 0 < total < lock
    # a lock at or under the exact loss is reported, one micro-dollar above it is not
    held = int(total)
    state.balances["external"] += state.balances["pm_margin:pm"] - held
    state.balances["pm_margin:pm"] = held
    state.pm_requirement["pm"] = held
    assert check_invariants(state) == [
        f"portfolio account pm has unrealised loss >= its lock {held}"
    ]
    above = int(total) + 1
    state.balances["external"] += state.balances["pm_margin:pm"] - above
    state.balances["pm_margin:pm"] = above
    state.pm_requirement["pm"] = above
    assert check_invariants(state) == []
