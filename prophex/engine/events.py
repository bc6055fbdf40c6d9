"""What the engine emits: ledger transactions (with their postings) and per-command receipts.

A posting adds ``amount`` to one account's balance; the postings of a transaction sum to zero,
so money only ever moves. ``external`` is the outside world: it goes negative by exactly what
has been deposited and not withdrawn. A transaction may have no postings (creating or halting a
market changes state but moves no money); it is still journalled, because replay needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prophex.engine.journal import Event, encode
from prophex.engine.results import Result, to_json
from prophex.errors import InvariantViolation

Posting = tuple[str, int]

EXTERNAL = "external"
INSURANCE_FUND = "insurance_fund"
TREASURY = "treasury"


_WALLET_KEYS: dict[str, str] = {}
"""``wallet:<account>`` per account, built once: the hot path asks for it several times per
command. One entry per account ever seen, which the balances hold anyway (the cached string is
the very key object of ``State.balances``)."""


def wallet_account(account: str) -> str:
    key = _WALLET_KEYS.get(account)
    if key is None:
        key = _WALLET_KEYS[account] = f"wallet:{account}"
    return key


def position_account(position_id: int) -> str:
    return f"position:{position_id}"


def vault_account(market: str) -> str:
    return f"vault:{market}"


def pm_margin_account(account: str) -> str:
    return f"pm_margin:{account}"


@dataclass(slots=True)
class Transaction:
    """One balanced ledger transaction. ``event`` is the typed record of what happened, for
    feeds and reports; ``data`` is its canonical journal form (:func:`journal.encode`), which
    the ledger stores and the chain hashes, computed on first use only: the in-memory engine
    never needs it."""

    seq: int
    kind: str
    postings: list[Posting]
    event: Event
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        """The canonical journal dict of :attr:`event` (encoded once, then cached)."""
        data = self._data
        if data is None:
            data = self._data = encode(self.event)
        return data

    def imbalance(self) -> int:
        return sum(amount for _, amount in self.postings)


@dataclass(slots=True)
class Receipt:
    """The outcome of one accepted command: its transactions and its typed result."""

    command_seq: int
    kind: str
    transactions: list[Transaction]
    result: Result
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON (the result through :func:`results.to_json`)."""
        return {
            "command_seq": self.command_seq,
            "kind": self.kind,
            "duplicate": self.duplicate,
            "result": to_json(self.result),
            "transactions": [
                {"seq": t.seq, "kind": t.kind, "postings": t.postings, "data": t.data}
                for t in self.transactions
            ],
        }


class Journal:
    """Collects postings for the transaction being built; the engine's only way to move money."""

    __slots__ = ("postings",)

    def __init__(self) -> None:
        self.postings: list[Posting] = []

    def move(self, source: str, destination: str, amount: int) -> None:
        """Move ``amount`` (>= 0) from ``source`` to ``destination``; zero moves are dropped.

        A negative amount would reverse the direction the caller meant: it is a bug, so it is
        refused (fail-stop) rather than journalled."""
        if amount < 0:
            raise InvariantViolation(
                f"negative move of {amount} from {source} to {destination}",
                source=source,
                destination=destination,
                amount=amount,
            )
        if amount:
            self.postings.append((source, -amount))
            self.postings.append((destination, amount))
