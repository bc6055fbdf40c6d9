"""Exact rules of docs/scenarios.md: size rounding, shocks, momentum, arrivals, behaviour levels
and the order of resolutions at one stop."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    CreateMarket,
    Deposit,
    Open,
    OpenPortfolio,
    Resolve,
    ResolveBatch,
    SetMarginMode,
    Void,
)
from prophex.engine.exchange import Exchange
from prophex.money import MICRO
from prophex.params import profile
from prophex.scenarios.behaviours import Level, Manager
from prophex.scenarios.loader import parse_scenario
from prophex.scenarios.metrics import MarketStats, Metrics
from prophex.scenarios.population import CENT, MarketView, PopulationFlow, sample
from prophex.scenarios.replay import Replay, open_sequencer
from prophex.scenarios.report import waterfall
from prophex.scenarios.schema import Choice, Fixed, TopUp, Uniform
from prophex.scenarios.sweep.solver import _search, _step_grid
from prophex.scenarios.sweep.stats import bootstrap_interval, wilson, z_two_sided

SCENARIO = """
name: rules
seed: 3
protocol: {profile: launch}
duration: 4h
tick: 1h
markets:
  - {id: M2}
  - {id: M1}
  - {id: M0}
populations:
  - name: crowd
    count: 10
    balance: {dist: fixed, value: 1000}
    margin: {dist: fixed, value: 10}
    leverage: {dist: fixed, value: 2}
    side_bias: {M1: 0.6, M2: 0.5}
    arrivals: {process: uniform, start: 0, end: 3h, orders_per_trader: 0.35}
    behaviours:
      - {kind: momentum, share: 1, lookback: 1h, strength: 0.25}
shocks:
  - {at: 1h, until: 3h, market: M1, side_bias: 0.9, shift: 0.2, flow: 3}
  - {at: 2h, market: M1, side_bias: 0.7}
  - {at: 2h, market: M2, shift: -0.1}
resolution:
  M2: {outcome: A, at: 4h}
  M1: {outcome: void, at: 4h}
  M0: {outcome: B, at: 4h}
"""


def test_sizes_fixed_and_choice_are_cut_draws_round_half_even_inside_the_bounds() -> None:
    rng = np.random.default_rng(0)
    assert sample(
        Fixed(dist="fixed", value=Decimal("12.3456789")), rng, 2, MICRO, CENT
    ).tolist() == [
        12_345_678,
        12_345_678,
    ]
    assert sample(Fixed(dist="fixed", value=Decimal("2.555")), rng, 1, 100, 1).tolist() == [255]
    choice = Choice(dist="choice", values=[Decimal("1.005")])
    assert sample(choice, rng, 1, MICRO, CENT).tolist() == [1_005_000]  # not rounded to cents
    uniform = Uniform(dist="uniform", low=Decimal("1.005"), high=Decimal("1.035"))
    draws = sample(uniform, np.random.default_rng(4), 1_000, MICRO, CENT)
    raw = np.random.default_rng(4).uniform(1_005_000, 1_035_000, size=1_000)
    expected = np.clip(np.rint(raw / CENT).astype(np.int64) * CENT, 1_010_000, 1_030_000)
    assert draws.tolist() == expected.tolist()
    assert set(draws.tolist()) == {1_010_000, 1_020_000, 1_030_000}  # inward: 1.01 .. 1.03
    assert np.rint(np.array([0.5, 1.5, 2.5])).tolist() == [0.0, 2.0, 2.0]  # halves to even


def test_shocks_apply_in_file_order_and_the_bias_is_clipped_after_all() -> None:
    scenario = parse_scenario(SCENARIO)
    flow = PopulationFlow(scenario.populations[0], scenario, np.random.default_rng(0))
    assert flow.market_ids == ["M2", "M1", "M0"]
    weights, bias = flow._shocked(3_600)  # first shock only: 0.9 + 0.2, clipped
    assert weights.tolist() == [1.0, 3.0, 1.0] and bias.tolist() == [0.5, 1.0, 0.5]
    weights, bias = flow._shocked(7_200)  # both on M1: bias 0.7 (set), M2 shifted
    assert weights.tolist() == [1.0, 3.0, 1.0] and bias.tolist() == [0.4, 0.7, 0.5]
    weights, bias = flow._shocked(10_800)  # the first shock has ended
    assert weights.tolist() == [1.0, 1.0, 1.0] and bias.tolist() == [0.4, 0.7, 0.5]


def test_momentum_moves_the_bias_by_strength_toward_the_rising_side() -> None:
    scenario = parse_scenario(SCENARIO)
    flow = PopulationFlow(scenario.populations[0], scenario, np.random.default_rng(0))
    view = MarketView({"M0", "M1", "M2"}, {("M2", 3_600): 1, ("M1", 3_600): -1})
    p = flow._trend_adjust(
        np.array([0.5, 0.6, 0.5]), np.array([0, 1, 2]), np.array([0, 1, 2]), view
    )
    assert p.tolist() == [0.5 + 0.25 * 0.5, 0.6 - 0.25 * 0.6, 0.5]


def test_uniform_arrivals_carry_the_fraction_to_the_next_interval() -> None:
    scenario = parse_scenario(SCENARIO)
    flow = PopulationFlow(scenario.populations[0], scenario, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    # rate = 10 x 0.35 / 3h; 1.1666... per hour; nothing after `end`
    assert [flow._count(t, t + 3_600, 1.0, rng) for t in (0, 3_600, 7_200, 10_800)] == [1, 1, 1, 0]
    assert abs(flow.carry - 0.5) < 1e-9


def test_behaviour_levels_are_inclusive() -> None:
    rising, falling = Level(3, 5, rising=True), Level(3, 5, rising=False)
    assert rising.crossed(6, 10) and not rising.crossed(5_999, 10_000)
    assert falling.crossed(6, 10) and not falling.crossed(6_001, 10_000)


def test_resolutions_at_one_stop_go_in_id_order_voids_interleaved_or_first_in_a_batch() -> None:
    scenario = parse_scenario(SCENARIO)
    sequencer = open_sequencer(scenario, None)
    last = Replay(scenario, sequencer)._batch(14_400, None)
    assert last == [Resolve("M0", "B"), Void("M1"), Resolve("M2", "A")]  # nothing else at the end
    batch = scenario.model_copy(update={"settlement": "batch"})
    last = Replay(batch, open_sequencer(batch, None))._batch(14_400, None)
    assert last == [Void("M1"), ResolveBatch({"M0": "B", "M2": "A"}, "pro_rata")]
    assert not any(isinstance(c, AdvanceClock) for c in last)


def test_account_liquidations_count_in_the_cascade_and_by_side() -> None:
    """A liquidated portfolio account's positions (``pm_liquidation``) are liquidations like
    any other: in the count, the deepest cascade and ``liquidations_by_side``."""
    ex = Exchange.create(
        profile("launch", virtual_oi=100_000, wallet_cap=1_000_000, market_oi_cap=10_000_000,
                pm_paths=20_000, pm_seed=7)
    )  # fmt: skip
    tags = {"cluster": "BTC", "underlying": "BTC", "contract_kind": "threshold"}
    ex.apply(CreateMarket("BTC100", strike="100000", direction="above", **tags))
    ex.apply(CreateMarket("BTC105", strike="105000", direction="above", **tags))
    ex.apply(Deposit("alice", 12_000 * MICRO))
    ex.apply(SetMarginMode("alice", "portfolio"))
    ex.apply(OpenPortfolio("alice", "BTC100", "A", 10_000 * MICRO))
    ex.apply(OpenPortfolio("alice", "BTC105", "B", 10_000 * MICRO))
    ex.apply(Deposit("mm", 1_000_000 * MICRO))
    command = Open("mm", "BTC100", "B", 100_000 * MICRO, 100)
    receipt = ex.apply(command)
    metrics = Metrics()
    metrics.record([command], [receipt], 60)
    assert metrics.liquidations == 2 and metrics.deepest.size == 2
    assert sorted((m, s) for _, m, s, _, _ in metrics.liquidation_detail) == [
        ("BTC100", "A"),
        ("BTC105", "B"),
    ]


def test_waterfall_layers_follow_the_written_formulas() -> None:
    res = {"kind": "resolve", "owed_to_winners": 1_000, "fund_draw": 300, "haircut": 50,
           "losers_margin_at_resolution": 400}  # fmt: skip
    stats = MarketStats(penalties_to_fund=120, resolution=res)
    assert waterfall(stats) == {
        "owed_to_winners": 1_000,
        "losers_margin_at_resolution": 400,
        "vault_margin_carried": 250,  # 1,000 - 300 - 50 - 400
        "liquidation_penalties": 120,
        "insurance_fund": 180,
        "haircut": 50,
    }
    stats = MarketStats(
        penalties_to_fund=500, resolution={**res, "losers_margin_at_resolution": 900}
    )
    flow = waterfall(stats)
    assert flow is not None
    assert (flow["losers_margin_at_resolution"], flow["vault_margin_carried"]) == (650, 0)
    assert (flow["liquidation_penalties"], flow["insurance_fund"]) == (300, 0)
    assert waterfall(MarketStats(resolution={**res, "kind": "void"})) is None


def test_p99_bootstrap_follows_the_written_resampling_and_wilson_has_exact_ends() -> None:
    values = [7 * i % 101 for i in range(150)]
    data = np.sort(np.array(values, dtype=np.int64))
    idx = np.random.default_rng(0).integers(0, 150, size=(1_000, 150))
    p99s = np.sort(np.sort(data[idx], axis=1)[:, 148])  # ceil(0.99 x 150) = 149th smallest
    assert bootstrap_interval(values, 0.99, 0.9) == (int(p99s[49]), int(p99s[949]))
    assert wilson(7, 7, z_two_sided(0.95))[1] == 1.0
    assert wilson(0, 7, z_two_sided(0.95))[0] == 0.0


def test_solver_grid_cuts_the_range_to_whole_steps_and_bisects_rounding_down() -> None:
    assert _step_grid("max_leverage", None, None, None) == (Decimal("0.01"), 100, 10_000)
    assert _step_grid("if_seed", "1005", "2999", "10") == (Decimal("10"), 100, 299)
    probes: list[int] = []

    def safe(units: int) -> bool:
        probes.append(units)
        return units <= 113

    assert _search(safe, 100, 299) == (113, 114)
    assert probes == [100, 101, 102, 104, 108, 116, 112, 114, 113]


def test_an_interval_draws_traders_then_markets_then_sides_in_one_array_each() -> None:
    scenario = parse_scenario(SCENARIO)
    flow = PopulationFlow(scenario.populations[0], scenario, np.random.default_rng(0))
    view = MarketView({"M0", "M1", "M2"})
    orders = flow.orders(0, 10_800, view, np.random.default_rng(5), 300)  # 3.5 expected: 3
    rng = np.random.default_rng(5)
    traders = rng.integers(10, size=3)
    markets = rng.choice(3, size=3, p=np.array([1.0, 1.0, 1.0]) / 3.0)
    u = rng.random(3)
    bias = np.array([0.5, 0.6, 0.5])  # M2, M1, M0; the momentum view is flat
    assert [(o.account, o.market, o.side) for o in orders] == [
        (f"crowd.{t}", ["M2", "M1", "M0"][m], "A" if x < bias[m] else "B")
        for t, m, x in zip(traders, markets, u, strict=True)
    ]
    assert {(o.margin, o.leverage_centi) for o in orders} == {(10 * MICRO, 200)}


def test_a_top_up_adds_amount_times_margin_rounded_down() -> None:
    ex = Exchange.create(profile("launch"))
    ex.apply(CreateMarket("M"))
    ex.apply(Deposit("bob", 1_000 * MICRO))
    opened = ex.apply(Open("bob", "M", "A", 100 * MICRO + 1, 200)).result
    position = ex.state.positions[opened.position_id]
    manager = Manager(rules={"bob": TopUp(kind="top_up", amount=Decimal("0.5"))})
    snap = (position.notional, position.cost_basis, position.margin)
    manager.registered[position.id] = snap
    command = manager._due(ex.state, position.id, snap)
    assert command == AddMargin("bob", position.id, 50 * MICRO)  # floor(0.5 x 100.000001)
    assert manager.top_ups == {position.id: 1}


def test_an_interval_outside_the_arrival_window_draws_nothing() -> None:
    scenario = parse_scenario(SCENARIO.replace("process: uniform", "process: poisson"))
    flow = PopulationFlow(scenario.populations[0], scenario, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    assert flow.orders(10_800, 14_400, MarketView({"M0", "M1", "M2"}), rng, 300) == []
    assert rng.random() == np.random.default_rng(1).random()  # no draw was consumed
