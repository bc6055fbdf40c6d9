"""Markets: list, detail (odds, OI, caps, volume) and price history."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Ctx, Public
from prophex.api.errors import InvalidCursor
from prophex.api.history import parse_cursor
from prophex.api.routers.common import CursorQ, Limit, problems
from prophex.engine.journal import Closed, Liquidated, Opened
from prophex.errors import NotFound
from prophex.money import format_usd

router = APIRouter(prefix="/v1", tags=["markets"], dependencies=[Public])
MarketId = Annotated[str, Path(pattern=s.NAME_PATTERN)]

PRICE_SEMANTICS = (
    "One point per block in which the market's open interest changed (an open, a close or a "
    "liquidation): the spot price price_A = OI_A / (OI_A + OI_B) after the last such transaction "
    "of that block, i.e. the marginal price the next infinitesimal trade would pay. It is not an "
    "execution price (fills are at the curve average; see the trades feed). History is kept "
    "after resolution; the market's settlement_price_a gives the final payout per contract."
)


@router.get(
    "/markets", operation_id="list_markets", response_model=s.MarketPage, responses=problems()
)
def list_markets(
    ctx: Ctx,
    status: Annotated[Literal["open", "halted", "resolved", "voided"] | None, Query()] = None,
    cluster: Annotated[str | None, Query(max_length=200)] = None,
    cursor: CursorQ = None,
    limit: Limit = 100,
) -> s.MarketPage:
    """Markets ordered by id; ``cursor`` is the last id of the previous page."""
    if cursor is not None and not re.match(s.NAME_PATTERN, cursor):
        raise InvalidCursor(f"invalid cursor {cursor!r}", field="cursor")
    with ctx.read() as exchange:
        ids = sorted(
            m.id
            for m in exchange.state.markets.values()
            if views.market_matches(m, status, cluster) and (cursor is None or m.id > cursor)
        )
        page = ids[:limit]
        items = [views.market_view(exchange, exchange.state.markets[m]) for m in page]
    more = len(ids) > limit
    return s.MarketPage(items=items, next_cursor=page[-1] if more else None)


@router.get(
    "/markets/{market_id}",
    operation_id="get_market",
    response_model=s.MarketView,
    responses=problems(404),
)
def get_market(ctx: Ctx, market_id: MarketId) -> s.MarketView:
    with ctx.read() as exchange:
        return views.market_view(exchange, exchange.market(market_id))


@router.get(
    "/markets/{market_id}/prices",
    operation_id="get_price_history",
    response_model=s.PriceHistory,
    responses=problems(404),
    description=PRICE_SEMANTICS,
)
def get_price_history(
    ctx: Ctx, market_id: MarketId, cursor: CursorQ = None, limit: Limit = 100
) -> s.PriceHistory:
    with ctx.read() as exchange:
        market = exchange.state.markets.get(market_id)
        if market is None:
            raise NotFound(f"market {market_id!r} does not exist", resource="market")
        status, outcome = market.status, market.outcome
    points = ctx.history.price_points(market_id, parse_cursor(cursor), limit)
    items = []
    for block, row in points:
        event = row.event
        if not isinstance(event, Opened | Closed | Liquidated):
            raise TypeError(f"{type(event).__name__} does not move the price")
        oi_a, oi_b = event.oi_a, event.oi_b
        items.append(
            s.PricePoint(
                block=block,
                txn_seq=row.seq,
                time=row.time,
                price_a=views.price(oi_a, oi_a + oi_b),
                price_b=views.price(oi_b, oi_a + oi_b),
                oi_a=format_usd(oi_a),
                oi_b=format_usd(oi_b),
            )
        )
    return s.PriceHistory(
        market=market_id,
        status=status,
        outcome=outcome,
        semantics=PRICE_SEMANTICS,
        items=items,
        next_cursor=str(items[-1].txn_seq) if len(items) == limit else None,
    )
