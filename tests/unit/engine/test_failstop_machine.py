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
from hypothesis.stateful import invariant, precondition, rule

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
            assert self.blocker is not None, f"{command} refused without a fault: {outcome}"
            event("refused while faulty")
            self.last_error = outcome
            return False
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
        return True

    # ------------------------------------------------------------------ faults

    @precondition(lambda self: self.blocker is None)
    @rule()
    def inject_commit_failure(self) -> None:
        blocker = sqlite3.connect(self.path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        self.blocker = blocker

    @precondition(lambda self: self.blocker is not None)
    @rule()
    def heal(self) -> None:
        self._release()
        head = self.sequencer.recover()
        assert head["digest"] == digest(self.state)

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
        if self.blocker is not None:
            assert refused == {"WRITE_UNAVAILABLE"}
            return
        assert refused == set()
        for command in commands:
            self.exchange.apply(command)
        self.deposited += 5 * base.MICRO * len(commands)

    @rule(data=st.data(), stranger=st.sampled_from(base.ACCOUNTS))
    def touch_someone_elses_position(self, data: st.DataObject, stranger: str) -> None:
        if self.blocker is None:
            super().touch_someone_elses_position(data, stranger)

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
