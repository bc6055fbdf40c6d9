"""Creating markets and moving them between statuses (halt, resume)."""

from __future__ import annotations

from prophex.engine import journal as ev
from prophex.engine.commands import MARKET_TAGS, CreateMarket, Halt, Resume
from prophex.engine.core import Core
from prophex.engine.domain import MarketStatus
from prophex.engine.events import Journal
from prophex.engine.markets import TRANSITIONS, require_status
from prophex.engine.results import MarketResult, StatusResult
from prophex.engine.state import Market
from prophex.errors import AlreadyExists
from prophex.money import check_amount


def create_market(core: Core, c: CreateMarket) -> MarketResult:
    state = core.state
    if c.market in state.markets:
        raise AlreadyExists(f"market {c.market!r} already exists", resource="market")
    virtual_oi = c.virtual_oi if c.virtual_oi is not None else state.rules.virtual_oi
    check_amount(virtual_oi, field="virtual_oi")
    for name in ("wallet_cap", "market_oi_cap"):
        value = getattr(c, name)
        if value is not None:
            check_amount(value, field=name)
    tags = {key: getattr(c, key) for key in MARKET_TAGS if getattr(c, key)}
    market = Market(
        id=c.market,
        kind=c.kind,
        virtual_oi=virtual_oi,
        funding=c.funding if c.funding is not None else c.kind == "perpetual",
        tags=tags,
        wallet_cap=c.wallet_cap,
        market_oi_cap=c.market_oi_cap,
        created_at=state.time,
    )
    state.markets[c.market] = market
    state.open_in_market[c.market] = set()
    state.dirty_markets.add(c.market)
    core.commit(ev.MarketCreated(market.to_row()), Journal())
    return MarketResult(c.market)


def _transition(core: Core, market_id: str, action: str, new_status: MarketStatus) -> StatusResult:
    market = core.market(market_id)
    require_status(market_id, market.status, TRANSITIONS[action], action)
    market.status = new_status.value
    core.state.dirty_markets.add(market_id)
    event_type = ev.MarketHalted if action == "halt" else ev.MarketResumed
    core.commit(event_type(market_id, new_status), Journal())
    return StatusResult(market_id, new_status)


def halt(core: Core, c: Halt) -> StatusResult:
    return _transition(core, c.market, "halt", MarketStatus.HALTED)


def resume(core: Core, c: Resume) -> StatusResult:
    return _transition(core, c.market, "resume", MarketStatus.OPEN)
