"""The published forms of the journal, pinned byte for byte: every stream delta, account-log
event and order body, and the scenario metrics, over the journal-table books (every transaction
kind, cascades, batch settlements and portfolio liquidations).

The feeds read the typed journal events (:mod:`prophex.engine.journal`); the golden file was
written by the code that still read ``Transaction.data`` by key, so a match proves the typed
mapping publishes exactly the same bytes. Rows read back from the database reach the same
functions through ``journal.decode`` of the stored canonical text: the second test checks that
path gives the same bytes as the live one. ``PROPHEX_WRITE_GOLDEN=1`` rewrites the file.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from prophex.api.accountlog import derive
from prophex.api.history import order_id_of, txn_event
from prophex.api.order_render import ORDER_KINDS, render_order, rfc3339
from prophex.api.views import stream_event
from prophex.engine import journal
from prophex.engine.commands import to_dict
from prophex.engine.events import Receipt, Transaction
from prophex.engine.exchange import Exchange
from prophex.engine.state import canonical_json
from prophex.errors import ProphexError
from prophex.scenarios.metrics import Metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from test_journal_tables import BOOKS  # the engine tests' books (tests are not a package)

GOLDEN = Path(__file__).parent / "golden" / "published_feeds.json"
WALL = 1_700_000_000_000_000


def _stored(txn: Transaction) -> journal.Event:
    """The event as a feed reading the database gets it: decoded from the canonical text."""
    text = canonical_json({"data": txn.data, "postings": txn.postings})
    return txn_event(txn.kind, text)


def _published(book: str, *, stored: bool = False) -> dict[str, Any]:
    exchange = Exchange()
    metrics = Metrics(trades=[])
    seqs: dict[str, int] = {}
    steps: list[dict[str, Any]] = []
    for command in BOOKS[book]():
        try:
            receipt = exchange.apply(command)
        except ProphexError:
            continue
        time = exchange.state.time
        metrics.record([command], [receipt], time)
        steps.append(_step(receipt, to_dict(command), time, seqs, stored))
    metrics_json = asdict(metrics)
    metrics_json["rejected"] = dict(metrics.rejected)
    # the plain JSON text (not canonical): key order and value types are part of what's pinned
    return json.loads(json.dumps({"steps": steps, "metrics": metrics_json}))


def _step(
    receipt: Receipt, command: dict[str, Any], time: int, seqs: dict[str, int], stored: bool
) -> dict[str, Any]:
    events = [(t.seq, _stored(t) if stored else t.event) for t in receipt.transactions]
    order = None
    if receipt.kind in ORDER_KINDS:
        order = render_order(command, receipt.command_seq, receipt.result, events, time, WALL)
    oid = order_id_of(receipt.command_seq, receipt.kind)
    stream, account = [], []
    for txn, (_, event) in zip(receipt.transactions, events, strict=True):
        market = journal.market_of(event)
        if market is not None:
            seqs[market] = seqs.get(market, 0) + 1
            stream.append(stream_event(seqs[market], txn.seq, time, event, oid))
        account += derive(
            txn.seq,
            event,
            txn.postings,
            receipt.command_seq,
            receipt.kind,
            time,
            rfc3339(WALL),
            order,
        )
    return {"order": order, "stream": stream, "account": account}


def _text(value: Any) -> str:
    return json.dumps(value, indent=1)


def test_write_golden_on_request() -> None:
    if os.environ.get("PROPHEX_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(_text({book: _published(book) for book in sorted(BOOKS)}) + "\n")


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_published_forms_match_the_golden_file(book: str) -> None:
    expected = json.loads(GOLDEN.read_text())[book]
    got = _published(book)
    assert len(got["steps"]) == len(expected["steps"])
    for index, (step, want) in enumerate(zip(got["steps"], expected["steps"], strict=True)):
        assert _text(step) == _text(want), f"{book} step {index}"
    assert _text(got["metrics"]) == _text(expected["metrics"])


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_rows_decoded_from_the_database_publish_the_same_bytes(book: str) -> None:
    assert _text(_published(book, stored=True)) == _text(_published(book))


def test_books_publish_every_stream_type() -> None:
    types = {
        message["type"]
        for book in BOOKS
        for step in _published(book)["steps"]
        for message in step["stream"]
    }
    assert types == {"trade", "liquidation", "resolution", "status", "funding", "event"} | {
        "account_liquidation"
    }
