"""Distributions of a population's draws (margin, leverage): fixed, uniform, log-normal, choice."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    model_validator,
)

from prophex.scenarios.schema.base import Strict, as_decimal


class Fixed(Strict):
    dist: Literal["fixed"]
    value: Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0)]

    def bounds(self) -> tuple[Decimal, Decimal]:
        return self.value, self.value


class Uniform(Strict):
    dist: Literal["uniform"]
    low: Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0)]
    high: Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def bounds(self) -> tuple[Decimal, Decimal]:
        return self.low, self.high


class LogNormal(Strict):
    """Heavy-tailed sizes (a few whales, many small traders), clipped to [low, high]."""

    dist: Literal["lognormal"]
    median: Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0)]
    sigma: Annotated[float, Field(ge=0.0, le=5.0)]
    low: Annotated[Decimal | None, BeforeValidator(as_decimal), Field(gt=0)] = None
    high: Annotated[Decimal | None, BeforeValidator(as_decimal), Field(gt=0)] = None

    @model_validator(mode="after")
    def _ordered(self) -> LogNormal:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def bounds(self) -> tuple[Decimal, Decimal]:
        low = self.low if self.low is not None else Decimal("0.01")
        high = self.high if self.high is not None else Decimal(10**9)
        return low, high


class Choice(Strict):
    dist: Literal["choice"]
    values: Annotated[
        list[Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0)]], Field(min_length=1)
    ]
    weights: list[Annotated[float, Field(ge=0.0)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    def bounds(self) -> tuple[Decimal, Decimal]:
        return min(self.values), max(self.values)


Distribution = Annotated[Fixed | Uniform | LogNormal | Choice, Field(discriminator="dist")]
