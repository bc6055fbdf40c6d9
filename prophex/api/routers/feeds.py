"""Public feeds from the journal: trades, liquidations, resolutions (kept forever)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Ctx, Public
from prophex.api.history import parse_cursor
from prophex.api.routers.common import CursorQ, Limit, problems
from prophex.engine.journal import Closed, Event, Liquidated, Opened, Settled, expect

router = APIRouter(prefix="/v1/feeds", tags=["feeds"], dependencies=[Public])
MarketQ = Annotated[str | None, Query(max_length=64)]


def _trade(event: Event) -> Opened | Closed:
    """The event of a row selected as an ``open`` or ``close`` (anything else is a bug)."""
    if isinstance(event, Opened | Closed):
        return event
    raise TypeError(f"expected a trade, got {type(event).__name__}")


def _next(items_seq: list[int], limit: int) -> str | None:
    return str(items_seq[-1]) if len(items_seq) == limit else None


@router.get("/trades", operation_id="list_trades", response_model=s.TradePage, responses=problems())
def list_trades(
    ctx: Ctx, market: MarketQ = None, cursor: CursorQ = None, limit: Limit = 100
) -> s.TradePage:
    """Every open and close, oldest first, with its average price and the spot after it."""
    rows = ctx.history.transactions(("open", "close"), market, parse_cursor(cursor), limit)
    items = [views.trade_event(r.seq, r.time, _trade(r.event), r.order_id) for r in rows]
    return s.TradePage(items=items, next_cursor=_next([r.seq for r in rows], limit))


@router.get(
    "/liquidations",
    operation_id="list_liquidations",
    response_model=s.LiquidationPage,
    responses=problems(),
)
def list_liquidations(
    ctx: Ctx, market: MarketQ = None, cursor: CursorQ = None, limit: Limit = 100
) -> s.LiquidationPage:
    rows = ctx.history.transactions(("liquidation",), market, parse_cursor(cursor), limit)
    items = [
        views.liquidation_event(r.seq, r.time, expect(r.event, Liquidated), r.order_id)
        for r in rows
    ]
    return s.LiquidationPage(items=items, next_cursor=_next([r.seq for r in rows], limit))


@router.get(
    "/resolutions",
    operation_id="list_resolutions",
    response_model=s.ResolutionPage,
    responses=problems(),
)
def list_resolutions(
    ctx: Ctx, market: MarketQ = None, cursor: CursorQ = None, limit: Limit = 100
) -> s.ResolutionPage:
    rows = ctx.history.transactions(("resolve", "void"), market, parse_cursor(cursor), limit)
    items = [views.resolution_event(r.seq, r.time, expect(r.event, Settled)) for r in rows]
    return s.ResolutionPage(items=items, next_cursor=_next([r.seq for r in rows], limit))
