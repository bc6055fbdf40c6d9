"""``GET /v1/insurance-fund/solvency``: the solvency audit of the live exchange.

The same report as ``prophex audit --solvency`` (coverage and shortfall per outcome of every
open market, the correlated Monte-Carlo depletion probability, the caps that would keep the
fund solvent at the 99th percentile), computed on a copy of the state taken under the read
lock, so writers wait only for the copy. Money is USD decimal strings here (the CLI's JSON
keeps integer micro-USD); ``paths``, ``seed`` and ratios are unchanged.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query

from prophex.api.deps import Ctx, Public
from prophex.api.routers.common import problems
from prophex.api.routers.margin import slots
from prophex.audit.solvency import solvency_of_state
from prophex.money import format_usd

router = APIRouter(prefix="/v1/insurance-fund", tags=["insurance fund"], dependencies=[Public])
NOT_MONEY = frozenset({"paths", "seed"})


def usd_strings(value: Any, key: str = "") -> Any:
    """Integer micro-USD -> decimal strings, recursively (``paths`` and ``seed`` stay ints)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and key not in NOT_MONEY:
        return format_usd(value)
    if isinstance(value, float) and key == "depletion_probability":
        return f"{value:.6f}"
    if isinstance(value, dict):
        return {k: usd_strings(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [usd_strings(v, key) for v in value]
    return value


@router.get("/solvency", operation_id="get_fund_solvency", responses=problems())
async def fund_solvency(
    ctx: Ctx,
    paths: Annotated[int, Query(ge=1_000, le=200_000, description="Monte-Carlo paths")] = 20_000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="seed")] = 1,
) -> dict[str, Any]:
    """Coverage and shortfall per outcome and market, and the fund's depletion probability."""

    def run() -> dict[str, Any]:
        with ctx.read() as exchange:
            state = copy.deepcopy(exchange.state)
        report = solvency_of_state(state, paths=paths, seed=seed)
        report["units"] = "amounts are USD decimal strings; ratios and prices are decimal strings"
        return dict(usd_strings(report))

    async with slots("solvency", 1):
        return await anyio.to_thread.run_sync(run)
