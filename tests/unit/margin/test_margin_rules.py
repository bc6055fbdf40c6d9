"""The exact rules of docs/portfolio-margin.md sections 1-3: streams, draws, tails, ties, add-ons,
rounding. Each test rebuilds a figure from the written rule and compares it with the library."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Any

import numpy as np
import pytest
from scipy.special import ndtri

from prophex.margin import MarginError, MarginParams, book_from_positions, compute_margin
from prophex.margin.contracts import AddOnParams, parse_book
from prophex.margin.risk import expected_shortfall, tail_size
from prophex.margin.scenarios import ScenarioParams, simulate_cluster_losses, stream

F = np.float32


def doc_stream(seed: int, key: str) -> np.random.Generator:
    """The stream as docs/portfolio-margin.md writes it, built independently."""
    digest = hashlib.sha256(key.encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *words])))


def book(contracts: list[dict[str, Any]], positions: list[dict[str, Any]], **settings: Any) -> Any:
    return parse_book({"contracts": contracts, "positions": positions, "settings": settings})


def test_stream_is_seed_plus_four_little_endian_words_of_sha256() -> None:
    ours = stream(5, "asset:BTC").standard_normal(4, dtype=np.float32)
    theirs = doc_stream(5, "asset:BTC").standard_normal(4, dtype=np.float32)
    assert ours.tolist() == theirs.tolist()
    assert stream(5, "asset:ETH").random() != doc_stream(5, "asset:BTC").random()


def test_outcomes_follow_the_written_draws_and_strict_comparisons() -> None:
    paths, seed, rw, rc = 2_000, 11, 0.68, 0.35
    b = book(
        [
            {"id": "BTCUP", "kind": "threshold", "underlying": "BTC", "strike": 1e5,
             "direction": "above", "price": 0.4},
            {"id": "BTCDN", "kind": "threshold", "underlying": "BTC", "strike": 8e4,
             "direction": "below", "price": 0.2},
            {"id": "E1", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": 0.5},
            {"id": "E2", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": 0.3},
            {"id": "E3", "kind": "exclusive", "cluster": "ELECTION", "group": "g", "price": 0.2},
            {"id": "G1", "kind": "independent", "cluster": "SPORTS", "price": 0.35},
        ],
        [
            {"contract": "BTCUP", "side": "long", "contracts": 1},
            {"contract": "BTCDN", "side": "long", "contracts": 1000},
            {"contract": "E2", "side": "long", "contracts": 1},
            {"contract": "G1", "side": "long", "contracts": 1},
        ],
    )  # fmt: skip
    losses = simulate_cluster_losses(b, ScenarioParams(paths, seed, rw, rc))
    z = doc_stream(seed, "asset:BTC").standard_normal(paths, dtype=np.float32) * F(
        math.sqrt(1 - rw)
    )
    z += F(math.sqrt(rc)) * doc_stream(seed, "factor:risk-on").standard_normal(paths, dtype=F)
    z += F(math.sqrt(rw - rc)) * doc_stream(seed, "class:Crypto").standard_normal(paths, dtype=F)
    up = z > F(ndtri(1 - 0.4))
    down = z < F(ndtri(0.2))
    # one column per contract, summed over the balanced tree in id order: BTCDN + BTCUP
    btc = (down * -1000.0 + 1000 * 0.2) + (up * -1.0 + 0.4)
    assert losses["BTC"].tolist() == btc.tolist()
    u = doc_stream(seed, "group:g").random(paths)
    e2_wins = (u >= 0.5) & (u < 0.5 + 0.3)  # members E1, E2, E3 in id order
    assert losses["ELECTION"].tolist() == (e2_wins * -1.0 + 0.3).tolist()
    g1 = doc_stream(seed, "event:G1").random(paths, dtype=np.float32) < F(0.35)
    assert losses["SPORTS"].tolist() == (g1 * -1.0 + 0.35).tolist()


def test_tail_size_and_es_with_ties_and_its_standard_error() -> None:
    assert tail_size(1_000, 0.99) == 10
    assert tail_size(1_001, 0.99) == 11
    assert tail_size(100, 0.999) == 1
    losses = np.array([0.0] * 990 + [3.0] * 10 + [5.0] * 5)  # N = 1,005: k = 11
    es, se = expected_shortfall(losses, 0.99)
    assert es == (5 * 5.0 + 6 * 3.0) / 11
    m = 10.0 / 1_005  # excess over VaR 3: five 2s, six 0s
    assert se == math.sqrt((20.0 / 1_005 - m * m) / 1_005) / (1 - 0.99)


def test_top2_ties_by_name_and_binding_ties_to_base() -> None:
    legs = [
        {"id": u, "kind": "threshold", "underlying": u, "strike": 100.0, "direction": "above",
         "price": 0.5}
        for u in ("SOL", "ETH", "BTC")
    ]  # fmt: skip
    three = book(legs, [{"contract": c["id"], "side": "long", "contracts": 100} for c in legs])
    result = compute_margin(three, MarginParams(paths=10_000, seed=3))
    assert [c.es for c in result.clusters] == [50.0, 50.0, 50.0]
    assert result.floor_top2_clusters == ["BTC", "ETH"]
    one = book(legs[:1], [{"contract": "SOL", "side": "long", "contracts": 100}])
    single = compute_margin(one, MarginParams(paths=10_000, seed=3))
    assert single.base_joint == single.floor_top2 == 50.0  # a tie: base binds
    assert single.binding == "base"
    assert single.pm_micro_usd == 50_000_000


def test_pm_is_capped_strictly_above_fc_and_its_se_is_then_zero() -> None:
    games = [
        {"id": f"G{i}", "kind": "independent", "cluster": "SPORTS", "price": 0.5} for i in range(20)
    ]
    held = [{"contract": g["id"], "side": "long", "contracts": 100} for g in games]
    free = compute_margin(book(games, held), MarginParams(paths=20_000, seed=1))
    assert not free.capped_at_fc and free.pm_se == free.base_joint_se > 0
    params = MarginParams(paths=20_000, seed=1, addons=AddOnParams(lam=1.0))
    capped = compute_margin(book(games, held), params)  # core + FC of add-ons > FC
    assert capped.capped_at_fc and capped.pm == capped.full_collateral == 1_000.0
    assert capped.pm_se == 0.0


def test_requirement_rounds_up_but_absorbs_float_noise() -> None:
    b = book(
        [{"id": "G1", "kind": "independent", "cluster": "SPORTS", "price": 0.5}],
        [{"contract": "G1", "side": "long", "contracts": 1}],
    )
    result = compute_margin(b, MarginParams(paths=1_000, seed=0))
    assert dataclasses.replace(result, pm=1.0000005).pm_micro_usd == 1_000_001
    assert dataclasses.replace(result, pm=1.0 + 1e-13).pm_micro_usd == 1_000_000
    assert dataclasses.replace(result, pm=1.0000000011).pm_micro_usd == 1_000_001


def test_basis_add_on_nets_each_contract_then_takes_the_smaller_side() -> None:
    contracts = [
        {"id": "UP100", "kind": "threshold", "underlying": "BTC", "strike": 1e5,
         "direction": "above", "price": 0.4},
        {"id": "UP110", "kind": "threshold", "underlying": "BTC", "strike": 1.1e5,
         "direction": "above", "price": 0.3},
        {"id": "DN80", "kind": "threshold", "underlying": "BTC", "strike": 8e4,
         "direction": "below", "price": 0.2},
    ]  # fmt: skip
    positions = [
        {"contract": "UP100", "side": "long", "contracts": 10},  # up side, max loss 4
        {"contract": "UP110", "side": "short", "contracts": 5},  # nets with the long below
        {"contract": "UP110", "side": "long", "contracts": 2},  # net short 3: down, loss 2.1
        {"contract": "DN80", "side": "long", "contracts": 4},  # down side, max loss 0.8
    ]
    result = compute_margin(book(contracts, positions), MarginParams(paths=1_000, seed=0))
    assert result.addons["basis"] == pytest.approx(0.1 * (2.1 + 0.8), abs=1e-12)
    assert result.addons["parlay"] == 0.0


def test_exchange_positions_need_a_cost_basis_strictly_inside_the_notional() -> None:
    tax = {"G1": {"kind": "independent", "cluster": "SPORTS"}}
    for cost in (0, 1_000_000):
        with pytest.raises(MarginError) as info:
            book_from_positions(
                [{"market_id": "G1", "side": "A", "notional": 1_000_000, "cost_basis": cost}], tax
            )
        assert (info.value.code, info.value.field) == ("INVALID_BOOK", "positions[0].cost_basis")
    positions = [
        {"market_id": "G1", "side": "B", "notional": 1_000_000, "cost_basis": 300_000},
        {"market_id": "G1", "side": "A", "notional": 1_000_000, "cost_basis": 600_000},
    ]
    assert book_from_positions(positions, tax).contracts["G1"].price == 0.7  # first: 1 - 0.3


def test_contract_noise_blends_a_private_stream_in_float32() -> None:
    paths, seed, eta = 1_000, 4, 0.3
    b = book(
        [{"id": "UP", "kind": "threshold", "underlying": "SPX", "strike": 6e3,
          "direction": "above", "price": 0.3, "eta": eta}],
        [{"contract": "UP", "side": "long", "contracts": 1}],
    )  # fmt: skip
    losses = simulate_cluster_losses(b, ScenarioParams(paths, seed, 0.68, 0.35))
    z = doc_stream(seed, "asset:SPX").standard_normal(paths, dtype=F) * F(math.sqrt(1 - 0.68))
    z += F(math.sqrt(0.35)) * doc_stream(seed, "factor:risk-on").standard_normal(paths, dtype=F)
    z += F(math.sqrt(0.68 - 0.35)) * doc_stream(seed, "class:Equity").standard_normal(
        paths, dtype=F
    )
    noise = doc_stream(seed, "contract:UP").standard_normal(paths, dtype=F)
    zk = F(math.sqrt(1 - eta)) * z + F(math.sqrt(eta)) * noise
    assert losses["SPX"].tolist() == ((zk > F(ndtri(1 - 0.3))) * -1.0 + 0.3).tolist()
