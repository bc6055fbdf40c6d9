"""A skew-leaning liquidity bot for a vAMM venue.

There is no book to quote into: the bot "makes" the market by taking the other side of skew.
When outcome A trades rich (price_A above 0.5 + band) it buys B, when it trades cheap it buys A,
sizing up with the distance from fair; it takes profit when the price has come back inside the
band. Every order carries a deterministic client_order_id, ``mm-<seed>-<n>``, so a retried
request can never double a position. At the end it reconciles its fills against the ledger
(joined by order_id, to the micro-dollar) and exits 1 on any mismatch.

    python examples/bots/market_maker.py --url http://127.0.0.1:8000 --key pxk_... --seed 7
"""

from __future__ import annotations

from decimal import Decimal

from common import client_for, parse_args, pick_market, price_a, reconcile, trade_rounds

from prophex.sdk import ProphexClient
from prophex.sdk.models import Order

BAND = Decimal("0.02")
FAIR = Decimal("0.5")


def step(
    client: ProphexClient, market: str, margin: Decimal, leverage: Decimal, placed: list[Order]
) -> None:
    price = price_a(client, market)
    skew = price - FAIR
    held = client.positions(market=market).items
    if abs(skew) <= BAND and held:
        for position in held:
            result = client.close_position(position.id)
            placed.append(result)
            print(f"  flattened {position.side}: pnl {result.realized_pnl} USD")
        return
    if abs(skew) <= BAND:
        print(f"  price_A {price}: inside the band, nothing to do")
        return
    side = "B" if skew > 0 else "A"
    scale = min(3, int(abs(skew) / BAND))
    size = margin * scale
    quote = client.quote(market, side, size, leverage)
    if not quote.accepted:
        print(f"  would be refused: {quote.rejection}")
        return
    fill = client.open_order(market, side, size, leverage, max_avg_price=quote.post_trade_price)
    placed.append(fill)
    print(f"  price_A {price}: bought {fill.notional} {side} at {fill.average_price}")


def main() -> None:
    args = parse_args("Skew-leaning market maker")
    placed: list[Order] = []
    with client_for("mm", args) as client:
        market = pick_market(client, args.market)
        print(f"making {market}; wallet {client.account().wallet_balance} USD")
        margin, leverage = Decimal(args.margin), Decimal(args.leverage)
        trade_rounds(args, lambda _n: step(client, market, margin, leverage, placed))
        account = client.account()
        print(f"done: equity {account.equity} USD, unrealised {account.unrealized_pnl} USD")
        reconcile(client, placed)


if __name__ == "__main__":
    main()
