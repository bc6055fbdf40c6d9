"""Shared plumbing for the example bots: arguments, deterministic ids, market choice, the
trading loop, logging of refusals, and the end-of-run reconciliation of fills against the
ledger."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from prophex.sdk import ProphexApiError, ProphexClient
from prophex.sdk.models import Fill, LedgerEntry, Order

TRADE_KINDS = ("open", "close", "pm_open", "pm_close")  # isolated and portfolio-mode trades


def parse_args(
    description: str, extra: Iterable[tuple[str, dict[str, Any]]] = (), **defaults: object
) -> argparse.Namespace:
    """The common options, the bot's ``extra`` ones (flag, argparse options), ``defaults``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="API base URL")
    parser.add_argument("--key", required=True, help="trading API key (POST /v1/accounts)")
    parser.add_argument("--market", default=None, help="market id (default: first open market)")
    parser.add_argument("--iterations", type=int, default=50, help="decision rounds to run")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument("--margin", default="5", help="USD margin per order")
    parser.add_argument("--leverage", default="2", help="leverage per order")
    parser.add_argument(
        "--seed",
        default="1",
        help="run seed: order ids are <bot>-<seed>-<n>, so a rerun with the same seed "
        "replays (never doubles) the orders of the first run; use a new seed for a new run",
    )
    for flag, options in extra:
        parser.add_argument(flag, **options)
    parser.set_defaults(**defaults)
    return parser.parse_args()


def client_for(bot: str, args: argparse.Namespace) -> ProphexClient:
    """A client whose generated ids are ``<bot>-<seed>-<n>``: deterministic, collision-free
    within a run, identical across retries of a call."""
    return ProphexClient(args.url, args.key, id_prefix=f"{bot}-{args.seed}")


def pick_market(client: ProphexClient, wanted: str | None) -> str:
    if wanted:
        return wanted
    page = client.markets(status="open", limit=1)
    if not page.items:
        sys.exit("no open market: ask the admin to create one (POST /v1/admin/markets)")
    return page.items[0].id


def price_a(client: ProphexClient, market: str) -> Decimal:
    return client.market(market).price_a


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


def mismatches(
    fills: Iterable[Fill],
    ledger: Iterable[LedgerEntry],
    placed: Iterable[Order] = (),
    streamed: Iterable[Fill] | None = None,
) -> list[str]:
    """Every disagreement between the fills, the ledger and what the bot saw, to the
    micro-dollar (empty list: all agree). The rules, joined by ``order_id``:

    * every ledger posting of an ``open``/``close``/``pm_open``/``pm_close`` transaction names
      its ``order_id``, and the sum of the postings of one order to this account's wallet,
      position and ``pm_margin`` accounts equals ``sum(realized_pnl) - sum(fee)`` of that
      order's fills (an open moves margin from the wallet to the position, or in portfolio
      mode the lock change to ``pm_margin``, so only its fee leaves the account);
    * the ``client_order_id`` of the fills and of the postings agree;
    * every order the bot had acknowledged has fills with the same total fee;
    * when given, the fills of the private stream are exactly those of ``GET /v1/fills``.
    """
    problems: list[str] = []
    fills = list(fills)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    fees: dict[str, Decimal] = defaultdict(Decimal)
    client_ids: dict[str, str | None] = {}
    for fill in fills:
        expected[fill.order_id] += (fill.realized_pnl or Decimal(0)) - fill.fee
        fees[fill.order_id] += fill.fee
        client_ids[fill.order_id] = fill.client_order_id
    posted: dict[str, Decimal] = defaultdict(Decimal)
    for entry in ledger:
        if entry.kind not in TRADE_KINDS:
            continue
        if entry.order_id is None:
            problems.append(
                f"ledger txn {entry.txn_seq}.{entry.idx} ({entry.kind}) has no order_id"
            )
            continue
        posted[entry.order_id] += entry.amount
        if client_ids.get(entry.order_id, entry.client_order_id) != entry.client_order_id:
            problems.append(f"order {entry.order_id}: client_order_id differs in the ledger")
    for order_id in sorted(set(expected) | set(posted)):
        if expected.get(order_id) != posted.get(order_id):
            problems.append(
                f"order {order_id}: fills say {expected.get(order_id)}, "
                f"ledger says {posted.get(order_id)}"
            )
    for order in placed:
        if order.order_id is None or fees.get(order.order_id) != order.fee:
            problems.append(f"acknowledged order {order.order_id}: fee {order.fee} not in fills")
    if streamed is not None:
        mine = sorted((f.fill_id, f.order_id, f.fee, f.notional) for f in streamed)
        theirs = sorted((f.fill_id, f.order_id, f.fee, f.notional) for f in fills)
        if mine != theirs:
            problems.append(f"private stream fills {len(mine)} != GET /v1/fills {len(theirs)}")
    return problems


def reconcile(
    client: ProphexClient, placed: Iterable[Order] = (), streamed: Iterable[Fill] | None = None
) -> None:
    """Fetch every fill and ledger posting, check :func:`mismatches`; exit 1 on any."""
    fills = client.collect(client.fills, limit=500)
    ledger = client.collect(client.ledger, limit=500)
    problems = mismatches(fills, ledger, placed, streamed)
    for problem in problems:
        print(f"  MISMATCH {problem}")
    if problems:
        sys.exit(1)
    print(f"reconciled: {len(fills)} fills agree with the ledger to the micro-dollar")
