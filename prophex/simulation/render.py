"""Human-readable rendering of a final state (``prophex run`` without ``--json``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from prophex.money import format_usd


def print_state(console: Console, state: dict[str, Any]) -> None:
    markets = Table("market", "status", "price A", "price B", "OI A", "OI B", "vault", "bad debt")
    for m in state["markets"]:
        markets.add_row(
            m["id"],
            m["status"] + (f" ({m['outcome']})" if m["outcome"] else ""),
            m["price_a"],
            m["price_b"],
            format_usd(m["oi_a"]),
            format_usd(m["oi_b"]),
            format_usd(m["vault"]),
            format_usd(m["bad_debt"]),
        )
    console.print(markets)
    if state["positions"]:
        positions = Table("id", "account", "market", "side", "notional", "margin", "entry", "liq.")
        for p in state["positions"]:
            positions.add_row(
                str(p["id"]),
                p["account"],
                p["market"],
                p["side"],
                format_usd(p["notional"]),
                format_usd(p["margin"]),
                p["entry_price"],
                p["liquidation_price"] or "never",
            )
        console.print(positions)
    console.print(
        f"insurance fund {format_usd(state['insurance_fund'])} USD, treasury "
        f"{format_usd(state['treasury'])} USD, {len(state['liquidations'])} liquidation(s), "
        f"{len(state['haircuts'])} haircut position(s)"
    )
    for rejection in state["rejections"]:
        console.print(
            f"[yellow]line {rejection['line']}: rejected[/] [{rejection['code']}] "
            f"{rejection['message']}"
        )
    console.print(f"digest {state['digest']}")
