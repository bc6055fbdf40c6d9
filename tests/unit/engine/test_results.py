"""Typed results: one class per command kind, exact micro-dollar figures, and the JSON codec.

The table pins, for one run that exercises every command kind, the typed result each command
returns; its JSON (:func:`results.to_json`) is exactly the dict the engine returned before
results were typed (the stored receipts and the API answers are built from it), and
:func:`results.from_json` reads it back to an equal object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from prophex.chain.sequencer import Sequencer
from prophex.engine import results as r
from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    Command,
    CreateMarket,
    Deposit,
    Genesis,
    Halt,
    Open,
    OpenPortfolio,
    Resolve,
    ResolveBatch,
    Resume,
    SetMarginMode,
    SetParams,
    Void,
    Withdraw,
    command_type,
)
from prophex.engine.domain import MarginMode, MarketStatus, Outcome
from prophex.engine.exchange import Exchange
from prophex.engine.results import expect
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO
PARAMS = profile("launch", max_leverage=10, wallet_cap=10_000, funding_interval_seconds=60)


def _open(pid: int, notional: int, cost: int, fee: int, margin: int) -> r.OpenResult:
    """A first open of a position: the position is exactly the fill."""
    return r.OpenResult(pid, notional, cost, fee, margin, notional, cost, margin)


PINNED: list[tuple[Command, r.Result]] = [
    (Genesis(params=PARAMS.model_dump(mode="json")), r.GenesisResult(100_000 * USD)),
    (CreateMarket(market="m"), r.MarketResult("m")),
    (CreateMarket(market="v"), r.MarketResult("v")),
    (CreateMarket(market="x"), r.MarketResult("x")),
    (CreateMarket(market="y"), r.MarketResult("y")),
    (CreateMarket(market="perp", kind="perpetual"), r.MarketResult("perp")),
    (Deposit("a", 5_000 * USD), r.BalanceResult(5_000_000_000)),
    (Deposit("b", 5_000 * USD), r.BalanceResult(5_000_000_000)),
    (Withdraw("b", 1 * USD), r.BalanceResult(4_999_000_000)),
    (Open("a", "m", "A", 90 * USD, 1_000), _open(1, 900_000_000, 469_111_519, 900_000, 90 * USD)),
    (Open("b", "m", "B", 300 * USD, 300), _open(2, 900_000_000, 431_913_221, 900_000, 300 * USD)),
    (Open("a", "perp", "A", 90 * USD, 300), _open(3, 270_000_000, 136_790_346, 270_000, 90 * USD)),
    (Open("b", "perp", "B", 20 * USD, 300), _open(4, 60_000_000, 29_300_885, 60_000, 20 * USD)),
    (AddMargin("b", 4, 1 * USD), r.MarginResult(4, 21_000_000)),
    (
        Close("b", 2, notional=100 * USD),
        r.CloseResult(2, 100_000_000, 49_786_930, 1_796_572, 100_000, 0, 800_000_000),
    ),
    (AdvanceClock(120), r.ClockResult(120, 270_000)),
    (Deposit("w", 5_000 * USD), r.BalanceResult(5_000_000_000)),
    (
        Open("w", "m", "B", 900 * USD, 1_000),  # liquidates a's 10x long A
        _open(5, 9_000_000_000, 5_633_785_336, 9_000_000, 900 * USD),
    ),
    (Deposit("c", 100 * USD), r.BalanceResult(100_000_000)),
    (Open("c", "m", "A", 10 * USD, 100), _open(6, 10_000_000, 2_527_140, 10_000, 10 * USD)),
    (Halt("m"), r.StatusResult("m", MarketStatus.HALTED)),
    (Resume("m"), r.StatusResult("m", MarketStatus.OPEN)),
    (Resolve("m", "A"), r.SettleResult("m", Outcome.A, 3, 7_472_860, 0, 0, 1_231_193_807)),
    (Void("v"), r.SettleResult("v", None, 0, 0, 0, 0, 0)),
    (Open("a", "x", "A", 50 * USD, 300), _open(7, 150_000_000, 75_556_938, 150_000, 50 * USD)),
    (Open("b", "y", "B", 50 * USD, 300), _open(8, 150_000_000, 75_556_938, 150_000, 50 * USD)),
    (
        ResolveBatch(outcomes={"x": "A", "y": "A"}),
        r.BatchResult(
            markets=["x", "y"],
            owed_to_winners=74_443_062,
            total_shortfall=74_443_062,
            fund_before=101_253_167_235,
            pooled_surplus=50_000_000,
            uncovered=0,
            haircut_total=0,
            loss_sharing="pro_rata",
            fund_net_draw=24_443_062,
            per_market={
                "x": r.BatchMarketResult(Outcome.A, 74_443_062, 74_443_062, 0),
                "y": r.BatchMarketResult(Outcome.A, 0, 0, 0),
            },
        ),
    ),
    (CreateMarket(market="pm"), r.MarketResult("pm")),
    (Deposit("p", 1_000 * USD), r.BalanceResult(1_000_000_000)),
    (SetMarginMode("p", "portfolio"), r.ModeResult("p", MarginMode.PORTFOLIO)),
    (
        OpenPortfolio("p", "pm", "A", 100 * USD),
        r.PortfolioOpenResult(
            9, 100_000_000, 50_248_346, 100_000, 0, 50_248_346, 50_248_346, 100_000_000, 50_248_346
        ),
    ),
    (
        Close("p", 9, notional=40 * USD),
        r.CloseResult(
            9, 40_000_000, 20_158_704, 59_365, 40_000, 0, 60_000_000, 30_149_007, 30_149_007
        ),
    ),
]

# the JSON the engine returned before results were typed, for a sample of kinds (the stored
# receipts and ``client_orders`` rows hold exactly these bytes)
LEGACY_JSON: dict[int, str] = {
    9: '{"position_id": 1, "notional": 900000000, "cost": 469111519, "fee": 900000, '
    '"margin": 90000000, "position_notional": 900000000, "position_cost_basis": 469111519, '
    '"position_margin": 90000000}',
    14: '{"position_id": 2, "closed_notional": 100000000, "proceeds": 49786930, '
    '"realized_pnl": 1796572, "fee": 100000, "haircut": 0, "remaining_notional": 800000000}',
    20: '{"market": "m", "status": "halted"}',
    23: '{"market": "v", "outcome": null, "positions_settled": 0, "owed_to_winners": 0, '
    '"fund_draw": 0, "haircut_total": 0, "surplus_to_fund": 0}',
    26: '{"markets": ["x", "y"], "owed_to_winners": 74443062, "total_shortfall": 74443062, '
    '"fund_before": 101253167235, "pooled_surplus": 50000000, "uncovered": 0, '
    '"haircut_total": 0, "loss_sharing": "pro_rata", "fund_net_draw": 24443062, "per_market": '
    '{"x": {"outcome": "A", "owed_to_winners": 74443062, "fund_draw": 74443062, '
    '"haircut_total": 0}, "y": {"outcome": "A", "owed_to_winners": 0, "fund_draw": 0, '
    '"haircut_total": 0}}}',
    29: '{"account": "p", "mode": "portfolio"}',
    31: '{"position_id": 9, "closed_notional": 40000000, "proceeds": 20158704, '
    '"realized_pnl": 59365, "fee": 40000, "haircut": 0, "remaining_notional": 60000000, '
    '"requirement": 30149007, "locked": 30149007}',
}


def _run() -> list[tuple[Command, r.Result]]:
    exchange = Exchange()
    return [(c, exchange.apply(c).result) for c, _ in PINNED]


def test_every_command_kind_returns_its_pinned_typed_result() -> None:
    ran = _run()
    for (command, got), (_, expected) in zip(ran, PINNED, strict=True):
        assert got == expected, command
        assert type(got) is r.RESULT_TYPES[command_type(command)]
    kinds = {command_type(c) for c, _ in PINNED} | {"set_params"}
    assert kinds == set(r.RESULT_TYPES)


def test_set_params_returns_the_params_in_force() -> None:
    exchange = Exchange.create(PARAMS)
    result = exchange.apply(SetParams(params={"fee_rate": "0.002"})).result
    assert isinstance(result, r.ParamsResult)
    assert result.params == exchange.state.params.model_dump(mode="json")
    assert result.params["fee_rate"] == "0.002"


def test_json_is_the_legacy_layout_and_round_trips() -> None:
    for index, (command, result) in enumerate(_run()):
        kind = command_type(command)
        data = json.loads(json.dumps(r.to_json(result)))
        assert r.from_json(kind, data) == result
        if index in LEGACY_JSON:
            assert json.dumps(r.to_json(result)) == LEGACY_JSON[index]


def test_enums_in_results_are_str_enums() -> None:
    settled = r.from_json("resolve", {**r.to_json(PINNED[22][1])})
    assert isinstance(settled, r.SettleResult) and settled.outcome is Outcome.A
    mode = r.from_json("set_margin_mode", {"account": "p", "mode": "isolated"})
    assert mode == r.ModeResult("p", MarginMode.ISOLATED)


def test_stored_order_keeps_command_seq_beside_the_result() -> None:
    stored = r.StoredOrder('{"type":"close"}', 17, PINNED[14][1])  # type: ignore[arg-type]
    data = stored.to_json()
    assert list(data)[-1] == "command_seq" and data["command_seq"] == 17
    assert r.StoredOrder.from_json(stored.fingerprint, "close", data) == stored


def test_expect_narrows_or_raises() -> None:
    result: r.Result = r.BalanceResult(5)
    assert r.expect(result, r.BalanceResult).balance == 5
    try:
        r.expect(result, r.OpenResult)
    except TypeError as error:
        assert "expected OpenResult, got BalanceResult" in str(error)
    else:
        raise AssertionError("expect accepted the wrong class")


ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
names = st.text(min_size=1, max_size=12)
optional = st.none() | ints

RESULTS: st.SearchStrategy[Any] = st.one_of(
    st.builds(r.GenesisResult, ints),
    st.builds(r.ClockResult, ints, ints),
    st.builds(r.MarketResult, names),
    st.builds(r.StatusResult, names, st.sampled_from(MarketStatus)),
    st.builds(r.BalanceResult, ints),
    st.builds(r.OpenResult, ints, ints, ints, ints, ints, ints, ints, ints),
    st.builds(r.PortfolioOpenResult, ints, ints, ints, ints, ints, ints, ints, ints, ints),
    st.builds(r.CloseResult, ints, ints, ints, ints, ints, ints, ints, optional, optional),
    st.builds(r.MarginResult, ints, ints),
    st.builds(r.ModeResult, names, st.sampled_from(MarginMode)),
    st.builds(
        r.SettleResult, names, st.none() | st.sampled_from(Outcome), ints, ints, ints, ints, ints
    ),
    st.builds(
        r.BatchResult,
        st.lists(names),
        ints,
        ints,
        ints,
        ints,
        ints,
        ints,
        st.sampled_from(["pro_rata", "adl"]),
        ints,
        st.dictionaries(
            names, st.builds(r.BatchMarketResult, st.sampled_from(Outcome), ints, ints, ints)
        ),
    ),
    st.builds(r.ParamsResult, st.dictionaries(names, ints | names | st.none())),
)
KIND_OF = {cls: kind for kind, cls in r.RESULT_TYPES.items()}


@given(RESULTS)
def test_any_result_round_trips_through_json_text(result: r.Result) -> None:
    text = json.dumps(r.to_json(result), separators=(",", ":"))
    assert r.from_json(KIND_OF[type(result)], json.loads(text)) == result


def test_a_retried_client_order_gets_an_equal_typed_result_from_sqlite_after_restart(
    tmp_path: Path,
) -> None:
    """``client_orders`` stores the result as JSON; after a restart the retry answers the
    decoded typed result, equal to the original (an isolated open and a portfolio close)."""
    url = f"sqlite:///{tmp_path}/retry.db"
    setup: list[Command] = [
        CreateMarket(market="m"),
        Deposit("a", 1_000 * USD),
        Deposit("p", 1_000 * USD),
        SetMarginMode("p", "portfolio"),
    ]
    opening = Open("a", "m", "A", 100 * USD, 300, client_order_id="open-1")
    pm_open = OpenPortfolio("p", "m", "B", 50 * USD)
    with Sequencer.open(url, PARAMS) as sequencer:
        sequencer.execute(setup)
        first = sequencer.submit(opening)
        held = expect(sequencer.submit(pm_open).result, r.PortfolioOpenResult).position_id
        closing = Close("p", held, notional=20 * USD, client_order_id="close-1")
        closed = sequencer.submit(closing)
    assert isinstance(closed.result, r.CloseResult) and closed.result.locked is not None
    with Sequencer.open(url) as reopened:
        again = reopened.submit(opening)
        again_close = reopened.submit(closing)
        stored = reopened.state.client_orders[("p", "close-1")]
    assert again.duplicate and again_close.duplicate
    assert type(again.result) is r.OpenResult and again.result == first.result
    assert again.command_seq == first.command_seq
    assert again_close.result == closed.result and again_close.command_seq == closed.command_seq
    assert stored == r.StoredOrder(stored.fingerprint, closed.command_seq, closed.result)
