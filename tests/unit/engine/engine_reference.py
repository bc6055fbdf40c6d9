"""An independent reference model of the exchange, written from docs/concepts.md alone.

It shares no code with ``prophex.engine``: prices are exact ``Fraction`` values, the curve
integral is evaluated with 60-digit ``Decimal`` logarithms, and every rounding is written out
where the docs state it (``ceil``/``floor`` on a ``Fraction``). The stateful machine mirrors
each command the engine accepts and compares balances, open interest and positions after
every step; a flipped rounding direction or a skipped liquidation shows up as a difference.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction

from prophex.params import Params

CTX = Context(prec=60)
FUND = "insurance_fund"
TREASURY = "treasury"


def ceil(value: Fraction) -> int:
    return math.ceil(value)


def floor(value: Fraction) -> int:
    return math.floor(value)


def curve_integral(oi_side: int, oi_other: int, delta: int) -> Decimal:
    """``integral of OI_X / (OI_X + OI_O)`` as OI_X goes from ``oi_side`` to
    ``oi_side + delta``: ``delta - OI_O * ln((S + delta) / S)``."""
    total = Decimal(oi_side + oi_other)
    ratio = CTX.divide(total + delta, total)
    return CTX.subtract(Decimal(delta), CTX.multiply(Decimal(oi_other), CTX.ln(ratio)))


def open_cost(oi_side: int, oi_other: int, notional: int) -> int:
    """docs: cost = N - OI_O ln((S + N)/S), rounded up."""
    return int(curve_integral(oi_side, oi_other, notional).to_integral_value("ROUND_CEILING"))


def close_proceeds(oi_side: int, oi_other: int, notional: int) -> int:
    """docs: proceeds = N - OI_O ln(S/(S - N)), rounded down (the mirror of an open)."""
    value = -curve_integral(oi_side, oi_other, -notional)
    return int(value.to_integral_value("ROUND_FLOOR"))


def largest_remainder(total: int, weights: list[tuple[int, int]]) -> dict[int, int]:
    """docs: pro rata, floor shares, leftovers to the largest remainders (ties by key)."""
    weight_sum = sum(w for _, w in weights)
    if total <= 0 or weight_sum <= 0:
        return {k: 0 for k, _ in weights}
    exact = {k: Fraction(total * w, weight_sum) for k, w in weights}
    shares = {k: floor(v) for k, v in exact.items()}
    order = sorted(weights, key=lambda kw: (-(exact[kw[0]] - shares[kw[0]]), kw[0]))
    for key, _ in order[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


@dataclass
class RefPosition:
    id: int
    account: str
    market: str
    side: str
    notional: int
    cost: int
    margin: int
    status: str = "open"
    realized: int = 0
    haircut: int = 0


@dataclass
class RefMarket:
    id: str
    kind: str
    virtual: int
    funding: bool
    wallet_cap: int | None = None
    market_oi_cap: int | None = None
    status: str = "open"
    volume: int = 0
    bad_debt: int = 0


@dataclass
class Reference:
    params: Params
    balances: dict[str, int] = field(default_factory=dict)
    markets: dict[str, RefMarket] = field(default_factory=dict)
    positions: dict[int, RefPosition] = field(default_factory=dict)
    next_id: int = 1
    time: int = 0

    # ------------------------------------------------------------------ parameters

    def rate(self, name: str) -> Fraction:
        return Fraction(getattr(self.params, name))

    def usd(self, name: str) -> int:
        return int(Fraction(getattr(self.params, name)) * 1_000_000)

    def bal(self, account: str) -> int:
        return self.balances.get(account, 0)

    def move(self, source: str, destination: str, amount: int) -> None:
        assert amount >= 0
        self.balances[source] = self.bal(source) - amount
        self.balances[destination] = self.bal(destination) + amount

    # ------------------------------------------------------------------ views

    def real_oi(self, market: str, side: str) -> int:
        return sum(
            p.notional
            for p in self.positions.values()
            if p.status == "open" and p.market == market and p.side == side
        )

    def oi(self, market: str, side: str) -> int:
        return self.markets[market].virtual + self.real_oi(market, side)

    def price(self, market: str, side: str) -> Fraction:
        other = "B" if side == "A" else "A"
        return Fraction(self.oi(market, side), self.oi(market, side) + self.oi(market, other))

    def open_in(self, market: str) -> list[RefPosition]:
        return sorted(
            (p for p in self.positions.values() if p.status == "open" and p.market == market),
            key=lambda p: p.id,
        )

    def wallet_notional(self, account: str, market: str) -> int:
        return sum(p.notional for p in self.open_in(market) if p.account == account)

    def caps(self, market: str) -> tuple[int, int]:
        """docs: cap = base x clamp(IF / IF_seed, 1, cap_max_multiplier), rounded down."""
        m = self.markets[market]
        wallet = m.wallet_cap if m.wallet_cap is not None else self.usd("wallet_cap")
        oi = m.market_oi_cap if m.market_oi_cap is not None else self.usd("market_oi_cap")
        seed = self.usd("if_seed")
        if seed <= 0:
            return wallet, oi
        scale = min(max(Fraction(self.bal(FUND), seed), 1), self.params.cap_max_multiplier)
        return floor(wallet * scale), floor(oi * scale)

    # ------------------------------------------------------------------ commands

    def deposit(self, account: str, amount: int) -> None:
        self.move("external", f"wallet:{account}", amount)

    def withdraw(self, account: str, amount: int) -> None:
        self.move(f"wallet:{account}", "external", amount)

    def fee_split(self, fee: int, share: str) -> tuple[int, int]:
        to_fund = floor(fee * self.rate(share))
        return to_fund, fee - to_fund

    def quote(self, market: str, side: str, margin: int, leverage_centi: int) -> tuple[int, ...]:
        """(notional, fee, cost) of an open, from the docs."""
        notional = floor(Fraction(margin * leverage_centi, 100))
        fee = ceil(notional * self.rate("fee_rate"))
        other = "B" if side == "A" else "A"
        return notional, fee, open_cost(self.oi(market, side), self.oi(market, other), notional)

    def position_for(self, account: str, market: str, side: str) -> RefPosition:
        """The open position an order on (account, market, side) increases, or a new one."""
        existing = [p for p in self.open_in(market) if p.account == account and p.side == side]
        if existing:
            return existing[0]
        position = RefPosition(self.next_id, account, market, side, 0, 0, 0)
        self.positions[position.id] = position
        self.next_id += 1
        return position

    def worst_case_after(self, account: str, market: str, side: str, margin: int, lev: int) -> int:
        """docs (cap_rule: coverage): the sum over all live markets of each market's worst-case
        resolution shortfall, were this order filled (before any liquidation it triggers)."""
        notional, _, cost = self.quote(market, side, margin, lev)
        after = copy.deepcopy(self)
        position = after.position_for(account, market, side)
        position.notional += notional
        position.cost += cost
        position.margin += margin
        return sum(
            max(sum(after.shortfall(m, outcome, 0)) for outcome in ("A", "B"))
            for m, spec in after.markets.items()
            if spec.status in ("open", "halted")
        )

    def open(self, account: str, market: str, side: str, margin: int, leverage: int) -> int:
        notional, fee, cost = self.quote(market, side, margin, leverage)
        position = self.position_for(account, market, side)
        wallet = f"wallet:{account}"
        self.move(wallet, f"position:{position.id}", margin)
        to_fund, to_treasury = self.fee_split(fee, "fee_to_if")
        self.move(wallet, FUND, to_fund)
        self.move(wallet, TREASURY, to_treasury)
        position.notional += notional
        position.cost += cost
        position.margin += margin
        self.markets[market].volume += notional
        self.liquidate(market)
        return position.id

    def pay_profit(self, market: str, wallet: str, profit: int) -> tuple[int, int]:
        """docs: the fund pays the vault's shortfall at once; beyond the fund, a haircut."""
        vault = f"vault:{market}"
        shortfall = max(0, profit - self.bal(vault))
        draw = min(shortfall, self.bal(FUND))
        self.move(FUND, vault, draw)
        self.move(vault, wallet, profit - (shortfall - draw))
        return draw, shortfall - draw

    def close(self, position_id: int, notional: int) -> dict[str, int]:
        """docs: partial shares, profit from the vault (fund, then haircut), a loss capped at
        the departing margin (the rest is bad debt), then the fee capped at the wallet."""
        p = self.positions[position_id]
        other = "B" if p.side == "A" else "A"
        proceeds = close_proceeds(self.oi(p.market, p.side), self.oi(p.market, other), notional)
        cost_part = ceil(Fraction(p.cost * notional, p.notional))
        margin_part = floor(Fraction(p.margin * notional, p.notional))
        pnl = proceeds - cost_part
        wallet, account = f"wallet:{p.account}", f"position:{p.id}"
        draw = haircut = bad_debt = 0
        if pnl >= 0:
            self.move(account, wallet, margin_part)
            draw, haircut = self.pay_profit(p.market, wallet, pnl)
            realized = pnl - haircut
        else:
            to_vault = min(-pnl, margin_part)
            self.move(account, f"vault:{p.market}", to_vault)
            self.move(account, wallet, margin_part - to_vault)
            bad_debt, realized = -pnl - to_vault, -to_vault
        fee = min(ceil(notional * self.rate("fee_rate")), self.bal(wallet))
        to_fund, to_treasury = self.fee_split(fee, "fee_to_if")
        self.move(wallet, FUND, to_fund)
        self.move(wallet, TREASURY, to_treasury)
        p.notional -= notional
        p.cost -= cost_part
        p.margin -= margin_part
        p.realized += realized
        p.haircut += haircut
        market = self.markets[p.market]
        market.volume += notional
        market.bad_debt += bad_debt
        if p.notional == 0:
            p.status = "closed"
        figures = {"proceeds": proceeds, "cost": cost_part, "pnl": realized, "fee": fee}
        figures |= {"fund_draw": draw, "haircut": haircut, "bad_debt": bad_debt}
        self.liquidate(p.market)
        return figures

    def add_margin(self, position_id: int, amount: int) -> None:
        p = self.positions[position_id]
        self.move(f"wallet:{p.account}", f"position:{p.id}", amount)
        p.margin += amount

    # ------------------------------------------------------------------ liquidation

    def liquidatable(self, p: RefPosition) -> bool:
        """docs: unrealised loss at spot reaches the margin: C - price_X x N >= M."""
        return p.cost - self.price(p.market, p.side) * p.notional >= p.margin

    def liquidate(self, market: str) -> None:
        """docs: highest liquidation price (C - M) / N first, ties by position id."""
        while True:
            due = [p for p in self.open_in(market) if self.liquidatable(p)]
            if not due:
                return
            p = min(due, key=lambda q: (-Fraction(q.cost - q.margin, q.notional), q.id))
            seized = p.margin
            other = "B" if p.side == "A" else "A"
            exit_value = close_proceeds(self.oi(market, p.side), self.oi(market, other), p.notional)
            self.markets[market].bad_debt += max(0, p.cost - exit_value - seized)
            p.realized -= seized
            to_fund, to_vault = self.fee_split(seized, "liq_penalty_to_if")
            self.move(f"position:{p.id}", FUND, to_fund)
            self.move(f"position:{p.id}", f"vault:{market}", to_vault)
            p.margin = 0
            p.status = "liquidated"

    # ------------------------------------------------------------------ funding and clock

    def advance(self, seconds: int) -> None:
        interval = self.params.funding_interval_seconds
        end = self.time + seconds
        boundary = (self.time // interval + 1) * interval
        while boundary <= end:
            for market_id in sorted(self.markets):
                m = self.markets[market_id]
                if m.funding and m.status == "open":
                    self.fund(market_id)
            boundary += interval
        self.time = end

    def fund(self, market: str) -> None:
        """docs: rate = min(k |A - B| / (A + B), max_rate); payers pay ceil(N x rate) capped at
        margin; receivers share the total pro rata by notional, exactly."""
        a, b = self.real_oi(market, "A"), self.real_oi(market, "B")
        if a == 0 or b == 0 or a == b:
            return
        rate = min(self.rate("funding_k") * abs(a - b) / (a + b), self.rate("funding_max_rate"))
        payer = "A" if a > b else "B"
        positions = self.open_in(market)
        collected = 0
        for p in positions:
            if p.side == payer:
                paid = min(ceil(p.notional * rate), p.margin)
                p.margin -= paid
                self.move(f"position:{p.id}", f"vault:{market}", paid)
                collected += paid
        receivers = [p for p in positions if p.side != payer]
        shares = largest_remainder(collected, [(p.id, p.notional) for p in receivers])
        for p in receivers:
            p.margin += shares[p.id]
            self.move(f"vault:{market}", f"position:{p.id}", shares[p.id])
        self.liquidate(market)

    # ------------------------------------------------------------------ settlement

    def settlement_value(self, p: RefPosition, outcome: str) -> int:
        price_a = {"A": Fraction(1), "B": Fraction(0), "UNKNOWN": Fraction(1, 2)}[outcome]
        return floor(p.notional * (price_a if p.side == "A" else 1 - price_a))

    def shortfall(self, market: str, outcome: str, fund: int) -> tuple[int, int]:
        """(fund draw, uncovered) if ``market`` resolved to ``outcome`` now."""
        owed = collected = 0
        for p in self.open_in(market):
            pnl = self.settlement_value(p, outcome) - p.cost
            if pnl >= 0:
                owed += pnl
            else:
                collected += min(-pnl, p.margin)
        short = max(0, owed - self.bal(f"vault:{market}") - collected)
        return min(short, fund), short - min(short, fund)

    def resolve(self, market: str, outcome: str | None) -> None:
        vault, positions = f"vault:{market}", self.open_in(market)
        winners: list[tuple[RefPosition, int]] = []
        for p in positions:
            wallet, account = f"wallet:{p.account}", f"position:{p.id}"
            if outcome is None:
                self.move(account, wallet, p.margin)
                continue
            pnl = self.settlement_value(p, outcome) - p.cost
            if pnl >= 0:
                winners.append((p, pnl))
                continue
            to_vault = min(-pnl, p.margin)
            self.move(account, vault, to_vault)
            self.move(account, wallet, p.margin - to_vault)
            p.realized -= to_vault
            self.markets[market].bad_debt += -pnl - to_vault
        if outcome is not None:
            draw, uncovered = self.shortfall_after_losers(market, winners)
            self.move(FUND, vault, draw)
            cuts = largest_remainder(uncovered, [(p.id, pnl) for p, pnl in winners])
            for p, pnl in winners:
                self.move(f"position:{p.id}", f"wallet:{p.account}", p.margin)
                self.move(vault, f"wallet:{p.account}", pnl - cuts[p.id])
                p.realized += pnl - cuts[p.id]
                p.haircut += cuts[p.id]
        if self.params.vault_surplus_to_if:
            self.move(vault, FUND, self.bal(vault))
        for p in positions:
            p.margin, p.status = 0, "settled"
        self.markets[market].status = "voided" if outcome is None else "resolved"

    def shortfall_after_losers(
        self, market: str, winners: list[tuple[RefPosition, int]]
    ) -> tuple[int, int]:
        owed = sum(pnl for _, pnl in winners)
        short = max(0, owed - self.bal(f"vault:{market}"))
        draw = min(short, self.bal(FUND))
        return draw, short - draw
