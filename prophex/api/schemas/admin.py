"""Admin requests and answers: markets, parameters, the clock."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt

from prophex.api.schemas.base import Name, Request, Usd, UsdOut
from prophex.api.schemas.history import Resolution
from prophex.api.schemas.markets import MarketView


class MarketCreate(Request):
    market: Name
    kind: Literal["prediction", "perpetual"] = "prediction"
    question: Annotated[str, Field(max_length=200)] = ""
    cluster: Annotated[str, Field(max_length=200)] = ""
    underlying: Annotated[str, Field(max_length=200)] = ""
    contract_kind: Annotated[str, Field(max_length=200)] = "independent"
    strike: Annotated[str, Field(max_length=200)] = ""
    direction: Annotated[str, Field(max_length=200)] = ""
    group: Annotated[str, Field(max_length=200)] = ""
    virtual_oi: Usd | None = None
    funding: bool | None = None
    wallet_cap: Usd | None = None
    market_oi_cap: Usd | None = None


class ResolveRequest(Request):
    outcome: Literal["A", "B", "UNKNOWN"]


Decimalish = Annotated[str, Field(pattern=r"^[0-9]{1,16}(\.[0-9]{1,6})?$")]


class ParamsOverrides(Request):
    """Protocol parameters in human units (USD and rates as decimal strings); omitted ones keep
    their current value. Validated as a whole by the engine."""

    profile: Literal["launch", "mature", "custom"] | None = None
    virtual_oi: Decimalish | None = None
    max_leverage: Decimalish | None = None
    wallet_cap: Decimalish | None = None
    market_oi_cap: Decimalish | None = None
    cap_max_multiplier: StrictInt | None = None
    cap_rule: Literal["fixed", "coverage"] | None = None
    if_seed: Decimalish | None = None
    fee_rate: Decimalish | None = None
    fee_to_if: Decimalish | None = None
    liq_penalty_to_if: Decimalish | None = None
    vault_surplus_to_if: bool | None = None
    funding_interval_seconds: StrictInt | None = None
    funding_k: Decimalish | None = None
    funding_max_rate: Decimalish | None = None
    min_notional: Decimalish | None = None


class ParamsRequest(Request):
    params: ParamsOverrides


class ParamsView(BaseModel):
    command_seq: int | None
    params: dict[str, Any]


class ClockRequest(Request):
    seconds: Annotated[StrictInt, Field(ge=1, le=366 * 86_400)]


class ClockView(BaseModel):
    command_seq: int
    time: int
    funding_payments: UsdOut


class AdminMarketResult(BaseModel):
    command_seq: int
    market: MarketView
    resolution: Resolution | None = None
