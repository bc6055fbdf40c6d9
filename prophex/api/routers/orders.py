"""Quotes and orders. Orders go through the block writer; quotes only read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import AppContext, Caller, Ctx, Trader
from prophex.api.routers.common import problems, user_command
from prophex.engine.commands import Open
from prophex.engine.events import Receipt, wallet_account
from prophex.engine.positions import liquidation_price
from prophex.errors import NotFound, ProphexError
from prophex.money import format_usd

router = APIRouter(prefix="/v1", tags=["orders"])


def liquidations_of(receipt: Receipt, time: int = 0) -> list[s.LiquidationEvent]:
    return [
        views.liquidation_event(txn.seq, time, txn.data)
        for txn in receipt.transactions
        if txn.kind == "liquidation"
    ]


def _main_txn_data(receipt: Receipt, kind: str) -> dict[str, Any] | None:
    return next((t.data for t in receipt.transactions if t.kind == kind), None)


@router.post(
    "/quote", operation_id="quote", response_model=s.Quote, responses=problems(401, 404, 409)
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


def order_result(
    receipt: Receipt, market: str, side: str, client_order_id: str | None, time: int
) -> s.OrderResult:
    r = receipt.result
    data = _main_txn_data(receipt, "open")
    price_a = price_b = None
    if data is not None:
        total = int(data["oi_a"]) + int(data["oi_b"])
        price_a, price_b = (
            views.price(int(data["oi_a"]), total),
            views.price(int(data["oi_b"]), total),
        )
    return s.OrderResult(
        command_seq=receipt.command_seq,
        duplicate=receipt.duplicate,
        client_order_id=client_order_id,
        market=market,
        side="A" if side == "A" else "B",
        position_id=int(r["position_id"]),
        notional=format_usd(int(r["notional"])),
        cost=format_usd(int(r["cost"])),
        average_price=views.price(int(r["cost"]), int(r["notional"])),
        fee=format_usd(int(r["fee"])),
        margin=format_usd(int(r["margin"])),
        position=s.PositionSummary(
            notional=format_usd(int(r["position_notional"])),
            cost_basis=format_usd(int(r["position_cost_basis"])),
            margin=format_usd(int(r["position_margin"])),
        ),
        price_a=price_a,
        price_b=price_b,
        liquidations=liquidations_of(receipt, time),
    )


@router.post(
    "/orders",
    operation_id="open_order",
    response_model=s.OrderResult,
    responses=problems(401, 404, 409),
)
async def open_order(ctx: Ctx, caller: Trader, body: s.OrderRequest) -> s.OrderResult:
    """Open or increase the (market, side) position at the curve-average price.

    With ``client_order_id`` a retry is safe: the same request returns the original result with
    ``duplicate: true`` and writes nothing; the same id with a different request is a 409.
    """
    return await execute_order(ctx, caller, body)


async def execute_order(ctx: AppContext, caller: Caller, body: s.OrderRequest) -> s.OrderResult:
    """The order path shared by the route and the ASGI fast path (see ``fastpath``)."""
    command = user_command(
        "open",
        account=caller.account,
        market=body.market,
        side=body.side,
        margin=body.margin,
        leverage=body.leverage,
        max_avg_price=body.max_avg_price,
        client_order_id=body.client_order_id,
    )
    receipt = await ctx.writer.submit(command)
    return order_result(
        receipt, body.market, body.side, body.client_order_id, ctx.sequencer.state.time
    )


@router.get(
    "/orders/{client_order_id}",
    operation_id="get_order",
    response_model=s.OrderLookup,
    responses=problems(401, 404),
)
def get_order(
    ctx: Ctx, caller: Trader, client_order_id: Annotated[str, Path(max_length=64)]
) -> s.OrderLookup:
    """The stored result of an order or close sent with this client_order_id: how a bot that
    lost a response finds out whether it went through, before deciding to retry."""
    with ctx.read() as exchange:
        stored = exchange.state.client_orders.get((caller.account, client_order_id))
    if stored is None:
        raise NotFound(f"no order with client_order_id {client_order_id!r}", resource="order")
    result = dict(stored[1])
    seq = int(result.pop("command_seq"))
    kind = "close" if "closed_notional" in result else "open"
    shown: dict[str, str | int | None] = {
        k: (v if k == "position_id" else format_usd(int(v))) if isinstance(v, int) else None
        for k, v in result.items()
    }
    return s.OrderLookup(client_order_id=client_order_id, command_seq=seq, kind=kind, result=shown)
