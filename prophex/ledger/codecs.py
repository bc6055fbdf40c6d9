"""Storage codecs: how engine objects and journal entries become table rows, one codec per table.

Every codec is derived from its SQLAlchemy ``Table``: the row tuple is built in the table's
column order from the column names, so adding, removing or reordering a column changes the
codec with it (a name that matches no attribute fails at import, not at the first block). The
hot journal rows (commands, transactions, postings) are built inline by the store for speed;
their layouts are checked against the tables here, at import.

The canonical transaction text (what the hash chain covers) is also defined here, because the
store writes it and the audit re-derives it byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, Table

from prophex.engine.events import Transaction
from prophex.engine.state import Market, Position, canonical_json
from prophex.ledger import schema

GENESIS_HASH = "0" * 64


def txn_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def canonical_txn(txn: Transaction, command_seq: int, sim_time: int) -> str:
    """The exact text a transaction's hash is taken over (stored in ``transactions.data``).

    It holds every posting in engine order, so the packed ``postings`` table (below) loses
    nothing: the audit and the API's ledger unpack the individual postings from this text."""
    return canonical_json(
        {
            "seq": txn.seq,
            "command_seq": command_seq,
            "kind": txn.kind,
            "time": sim_time,
            "postings": [[account, amount] for account, amount in txn.postings],
            "data": txn.data,
        }
    )


def pack_postings(postings: Iterable[tuple[str, int]]) -> dict[str, int]:
    """One net amount per account of a transaction, in first-appearance order.

    The ``postings`` table stores these (txn, account, net) rows: an open's two wallet postings
    (margin and fee) become one row; the ledger benchmark's 6.5 postings per command become 4.4
    rows. A net of zero is kept, so every account a transaction touched can still find it."""
    net: dict[str, int] = {}
    for account, amount in postings:
        net[account] = net.get(account, 0) + amount
    return net


class ObjectCodec:
    """Rows of one state table read off engine objects by column name.

    ``encoders`` turn the few non-scalar attributes into their stored form (a market's tags are
    canonical JSON text); every other column is the attribute of the same name."""

    __slots__ = ("_encoders", "_get", "names", "table")

    def __init__(
        self, table: Table, cls: type, encoders: dict[str, Callable[[Any], Any]] | None = None
    ) -> None:
        self.table = table
        self.names = tuple(c.name for c in table.columns)
        known = getattr(cls, "__dataclass_fields__", None)
        missing = [n for n in self.names if (n not in known if known else not hasattr(cls, n))]
        if missing:
            raise TypeError(f"{cls.__name__} has no attribute for columns {missing} of {table}")
        self._get = attrgetter(*self.names)
        self._encoders = [(self.names.index(n), f) for n, f in (encoders or {}).items()]

    def row(self, obj: Any) -> tuple[Any, ...]:
        values: tuple[Any, ...] = self._get(obj)
        if not self._encoders:
            return values
        mutable = list(values)
        for index, encode in self._encoders:
            mutable[index] = encode(mutable[index])
        return tuple(mutable)

    def fields(self, row: Any) -> dict[str, Any]:
        """A stored row as constructor keywords (the inverse of :meth:`row`, before decoding)."""
        return dict(zip(self.names, row, strict=True))


class TupleCodec:
    """Rows of a table whose values the store already holds as a tuple in a declared layout
    (balances, client orders, meta and the journal): the layout is checked against the table's
    columns when the codec is made, so the table and the tuple cannot drift apart silently."""

    __slots__ = ("names", "table")

    def __init__(self, table: Table, layout: tuple[str, ...]) -> None:
        self.table = table
        self.names = tuple(c.name for c in table.columns)
        if self.names != layout:
            raise TypeError(f"{table.name} columns are {self.names}, the codec writes {layout}")


POSITIONS = ObjectCodec(schema.positions, Position)
MARKETS = ObjectCodec(schema.markets, Market, {"tags": canonical_json})
BALANCES = TupleCodec(schema.balances, ("account", "balance"))
CLIENT_ORDERS = TupleCodec(
    schema.client_orders, ("account", "client_order_id", "fingerprint", "result")
)
MARGIN_ACCOUNTS = TupleCodec(schema.margin_accounts, ("account", "mode", "requirement"))
META = TupleCodec(schema.meta, ("key", "value"))
BLOCKS = TupleCodec(
    schema.blocks, ("height", "first_command", "last_command", "sim_time", "last_hash")
)
COMMANDS = TupleCodec(schema.commands, ("seq", "block", "kind", "payload", "receipt"))
TRANSACTIONS = TupleCodec(
    schema.transactions,
    ("seq", "command_seq", "kind", "market", "sim_time", "data", "prev_hash", "hash"),
)
POSTINGS = TupleCodec(schema.postings, ("txn_seq", "account", "amount"))


def insert_sql(table: Table, mark: str, keys: tuple[str, ...] = ()) -> str:
    """``INSERT`` of every column in table order; with ``keys``, an upsert on them.

    ``INSERT ... ON CONFLICT (...) DO UPDATE`` is spelled the same in SQLite and PostgreSQL;
    only the placeholder ``mark`` differs (``?`` versus ``%s``)."""
    columns = [c.name for c in table.columns]
    marks = ", ".join([mark] * len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    if keys:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    return sql


def merge_sql(table: Table, keys: tuple[str, ...]) -> str:
    """PostgreSQL: merge the block's rows from the ``stage_<table>`` copy into the table."""
    columns = [c.name for c in table.columns]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {', '.join(columns)} FROM stage_{table.name} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def pg_binary_type(column_type: Any) -> str:
    """The PostgreSQL type a column's values are sent as in a binary ``COPY``."""
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, String):  # Text and String(n): the same wire format
        return "text"
    raise TypeError(f"no binary COPY type for {column_type!r}")
