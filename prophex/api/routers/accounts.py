"""Accounts, keys, collateral, balances, ledger statement and settlements received."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Path

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Ctx, Public, Trader
from prophex.api.history import parse_cursor
from prophex.api.keys import new_account_id
from prophex.api.routers.common import CursorQ, Limit, problems, user_command
from prophex.engine.events import position_account, wallet_account
from prophex.errors import NotFound
from prophex.money import format_usd

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post(
    "/accounts",
    operation_id="create_account",
    status_code=201,
    response_model=s.AccountCreated,
    responses=problems(),
    dependencies=[Public],
)
async def create_account(ctx: Ctx, body: s.AccountCreate) -> s.AccountCreated:
    """Create an account and its first API key. The key is returned once; keep it."""
    account = new_account_id()
    token, record = await anyio.to_thread.run_sync(ctx.keys.create, account, body.label)
    return s.AccountCreated(
        account=account,
        api_key=token,
        key_id=record.key_id,
        label=record.label,
        created_at=record.created_at,
    )


@router.get(
    "/account", operation_id="get_account", response_model=s.AccountView, responses=problems(401)
)
def get_account(ctx: Ctx, caller: Trader) -> s.AccountView:
    """Balances, margin locked, unrealised PnL and equity (isolated margin mode)."""
    with ctx.read() as exchange:
        return views.account_view(exchange.state, caller.account)


async def _move(ctx: Ctx, caller: Trader, kind: str, amount: str) -> s.BalanceChange:
    command = user_command(kind, account=caller.account, amount=amount)
    receipt = await ctx.writer.submit(command)
    return s.BalanceChange(
        account=caller.account,
        wallet_balance=format_usd(int(receipt.result["balance"])),
        command_seq=receipt.command_seq,
    )


@router.post(
    "/account/deposit",
    operation_id="deposit",
    response_model=s.BalanceChange,
    responses=problems(401),
)
async def deposit(ctx: Ctx, caller: Trader, body: s.AmountRequest) -> s.BalanceChange:
    """Credit simulated collateral to the wallet."""
    return await _move(ctx, caller, "deposit", body.amount)


@router.post(
    "/account/withdraw",
    operation_id="withdraw",
    response_model=s.BalanceChange,
    responses=problems(401, 409),
)
async def withdraw(ctx: Ctx, caller: Trader, body: s.AmountRequest) -> s.BalanceChange:
    """Take free collateral out (INSUFFICIENT_BALANCE names required vs available)."""
    return await _move(ctx, caller, "withdraw", body.amount)


def _ledger_cursor(cursor: str | None) -> tuple[int, int]:
    if cursor is None or ":" not in cursor:
        return parse_cursor(cursor), -1
    seq, idx = cursor.split(":", 1)
    return parse_cursor(seq), parse_cursor(idx)


@router.get(
    "/account/ledger",
    operation_id="get_ledger",
    response_model=s.LedgerPage,
    responses=problems(401),
)
def get_ledger(
    ctx: Ctx, caller: Trader, cursor: CursorQ = None, limit: Limit = 100
) -> s.LedgerPage:
    """Every posting to the wallet and to the account's position margin accounts, oldest first."""
    with ctx.read() as exchange:
        accounts = [wallet_account(caller.account)] + [
            position_account(p.id) for p in views.account_positions(exchange.state, caller.account)
        ]
    rows = ctx.history.postings(accounts, _ledger_cursor(cursor), limit)
    items = [
        s.LedgerEntry(
            txn_seq=seq,
            idx=idx,
            time=time,
            kind=kind,
            market=market,
            ledger_account=acct,
            amount=format_usd(amount),
        )
        for seq, idx, acct, amount, kind, market, time in rows
    ]
    last = items[-1] if len(items) == limit else None
    return s.LedgerPage(
        items=items, next_cursor=None if last is None else f"{last.txn_seq}:{last.idx}"
    )


@router.get(
    "/account/settlements",
    operation_id="list_settlements",
    response_model=s.SettlementPage,
    responses=problems(401),
)
def list_settlements(
    ctx: Ctx, caller: Trader, cursor: CursorQ = None, limit: Limit = 100
) -> s.SettlementPage:
    """What each resolution or void paid this account's positions, oldest first. A page ends on
    a resolution boundary, so it may hold slightly more than ``limit`` items."""
    items: list[s.Settlement] = []
    after = parse_cursor(cursor)
    exhausted = False
    while len(items) < limit and not exhausted:
        rows = ctx.history.transactions(("resolve", "void"), None, after, 200)
        exhausted = len(rows) < 200
        for row in rows:
            items.extend(
                views.settlements_for(row.seq, row.time, row.kind, row.data, caller.account)
            )
            after = row.seq
            if len(items) >= limit:
                exhausted = False
                break
    return s.SettlementPage(items=items, next_cursor=None if exhausted else str(after))


@router.get(
    "/account/keys", operation_id="list_keys", response_model=s.KeyList, responses=problems(401)
)
def list_keys(ctx: Ctx, caller: Trader) -> s.KeyList:
    return s.KeyList(
        items=[
            s.KeyInfo(
                key_id=r.key_id, label=r.label, created_at=r.created_at, revoked_at=r.revoked_at
            )
            for r in ctx.keys.keys_of(caller.account)
        ]
    )


@router.post(
    "/account/keys",
    operation_id="create_key",
    status_code=201,
    response_model=s.KeyCreated,
    responses=problems(401),
)
async def create_key(ctx: Ctx, caller: Trader, body: s.KeyCreate) -> s.KeyCreated:
    """Issue another key for this account (e.g. one per bot), shown once."""
    token, record = await anyio.to_thread.run_sync(ctx.keys.create, caller.account, body.label)
    return s.KeyCreated(
        key_id=record.key_id, api_key=token, label=record.label, created_at=record.created_at
    )


@router.delete(
    "/account/keys/{key_id}",
    operation_id="revoke_key",
    response_model=s.KeyInfo,
    responses=problems(401, 404),
)
async def revoke_key(
    ctx: Ctx, caller: Trader, key_id: Annotated[str, Path(max_length=16)]
) -> s.KeyInfo:
    """Revoke a key of this account; it is refused (401) from the next request on."""
    record = await anyio.to_thread.run_sync(ctx.keys.revoke, caller.account, key_id)
    if record is None:
        raise NotFound(f"no key {key_id!r} for this account", resource="key")
    return s.KeyInfo(
        key_id=record.key_id,
        label=record.label,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )
