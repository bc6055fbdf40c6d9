"""Every SDK method whose endpoint exists on this server, called against a real server and
parsed into the SDK's own models (money as Decimal). The endpoints of issue 12 that the
server may not have yet (time, orders, fills, order lookups, key scopes, the private
channel) are exercised by test_sdk_account_stream.py and the example bots once it does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prophex.api.server import ServerProcess
from prophex.sdk import ProphexApiError, ProphexClient, models

pytestmark = pytest.mark.slow


def test_every_existing_endpoint_parses_into_sdk_models(sqlite_url: str) -> None:
    env = {"PROPHEX_RATE_LIMIT_PER_SECOND": "0"}
    with ServerProcess(sqlite_url, env=env) as server:
        admin = ProphexClient(server.url, admin_key=server.admin_key)
        assert admin.health().status == "ok"
        created = admin.admin_create_market(
            "ep", virtual_oi=Decimal(200), wallet_cap=Decimal(10000), question="q?"
        )
        assert created.market.virtual_oi == Decimal(200)
        admin.admin_create_market("ep-void")
        alice = admin.with_key(admin.create_account("alice").api_key)
        bob = admin.with_key(admin.create_account("bob").api_key)
        alice.deposit(1000)
        bob.deposit(5000)
        extra = alice.create_key("second")
        assert isinstance(extra, models.KeyCreated)
        assert {k.key_id for k in alice.keys().items} >= {extra.key_id}
        assert alice.revoke_key(extra.key_id).revoked_at is not None

        opened = alice.open_order("ep", "A", 100, 3)
        alice.open_order("ep-void", "B", 10, 2)
        assert alice.add_margin(opened.position_id, "10").margin == Decimal(110)
        pushed = bob.open_order("ep", "B", 1000, 3)
        assert pushed.liquidations and isinstance(pushed.liquidations[0].bad_debt, Decimal)
        assert alice.position(opened.position_id).status == "liquidated"
        assert len(alice.positions(status="all").items) == 2
        bob_position = bob.positions(market="ep").items[0]
        bob.close_position(bob_position.id, notional=100)

        assert admin.admin_halt("ep").market.status == "halted"
        assert admin.admin_resume("ep").market.status == "open"
        clock = admin.admin_advance_clock(60)
        assert clock.time == 60 and isinstance(clock.funding_payments, Decimal)
        changed = admin.admin_set_params({"fee_rate": "0.002"})
        assert changed.command_seq is not None and changed.params["fee_rate"] == "0.002"
        assert admin.admin_params().params == changed.params
        resolved = admin.admin_resolve("ep", "B")
        assert resolved.resolution is not None and resolved.market.status == "resolved"
        assert admin.admin_void("ep-void").market.status == "voided"

        assert [s.market for s in bob.settlements().items] == ["ep"]
        assert {s.kind for s in alice.settlements().items} == {"void"}
        ledger = alice.collect(alice.ledger, limit=2)  # several pages
        assert sum((e.amount for e in ledger if e.ledger_account.startswith("wallet:")),
                   Decimal(0)) == alice.account().wallet_balance  # fmt: skip
        public = ProphexClient(server.url)
        assert len(public.collect(public.trades, market="ep", limit=1)) == 3
        assert len(public.liquidations(market="ep").items) == 1
        assert public.resolutions(market="ep").items[0].outcome == "B"
        assert public.prices("ep").items[-1].price_a < Decimal("0.5")
        assert public.market("ep").settlement_price_a == Decimal(0)
        assert {m.id for m in public.collect(public.markets)} == {"ep", "ep-void"}
        fund = public.insurance_fund()
        assert fund.balance > 0 and isinstance(fund.coverage_ratio, Decimal)
        assert {f.direction for f in public.fund_flows().items} <= {"inflow", "draw"}
        with pytest.raises(ProphexApiError) as refused:
            alice.quote("ep", "A", 10, 2)
        assert (refused.value.status, refused.value.code) == (409, "MARKET_NOT_OPEN")
