"""The user form of commands (:mod:`prophex.engine.user_form`), pinned row by row: each accepted
body and the exact canonical command it becomes, each refused body and the exact error class,
message and field. Command files and the API depend on these texts; a table is what kills a
changed message, a dropped key or a flipped bound (docs/mutation.md)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from prophex.engine import commands
from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    CreateMarket,
    Deposit,
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
)
from prophex.engine.user_form import parse_leverage, parse_user_command
from prophex.errors import InvalidAmount, InvalidCommand, LeverageTooHigh, ProphexError

ACCEPTED: list[tuple[dict[str, Any], Any]] = [
    (
        {"type": "create_market", "market": "M1"},
        CreateMarket(market="M1", kind="prediction", virtual_oi=None, funding=None),
    ),
    (
        {
            "type": "create_market",
            "market": "btc.100k:2026-12",
            "kind": "perpetual",
            "virtual_oi": "2500.5",
            "funding": False,
            "wallet_cap": 7,
            "market_oi_cap": "1000000",
            "question": "Q?",
            "cluster": "crypto",
            "underlying": "BTC",
            "contract_kind": "above",
            "strike": 100000,
            "direction": "up",
            "group": "g1",
        },
        CreateMarket(
            market="btc.100k:2026-12",
            kind="perpetual",
            virtual_oi=2_500_500_000,
            funding=False,
            question="Q?",
            cluster="crypto",
            underlying="BTC",
            contract_kind="above",
            strike="100000",
            direction="up",
            group="g1",
            wallet_cap=7_000_000,
            market_oi_cap=1_000_000_000_000,
        ),
    ),
    (
        {"type": "create_market", "market": "M2", "funding": True, "virtual_oi": None},
        CreateMarket(market="M2", funding=True),
    ),
    ({"type": "deposit", "account": "alice", "amount": "12.345678"}, Deposit("alice", 12_345_678)),
    ({"type": "withdraw", "account": "a_b-c", "amount": 3}, Withdraw("a_b-c", 3_000_000)),
    ({"type": "deposit", "account": "bob", "amount": 0.5}, Deposit("bob", 500_000)),
    (
        {
            "type": "open",
            "account": "alice",
            "market": "M1",
            "side": "A",
            "margin": "100",
            "leverage": 3,
        },
        Open("alice", "M1", "A", 100_000_000, 300, None, None),
    ),
    (
        {
            "type": "open",
            "account": "alice",
            "market": "M1",
            "side": "B",
            "margin": "1.5",
            "leverage": "2.5",
            "max_avg_price": "0.55",
            "client_order_id": "c-1",
        },
        Open("alice", "M1", "B", 1_500_000, 250, Fraction(11, 20), "c-1"),
    ),
    (
        {
            "type": "open",
            "account": "alice",
            "market": "M1",
            "side": "A",
            "margin": "1",
            "leverage": 1.25,
            "max_avg_price": 0.25,
        },
        Open("alice", "M1", "A", 1_000_000, 125, Fraction(1, 4), None),
    ),
    (
        {"type": "open", "account": "pm", "market": "M1", "side": "B", "notional": "250"},
        OpenPortfolio("pm", "M1", "B", 250_000_000, None, None),
    ),
    (
        {
            "type": "open",
            "account": "pm",
            "market": "M1",
            "side": "A",
            "notional": "2",
            "max_avg_price": "0.6",
            "client_order_id": "o9",
            "margin": None,
            "leverage": None,
        },
        OpenPortfolio("pm", "M1", "A", 2_000_000, Fraction(3, 5), "o9"),
    ),
    (
        {"type": "set_margin_mode", "account": "pm", "mode": "portfolio"},
        SetMarginMode("pm", "portfolio"),
    ),
    (
        {"type": "set_margin_mode", "account": "pm", "mode": "isolated"},
        SetMarginMode("pm", "isolated"),
    ),
    ({"type": "close", "account": "alice", "position_id": 7}, Close("alice", 7)),
    (
        {
            "type": "close",
            "account": "alice",
            "position_id": "12",
            "notional": "10",
            "min_avg_price": "0.4",
            "client_order_id": "x",
        },
        Close("alice", 12, 10_000_000, Fraction(2, 5), "x"),
    ),
    ({"type": "close", "account": "alice", "position_id": 1}, Close("alice", 1)),
    ({"type": "close", "account": "alice", "position_id": " 1"}, Close("alice", 1)),
    (
        {"type": "add_margin", "account": "alice", "position_id": 3, "amount": "0.000001"},
        AddMargin("alice", 3, 1),
    ),
    ({"type": "halt", "market": "M1"}, Halt("M1")),
    ({"type": "resume", "market": "M1"}, Resume("M1")),
    ({"type": "void", "market": "M1"}, Void("M1")),
    ({"type": "resolve", "market": "M1", "outcome": "B"}, Resolve("M1", "B")),
    ({"type": "resolve", "market": "M1", "outcome": "UNKNOWN"}, Resolve("M1", "UNKNOWN")),
    (
        {"type": "resolve_batch", "outcomes": {"M2": "UNKNOWN", "M1": "A"}},
        ResolveBatch({"M1": "A", "M2": "UNKNOWN"}, "pro_rata"),
    ),
    (
        {"type": "resolve_batch", "outcomes": {"M1": "B"}, "loss_sharing": "adl"},
        ResolveBatch({"M1": "B"}, "adl"),
    ),
    ({"type": "advance_clock", "seconds": 1}, AdvanceClock(1)),
    ({"type": "advance_clock", "seconds": 315_360_000}, AdvanceClock(315_360_000)),
    (
        {"type": "set_params", "params": {"fee_bps": 10}},
        SetParams({"fee_bps": 10}),
    ),
]


@pytest.mark.parametrize(("body", "expected"), ACCEPTED)
def test_accepted_user_commands_become_exactly_this_canonical_command(
    body: dict[str, Any], expected: Any
) -> None:
    command = parse_user_command(body)
    assert type(command) is type(expected)
    assert command == expected
    assert commands.from_dict(commands.to_dict(command)) == expected


def test_resolve_batch_outcomes_are_sorted_by_market() -> None:
    command = parse_user_command({"type": "resolve_batch", "outcomes": {"Z": "A", "B": "B"}})
    assert isinstance(command, ResolveBatch)
    assert list(command.outcomes) == ["B", "Z"]


def test_set_params_copies_the_overrides() -> None:
    overrides = {"fee_bps": 5}
    command = parse_user_command({"type": "set_params", "params": overrides})
    overrides["fee_bps"] = 6
    assert command == SetParams({"fee_bps": 5})


_NAME_RULE = "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'"
_OPEN = {"type": "open", "account": "a", "market": "M", "side": "A", "margin": "1", "leverage": 2}

REFUSED: list[tuple[Any, type[ProphexError], str, str]] = [
    (["deposit"], InvalidCommand, "a command must be a mapping with a 'type' field", "type"),
    (
        {"type": "teleport"},
        InvalidCommand,
        "unknown command type 'teleport'; expected one of ['add_margin', 'advance_clock', "
        "'close', 'create_market', 'deposit', 'halt', 'open', 'resolve', 'resolve_batch', "
        "'resume', 'set_margin_mode', 'set_params', 'void', 'withdraw']",
        "type",
    ),
    (
        {"market": "M"},
        InvalidCommand,
        "unknown command type None; expected one of ['add_margin', 'advance_clock', "
        "'close', 'create_market', 'deposit', 'halt', 'open', 'resolve', 'resolve_batch', "
        "'resume', 'set_margin_mode', 'set_params', 'void', 'withdraw']",
        "type",
    ),
    (
        {"type": "create_market", "market": "M", "colour": "red", "bogus": 1},
        InvalidCommand,
        "create_market: unknown field 'bogus'",
        "bogus",
    ),
    (
        {"type": "create_market"},
        InvalidCommand,
        "create_market: missing required field 'market'",
        "market",
    ),
    (
        {"type": "create_market", "market": "M", "kind": "scalar"},
        InvalidCommand,
        "kind must be 'prediction' or 'perpetual'",
        "kind",
    ),
    (
        {"type": "create_market", "market": "M", "funding": 1},
        InvalidCommand,
        "funding must be true or false",
        "funding",
    ),
    (
        {"type": "create_market", "market": "M", "question": ["?"]},
        InvalidCommand,
        "question must be a short string",
        "question",
    ),
    (
        {"type": "create_market", "market": "M", "group": True},
        InvalidCommand,
        "group must be a short string",
        "group",
    ),
    (
        {"type": "create_market", "market": "M", "strike": "x" * 201},
        InvalidCommand,
        "strike must be a short string",
        "strike",
    ),
    ({"type": "create_market", "market": "-M"}, InvalidCommand, f"market {_NAME_RULE}", "market"),
    (
        {"type": "create_market", "market": "M" * 65},
        InvalidCommand,
        f"market {_NAME_RULE}",
        "market",
    ),
    ({"type": "create_market", "market": 5}, InvalidCommand, f"market {_NAME_RULE}", "market"),
    (
        {"type": "create_market", "market": "M", "virtual_oi": "-1"},
        InvalidAmount,
        "virtual_oi must be positive, got -1",
        "virtual_oi",
    ),
    (
        {"type": "create_market", "market": "M", "wallet_cap": "1.0000001"},
        InvalidAmount,
        "wallet_cap has more than 6 decimal places: '1.0000001'",
        "wallet_cap",
    ),
    (
        {"type": "create_market", "market": "M", "market_oi_cap": "x"},
        InvalidAmount,
        "market_oi_cap must be a plain decimal number, got 'x'",
        "market_oi_cap",
    ),
    (
        {"type": "deposit", "account": "a", "amount": "1", "memo": "hi"},
        InvalidCommand,
        "deposit: unknown field 'memo'",
        "memo",
    ),
    (
        {"type": "withdraw", "account": "a", "amount": "1", "memo": "hi"},
        InvalidCommand,
        "withdraw: unknown field 'memo'",
        "memo",
    ),
    (
        {"type": "deposit", "amount": "1"},
        InvalidCommand,
        "deposit: missing required field 'account'",
        "account",
    ),
    (
        {"type": "withdraw", "account": "a"},
        InvalidCommand,
        "withdraw: missing required field 'amount'",
        "amount",
    ),
    (
        {"type": "deposit", "account": "a b", "amount": "1"},
        InvalidCommand,
        f"account {_NAME_RULE}",
        "account",
    ),
    (
        {"type": "deposit", "account": "a", "amount": float("nan")},
        InvalidAmount,
        "amount must be finite",
        "amount",
    ),
    (
        {"type": "deposit", "account": "a", "amount": float("inf")},
        InvalidAmount,
        "amount must be finite",
        "amount",
    ),
    (
        {"type": "deposit", "account": "a", "amount": float("-inf")},
        InvalidAmount,
        "amount must be finite",
        "amount",
    ),
    ({**_OPEN, "stop": "1"}, InvalidCommand, "open: unknown field 'stop'", "stop"),
    (
        {k: v for k, v in _OPEN.items() if k != "account"},
        InvalidCommand,
        "open: missing required field 'account'",
        "account",
    ),
    (
        {k: v for k, v in _OPEN.items() if k != "market"},
        InvalidCommand,
        "open: missing required field 'market'",
        "market",
    ),
    (
        {k: v for k, v in _OPEN.items() if k != "side"},
        InvalidCommand,
        "open: missing required field 'side'",
        "side",
    ),
    (
        {k: v for k, v in _OPEN.items() if k != "margin"},
        InvalidCommand,
        "open: missing required field 'margin'",
        "margin",
    ),
    (
        {k: v for k, v in _OPEN.items() if k != "leverage"},
        InvalidCommand,
        "open: missing required field 'leverage'",
        "leverage",
    ),
    ({**_OPEN, "side": "C"}, InvalidCommand, "side must be 'A' or 'B'", "side"),
    ({**_OPEN, "market": ""}, InvalidCommand, f"market {_NAME_RULE}", "market"),
    ({**_OPEN, "account": "é"}, InvalidCommand, f"account {_NAME_RULE}", "account"),
    (
        {**_OPEN, "margin": "1e3"},
        InvalidAmount,
        "margin must be a plain decimal number, got '1e3'",
        "margin",
    ),
    (
        {**_OPEN, "client_order_id": "has space"},
        InvalidCommand,
        f"client_order_id {_NAME_RULE}",
        "client_order_id",
    ),
    (
        {**_OPEN, "max_avg_price": "1"},
        InvalidAmount,
        "max_avg_price must lie strictly between 0 and 1, got '1'",
        "max_avg_price",
    ),
    (
        {**_OPEN, "leverage": None},
        InvalidCommand,
        "open: missing required field 'leverage'",
        "leverage",
    ),
    (
        {
            "type": "open",
            "account": "a",
            "market": "M",
            "side": "A",
            "notional": "1",
            "margin": "1",
        },
        InvalidCommand,
        "open: 'margin' cannot be combined with 'notional' (portfolio-mode opens give a "
        "notional only)",
        "margin",
    ),
    (
        {
            "type": "open",
            "account": "a",
            "market": "M",
            "side": "A",
            "notional": "1",
            "leverage": 2,
        },
        InvalidCommand,
        "open: 'leverage' cannot be combined with 'notional' (portfolio-mode opens give a "
        "notional only)",
        "leverage",
    ),
    (
        {"type": "open", "account": "a", "market": "M", "side": "A", "notional": "1", "stop": 1},
        InvalidCommand,
        "open: unknown field 'stop'",
        "stop",
    ),
    (
        {"type": "open", "market": "M", "side": "A", "notional": "1"},
        InvalidCommand,
        "open: missing required field 'account'",
        "account",
    ),
    (
        {"type": "open", "account": "a", "side": "A", "notional": "1"},
        InvalidCommand,
        "open: missing required field 'market'",
        "market",
    ),
    (
        {"type": "open", "account": "a", "market": "M", "notional": "1"},
        InvalidCommand,
        "open: missing required field 'side'",
        "side",
    ),
    (
        {"type": "open", "account": "a", "market": "M", "side": "b", "notional": "1"},
        InvalidCommand,
        "side must be 'A' or 'B'",
        "side",
    ),
    (
        {"type": "open", "account": "a", "market": "M", "side": "A", "notional": "0"},
        InvalidAmount,
        "notional must be positive, got 0",
        "notional",
    ),
    (
        {
            "type": "open",
            "account": "a",
            "market": "M",
            "side": "A",
            "notional": "1",
            "max_avg_price": "0",
        },
        InvalidAmount,
        "max_avg_price must lie strictly between 0 and 1, got '0'",
        "max_avg_price",
    ),
    (
        {
            "type": "open",
            "account": "a",
            "market": "M",
            "side": "A",
            "notional": "1",
            "client_order_id": "!",
        },
        InvalidCommand,
        f"client_order_id {_NAME_RULE}",
        "client_order_id",
    ),
    (
        {"type": "open", "account": "a", "market": "-M", "side": "A", "notional": "1"},
        InvalidCommand,
        f"market {_NAME_RULE}",
        "market",
    ),
    (
        {"type": "open", "account": "a/", "market": "M", "side": "A", "notional": "1"},
        InvalidCommand,
        f"account {_NAME_RULE}",
        "account",
    ),
    (
        {"type": "set_margin_mode", "account": "a", "mode": "cross"},
        InvalidCommand,
        "mode must be 'isolated' or 'portfolio'",
        "mode",
    ),
    (
        {"type": "set_margin_mode", "account": "a", "mode": "isolated", "x": 1},
        InvalidCommand,
        "set_margin_mode: unknown field 'x'",
        "x",
    ),
    (
        {"type": "set_margin_mode", "account": "a"},
        InvalidCommand,
        "set_margin_mode: missing required field 'mode'",
        "mode",
    ),
    (
        {"type": "set_margin_mode", "mode": "isolated"},
        InvalidCommand,
        "set_margin_mode: missing required field 'account'",
        "account",
    ),
    (
        {"type": "set_margin_mode", "account": "?", "mode": "isolated"},
        InvalidCommand,
        f"account {_NAME_RULE}",
        "account",
    ),
    (
        {"type": "close", "account": "a", "position_id": 1, "leverage": 2},
        InvalidCommand,
        "close: unknown field 'leverage'",
        "leverage",
    ),
    (
        {"type": "close", "position_id": 1},
        InvalidCommand,
        "close: missing required field 'account'",
        "account",
    ),
    (
        {"type": "close", "account": "a"},
        InvalidCommand,
        "close: missing required field 'position_id'",
        "position_id",
    ),
    (
        {"type": "close", "account": "a", "position_id": 0},
        InvalidCommand,
        "position_id must be a positive integer",
        "position_id",
    ),
    (
        {"type": "close", "account": "a", "position_id": "0"},
        InvalidCommand,
        "position_id must be a positive integer",
        "position_id",
    ),
    (
        {"type": "close", "account": "a", "position_id": True},
        InvalidCommand,
        "position_id must be a positive integer",
        "position_id",
    ),
    (
        {"type": "close", "account": "a", "position_id": "one"},
        InvalidCommand,
        "position_id must be a positive integer",
        "position_id",
    ),
    (
        {"type": "close", "account": "a", "position_id": 1, "notional": "-2"},
        InvalidAmount,
        "notional must be positive, got -2",
        "notional",
    ),
    (
        {"type": "close", "account": "a", "position_id": 1, "min_avg_price": "2"},
        InvalidAmount,
        "min_avg_price must lie strictly between 0 and 1, got '2'",
        "min_avg_price",
    ),
    (
        {"type": "close", "account": "a", "position_id": 1, "client_order_id": ""},
        InvalidCommand,
        f"client_order_id {_NAME_RULE}",
        "client_order_id",
    ),
    (
        {"type": "close", "account": " ", "position_id": 1},
        InvalidCommand,
        f"account {_NAME_RULE}",
        "account",
    ),
    (
        {"type": "add_margin", "account": "a", "position_id": 1, "amount": "1", "x": 0},
        InvalidCommand,
        "add_margin: unknown field 'x'",
        "x",
    ),
    (
        {"type": "add_margin", "position_id": 1, "amount": "1"},
        InvalidCommand,
        "add_margin: missing required field 'account'",
        "account",
    ),
    (
        {"type": "add_margin", "account": "a", "amount": "1"},
        InvalidCommand,
        "add_margin: missing required field 'position_id'",
        "position_id",
    ),
    (
        {"type": "add_margin", "account": "a", "position_id": 1},
        InvalidCommand,
        "add_margin: missing required field 'amount'",
        "amount",
    ),
    (
        {"type": "add_margin", "account": "a", "position_id": -3, "amount": "1"},
        InvalidCommand,
        "position_id must be a positive integer",
        "position_id",
    ),
    (
        {"type": "add_margin", "account": "#", "position_id": 1, "amount": "1"},
        InvalidCommand,
        f"account {_NAME_RULE}",
        "account",
    ),
    (
        {"type": "add_margin", "account": "a", "position_id": 1, "amount": "0"},
        InvalidAmount,
        "amount must be positive, got 0",
        "amount",
    ),
    ({"type": "halt", "market": "M", "x": 1}, InvalidCommand, "halt: unknown field 'x'", "x"),
    ({"type": "resume", "market": "M", "x": 1}, InvalidCommand, "resume: unknown field 'x'", "x"),
    ({"type": "void", "market": "M", "x": 1}, InvalidCommand, "void: unknown field 'x'", "x"),
    ({"type": "halt"}, InvalidCommand, "halt: missing required field 'market'", "market"),
    ({"type": "resume"}, InvalidCommand, "resume: missing required field 'market'", "market"),
    ({"type": "void"}, InvalidCommand, "void: missing required field 'market'", "market"),
    ({"type": "halt", "market": "."}, InvalidCommand, f"market {_NAME_RULE}", "market"),
    (
        {"type": "resolve", "market": "M", "outcome": "A", "x": 1},
        InvalidCommand,
        "resolve: unknown field 'x'",
        "x",
    ),
    (
        {"type": "resolve", "outcome": "A"},
        InvalidCommand,
        "resolve: missing required field 'market'",
        "market",
    ),
    (
        {"type": "resolve", "market": "M"},
        InvalidCommand,
        "resolve: missing required field 'outcome'",
        "outcome",
    ),
    (
        {"type": "resolve", "market": "M", "outcome": "C"},
        InvalidCommand,
        "outcome must be 'A', 'B' or 'UNKNOWN'",
        "outcome",
    ),
    (
        {"type": "resolve", "market": "M M", "outcome": "A"},
        InvalidCommand,
        f"market {_NAME_RULE}",
        "market",
    ),
    (
        {"type": "resolve_batch", "outcomes": {"M": "A"}, "x": 1},
        InvalidCommand,
        "resolve_batch: unknown field 'x'",
        "x",
    ),
    (
        {"type": "resolve_batch"},
        InvalidCommand,
        "resolve_batch: missing required field 'outcomes'",
        "outcomes",
    ),
    (
        {"type": "resolve_batch", "outcomes": {}},
        InvalidCommand,
        "outcomes must be a non-empty mapping market -> outcome",
        "outcomes",
    ),
    (
        {"type": "resolve_batch", "outcomes": [["M", "A"]]},
        InvalidCommand,
        "outcomes must be a non-empty mapping market -> outcome",
        "outcomes",
    ),
    (
        {"type": "resolve_batch", "outcomes": {"M": "A", "N": "void"}},
        InvalidCommand,
        "outcome of N must be 'A', 'B' or 'UNKNOWN'",
        "outcomes",
    ),
    (
        {"type": "resolve_batch", "outcomes": {"bad name": "A"}},
        InvalidCommand,
        f"outcomes {_NAME_RULE}",
        "outcomes",
    ),
    (
        {"type": "resolve_batch", "outcomes": {"M": "A"}, "loss_sharing": "socialised"},
        InvalidCommand,
        "loss_sharing must be 'pro_rata' or 'adl'",
        "loss_sharing",
    ),
    (
        {"type": "advance_clock", "seconds": 1, "x": 1},
        InvalidCommand,
        "advance_clock: unknown field 'x'",
        "x",
    ),
    (
        {"type": "advance_clock"},
        InvalidCommand,
        "advance_clock: missing required field 'seconds'",
        "seconds",
    ),
    (
        {"type": "advance_clock", "seconds": 0},
        InvalidCommand,
        "seconds must be a positive integer (at most ten years)",
        "seconds",
    ),
    (
        {"type": "advance_clock", "seconds": 315_360_001},
        InvalidCommand,
        "seconds must be a positive integer (at most ten years)",
        "seconds",
    ),
    (
        {"type": "advance_clock", "seconds": True},
        InvalidCommand,
        "seconds must be a positive integer (at most ten years)",
        "seconds",
    ),
    (
        {"type": "advance_clock", "seconds": "60"},
        InvalidCommand,
        "seconds must be a positive integer (at most ten years)",
        "seconds",
    ),
    (
        {"type": "set_params", "params": {}, "x": 1},
        InvalidCommand,
        "set_params: unknown field 'x'",
        "x",
    ),
    (
        {"type": "set_params"},
        InvalidCommand,
        "set_params: missing required field 'params'",
        "params",
    ),
    (
        {"type": "set_params", "params": [["fee_bps", 1]]},
        InvalidCommand,
        "params must be a mapping of parameter overrides",
        "params",
    ),
]


@pytest.mark.parametrize(("body", "error", "message", "field"), REFUSED)
def test_refused_user_commands_name_the_field(
    body: Any, error: type[ProphexError], message: str, field: str
) -> None:
    with pytest.raises(ProphexError) as caught:
        parse_user_command(body)
    assert type(caught.value) is error
    assert caught.value.message == message
    assert caught.value.details["field"] == field


@pytest.mark.parametrize(
    ("value", "max_centi", "centi"),
    [
        (1, None, 100),
        ("2.5", None, 250),
        (" 3 ", 300, 300),
        (1.01, None, 101),
        ("1000", None, 100_000),
        (1, 100, 100),
    ],
)
def test_leverage_in_hundredths(value: Any, max_centi: int | None, centi: int) -> None:
    assert parse_leverage(value, max_centi) == centi
    assert commands.parse_leverage(value, max_centi) == centi


@pytest.mark.parametrize(
    ("value", "max_centi", "error", "message", "extra"),
    [
        (True, None, InvalidCommand, 'leverage must be a number such as 3 or "2.5"', {}),
        (None, None, InvalidCommand, 'leverage must be a number such as 3 or "2.5"', {}),
        ("x", None, InvalidCommand, "leverage is not a number: 'x'", {}),
        ("nan", None, InvalidCommand, "leverage must be finite with at most 2 decimals", {}),
        ("1.001", None, InvalidCommand, "leverage must be finite with at most 2 decimals", {}),
        ("0.99", None, InvalidCommand, "leverage must be at least 1, got 0.99", {}),
        (
            "3.01",
            300,
            LeverageTooHigh,
            "leverage 3.01 exceeds the maximum 3",
            {"max_leverage": "3"},
        ),
        ("1000.01", None, LeverageTooHigh, "leverage 1000.01 is absurd", {}),
    ],
)
def test_leverage_refusals(
    value: Any,
    max_centi: int | None,
    error: type[ProphexError],
    message: str,
    extra: dict[str, str],
) -> None:
    with pytest.raises(ProphexError) as caught:
        parse_leverage(value, max_centi)
    assert type(caught.value) is error
    assert caught.value.message == message
    assert caught.value.details == {"field": "leverage", **extra}


def test_the_commands_module_delegates_to_the_user_form() -> None:
    assert commands.parse_user_command({"type": "halt", "market": "M"}) == Halt("M")
    with pytest.raises(LeverageTooHigh):
        commands.parse_leverage("3.01", 300)
    with pytest.raises(InvalidCommand):
        commands.parse_leverage("abc", 300)
