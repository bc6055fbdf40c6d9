"""Order ids and the rendering of one executed order (and its fill) from its typed result
and journalled transactions: the body ``POST /v1/orders``, ``GET /v1/orders...`` and a
duplicate reply all return (see :mod:`prophex.api.records` for how it is stored).

``order_id`` is ``"o-<command_seq>"`` and the order's single fill is ``"f-<txn_seq>"`` (the
vAMM fills every accepted order at once, at the curve-average price), so both ids follow from
the command sequence alone and survive any restart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prophex.api import views
from prophex.engine.journal import (
    Closed,
    Event,
    Liquidated,
    Opened,
    PortfolioClosed,
    PortfolioOpened,
)
from prophex.engine.results import CloseResult, OpenResult, PortfolioOpenResult, Result
from prophex.money import format_usd

# the command kinds that are orders: a portfolio-mode open (``open_portfolio``, journalled as
# ``pm_open``) is an order of kind ``open`` like an isolated one
ORDER_KINDS = ("open", "close", "open_portfolio")
# the journal event that is an order's fill, by command kind (a close of a portfolio-mode
# position journals a ``pm_close`` with the same result fields)
FILL_EVENTS: dict[str, tuple[type[Event], ...]] = {
    "open": (Opened,),
    "close": (Closed, PortfolioClosed),
    "open_portfolio": (PortfolioOpened,),
}


def order_id(command_seq: int) -> str:
    return f"o-{command_seq}"


def fill_id(txn_seq: int) -> str:
    return f"f-{txn_seq}"


def parse_order_id(text: str) -> int | None:
    """The command sequence of an ``o-<n>`` id, or None if it is not one."""
    if not text.startswith("o-") or not text[2:].isdigit() or len(text) > 20:
        return None
    return int(text[2:])


def rfc3339(wall_time_us: int) -> str:
    """UTC wall-clock time with microseconds, e.g. ``2026-11-30T01:02:03.456789Z``."""
    seconds, micros = divmod(wall_time_us, 1_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_us() -> int:
    return time.time_ns() // 1_000


def _leverage(centi: int) -> str:
    whole, frac = divmod(centi, 100)
    return str(whole) if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


def render_order(
    command: dict[str, Any],
    command_seq: int,
    result: Result,
    txns: Sequence[tuple[int, Event]],
    sim_time: int,
    wall_time_us: int,
) -> dict[str, Any] | None:
    """The ``Order`` body (without ``duplicate``) of one executed open/close, from its typed
    result and journal events (``(txn_seq, event)`` in journal order); None if the command is
    not an order."""
    command_kind = str(command.get("type"))
    fill_types = FILL_EVENTS.get(command_kind, ())
    main = next(((seq, e) for seq, e in txns if isinstance(e, fill_types)), None)
    if main is None:
        return None
    kind = "close" if isinstance(result, CloseResult) else "open"
    txn_seq, fill = main
    if not isinstance(fill, Opened | Closed | PortfolioOpened | PortfolioClosed):
        raise TypeError(f"{type(fill).__name__} is not an order's fill")
    oid = order_id(command_seq)
    total = fill.oi_a + fill.oi_b
    liquidations = [
        views.liquidation_event(seq, sim_time, e, oid).model_dump()
        for seq, e in txns
        if isinstance(e, Liquidated)
    ]
    body: dict[str, Any] = {
        "order_id": oid,
        "client_order_id": command.get("client_order_id"),
        "account": fill.account,
        "market": fill.market,
        "side": str(fill.side),
        "kind": kind,
        "status": "filled",
    }
    if isinstance(result, CloseResult):
        body |= _close_fields(result)
    else:
        body |= _open_fields(result, command)
    body |= {
        "price_a": views.price(fill.oi_a, total),
        "price_b": views.price(fill.oi_b, total),
        "liquidations": liquidations,
        "command_seq": command_seq,
        "txn_seq": txn_seq,
        "sim_time": sim_time,
        "wall_time": rfc3339(wall_time_us),
    }
    return body


def _open_fields(result: Result, command: dict[str, Any]) -> dict[str, Any]:
    """The fields of an open: a portfolio open posts no margin of its own (the account's lock
    moves instead) and has no leverage, both null."""
    if isinstance(result, OpenResult):
        margin: str | None = format_usd(result.margin)
        leverage: str | None = _leverage(int(command["leverage_centi"]))
        position_margin = result.position_margin
    elif isinstance(result, PortfolioOpenResult):
        margin = leverage = None
        position_margin = 0
    else:
        raise TypeError(f"{type(result).__name__} is not the result of an open")
    notional, cost = result.notional, result.cost
    return {
        "notional": format_usd(notional),
        "margin": margin,
        "leverage": leverage,
        "average_price": views.price(cost, notional),
        "fee": format_usd(result.fee),
        "position_id": result.position_id,
        "realized_pnl": None,
        "cost": format_usd(cost),
        "proceeds": None,
        "haircut": None,
        "remaining_notional": None,
        "closed_notional": None,
        "position": {
            "notional": format_usd(result.position_notional),
            "cost_basis": format_usd(result.position_cost_basis),
            "margin": format_usd(position_margin),
        },
    }


def _close_fields(result: CloseResult) -> dict[str, Any]:
    closed, proceeds = result.closed_notional, result.proceeds
    return {
        "notional": format_usd(closed),
        "margin": None,
        "leverage": None,
        "average_price": views.price(proceeds, closed),
        "fee": format_usd(result.fee),
        "position_id": result.position_id,
        "realized_pnl": format_usd(result.realized_pnl),
        "cost": None,
        "proceeds": format_usd(proceeds),
        "haircut": format_usd(result.haircut),
        "remaining_notional": format_usd(result.remaining_notional),
        "closed_notional": format_usd(closed),
        "position": None,
    }


def fill_of(order: dict[str, Any]) -> dict[str, Any]:
    """The single fill of an order."""
    return {
        "fill_id": fill_id(int(order["txn_seq"])),
        "order_id": order["order_id"],
        "client_order_id": order["client_order_id"],
        "account": order["account"],
        "market": order["market"],
        "side": order["side"],
        "kind": order["kind"],
        "notional": order["notional"],
        "price": order["average_price"],
        "fee": order["fee"],
        "realized_pnl": order["realized_pnl"],
        "position_id": order["position_id"],
        "txn_seq": order["txn_seq"],
        "sim_time": order["sim_time"],
        "wall_time": order["wall_time"],
    }
