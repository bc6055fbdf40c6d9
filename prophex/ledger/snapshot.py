"""The state tables as a snapshot: which rows changed since the last one, writing them, reading
them back.

``balances``, ``markets``, ``positions``, ``client_orders``, ``margin_accounts`` and ``meta``
hold the state after one block, ``meta.block_height`` (its last transaction hash is
``meta.last_hash``). The store rewrites them every ``snapshot_every`` blocks, in that block's
SQL transaction, with each row changed since the previous snapshot written once
(:class:`Pending`), and always when the sequencer closes cleanly. A database written before
snapshots existed (every block wrote its rows) is simply a snapshot at its head.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select

from prophex.engine.indexes import rebuild_indexes
from prophex.engine.liquidation import LiquidationIndex
from prophex.engine.results import StoredOrder
from prophex.engine.state import Market, Position, State, canonical_json
from prophex.ledger import codecs, schema
from prophex.ledger.codecs import GENESIS_HASH
from prophex.ledger.tail import Snapshot
from prophex.params import make_params

Upsert = Callable[[Connection, Any, list[tuple[Any, ...]]], None]
"""Insert-or-update rows of one state table (the store's backend-specific writer)."""


@dataclass(slots=True)
class Pending:
    """The keys of the state rows changed since the last snapshot (the union of the engine's
    per-block dirty sets of every block committed since)."""

    accounts: set[str] = field(default_factory=set)
    positions: set[int] = field(default_factory=set)
    markets: set[str] = field(default_factory=set)
    client_orders: set[tuple[str, str]] = field(default_factory=set)
    margin_accounts: set[str] = field(default_factory=set)

    def absorb(self, state: State) -> None:
        """Add the block's dirty rows (called once the block is committed)."""
        self.accounts |= state.dirty_accounts
        self.positions |= state.dirty_positions
        self.markets |= state.dirty_markets
        self.client_orders |= state.dirty_client_orders
        self.margin_accounts |= state.dirty_margin_accounts

    def with_block(self, state: State) -> Pending:
        """These keys and the block's, as a new set (nothing is changed before the commit)."""
        return Pending(
            self.accounts | state.dirty_accounts,
            self.positions | state.dirty_positions,
            self.markets | state.dirty_markets,
            self.client_orders | state.dirty_client_orders,
            self.margin_accounts | state.dirty_margin_accounts,
        )

    def clear(self) -> None:
        self.accounts.clear()
        self.positions.clear()
        self.markets.clear()
        self.client_orders.clear()
        self.margin_accounts.clear()


def write_snapshot(
    conn: Connection,
    sql: dict[str, str],
    upsert: Upsert,
    state: State,
    keys: Pending,
    head: tuple[int, str],
) -> None:
    """Write the rows ``keys`` names (each built by its table's codec) and the meta of the state
    after block ``head`` (height, last hash), in key order."""
    rows: list[tuple[Any, ...]]
    if keys.accounts:
        balances = state.balances
        rows = [(a, balances[a]) for a in sorted(keys.accounts)]  # codecs.BALANCES
        upsert(conn, schema.balances, rows)
    if keys.markets:
        markets = state.markets
        rows = [codecs.MARKETS.row(markets[m]) for m in sorted(keys.markets)]
        conn.exec_driver_sql(sql["markets"], rows)
    if keys.positions:
        positions, row = state.positions, codecs.POSITIONS.row
        upsert(conn, schema.positions, [row(positions[i]) for i in sorted(keys.positions)])
    if keys.client_orders:
        orders = state.client_orders
        rows = [  # codecs.CLIENT_ORDERS
            (key[0], key[1], orders[key].fingerprint, canonical_json(orders[key].to_json()))
            for key in sorted(keys.client_orders)
        ]
        conn.exec_driver_sql(sql["client_orders"], rows)
    if keys.margin_accounts:
        _write_margin_accounts(conn, sql, state, sorted(keys.margin_accounts))
    meta_rows = {**state.meta(), "block_height": head[0], "last_hash": head[1]}
    conn.exec_driver_sql(  # codecs.META
        sql["meta"], [(k, json.dumps(v, sort_keys=True)) for k, v in meta_rows.items()]
    )


def _write_margin_accounts(
    conn: Connection, sql: dict[str, str], state: State, accounts: list[str]
) -> None:
    """Portfolio-mode accounts: upsert those in portfolio mode, delete those that left."""
    table = schema.margin_accounts
    modes = state.margin_modes
    rows = [(a, modes[a], state.pm_requirement.get(a, 0)) for a in accounts if a in modes]
    if rows:
        conn.exec_driver_sql(sql["margin_accounts"], rows)
    gone = [a for a in accounts if a not in modes]
    if gone:
        conn.execute(delete(table).where(table.c.account.in_(gone)))


def read_snapshot(conn: Connection) -> tuple[State, Snapshot]:
    """The state the tables hold (with its indexes) and where it stands in the journal."""
    stored_meta = {row.key: json.loads(row.value) for row in conn.execute(select(schema.meta))}
    params = make_params(stored_meta["params"])
    state = State(
        params=params,
        rules=params.rules(),
        time=stored_meta["time"],
        command_seq=stored_meta["command_seq"],
        txn_seq=stored_meta["txn_seq"],
        next_position_id=stored_meta["next_position_id"],
    )
    for row in conn.execute(select(schema.balances)):
        state.balances[row.account] = row.balance
    for row in conn.execute(select(schema.markets)):
        fields = codecs.MARKETS.fields(row)
        fields["tags"] = dict(fields["tags"])
        state.markets[row.id] = Market(**fields, liquidations=LiquidationIndex())
        state.open_in_market[row.id] = set()
    for row in conn.execute(select(schema.positions).order_by(schema.positions.c.id)):
        state.positions[row.id] = Position(**codecs.POSITIONS.fields(row))
    for row in conn.execute(select(schema.client_orders)):
        key = (row.account, row.client_order_id)
        kind = json.loads(row.fingerprint)["type"]
        state.client_orders[key] = StoredOrder.from_json(
            row.fingerprint, kind, json.loads(row.result)
        )
    for row in conn.execute(select(schema.margin_accounts)):
        state.margin_modes[row.account] = row.mode
        state.pm_requirement[row.account] = row.requirement
    rebuild_indexes(state)
    snap = Snapshot(
        height=int(stored_meta.get("block_height", 0)),
        last_hash=str(stored_meta.get("last_hash", GENESIS_HASH)),
        command_seq=state.command_seq,
        txn_seq=state.txn_seq,
    )
    return state, snap
