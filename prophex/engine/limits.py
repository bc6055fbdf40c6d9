"""Storage limits: no command may push a stored integer past what the database columns hold.

Every amount column is a signed 64-bit integer (``BIGINT``; SQLite ``INTEGER``), so the
largest value is 2**63 - 1. The engine keeps every stored integer at or below
:data:`MAX_STORED` = 2**62 (about 4.6 trillion USD in micro-USD), half of that, so the sum of
any two stored values still fits. The checks run *before* a command mutates anything; a
command that would cross a bound is rejected alone with ``AMOUNT_LIMIT_EXCEEDED`` (422,
details ``field`` and ``limit``) and nothing is written.

Why these few checks bound everything (docs/architecture.md, "Storage limits"):

* Money only enters through deposits and genesis, from ``external``. Every other balance is
  non-negative and all balances sum to zero, so each balance is at most ``-external`` (the
  money in the system). Bounding ``-external`` by ``MAX_STORED`` bounds every balance, margin,
  vault, fee pool and cost basis.
* One wallet may hold at most :data:`MAX_WALLET` (10**17 micro-USD, 100 billion USD), so one
  account cannot use up the whole system's room on its own.
* A market's cumulative ``volume`` grows by the notional of every open and every close, while
  closes and liquidations only ever retire notional that an open added. Requiring
  ``volume + real_oi_a + real_oi_b + 2 * notional <= MAX_STORED`` of every open keeps
  ``volume + real OI`` within the bound forever, so closes, liquidations and resolutions (which
  must never be refused) cannot overflow it. Notional, real OI, cost basis and bad debt are
  all at most that sum.
* The simulated clock: ``time + seconds <= MAX_STORED``.

The functions are pure (no I/O); :func:`check_command` is called by ``Exchange.apply``.
"""

from __future__ import annotations

from prophex.engine.commands import AdvanceClock, Command, Deposit, Open, OpenPortfolio
from prophex.engine.events import EXTERNAL, wallet_account
from prophex.engine.state import State
from prophex.errors import AmountLimitExceeded
from prophex.money import MAX_AMOUNT, centi_of_down

BIGINT_MAX = 2**63 - 1
"""The largest value a ``BIGINT`` (PostgreSQL) or ``INTEGER`` (SQLite) column holds."""

MAX_STORED = 2**62
"""The bound on every stored integer (micro-USD, seconds, counters): 4,611,686,018,427,387,904."""

MAX_WALLET = 10**17
"""The most one wallet may hold: 100,000,000,000 USD in micro-USD."""


def _exceeded(field: str, limit: int, value: int, what: str) -> AmountLimitExceeded:
    return AmountLimitExceeded(
        f"{what} would reach {value}, above the limit {limit}; nothing was written",
        field=field,
        limit=limit,
        value=value,
    )


def check_deposit(state: State, account: str, amount: int) -> None:
    """A deposit may take neither the wallet past MAX_WALLET nor the system past MAX_STORED."""
    wallet = state.balances.get(wallet_account(account), 0) + amount
    if wallet > MAX_WALLET:
        raise _exceeded("balance", MAX_WALLET, wallet, f"the balance of wallet {account!r}")
    total = -state.balances.get(EXTERNAL, 0) + amount
    if total > MAX_STORED:
        raise _exceeded("total_deposits", MAX_STORED, total, "the money held by the exchange")


def check_open(state: State, market_id: str, notional: int) -> None:
    """An open keeps ``volume + real OI + 2 * notional`` (room for its own close) in bounds."""
    market = state.markets.get(market_id)
    if market is None:
        return
    projected = market.volume + market.real_oi_a + market.real_oi_b + 2 * notional
    if projected > MAX_STORED:
        raise _exceeded(
            "volume",
            MAX_STORED,
            projected,
            f"market {market_id!r} volume plus open interest (counting this order's close)",
        )


def check_clock(state: State, seconds: int) -> None:
    projected = state.time + seconds
    if projected > MAX_STORED:
        raise _exceeded("time", MAX_STORED, projected, "the simulated clock")


def check_command(state: State, command: Command) -> None:
    """Run the limit check of ``command``, if it has one. Malformed values are left to the
    handler (which rejects them with its own code), so the order of errors is unchanged."""
    kind = type(command)
    if kind is Deposit:
        deposit: Deposit = command  # type: ignore[assignment]
        if _valid(deposit.amount):
            check_deposit(state, deposit.account, deposit.amount)
    elif kind is Open:
        order: Open = command  # type: ignore[assignment]
        leverage = order.leverage_centi
        if _valid(order.margin) and 100 <= leverage <= state.rules.max_leverage_centi:
            check_open(state, order.market, centi_of_down(order.margin, leverage))
    elif kind is OpenPortfolio:
        pm_order: OpenPortfolio = command  # type: ignore[assignment]
        if _valid(pm_order.notional):
            check_open(state, pm_order.market, pm_order.notional)
    elif kind is AdvanceClock:
        clock: AdvanceClock = command  # type: ignore[assignment]
        if isinstance(clock.seconds, int) and clock.seconds > 0:
            check_clock(state, clock.seconds)


def _valid(amount: object) -> bool:
    return isinstance(amount, int) and not isinstance(amount, bool) and 0 < amount <= MAX_AMOUNT


def out_of_range(value: int | None) -> bool:
    """True if ``value`` is outside what the storage bound allows (the last line of defence
    before a block is written)."""
    return value is not None and not -MAX_STORED <= value <= MAX_STORED
