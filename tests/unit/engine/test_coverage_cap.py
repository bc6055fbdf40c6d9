"""cap_rule: coverage, decided exactly as docs/concepts.md says, checked against the reference.

An open is refused (COVERAGE_CAP_EXCEEDED) iff, after it, the sum over all live markets (open
or halted) of each market's worst-case resolution shortfall would exceed the fund. The book
below has several live markets with vaults, a halted one, a resolved one and increases of
existing positions, and each order's fate is compared with the independent reference."""

from __future__ import annotations

import pytest
from engine_reference import FUND, Reference, RefMarket

from prophex.engine.commands import (
    Close,
    Command,
    CreateMarket,
    Deposit,
    Halt,
    Open,
    Resolve,
    SetParams,
)
from prophex.engine.exchange import Exchange
from prophex.errors import ProphexError
from prophex.money import MICRO, format_usd
from prophex.params import profile

USD = MICRO
PARAMS = profile("mature", cap_rule="coverage", if_seed=150, fee_rate="0.0013", wallet_cap=50_000)


def _mirror(ref: Reference, command: Command) -> None:
    if isinstance(command, CreateMarket):
        virtual = PARAMS.rules().virtual_oi
        ref.markets[command.market] = RefMarket(command.market, command.kind, virtual, False)
    elif isinstance(command, Deposit):
        ref.deposit(command.account, command.amount)
    elif isinstance(command, Halt):
        ref.markets[command.market].status = "halted"
    elif isinstance(command, Resolve):
        ref.resolve(command.market, command.outcome)
    elif isinstance(command, Close):
        ref.close(
            command.position_id, command.notional or ref.positions[command.position_id].notional
        )
    elif isinstance(command, Open):
        ref.open(
            command.account, command.market, command.side, command.margin, command.leverage_centi
        )


def test_coverage_decisions_match_the_reference() -> None:
    exchange = Exchange.create(PARAMS)
    ref = Reference(PARAMS)
    ref.move("external", FUND, PARAMS.rules().if_seed)
    setup: list[Command] = [
        *(CreateMarket(market=m) for m in ("m1", "m2", "m3", "gone")),
        *(Deposit(a, 20_000 * USD) for a in ("a", "b", "c")),
        Open("a", "gone", "A", 50 * USD, 200),
        Resolve("gone", "B"),  # resolved: no longer counts
        Open("b", "m3", "A", 40 * USD, 300),
        Halt("m3"),  # halted: still counts
    ]
    for command in setup:
        exchange.apply(command)
        _mirror(ref, command)
    accepted = refused = 0
    sizes = [30, 45, 60, 25, 80, 15, 120, 10, 35, 5, 200, 3]
    for i, margin in enumerate(sizes * 3):
        account, market = "abc"[i % 3], ("m1", "m2")[i % 2]
        side = "AB"[(i // 2) % 2]
        # passes alternate 1x (margin above cost) and 5x (below): increases cross regimes
        leverage = (100, 500)[(i // 12) % 2]
        order = Open(account, market, side, margin * USD + i, leverage)
        worst = ref.worst_case_after(account, market, side, order.margin, leverage)
        fund = ref.bal(FUND)
        try:
            exchange.apply(order)
        except ProphexError as error:
            assert error.code == "COVERAGE_CAP_EXCEEDED", error.code
            assert worst > fund
            assert error.details == {
                "worst_case_shortfall": format_usd(worst),
                "insurance_fund": format_usd(fund),
            }
            refused += 1
            continue
        assert worst <= fund
        _mirror(ref, order)
        accepted += 1
        if i % 5 == 4:  # realised losses and profits move the vaults
            pid = exchange.state.open_by_key[(account, market, side)]
            close = Close(account, pid, notional=exchange.state.positions[pid].notional // 2)
            exchange.apply(close)
            _mirror(ref, close)
        assert exchange.state.balance(FUND) == ref.bal(FUND)
    assert accepted >= 5 and refused >= 5


def test_refusals_report_the_exact_worst_case_for_increases() -> None:
    """With the fund already short (the book was built under the fixed rule), every order is
    refused, and each refusal's worst case must equal the reference's, including increases of
    minority-side positions whose extra collectible lowers the worst case."""
    exchange = Exchange.create(PARAMS.with_overrides({"cap_rule": "fixed"}))
    ref = Reference(PARAMS.with_overrides({"cap_rule": "fixed"}))
    ref.move("external", FUND, PARAMS.rules().if_seed)
    setup: list[Command] = [
        CreateMarket(market="m"),
        CreateMarket(market="n"),
        *(Deposit(a, 20_000 * USD) for a in ("a", "b", "c", "d")),
        Open("a", "m", "A", 400 * USD, 500),
        Open("b", "m", "A", 300 * USD, 250),
        Open("c", "m", "B", 100 * USD, 100),  # minority at 1x: margin above cost
        Open("d", "m", "B", 50 * USD, 500),  # minority at 5x: margin below cost
        Open("a", "n", "B", 300 * USD, 500),
    ]
    for command in setup:
        exchange.apply(command)
        _mirror(ref, command)
    exchange.apply(SetParams(params={"cap_rule": "coverage"}))
    ref.params = ref.params.with_overrides({"cap_rule": "coverage"})
    orders = [
        Open("c", "m", "B", 7 * USD + 1, 500),
        Open("c", "m", "B", 70 * USD + 3, 100),
        Open("d", "m", "B", 30 * USD + 5, 100),
        Open("d", "m", "B", 3 * USD + 7, 500),
        Open("a", "m", "A", 20 * USD + 9, 100),
        Open("b", "n", "A", 20 * USD + 11, 300),
    ]
    for order in orders:
        worst = ref.worst_case_after(
            order.account, order.market, order.side, order.margin, order.leverage_centi
        )
        with pytest.raises(ProphexError) as refused:
            exchange.apply(order)
        assert refused.value.code == "COVERAGE_CAP_EXCEEDED"
        assert refused.value.details["worst_case_shortfall"] == format_usd(worst)
