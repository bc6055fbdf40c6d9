"""Every refusal the engine makes: its stable code, its exact message and its details.

Bots switch on the code and people read the message; the details name the failing check with
its numbers. A refusal must change nothing (asserted through the state digest). The read-only
queries (quote, cap headroom, resolution preview, idempotent replay, receipts) are pinned here
too."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

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
    Resolve,
    ResolveBatch,
    Void,
    Withdraw,
)
from prophex.engine.exchange import Exchange
from prophex.engine.liquidation import HeapEntry
from prophex.engine.state import digest
from prophex.errors import InsufficientBalance, InvalidCommand, ProphexError
from prophex.money import MICRO
from prophex.params import profile

USD = MICRO


@pytest.fixture
def exchange() -> Exchange:
    ex = Exchange.create(profile("launch", fee_rate=0, funding_interval_seconds=60))
    ex.apply(CreateMarket(market="m"))
    ex.apply(CreateMarket(market="perp", kind="perpetual"))
    ex.apply(CreateMarket(market="h"))
    ex.apply(Halt("h"))
    ex.apply(CreateMarket(market="done"))
    ex.apply(Void("done"))
    ex.apply(Deposit("t", 500 * USD))
    ex.apply(Open("t", "m", "A", 100 * USD, 300))  # position 1: 300 notional
    return ex


REFUSALS: list[tuple[Command, str, str, dict[str, Any]]] = [
    (
        Resolve("perp", "A"),
        "INVALID_COMMAND",
        "perpetual markets never resolve; void it instead",
        {"field": "market"},
    ),
    (
        Resolve("done", "A"),
        "MARKET_NOT_OPEN",
        "market done is voided; cannot resolve",
        {"market": "done", "status": "voided", "action": "resolve"},
    ),
    (
        Void("done"),
        "MARKET_NOT_OPEN",
        "market done is voided; cannot void",
        {"market": "done", "status": "voided", "action": "void"},
    ),
    (
        Open("t", "h", "A", 10 * USD, 100),
        "MARKET_NOT_OPEN",
        "market h is halted; cannot open a position",
        {"market": "h", "status": "halted", "action": "open a position"},
    ),
    (
        Halt("h"),
        "MARKET_NOT_OPEN",
        "market h is halted; cannot halt",
        {"market": "h", "status": "halted", "action": "halt"},
    ),
    (
        Open("t", "m", "C", 10 * USD, 100),  # type: ignore[arg-type]
        "INVALID_COMMAND",
        "side must be 'A' or 'B'",
        {"field": "side"},
    ),
    (
        Open("t", "m", "A", 10 * USD, 99),
        "INVALID_COMMAND",
        "leverage must be at least 1",
        {"field": "leverage"},
    ),
    (
        Open("t", "m", "A", 10 * USD, 301),
        "LEVERAGE_TOO_HIGH",
        "leverage 3.01 exceeds the maximum 3",
        {"field": "leverage", "max_leverage": "3"},
    ),
    (
        Open("t", "m", "A", 999_999, 100),
        "POSITION_TOO_SMALL",
        "notional 0.999999 USD is below the minimum 1 USD",
        {"field": "margin"},
    ),
    (
        Open("t", "m", "A", 0, 100),
        "INVALID_AMOUNT",
        "margin must be positive, got 0",
        {"field": "margin"},
    ),
    (
        Open("t", "m", "B", 450 * USD, 100),
        "INSUFFICIENT_BALANCE",
        "margin plus opening fee needs 450 USD but the wallet has 400 USD free",
        {
            "check": "margin plus opening fee",
            "required": "450",
            "available": "400",
        },
    ),
    (
        Open("t", "m", "B", 300 * USD, 300),
        "WALLET_CAP_EXCEEDED",
        "order of 900 USD notional exceeds the wallet cap: 700 USD of 1000 left",
        {"cap": "1000", "used": "300", "headroom": "700", "requested": "900"},
    ),
    (
        Withdraw("t", 401 * USD),
        "INSUFFICIENT_BALANCE",
        "withdraw needs 401 USD but the wallet has 400 USD free",
        {"check": "withdraw", "required": "401", "available": "400"},
    ),
    (
        AddMargin("t", 1, 401 * USD),
        "INSUFFICIENT_BALANCE",
        "add margin needs 401 USD but the wallet has 400 USD free",
        {"check": "add margin", "required": "401", "available": "400"},
    ),
    (
        Close("t", 1, notional=301 * USD),
        "CLOSE_EXCEEDS_POSITION",
        "cannot close 301 USD of a 300 USD position",
        {"requested": "301", "held": "300"},
    ),
    (
        Close("t", 1, min_avg_price=Fraction(99, 100)),
        "SLIPPAGE_EXCEEDED",
        "average exit price 0.507353 is below the bound 0.990000",
        {"average_price": "0.507353", "bound": "0.990000"},
    ),
    (
        Close("x", 1),
        "NOT_FOUND",
        "no open position 1 for account 'x'",
        {"resource": "position"},
    ),
    (
        Close("t", 99),
        "NOT_FOUND",
        "no open position 99 for account 't'",
        {"resource": "position"},
    ),
    (
        Open("t", "zz", "A", 10 * USD, 100),
        "NOT_FOUND",
        "market 'zz' does not exist",
        {"resource": "market"},
    ),
    (
        CreateMarket(market="m"),
        "ALREADY_EXISTS",
        "market 'm' already exists",
        {"resource": "market"},
    ),
    (
        ResolveBatch({"m": "C"}),  # type: ignore[dict-item]
        "INVALID_COMMAND",
        "outcome of m must be 'A', 'B' or 'UNKNOWN'",
        {"field": "outcomes"},
    ),
    (
        CreateMarket(market="x", wallet_cap=0),
        "INVALID_AMOUNT",
        "wallet_cap must be positive, got 0",
        {"field": "wallet_cap"},
    ),
    (
        object(),  # type: ignore[list-item]
        "INVALID_COMMAND",
        "unknown command object",
        {"field": "type"},
    ),
    (
        Genesis(params={}),
        "INVALID_COMMAND",
        "genesis must be the first command",
        {"field": "type"},
    ),
    (
        AdvanceClock(0),
        "CLOCK_ERROR",
        "the simulated clock only moves forward",
        {"field": "seconds"},
    ),
    (
        AdvanceClock(60 * 100_001),
        "INVALID_COMMAND",
        "advance crosses 100001 funding intervals; split it into smaller steps",
        {"field": "seconds"},
    ),
    (
        Deposit("t", 10**16),
        "INVALID_AMOUNT",
        "amount exceeds the maximum of 1000000000 USD",
        {"field": "amount"},
    ),
]


@pytest.mark.parametrize(
    ("command", "code", "message", "details"),
    REFUSALS,
    ids=[f"{type(c).__name__}-{code}-{i}" for i, (c, code, _, _) in enumerate(REFUSALS)],
)
def test_refusal_code_message_and_details(
    exchange: Exchange, command: Command, code: str, message: str, details: dict[str, Any]
) -> None:
    before = digest(exchange.state)
    with pytest.raises(ProphexError) as refused:
        exchange.apply(command)
    assert (refused.value.code, refused.value.message, refused.value.details) == (
        code,
        message,
        details,
    )
    assert digest(exchange.state) == before


def test_advance_clock_at_the_interval_limit_is_accepted(exchange: Exchange) -> None:
    assert exchange.apply(AdvanceClock(60 * 100_000)).result.time == 60 * 100_000


def test_coverage_refusal_names_shortfall_and_fund() -> None:
    exchange = Exchange.create(profile("launch", fee_rate=0, cap_rule="coverage", if_seed=1))
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("t", 500 * USD))
    with pytest.raises(ProphexError) as refused:
        exchange.apply(Open("t", "m", "A", 100 * USD, 300))
    assert refused.value.code == "COVERAGE_CAP_EXCEEDED"
    shortfall = refused.value.details["worst_case_shortfall"]
    assert refused.value.details["insurance_fund"] == "1"
    assert refused.value.message == (
        f"after this order the worst-case resolution shortfalls would total {shortfall} USD "
        "but the insurance fund holds 1 USD"
    )


def test_duplicate_client_order_id_for_another_order(exchange: Exchange) -> None:
    first = exchange.apply(Open("t", "m", "A", 10 * USD, 100, client_order_id="k1"))
    replay = exchange.apply(Open("t", "m", "A", 10 * USD, 100, client_order_id="k1"))
    assert replay.duplicate and not first.duplicate
    assert (replay.command_seq, replay.kind) == (first.command_seq, "open")
    assert replay.result == first.result
    assert replay.transactions == []
    with pytest.raises(ProphexError) as refused:
        exchange.apply(Open("t", "m", "B", 10 * USD, 100, client_order_id="k1"))
    assert refused.value.code == "DUPLICATE_CLIENT_ORDER_ID"
    assert refused.value.message == "client_order_id 'k1' was already used for a different request"
    assert refused.value.details == {"client_order_id": "k1"}


def test_quote_enforces_by_default_and_reports_when_asked(exchange: Exchange) -> None:
    order = Open("t", "m", "B", 450 * USD, 100)
    with pytest.raises(InsufficientBalance):
        exchange.plan_open(order)
    plan = exchange.plan_open(order, enforce=False)
    assert (plan.notional, plan.fee, plan.available) == (450 * USD, 0, 400 * USD)
    assert plan.headroom.wallet_used == 300 * USD  # per wallet and market, both sides
    headroom = exchange.cap_headroom("t", exchange.market("m"))
    assert (headroom.wallet_used, headroom.wallet_cap) == (300 * USD, 1_000 * USD)
    assert exchange.cap_headroom("u", exchange.market("m")).wallet_used == 0


def test_resolution_preview_with_a_vault_and_a_fund(exchange: Exchange) -> None:
    """The O(1) preview reads the vault and the fund: both must be the market's own."""
    exchange.apply(Deposit("b", 500 * USD))
    pid = exchange.apply(Open("b", "m", "B", 100 * USD, 300)).result.position_id
    exchange.apply(Open("t", "m", "A", 50 * USD, 300))  # B loses on paper
    exchange.apply(Close("b", pid, notional=100 * USD))  # a realised loss fills the vault
    assert exchange.state.balance("vault:m") > 0
    with pytest.raises(InvalidCommand) as refused:
        exchange.resolution_shortfall("m", "UNKNOWN")
    assert (refused.value.message, refused.value.details) == (
        "outcome must be 'A' or 'B'",
        {"field": "outcome"},
    )
    preview = exchange.resolution_shortfall("m", "A")
    vault, fund = exchange.state.balance("vault:m"), exchange.state.balance("insurance_fund")
    assert preview["vault_after_losers"] >= vault
    result = exchange.apply(Resolve("m", "A")).result
    assert result.owed_to_winners == preview["owed_to_winners"]
    assert result.fund_draw == preview["fund_draw"] == min(preview["shortfall"], fund)
    assert result.haircut_total == preview["uncovered"]


def test_compaction_keeps_exactly_the_liquidatable_positions(exchange: Exchange) -> None:
    for name, margin, lev in (("u", 50, 300), ("v", 80, 100), ("w", 60, 250)):
        exchange.apply(Deposit(name, 500 * USD))
        exchange.apply(Open(name, "m", "A", margin * USD, lev))
    exchange.apply(Deposit("z", 500 * USD))
    exchange.apply(Open("z", "m", "B", 40 * USD, 300))
    market = exchange.market("m")
    exchange._core.compact(market, "A")
    entries = {(e.num, e.den, e.position_id, e.version) for e in market.liquidations.entries("A")}
    expected = {
        (p.cost_basis - p.margin, p.notional, p.id, p.version)
        for p in exchange.state.positions.values()
        if p.status == "open" and p.market == "m" and p.side == "A" and p.cost_basis > p.margin
    }
    assert entries == expected
    assert any(p.cost_basis <= p.margin for p in exchange.state.positions.values())
    assert all(isinstance(e, HeapEntry) for e in market.liquidations.entries("A"))


def test_receipt_to_dict(exchange: Exchange) -> None:
    receipt = exchange.apply(Deposit("t", 1 * USD))
    assert receipt.to_dict() == {
        "command_seq": receipt.command_seq,
        "kind": "deposit",
        "duplicate": False,
        "result": {"balance": 401 * USD},
        "transactions": [
            {
                "seq": receipt.transactions[0].seq,
                "kind": "deposit",
                "postings": [("external", -1 * USD), ("wallet:t", 1 * USD)],
                "data": {"account": "t", "amount": 1 * USD},
            }
        ],
    }
