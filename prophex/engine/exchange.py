"""``Exchange.apply(command) -> Receipt``: the only place exchange state changes.

Every handler first checks everything that can fail and only then mutates, so a rejected
command (a typed :class:`~prophex.errors.ProphexError`) leaves the state exactly as it was.
Money moves only through :class:`~prophex.engine.events.Journal` postings, which the state
applies as one balanced transaction. After every change that moves a price, the market's
liquidation index is drained in a fixed order (highest liquidation price first, then lowest
position id), so a cascade is processed the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prophex.engine import amm
from prophex.engine.caps import CapHeadroom, scale_cap
from prophex.engine.commands import (
    MARKET_TAGS,
    AddMargin,
    AdvanceClock,
    Close,
    Command,
    CreateMarket,
    Deposit,
    Genesis,
    Halt,
    Open,
    Resolve,
    Resume,
    SetParams,
    Void,
    Withdraw,
    command_type,
    to_dict,
)
from prophex.engine.events import (
    EXTERNAL,
    INSURANCE_FUND,
    TREASURY,
    Journal,
    Receipt,
    Transaction,
    position_account,
    vault_account,
    wallet_account,
)
from prophex.engine.fees import fee_split, penalty_split, trading_fee
from prophex.engine.funding import (
    boundaries_crossed,
    funding_payment,
    funding_rate,
    paying_side,
    rate_ppm_floor,
)
from prophex.engine.liquidation import HeapEntry, is_liquidatable
from prophex.engine.markets import SETTLEABLE, TRADING, TRANSITIONS, require_status
from prophex.engine.positions import partial_shares
from prophex.engine.settlement import allocate_pro_rata, settlement_value
from prophex.engine.state import Market, Position, State, canonical_json
from prophex.errors import (
    AlreadyExists,
    ClockError,
    CloseTooLarge,
    CoverageCapExceeded,
    DuplicateClientOrderId,
    InsufficientBalance,
    InvalidCommand,
    LeverageTooHigh,
    NotFound,
    PositionTooSmall,
    SlippageExceeded,
)
from prophex.money import (
    MAX_AMOUNT,
    centi_of_down,
    check_amount,
    format_prices_apart,
    format_usd,
)
from prophex.params import Params, make_params, profile

OTHER = {"A": "B", "B": "A"}
_ORDER_TYPES = (Open, Close)
MAX_FUNDING_INTERVALS_PER_COMMAND = 100_000


@dataclass(frozen=True, slots=True)
class OpenPlan:
    """Everything an open would do, computed without changing state (also serves quotes)."""

    market: Market
    side: str
    notional: int
    fee: int
    cost: int
    headroom: CapHeadroom
    available: int


class Exchange:
    """The deterministic exchange engine. Construct with :meth:`create` for a fresh genesis."""

    def __init__(self, state: State | None = None) -> None:
        default = profile("launch")
        self.state = state if state is not None else State(params=default, rules=default.rules())
        self._receipt: Receipt | None = None
        self._handlers: dict[type[Any], Callable[[Any], dict[str, Any]]] = {
            Genesis: self._genesis,
            CreateMarket: self._create_market,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            Open: self._open,
            Close: self._close,
            AddMargin: self._add_margin,
            Halt: self._halt,
            Resume: self._resume,
            Resolve: self._resolve,
            Void: self._void,
            AdvanceClock: self._advance_clock,
            SetParams: self._set_params,
        }

    @classmethod
    def create(cls, params: Params | None = None) -> Exchange:
        exchange = cls()
        chosen = params if params is not None else profile("launch")
        exchange.apply(Genesis(params=chosen.model_dump(mode="json")))
        return exchange

    # ------------------------------------------------------------------ entry point

    def apply(self, command: Command) -> Receipt:
        """Execute one command. Raises a ProphexError (and changes nothing) if it is rejected."""
        client_key = self._client_key(command)
        if client_key is not None and client_key in self.state.client_orders:
            return self._idempotent_replay(command, client_key)
        state = self.state
        receipt = Receipt(command_seq=state.command_seq + 1, kind=command_type(command))
        self._receipt = receipt
        try:
            receipt.result = self._handlers[type(command)](command)
        finally:
            self._receipt = None
        state.command_seq += 1
        if client_key is not None:
            self._remember_client_order(command, client_key, receipt)
        return receipt

    def _commit(self, kind: str, journal: Journal, data: dict[str, Any]) -> Transaction:
        state = self.state
        state.txn_seq += 1
        txn = Transaction(seq=state.txn_seq, kind=kind, postings=journal.postings, data=data)
        state.apply_postings(journal.postings)
        assert self._receipt is not None
        self._receipt.transactions.append(txn)
        return txn

    # ------------------------------------------------------------------ idempotency

    @staticmethod
    def _client_key(command: Command) -> tuple[str, str] | None:
        if type(command) in _ORDER_TYPES:
            order: Open | Close = command  # type: ignore[assignment]
            if order.client_order_id is not None:
                return order.account, order.client_order_id
        return None

    def _idempotent_replay(self, command: Command, key: tuple[str, str]) -> Receipt:
        fingerprint, result = self.state.client_orders[key]
        if fingerprint != canonical_json(to_dict(command)):
            raise DuplicateClientOrderId(
                f"client_order_id {key[1]!r} was already used for a different request",
                client_order_id=key[1],
            )
        return Receipt(
            command_seq=int(result["command_seq"]),
            kind=command_type(command),
            result=dict(result),
            duplicate=True,
        )

    def _remember_client_order(
        self, command: Command, key: tuple[str, str], receipt: Receipt
    ) -> None:
        stored = {**receipt.result, "command_seq": receipt.command_seq}
        self.state.client_orders[key] = (canonical_json(to_dict(command)), stored)
        self.state.dirty_client_orders.add(key)

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
        rules = state.rules
        fund = state.balances.get(INSURANCE_FUND, 0)
        wallet_base = rules.wallet_cap if market.wallet_cap is None else market.wallet_cap
        market_base = rules.market_oi_cap if market.market_oi_cap is None else market.market_oi_cap
        return CapHeadroom(
            scale_cap(wallet_base, fund, rules),
            state.wallet_notional.get((account, market.id), 0),
            scale_cap(market_base, fund, rules),
            market.real_oi_a + market.real_oi_b,
        )

    # ------------------------------------------------------------------ genesis, params, clock

    def _genesis(self, c: Genesis) -> dict[str, Any]:
        state = self.state
        if state.command_seq != 0:
            raise InvalidCommand("genesis must be the first command", field="type")
        params = make_params(c.params)
        state.params, state.rules = params, params.rules()
        journal = Journal()
        journal.move(EXTERNAL, INSURANCE_FUND, state.rules.if_seed)
        self._commit("genesis", journal, {"params": params.model_dump(mode="json")})
        return {"insurance_fund": state.rules.if_seed}

    def _set_params(self, c: SetParams) -> dict[str, Any]:
        overrides = dict(c.params)
        name = overrides.pop("profile", None)
        if isinstance(name, str) and name != "custom":
            base = profile(name)
            params = base.with_overrides(overrides) if overrides else base
        else:
            params = self.state.params.with_overrides(overrides)
        self.state.params, self.state.rules = params, params.rules()
        self._commit("set_params", Journal(), {"params": params.model_dump(mode="json")})
        return {"params": params.model_dump(mode="json")}

    def _advance_clock(self, c: AdvanceClock) -> dict[str, Any]:
        if c.seconds <= 0:
            raise ClockError("the simulated clock only moves forward", field="seconds")
        state = self.state
        interval = state.rules.funding_interval_seconds
        start, end = state.time, state.time + c.seconds
        boundaries = boundaries_crossed(start, end, interval)
        if len(boundaries) > MAX_FUNDING_INTERVALS_PER_COMMAND:
            raise InvalidCommand(
                f"advance crosses {len(boundaries)} funding intervals; split it into smaller steps",
                field="seconds",
            )
        payments = 0
        for boundary in boundaries:
            state.time = boundary * interval
            for market_id in sorted(state.markets):
                market = state.markets[market_id]
                if market.funding and market.status == "open":
                    payments += self._fund(market)
        state.time = end
        self._commit("clock", Journal(), {"from": start, "to": end})
        return {"time": end, "funding_payments": payments}

    # ------------------------------------------------------------------ markets

    def _create_market(self, c: CreateMarket) -> dict[str, Any]:
        state = self.state
        if c.market in state.markets:
            raise AlreadyExists(f"market {c.market!r} already exists", resource="market")
        virtual_oi = c.virtual_oi if c.virtual_oi is not None else state.rules.virtual_oi
        check_amount(virtual_oi, field="virtual_oi")
        for name in ("wallet_cap", "market_oi_cap"):
            value = getattr(c, name)
            if value is not None:
                check_amount(value, field=name)
        tags = {key: getattr(c, key) for key in MARKET_TAGS if getattr(c, key)}
        market = Market(
            id=c.market,
            kind=c.kind,
            virtual_oi=virtual_oi,
            funding=c.funding if c.funding is not None else c.kind == "perpetual",
            tags=tags,
            wallet_cap=c.wallet_cap,
            market_oi_cap=c.market_oi_cap,
            created_at=state.time,
        )
        state.markets[c.market] = market
        state.open_in_market[c.market] = set()
        state.dirty_markets.add(c.market)
        self._commit("create_market", Journal(), {"market": market.to_row()})
        return {"market": c.market}

    def _transition(self, market_id: str, action: str, new_status: str) -> dict[str, Any]:
        market = self.market(market_id)
        require_status(market_id, market.status, TRANSITIONS[action], action)
        market.status = new_status
        self.state.dirty_markets.add(market_id)
        self._commit(action, Journal(), {"market": market_id, "status": new_status})
        return {"market": market_id, "status": new_status}

    def _halt(self, c: Halt) -> dict[str, Any]:
        return self._transition(c.market, "halt", "halted")

    def _resume(self, c: Resume) -> dict[str, Any]:
        return self._transition(c.market, "resume", "open")

    # ------------------------------------------------------------------ wallets

    def _deposit(self, c: Deposit) -> dict[str, Any]:
        check_amount(c.amount)
        journal = Journal()
        journal.move(EXTERNAL, wallet_account(c.account), c.amount)
        self._commit("deposit", journal, {"account": c.account, "amount": c.amount})
        return {"balance": self.state.balance(wallet_account(c.account))}

    def _withdraw(self, c: Withdraw) -> dict[str, Any]:
        check_amount(c.amount)
        wallet = wallet_account(c.account)
        self._require_funds(wallet, c.amount, "withdraw")
        journal = Journal()
        journal.move(wallet, EXTERNAL, c.amount)
        self._commit("withdraw", journal, {"account": c.account, "amount": c.amount})
        return {"balance": self.state.balance(wallet)}

    def _require_funds(self, wallet: str, required: int, check: str) -> int:
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

    # ------------------------------------------------------------------ opening

    def plan_open(self, c: Open, *, enforce: bool = True) -> OpenPlan:
        """Validate an open and price it. With ``enforce=False`` (quotes) balance and caps are
        reported rather than enforced."""
        rules = self.state.rules
        market = self.market(c.market)
        if market.status != "open":
            require_status(c.market, market.status, TRADING, "open a position")
        if c.side not in OTHER:
            raise InvalidCommand("side must be 'A' or 'B'", field="side")
        check_amount(c.margin, field="margin")
        if c.leverage_centi < 100:
            raise InvalidCommand("leverage must be at least 1", field="leverage")
        if c.leverage_centi > rules.max_leverage_centi:
            raise LeverageTooHigh(
                f"leverage {c.leverage_centi / 100:g} exceeds the maximum "
                f"{rules.max_leverage_centi / 100:g}",
                field="leverage",
                max_leverage=f"{rules.max_leverage_centi / 100:g}",
            )
        notional = centi_of_down(c.margin, c.leverage_centi)
        if notional < rules.min_notional:
            raise PositionTooSmall(
                f"notional {format_usd(notional)} USD is below the minimum "
                f"{format_usd(rules.min_notional)} USD",
                field="margin",
            )
        if notional > MAX_AMOUNT:
            check_amount(notional, field="notional")
        fee = trading_fee(notional, rules)
        headroom = self.cap_headroom(c.account, market)
        wallet = wallet_account(c.account)
        available = self.state.balances.get(wallet, 0)
        if enforce and available < c.margin + fee:
            self._require_funds(wallet, c.margin + fee, "margin plus opening fee")
        if enforce:
            headroom.check(notional, check_market=rules.cap_rule == "fixed")
        cost = amm.open_cost(market.oi(c.side), market.oi(OTHER[c.side]), notional)
        if enforce and rules.cap_rule == "coverage":
            self._check_coverage(c, market, notional, cost)
        if c.max_avg_price is not None and cost * c.max_avg_price.denominator > (
            c.max_avg_price.numerator * notional
        ):
            average, limit = format_prices_apart(Fraction(cost, notional), c.max_avg_price)
            raise SlippageExceeded(
                f"average price {average} is above the bound {limit}",
                average_price=average,
                bound=limit,
            )
        return OpenPlan(market, c.side, notional, fee, cost, headroom, available)

    def _open(self, c: Open) -> dict[str, Any]:
        plan = self.plan_open(c)
        state = self.state
        market, side, notional = plan.market, plan.side, plan.notional
        key = (c.account, market.id, side)
        position_id = state.open_by_key.get(key)
        if position_id is None:
            position = Position(
                id=state.next_position_id,
                account=c.account,
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
        else:
            position = state.positions[position_id]
            market.expose(position, -1)
        wallet = wallet_account(c.account)
        fee_to_fund, fee_to_treasury = fee_split(plan.fee, state.rules)
        journal = Journal()
        journal.move(wallet, position_account(position.id), c.margin)
        journal.move(wallet, INSURANCE_FUND, fee_to_fund)
        journal.move(wallet, TREASURY, fee_to_treasury)
        position.notional += notional
        position.cost_basis += plan.cost
        position.margin += c.margin
        market.expose(position, 1)
        self._reindex(market, position)
        market.add_real_oi(side, notional)
        market.volume += notional
        wkey = (c.account, market.id)
        state.wallet_notional[wkey] = state.wallet_notional.get(wkey, 0) + notional
        state.dirty_markets.add(market.id)
        self._commit(
            "open",
            journal,
            {
                "account": c.account,
                "market": market.id,
                "side": side,
                "position": position.id,
                "notional": notional,
                "cost": plan.cost,
                "margin": c.margin,
                "fee": plan.fee,
                "oi_a": market.oi("A"),
                "oi_b": market.oi("B"),
            },
        )
        self._liquidate(market, (OTHER[side],))
        return {
            "position_id": position.id,
            "notional": notional,
            "cost": plan.cost,
            "fee": plan.fee,
            "margin": c.margin,
            "position_notional": position.notional,
            "position_cost_basis": position.cost_basis,
            "position_margin": position.margin,
        }

    # ------------------------------------------------------------------ resolution exposure

    def resolution_shortfall(self, market_id: str, outcome: str) -> dict[str, int]:
        """Exactly what resolving ``market_id`` to ``outcome`` (A or B) would cost right now.

        Winners are owed ``win_profit[X]``; losers pay ``collectible[other]`` into the vault;
        the fund covers the rest up to its balance and anything beyond is haircut. This is the
        same arithmetic as :meth:`_settle`, kept in O(1) by the per-market aggregates.
        """
        if outcome not in OTHER:
            raise InvalidCommand("outcome must be 'A' or 'B'", field="outcome")
        market = self.market(market_id)
        vault = self.state.balance(vault_account(market_id))
        return _shortfall(market, outcome, vault, self.state.balance(INSURANCE_FUND))

    def worst_case_shortfall(self, market: Market) -> int:
        vault = self.state.balance(vault_account(market.id))
        return max(_shortfall(market, side, vault, 0)["shortfall"] for side in ("A", "B"))

    def _check_coverage(self, c: Open, market: Market, notional: int, cost: int) -> None:
        """Coverage-aware cap: the fund must still cover every market's worst case at once."""
        state = self.state
        existing_id = state.open_by_key.get((c.account, market.id, c.side))
        side = c.side
        extra_profit = notional - cost
        extra_collect = min(c.margin, cost)
        if existing_id is not None:
            old = state.positions[existing_id]
            extra_collect = min(old.margin + c.margin, old.cost_basis + cost) - min(
                old.margin, old.cost_basis
            )
        market.win_profit[side] += extra_profit
        market.collectible[side] += extra_collect
        try:
            this_market = self.worst_case_shortfall(market)
        finally:
            market.win_profit[side] -= extra_profit
            market.collectible[side] -= extra_collect
        others = sum(
            self.worst_case_shortfall(m)
            for m in state.markets.values()
            if m.id != market.id and m.status in SETTLEABLE
        )
        fund = state.balance(INSURANCE_FUND)
        if others + this_market > fund:
            raise CoverageCapExceeded(
                f"after this order the worst-case resolution shortfalls would total "
                f"{format_usd(others + this_market)} USD but the insurance fund holds "
                f"{format_usd(fund)} USD",
                worst_case_shortfall=format_usd(others + this_market),
                insurance_fund=format_usd(fund),
            )

    def _reindex(self, market: Market, position: Position) -> None:
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
        if len(index.heaps[position.side]) > len(self.state.open_in_market[market.id]) + 64:
            self._compact(market, position.side)

    def _compact(self, market: Market, side: str) -> None:
        """Stale heap entries are skipped lazily; rebuilding once they outnumber the live
        positions keeps each heap O(open positions), at amortised O(1) per update."""
        positions = self.state.positions
        fresh = [
            HeapEntry(p.cost_basis - p.margin, p.notional, p.id, p.version)
            for p in (positions[i] for i in self.state.open_in_market[market.id])
            if p.side == side and p.cost_basis > p.margin
        ]
        market.liquidations.rebuild(side, fresh)

    # ------------------------------------------------------------------ closing and margin

    def _close(self, c: Close) -> dict[str, Any]:
        state = self.state
        position = self.own_position(c.account, c.position_id)
        market = self.market(position.market)
        require_status(market.id, market.status, TRADING, "close a position")
        closing = position.notional if c.notional is None else c.notional
        check_amount(closing, field="notional")
        if closing > position.notional:
            raise CloseTooLarge(
                f"cannot close {format_usd(closing)} USD of a {format_usd(position.notional)} "
                "USD position",
                requested=format_usd(closing),
                held=format_usd(position.notional),
            )
        side = position.side
        proceeds = amm.close_proceeds(market.oi(side), market.oi(OTHER[side]), closing)
        bound = c.min_avg_price
        if bound is not None and proceeds * bound.denominator < bound.numerator * closing:
            average, limit = format_prices_apart(Fraction(proceeds, closing), bound)
            raise SlippageExceeded(
                f"average exit price {average} is below the bound {limit}",
                average_price=average,
                bound=limit,
            )
        cost_part, margin_part = partial_shares(
            position.notional, position.cost_basis, position.margin, closing
        )
        pnl = proceeds - cost_part
        wallet = wallet_account(c.account)
        account = position_account(position.id)
        vault = vault_account(market.id)
        journal = Journal()
        fund_draw = haircut = bad_debt = 0
        if pnl >= 0:
            journal.move(account, wallet, margin_part)
            fund_draw, haircut = self._pay_profit(journal, market.id, wallet, pnl)
            realized = pnl - haircut
        else:
            to_vault = min(-pnl, margin_part)
            journal.move(account, vault, to_vault)
            journal.move(account, wallet, margin_part - to_vault)
            bad_debt = -pnl - to_vault
            realized = -to_vault
        fee = min(trading_fee(closing, state.rules), self._pending(journal, wallet))
        fee_to_fund, fee_to_treasury = fee_split(fee, state.rules)
        journal.move(wallet, INSURANCE_FUND, fee_to_fund)
        journal.move(wallet, TREASURY, fee_to_treasury)
        market.expose(position, -1)
        position.notional -= closing
        position.cost_basis -= cost_part
        position.margin -= margin_part
        position.realized_pnl += realized
        position.haircut += haircut
        self._shrink_exposure(market, position, closing)
        market.volume += closing
        market.bad_debt += bad_debt
        if position.notional == 0:
            self._retire(position, "closed")
        else:
            market.expose(position, 1)
            self._reindex(market, position)
        self._commit(
            "close",
            journal,
            {
                "account": c.account,
                "market": market.id,
                "side": side,
                "position": position.id,
                "notional": closing,
                "proceeds": proceeds,
                "cost": cost_part,
                "pnl": realized,
                "fee": fee,
                "fund_draw": fund_draw,
                "haircut": haircut,
                "bad_debt": bad_debt,
                "oi_a": market.oi("A"),
                "oi_b": market.oi("B"),
            },
        )
        self._liquidate(market, (side,))
        return {
            "position_id": position.id,
            "closed_notional": closing,
            "proceeds": proceeds,
            "realized_pnl": realized,
            "fee": fee,
            "haircut": haircut,
            "remaining_notional": position.notional,
        }

    def _pending(self, journal: Journal, account: str) -> int:
        """Balance of ``account`` once the postings gathered so far are applied."""
        return self.state.balance(account) + sum(a for n, a in journal.postings if n == account)

    def _pay_profit(
        self, journal: Journal, market_id: str, wallet: str, profit: int
    ) -> tuple[int, int]:
        """Pay a profit from the vault; the fund covers any shortfall at once; what the fund
        cannot cover is a recorded haircut. Returns (fund draw, haircut)."""
        vault = vault_account(market_id)
        shortfall = max(0, profit - self._pending(journal, vault))
        draw = min(shortfall, self._pending(journal, INSURANCE_FUND))
        journal.move(INSURANCE_FUND, vault, draw)
        haircut = shortfall - draw
        journal.move(vault, wallet, profit - haircut)
        return draw, haircut

    def _shrink_exposure(self, market: Market, position: Position, notional: int) -> None:
        market.add_real_oi(position.side, -notional)
        key = (position.account, market.id)
        remaining = self.state.wallet_notional[key] - notional
        if remaining:
            self.state.wallet_notional[key] = remaining
        else:
            del self.state.wallet_notional[key]
        self.state.dirty_markets.add(market.id)

    def _retire(self, position: Position, status: str) -> None:
        state = self.state
        position.status = status
        position.closed_at = state.time
        position.version += 1
        state.dirty_positions.add(position.id)
        del state.open_by_key[(position.account, position.market, position.side)]
        state.open_in_market[position.market].discard(position.id)

    def _add_margin(self, c: AddMargin) -> dict[str, Any]:
        position = self.own_position(c.account, c.position_id)
        check_amount(c.amount)
        wallet = wallet_account(c.account)
        self._require_funds(wallet, c.amount, "add margin")
        journal = Journal()
        journal.move(wallet, position_account(position.id), c.amount)
        market = self.state.markets[position.market]
        market.expose(position, -1)
        position.margin += c.amount
        market.expose(position, 1)
        self._reindex(market, position)
        self._commit(
            "add_margin",
            journal,
            {"account": c.account, "position": position.id, "amount": c.amount},
        )
        return {"position_id": position.id, "margin": position.margin}

    # ------------------------------------------------------------------ liquidation

    def _liquidate(self, market: Market, sides: tuple[str, ...] = ("A", "B")) -> None:
        """Liquidate, in a fixed order, every position whose loss at spot reaches its margin.

        ``sides`` names the sides whose price fell; a side whose price rose cannot have a new
        liquidation, so it is not checked.
        """
        state = self.state
        index = market.liquidations
        for side in sides:
            while (top := index.top(side)) is not None:
                position = state.positions[top.position_id]
                if position.status != "open" or position.version != top.version:
                    index.pop(side)
                    continue
                oi_side, oi_other = market.oi(side), market.oi(OTHER[side])
                if not is_liquidatable(
                    position.cost_basis, position.margin, position.notional, oi_side, oi_other
                ):
                    break
                index.pop(side)
                self._liquidate_position(market, position, oi_side, oi_other)

    def _liquidate_position(
        self, market: Market, position: Position, oi_side: int, oi_other: int
    ) -> None:
        proceeds = amm.close_proceeds(oi_side, oi_other, position.notional)
        seized = position.margin
        bad_debt = max(0, position.cost_basis - proceeds - seized)
        to_fund, to_vault = penalty_split(seized, self.state.rules)
        account = position_account(position.id)
        journal = Journal()
        journal.move(account, INSURANCE_FUND, to_fund)
        journal.move(account, vault_account(market.id), to_vault)
        notional = position.notional
        market.expose(position, -1)
        position.margin = 0
        position.realized_pnl -= seized
        self._shrink_exposure(market, position, notional)
        market.bad_debt += bad_debt
        self._retire(position, "liquidated")
        self._commit(
            "liquidation",
            journal,
            {
                "account": position.account,
                "market": market.id,
                "side": position.side,
                "position": position.id,
                "notional": notional,
                "cost_basis": position.cost_basis,
                "seized_margin": seized,
                "mark_num": oi_side,
                "mark_den": oi_side + oi_other,
                "exit_proceeds": proceeds,
                "penalty_to_fund": to_fund,
                "to_vault": to_vault,
                "bad_debt": bad_debt,
                "oi_a": market.oi("A"),
                "oi_b": market.oi("B"),
            },
        )

    # ------------------------------------------------------------------ funding

    def _fund(self, market: Market) -> int:
        """One funding interval on one market; returns the micro-USD moved."""
        state = self.state
        rate = funding_rate(market.real_oi_a, market.real_oi_b, state.rules)
        if rate == 0:
            return 0
        payer_side = paying_side(market.real_oi_a, market.real_oi_b)
        ids = sorted(state.open_in_market[market.id])
        payers = [state.positions[i] for i in ids if state.positions[i].side == payer_side]
        receivers = [state.positions[i] for i in ids if state.positions[i].side != payer_side]
        vault = vault_account(market.id)
        journal = Journal()
        collected = 0
        for position in payers + receivers:
            market.expose(position, -1)
        for position in payers:
            paid = min(funding_payment(position.notional, rate), position.margin)
            journal.move(position_account(position.id), vault, paid)
            position.margin -= paid
            collected += paid
        shares = allocate_pro_rata(collected, [(p.id, p.notional) for p in receivers])
        for position in receivers:
            journal.move(vault, position_account(position.id), shares[position.id])
            position.margin += shares[position.id]
        for position in payers + receivers:
            market.expose(position, 1)
            self._reindex(market, position)
        self._commit(
            "funding",
            journal,
            {
                "market": market.id,
                "rate_ppm": rate_ppm_floor(rate),
                "rate_num": rate.numerator,
                "rate_den": rate.denominator,
                "payer_side": payer_side,
                "amount": collected,
            },
        )
        self._liquidate(market)
        return collected

    # ------------------------------------------------------------------ settlement

    def _resolve(self, c: Resolve) -> dict[str, Any]:
        market = self.market(c.market)
        require_status(market.id, market.status, SETTLEABLE, "resolve")
        if market.kind == "perpetual":
            raise InvalidCommand("perpetual markets never resolve; void it instead", field="market")
        return self._settle(market, c.outcome)

    def _void(self, c: Void) -> dict[str, Any]:
        market = self.market(c.market)
        require_status(market.id, market.status, SETTLEABLE, "void")
        return self._settle(market, None)

    def _settle(self, market: Market, outcome: str | None) -> dict[str, Any]:
        """Resolve (``outcome`` A, B or UNKNOWN) or void (``None``) in one transaction.

        Losers pay into the vault first, then winners are paid from it; the fund covers the
        vault's shortfall, and what the fund cannot cover is haircut from winners' profits pro
        rata (largest remainder, so the haircuts sum to the uncovered amount exactly).
        """
        state = self.state
        vault = vault_account(market.id)
        journal = Journal()
        vault_balance = state.balance(vault)
        positions = [state.positions[i] for i in sorted(state.open_in_market[market.id])]
        settlements: dict[int, dict[str, int]] = {}
        winners: list[tuple[Position, int]] = []
        for position in positions:
            wallet = wallet_account(position.account)
            account = position_account(position.id)
            if outcome is None:
                journal.move(account, wallet, position.margin)
                settlements[position.id] = {"payout": position.margin, "pnl": 0, "bad_debt": 0}
                continue
            pnl = settlement_value(position.notional, position.side, outcome) - position.cost_basis
            if pnl >= 0:
                winners.append((position, pnl))
                continue
            to_vault = min(-pnl, position.margin)
            journal.move(account, vault, to_vault)
            journal.move(account, wallet, position.margin - to_vault)
            vault_balance += to_vault
            settlements[position.id] = {
                "payout": position.margin - to_vault,
                "pnl": -to_vault,
                "bad_debt": -pnl - to_vault,
            }
        owed = sum(pnl for _, pnl in winners)
        shortfall = max(0, owed - vault_balance)
        draw = min(shortfall, state.balance(INSURANCE_FUND))
        journal.move(INSURANCE_FUND, vault, draw)
        uncovered = shortfall - draw
        haircuts = allocate_pro_rata(uncovered, [(p.id, pnl) for p, pnl in winners])
        for position, pnl in winners:
            wallet = wallet_account(position.account)
            journal.move(position_account(position.id), wallet, position.margin)
            journal.move(vault, wallet, pnl - haircuts[position.id])
            settlements[position.id] = {
                "payout": position.margin + pnl - haircuts[position.id],
                "pnl": pnl - haircuts[position.id],
                "bad_debt": 0,
                "haircut": haircuts[position.id],
            }
        vault_after = vault_balance + draw - (owed - uncovered)
        surplus = vault_after if state.rules.vault_surplus_to_if else 0
        journal.move(vault, INSURANCE_FUND, surplus)
        bad_debt = sum(s["bad_debt"] for s in settlements.values())
        for position in positions:
            record = settlements[position.id]
            position.realized_pnl += record["pnl"]
            position.haircut += record.get("haircut", 0)
            position.margin = 0
            self._shrink_exposure(market, position, position.notional)
            self._retire(position, "settled")
        market.status = "voided" if outcome is None else "resolved"
        market.outcome = outcome
        market.bad_debt += bad_debt
        market.liquidations.heaps = {"A": [], "B": []}
        market.win_profit = {"A": 0, "B": 0}
        market.collectible = {"A": 0, "B": 0}
        state.dirty_markets.add(market.id)
        self._commit(
            "void" if outcome is None else "resolve",
            journal,
            {
                "market": market.id,
                "outcome": outcome,
                "owed_to_winners": owed,
                "vault_before_draw": vault_balance,
                "fund_draw": draw,
                "haircut_total": uncovered,
                "bad_debt": bad_debt,
                "surplus_to_fund": surplus,
                "settlements": {
                    str(pid): {**record, "account": state.positions[pid].account}
                    for pid, record in settlements.items()
                },
            },
        )
        return {
            "market": market.id,
            "outcome": outcome,
            "positions_settled": len(positions),
            "owed_to_winners": owed,
            "fund_draw": draw,
            "haircut_total": uncovered,
            "surplus_to_fund": surplus,
        }


def _shortfall(market: Market, outcome: str, vault: int, fund: int) -> dict[str, int]:
    owed = market.win_profit[outcome]
    vault_after_losers = vault + market.collectible[OTHER[outcome]]
    shortfall = max(0, owed - vault_after_losers)
    draw = min(shortfall, fund)
    return {
        "owed_to_winners": owed,
        "vault_after_losers": vault_after_losers,
        "shortfall": shortfall,
        "fund_draw": draw,
        "uncovered": shortfall - draw,
    }
