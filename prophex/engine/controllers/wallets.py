"""Deposits and withdrawals: money entering and leaving through ``external``."""

from __future__ import annotations

from prophex.engine import journal as ev
from prophex.engine.commands import Deposit, Withdraw
from prophex.engine.core import Core
from prophex.engine.events import EXTERNAL, Journal, wallet_account
from prophex.engine.results import BalanceResult
from prophex.money import check_amount


def deposit(core: Core, c: Deposit) -> BalanceResult:
    check_amount(c.amount)
    journal = Journal()
    journal.move(EXTERNAL, wallet_account(c.account), c.amount)
    core.commit(ev.Deposited(c.account, c.amount), journal)
    return BalanceResult(core.state.balance(wallet_account(c.account)))


def withdraw(core: Core, c: Withdraw) -> BalanceResult:
    check_amount(c.amount)
    wallet = wallet_account(c.account)
    core.require_funds(wallet, c.amount, "withdraw")
    journal = Journal()
    journal.move(wallet, EXTERNAL, c.amount)
    core.commit(ev.Withdrawn(c.account, c.amount), journal)
    return BalanceResult(core.state.balance(wallet))
