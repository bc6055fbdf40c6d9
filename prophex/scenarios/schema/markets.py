"""The protocol profile and the markets of a scenario."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from prophex.errors import ProphexError
from prophex.params import Params, profile
from prophex.scenarios.schema.base import Name, Strict, Usd, as_decimal


class ProtocolSpec(Strict):
    """A named profile plus overrides, validated by :class:`prophex.params.Params` itself."""

    profile: Literal["launch", "mature"] = "launch"
    params: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> Params:
        return profile(self.profile, **{k: as_decimal(v) for k, v in self.params.items()})

    @model_validator(mode="after")
    def _valid(self) -> ProtocolSpec:
        try:
            self.build()
        except ProphexError as exc:
            field = exc.details.get("field", "params")
            raise ValueError(f"params.{field}: {exc.message}") from None
        return self


class Taxonomy(Strict):
    """Tags the portfolio-margin hierarchy uses (and the solvency audit's correlation)."""

    cluster: str = ""
    underlying: str = ""
    contract_kind: Literal["independent", "threshold", "exclusive", "parlay"] = "independent"
    strike: str = ""
    direction: Literal["", "above", "below"] = ""
    group: str = ""


class MarketSpec(Strict):
    id: Name
    kind: Literal["prediction", "perpetual"] = "prediction"
    question: str = ""
    virtual_oi: Usd | None = None
    funding: bool | None = None
    wallet_cap: Usd | None = None
    market_oi_cap: Usd | None = None
    taxonomy: Taxonomy = Field(default_factory=Taxonomy)
