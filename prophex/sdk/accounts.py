"""Account endpoints: the account, its money, its history, its keys."""

from __future__ import annotations

from typing import Any

from prophex.sdk import models as m
from prophex.sdk.transport import Call, Money, Transport, money, paged, read


class AccountEndpoints(Transport):
    """The account of the client's key: balances, deposits, withdrawals, history, keys."""

    async def create_account(self, label: str = "") -> m.AccountCreated:
        """Create an account; the returned ``api_key`` is shown once. Not retried once sent."""
        return await self.send(
            Call("POST", "/v1/accounts", m.AccountCreated, "none", {"label": label})
        )

    async def account(self) -> m.AccountView:
        """Balances, margin locked, unrealised PnL, equity."""
        return await self.send(read("/v1/account", m.AccountView, "key"))

    async def deposit(self, amount: Money, idempotency_key: str | None = None) -> m.BalanceChange:
        """Credit simulated collateral."""
        body = {"amount": money(amount)}
        return await self.send(
            self._mutation("POST", "/v1/account/deposit", m.BalanceChange, body, idempotency_key)
        )

    async def withdraw(self, amount: Money, idempotency_key: str | None = None) -> m.BalanceChange:
        """Withdraw free collateral (needs the ``withdraw`` scope)."""
        body = {"amount": money(amount)}
        return await self.send(
            self._mutation("POST", "/v1/account/withdraw", m.BalanceChange, body, idempotency_key)
        )

    async def ledger(self, cursor: str | None = None, limit: int = 100) -> m.LedgerPage:
        """Postings to the wallet and position margin accounts, oldest first; each names the
        ``order_id``/``client_order_id`` that caused it."""
        return await self.send(
            read("/v1/account/ledger", m.LedgerPage, "key", paged(cursor, limit))
        )

    async def settlements(self, cursor: str | None = None, limit: int = 100) -> m.SettlementPage:
        """What resolutions and voids paid this account's positions."""
        return await self.send(
            read("/v1/account/settlements", m.SettlementPage, "key", paged(cursor, limit))
        )

    async def keys(self) -> m.KeyList:
        """This account's API keys (never the secrets)."""
        return await self.send(read("/v1/account/keys", m.KeyList, "key"))

    async def create_key(
        self,
        label: str = "",
        scopes: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> m.KeyCreated:
        """Issue another key; ``scopes`` among ``"read"``, ``"trade"``, ``"withdraw"``
        (omitted: the server's default)."""
        body: dict[str, Any] = {"label": label}
        if scopes is not None:
            body["scopes"] = list(scopes)
        return await self.send(
            self._mutation("POST", "/v1/account/keys", m.KeyCreated, body, idempotency_key)
        )

    async def revoke_key(self, key_id: str) -> m.KeyInfo:
        """Revoke a key of this account (repeatable)."""
        call = Call("DELETE", f"/v1/account/keys/{key_id}", m.KeyInfo, "key", safe=True)
        return await self.send(call)
