"""Seeded generators of realistic user-form command sequences for the integration tests.

The generator drives an in-memory :class:`~prophex.engine.exchange.Exchange` while it writes, so
closes and margin top-ups refer to positions that really exist at that point (position ids are
assigned by the engine), and markets are resolved, voided and replaced as the run goes. A few
commands are deliberately invalid for the engine (unknown position, halted market, leverage over
the maximum) so rejections are part of every run. The output is plain user-form dicts: what a
command file or an API client would send.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

from prophex.engine.commands import parse_user_command
from prophex.engine.exchange import Exchange
from prophex.errors import ProphexError
from prophex.params import Params, profile

ACCOUNTS = [f"acct{i:02d}" for i in range(12)]


def stress_params() -> Params:
    """High leverage (liquidations), raised caps, fees on, funding every 30 minutes."""
    return profile(
        "launch",
        max_leverage=25,
        wallet_cap=20_000,
        market_oi_cap=1_000_000,
        if_seed=50_000,
        funding_interval_seconds=1_800,
        funding_k="0.01",
        funding_max_rate="0.002",
    )


def _usd(rng: random.Random, low: int, high: int) -> str:
    """A USD amount as a decimal string with up to 6 decimals."""
    return f"{rng.randint(low * 1_000_000, high * 1_000_000) / 1_000_000:.6f}"


class CommandGenerator:
    def __init__(self, seed: int, params: Params) -> None:
        self.rng = random.Random(seed)
        self.exchange = Exchange.create(params)
        self.max_leverage = int(params.max_leverage)
        self.market_counter = 0
        self.commands: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ bookkeeping

    def emit(self, body: dict[str, Any]) -> None:
        self.commands.append(body)
        # A rejection changes nothing; the command stays in the file on purpose.
        with contextlib.suppress(ProphexError):
            self.exchange.apply(parse_user_command(body))

    @property
    def state(self) -> Any:
        return self.exchange.state

    def markets(self, *statuses: str, kind: str | None = None) -> list[str]:
        return sorted(
            m.id
            for m in self.state.markets.values()
            if m.status in statuses and (kind is None or m.kind == kind)
        )

    def open_positions(self) -> list[Any]:
        return sorted(
            (p for p in self.state.positions.values() if p.status == "open"), key=lambda p: p.id
        )

    def new_market(self, kind: str = "prediction") -> None:
        self.market_counter += 1
        body: dict[str, Any] = {"type": "create_market", "market": f"m{self.market_counter}"}
        if kind == "perpetual":
            body["market"] = f"perp{self.market_counter}"
            body["kind"] = "perpetual"
        elif self.rng.random() < 0.3:
            body["virtual_oi"] = str(self.rng.choice([1_000, 2_500, 10_000]))
        self.emit(body)

    # ------------------------------------------------------------------ generation

    def generate(self, count: int) -> list[dict[str, Any]]:
        rng = self.rng
        for account in ACCOUNTS:
            self.emit({"type": "deposit", "account": account, "amount": _usd(rng, 2_000, 8_000)})
        for _ in range(3):
            self.new_market()
        self.new_market("perpetual")
        actions = [
            (self.act_open, 40),
            (self.act_close, 18),
            (self.act_add_margin, 7),
            (self.act_deposit, 8),
            (self.act_withdraw, 3),
            (self.act_clock, 7),
            (self.act_halt_resume, 4),
            (self.act_settle, 3),
            (self.act_invalid, 3),
        ]
        funcs = [f for f, _ in actions]
        weights = [w for _, w in actions]
        while len(self.commands) < count:
            rng.choices(funcs, weights)[0]()
        return self.commands[:count]

    def act_open(self) -> None:
        rng = self.rng
        markets = self.markets("open")
        if not markets:
            self.new_market()
            return
        leverage: Any = rng.choice([1, 2, 3, "2.5", 5, 10, 20, self.max_leverage])
        body: dict[str, Any] = {
            "type": "open",
            "account": rng.choice(ACCOUNTS),
            "market": rng.choice(markets),
            "side": rng.choice("AB"),
            "margin": _usd(rng, 5, 250),
            "leverage": leverage,
        }
        if rng.random() < 0.05:
            body["max_avg_price"] = rng.choice(["0.2", "0.5", "0.8"])
        self.emit(body)

    def act_close(self) -> None:
        rng = self.rng
        positions = self.open_positions()
        if not positions:
            self.act_open()
            return
        position = rng.choice(positions)
        body: dict[str, Any] = {
            "type": "close",
            "account": position.account,
            "position_id": position.id,
        }
        if rng.random() < 0.4 and position.notional > 4_000_000:
            part = rng.randint(1_000_000, position.notional - 1_000_000)
            body["notional"] = f"{part / 1_000_000:.6f}"
        self.emit(body)

    def act_add_margin(self) -> None:
        positions = self.open_positions()
        if not positions:
            self.act_open()
            return
        position = self.rng.choice(positions)
        self.emit(
            {
                "type": "add_margin",
                "account": position.account,
                "position_id": position.id,
                "amount": _usd(self.rng, 1, 60),
            }
        )

    def act_deposit(self) -> None:
        self.emit(
            {
                "type": "deposit",
                "account": self.rng.choice(ACCOUNTS),
                "amount": _usd(self.rng, 50, 2_000),
            }
        )

    def act_withdraw(self) -> None:
        self.emit(
            {
                "type": "withdraw",
                "account": self.rng.choice(ACCOUNTS),
                "amount": _usd(self.rng, 10, 500),
            }
        )

    def act_clock(self) -> None:
        self.emit({"type": "advance_clock", "seconds": self.rng.randint(300, 7_200)})

    def act_halt_resume(self) -> None:
        halted = self.markets("halted")
        if halted and self.rng.random() < 0.7:
            self.emit({"type": "resume", "market": self.rng.choice(halted)})
            return
        markets = self.markets("open")
        if markets:
            self.emit({"type": "halt", "market": self.rng.choice(markets)})

    def act_settle(self) -> None:
        rng = self.rng
        settleable = self.markets("open", "halted")
        if not settleable:
            self.new_market()
            return
        market = rng.choice(settleable)
        if self.state.markets[market].kind == "perpetual":
            self.emit({"type": "void", "market": market})
            self.new_market("perpetual")
            return
        outcome = rng.choice(["A", "A", "B", "B", "UNKNOWN", "void"])
        if outcome == "void":
            self.emit({"type": "void", "market": market})
        else:
            self.emit({"type": "resolve", "market": market, "outcome": outcome})
        self.new_market()

    def act_invalid(self) -> None:
        """Commands the engine rejects (the file stays valid)."""
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            self.emit({"type": "close", "account": rng.choice(ACCOUNTS), "position_id": 999_999})
        elif choice == 1:
            markets = self.markets("resolved", "voided")
            market = markets[0] if markets else "no-such-market"
            self.emit(
                {
                    "type": "open",
                    "account": rng.choice(ACCOUNTS),
                    "market": market,
                    "side": "A",
                    "margin": "10",
                    "leverage": 2,
                }
            )
        elif choice == 2:
            markets = self.markets("open") or ["m1"]
            self.emit(
                {
                    "type": "open",
                    "account": rng.choice(ACCOUNTS),
                    "market": markets[0],
                    "side": "B",
                    "margin": "10",
                    "leverage": self.max_leverage + 5,
                }
            )
        else:
            self.emit({"type": "withdraw", "account": rng.choice(ACCOUNTS), "amount": "1000000"})


def generate_commands(seed: int, count: int, params: Params) -> list[dict[str, Any]]:
    """``count`` user-form commands, the same for the same seed and parameters."""
    return CommandGenerator(seed, params).generate(count)


def write_jsonl(path: Path, commands: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in commands))
    return path
