"""A bot's life against a real uvicorn server, on SQLite and on PostgreSQL.

Every figure the API returns is checked to the micro-dollar against an in-memory
:class:`~prophex.engine.exchange.Exchange` fed the same commands, and the server's database
is audited afterwards (journal replay, hashes, invariants) and must reach the same digest.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine

from prophex.api.server import ServerProcess
from prophex.audit.replay import audit_database
from prophex.client import ProphexApiError, ProphexClient
from prophex.engine.commands import parse_user_command
from prophex.engine.events import INSURANCE_FUND, Receipt, wallet_account
from prophex.engine.exchange import Exchange
from prophex.engine.state import digest
from prophex.ledger.store import Store
from prophex.money import format_price, format_usd, parse_usd
from prophex.params import profile

pytestmark = pytest.mark.slow
ENV = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}
MARKET = "e2e-binary"


class Replay:
    """The reference: the same user-form commands applied to a fresh in-memory engine."""

    def __init__(self) -> None:
        self.exchange = Exchange.create(profile("launch"))
        self.last: Receipt | None = None

    def apply(self, **body: Any) -> Any:
        self.last = self.exchange.apply(parse_user_command(body))
        return self.last.result

    def wallet(self, account: str) -> str:
        return format_usd(self.exchange.state.balance(wallet_account(account)))


def test_bot_lifecycle_settles_to_the_micro_dollar(db_url: str) -> None:
    replay = Replay()
    with ServerProcess(db_url, env=ENV) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        admin.admin_create_market(
            MARKET, question="Does the e2e pass?", cluster="tests", virtual_oi="500",
            wallet_cap="10000", market_oi_cap="100000",
        )  # fmt: skip
        replay.apply(
            type="create_market", market=MARKET, question="Does the e2e pass?", cluster="tests",
            virtual_oi="500", wallet_cap="10000", market_oi_cap="100000",
        )  # fmt: skip

        alice_acct = admin.create_account("alice")
        bob_acct = admin.create_account("bob")
        alice = ProphexClient(server.url, alice_acct.api_key)
        bob = ProphexClient(server.url, bob_acct.api_key)
        a, b = alice_acct.account, bob_acct.account

        assert str(alice.deposit("1000").wallet_balance) == "1000"
        replay.apply(type="deposit", account=a, amount="1000")
        assert str(bob.deposit("5000").wallet_balance) == "5000"
        replay.apply(type="deposit", account=b, amount="5000")

        # Quote: priced from the engine's own plan, nothing changes.
        quote = alice.quote(MARKET, "A", "100", "3")
        plan = replay.exchange.plan_open(
            parse_user_command(
                {"type": "open", "account": a, "market": MARKET, "side": "A",
                 "margin": "100", "leverage": "3"}
            ),  # type: ignore[arg-type]
            enforce=False,
        )  # fmt: skip
        assert str(quote.notional) == "300"
        assert str(quote.cost) == format_usd(plan.cost)
        assert str(quote.fee) == format_usd(plan.fee) == "0.3"
        assert str(quote.average_price) == format_price(plan.cost, plan.notional)
        assert str(quote.pre_trade_price) == "0.500000"
        assert str(quote.post_trade_price) == format_price(800, 1300)
        assert str(quote.liquidation_price) == format_price(plan.cost - 100_000_000, 300_000_000)
        assert quote.accepted and quote.rejection is None
        assert str(alice.account().wallet_balance) == "1000"

        # Open with a client_order_id, retry it: one position, the original result.
        opened = alice.open_order(MARKET, "A", "100", "3", client_order_id="alice-1")
        expected = replay.apply(
            type="open", account=a, market=MARKET, side="A", margin="100", leverage="3",
            client_order_id="alice-1",
        )  # fmt: skip
        assert str(opened.cost) == format_usd(expected.cost) == str(quote.cost)
        assert not opened.duplicate
        again = alice.open_order(MARKET, "A", "100", "3", client_order_id="alice-1")
        assert again.duplicate and again.command_seq == opened.command_seq
        assert again.cost == opened.cost
        lookup = alice.order_by_client_id("alice-1")
        assert (lookup.kind, lookup.command_seq) == ("open", opened.command_seq)
        assert lookup.average_price == opened.average_price
        assert lookup.order_id == f"o-{opened.command_seq}"
        with pytest.raises(ProphexApiError) as never:
            alice.order_by_client_id("never-sent")
        assert never.value.status == 404
        with pytest.raises(ProphexApiError) as conflict:
            alice.open_order(MARKET, "A", "90", "3", client_order_id="alice-1")
        assert conflict.value.status == 409
        assert conflict.value.code == "DUPLICATE_CLIENT_ORDER_ID"
        position_id = opened.position_id

        # Partial close, then add margin.
        closed = alice.close_position(position_id, notional="100", client_order_id="alice-2")
        expected = replay.apply(
            type="close", account=a, position_id=position_id, notional="100",
            client_order_id="alice-2",
        )  # fmt: skip
        assert str(closed.proceeds) == format_usd(expected.proceeds)
        assert str(closed.realized_pnl) == format_usd(expected.realized_pnl)
        assert str(closed.remaining_notional) == "200"
        added = alice.add_margin(position_id, "10")
        expected = replay.apply(type="add_margin", account=a, position_id=position_id, amount="10")
        assert str(added.margin) == format_usd(expected.margin)
        assert str(alice.account().wallet_balance) == replay.wallet(a)

        # A failing check names itself, with the exact figures.
        with pytest.raises(ProphexApiError) as refused:
            alice.withdraw("100000")
        assert refused.value.code == "INSUFFICIENT_BALANCE"
        assert refused.value.problem["required"] == "100000"
        assert refused.value.problem["available"] == replay.wallet(a)

        # Bob's flow drives A's price through Alice's liquidation price.
        pushed = bob.open_order(MARKET, "B", "1000", "3", client_order_id="bob-1")
        expected = replay.apply(
            type="open", account=b, market=MARKET, side="B", margin="1000", leverage="3",
            client_order_id="bob-1",
        )  # fmt: skip
        assert str(pushed.cost) == format_usd(expected.cost)
        assert len(pushed.liquidations) == 1
        liquidated = alice.position(position_id)
        assert liquidated.status == "liquidated"
        engine_position = replay.exchange.state.positions[position_id]
        assert engine_position.status == "liquidated"
        assert str(liquidated.realized_pnl) == format_usd(engine_position.realized_pnl)
        assert replay.last is not None
        (liquidation,) = [t.data for t in replay.last.transactions if t.kind == "liquidation"]
        assert str(pushed.liquidations[0].seized_margin) == format_usd(liquidation["seized_margin"])
        assert str(pushed.liquidations[0].exit_proceeds) == format_usd(liquidation["exit_proceeds"])
        feed = ProphexClient(server.url).liquidations(market=MARKET)
        assert [item.txn_seq for item in feed.items] == [pushed.liquidations[0].txn_seq]

        # Alice comes back on B; time passes; the market resolves B.
        alice.open_order(MARKET, "B", "50", "2", client_order_id="alice-3")
        replay.apply(
            type="open", account=a, market=MARKET, side="B", margin="50", leverage="2",
            client_order_id="alice-3",
        )  # fmt: skip
        assert admin.admin_advance_clock(3600).time == 3600
        replay.apply(type="advance_clock", seconds=3600)
        resolved = admin.admin_resolve(MARKET, "B")
        expected = replay.apply(type="resolve", market=MARKET, outcome="B")
        assert resolved.market.status == "resolved"
        assert str(resolved.market.settlement_price_a) == "0.000000"
        assert resolved.resolution is not None
        assert str(resolved.resolution.owed_to_winners) == format_usd(expected.owed_to_winners)

        # Settlements received, exactly as the engine paid them.
        resolve_txn = next(
            t for t in replay.exchange.state.positions.values() if t.account == a and t.side == "B"
        )
        alice_settlements = alice.settlements().items
        assert [s.position_id for s in alice_settlements] == [resolve_txn.id]
        assert str(alice_settlements[0].pnl) == format_usd(resolve_txn.realized_pnl)
        bob_settlements = bob.settlements().items
        assert len(bob_settlements) == 1 and bob_settlements[0].market == MARKET
        for client, account in ((alice, a), (bob, b)):
            view = client.account()
            assert str(view.wallet_balance) == replay.wallet(account)
            assert str(view.margin_locked) == "0" and view.open_positions == 0
        fund = ProphexClient(server.url).insurance_fund()
        assert str(fund.balance) == format_usd(replay.exchange.state.balance(INSURANCE_FUND))

        # History survives resolution.
        history = ProphexClient(server.url).prices(MARKET)
        assert history.status == "resolved" and len(history.items) >= 4
        ledger = alice.ledger(limit=500).items
        total = sum(
            parse_usd(str(abs(x.amount))) * (-1 if x.amount < 0 else 1)
            for x in ledger
            if x.ledger_account == f"wallet:{a}"
        )
        assert format_usd(total) == replay.wallet(a)

        # Settling twice is refused; nothing changed.
        with pytest.raises(ProphexApiError) as twice:
            admin.admin_resolve(MARKET, "A")
        assert twice.value.code == "MARKET_NOT_OPEN"

    engine = create_engine(db_url)
    try:
        report = audit_database(engine)
        assert report.ok, report.violations
        assert report.stored_digest == digest(replay.exchange.state)
        stored = Store(engine).load_state()
        assert stored.balance(wallet_account(a)) == replay.exchange.state.balance(wallet_account(a))
    finally:
        engine.dispose()
