"""The private stream's event log: each account's own events, numbered 1, 2, 3... in journal
order, derived from the journal alone (so the numbering survives restarts).

Per journalled transaction, in this order, an account gets:

* ``open``/``close``/``pm_open``/``pm_close`` (the order's own trade): ``order`` (the ``Order``
  body), ``fill`` (the ``Fill``), ``position`` (``change`` = the order's kind, ``open`` or
  ``close``, with the traded notional);
* ``liquidation`` of one of its positions: ``liquidation`` (with ``order_id`` of the order
  whose trade triggered it, ``position_id`` and ``account``);
* ``resolve``/``void``: one ``settlement`` per settled position of the account, by position id;
* ``add_margin``: ``position`` (``change`` = ``add_margin``, ``amount``);
* then, for every transaction that moves its wallet, one ``balance`` event with the net
  ``amount`` (signed) and the transaction ``kind``.

Every event's ``data`` carries ``txn_seq``, ``command_seq``, ``order_id`` and
``client_order_id`` (null when no order caused it), ``sim_time`` and ``wall_time``. Rows are
stored in ``api_account_events`` in the same step as the order index (right after the block's
commit); at start-up the transactions after the last stored one are derived again from the
journal (their ``wall_time`` is then the catch-up time).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select

from prophex.api import views
from prophex.api.deferred import DeferredWriter
from prophex.api.history import order_id_of, txn_event
from prophex.api.order_render import ORDER_KINDS, fill_of, now_us, rfc3339
from prophex.engine.events import Receipt
from prophex.engine.journal import (
    Closed,
    Event,
    Liquidated,
    MarginAdded,
    Opened,
    PortfolioClosed,
    PortfolioOpened,
    Settled,
    kind_of,
)
from prophex.ledger import schema
from prophex.money import format_usd

log = logging.getLogger("prophex.api.accountlog")
e = schema.api_account_events
WALLET = "wallet:"
CATCH_UP_PAGE = 5_000
# the journal events of an order's fill (isolated and portfolio-mode opens and closes)
FILL_EVENTS = (Opened, Closed, PortfolioOpened, PortfolioClosed)

Derived = tuple[str, str, dict[str, Any]]


def derive(
    txn_seq: int,
    event: Event,
    postings: Sequence[tuple[str, int]],
    command_seq: int,
    command_kind: str,
    sim_time: int,
    wall_time: str,
    order: dict[str, Any] | None,
) -> list[Derived]:
    """(account, type, data) of one transaction, in the documented order."""
    oid = order_id_of(command_seq, command_kind)
    common: dict[str, Any] = {
        "txn_seq": txn_seq,
        "command_seq": command_seq,
        "order_id": oid,
        "client_order_id": None if order is None else order["client_order_id"],
        "sim_time": sim_time,
        "wall_time": wall_time if order is None else order["wall_time"],
    }
    out: list[Derived] = []
    if isinstance(event, FILL_EVENTS):
        if order is not None and order["txn_seq"] == txn_seq:
            out += _fill_events(event, order, common)
    elif isinstance(event, Liquidated):
        body = views.liquidation_event(txn_seq, sim_time, event, oid).model_dump()
        out.append((event.account, "liquidation", {**body, **common}))
    elif isinstance(event, Settled):
        out += _settlement_events(txn_seq, sim_time, event, common)
    elif isinstance(event, MarginAdded):
        change = {
            "position_id": event.position,
            "change": "add_margin",
            "amount": format_usd(event.amount),
        }
        out.append((event.account, "position", {**change, **common}))
    return out + _balance_events(kind_of(event), postings, common)


def _fill_events(
    fill: Opened | Closed | PortfolioOpened | PortfolioClosed,
    order: dict[str, Any],
    common: dict[str, Any],
) -> list[Derived]:
    """An order's fill: the order, the fill, then the position it changed."""
    account = fill.account
    position = {
        "position_id": fill.position,
        "market": fill.market,
        "side": str(fill.side),
        "change": order["kind"],
        "notional": format_usd(fill.notional),
    }
    return [
        (account, "order", {**order, "duplicate": False}),
        (account, "fill", fill_of(order)),
        (account, "position", {**position, **common}),
    ]


def _settlement_events(
    txn_seq: int, sim_time: int, event: Settled, common: dict[str, Any]
) -> list[Derived]:
    """What a resolution or void paid each account, accounts in order."""
    accounts = sorted({str(r["account"]) for r in event.settlements.values()})
    return [
        (account, "settlement", {**settlement.model_dump(), "account": account, **common})
        for account in accounts
        for settlement in views.settlements_for(txn_seq, sim_time, event, account)
    ]


def _balance_events(
    kind: str, postings: Sequence[tuple[str, int]], common: dict[str, Any]
) -> list[Derived]:
    """One ``balance`` event per wallet the transaction moved (net, non-zero), by account."""
    wallets: dict[str, int] = {}
    for ledger_account, amount in postings:
        if ledger_account.startswith(WALLET):
            owner = ledger_account[len(WALLET) :]
            wallets[owner] = wallets.get(owner, 0) + amount
    return [
        (
            account,
            "balance",
            {
                "ledger_account": WALLET + account,
                "amount": format_usd(wallets[account]),
                "kind": kind,
                **common,
            },
        )
        for account in sorted(wallets)
        if wallets[account]
    ]


def stored(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "data": json.dumps(row["data"], separators=(",", ":"))}


def message(account_seq: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"channel": "account", "seq": account_seq, "type": kind, "data": data}


class AccountLog:
    """Numbers, stores and replays account events. ``record`` runs in the block writer thread
    while the sequencer's lock is held, so ``seqs`` always matches the state readers see."""

    def __init__(self, engine: Engine, read_engine: Engine, deferred: DeferredWriter) -> None:
        self._engine = engine
        self._read = read_engine
        self.deferred = deferred
        self.seqs: dict[str, int] = {}

    def dispose(self) -> None:
        self._engine.dispose()

    def _number(self, derived: list[tuple[int, str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """(txn_seq, account, type, data) -> rows to store (numbering advances ``seqs``); the
        ``data`` is serialised by :func:`stored`, off the block writer's path."""
        rows = []
        for txn_seq, account, kind, data in derived:
            seq = self.seqs.get(account, 0) + 1
            self.seqs[account] = seq
            rows.append(
                {"account": account, "seq": seq, "txn_seq": txn_seq, "type": kind, "data": data}
            )
        return rows

    def load(self, orders_lookup: Any) -> None:
        """Read the counters, then derive the events of transactions not yet logged."""
        with self._engine.connect() as conn:
            self.seqs = {
                str(a): int(n)
                for a, n in conn.execute(
                    select(e.c.account, func.max(e.c.seq)).group_by(e.c.account)
                )
            }
            done = conn.execute(select(func.max(e.c.txn_seq))).scalar() or 0
        t, c = schema.transactions, schema.commands
        wall = rfc3339(now_us())
        caught = 0
        while True:
            with self._engine.connect() as conn:
                txns = conn.execute(
                    select(t.c.seq, t.c.kind, t.c.data, t.c.command_seq, t.c.sim_time, c.c.kind)
                    .select_from(t.join(c, c.c.seq == t.c.command_seq))
                    .where(t.c.seq > done)
                    .order_by(t.c.seq)
                    .limit(CATCH_UP_PAGE)
                ).all()
                if not txns:
                    break
                seqs = [int(r[0]) for r in txns]
            derived: list[tuple[int, str, str, dict[str, Any]]] = []
            for seq, kind, text, command_seq, sim_time, command_kind in txns:
                order = orders_lookup(int(command_seq)) if command_kind in ORDER_KINDS else None
                doc = json.loads(text)  # the canonical text: its postings in engine order
                for account, etype, data in derive(
                    int(seq),
                    txn_event(str(kind), text),
                    [(str(a), int(n)) for a, n in doc["postings"]],
                    int(command_seq),
                    str(command_kind),
                    int(sim_time),
                    wall,
                    order,
                ):
                    derived.append((int(seq), account, etype, data))
            rows = self._number(derived)
            if rows:
                with self._engine.begin() as conn:
                    conn.execute(e.insert(), [stored(r) for r in rows])
            caught += len(rows)
            done = seqs[-1]
        if caught:
            log.info("account log caught up %d events from the journal", caught)

    def record(
        self,
        receipts: Sequence[tuple[Receipt, int]],
        orders: dict[int, dict[str, Any]],
        wall_time_us: int,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Number and store the events of one committed block: (account, message) pairs."""
        wall = rfc3339(wall_time_us)
        derived: list[tuple[int, str, str, dict[str, Any]]] = []
        for receipt, sim_time in receipts:
            order = orders.get(receipt.command_seq)
            for txn in receipt.transactions:
                for account, etype, data in derive(
                    txn.seq,
                    txn.event,
                    txn.postings,
                    receipt.command_seq,
                    receipt.kind,
                    sim_time,
                    wall,
                    order,
                ):
                    derived.append((txn.seq, account, etype, data))
        rows = self._number(derived)
        self.deferred.put([], rows)
        return [(r["account"], message(r["seq"], r["type"], r["data"])) for r in rows]

    def replay(self, account: str, from_seq: int, limit: int) -> list[dict[str, Any]]:
        self.deferred.wait()
        query = (
            select(e.c.seq, e.c.type, e.c.data)
            .where(e.c.account == account, e.c.seq >= from_seq)
            .order_by(e.c.seq)
            .limit(limit)
        )
        with self._read.connect() as conn:
            return [message(int(r[0]), str(r[1]), json.loads(r[2])) for r in conn.execute(query)]
