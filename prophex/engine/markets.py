"""Market status transitions: which actions each status allows."""

from __future__ import annotations

from prophex.errors import MarketNotOpen

TRADING = frozenset({"open"})
SETTLEABLE = frozenset({"open", "halted"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "halt": frozenset({"open"}),
    "resume": frozenset({"halted"}),
    "resolve": SETTLEABLE,
    "void": SETTLEABLE,
}


def require_status(market_id: str, status: str, allowed: frozenset[str], action: str) -> None:
    if status not in allowed:
        raise MarketNotOpen(
            f"market {market_id} is {status}; cannot {action}",
            market=market_id,
            status=status,
            action=action,
        )
