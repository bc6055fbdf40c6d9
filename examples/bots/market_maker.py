"""A skew-leaning liquidity bot for a vAMM venue.

There is no book to quote into: the bot "makes" the market by taking the other side of skew.
When outcome A trades rich (price_A above 0.5 + band) it buys B, when it trades cheap it buys A,
sizing up with the distance from fair; it takes profit when the price has come back inside the
band. Every order carries a deterministic client_order_id, so a retried request can never
double a position.

    python examples/bots/market_maker.py --url http://127.0.0.1:8000 --key pxk_... --iterations 40
"""

from __future__ import annotations

import time
from decimal import Decimal

from common import parse_args, pick_market, price_a, trade_rounds

from prophex.client import ProphexClient

RUN = int(time.time())  # ids stay unique across restarts, and identical across retries

BAND = Decimal("0.02")
FAIR = Decimal("0.5")


def step(client: ProphexClient, market: str, round_no: int, margin: str, leverage: str) -> None:
    price = price_a(client, market)
    skew = price - FAIR
    held = client.positions(market=market).items
    if abs(skew) <= BAND and held:
        for position in held:
            result = client.close_position(
                position.id, client_order_id=f"mm-{RUN}-close-{round_no}-{position.id}"
            )
            print(f"  flattened {position.side}: pnl {result.realized_pnl} USD")
        return
    if abs(skew) <= BAND:
        print(f"  price_A {price}: inside the band, nothing to do")
        return
    side = "B" if skew > 0 else "A"
    scale = min(3, int(abs(skew) / BAND))
    size = str(Decimal(margin) * scale)
    quote = client.quote(market, side, size, leverage)
    if not quote.accepted:
        print(f"  would be refused: {quote.rejection}")
        return
    fill = client.open_order(
        market, side, size, leverage, max_avg_price=quote.post_trade_price,
        client_order_id=f"mm-{RUN}-open-{round_no}",
    )  # fmt: skip
    print(f"  price_A {price}: bought {fill.notional} {side} at {fill.average_price}")


def main() -> None:
    args = parse_args("Skew-leaning market maker")
    with ProphexClient(args.url, args.key) as client:
        market = pick_market(client, args.market)
        print(f"making {market}; wallet {client.account().wallet_balance} USD")
        trade_rounds(args, lambda n: step(client, market, n, args.margin, args.leverage))
        account = client.account()
        print(f"done: equity {account.equity} USD, unrealised {account.unrealized_pnl} USD")


if __name__ == "__main__":
    main()
