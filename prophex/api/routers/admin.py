"""Admin: markets, status changes, resolution, parameters, the simulated clock.

Every action is a command through the block writer, journalled like any trade, so replaying
the journal reproduces admin decisions too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Admin, Ctx
from prophex.api.routers.common import problems, user_command
from prophex.engine.commands import SetParams
from prophex.engine.journal import Settled
from prophex.engine.results import ClockResult, ParamsResult, expect
from prophex.money import format_usd

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin])
MarketId = Annotated[str, Path(pattern=s.NAME_PATTERN)]


async def _market_action(
    ctx: Ctx, action: str, market_id: str, /, **extra: Any
) -> s.AdminMarketResult:
    receipt = await ctx.writer.submit(user_command(action, market=market_id, **extra))
    resolution = None
    for txn in receipt.transactions:
        if isinstance(txn.event, Settled):
            resolution = views.resolution_event(txn.seq, ctx.sequencer.state.time, txn.event)
    view = s.MarketView.model_validate(ctx.hub.snapshots[market_id])
    return s.AdminMarketResult(command_seq=receipt.command_seq, market=view, resolution=resolution)


@router.post(
    "/markets",
    operation_id="admin_create_market",
    status_code=201,
    response_model=s.AdminMarketResult,
    responses=problems(401, 403, 409),
)
async def create_market(ctx: Ctx, body: s.MarketCreate) -> s.AdminMarketResult:
    fields = body.model_dump(exclude_none=True)
    market_id = fields.pop("market")
    return await _market_action(ctx, "create_market", market_id, **fields)


@router.post(
    "/markets/{market_id}/halt",
    operation_id="admin_halt_market",
    response_model=s.AdminMarketResult,
    responses=problems(401, 403, 404, 409),
)
async def halt(ctx: Ctx, market_id: MarketId) -> s.AdminMarketResult:
    return await _market_action(ctx, "halt", market_id)


@router.post(
    "/markets/{market_id}/resume",
    operation_id="admin_resume_market",
    response_model=s.AdminMarketResult,
    responses=problems(401, 403, 404, 409),
)
async def resume(ctx: Ctx, market_id: MarketId) -> s.AdminMarketResult:
    return await _market_action(ctx, "resume", market_id)


@router.post(
    "/markets/{market_id}/resolve",
    operation_id="admin_resolve_market",
    response_model=s.AdminMarketResult,
    responses=problems(401, 403, 404, 409),
)
async def resolve(ctx: Ctx, market_id: MarketId, body: s.ResolveRequest) -> s.AdminMarketResult:
    """Settle every open position: A or B wins, or UNKNOWN pays 0.5 per contract."""
    return await _market_action(ctx, "resolve", market_id, outcome=body.outcome)


@router.post(
    "/markets/{market_id}/void",
    operation_id="admin_void_market",
    response_model=s.AdminMarketResult,
    responses=problems(401, 403, 404, 409),
)
async def void(ctx: Ctx, market_id: MarketId) -> s.AdminMarketResult:
    """Return every open position's margin in full."""
    return await _market_action(ctx, "void", market_id)


@router.get(
    "/params",
    operation_id="admin_get_params",
    response_model=s.ParamsView,
    responses=problems(401, 403),
)
def get_params(ctx: Ctx) -> s.ParamsView:
    with ctx.read() as exchange:
        return s.ParamsView(command_seq=None, params=exchange.state.params.model_dump(mode="json"))


@router.post(
    "/params",
    operation_id="admin_set_params",
    response_model=s.ParamsView,
    responses=problems(401, 403),
)
async def set_params(ctx: Ctx, body: s.ParamsRequest) -> s.ParamsView:
    """Override parameters in force (validated as a whole; the profile becomes custom)."""
    overrides = body.params.model_dump(exclude_none=True)
    receipt = await ctx.writer.submit(SetParams(params=overrides))
    params = dict(expect(receipt.result, ParamsResult).params)
    return s.ParamsView(command_seq=receipt.command_seq, params=params)


@router.post(
    "/clock",
    operation_id="admin_advance_clock",
    response_model=s.ClockView,
    responses=problems(401, 403),
)
async def advance_clock(ctx: Ctx, body: s.ClockRequest) -> s.ClockView:
    """Move simulated time forward; funding intervals crossed are paid on the way."""
    receipt = await ctx.writer.submit(user_command("advance_clock", seconds=body.seconds))
    result = expect(receipt.result, ClockResult)
    return s.ClockView(
        command_seq=receipt.command_seq,
        time=result.time,
        funding_payments=format_usd(result.funding_payments),
    )
