"""Open-interest caps that grow with the insurance fund.

Both caps scale by ``clamp(IF / IF_seed, 1, cap_max_multiplier)``, computed in integers and
rounded down (a smaller cap is the protocol-safe side). Caps gate opens and increases only:
closes and liquidations reduce exposure and must never be blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prophex.errors import MarketOiCapExceeded, WalletCapExceeded
from prophex.money import format_usd, mul_div_floor
from prophex.params import Rules

if TYPE_CHECKING:
    from prophex.engine.state import Market


def scale_cap(base: int, insurance_fund: int, rules: Rules) -> int:
    """``base * clamp(IF / seed, 1, max_multiplier)``, rounded down."""
    seed = rules.if_seed
    if seed <= 0:
        return base
    return mul_div_floor(base, _clamped_fund(insurance_fund, seed, rules), seed)


def _clamped_fund(insurance_fund: int, seed: int, rules: Rules) -> int:
    """The fund clamped to ``[seed, seed * cap_max_multiplier]``: the scale is this over seed."""
    return min(max(insurance_fund, seed), seed * rules.cap_max_multiplier)


@dataclass(frozen=True, slots=True)
class CapHeadroom:
    wallet_cap: int
    wallet_used: int
    market_cap: int
    market_used: int

    @property
    def wallet_headroom(self) -> int:
        return max(0, self.wallet_cap - self.wallet_used)

    @property
    def market_headroom(self) -> int:
        return max(0, self.market_cap - self.market_used)

    def check(self, notional: int, *, check_market: bool = True) -> None:
        """Raise the typed error of the first cap ``notional`` would break, with the numbers.

        Under the coverage rule the market OI cap is replaced by the coverage check
        (``check_market=False``); the wallet cap always applies.
        """
        if self.wallet_used + notional > self.wallet_cap:
            raise WalletCapExceeded(
                f"order of {format_usd(notional)} USD notional exceeds the wallet cap: "
                f"{format_usd(self.wallet_headroom)} USD of {format_usd(self.wallet_cap)} left",
                cap=format_usd(self.wallet_cap),
                used=format_usd(self.wallet_used),
                headroom=format_usd(self.wallet_headroom),
                requested=format_usd(notional),
            )
        if check_market and self.market_used + notional > self.market_cap:
            raise MarketOiCapExceeded(
                f"order of {format_usd(notional)} USD notional exceeds the market OI cap: "
                f"{format_usd(self.market_headroom)} USD of {format_usd(self.market_cap)} left",
                cap=format_usd(self.market_cap),
                used=format_usd(self.market_used),
                headroom=format_usd(self.market_headroom),
                requested=format_usd(notional),
            )


def base_caps(market: Market, rules: Rules) -> tuple[int, int]:
    """(wallet cap, market OI cap) before scaling: the market's own cap, or else the rule's."""
    wallet = rules.wallet_cap if market.wallet_cap is None else market.wallet_cap
    oi = rules.market_oi_cap if market.market_oi_cap is None else market.market_oi_cap
    return wallet, oi


def effective_caps(market: Market, rules: Rules, insurance_fund: int) -> tuple[int, int]:
    """(wallet cap, market OI cap) in force now: :func:`base_caps` scaled by the fund.

    The same figures as :func:`scale_cap` of each, with the clamp computed once; at a
    multiplier of exactly 1 (``base * seed // seed``) the bases are returned as they are. Every
    open asks for its caps, so this is on the engine's hot path."""
    wallet, oi = base_caps(market, rules)
    seed = rules.if_seed
    if seed <= 0:
        return wallet, oi
    fund = _clamped_fund(insurance_fund, seed, rules)
    if fund == seed:
        return wallet, oi
    return mul_div_floor(wallet, fund, seed), mul_div_floor(oi, fund, seed)
