"""Positions of the calling account. Another account's position is indistinguishable from a
missing one (404), so ids cannot be probed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Ctx, Reader, Trader
from prophex.api.history import parse_cursor
from prophex.api.order_render import now_us, rfc3339
from prophex.api.routers.common import CursorQ, IdemKey, Limit, problems, user_command
from prophex.api.routers.orders import (
    alias_client_order_id,
    json_answer,
    order_idempotency_key,
    submit_order,
)
from prophex.engine.positions import liquidation_price
from prophex.engine.results import MarginResult, expect
from prophex.engine.state import Position, State
from prophex.errors import NotFound
from prophex.money import format_usd

router = APIRouter(prefix="/v1", tags=["positions"])
PositionId = Annotated[int, Path(ge=1, le=2**62)]


def _own(state: State, account: str, position_id: int) -> Position:
    position = state.positions.get(position_id)
    if position is None or position.account != account:
        raise NotFound(f"no position {position_id} for this account", resource="position")
    return position


@router.get(
    "/positions",
    operation_id="list_positions",
    response_model=s.PositionPage,
    responses=problems(401, 403),
)
def list_positions(
    ctx: Ctx,
    caller: Reader,
    status: Annotated[Literal["open", "closed", "liquidated", "settled", "all"], Query()] = "open",
    market: Annotated[str | None, Query(max_length=64)] = None,
    cursor: CursorQ = None,
    limit: Limit = 100,
) -> s.PositionPage:
    """This account's positions by id; ``status=all`` includes closed, liquidated and settled."""
    after = parse_cursor(cursor)
    with ctx.read() as exchange:
        state = exchange.state
        chosen = sorted(
            (
                p
                for p in views.account_positions(state, caller.account)
                if p.id > after
                and (status == "all" or p.status == status)
                and (market is None or p.market == market)
            ),
            key=lambda p: p.id,
        )
        items = [views.position_view(state, p) for p in chosen[:limit]]
    more = len(chosen) > limit
    return s.PositionPage(items=items, next_cursor=str(items[-1].id) if more else None)


@router.get(
    "/positions/{position_id}",
    operation_id="get_position",
    response_model=s.PositionView,
    responses=problems(401, 403, 404),
)
def get_position(ctx: Ctx, caller: Reader, position_id: PositionId) -> s.PositionView:
    with ctx.read() as exchange:
        state = exchange.state
        return views.position_view(state, _own(state, caller.account, position_id))


@router.post(
    "/positions/{position_id}/close",
    operation_id="close_position",
    response_model=s.Order,
    responses=problems(401, 403, 404, 409, 415),
)
async def close_position(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    position_id: PositionId,
    body: s.CloseRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Close all (no ``notional``) or part of a position at the curve-average exit price.
    The answer is the close's ``Order`` (as ``GET /v1/orders/{order_id}`` returns it).

    Accepts an ``Idempotency-Key`` header: a retry with the same key and request returns the
    original answer (``Idempotent-Replayed: true``); see docs/api.md.
    """
    fingerprint = {"route": "close_position", "position_id": position_id, **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        command = user_command(
            "close",
            account=caller.account,
            position_id=position_id,
            notional=body.notional,
            min_avg_price=body.min_avg_price,
            client_order_id=alias_client_order_id(body.client_order_id, idempotency_key),
        )
        return 200, await submit_order(ctx, caller.account, command)

    key = order_idempotency_key(body.client_order_id, idempotency_key)
    status, payload, replayed = await ctx.idem.run(caller.account, key, fingerprint, action)
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))


@router.post(
    "/positions/{position_id}/margin",
    operation_id="add_margin",
    response_model=s.AddMarginResult,
    responses=problems(401, 403, 404, 409, 415),
)
async def add_margin(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    position_id: PositionId,
    body: s.AmountRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Move collateral from the wallet into the position, lowering its liquidation price.

    Accepts an ``Idempotency-Key`` header: a retry with the same key and request returns the
    original answer (``Idempotent-Replayed: true``); see docs/api.md.
    """
    fingerprint = {"route": "add_margin", "position_id": position_id, **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        command = user_command(
            "add_margin", account=caller.account, position_id=position_id, amount=body.amount
        )
        receipt = await ctx.writer.submit(command)
        position = ctx.sequencer.state.positions[position_id]  # a dict read: atomic
        liq = liquidation_price(position.cost_basis, position.margin, position.notional)
        result = s.AddMarginResult(
            command_seq=receipt.command_seq,
            position_id=position_id,
            margin=format_usd(expect(receipt.result, MarginResult).margin),
            liquidation_price=None if liq is None else views.price(*liq),
            sim_time=ctx.sequencer.state.time,
            wall_time=rfc3339(now_us()),
        )
        return 200, result.model_dump_json().encode()

    status, payload, replayed = await ctx.idem.run(
        caller.account, idempotency_key, fingerprint, action
    )
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))
