"""In-memory exchange state, its canonical digest, and the invariant checks.

The state is plain data; :mod:`prophex.engine.exchange` is the only code that changes it. Every
mutation also marks what it touched (``dirty_*``), so the store writes exactly the rows that
changed in a block instead of rescanning everything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import orjson

from prophex.engine.events import EXTERNAL, pm_margin_account, position_account, wallet_account
from prophex.engine.liquidation import LiquidationIndex
from prophex.engine.results import StoredOrder
from prophex.params import Params, Rules

MarketStatus = str  # "open" | "halted" | "resolved" | "voided"


@dataclass(slots=True)
class Market:
    """A binary market. ``real_oi_*`` is the sum of open notional; spot adds ``virtual_oi``."""

    id: str
    kind: str
    virtual_oi: int
    funding: bool
    tags: dict[str, str]
    wallet_cap: int | None = None
    market_oi_cap: int | None = None
    status: MarketStatus = "open"
    real_oi_a: int = 0
    real_oi_b: int = 0
    outcome: str | None = None
    created_at: int = 0
    volume: int = 0
    bad_debt: int = 0
    liquidations: LiquidationIndex = field(default_factory=LiquidationIndex)
    win_profit: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})
    collectible: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})

    def oi(self, side: str) -> int:
        """Pricing open interest of a side: virtual plus real."""
        return self.virtual_oi + (self.real_oi_a if side == "A" else self.real_oi_b)

    def expose(self, position: Position, sign: int) -> None:
        """Add (``sign=1``) or remove (``-1``) a position's resolution exposure.

        ``win_profit[X]`` is what side X's holders are owed in profit if X wins (``N - C`` each);
        ``collectible[X]`` is what side X's holders pay the vault if X loses (``min(M, C)``).
        With these, the shortfall of either outcome is known exactly in O(1).
        """
        side = position.side
        self.win_profit[side] += sign * (position.notional - position.cost_basis)
        self.collectible[side] += sign * min(position.margin, position.cost_basis)

    def add_real_oi(self, side: str, delta: int) -> None:
        if side == "A":
            self.real_oi_a += delta
        else:
            self.real_oi_b += delta

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "virtual_oi": self.virtual_oi,
            "real_oi_a": self.real_oi_a,
            "real_oi_b": self.real_oi_b,
            "funding": self.funding,
            "outcome": self.outcome,
            "tags": dict(sorted(self.tags.items())),
            "wallet_cap": self.wallet_cap,
            "market_oi_cap": self.market_oi_cap,
            "created_at": self.created_at,
            "volume": self.volume,
            "bad_debt": self.bad_debt,
        }


@dataclass(slots=True)
class Position:
    """An isolated position: ``notional`` $1-face contracts on ``side``, bought for ``cost_basis``.

    ``margin`` mirrors the balance of ``position:<id>``; the invariant check proves they agree.
    """

    id: int
    account: str
    market: str
    side: str
    notional: int
    cost_basis: int
    margin: int
    status: str = "open"  # open | closed | liquidated | settled
    opened_at: int = 0
    closed_at: int | None = None
    realized_pnl: int = 0
    haircut: int = 0
    version: int = 0

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "market": self.market,
            "side": self.side,
            "notional": self.notional,
            "cost_basis": self.cost_basis,
            "margin": self.margin,
            "status": self.status,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "realized_pnl": self.realized_pnl,
            "haircut": self.haircut,
        }


@dataclass(slots=True)
class State:
    """Everything the exchange knows. Balances are keyed by ledger account name."""

    params: Params
    rules: Rules
    time: int = 0
    command_seq: int = 0
    txn_seq: int = 0
    next_position_id: int = 1
    balances: dict[str, int] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    open_by_key: dict[tuple[str, str, str], int] = field(default_factory=dict)
    open_in_market: dict[str, set[int]] = field(default_factory=dict)
    wallet_notional: dict[tuple[str, str], int] = field(default_factory=dict)
    client_orders: dict[tuple[str, str], StoredOrder] = field(default_factory=dict)
    dirty_accounts: set[str] = field(default_factory=set)
    dirty_positions: set[int] = field(default_factory=set)
    dirty_markets: set[str] = field(default_factory=set)
    dirty_client_orders: set[tuple[str, str]] = field(default_factory=set)
    margin_modes: dict[str, str] = field(default_factory=dict)
    """Accounts in portfolio mode (``"portfolio"``); an absent account is isolated."""
    pm_requirement: dict[str, int] = field(default_factory=dict)
    """Last portfolio requirement computed for each portfolio account (micro-USD)."""
    dirty_margin_accounts: set[str] = field(default_factory=set)

    def clear_dirty(self) -> None:
        """Forget which rows changed: the store calls it once a block's rows are durable."""
        self.dirty_accounts.clear()
        self.dirty_positions.clear()
        self.dirty_markets.clear()
        self.dirty_client_orders.clear()
        self.dirty_margin_accounts.clear()

    def set_requirement(self, account: str, requirement: int) -> None:
        self.pm_requirement[account] = requirement
        self.dirty_margin_accounts.add(account)

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def apply_postings(self, postings: list[tuple[str, int]]) -> None:
        balances = self.balances
        get = balances.get
        mark = self.dirty_accounts.add
        for account, amount in postings:
            balances[account] = get(account, 0) + amount
            mark(account)

    def meta(self) -> dict[str, Any]:
        return {
            "params": self.params.model_dump(mode="json"),
            "time": self.time,
            "command_seq": self.command_seq,
            "txn_seq": self.txn_seq,
            "next_position_id": self.next_position_id,
        }


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8: the one serialization digests and hashes are taken over.

    orjson produces the same text as ``json.dumps(sort_keys=True, separators=(",", ":"))`` for
    the integers and strings we store, fifteen times faster; serialization was a third of the
    cost of writing a block.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def snapshot(state: State) -> dict[str, Any]:
    """The canonical picture of the state that the digest covers (integers only)."""
    snap = snapshot_head(state)
    snap["positions"] = [state.positions[k].to_row() for k in sorted(state.positions)]
    return snap


def digest(state: State) -> str:
    """SHA-256 of :func:`snapshot`: equal digests mean equal states, on any database.

    Streamed (:func:`_stream_digest`): the same bytes as ``canonical_json(snapshot(state))``,
    hashed in chunks without building a row dict per position."""
    return _stream_digest(state)


def digest_and_check(state: State) -> tuple[str, list[str]]:
    """:func:`digest` and :func:`check_invariants`, what the end of a replay reports (D143)."""
    return _stream_digest(state), check_invariants(state)


_SORT = orjson.OPT_SORT_KEYS
_CHUNK = 4_096


def _stream_digest(state: State) -> str:
    """Hash :func:`snapshot`'s canonical text.

    The canonical text of a position row is written by hand in orjson's sorted-key layout; each
    string is encoded by orjson itself (memoised: a few thousand distinct accounts and markets),
    and integers are written as Python writes them, which is what orjson writes too.
    ``tests/unit/engine/test_state_digest.py`` checks the bytes against ``canonical_json``.
    """
    hasher = hashlib.sha256()
    update = hasher.update
    head = snapshot_head(state)
    update(b'{"balances":')
    update(orjson.dumps(head["balances"], option=_SORT))
    update(b',"markets":')
    update(orjson.dumps(head["markets"], option=_SORT))
    update(b',"meta":')
    update(orjson.dumps(head["meta"], option=_SORT))
    if "portfolio" in head:
        update(b',"portfolio":')
        update(orjson.dumps(head["portfolio"], option=_SORT))
    update(b',"positions":[')
    strings: dict[str, str] = {}
    positions = state.positions
    rows: list[str] = []
    separator = ""
    for position_id in sorted(positions):
        p = positions[position_id]
        texts = []
        for value in (p.account, p.market, p.side, p.status):
            encoded = strings.get(value)
            if encoded is None:
                encoded = strings[value] = orjson.dumps(value).decode()
            texts.append(encoded)
        closed = "null" if p.closed_at is None else str(p.closed_at)
        rows.append(
            f'{{"account":{texts[0]},"closed_at":{closed},"cost_basis":{p.cost_basis},'
            f'"haircut":{p.haircut},"id":{p.id},"margin":{p.margin},"market":{texts[1]},'
            f'"notional":{p.notional},"opened_at":{p.opened_at},'
            f'"realized_pnl":{p.realized_pnl},"side":{texts[2]},"status":{texts[3]}}}'
        )
        if len(rows) == _CHUNK:
            update((separator + ",".join(rows)).encode())
            rows, separator = [], ","
    if rows:
        update((separator + ",".join(rows)).encode())
    update(b"]}")
    return hasher.hexdigest()


def snapshot_head(state: State) -> dict[str, Any]:
    """:func:`snapshot` without its positions (the streamed digest writes those row by row)."""
    head: dict[str, Any] = {
        "meta": state.meta(),
        "balances": {k: v for k, v in state.balances.items() if v != 0},
        "markets": [state.markets[k].to_row() for k in sorted(state.markets)],
    }
    if state.margin_modes or state.pm_requirement:  # absent for isolated-only exchanges
        head["portfolio"] = {
            "modes": dict(sorted(state.margin_modes.items())),
            "requirements": dict(sorted(state.pm_requirement.items())),
        }
    return head


def check_invariants(state: State) -> list[str]:
    """Return every violated invariant of DESIGN.md (empty when the state is sound)."""
    return [
        *_balance_problems(state),
        *_position_problems(state),
        *_open_interest_problems(state),
        *_exposure_problems(state),
        *_portfolio_problems(state),
    ]


def _balance_problems(state: State) -> list[str]:
    problems: list[str] = []
    total = sum(state.balances.values())
    if total != 0:
        problems.append(f"sum of balances is {total}, not 0")
    for account, balance in state.balances.items():
        if balance < 0 and account != EXTERNAL:
            problems.append(f"{account} is negative: {balance}")
    return problems


def _position_problems(state: State) -> list[str]:
    problems: list[str] = []
    for position in state.positions.values():
        account_balance = state.balance(position_account(position.id))
        if position.status != "open":
            if account_balance != 0:
                problems.append(f"closed position {position.id} still holds {account_balance}")
            continue
        if position.margin != account_balance:
            problems.append(
                f"position {position.id} margin {position.margin} != balance {account_balance}"
            )
        if position.notional <= 0 or position.cost_basis < 0:
            problems.append(f"position {position.id} has notional {position.notional}")
    return problems


def _open_interest_problems(state: State) -> list[str]:
    problems: list[str] = []
    real: dict[tuple[str, str], int] = {}
    per_wallet: dict[tuple[str, str], int] = {}
    for position in state.positions.values():
        if position.status != "open":
            continue
        key = (position.market, position.side)
        real[key] = real.get(key, 0) + position.notional
        wkey = (position.account, position.market)
        per_wallet[wkey] = per_wallet.get(wkey, 0) + position.notional
    for market in state.markets.values():
        for side, stored in (("A", market.real_oi_a), ("B", market.real_oi_b)):
            expected = real.get((market.id, side), 0)
            if stored != expected:
                problems.append(f"{market.id} real OI {side} is {stored}, positions sum {expected}")
    stored_wallets = {k: v for k, v in state.wallet_notional.items() if v}
    if stored_wallets != per_wallet:
        problems.append("per-wallet notional index disagrees with open positions")
    return problems


def _exposure_problems(state: State) -> list[str]:
    exposure: dict[tuple[str, str], list[int]] = {}
    for position in state.positions.values():
        if position.status == "open":
            entry = exposure.setdefault((position.market, position.side), [0, 0])
            entry[0] += position.notional - position.cost_basis
            entry[1] += min(position.margin, position.cost_basis)
    return [
        f"{market.id} exposure aggregates on {side} disagree"
        for market in state.markets.values()
        for side in ("A", "B")
        if [market.win_profit[side], market.collectible[side]]
        != exposure.get((market.id, side), [0, 0])
    ]


def _portfolio_problems(state: State) -> list[str]:
    """Portfolio accounts: the lock equals the last requirement (below it only with an empty
    wallet, after a resolution the account could not cover); no lock outside portfolio mode;
    no portfolio account whose unrealised loss at mark reaches its lock."""
    problems: list[str] = []
    for name, balance in state.balances.items():
        owner = name.removeprefix("pm_margin:")
        if balance and owner != name and state.margin_modes.get(owner) != "portfolio":
            problems.append(f"{name} holds {balance} outside portfolio mode")
    held: dict[str, list[Position]] = {}
    for position in state.positions.values():
        if position.status == "open" and position.account in state.margin_modes:
            held.setdefault(position.account, []).append(position)
    for account in state.margin_modes:
        lock = state.balance(pm_margin_account(account))
        required = state.pm_requirement.get(account, 0)
        if lock != required and not (
            lock < required and state.balance(wallet_account(account)) == 0
        ):
            problems.append(f"{account} locks {lock} but its requirement is {required}")
        if account in held and _loss_at_mark(state, held[account]) >= lock:
            problems.append(f"portfolio account {account} has unrealised loss >= its lock {lock}")
    return problems


def _loss_at_mark(state: State, positions: list[Position]) -> Fraction:
    total = Fraction(0)
    for p in positions:
        market = state.markets[p.market]
        oi_x = market.oi(p.side)
        den = market.oi("A") + market.oi("B")
        total += Fraction(p.cost_basis * den - oi_x * p.notional, den)
    return total
