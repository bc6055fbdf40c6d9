"""What every controller shares: the state, the transaction being built, lookups, and the
bookkeeping that keeps the indexes (liquidation heaps, per-wallet notional, exposure
aggregates, dirty sets) consistent with the positions.

Controllers (``prophex.engine.controllers``) compute a *plan* without touching state, then
*apply* it through these helpers; :class:`~prophex.engine.exchange.Exchange` only dispatches.
"""

from __future__ import annotations

from prophex.engine.caps import CapHeadroom, effective_caps
from prophex.engine.domain import PositionStatus
from prophex.engine.events import INSURANCE_FUND, Journal, Transaction
from prophex.engine.indexes import liquidation_entries
from prophex.engine.journal import Event, kind_of
from prophex.engine.state import Market, Position, State
from prophex.errors import InsufficientBalance, InvariantViolation, NotFound
from prophex.money import format_usd

HEAP_SLACK = 64
"""Stale heap entries tolerated beyond the live positions before a side's heap is rebuilt."""


class Core:
    """The mutable exchange state plus the helpers that change it consistently."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.transactions: list[Transaction] | None = None
        """The transactions of the command being executed (None between commands)."""

    def __reduce__(self) -> tuple[type[Core], tuple[State]]:
        return Core, (self.state,)  # copied between commands, when no command is executing

    # ------------------------------------------------------------------ transactions

    def commit(self, event: Event, journal: Journal) -> Transaction:
        """Append one balanced transaction to the command being executed and apply its
        postings. The transaction carries the typed event; its canonical journal form is
        encoded only when the ledger, the chain or a feed asks for it."""
        transactions = self.transactions
        if transactions is None:  # an explicit check: it must survive ``python -O``
            raise InvariantViolation("a transaction was committed outside a command")
        state = self.state
        state.txn_seq += 1
        txn = Transaction(state.txn_seq, kind_of(event), journal.postings, event)
        state.apply_postings(journal.postings)
        transactions.append(txn)
        return txn

    def pending(self, journal: Journal, account: str) -> int:
        """Balance of ``account`` once the postings gathered so far are applied."""
        return self.state.balance(account) + sum(a for n, a in journal.postings if n == account)

    # ------------------------------------------------------------------ lookups

    def market(self, market_id: str) -> Market:
        market = self.state.markets.get(market_id)
        if market is None:
            raise NotFound(f"market {market_id!r} does not exist", resource="market")
        return market

    def own_position(self, account: str, position_id: int) -> Position:
        """An open position of ``account``. Someone else's looks exactly like a missing one."""
        position = self.state.positions.get(position_id)
        if position is None or position.account != account or position.status != "open":
            raise NotFound(
                f"no open position {position_id} for account {account!r}", resource="position"
            )
        return position

    def cap_headroom(self, account: str, market: Market) -> CapHeadroom:
        state = self.state
        wallet_cap, market_cap = effective_caps(
            market, state.rules, state.balances.get(INSURANCE_FUND, 0)
        )
        return CapHeadroom(
            wallet_cap,
            state.wallet_notional.get((account, market.id), 0),
            market_cap,
            market.real_oi_a + market.real_oi_b,
        )

    def require_funds(self, wallet: str, required: int, check: str) -> int:
        available = self.state.balance(wallet)
        if available < required:
            raise InsufficientBalance(
                f"{check} needs {format_usd(required)} USD but the wallet has "
                f"{format_usd(available)} USD free",
                check=check,
                required=format_usd(required),
                available=format_usd(available),
            )
        return available

    # ------------------------------------------------------------------ index maintenance

    def reindex(self, market: Market, position: Position) -> None:
        """A position's C, M or N changed: bump its version and push its new threshold."""
        position.version += 1
        self.state.dirty_positions.add(position.id)
        index = market.liquidations
        index.track(
            position.side,
            position.id,
            position.version,
            position.cost_basis - position.margin,
            position.notional,
        )
        if len(index.heaps[position.side]) > len(self.state.open_in_market[market.id]) + HEAP_SLACK:
            self.compact(market, position.side)

    def compact(self, market: Market, side: str) -> None:
        """Stale heap entries are skipped lazily; rebuilding once they outnumber the live
        positions keeps each heap O(open positions), at amortised O(1) per update."""
        market.liquidations.rebuild(side, liquidation_entries(self.state, market, side))

    def grow_exposure(self, market: Market, position: Position, notional: int) -> None:
        market.add_real_oi(position.side, notional)
        key = (position.account, market.id)
        wallets = self.state.wallet_notional
        wallets[key] = wallets.get(key, 0) + notional
        self.state.dirty_markets.add(market.id)

    def shrink_exposure(self, market: Market, position: Position, notional: int) -> None:
        market.add_real_oi(position.side, -notional)
        key = (position.account, market.id)
        remaining = self.state.wallet_notional[key] - notional
        if remaining:
            self.state.wallet_notional[key] = remaining
        else:
            del self.state.wallet_notional[key]
        self.state.dirty_markets.add(market.id)

    def retire(self, position: Position, status: PositionStatus) -> None:
        state = self.state
        position.status = status.value
        position.closed_at = state.time
        position.version += 1
        state.dirty_positions.add(position.id)
        del state.open_by_key[(position.account, position.market, position.side)]
        state.open_in_market[position.market].discard(position.id)

    def position_for(self, account: str, market: Market, side: str) -> Position:
        """The open position an order of ``account`` on ``side`` increases, or a new empty one
        (isolated and portfolio opens alike). An existing one leaves the market's exposure
        aggregates until the order has changed it."""
        state = self.state
        key = (account, market.id, side)
        position_id = state.open_by_key.get(key)
        if position_id is not None:
            position = state.positions[position_id]
            market.expose(position, -1)
            return position
        position = Position(
            id=state.next_position_id,
            account=account,
            market=market.id,
            side=side,
            notional=0,
            cost_basis=0,
            margin=0,
            opened_at=state.time,
        )
        state.next_position_id += 1
        state.positions[position.id] = position
        state.open_by_key[key] = position.id
        state.open_in_market[market.id].add(position.id)
        return position

    def open_positions(self, market_id: str) -> list[Position]:
        """The market's open positions by id: the fixed order of funding and settlement."""
        positions = self.state.positions
        return [positions[i] for i in sorted(self.state.open_in_market[market_id])]
