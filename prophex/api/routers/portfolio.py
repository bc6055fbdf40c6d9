"""Portfolio-mode accounts: margin mode, the margin breakdown, quotes and orders by notional.

Closes use the common ``POST /v1/positions/{id}/close`` (the engine routes them by the
account's mode). Amounts are decimal USD strings, as everywhere in the API.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request, Response

from prophex.api import schemas as s
from prophex.api import views
from prophex.api.deps import Ctx, Trader
from prophex.api.order_render import order_id
from prophex.api.portfolio_schemas import (
    ClusterView,
    MarginBreakdown,
    MarginModeRequest,
    MarginModeResult,
    PortfolioOrderRequest,
    PortfolioOrderResult,
    PortfolioQuote,
    PortfolioQuoteRequest,
)
from prophex.api.routers.common import IdemKey, problems, user_command
from prophex.api.routers.orders import alias_client_order_id, json_answer, order_idempotency_key
from prophex.engine.commands import OpenPortfolio
from prophex.engine.events import Receipt, pm_margin_account
from prophex.engine.pm_account import margin_report
from prophex.engine.results import PortfolioOpenResult, expect
from prophex.errors import InvalidCommand, ProphexError
from prophex.margin import MarginResult
from prophex.money import MICRO, format_usd

router = APIRouter(prefix="/v1", tags=["portfolio"])


def _usd(value: int | float) -> str:
    """An integer micro-USD amount, or a float USD figure of the margin engine (to the
    nearest micro-dollar: these are reported figures; the requirement itself is the integer
    ``ceil``)."""
    if isinstance(value, float):
        return format_usd(round(value * MICRO))
    return format_usd(value)


def _floor(value: Fraction) -> str:
    return format_usd(math.floor(value))


def _ceil(value: Fraction) -> str:
    return format_usd(math.ceil(value))


@router.post(
    "/account/margin-mode",
    operation_id="set_margin_mode",
    response_model=MarginModeResult,
    responses=problems(401, 409),
)
async def set_margin_mode(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    body: MarginModeRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Switch between isolated and portfolio margin (only while flat: ACCOUNT_NOT_FLAT).

    Accepts an ``Idempotency-Key`` header: a retry with the same key and request returns the
    original answer (``Idempotent-Replayed: true``); see docs/api.md.
    """
    fingerprint = {"route": "set_margin_mode", **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        command = user_command("set_margin_mode", account=caller.account, mode=body.mode)
        receipt = await ctx.writer.submit(command)
        result = MarginModeResult(
            account=caller.account, mode=body.mode, command_seq=receipt.command_seq
        )
        return 200, result.model_dump_json().encode()

    status, payload, replayed = await ctx.idem.run(
        caller.account, idempotency_key, fingerprint, action
    )
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))


@router.get(
    "/account/margin",
    operation_id="get_account_margin",
    response_model=MarginBreakdown,
    responses=problems(401),
)
def get_account_margin(ctx: Ctx, caller: Trader) -> MarginBreakdown:
    """The portfolio-margin waterfall of the account's book and how far it is from
    liquidation."""
    with ctx.read() as exchange:
        report = margin_report(exchange.state, caller.account)
    result: MarginResult | None = report.result
    figures: dict[str, Any] = {
        "full_collateral": "0",
        "clusters": [],
        "sum_es": "0",
        "base_joint": "0",
        "base_joint_se": "0",
        "base_sqrt": "0",
        "floor_top2": "0",
        "min_margin": "0",
        "addons": {},
        "binding": "none",
        "requirement": "0",
        "requirement_se": "0",
    }
    if result is not None:
        figures = {
            "full_collateral": _usd(result.full_collateral),
            "clusters": [
                ClusterView(cluster=c.name, gross=_usd(c.gross), es=_usd(c.es), es_se=_usd(c.es_se))
                for c in result.clusters
            ],
            "sum_es": _usd(result.sum_es),
            "base_joint": _usd(result.base_joint),
            "base_joint_se": _usd(result.base_joint_se),
            "base_sqrt": _usd(result.base_sqrt),
            "floor_top2": _usd(result.floor_top2),
            "min_margin": _usd(result.min_margin),
            "addons": {k: _usd(v) for k, v in result.addons.items()},
            "binding": result.binding,
            "requirement": format_usd(result.pm_micro_usd),
            "requirement_se": _usd(result.pm_se),
        }
    return MarginBreakdown(
        account=caller.account,
        mode=report.mode,
        positions=report.positions,
        epoch=report.epoch,
        paths=report.paths,
        locked=_usd(report.locked),
        last_requirement=_usd(report.last_requirement),
        wallet=_usd(report.wallet),
        unrealized_loss=_ceil(report.unrealized_loss),  # a loss never understated
        equity=_floor(report.equity),
        distance_to_liquidation=_floor(report.distance_to_liquidation),
        **figures,
    )


def _command(caller: Trader, body: PortfolioQuoteRequest, **extra: Any) -> OpenPortfolio:
    command = user_command(
        "open",
        account=caller.account,
        market=body.market,
        side=body.side,
        notional=body.notional,
        **extra,
    )
    if not isinstance(command, OpenPortfolio):  # an explicit check: survives ``python -O``
        raise InvalidCommand("an open by notional must be a portfolio order", field="notional")
    return command


@router.post(
    "/portfolio/quote",
    operation_id="quote_portfolio",
    response_model=PortfolioQuote,
    responses=problems(401, 404, 409),
)
def quote_portfolio(ctx: Ctx, caller: Trader, body: PortfolioQuoteRequest) -> PortfolioQuote:
    """Price a portfolio-mode order without changing anything, with the requirement before
    and after it: a bot sees the margin effect of a hedge before sending it."""
    command = _command(caller, body)
    with ctx.read() as exchange:
        plan = exchange.plan_open_portfolio(command, enforce=False)
        rejection: s.QuoteRejection | None = None
        try:
            exchange.plan_open_portfolio(command, enforce=True)
        except ProphexError as error:
            rejection = s.QuoteRejection(
                code=error.code, detail=error.message, details=error.details
            )
        locked = exchange.state.balance(pm_margin_account(caller.account))
    change = plan.requirement_after - locked
    need = plan.fee + max(0, change)
    if rejection is None and plan.available < need:
        rejection = s.QuoteRejection(
            code="INSUFFICIENT_BALANCE",
            detail=f"portfolio requirement rise plus opening fee needs {format_usd(need)} USD "
            f"but the wallet has {format_usd(plan.available)} USD free",
            details={
                "check": "portfolio requirement rise plus opening fee",
                "required": format_usd(need),
                "available": format_usd(plan.available),
            },
        )
    return PortfolioQuote(
        market=plan.market.id,
        side=body.side,
        notional=format_usd(plan.notional),
        fee=format_usd(plan.fee),
        cost=format_usd(plan.cost),
        average_price=views.price(plan.cost, plan.notional),
        requirement_before=format_usd(plan.requirement_before),
        requirement_after=format_usd(plan.requirement_after),
        lock_change=format_usd(change),
        balance_required=format_usd(need),
        balance_available=format_usd(plan.available),
        accepted=rejection is None,
        rejection=rejection,
    )


def _liquidations(receipt: Receipt) -> int:
    return sum(t.kind in ("liquidation", "pm_liquidation") for t in receipt.transactions)


@router.post(
    "/portfolio/orders",
    operation_id="open_portfolio_order",
    response_model=PortfolioOrderResult,
    responses=problems(401, 404, 409),
)
async def open_portfolio_order(
    ctx: Ctx,
    caller: Trader,
    request: Request,
    body: PortfolioOrderRequest,
    idempotency_key: IdemKey = None,
) -> Response:
    """Open or increase a portfolio-mode position by notional; the account's lock moves to
    the requirement after the order (INSUFFICIENT_BALANCE with figures if it cannot).

    Retries are safe with ``client_order_id`` (a retry answers ``duplicate: true``) or with an
    ``Idempotency-Key`` header (the original answer, byte for byte, with
    ``Idempotent-Replayed: true``); see docs/api.md.
    """
    fingerprint = {"route": "open_portfolio_order", **body.model_dump()}

    async def action() -> tuple[int, bytes]:
        command = _command(
            caller,
            body,
            max_avg_price=body.max_avg_price,
            client_order_id=alias_client_order_id(body.client_order_id, idempotency_key),
        )
        receipt = await ctx.writer.submit(command)
        r = expect(receipt.result, PortfolioOpenResult)
        result = PortfolioOrderResult(
            command_seq=receipt.command_seq,
            order_id=order_id(receipt.command_seq),
            duplicate=receipt.duplicate,
            position_id=r.position_id,
            notional=format_usd(r.notional),
            cost=format_usd(r.cost),
            fee=format_usd(r.fee),
            requirement=format_usd(r.requirement),
            locked=format_usd(r.locked),
            liquidations=_liquidations(receipt),
        )
        return 200, result.model_dump_json().encode()

    key = order_idempotency_key(body.client_order_id, idempotency_key)
    status, payload, replayed = await ctx.idem.run(caller.account, key, fingerprint, action)
    return json_answer(status, payload, replayed, getattr(request.state, "rate_limit", None))
