"""Stateful model test: random command sequences checked against an independent reference.

Every command the engine accepts is mirrored on :class:`engine_reference.Reference`, a
Fraction-based model written from docs/concepts.md alone (no engine code), and after every step
balances, open interest, positions and market statuses must agree to the micro-dollar. Amounts
carry micro-dollar digits and rates are odd, so divisions are inexact and a flipped rounding
direction shows. After every step: no open position is liquidatable at the current spot, each
side's liquidation heap holds a current entry for every position that can be liquidated, the
DESIGN invariants hold and money is conserved. Rejected commands (including garbage) must leave
the state digest unchanged, and a rejection for funds, caps or slippage must be one the
reference agrees with. The same machine also runs through the sequencer on SQLite (blocks of
several commands), where teardown replays the journal from genesis (the full audit) and
restarts from the database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from fractions import Fraction
from typing import Any

from engine_reference import FUND, Reference, RefMarket
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import (
    AddMargin,
    AdvanceClock,
    Close,
    Command,
    CreateMarket,
    Deposit,
    Halt,
    Open,
    Resolve,
    Resume,
    SetParams,
    Void,
    Withdraw,
    parse_user_command,
)
from prophex.engine.events import EXTERNAL, Receipt
from prophex.engine.exchange import Exchange
from prophex.engine.results import BalanceResult, ParamsResult
from prophex.engine.state import State, check_invariants, digest
from prophex.errors import ProphexError
from prophex.money import MICRO
from prophex.params import profile

ACCOUNTS = ["ann", "ben", "cat", "dan"]
MARKETS = ["p1", "p2", "perp"]  # halt/resume also try names that may be resolved
PARAMS = profile(
    "mature",
    wallet_cap=8_000,
    market_oi_cap=40_000,
    if_seed=300,
    cap_max_multiplier=2,
    funding_interval_seconds=60,
    fee_rate="0.0013",
    fee_to_if="0.37",
    liq_penalty_to_if="0.23",
    funding_k="0.0123",
    funding_max_rate="0.00077",
)
PARAM_CHANGES: list[dict[str, Any]] = [
    {"cap_rule": "coverage"},
    {"cap_rule": "fixed"},
    {"fee_rate": "0.0017", "fee_to_if": "0.333333"},
    {"funding_k": "0.0031", "funding_max_rate": "0.002"},
    {"max_leverage": 10},
    {"wallet_cap": "5000.5", "market_oi_cap": "30000.25"},
    {"liq_penalty_to_if": "0.5", "vault_surplus_to_if": False},
    {"cap_rule": "coverage", "if_seed": "20000"},
    {"profile": "mature", "funding_interval_seconds": 60},
    {"profile": "mature", "wallet_cap": 8_000, "if_seed": 300, "funding_interval_seconds": 60},
    {"profile": "custom", "fee_rate": "0.0013"},
]

amounts = st.integers(min_value=1, max_value=3_000 * MICRO)
margins = st.integers(min_value=MICRO, max_value=400 * MICRO)
leverages = st.sampled_from([100, 150, 275, 300, 333, 500, 1_000, 1_250, 2_000, 2_500])
bounds = st.integers(min_value=3_000_000, max_value=8_000_000).map(lambda n: Fraction(n, 10**7))
garbage_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), st.text(max_size=8)
)
garbage_bodies = st.dictionaries(
    st.sampled_from(
        ["type", "account", "market", "side", "margin", "leverage", "amount", "notional",
         "position_id", "outcome", "seconds", "params", "max_avg_price", "junk"]
    ),
    garbage_values,
    max_size=6,
).map(lambda d: {"type": "open", **d} if "type" not in d else d)  # fmt: skip


def _spot_liquidatable(c: int, m: int, n: int, oi_side: int, oi_other: int) -> bool:
    return (c - m) * (oi_side + oi_other) >= oi_side * n


class ExchangeMachine(RuleBasedStateMachine):
    """Drives the pure engine; subclasses swap in the sequencer."""

    def __init__(self) -> None:
        super().__init__()
        self.deposited = PARAMS.rules().if_seed
        self.last_error: ProphexError | None = None
        self.last_result: Any = None
        self.last_receipt: Receipt | None = None
        self.ref = Reference(PARAMS)
        self.ref.move("external", FUND, PARAMS.rules().if_seed)
        self.client_orders = 0

    # ------------------------------------------------------------------ plumbing

    def start(self) -> None:
        self.exchange = Exchange.create(PARAMS)

    @property
    def state(self) -> State:
        return self.exchange.state

    def execute(self, command: Command) -> bool:
        before = digest(self.state)
        try:
            receipt = self.exchange.apply(command)
        except ProphexError as error:
            self.last_error = error
            assert digest(self.state) == before, f"rejected {command} changed the state"
            event(f"rejected {error.code}")
            return False
        self.last_result = receipt.result
        self.last_receipt = receipt
        for txn in receipt.transactions:
            assert txn.imbalance() == 0, f"{txn.kind} does not balance"
            event(txn.kind)
            if txn.data.get("haircut_total") or txn.data.get("haircut"):
                event("haircut")
        return True

    def execute_many(self, commands: list[Command]) -> list[bool]:
        """Several commands in one call (one block on the sequencer)."""
        return [self.execute(command) for command in commands]

    def refused(self, command: Command) -> None:
        """A command that must be refused with a typed error and change nothing."""
        assert not self.execute(command), f"{command} was accepted"

    # ------------------------------------------------------------------ rules

    @initialize()
    def setup(self) -> None:
        self.start()
        self.created = 0
        self.new_market()
        self.new_market(virtual_oi=500 * MICRO)
        self.create(CreateMarket(market="perp", kind="perpetual"))
        for account in [*ACCOUNTS, "whale"]:
            self.deposit(account, 20_000 * MICRO)

    def create(self, command: CreateMarket) -> None:
        if self.execute(command):
            virtual = (
                command.virtual_oi if command.virtual_oi is not None else PARAMS.rules().virtual_oi
            )
            funding = command.kind == "perpetual" if command.funding is None else command.funding
            self.ref.markets[command.market] = RefMarket(
                command.market, command.kind, virtual, funding
            )

    def live_markets(self) -> list[str]:
        return sorted(m.id for m in self.state.markets.values() if m.status in ("open", "halted"))

    def open_ids(self) -> list[int]:
        return sorted(p.id for p in self.state.positions.values() if p.status == "open")

    @rule(virtual_oi=st.sampled_from([None, 300 * MICRO, 2_000_000_001]))
    def new_market(self, virtual_oi: int | None = None) -> None:
        self.created += 1
        self.create(CreateMarket(market=f"p{self.created}", virtual_oi=virtual_oi))

    @rule(account=st.sampled_from(ACCOUNTS), amount=amounts)
    def deposit(self, account: str, amount: int) -> None:
        if self.execute(Deposit(account, amount)):
            self.deposited += amount
            self.ref.deposit(account, amount)

    @rule(
        moves=st.lists(
            st.tuples(st.sampled_from(ACCOUNTS), st.booleans(), amounts), min_size=2, max_size=6
        )
    )
    def money_batch(self, moves: list[tuple[str, bool, int]]) -> None:
        """Deposits and withdrawals sent together; each is accepted or refused on its own."""
        commands: list[Command] = [
            Deposit(a, x) if is_deposit else Withdraw(a, x) for a, is_deposit, x in moves
        ]
        for (account, is_deposit, amount), accepted in zip(
            moves, self.execute_many(commands), strict=True
        ):
            if accepted and is_deposit:
                self.deposited += amount
                self.ref.deposit(account, amount)
            elif accepted:
                self.deposited -= amount
                self.ref.withdraw(account, amount)

    @rule(account=st.sampled_from(ACCOUNTS), amount=amounts)
    def withdraw(self, account: str, amount: int) -> None:
        accepted = self.execute(Withdraw(account, amount))
        assert accepted == (self.ref.bal(f"wallet:{account}") >= amount)
        if accepted:
            self.deposited -= amount
            self.ref.withdraw(account, amount)
            assert self.last_result == BalanceResult(self.ref.bal(f"wallet:{account}"))

    @rule(
        data=st.data(),
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(["A", "B"]),
        margin=margins,
        leverage=leverages,
        bound=st.none() | bounds,
    )
    def open_or_increase(
        self,
        data: st.DataObject,
        account: str,
        side: str,
        margin: int,
        leverage: int,
        bound: Fraction | None,
    ) -> None:
        market = data.draw(st.sampled_from(self.live_markets() or ["p1"]))
        self.open(Open(account, market, side, margin, leverage, max_avg_price=bound))

    def open(self, command: Open) -> bool:
        ref, market = self.ref, command.market
        live = market in ref.markets and ref.markets[market].status == "open"
        quote = (
            ref.quote(market, command.side, command.margin, command.leverage_centi)
            if live
            else None
        )
        caps = ref.caps(market) if live else None
        accepted = self.execute(command)
        if quote is None or caps is None:
            assert not accepted
            return False
        notional, fee, cost = quote
        wallet_ok = ref.bal(f"wallet:{command.account}") >= command.margin + fee
        wallet_cap_ok = ref.wallet_notional(command.account, market) + notional <= caps[0]
        used = ref.real_oi(market, "A") + ref.real_oi(market, "B")
        market_cap_ok = ref.params.cap_rule == "coverage" or used + notional <= caps[1]
        bound = command.max_avg_price
        price_ok = bound is None or Fraction(cost, notional) <= bound
        coverage_ok = ref.params.cap_rule != "coverage" or ref.worst_case_after(
            command.account, market, command.side, command.margin, command.leverage_centi
        ) <= ref.bal(FUND)
        if not accepted:
            code = self.last_error.code if self.last_error else ""
            assert {
                "INSUFFICIENT_BALANCE": not wallet_ok,
                "WALLET_CAP_EXCEEDED": not wallet_cap_ok,
                "MARKET_OI_CAP_EXCEEDED": not market_cap_ok,
                "SLIPPAGE_EXCEEDED": not price_ok,
                "COVERAGE_CAP_EXCEEDED": not coverage_ok,
            }.get(code, True), f"refused with {code} but the reference accepts"
            return False
        assert wallet_ok and wallet_cap_ok and market_cap_ok and price_ok and coverage_ok
        assert self.last_result.fee == fee and self.last_result.cost == cost
        position_id = ref.open(
            command.account, market, command.side, command.margin, command.leverage_centi
        )
        assert self.last_result.position_id == position_id
        return True

    @rule(data=st.data(), side=st.sampled_from(["A", "B"]), size=st.integers(1, 6))
    def price_shock(self, data: st.DataObject, side: str, size: int) -> None:
        """A whale's large order: moves the price far enough to liquidate levered holders."""
        market = data.draw(st.sampled_from(self.live_markets() or ["p1"]))
        self.open(Open("whale", market, side, size * 500 * MICRO + 1, 200))

    @rule(data=st.data(), fraction=st.sampled_from([1, 2, 3, 7]), bound=st.none() | bounds)
    def close(self, data: st.DataObject, fraction: int, bound: Fraction | None) -> None:
        if not self.open_ids():
            return
        position = self.state.positions[data.draw(st.sampled_from(self.open_ids()))]
        held = position.notional
        notional = None if fraction == 1 else max(1, held // fraction)
        command = Close(position.account, position.id, notional=notional, min_avg_price=bound)
        if self.execute(command):
            figures = self.ref.close(position.id, notional or held)
            assert self.last_receipt is not None
            data = self.last_receipt.transactions[0].data
            assert {k: data[k] for k in figures} == figures
            assert self.last_result.realized_pnl == figures["pnl"]
        else:
            assert self.last_error is not None
            assert self.last_error.code in ("SLIPPAGE_EXCEEDED", "MARKET_NOT_OPEN")

    @rule(data=st.data(), amount=amounts)
    def add_margin(self, data: st.DataObject, amount: int) -> None:
        if self.open_ids():
            position = self.state.positions[data.draw(st.sampled_from(self.open_ids()))]
            if self.execute(AddMargin(position.account, position.id, amount)):
                self.ref.add_margin(position.id, amount)

    @rule(data=st.data(), stranger=st.sampled_from(ACCOUNTS))
    def touch_someone_elses_position(self, data: st.DataObject, stranger: str) -> None:
        if self.open_ids():
            position = self.state.positions[data.draw(st.sampled_from(self.open_ids()))]
            if position.account != stranger:
                self.refused(Close(stranger, position.id))
                assert self.last_error is not None and self.last_error.code == "NOT_FOUND"

    @rule(data=st.data(), account=st.sampled_from(ACCOUNTS), margin=margins, bound=bounds)
    def client_order_retry(
        self, data: st.DataObject, account: str, margin: int, bound: Fraction
    ) -> None:
        """A retried order returns the first result and changes nothing; the same id for a
        different order is refused."""
        market = data.draw(st.sampled_from(self.live_markets() or ["p1"]))
        self.client_orders += 1
        order = Open(account, market, "A", margin, 300, client_order_id=f"c{self.client_orders}")
        if not self.open(order):
            return
        before, first = digest(self.state), self.last_result
        receipt = self.exchange.apply(order)
        if receipt.duplicate:
            assert receipt.result == first
            assert digest(self.state) == before
            self.refused(
                Open(account, market, "B", margin, 300, client_order_id=order.client_order_id)
            )
            assert self.last_error is not None
            assert self.last_error.code == "DUPLICATE_CLIENT_ORDER_ID"

    @rule(market=st.sampled_from(MARKETS))
    def halt(self, market: str) -> None:
        if self.execute(Halt(market)):
            self.ref.markets[market].status = "halted"

    @rule(market=st.sampled_from(MARKETS))
    def resume(self, market: str) -> None:
        if self.execute(Resume(market)):
            self.ref.markets[market].status = "open"

    @rule(
        data=st.data(),
        outcome=st.sampled_from(["A", "B", "UNKNOWN"]),
        dice=st.integers(min_value=0, max_value=3),
    )
    def resolve(self, data: st.DataObject, outcome: str, dice: int) -> None:
        if dice:  # resolution is rare, so markets live long enough to trade
            return
        market = data.draw(st.sampled_from(self.live_markets() or ["p1"]))
        predicted = None
        if outcome != "UNKNOWN" and market in self.state.markets:
            status = self.state.markets[market].status
            if status in ("open", "halted") and self.state.markets[market].kind == "prediction":
                predicted = self.exchange.resolution_shortfall(market, outcome)
        if self.execute(Resolve(market, outcome)):
            self.ref.resolve(market, outcome)
            if predicted is not None:
                # The O(1) prediction is exactly what settlement then did, to the micro-dollar.
                assert self.last_result.owed_to_winners == predicted["owed_to_winners"]
                assert self.last_result.fund_draw == predicted["fund_draw"]
                assert self.last_result.haircut_total == predicted["uncovered"]

    @rule(data=st.data(), dice=st.integers(min_value=0, max_value=5))
    def void(self, data: st.DataObject, dice: int) -> None:
        if dice == 0:
            market = data.draw(st.sampled_from(self.live_markets() or ["p1"]))
            if self.execute(Void(market)):
                self.ref.resolve(market, None)

    @rule(seconds=st.integers(min_value=1, max_value=400))
    def advance_clock(self, seconds: int) -> None:
        if self.execute(AdvanceClock(seconds)):
            self.ref.advance(seconds)

    @rule(change=st.sampled_from(PARAM_CHANGES))
    def set_params(self, change: dict[str, Any]) -> None:
        if self.execute(SetParams(params=change)):
            overrides = {k: v for k, v in change.items() if k != "profile"}
            name = change.get("profile", "custom")
            base = self.ref.params if name == "custom" else profile(name)
            self.ref.params = base.with_overrides(overrides) if overrides else base
            assert self.last_result == ParamsResult(self.ref.params.model_dump(mode="json"))

    @rule(body=garbage_bodies)
    def garbage_user_command(self, body: dict[str, Any]) -> None:
        """Garbage in the user form is a typed error or a well-formed command, never a crash."""
        try:
            parse_user_command(body)
        except ProphexError:
            event("garbage refused")

    @rule(
        data=st.data(),
        command=st.sampled_from(
            [
                Open("ann", "p1", "C", MICRO, 300),  # type: ignore[arg-type]
                Open("ann", "p1", "A", -MICRO, 300),
                Open("ann", "p1", "A", MICRO, 0),
                Open("ann", "nowhere", "A", MICRO, 300),
                Open("ann", "p1", "A", MICRO, 1_000_000),
                Deposit("ann", -1),
                Deposit("ann", 0),
                Withdraw("ann", 10**16),
                AdvanceClock(0),
                AdvanceClock(-5),
                Close("ann", 10**9),
                AddMargin("ann", 10**9, MICRO),
                Halt("nowhere"),
                CreateMarket(market="p1"),
            ]
        ),
    )
    def garbage_command(self, data: st.DataObject, command: Command) -> None:
        self.refused(command)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def design_invariants_hold(self) -> None:
        assert check_invariants(self.state) == []

    @invariant()
    def money_is_conserved(self) -> None:
        """Everything inside equals what the outside world put in (deposits + fund seed)."""
        assert -self.state.balance(EXTERNAL) == self.deposited
        inside = sum(v for k, v in self.state.balances.items() if k != EXTERNAL)
        assert inside == self.deposited

    @invariant()
    def agrees_with_the_reference(self) -> None:
        if not hasattr(self, "exchange"):
            return
        state, ref = self.state, self.ref
        assert {k: v for k, v in state.balances.items() if v} == {
            k: v for k, v in ref.balances.items() if v
        }
        assert set(state.positions) == set(ref.positions)
        assert state.params == ref.params
        for pid, p in state.positions.items():
            r = ref.positions[pid]
            engine_view = (p.status, p.notional, p.cost_basis, p.margin, p.realized_pnl, p.haircut)
            assert engine_view == (
                r.status, r.notional, r.cost, r.margin, r.realized, r.haircut,
            ), f"position {pid}"  # fmt: skip
        for market_id, market in state.markets.items():
            spec = ref.markets[market_id]
            assert (market.status, market.volume, market.bad_debt) == (
                spec.status,
                spec.volume,
                spec.bad_debt,
            ), market_id
            assert market.real_oi_a == ref.real_oi(market_id, "A")
            assert market.real_oi_b == ref.real_oi(market_id, "B")

    @invariant()
    def no_open_position_is_liquidatable(self) -> None:
        if not hasattr(self, "exchange"):
            return
        for p in self.state.positions.values():
            if p.status == "open":
                market = self.state.markets[p.market]
                other = "B" if p.side == "A" else "A"
                assert not _spot_liquidatable(
                    p.cost_basis, p.margin, p.notional, market.oi(p.side), market.oi(other)
                ), f"position {p.id} is liquidatable at the current spot"

    @invariant()
    def heaps_track_every_liquidatable_position(self) -> None:
        if not hasattr(self, "exchange"):
            return
        for market in self.state.markets.values():
            if market.status not in ("open", "halted"):
                continue
            entries = {
                (e.position_id, e.version, e.num, e.den)
                for side in ("A", "B")
                for e in market.liquidations.entries(side)
            }
            for pid in self.state.open_in_market[market.id]:
                p = self.state.positions[pid]
                if p.cost_basis > p.margin:
                    key = (p.id, p.version, p.cost_basis - p.margin, p.notional)
                    assert key in entries, f"position {p.id} is missing from its heap"


# Budgets follow the loaded Hypothesis profile (tests/conftest.py) with a floor for this machine:
# at least 600 examples x 50 steps under "ci" (about 15 seconds on one core), "nightly" gives
# 2,000 x 200 (`make nightly`). The SQLite variant runs a fifth of the examples (each writes
# blocks).
ENGINE_BUDGET = settings(
    settings.default,
    max_examples=max(600, settings.default.max_examples),
    stateful_step_count=max(50, settings.default.stateful_step_count),
    deadline=None,
)
if os.environ.get("HYPOTHESIS_PROFILE") == "mutation":  # `make mutate`: no floor
    ENGINE_BUDGET = settings(settings.default, max_examples=60)
TestExchangeMachine = ExchangeMachine.TestCase
TestExchangeMachine.settings = ENGINE_BUDGET


class SqliteExchangeMachine(ExchangeMachine):
    """Same rules, through the sequencer and the SQLite ledger; teardown audits the journal."""

    def start(self) -> None:
        self.tmp = tempfile.mkdtemp()
        self.url = f"sqlite:///{self.tmp}/machine.db"
        self.sequencer = Sequencer.open(self.url, PARAMS, block_size=7)
        self.exchange = self.sequencer.exchange

    def execute(self, command: Command) -> bool:
        before = digest(self.state)
        (outcome,) = self.sequencer.execute([command])
        self.exchange = self.sequencer.exchange
        if isinstance(outcome, ProphexError):
            self.last_error = outcome
            assert digest(self.state) == before
            return False
        self.last_result = outcome.result
        self.last_receipt = outcome
        for txn in outcome.transactions:
            event(txn.kind)
        return True

    def execute_many(self, commands: list[Command]) -> list[bool]:
        before = digest(self.state)
        outcomes = self.sequencer.execute(commands)
        self.exchange = self.sequencer.exchange
        if all(isinstance(o, ProphexError) for o in outcomes):
            assert digest(self.state) == before
        event(f"block of {len(commands)}")
        return [not isinstance(o, ProphexError) for o in outcomes]

    def teardown(self) -> None:
        if not hasattr(self, "sequencer"):
            return
        final = digest(self.state)
        self.sequencer.close()
        try:
            report = audit_database(self.sequencer.store.engine)  # type: ignore[union-attr]
            assert report.ok, report.violations
            assert report.replayed_digest == final
            reopened = Sequencer.open(self.url)
            assert digest(reopened.state) == final
            reopened.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


TestSqliteExchangeMachine = SqliteExchangeMachine.TestCase
TestSqliteExchangeMachine.settings = settings(
    ENGINE_BUDGET, max_examples=max(12, settings.default.max_examples // 5)
)
