"""Read models built from the in-memory engine state and from the typed journal events.

The engine keeps integers; this module is where they become decimal strings. Functions that
take a ``State`` must be called with the sequencer's lock held (see ``deps.read_state``), so a
view never mixes two blocks. Functions that take a typed event (:mod:`prophex.engine.journal`)
serve both the REST feeds (rows read back from SQL, decoded by ``journal.decode``) and the
stream (receipts fresh from the sequencer), so the two can never disagree about what an event
looks like; mypy checks every field they read.
"""

from __future__ import annotations

from typing import Any

from prophex.api import schemas as s
from prophex.engine import journal as ev
from prophex.engine.caps import effective_caps
from prophex.engine.domain import OTHER as OTHER
from prophex.engine.events import INSURANCE_FUND, pm_margin_account, wallet_account
from prophex.engine.exchange import Exchange
from prophex.engine.positions import liquidation_price, unrealized_pnl, value_at_mark
from prophex.engine.settlement import SETTLEMENT_PRICE_A
from prophex.engine.state import Market, Position, State
from prophex.money import format_price, format_usd


def price(num: int, den: int) -> str:
    """``num / den`` with 6 decimals, rounded half-even: the same text as
    :func:`prophex.money.format_price` for non-negative inputs, in integer arithmetic only (it
    runs several times per order response, and ``Fraction`` is the slow part there)."""
    if den <= 0:
        return "0.000000"
    if num < 0:
        return format_price(num, den)
    quotient, remainder = divmod(num * 1_000_000, den)
    twice = 2 * remainder
    if twice > den or (twice == den and quotient & 1):
        quotient += 1
    whole, frac = divmod(quotient, 1_000_000)
    return f"{whole}.{frac:06d}"


def ratio(num: int, den: int) -> str | None:
    return None if den == 0 else format_price(num, den)


def _spot(oi_a: int, oi_b: int) -> tuple[str, str]:
    total = oi_a + oi_b
    return price(oi_a, total), price(oi_b, total)


# ---------------------------------------------------------------- markets


def market_view(exchange: Exchange, market: Market) -> s.MarketView:
    state = exchange.state
    rules = state.rules
    fund = state.balance(INSURANCE_FUND)
    wallet_cap, market_cap = effective_caps(market, rules, fund)
    used = market.real_oi_a + market.real_oi_b
    price_a, price_b = _spot(market.oi("A"), market.oi("B"))
    settle = SETTLEMENT_PRICE_A.get(market.outcome or "") if market.status == "resolved" else None
    if settle is not None:  # a resolved market's price is what it settled at
        price_a = price(settle.numerator, settle.denominator)
        price_b = price(settle.denominator - settle.numerator, settle.denominator)
    return s.MarketView(
        id=market.id,
        kind=market.kind,
        status=market.status,
        outcome=market.outcome,
        question=market.tags.get("question", ""),
        tags={k: v for k, v in sorted(market.tags.items()) if k != "question"},
        funding=market.funding,
        price_a=price_a,
        price_b=price_b,
        virtual_oi=format_usd(market.virtual_oi),
        real_oi_a=format_usd(market.real_oi_a),
        real_oi_b=format_usd(market.real_oi_b),
        oi_a=format_usd(market.oi("A")),
        oi_b=format_usd(market.oi("B")),
        volume=format_usd(market.volume),
        bad_debt=format_usd(market.bad_debt),
        caps=s.CapsView(
            wallet_cap=format_usd(wallet_cap),
            market_cap=format_usd(market_cap),
            market_used=format_usd(used),
            market_headroom=format_usd(max(0, market_cap - used)),
        ),
        created_at=market.created_at,
        settlement_price_a=None if settle is None else price(settle.numerator, settle.denominator),
    )


def market_matches(market: Market, status: str | None, cluster: str | None) -> bool:
    if status is not None and market.status != status:
        return False
    return cluster is None or market.tags.get("cluster") == cluster


# ---------------------------------------------------------------- positions and account


def position_view(state: State, position: Position) -> s.PositionView:
    market = state.markets[position.market]
    oi_side, oi_other = market.oi(position.side), market.oi(OTHER[position.side])
    is_open = position.status == "open"
    value = value_at_mark(position.notional, oi_side, oi_other) if is_open else 0
    pnl = (
        unrealized_pnl(position.notional, position.cost_basis, oi_side, oi_other) if is_open else 0
    )
    liq = liquidation_price(position.cost_basis, position.margin, position.notional)
    return s.PositionView(
        id=position.id,
        market=position.market,
        side="A" if position.side == "A" else "B",
        status=position.status,
        notional=format_usd(position.notional),
        cost_basis=format_usd(position.cost_basis),
        entry_price=ratio(position.cost_basis, position.notional),
        margin=format_usd(position.margin),
        effective_leverage=ratio(position.notional, position.margin) if is_open else None,
        mark_price=price(oi_side, oi_side + oi_other),
        value=format_usd(value),
        unrealized_pnl=format_usd(pnl),
        liquidation_price=None if liq is None or not is_open else price(*liq),
        realized_pnl=format_usd(position.realized_pnl),
        haircut=format_usd(position.haircut),
        opened_at=position.opened_at,
        closed_at=position.closed_at,
    )


def account_positions(state: State, account: str) -> list[Position]:
    return [p for p in state.positions.values() if p.account == account]


def account_view(state: State, account: str) -> s.AccountView:
    locked = value = cost = count = 0
    for position in account_positions(state, account):
        if position.status != "open":
            continue
        market = state.markets[position.market]
        oi_side, oi_other = market.oi(position.side), market.oi(OTHER[position.side])
        locked += position.margin
        value += value_at_mark(position.notional, oi_side, oi_other)
        cost += position.cost_basis
        count += 1
    wallet = state.balance(wallet_account(account))
    mode = state.margin_modes.get(account, "isolated")
    locked += state.balance(pm_margin_account(account))  # a portfolio account's requirement lock
    return s.AccountView(
        account=account,
        margin_mode="portfolio" if mode == "portfolio" else "isolated",
        wallet_balance=format_usd(wallet),
        margin_locked=format_usd(locked),
        position_value=format_usd(value),
        unrealized_pnl=format_usd(value - cost),
        equity=format_usd(wallet + locked + value - cost),
        open_positions=count,
    )


# ---------------------------------------------------------------- journal events -> views


def liquidation_event(
    seq: int, time: int, event: ev.Liquidated, order_id: str | None = None
) -> s.LiquidationEvent:
    """``order_id`` is the order whose trade moved the price that triggered it (None when the
    clock, i.e. funding, did)."""
    price_a, price_b = _spot(event.oi_a, event.oi_b)
    return s.LiquidationEvent(
        txn_seq=seq,
        time=time,
        sim_time=time,
        order_id=order_id,
        account=event.account,
        position_id=event.position,
        market=event.market,
        side=str(event.side),
        notional=format_usd(event.notional),
        seized_margin=format_usd(event.seized_margin),
        mark_price=price(event.mark_num, event.mark_den),
        exit_proceeds=format_usd(event.exit_proceeds),
        bad_debt=format_usd(event.bad_debt),
        penalty_to_fund=format_usd(event.penalty_to_fund),
        price_a=price_a,
        price_b=price_b,
    )


def trade_event(
    seq: int, time: int, event: ev.Opened | ev.Closed, order_id: str | None = None
) -> s.Trade:
    notional = event.notional
    opened = isinstance(event, ev.Opened)
    amount = event.cost if isinstance(event, ev.Opened) else event.proceeds
    price_a, price_b = _spot(event.oi_a, event.oi_b)
    return s.Trade(
        txn_seq=seq,
        time=time,
        sim_time=time,
        order_id=order_id,
        market=event.market,
        action="open" if opened else "close",
        side=str(event.side),
        notional=format_usd(notional),
        average_price=price(amount, notional),
        fee=format_usd(event.fee),
        price_a=price_a,
        price_b=price_b,
    )


def _outcome(event: ev.Settled) -> str | None:
    return None if event.outcome is None else str(event.outcome)


def resolution_event(seq: int, time: int, event: ev.Settled) -> s.Resolution:
    return s.Resolution(
        txn_seq=seq,
        time=time,
        market=event.market,
        kind="void" if event.outcome is None else "resolve",
        outcome=_outcome(event),
        positions_settled=len(event.settlements),
        owed_to_winners=format_usd(event.owed_to_winners),
        fund_draw=format_usd(event.fund_draw),
        haircut_total=format_usd(event.haircut_total),
        bad_debt=format_usd(event.bad_debt),
        surplus_to_fund=format_usd(event.surplus_to_fund),
    )


def settlements_for(seq: int, time: int, event: ev.Settled, account: str) -> list[s.Settlement]:
    out = []
    for pid, record in sorted(event.settlements.items(), key=lambda kv: int(kv[0])):
        if record.get("account") != account:
            continue
        out.append(
            s.Settlement(
                txn_seq=seq,
                time=time,
                kind="void" if event.outcome is None else "resolve",
                market=event.market,
                outcome=_outcome(event),
                position_id=int(pid),
                payout=format_usd(int(record["payout"])),
                pnl=format_usd(int(record["pnl"])),
                haircut=format_usd(int(record.get("haircut", 0))),
                bad_debt=format_usd(int(record.get("bad_debt", 0))),
            )
        )
    return out


STREAM_TYPES = {
    "open": "trade",
    "close": "trade",
    "liquidation": "liquidation",
    "resolve": "resolution",
    "void": "resolution",
    "halt": "status",
    "resume": "status",
    "funding": "funding",
    "pm_liquidation": "account_liquidation",
}


def stream_event(
    market_seq: int,
    txn_seq: int,
    time: int,
    event: ev.Event,
    order_id: str | None = None,
) -> dict[str, Any]:
    """One stream delta. Every journalled transaction of a market is one event, so a market's
    events are numbered 1, 2, 3... with no holes, which is what lets a client detect a gap."""
    market = ev.market_of(event)
    if market is None:
        raise TypeError(f"a {type(event).__name__} event belongs to no market's stream")
    body: dict[str, Any]
    if isinstance(event, (ev.Opened, ev.Closed)):
        body = trade_event(txn_seq, time, event, order_id).model_dump()
    elif isinstance(event, ev.Liquidated):
        body = liquidation_event(txn_seq, time, event, order_id).model_dump()
    elif isinstance(event, ev.Settled):
        body = resolution_event(txn_seq, time, event).model_dump()
    elif isinstance(event, ev.PortfolioLiquidated):
        body = account_liquidation_event(txn_seq, time, event)
    elif isinstance(event, ev.FundingPaid):
        body = {
            "txn_seq": txn_seq,
            "time": time,
            "market": market,
            "rate": format_price(event.rate_ppm, 1_000_000),
            "payer_side": str(event.payer_side),
            "amount": format_usd(event.amount),
        }
    else:
        body = {"txn_seq": txn_seq, "time": time, "market": market}
        if isinstance(event, (ev.MarketHalted, ev.MarketResumed)):
            body["status"] = str(event.status)
    kind = ev.kind_of(event)
    return {
        "type": STREAM_TYPES.get(kind, "event"),
        "kind": kind,
        "market": market,
        "seq": market_seq,
        "data": body,
    }


def account_liquidation_event(
    txn_seq: int, time: int, event: ev.PortfolioLiquidated
) -> dict[str, Any]:
    """One position of a liquidated portfolio-mode account (one event per position)."""
    return {
        "txn_seq": txn_seq,
        "time": time,
        "market": event.market,
        "account": event.account,
        "position_id": event.position,
        "side": str(event.side),
        "notional": format_usd(event.notional),
        "exit_proceeds": format_usd(event.exit_proceeds),
        "mark_price": price(event.mark_num, event.mark_den),
        "locked_margin": format_usd(event.locked),
        "seized": format_usd(event.seized),
        "penalty_to_fund": format_usd(event.penalty_to_fund),
        "bad_debt": format_usd(event.bad_debt),
    }
