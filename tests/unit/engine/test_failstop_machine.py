"""Fail-stop under random faults: the exchange machine's rules, through the SQLite sequencer,
with commit failures injected and the sequencer restarted between commands.

A pure engine (the reference) applies only the commands the sequencer acknowledged. While a
fault is injected (another connection holds SQLite's write lock) every command must be answered
``WRITE_UNAVAILABLE`` and nothing may change; after recovery or a restart the sequencer's state
must equal the reference exactly, and at the end the journal audit must pass.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile

import test_exchange_machine as base
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from prophex.audit.replay import audit_database
from prophex.chain.sequencer import Sequencer
from prophex.engine.commands import Command, Deposit
from prophex.engine.events import Receipt
from prophex.engine.exchange import Exchange
from prophex.engine.state import State, check_invariants, digest
from prophex.errors import ProphexError
from prophex.ledger.store import make_db_engine, make_read_engine

BUSY_MS = 20


class FailStopMachine(base.ExchangeMachine):
    def start(self) -> None:
        self.tmp = tempfile.mkdtemp()
        self.path = f"{self.tmp}/failstop.db"
        self.url = f"sqlite:///{self.path}"
        self.blocker: sqlite3.Connection | None = None
        self.sequencer = self._open()
        self.exchange = Exchange.create(base.PARAMS)  # the reference: acknowledged commands

    def _open(self) -> Sequencer:
        engine = make_db_engine(self.url, busy_timeout_ms=BUSY_MS)
        return Sequencer.open(self.url, base.PARAMS, engine=engine, block_size=5)

    @property
    def state(self) -> State:
        return self.exchange.state

    def execute(self, command: Command) -> bool:
        (outcome,) = self.sequencer.execute([command])
        if isinstance(outcome, ProphexError) and outcome.code == "WRITE_UNAVAILABLE":
            raise AssertionError(f"{command} refused without a fault: {outcome}")
        before = digest(self.state)
        try:
            receipt = self.exchange.apply(command)
        except ProphexError as error:
            assert isinstance(outcome, ProphexError), f"{command}: sequencer accepted it"
            assert outcome.code == error.code
            assert digest(self.state) == before
            self.last_error = error
            return False
        assert isinstance(outcome, Receipt), f"{command}: reference accepted, got {outcome}"
        assert outcome.result == receipt.result
        self.last_result = receipt.result
        self.last_receipt = receipt
        return True

    # ------------------------------------------------------------------ faults

    @rule(
        accounts=st.lists(st.sampled_from(base.ACCOUNTS), min_size=1, max_size=3),
        heal_by_restart=st.booleans(),
    )
    def fault_window(self, accounts: list[str], heal_by_restart: bool) -> None:
        """A commit failure (another connection holds SQLite's write lock), the commands sent
        meanwhile, then recovery. The whole window is one rule so that the base machine's rules,
        which check refusal codes against the reference, never see an injected fault."""
        blocker = sqlite3.connect(self.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        self.blocker = blocker
        before = digest(self.state)
        for account in accounts:
            (outcome,) = self.sequencer.execute([Deposit(account, 5 * base.MICRO)])
            assert isinstance(outcome, ProphexError), "acknowledged while the commit fails"
            assert outcome.code == "WRITE_UNAVAILABLE", outcome
            event("refused while faulty")
        self._release()
        if heal_by_restart:
            self.sequencer.close()
            self.sequencer = self._open()
            assert digest(self.sequencer.state) == before
        else:
            head = self.sequencer.recover()
            assert head is not None  # a stored sequencer reports what it verified
            assert head.digest == before

    @rule()
    def restart(self) -> None:
        self._release()
        self.sequencer.close()
        self.sequencer = self._open()
        assert digest(self.sequencer.state) == digest(self.state)

    @rule(accounts=st.lists(st.sampled_from(base.ACCOUNTS), min_size=2, max_size=4))
    def deposits_in_one_block(self, accounts: list[str]) -> None:
        """Several commands in one block: all acknowledged together, or all refused."""
        commands: list[Command] = [Deposit(a, 5 * base.MICRO) for a in accounts]
        outcomes = self.sequencer.execute(commands)
        refused = {o.code for o in outcomes if isinstance(o, ProphexError)}
        assert refused == set()
        for command in commands:
            self.exchange.apply(command)
            self.ref.deposit(command.account, command.amount)
            self.deposited += command.amount

    def _release(self) -> None:
        if self.blocker is not None:
            self.blocker.execute("ROLLBACK")
            self.blocker.close()
            self.blocker = None

    # ------------------------------------------------------------------ invariants

    @invariant()
    def sequencer_equals_the_reference_when_writing(self) -> None:
        if self.sequencer.failure is None:
            assert digest(self.sequencer.state) == digest(self.state)
            assert check_invariants(self.sequencer.state) == []

    def teardown(self) -> None:
        if not hasattr(self, "sequencer"):
            return
        try:
            self._release()
            self.sequencer.recover()
            final = digest(self.sequencer.state)
            assert final == digest(self.state)
            self.sequencer.close()
            engine = make_read_engine(self.url)
            try:
                report = audit_database(engine)
            finally:
                engine.dispose()
            assert report.ok, report.violations
            assert report.replayed_digest == final
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


# A small budget (each injected fault costs a few 20 ms lock timeouts): a tenth of the
# profile's examples, at most 25 steps each; "nightly" scales it up.
TestFailStopMachine = FailStopMachine.TestCase
TestFailStopMachine.settings = settings(
    settings.default,
    max_examples=max(6, settings.default.max_examples // 10),
    stateful_step_count=min(25, settings.default.stateful_step_count),
    deadline=None,
)
