"""Stateful model test: random command sequences, every invariant after every step.

A plain-integer shadow model tracks what the outside world put in and took out; the exchange
must conserve exactly that. Rejected commands must leave the state digest unchanged. The same
machine also runs through the sequencer on SQLite, where teardown replays the journal from
genesis (the full audit) and restarts from the database.
"""

from __future__ import annotations

import shutil
import tempfile

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
    Void,
    Withdraw,
)
from prophex.engine.events import EXTERNAL
from prophex.engine.exchange import Exchange
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
)

amounts = st.integers(min_value=1, max_value=3_000).map(lambda usd: usd * MICRO)
leverages = st.sampled_from([100, 300, 500, 1_000, 1_500, 2_000, 2_500])


class ExchangeMachine(RuleBasedStateMachine):
    """Drives the pure engine; subclasses swap in the sequencer."""

    def __init__(self) -> None:
        super().__init__()
        self.deposited = PARAMS.rules().if_seed
        self.last_error: ProphexError | None = None
        self.last_result: dict[str, object] = {}

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
            return False
        self.last_result = receipt.result
        for txn in receipt.transactions:
            assert txn.imbalance() == 0, f"{txn.kind} does not balance"
            event(txn.kind)
            if txn.data.get("haircut_total") or txn.data.get("haircut"):
                event("haircut")
        return True

    # ------------------------------------------------------------------ rules

    @initialize()
    def setup(self) -> None:
        self.start()
        self.created = 0
        self.new_market()
        self.new_market(virtual_oi=500 * MICRO)
        self.execute(CreateMarket(market="perp", kind="perpetual"))
        for account in [*ACCOUNTS, "whale"]:
            self.execute(Deposit(account, 20_000 * MICRO))
            self.deposited += 20_000 * MICRO

    def live_markets(self) -> list[str]:
        return sorted(m.id for m in self.state.markets.values() if m.status in ("open", "halted"))

    @rule(virtual_oi=st.sampled_from([None, 300 * MICRO, 2_000 * MICRO]))
    def new_market(self, virtual_oi: int | None = None) -> None:
        self.created += 1
        self.execute(CreateMarket(market=f"p{self.created}", virtual_oi=virtual_oi))

    @rule(account=st.sampled_from(ACCOUNTS), amount=amounts)
    def deposit(self, account: str, amount: int) -> None:
        if self.execute(Deposit(account, amount)):
            self.deposited += amount

    @rule(account=st.sampled_from(ACCOUNTS), amount=amounts)
    def withdraw(self, account: str, amount: int) -> None:
        if self.execute(Withdraw(account, amount)):
            self.deposited -= amount

    @rule(
        data=st.data(),
        account=st.sampled_from(ACCOUNTS),
        side=st.sampled_from(["A", "B"]),
        margin=st.integers(min_value=1, max_value=400).map(lambda usd: usd * MICRO),
        leverage=leverages,
    )
    def open_or_increase(
        self, data: st.DataObject, account: str, side: str, margin: int, leverage: int
    ) -> None:
        markets = self.live_markets() or ["p1"]
        market = data.draw(st.sampled_from(markets))
        self.execute(Open(account, market, side, margin, leverage))

    @rule(data=st.data(), side=st.sampled_from(["A", "B"]), size=st.integers(1, 6))
    def price_shock(self, data: st.DataObject, side: str, size: int) -> None:
        """A whale's large order: moves the price far enough to liquidate levered holders."""
        markets = self.live_markets() or ["p1"]
        market = data.draw(st.sampled_from(markets))
        self.execute(Open("whale", market, side, size * 500 * MICRO, 200))

    @rule(data=st.data(), fraction=st.sampled_from([1, 2, 3, 10]))
    def close(self, data: st.DataObject, fraction: int) -> None:
        open_ids = sorted(p.id for p in self.state.positions.values() if p.status == "open")
        if not open_ids:
            return
        position = self.state.positions[data.draw(st.sampled_from(open_ids))]
        notional = None if fraction == 1 else max(1, position.notional // fraction)
        self.execute(Close(position.account, position.id, notional=notional))

    @rule(data=st.data(), amount=amounts)
    def add_margin(self, data: st.DataObject, amount: int) -> None:
        open_ids = sorted(p.id for p in self.state.positions.values() if p.status == "open")
        if open_ids:
            position = self.state.positions[data.draw(st.sampled_from(open_ids))]
            self.execute(AddMargin(position.account, position.id, amount))

    @rule(data=st.data(), stranger=st.sampled_from(ACCOUNTS))
    def touch_someone_elses_position(self, data: st.DataObject, stranger: str) -> None:
        open_ids = sorted(p.id for p in self.state.positions.values() if p.status == "open")
        if open_ids:
            position = self.state.positions[data.draw(st.sampled_from(open_ids))]
            if position.account != stranger:
                assert not self.execute(Close(stranger, position.id))
                assert self.last_error is not None and self.last_error.code == "NOT_FOUND"

    @rule(market=st.sampled_from(MARKETS))
    def halt(self, market: str) -> None:
        self.execute(Halt(market))

    @rule(market=st.sampled_from(MARKETS))
    def resume(self, market: str) -> None:
        self.execute(Resume(market))

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
        if self.execute(Resolve(market, outcome)) and predicted is not None:
            # The O(1) prediction is exactly what settlement then did, to the micro-dollar.
            assert self.last_result["owed_to_winners"] == predicted["owed_to_winners"]
            assert self.last_result["fund_draw"] == predicted["fund_draw"]
            assert self.last_result["haircut_total"] == predicted["uncovered"]

    @rule(data=st.data(), dice=st.integers(min_value=0, max_value=5))
    def void(self, data: st.DataObject, dice: int) -> None:
        if dice == 0:
            self.execute(Void(data.draw(st.sampled_from(self.live_markets() or ["p1"]))))

    @rule(seconds=st.integers(min_value=1, max_value=400))
    def advance_clock(self, seconds: int) -> None:
        self.execute(AdvanceClock(seconds))

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


# Budgets follow the loaded Hypothesis profile (tests/conftest.py): "ci" gives 60 x 40 here,
# "nightly" 2,000 x 200; the SQLite variant runs a fifth of the examples (each writes blocks).
TestExchangeMachine = ExchangeMachine.TestCase
TestExchangeMachine.settings = settings(settings.default, deadline=None)


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
        for txn in outcome.transactions:
            event(txn.kind)
        return True

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
    settings.default, max_examples=max(12, settings.default.max_examples // 5), deadline=None
)
