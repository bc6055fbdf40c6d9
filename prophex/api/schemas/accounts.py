"""Accounts, keys and balances."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from prophex.api.schemas.base import Request, Usd, UsdOut


class AccountCreate(Request):
    label: Annotated[str, Field(max_length=64)] = ""


class AccountCreated(BaseModel):
    account: str
    api_key: str = Field(description="shown once; only its hash is stored")
    key_id: str
    label: str
    created_at: int = Field(description="wall clock, Unix seconds")
    scopes: list[Scope] = Field(description="the first key holds every scope")


Scope = Literal["read", "trade", "withdraw"]


def _default_scopes() -> list[Scope]:
    return ["read", "trade"]


class KeyCreate(Request):
    label: Annotated[str, Field(max_length=64)] = ""
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)] = Field(
        default_factory=_default_scopes,
        description="what the key may do; at most the scopes of the key creating it",
    )


class KeyCreated(BaseModel):
    key_id: str
    api_key: str
    label: str
    created_at: int = Field(description="wall clock, Unix seconds")
    scopes: list[Scope]


class KeyInfo(BaseModel):
    key_id: str
    label: str
    created_at: int = Field(description="wall clock, Unix seconds")
    revoked_at: int | None
    scopes: list[Scope]


class KeyList(BaseModel):
    items: list[KeyInfo]


class AmountRequest(Request):
    amount: Usd


class BalanceChange(BaseModel):
    account: str
    wallet_balance: UsdOut
    command_seq: int
    txn_seq: int
    sim_time: int
    wall_time: str


class AccountView(BaseModel):
    account: str
    margin_mode: Literal["isolated", "portfolio"]
    wallet_balance: UsdOut = Field(description="free collateral")
    margin_locked: UsdOut = Field(description="position margins plus the portfolio lock")
    position_value: UsdOut = Field(description="value at mark of open positions")
    unrealized_pnl: UsdOut
    equity: UsdOut = Field(description="wallet + margin locked + unrealized PnL")
    open_positions: int
