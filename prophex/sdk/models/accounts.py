"""Accounts, keys and balances."""

from __future__ import annotations

from decimal import Decimal

from prophex.sdk.models.base import Model


class AccountCreated(Model):
    account: str
    api_key: str
    key_id: str
    label: str
    created_at: int


class KeyCreated(Model):
    key_id: str
    api_key: str
    label: str
    created_at: int
    scopes: list[str] | None = None


class KeyInfo(Model):
    key_id: str
    label: str
    created_at: int
    revoked_at: int | None
    scopes: list[str] | None = None


class KeyList(Model):
    items: list[KeyInfo]


class BalanceChange(Model):
    account: str
    wallet_balance: Decimal
    command_seq: int


class AccountView(Model):
    account: str
    margin_mode: str
    wallet_balance: Decimal
    margin_locked: Decimal
    position_value: Decimal
    unrealized_pnl: Decimal
    equity: Decimal
    open_positions: int
