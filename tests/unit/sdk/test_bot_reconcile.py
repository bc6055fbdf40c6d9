"""The example bots' end-of-run reconciliation (examples/bots/common.py): fills against the
ledger joined by order_id, to the micro-dollar; any difference is reported."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from prophex.api.server import REPO_ROOT
from prophex.sdk.models import Fill, LedgerEntry, Order

sys.path.insert(0, str(REPO_ROOT / "examples" / "bots"))
from common import mismatches

WALLET, POSITION = "wallet:acct-1", "position:1"


def _fill(order_id: str, kind: str, fee: str, pnl: str | None, txn: int) -> Fill:
    return Fill(
        fill_id=f"f-{txn}", order_id=order_id, client_order_id=f"c-{order_id}",
        account="acct-1", market="m", side="A", kind=kind, notional=Decimal(30),
        price=Decimal("0.517862"), fee=Decimal(fee),
        realized_pnl=None if pnl is None else Decimal(pnl), position_id=1, txn_seq=txn,
        sim_time=0, wall_time="2026-11-30T01:00:00Z",
    )  # type: ignore[arg-type]  # fmt: skip


def _post(txn: int, idx: int, kind: str, account: str, amount: str, order: Any) -> LedgerEntry:
    return LedgerEntry(
        txn_seq=txn, idx=idx, time=0, kind=kind, market="m" if order else None,
        ledger_account=account, amount=Decimal(amount), order_id=order,
        client_order_id=f"c-{order}" if order else None,
    )  # fmt: skip


# Postings measured on the real server for open 10 x3 then a full close (see docs/api.md).
LEDGER = [
    _post(3, 1, "deposit", WALLET, "1000", None),
    _post(4, 0, "open", WALLET, "-10", "o1"),
    _post(4, 1, "open", POSITION, "10", "o1"),
    _post(4, 2, "open", WALLET, "-0.015", "o1"),
    _post(4, 4, "open", WALLET, "-0.015", "o1"),
    _post(5, 0, "close", POSITION, "-0.000001", "o2"),
    _post(5, 2, "close", POSITION, "-9.999999", "o2"),
    _post(5, 3, "close", WALLET, "9.999999", "o2"),
    _post(5, 4, "close", WALLET, "-0.015", "o2"),
    _post(5, 6, "close", WALLET, "-0.015", "o2"),
]
FILLS = [_fill("o1", "open", "0.03", None, 4), _fill("o2", "close", "0.03", "-0.000001", 5)]


def test_fills_and_ledger_agree_to_the_micro_dollar() -> None:
    placed = [
        Order.model_validate({**f.model_dump(), "command_seq": 4, "average_price": f.price})
        for f in FILLS
    ]
    assert mismatches(FILLS, LEDGER, placed, streamed=list(reversed(FILLS))) == []


def test_one_micro_dollar_off_is_reported() -> None:
    off = [*LEDGER[:-1], _post(5, 6, "close", WALLET, "-0.015001", "o2")]
    assert mismatches(FILLS, off) == ["order o2: fills say -0.030001, ledger says -0.030002"]


def test_missing_order_ids_and_stream_differences_are_reported() -> None:
    unnamed = [*LEDGER[:1], _post(4, 0, "open", WALLET, "-10", None), *LEDGER[2:]]
    problems = mismatches(FILLS, unnamed, streamed=FILLS[:1])
    assert problems[0] == "ledger txn 4.0 (open) has no order_id"
    assert problems[-1] == "private stream fills 1 != GET /v1/fills 2"
