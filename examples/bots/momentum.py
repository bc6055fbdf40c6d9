"""A momentum trader: follow the recent move of price_A, exit on reversal or after a while.

It samples the spot price each round; when the last ``lookback`` samples moved more than
``threshold`` it opens with the move (with a worst-price bound from a fresh quote), and it
closes when the move reverses or the position is older than ``hold`` rounds. Orders carry
deterministic client_order_ids, and a lost response is reconciled with GET /v1/orders/{id}
rather than by sending a new order.

    python examples/bots/momentum.py --url http://127.0.0.1:8000 --key pxk_... --iterations 40
"""

from __future__ import annotations

import time
from collections import deque
from decimal import Decimal

from common import parse_args, pick_market, price_a, trade_rounds

from prophex.client import ProphexClient

RUN = int(time.time())  # ids stay unique across restarts, and identical across retries

LOOKBACK = 3
THRESHOLD = Decimal("0.002")
HOLD = 8


def main() -> None:
    args = parse_args("Momentum trader")
    with ProphexClient(args.url, args.key) as client:
        market = pick_market(client, args.market)
        prices: deque[Decimal] = deque(maxlen=LOOKBACK + 1)
        opened_at: dict[int, int] = {}

        def play(round_no: int) -> bool:
            prices.append(price_a(client, market))
            if len(prices) <= LOOKBACK:
                return False  # still sampling: the next round follows at once
            move = prices[-1] - prices[0]
            for position in client.positions(market=market).items:
                age = round_no - opened_at.setdefault(position.id, round_no)
                against = (move < 0) if position.side == "A" else (move > 0)
                if against or age >= HOLD:
                    closed = client.close_position(
                        position.id, client_order_id=f"mom-{RUN}-close-{round_no}-{position.id}"
                    )
                    print(f"  closed {position.side}: pnl {closed.realized_pnl} USD")
            if abs(move) > THRESHOLD:
                side = "A" if move > 0 else "B"
                quote = client.quote(market, side, args.margin, args.leverage)
                if quote.accepted:
                    fill = client.open_order(
                        market, side, args.margin, args.leverage,
                        max_avg_price=quote.post_trade_price,
                        client_order_id=f"mom-{RUN}-open-{round_no}",
                    )  # fmt: skip
                    print(f"  move {move:+.6f}: bought {fill.notional} {side}")
            return True

        trade_rounds(args, play)
        account = client.account()
        print(f"done: equity {account.equity} USD, realised+unrealised tracked in the ledger")


if __name__ == "__main__":
    main()
