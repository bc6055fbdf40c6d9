"""A momentum trader: follow the recent move of price_A, exit on reversal or after a while.

It samples the spot price each round; when the last ``lookback`` samples moved more than
``threshold`` it opens with the move (with a worst-price bound from a fresh quote), and it
closes when the move reverses or the position is older than ``hold`` rounds. Orders carry
deterministic client_order_ids (``mom-<seed>-<n>``). An order whose answer is lost (the
connection fails even after the SDK's retries) is looked up with
``GET /v1/orders/by-client-id/{client_order_id}`` instead of being sent again. At the end the
bot lists its orders (``GET /v1/orders``), reconciles its fills against the ledger (joined by
order_id, to the micro-dollar) and exits 1 on any mismatch.

    python examples/bots/momentum.py --url http://127.0.0.1:8000 --key pxk_... --seed 7
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

import httpx
from common import client_for, parse_args, pick_market, price_a, reconcile, trade_rounds

from prophex.sdk import ProphexApiError, ProphexClient
from prophex.sdk.models import Order

LOOKBACK = 3
THRESHOLD = Decimal("0.002")
HOLD = 8


def placed_or_found(
    client: ProphexClient, send: Callable[[str], Order], client_order_id: str
) -> Order | None:
    """``send(client_order_id)``; if its answer is lost, the server's record of it (None when
    the order never arrived, so nothing happened)."""
    try:
        return send(client_order_id)
    except httpx.TransportError:
        try:
            return client.order_by_client_id(client_order_id)
        except ProphexApiError as error:
            if error.status == 404:
                return None
            raise


def main() -> None:
    args = parse_args("Momentum trader")
    placed: list[Order] = []
    with client_for("mom", args) as client:
        market = pick_market(client, args.market)
        prices: deque[Decimal] = deque(maxlen=LOOKBACK + 1)
        opened_at: dict[int, int] = {}
        margin, leverage = Decimal(args.margin), Decimal(args.leverage)

        def play(round_no: int) -> bool:
            prices.append(price_a(client, market))
            if len(prices) <= LOOKBACK:
                return False  # still sampling: the next round follows at once
            move = prices[-1] - prices[0]
            for position in client.positions(market=market).items:
                age = round_no - opened_at.setdefault(position.id, round_no)
                against = (move < 0) if position.side == "A" else (move > 0)
                if against or age >= HOLD:
                    pid = position.id

                    def close(cid: str, pid: int = pid) -> Order:
                        return client.close_position(pid, client_order_id=cid)

                    closed = placed_or_found(client, close, client.next_id())
                    if closed is not None:
                        placed.append(closed)
                        print(f"  closed {position.side}: pnl {closed.realized_pnl} USD")
            if abs(move) > THRESHOLD:
                side = "A" if move > 0 else "B"
                quote = client.quote(market, side, margin, leverage)
                if quote.accepted:
                    bound = quote.post_trade_price
                    fill = placed_or_found(
                        client,
                        lambda cid: client.open_order(
                            market,
                            side,
                            margin,
                            leverage,
                            max_avg_price=bound,
                            client_order_id=cid,
                        ),
                        client.next_id(),
                    )
                    if fill is not None:
                        placed.append(fill)
                        print(f"  move {move:+.6f}: bought {fill.notional} {side}")
            return True

        trade_rounds(args, play)
        account = client.account()
        orders = client.collect(client.orders, market=market, limit=500)
        print(f"done: {len(orders)} orders, equity {account.equity} USD")
        reconcile(client, placed)


if __name__ == "__main__":
    main()
