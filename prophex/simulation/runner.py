"""``prophex run FILE``: load a command file, execute it through the sequencer, report the state.

A file is either a YAML list of commands or JSON lines (one command object per line). The
whole file is parsed and validated before anything executes, so a malformed file writes
nothing; every error names the line and the field. Commands the engine then rejects (a cap,
a balance) are reported with their line and code and change nothing, like a failed transaction
on a chain; the others are committed in blocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Command, parse_user_command
from prophex.engine.domain import OTHER
from prophex.engine.events import INSURANCE_FUND, TREASURY, vault_account
from prophex.engine.journal import Liquidated, decode, expect
from prophex.engine.positions import liquidation_price, unrealized_pnl
from prophex.engine.state import State, digest
from prophex.errors import InvalidCommand, ProphexError
from prophex.ledger import schema
from prophex.money import format_price


@dataclass(slots=True)
class LoadedCommand:
    line: int
    command: Command


@dataclass(slots=True)
class RunResult:
    accepted: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)


def load_command_file(path: Path) -> list[LoadedCommand]:
    """Parse and validate every command of a file, or raise InvalidCommand naming line and field."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidCommand(f"cannot read {path}: {exc.strerror}", field="file") from None
    stripped = text.lstrip()
    if path.suffix in (".jsonl", ".ndjson") or stripped.startswith("{"):
        raw = _json_lines(text)
    else:
        raw = _yaml_items(text)
    loaded = []
    for line, body in raw:
        try:
            loaded.append(LoadedCommand(line, parse_user_command(body)))
        except ProphexError as error:
            error.details["line"] = line
            error.message = f"line {line}: {error.message}"
            error.args = (error.message,)
            raise
    return loaded


def _json_lines(text: str) -> list[tuple[int, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            items.append((number, json.loads(line, parse_float=str, parse_constant=_reject)))
        except (json.JSONDecodeError, ValueError) as exc:
            raise InvalidCommand(
                f"line {number}: not valid JSON ({exc})", field="file", line=number
            ) from None
    return items


def _reject(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _yaml_items(text: str) -> list[tuple[int, Any]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise InvalidCommand(
            f"line {line}: invalid YAML ({exc})", field="file", line=line
        ) from None
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise InvalidCommand("a command file must be a YAML list of commands", field="file", line=1)
    items = []
    for node in root.value:
        value = yaml.SafeLoader(yaml.serialize(node)).get_single_data()
        items.append((node.start_mark.line + 1, value))
    return items


def execute_file(sequencer: Sequencer, commands: list[LoadedCommand]) -> RunResult:
    """Execute commands in blocks; collect each rejection with its line and code."""
    result = RunResult()
    outcomes = sequencer.execute([c.command for c in commands])
    for loaded, outcome in zip(commands, outcomes, strict=True):
        if isinstance(outcome, ProphexError):
            result.rejections.append(
                {"line": loaded.line, "code": outcome.code, "message": outcome.message}
            )
        else:
            result.accepted += 1
    return result


def final_state(sequencer: Sequencer, run: RunResult | None = None) -> dict[str, Any]:
    """The state as one JSON-ready object: integer micro-USD everywhere, prices as strings."""
    state = sequencer.state
    return {
        "digest": digest(state),
        "time": state.time,
        "command_seq": state.command_seq,
        "params": state.params.model_dump(mode="json"),
        "balances": {k: v for k, v in sorted(state.balances.items()) if v != 0},
        "insurance_fund": state.balance(INSURANCE_FUND),
        "treasury": state.balance(TREASURY),
        "markets": [market_view(state, m) for m in sorted(state.markets)],
        "positions": [
            position_view(state, p.id)
            for p in sorted(state.positions.values(), key=lambda p: p.id)
            if p.status == "open"
        ],
        "liquidations": liquidation_history(sequencer),
        "haircuts": [
            {"position": p.id, "account": p.account, "market": p.market, "haircut": p.haircut}
            for p in sorted(state.positions.values(), key=lambda p: p.id)
            if p.haircut
        ],
        "accepted": run.accepted if run else None,
        "rejections": run.rejections if run else [],
    }


def market_view(state: State, market_id: str) -> dict[str, Any]:
    market = state.markets[market_id]
    oi_a, oi_b = market.oi("A"), market.oi("B")
    return {
        "id": market.id,
        "kind": market.kind,
        "status": market.status,
        "outcome": market.outcome,
        "virtual_oi": market.virtual_oi,
        "oi_a": oi_a,
        "oi_b": oi_b,
        "real_oi_a": market.real_oi_a,
        "real_oi_b": market.real_oi_b,
        "price_a": format_price(oi_a, oi_a + oi_b),
        "price_b": format_price(oi_b, oi_a + oi_b),
        "vault": state.balance(vault_account(market.id)),
        "volume": market.volume,
        "bad_debt": market.bad_debt,
        "tags": market.tags,
    }


def position_view(state: State, position_id: int) -> dict[str, Any]:
    position = state.positions[position_id]
    market = state.markets[position.market]
    liq = liquidation_price(position.cost_basis, position.margin, position.notional)
    oi_side, oi_other = market.oi(position.side), market.oi(OTHER[position.side])
    return {
        "id": position.id,
        "account": position.account,
        "market": position.market,
        "side": position.side,
        "notional": position.notional,
        "cost_basis": position.cost_basis,
        "margin": position.margin,
        "entry_price": format_price(position.cost_basis, position.notional),
        "liquidation_price": None if liq is None else format_price(*liq),
        "unrealized_pnl": unrealized_pnl(position.notional, position.cost_basis, oi_side, oi_other),
        "status": position.status,
    }


def liquidation_history(sequencer: Sequencer) -> list[dict[str, Any]]:
    """Every liquidation so far, from the journal (or from positions when in memory)."""
    if sequencer.store is None:
        return [
            {
                "position": p.id,
                "account": p.account,
                "market": p.market,
                "side": p.side,
                "notional": p.notional,
            }
            for p in sorted(sequencer.state.positions.values(), key=lambda p: p.id)
            if p.status == "liquidated"
        ]
    txns = schema.transactions
    query = select(txns.c.seq, txns.c.data).where(txns.c.kind == "liquidation").order_by(txns.c.seq)
    with sequencer.store.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for seq, text in rows:
        e = expect(decode("liquidation", json.loads(text)["data"]), Liquidated)
        out.append(
            {
                "txn": seq,
                "position": e.position,
                "account": e.account,
                "market": e.market,
                "side": str(e.side),
                "notional": e.notional,
                "seized_margin": e.seized_margin,
                "penalty_to_fund": e.penalty_to_fund,
                "bad_debt": e.bad_debt,
            }
        )
    return out
