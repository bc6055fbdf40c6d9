"""Trading fees and liquidation penalties, and how each splits between fund and treasury."""

from __future__ import annotations

from prophex.money import ppm_of_down, ppm_of_up
from prophex.params import Rules


def trading_fee(notional: int, rules: Rules) -> int:
    """Fee on an open or a close: ``fee_rate * notional``, rounded up (the trader pays)."""
    return ppm_of_up(notional, rules.fee_rate_ppm)


def fee_split(fee: int, rules: Rules) -> tuple[int, int]:
    """(to insurance fund, to treasury): the fund's share rounds down, treasury gets the rest."""
    to_fund = ppm_of_down(fee, rules.fee_to_if_ppm)
    return to_fund, fee - to_fund


def penalty_split(seized_margin: int, rules: Rules) -> tuple[int, int]:
    """(to insurance fund, to market vault) of a liquidated position's seized margin."""
    to_fund = ppm_of_down(seized_margin, rules.liq_penalty_to_if_ppm)
    return to_fund, seized_margin - to_fund
