"""Shared plumbing for the example bots: arguments, market choice, the trading loop, logging
of refusals."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from decimal import Decimal

from prophex.client import ProphexApiError, ProphexClient


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="API base URL")
    parser.add_argument("--key", required=True, help="trading API key (POST /v1/accounts)")
    parser.add_argument("--market", default=None, help="market id (default: first open market)")
    parser.add_argument("--iterations", type=int, default=50, help="decision rounds to run")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument("--margin", default="5", help="USD margin per order")
    parser.add_argument("--leverage", default="2", help="leverage per order")
    return parser.parse_args()


def pick_market(client: ProphexClient, wanted: str | None) -> str:
    if wanted:
        return wanted
    page = client.markets(status="open", limit=1)
    if not page.items:
        sys.exit("no open market: ask the admin to create one (POST /v1/admin/markets)")
    return page.items[0].id


def price_a(client: ProphexClient, market: str) -> Decimal:
    return Decimal(client.market(market).price_a)


def report(error: ProphexApiError) -> None:
    """Refusals are part of trading: print the failing check and carry on."""
    figures = {k: v for k, v in error.problem.items() if k not in {"type", "title", "instance"}}
    print(f"  refused: {error.code} {figures}")


def trade_rounds(args: argparse.Namespace, play: Callable[[int], bool | None]) -> None:
    """Run ``play(round_no)`` for ``args.iterations`` rounds, ``args.interval`` seconds apart.

    A refusal is reported and trading goes on, unless the market is no longer open. A round
    that returns False was only warming up: the next one follows without waiting.
    """
    for round_no in range(args.iterations):
        try:
            if play(round_no) is False:
                continue
        except ProphexApiError as error:
            report(error)
            if error.code == "MARKET_NOT_OPEN":
                break
        time.sleep(args.interval)
