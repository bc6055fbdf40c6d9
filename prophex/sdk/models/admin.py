"""Admin answers: parameters, the clock, market actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prophex.sdk.models.base import Model
from prophex.sdk.models.history import Resolution
from prophex.sdk.models.markets import Market


class Params(Model):
    command_seq: int | None
    params: dict[str, Any]


class Clock(Model):
    command_seq: int
    time: int
    funding_payments: Decimal


class AdminMarketResult(Model):
    command_seq: int
    market: Market
    resolution: Resolution | None = None
