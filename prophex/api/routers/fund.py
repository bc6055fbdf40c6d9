"""The insurance fund: balance, coverage, and every inflow and draw from the journal."""

from __future__ import annotations

from fastapi import APIRouter

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Ctx, Public
from prophex.api.history import parse_pair_cursor
from prophex.api.routers.common import CursorQ, Limit, problems
from prophex.engine.events import INSURANCE_FUND
from prophex.money import format_usd

router = APIRouter(prefix="/v1/insurance-fund", tags=["insurance fund"], dependencies=[Public])


@router.get("", operation_id="get_insurance_fund", response_model=s.FundView, responses=problems())
def get_insurance_fund(ctx: Ctx) -> s.FundView:
    """``coverage_ratio`` is balance / seed, the factor the caps scale with (clamped to
    [1, cap_max_multiplier] for the caps: ``cap_multiplier``)."""
    with ctx.read() as exchange:
        state = exchange.state
        balance = state.balance(INSURANCE_FUND)
        seed = state.rules.if_seed
        oi = sum(m.real_oi_a + m.real_oi_b for m in state.markets.values())
        bad_debt = sum(m.bad_debt for m in state.markets.values())
        clamped = min(max(balance, seed), seed * state.rules.cap_max_multiplier)
    return s.FundView(
        balance=format_usd(balance),
        seed=format_usd(seed),
        coverage_ratio=views.ratio(balance, seed) or "0.000000",
        open_interest=format_usd(oi),
        fund_to_open_interest=views.ratio(balance, oi),
        bad_debt_total=format_usd(bad_debt),
        cap_multiplier=views.ratio(clamped, seed) or "1.000000",
    )


@router.get(
    "/flows", operation_id="list_fund_flows", response_model=s.FundFlowPage, responses=problems()
)
def list_fund_flows(ctx: Ctx, cursor: CursorQ = None, limit: Limit = 100) -> s.FundFlowPage:
    """Each posting to the fund: fee and penalty cuts and surpluses in, shortfall cover out."""
    after = parse_pair_cursor(cursor)
    rows = ctx.history.postings([INSURANCE_FUND], after, limit)
    items = [
        s.FundFlow(
            txn_seq=seq,
            time=time,
            kind=kind,
            market=market,
            direction="inflow" if amount > 0 else "draw",
            amount=format_usd(abs(amount)),
        )
        for seq, _idx, _acct, amount, kind, market, time, *_ in rows
    ]
    last = rows[-1] if len(rows) == limit else None
    return s.FundFlowPage(items=items, next_cursor=None if last is None else f"{last[0]}:{last[1]}")
