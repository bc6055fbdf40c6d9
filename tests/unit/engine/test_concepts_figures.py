"""Figures of docs/concepts.md that no other test pinned: the rest of the W1 table, the demo
cascade (order and liquidation prices) and the demo skew (fund exposure per outcome), and the
cap refusal example. Every figure is asserted at the precision the page prints."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from prophex.engine.commands import Close, CreateMarket, Deposit, Open
from prophex.engine.exchange import Exchange
from prophex.errors import WalletCapExceeded
from prophex.money import MICRO, format_usd
from prophex.params import profile
from prophex.simulation.demo import run_demo

USD = MICRO


def test_w1_table_bob_pays_and_alice_receives() -> None:
    exchange = Exchange.create(profile("launch", max_leverage=25, wallet_cap=10_000, fee_rate=0))
    exchange.apply(CreateMarket(market="m"))
    for name in ("alice", "bob"):
        exchange.apply(Deposit(name, 10_000 * USD))
    alice = exchange.apply(Open("alice", "m", "A", 300 * USD, 500)).result
    assert format_usd(alice.cost) == "801.190289"
    bob = exchange.apply(Open("bob", "m", "B", 200 * USD, 300)).result
    assert format_usd(bob.cost) == "269.420288"
    closed = exchange.apply(Close("alice", alice.position_id)).result
    assert format_usd(closed.proceeds) == "758.831871"
    assert format_usd(closed.realized_pnl) == "-42.358418"


def test_cap_refusal_names_cap_used_and_headroom() -> None:
    exchange = Exchange.create(profile("launch", fee_rate=0))  # fees would grow the cap
    exchange.apply(CreateMarket(market="m"))
    exchange.apply(Deposit("w", 10_000 * USD))
    exchange.apply(Open("w", "m", "A", 300 * USD, 300))  # 900 of the 1,000 wallet cap
    with pytest.raises(WalletCapExceeded) as refused:
        exchange.apply(Open("w", "m", "A", 50 * USD, 300))
    details = refused.value.details
    assert (details["cap"], details["used"], details["headroom"]) == ("1000", "900", "100")


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = Path(tmp_path_factory.mktemp("demo")) / "demo.db"
    buffer = io.StringIO()
    assert run_demo(path, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def test_demo_cascade_order_and_liquidation_prices(demo_output: str) -> None:
    """docs: erin (10x, 0.4649), then frank (4x, 0.3434), then carol (5x, 0.3234)."""
    liquidated = re.findall(r"liquidated (\w+) \(position", demo_output)
    assert liquidated == ["erin", "frank", "carol"]
    for name, lev, price in (("erin", "10x", "0.4649"), ("frank", "4x", "0.3434"),
                             ("carol", "5x", "0.3234")):  # fmt: skip
        row = re.search(rf"{name}\s*│[^\n]*│\s*{lev}\s*│[^\n]*│\s*({price}\d*)\s*│", demo_output)
        assert row is not None, name


def test_demo_skew_fund_exposure(demo_output: str) -> None:
    """docs: if B wins the fund pays 0; had A won it would have paid 15,172.25 USD."""
    a_wins = re.search(r"if A wins:.*shortfall ([\d.]+)", demo_output)
    assert a_wins is not None
    assert Decimal(a_wins.group(1)).quantize(Decimal("0.01")) == Decimal("15172.25")
    assert re.search(r"if B wins:.*shortfall 0\b", demo_output)
    assert "the insurance fund paid 0 USD" in " ".join(demo_output.split())
