"""Accounts, keys, collateral, balances, ledger statement and settlements received."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Request, Response

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Caller, Ctx, Public, Reader, Trader, Withdrawer
from prophex.api.errors import ScopeRequired
from prophex.api.history import order_id_of, parse_cursor, parse_pair_cursor
from prophex.api.keys import KeyRecord, new_account_id
from prophex.api.order_render import ORDER_KINDS, now_us, rfc3339
from prophex.api.routers.common import CursorQ, IdemKey, Limit, problems, user_command
from prophex.api.routers.orders import json_answer
from prophex.engine import journal
from prophex.engine.events import pm_margin_account, position_account, wallet_account
from prophex.engine.results import BalanceResult, expect
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
        scopes=scope_list(record.scopes),
    )


@router.get(
    "/account",
    operation_id="get_account",
    response_model=s.AccountView,
    responses=problems(401, 403),
)
def get_account(ctx: Ctx, caller: Reader) -> s.AccountView:
    """Balances, margin locked, unrealised PnL and equity (isolated margin mode)."""
    with ctx.read() as exchange:
        return views.account_view(exchange.state, caller.account)


async def _move(
    ctx: Ctx, caller: Caller, request: Request, kind: str, body: s.AmountRequest, key: str | None
) -> Response:
    fingerprint = {"route": kind, **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        command = user_command(kind, account=caller.account, amount=body.amount)
        receipt = await ctx.writer.submit(command)
        result = s.BalanceChange(
            account=caller.account,
            wallet_balance=format_usd(expect(receipt.result, BalanceResult).balance),
            command_seq=receipt.command_seq,
            txn_seq=receipt.transactions[0].seq,
            sim_time=ctx.sequencer.state.time,
            wall_time=rfc3339(now_us()),
        )
        return 200, result.model_dump_json().encode()

    status, payload, replayed = await ctx.idem.run(caller.account, key, fingerprint, action)
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))


@router.post(
    "/account/deposit",
    operation_id="deposit",
    response_model=s.BalanceChange,
    responses=problems(401, 403, 409, 415),
)
async def deposit(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    body: s.AmountRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Credit simulated collateral to the wallet (scope ``trade``).

    Accepts an ``Idempotency-Key`` header: a retry with the same key and request returns the
    original answer (``Idempotent-Replayed: true``); see docs/api.md.
    """
    return await _move(ctx, caller, request, "deposit", body, idempotency_key)


@router.post(
    "/account/withdraw",
    operation_id="withdraw",
    response_model=s.BalanceChange,
    responses=problems(401, 403, 409, 415),
)
async def withdraw(
    ctx: Ctx,
    caller: Withdrawer,
    request: Request,
    body: s.AmountRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Take free collateral out (scope ``withdraw``; INSUFFICIENT_BALANCE names required vs
    available).

    Accepts an ``Idempotency-Key`` header: a retry with the same key and request returns the
    original answer (``Idempotent-Replayed: true``); see docs/api.md.
    """
    return await _move(ctx, caller, request, "withdraw", body, idempotency_key)


@router.get(
    "/account/ledger",
    operation_id="get_ledger",
    response_model=s.LedgerPage,
    responses=problems(401, 403),
)
def get_ledger(
    ctx: Ctx, caller: Reader, cursor: CursorQ = None, limit: Limit = 100
) -> s.LedgerPage:
    """Every posting to the wallet, to the account's position margin accounts and to its
    portfolio lock (``pm_margin:<account>``), oldest first, each with the ``order_id`` (and
    ``client_order_id``) of the order that caused it."""
    with ctx.read() as exchange:
        accounts = [wallet_account(caller.account), pm_margin_account(caller.account)] + [
            position_account(p.id) for p in views.account_positions(exchange.state, caller.account)
        ]
    rows = ctx.history.postings(accounts, parse_pair_cursor(cursor), limit)
    client_ids = ctx.orders.client_ids([row[7] for row in rows if row[8] in ORDER_KINDS])
    items = [
        s.LedgerEntry(
            txn_seq=seq,
            idx=idx,
            time=time,
            sim_time=time,
            kind=kind,
            market=market,
            ledger_account=acct,
            amount=format_usd(amount),
            command_seq=command_seq,
            order_id=order_id_of(command_seq, command_kind),
            client_order_id=client_ids.get(command_seq),
        )
        for seq, idx, acct, amount, kind, market, time, command_seq, command_kind in rows
    ]
    last = items[-1] if len(items) == limit else None
    return s.LedgerPage(
        items=items, next_cursor=None if last is None else f"{last.txn_seq}:{last.idx}"
    )


@router.get(
    "/account/settlements",
    operation_id="list_settlements",
    response_model=s.SettlementPage,
    responses=problems(401, 403),
)
def list_settlements(
    ctx: Ctx, caller: Reader, cursor: CursorQ = None, limit: Limit = 100
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
                views.settlements_for(
                    row.seq, row.time, journal.expect(row.event, journal.Settled), caller.account
                )
            )
            after = row.seq
            if len(items) >= limit:
                exhausted = False
                break
    return s.SettlementPage(items=items, next_cursor=None if exhausted else str(after))


def scope_list(scopes: frozenset[str]) -> list[s.Scope]:
    return [scope for scope in ("read", "trade", "withdraw") if scope in scopes]


def _key_info(record: KeyRecord) -> s.KeyInfo:
    return s.KeyInfo(
        key_id=record.key_id,
        label=record.label,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
        scopes=scope_list(record.scopes),
    )


@router.get(
    "/account/keys",
    operation_id="list_keys",
    response_model=s.KeyList,
    responses=problems(401, 403),
)
def list_keys(ctx: Ctx, caller: Reader) -> s.KeyList:
    return s.KeyList(items=[_key_info(r) for r in ctx.keys.keys_of(caller.account)])


@router.post(
    "/account/keys",
    operation_id="create_key",
    status_code=201,
    response_model=s.KeyCreated,
    responses=problems(401, 403, 409, 415),
)
async def create_key(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    body: s.KeyCreate,
    idempotency_key: IdemKey = None,
) -> Response:
    """Issue another key for this account (e.g. a read-only one for a dashboard), shown once.
    Needs scope ``trade``; the new key's scopes must be among the creating key's.

    Accepts an ``Idempotency-Key`` header: a retry with the same key and request returns the
    original answer (``Idempotent-Replayed: true``); see docs/api.md.
    """
    wanted = frozenset(body.scopes)
    missing = sorted(wanted - caller.scopes)
    if missing:
        raise ScopeRequired(
            f"a key cannot grant the {missing[0]!r} scope it does not hold",
            required_scope=missing[0],
        )
    fingerprint = {"route": "create_key", **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        token, record = await anyio.to_thread.run_sync(
            ctx.keys.create, caller.account, body.label, wanted
        )
        created = s.KeyCreated(
            key_id=record.key_id,
            api_key=token,
            label=record.label,
            created_at=record.created_at,
            scopes=scope_list(record.scopes),
        )
        return 201, created.model_dump_json().encode()

    status, payload, replayed = await ctx.idem.run(
        caller.account, idempotency_key, fingerprint, action
    )
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))


@router.delete(
    "/account/keys/{key_id}",
    operation_id="revoke_key",
    response_model=s.KeyInfo,
    responses=problems(401, 403, 404),
)
async def revoke_key(
    ctx: Ctx, caller: Trader, key_id: Annotated[str, Path(max_length=16)]
) -> s.KeyInfo:
    """Revoke a key of this account (scope ``trade``); it is refused (401) from the next
    request on. Revoking twice answers the same record."""
    record = await anyio.to_thread.run_sync(ctx.keys.revoke, caller.account, key_id)
    if record is None:
        raise NotFound(f"no key {key_id!r} for this account", resource="key")
    return _key_info(record)
