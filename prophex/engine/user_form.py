"""The user form of commands: what people write in command files and send to the API (USD as
decimal strings, leverage as ``3`` or ``"2.5"``, prices as ``"0.55"``), validated strictly and
turned into the canonical dataclasses of :mod:`prophex.engine.commands`. Every error names the
field."""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import partial
from typing import Any

from prophex.engine.commands import (
    MARKET_TAGS,
    AddMargin,
    AdvanceClock,
    Close,
    Command,
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
from prophex.errors import InvalidAmount, InvalidCommand, LeverageTooHigh
from prophex.money import parse_price, parse_usd

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _name(value: Any, fieldname: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidCommand(
            f"{fieldname} must be 1-64 characters of letters, digits, '_', '.', ':' or '-'",
            field=fieldname,
        )
    return value


def _usd(value: Any, fieldname: str) -> int:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidAmount(fieldname, f"{fieldname} must be finite")
        value = repr(value)
    return parse_usd(value, field=fieldname)


def parse_leverage(value: Any, max_centi: int | None = None) -> int:
    """Leverage as hundredths (``"2.5"`` -> 250). Must be >= 1 and at most two decimals."""
    if isinstance(value, bool) or value is None:
        raise InvalidCommand('leverage must be a number such as 3 or "2.5"', field="leverage")
    try:
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidCommand(f"leverage is not a number: {value!r}", field="leverage") from None
    if not dec.is_finite() or dec * 100 != (dec * 100).to_integral_value():
        raise InvalidCommand("leverage must be finite with at most 2 decimals", field="leverage")
    if dec < 1:
        raise InvalidCommand(f"leverage must be at least 1, got {value}", field="leverage")
    centi = int(dec * 100)
    if max_centi is not None and centi > max_centi:
        raise LeverageTooHigh(
            f"leverage {dec} exceeds the maximum {Decimal(max_centi) / 100}",
            field="leverage",
            max_leverage=str(Decimal(max_centi) / 100),
        )
    if centi > 100_000:
        raise LeverageTooHigh(f"leverage {dec} is absurd", field="leverage")
    return centi


def _optional_price(body: dict[str, Any], key: str) -> Fraction | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    return parse_price(value, field=key)


def _position_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        try:
            parsed = int(str(value))
        except ValueError:
            raise InvalidCommand(
                "position_id must be a positive integer", field="position_id"
            ) from None
        if parsed < 1:
            raise InvalidCommand("position_id must be a positive integer", field="position_id")
        return parsed
    return value


def _check_keys(body: dict[str, Any], kind: str, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed - {"type"})
    if unknown:
        raise InvalidCommand(f"{kind}: unknown field {unknown[0]!r}", field=unknown[0])


def _require(body: dict[str, Any], kind: str, *keys: str) -> None:
    for key in keys:
        if body.get(key) is None:
            raise InvalidCommand(f"{kind}: missing required field {key!r}", field=key)


def parse_user_command(body: Any) -> Command:
    """Turn one user-form command (a dict with ``type``) into its canonical form."""
    if not isinstance(body, dict):
        raise InvalidCommand("a command must be a mapping with a 'type' field", field="type")
    kind = body.get("type")
    if kind not in _USER_PARSERS:
        raise InvalidCommand(
            f"unknown command type {kind!r}; expected one of {sorted(_USER_PARSERS)}", field="type"
        )
    command: Command = _USER_PARSERS[kind](body)
    return command


def _p_create_market(b: dict[str, Any]) -> Command:
    allowed = {f.name for f in fields(CreateMarket)}
    _check_keys(b, "create_market", allowed)
    _require(b, "create_market", "market")
    kind = b.get("kind", "prediction")
    if kind not in ("prediction", "perpetual"):
        raise InvalidCommand("kind must be 'prediction' or 'perpetual'", field="kind")
    funding = b.get("funding")
    if funding is not None and not isinstance(funding, bool):
        raise InvalidCommand("funding must be true or false", field="funding")
    text = {}
    for key in MARKET_TAGS:
        value = b.get(key, CreateMarket.__dataclass_fields__[key].default)
        if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 200:
            raise InvalidCommand(f"{key} must be a short string", field=key)
        text[key] = str(value)
    return CreateMarket(
        market=_name(b["market"], "market"),
        kind=kind,
        virtual_oi=None if b.get("virtual_oi") is None else _usd(b["virtual_oi"], "virtual_oi"),
        funding=funding,
        wallet_cap=None if b.get("wallet_cap") is None else _usd(b["wallet_cap"], "wallet_cap"),
        market_oi_cap=None
        if b.get("market_oi_cap") is None
        else _usd(b["market_oi_cap"], "market_oi_cap"),
        **text,
    )


def _p_money_move(b: dict[str, Any], cls: type[Deposit] | type[Withdraw], kind: str) -> Command:
    _check_keys(b, kind, {"account", "amount"})
    _require(b, kind, "account", "amount")
    return cls(account=_name(b["account"], "account"), amount=_usd(b["amount"], "amount"))


def _p_open(b: dict[str, Any]) -> Command:
    if b.get("notional") is not None:
        return _p_open_portfolio(b)
    allowed = {
        "account",
        "market",
        "side",
        "margin",
        "leverage",
        "max_avg_price",
        "client_order_id",
    }
    _check_keys(b, "open", allowed)
    _require(b, "open", "account", "market", "side", "margin", "leverage")
    side = b["side"]
    if side not in ("A", "B"):
        raise InvalidCommand("side must be 'A' or 'B'", field="side")
    coid = b.get("client_order_id")
    return Open(
        account=_name(b["account"], "account"),
        market=_name(b["market"], "market"),
        side=side,
        margin=_usd(b["margin"], "margin"),
        leverage_centi=parse_leverage(b["leverage"]),
        max_avg_price=_optional_price(b, "max_avg_price"),
        client_order_id=None if coid is None else _name(coid, "client_order_id"),
    )


def _p_open_portfolio(b: dict[str, Any]) -> Command:
    """A portfolio-mode open names a notional; margin and leverage belong to isolated opens."""
    for key in ("margin", "leverage"):
        if b.get(key) is not None:
            raise InvalidCommand(
                f"open: {key!r} cannot be combined with 'notional' (portfolio-mode opens "
                "give a notional only)",
                field=key,
            )
    allowed = {"account", "market", "side", "notional", "max_avg_price", "client_order_id"}
    _check_keys(b, "open", allowed | {"margin", "leverage"})
    _require(b, "open", "account", "market", "side", "notional")
    side = b["side"]
    if side not in ("A", "B"):
        raise InvalidCommand("side must be 'A' or 'B'", field="side")
    coid = b.get("client_order_id")
    return OpenPortfolio(
        account=_name(b["account"], "account"),
        market=_name(b["market"], "market"),
        side=side,
        notional=_usd(b["notional"], "notional"),
        max_avg_price=_optional_price(b, "max_avg_price"),
        client_order_id=None if coid is None else _name(coid, "client_order_id"),
    )


def _p_set_margin_mode(b: dict[str, Any]) -> Command:
    _check_keys(b, "set_margin_mode", {"account", "mode"})
    _require(b, "set_margin_mode", "account", "mode")
    if b["mode"] not in ("isolated", "portfolio"):
        raise InvalidCommand("mode must be 'isolated' or 'portfolio'", field="mode")
    return SetMarginMode(account=_name(b["account"], "account"), mode=b["mode"])


def _p_close(b: dict[str, Any]) -> Command:
    allowed = {"account", "position_id", "notional", "min_avg_price", "client_order_id"}
    _check_keys(b, "close", allowed)
    _require(b, "close", "account", "position_id")
    coid = b.get("client_order_id")
    return Close(
        account=_name(b["account"], "account"),
        position_id=_position_id(b["position_id"]),
        notional=None if b.get("notional") is None else _usd(b["notional"], "notional"),
        min_avg_price=_optional_price(b, "min_avg_price"),
        client_order_id=None if coid is None else _name(coid, "client_order_id"),
    )


def _p_add_margin(b: dict[str, Any]) -> Command:
    _check_keys(b, "add_margin", {"account", "position_id", "amount"})
    _require(b, "add_margin", "account", "position_id", "amount")
    return AddMargin(
        account=_name(b["account"], "account"),
        position_id=_position_id(b["position_id"]),
        amount=_usd(b["amount"], "amount"),
    )


def _p_market_only(
    b: dict[str, Any], cls: type[Halt] | type[Resume] | type[Void], kind: str
) -> Command:
    _check_keys(b, kind, {"market"})
    _require(b, kind, "market")
    return cls(market=_name(b["market"], "market"))


def _p_resolve(b: dict[str, Any]) -> Command:
    _check_keys(b, "resolve", {"market", "outcome"})
    _require(b, "resolve", "market", "outcome")
    outcome = b["outcome"]
    if outcome not in ("A", "B", "UNKNOWN"):
        raise InvalidCommand("outcome must be 'A', 'B' or 'UNKNOWN'", field="outcome")
    return Resolve(market=_name(b["market"], "market"), outcome=outcome)


def _p_resolve_batch(b: dict[str, Any]) -> Command:
    """User form: ``{"type": "resolve_batch", "outcomes": {"M1": "A", "M2": "B"}}``."""
    _check_keys(b, "resolve_batch", {"outcomes", "loss_sharing"})
    _require(b, "resolve_batch", "outcomes")
    outcomes = b["outcomes"]
    if not isinstance(outcomes, dict) or not outcomes:
        raise InvalidCommand(
            "outcomes must be a non-empty mapping market -> outcome", field="outcomes"
        )
    for market, outcome in outcomes.items():
        _name(market, "outcomes")
        if outcome not in ("A", "B", "UNKNOWN"):
            raise InvalidCommand(
                f"outcome of {market} must be 'A', 'B' or 'UNKNOWN'", field="outcomes"
            )
    sharing = b.get("loss_sharing", "pro_rata")
    if sharing not in ("pro_rata", "adl"):
        raise InvalidCommand("loss_sharing must be 'pro_rata' or 'adl'", field="loss_sharing")
    return ResolveBatch(outcomes=dict(sorted(outcomes.items())), loss_sharing=sharing)


def _p_advance_clock(b: dict[str, Any]) -> Command:
    _check_keys(b, "advance_clock", {"seconds"})
    _require(b, "advance_clock", "seconds")
    seconds = b["seconds"]
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not 0 < seconds <= 10 * 365 * 86_400
    ):
        raise InvalidCommand(
            "seconds must be a positive integer (at most ten years)", field="seconds"
        )
    return AdvanceClock(seconds=seconds)


def _p_set_params(b: dict[str, Any]) -> Command:
    """User form: ``{"type": "set_params", "params": {...overrides...}}``."""
    _check_keys(b, "set_params", {"params"})
    _require(b, "set_params", "params")
    if not isinstance(b["params"], dict):
        raise InvalidCommand("params must be a mapping of parameter overrides", field="params")
    return SetParams(params=dict(b["params"]))


# The shared parsers are bound with ``partial`` rather than built by closures at import time, so
# that every line of them runs per command (and mutation testing can reach it: docs/mutation.md).
_USER_PARSERS: dict[str, Any] = {
    "create_market": _p_create_market,
    "deposit": partial(_p_money_move, cls=Deposit, kind="deposit"),
    "withdraw": partial(_p_money_move, cls=Withdraw, kind="withdraw"),
    "open": _p_open,
    "close": _p_close,
    "add_margin": _p_add_margin,
    "halt": partial(_p_market_only, cls=Halt, kind="halt"),
    "resume": partial(_p_market_only, cls=Resume, kind="resume"),
    "resolve": _p_resolve,
    "resolve_batch": _p_resolve_batch,
    "void": partial(_p_market_only, cls=Void, kind="void"),
    "advance_clock": _p_advance_clock,
    "set_params": _p_set_params,
    "set_margin_mode": _p_set_margin_mode,
}
