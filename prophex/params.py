"""Protocol parameters and the named profiles.

Users write parameters the way they think of them (``wallet_cap: "1000"`` USD,
``fee_rate: "0.001"``, ``max_leverage: 3``); :class:`Params` validates them with pydantic and
:meth:`Params.rules` turns them into :class:`Rules`, the integer form the engine works with
(micro-USD, parts per million, hundredths of leverage). Keeping the integer form separate means
the hot path never touches a Decimal or a pydantic model.

The source documents give only the launch leverage (3x) and wallet cap (1,000 USD); every
other default below is ours and is explained in docs/decisions.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from prophex.errors import InvalidParameters
from prophex.money import MAX_AMOUNT, MICRO, PPM

Usd = Annotated[Decimal, Field(ge=0, le=Decimal(MAX_AMOUNT) / MICRO, decimal_places=6)]
Rate = Annotated[Decimal, Field(ge=0, le=1, decimal_places=6)]

PM_DEFAULT_PATHS = 50_000
PM_DEFAULTS: dict[str, int] = {
    "pm_seed": 0,
    "pm_epoch_seconds": 86_400,
    "pm_paths": PM_DEFAULT_PATHS,
}
"""Portfolio-margin parameters and their defaults (see docs/portfolio-margin.md)."""

ProfileName = Literal["launch", "mature", "custom"]


class Params(BaseModel):
    """Validated protocol parameters, in human units. Immutable: changing them is a command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: ProfileName = "launch"
    virtual_oi: Usd = Decimal(5_000)
    max_leverage: Annotated[Decimal, Field(ge=1, le=100, decimal_places=2)] = Decimal(3)
    wallet_cap: Usd = Decimal(1_000)
    market_oi_cap: Usd = Decimal(100_000)
    cap_max_multiplier: Annotated[int, Field(ge=1, le=1_000)] = 10
    cap_rule: Literal["fixed", "coverage"] = "fixed"
    if_seed: Usd = Decimal(100_000)
    fee_rate: Annotated[Decimal, Field(ge=0, le=Decimal("0.1"), decimal_places=6)] = Decimal(
        "0.001"
    )
    fee_to_if: Rate = Decimal("0.5")
    liq_penalty_to_if: Rate = Decimal("0.2")
    vault_surplus_to_if: bool = True
    funding_interval_seconds: Annotated[int, Field(ge=1, le=30 * 86_400)] = 3_600
    funding_k: Rate = Decimal("0.001")
    funding_max_rate: Rate = Decimal("0.0005")
    min_notional: Usd = Decimal(1)
    pm_seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    pm_epoch_seconds: Annotated[int, Field(ge=1, le=365 * 86_400)] = 86_400
    pm_paths: Annotated[int, Field(ge=1_000, le=1_000_000)] = PM_DEFAULT_PATHS

    @model_serializer(mode="wrap")
    def _drop_default_pm(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Portfolio-margin parameters appear in dumps (journal, digest) only when set, so
        journals and digests of exchanges that never touch them are unchanged."""
        data: dict[str, Any] = handler(self)
        for key, default in PM_DEFAULTS.items():
            if data.get(key) == default:
                del data[key]
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        """YAML gives floats for ``0.001``; take their shortest decimal repr, never binary noise."""
        if isinstance(value, float):
            return Decimal(repr(value))
        return value

    def rules(self) -> Rules:
        """The integer form used by the engine."""
        return Rules(
            virtual_oi=int(self.virtual_oi * MICRO),
            max_leverage_centi=int(self.max_leverage * 100),
            wallet_cap=int(self.wallet_cap * MICRO),
            market_oi_cap=int(self.market_oi_cap * MICRO),
            cap_max_multiplier=self.cap_max_multiplier,
            cap_rule=self.cap_rule,
            if_seed=int(self.if_seed * MICRO),
            fee_rate_ppm=int(self.fee_rate * PPM),
            fee_to_if_ppm=int(self.fee_to_if * PPM),
            liq_penalty_to_if_ppm=int(self.liq_penalty_to_if * PPM),
            vault_surplus_to_if=self.vault_surplus_to_if,
            funding_interval_seconds=self.funding_interval_seconds,
            funding_k_ppm=int(self.funding_k * PPM),
            funding_max_rate_ppm=int(self.funding_max_rate * PPM),
            min_notional=int(self.min_notional * MICRO),
            pm_seed=self.pm_seed,
            pm_epoch_seconds=self.pm_epoch_seconds,
            pm_paths=self.pm_paths,
        )

    def with_overrides(self, overrides: dict[str, Any]) -> Params:
        """A copy with ``overrides`` applied and validated as a whole (profile becomes custom)."""
        merged = {**self.model_dump(), **overrides}
        if "profile" not in overrides:
            merged["profile"] = "custom"
        return make_params(merged)


@dataclass(frozen=True, slots=True)
class Rules:
    """Parameters as integers: micro-USD, ppm rates, leverage in hundredths."""

    virtual_oi: int
    max_leverage_centi: int
    wallet_cap: int
    market_oi_cap: int
    cap_max_multiplier: int
    cap_rule: str
    if_seed: int
    fee_rate_ppm: int
    fee_to_if_ppm: int
    liq_penalty_to_if_ppm: int
    vault_surplus_to_if: bool
    funding_interval_seconds: int
    funding_k_ppm: int
    funding_max_rate_ppm: int
    min_notional: int
    pm_seed: int = 0
    pm_epoch_seconds: int = 86_400
    pm_paths: int = PM_DEFAULT_PATHS


PROFILES: dict[str, dict[str, Any]] = {
    "launch": {"profile": "launch"},
    "mature": {
        "profile": "mature",
        "max_leverage": 25,
        "wallet_cap": 10_000,
        "market_oi_cap": 1_000_000,
        "if_seed": 1_000_000,
    },
}


def make_params(data: dict[str, Any]) -> Params:
    """Validate parameters, turning pydantic's error into our typed one that names the field."""
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "params"
        raise InvalidParameters(f"invalid parameter {field}: {first['msg']}", field=field) from None


def profile(name: str, **overrides: Any) -> Params:
    """A named profile (``launch`` or ``mature``), optionally with overrides."""
    if name not in PROFILES:
        raise InvalidParameters(
            f"unknown profile {name!r}; choose one of {sorted(PROFILES)}", field="profile"
        )
    base = make_params(PROFILES[name])
    return base.with_overrides(overrides) if overrides else base
