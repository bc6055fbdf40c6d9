"""Quotes and orders. Orders go through the block writer; quotes only read."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request, Response

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import AppContext, Caller, Ctx, Reader, Trader
from prophex.api.errors import quota_headers
from prophex.api.history import parse_cursor
from prophex.api.idempotency import REPLAYED_HEADER
from prophex.api.order_render import parse_order_id
from prophex.api.routers.common import IdemKey, Limit, problems, user_command
from prophex.engine.commands import Open
from prophex.engine.events import wallet_account
from prophex.engine.positions import liquidation_price
from prophex.errors import NotFound, ProphexError
from prophex.money import format_usd

router = APIRouter(prefix="/v1", tags=["orders"])
NAME = re.compile(s.NAME_PATTERN)


@router.post(
    "/quote",
    operation_id="quote",
    response_model=s.Quote,
    responses=problems(401, 403, 404, 409, 415),
)
def quote(ctx: Ctx, caller: Trader, body: s.QuoteRequest) -> s.Quote:
    """Price an order without changing anything: fee, average, pre/post-trade price, the
    liquidation price of the resulting position, cap headroom and whether it would pass."""
    command = user_command(
        "open",
        account=caller.account,
        market=body.market,
        side=body.side,
        margin=body.margin,
        leverage=body.leverage,
    )
    if not isinstance(command, Open):  # survives python -O (issue 8)
        raise TypeError("quote needs an open command")
    with ctx.read() as exchange:
        plan = exchange.plan_open(command, enforce=False)
        rejection: s.QuoteRejection | None = None
        try:
            exchange.plan_open(command, enforce=True)
        except ProphexError as error:
            rejection = s.QuoteRejection(
                code=error.code, detail=error.message, details=error.details
            )
        state = exchange.state
        market = plan.market
        oi_side, oi_other = market.oi(plan.side), market.oi(views.OTHER[plan.side])
        existing = state.open_by_key.get((caller.account, market.id, plan.side))
        cost_basis, margin, notional = plan.cost, command.margin, plan.notional
        if existing is not None:
            held = state.positions[existing]
            cost_basis += held.cost_basis
            margin += held.margin
            notional += held.notional
        liq = liquidation_price(cost_basis, margin, notional)
        head = plan.headroom
        return s.Quote(
            market=market.id,
            side=body.side,
            margin=format_usd(command.margin),
            leverage=body.leverage,
            notional=format_usd(plan.notional),
            fee=format_usd(plan.fee),
            cost=format_usd(plan.cost),
            average_price=views.price(plan.cost, plan.notional),
            pre_trade_price=views.price(oi_side, oi_side + oi_other),
            post_trade_price=views.price(
                oi_side + plan.notional, oi_side + oi_other + plan.notional
            ),
            liquidation_price=None if liq is None else views.price(*liq),
            balance_required=format_usd(command.margin + plan.fee),
            balance_available=format_usd(state.balance(wallet_account(caller.account))),
            caps=s.WalletCapsView(
                wallet_cap=format_usd(head.wallet_cap),
                wallet_used=format_usd(head.wallet_used),
                wallet_headroom=format_usd(head.wallet_headroom),
                market_cap=format_usd(head.market_cap),
                market_used=format_usd(head.market_used),
                market_headroom=format_usd(head.market_headroom),
            ),
            accepted=rejection is None,
            rejection=rejection,
        )


async def stored_order(ctx: AppContext, account: str, command_seq: int) -> dict[str, Any]:
    """The indexed ``Order`` of ``command_seq`` (catching the index up first if a crash left it
    behind the journal)."""
    found = await anyio.to_thread.run_sync(ctx.orders.get, account, command_seq)
    if found is None:
        await anyio.to_thread.run_sync(ctx.orders.catch_up)
        found = await anyio.to_thread.run_sync(ctx.orders.get, account, command_seq)
    if found is None:
        raise NotFound(f"no order o-{command_seq} for this account", resource="order")
    return found


async def submit_order(ctx: AppContext, account: str, command: Any) -> bytes:
    """Execute an open or close through the block writer; the ``Order`` as JSON bytes. A
    replayed ``client_order_id`` answers the stored order with ``duplicate: true``."""
    receipt, order = await ctx.writer.submit_order(command)
    if order is None:
        order = await stored_order(ctx, account, receipt.command_seq)
    return order_bytes(order, receipt.duplicate)


def order_bytes(order: dict[str, Any], duplicate: bool) -> bytes:
    return json.dumps({**order, "duplicate": duplicate}, separators=(",", ":")).encode()


def alias_client_order_id(client_order_id: str | None, idempotency_key: str | None) -> str | None:
    """An ``Idempotency-Key`` doubles as the client_order_id of an order sent without one (so
    the engine's journalled dedupe covers it too), when it is a valid client_order_id."""
    if client_order_id is not None or idempotency_key is None:
        return client_order_id
    return idempotency_key if NAME.match(idempotency_key) else None


def order_idempotency_key(client_order_id: str | None, idempotency_key: str | None) -> str | None:
    """The ``Idempotency-Key`` an order route stores answers under: none when the request names
    a ``client_order_id``, which is then the order's one identity (a retry answers the stored
    order with ``duplicate: true``, a different request with the id is 409
    ``DUPLICATE_CLIENT_ORDER_ID``: the engine's journalled dedupe, no retention limit)."""
    return idempotency_key if client_order_id is None else None


async def order_answer(
    ctx: AppContext, caller: Caller, body: s.OrderRequest, idempotency_key: str | None
) -> tuple[int, bytes, bool]:
    """The one implementation of ``POST /v1/orders`` after authentication and parsing, used
    by the FastAPI route and the ASGI fast path alike: (status, body, replayed)."""
    fingerprint = {"route": "open_order", **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        command = user_command(
            "open",
            account=caller.account,
            market=body.market,
            side=body.side,
            margin=body.margin,
            leverage=body.leverage,
            max_avg_price=body.max_avg_price,
            client_order_id=alias_client_order_id(body.client_order_id, idempotency_key),
        )
        return 200, await submit_order(ctx, caller.account, command)

    key = order_idempotency_key(body.client_order_id, idempotency_key)
    return await ctx.idem.run(caller.account, key, fingerprint, action)


def json_answer(
    status: int, payload: bytes, replayed: bool, quota: tuple[int, int] | None
) -> Response:
    headers = quota_headers(quota)
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(payload, status, headers=headers, media_type="application/json")


@router.post(
    "/orders",
    operation_id="open_order",
    response_model=s.Order,
    responses=problems(401, 403, 404, 409, 415),
)
async def open_order(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    body: s.OrderRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Open or increase the (market, side) position at the curve-average price.

    Retries are safe with ``client_order_id`` (a retry returns the stored order with
    ``duplicate: true``) or with an ``Idempotency-Key`` header (the original answer, byte for
    byte, with ``Idempotent-Replayed: true``). The same id or key with a different request is
    a 409. Served by the ASGI order path (see ``fastpath``), which runs this same code.
    """
    status, payload, replayed = await order_answer(ctx, caller, body, idempotency_key)
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))


# ---------------------------------------------------------------- history

OrderCursor = Annotated[
    str | None, Query(max_length=64, description="next_cursor of the previous page")
]


@router.get(
    "/orders",
    operation_id="list_orders",
    response_model=s.OrderPage,
    responses=problems(401, 403),
)
def list_orders(
    ctx: Ctx,
    caller: Reader,
    market: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[Literal["filled"] | None, Query()] = None,
    since: Annotated[int | None, Query(ge=0, le=2**62, description="sim_time >= since")] = None,
    until: Annotated[int | None, Query(ge=0, le=2**62, description="sim_time <= until")] = None,
    cursor: OrderCursor = None,
    limit: Limit = 100,
) -> s.OrderPage:
    """This account's orders, oldest first (every order is ``filled``)."""
    rows = ctx.orders.orders(caller.account, market, since, until, parse_cursor(cursor), limit)
    items = [s.Order.model_validate({**r, "duplicate": False}) for r in rows]
    more = len(items) == limit
    return s.OrderPage(items=items, next_cursor=str(items[-1].command_seq) if more else None)


@router.get(
    "/orders/by-client-id/{client_order_id}",
    operation_id="get_order_by_client_id",
    response_model=s.Order,
    responses=problems(401, 403, 404),
)
def get_order_by_client_id(
    ctx: Ctx, caller: Reader, client_order_id: Annotated[str, Path(pattern=s.NAME_PATTERN)]
) -> s.Order:
    """The order sent with this client_order_id: how a bot that lost a response finds out
    whether it went through before deciding to retry (404 ``NOT_FOUND`` if it never ran)."""
    found = ctx.orders.by_client_id(caller.account, client_order_id)
    if found is None:
        raise NotFound(f"no order with client_order_id {client_order_id!r}", resource="order")
    return s.Order.model_validate({**found, "duplicate": False})


@router.get(
    "/orders/{order_id}",
    operation_id="get_order",
    response_model=s.Order,
    responses=problems(401, 403, 404),
)
def get_order(ctx: Ctx, caller: Reader, order_id: Annotated[str, Path(max_length=64)]) -> s.Order:
    """The order ``o-<command_seq>`` of this account (404 for any other id)."""
    seq = parse_order_id(order_id)
    found = None if seq is None else ctx.orders.get(caller.account, seq)
    if found is None:
        raise NotFound(f"no order {order_id!r} for this account", resource="order")
    return s.Order.model_validate({**found, "duplicate": False})


@router.get(
    "/fills", operation_id="list_fills", response_model=s.FillPage, responses=problems(401, 403)
)
def list_fills(
    ctx: Ctx,
    caller: Reader,
    market: Annotated[str | None, Query(max_length=64)] = None,
    order_id: Annotated[str | None, Query(pattern=r"^o-[0-9]{1,18}$")] = None,
    cursor: OrderCursor = None,
    limit: Limit = 100,
) -> s.FillPage:
    """This account's fills, oldest first; ``cursor`` is the last ``txn_seq`` seen."""
    seq = None if order_id is None else parse_order_id(order_id)
    rows = ctx.orders.fills(caller.account, market, seq, parse_cursor(cursor), limit)
    items = [s.Fill.model_validate(r) for r in rows]
    more = len(items) == limit
    return s.FillPage(items=items, next_cursor=str(items[-1].txn_seq) if more else None)
