"""Trader populations: arrivals, what they trade, and their behaviours after opening."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from prophex.scenarios.schema.base import PositiveSeconds, Probability, Seconds, Strict, as_decimal
from prophex.scenarios.schema.distributions import Choice, Distribution, Fixed, LogNormal, Uniform


class Hold(Strict):
    kind: Literal["hold"]
    share: Annotated[float, Field(gt=0.0)] = 1.0


class Exit(Strict):
    """Take profit / stop loss, both as a multiple of the position's margin."""

    kind: Literal["exit"]
    share: Annotated[float, Field(gt=0.0)] = 1.0
    take_profit: Annotated[Decimal | None, BeforeValidator(as_decimal), Field(gt=0)] = None
    stop_loss: Annotated[Decimal | None, BeforeValidator(as_decimal), Field(gt=0, le=1)] = None

    @model_validator(mode="after")
    def _something(self) -> Exit:
        if self.take_profit is None and self.stop_loss is None:
            raise ValueError("an exit behaviour needs take_profit, stop_loss or both")
        return self


class TopUp(Strict):
    """Add margin once the unrealised loss reaches ``trigger`` of the margin."""

    kind: Literal["top_up"]
    share: Annotated[float, Field(gt=0.0)] = 1.0
    trigger: Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0, lt=1)] = Decimal("0.7")
    amount: Annotated[Decimal, BeforeValidator(as_decimal), Field(gt=0, le=10)] = Decimal("0.5")
    max_times: Annotated[int, Field(ge=1, le=100)] = 1


class Trend(Strict):
    """Momentum follows the last move of the odds; contrarian fades it."""

    kind: Literal["momentum", "contrarian"]
    share: Annotated[float, Field(gt=0.0)] = 1.0
    lookback: PositiveSeconds = 3_600
    strength: Probability = 0.5


Behaviour = Annotated[Hold | Exit | TopUp | Trend, Field(discriminator="kind")]


class Arrivals(Strict):
    """Order arrivals over simulated time: a Poisson process or an even (deterministic) spread."""

    process: Literal["poisson", "uniform"] = "poisson"
    start: Seconds = 0
    end: Seconds | None = None
    orders_per_trader: Annotated[float, Field(gt=0.0, le=100_000.0)] = 1.0


def _hold_only() -> list[Hold | Exit | TopUp | Trend]:
    return [Hold(kind="hold")]


class Population(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]
    count: Annotated[int, Field(ge=1, le=1_000_000)]
    balance: Distribution
    margin: Distribution
    leverage: Distribution
    clamp_leverage: bool = False
    margin_mode: Literal["isolated", "portfolio"] = Field(
        "isolated",
        description="portfolio: the accounts switch to portfolio mode after their deposit and "
        "open by notional = margin x leverage (the same draws), their book margined jointly",
    )
    markets: dict[str, Annotated[float, Field(gt=0.0)]] | None = None
    side_bias: dict[str, Probability] = Field(default_factory=dict)
    arrivals: Arrivals = Field(default_factory=Arrivals)
    behaviours: Annotated[list[Behaviour], Field(min_length=1)] = Field(default_factory=_hold_only)

    @field_validator("leverage")
    @classmethod
    def _leverage_at_least_one(cls, value: Fixed | Uniform | LogNormal | Choice) -> Any:
        low, _ = value.bounds()
        if isinstance(value, LogNormal) and value.low is None:
            raise ValueError("a lognormal leverage needs low >= 1")
        if low < 1:
            raise ValueError(f"leverage must be at least 1, the distribution allows {low}")
        return value

    @model_validator(mode="after")
    def _portfolio_behaviours(self) -> Population:
        if self.margin_mode == "portfolio":
            kinds = sorted({b.kind for b in self.behaviours} - {"hold", "momentum", "contrarian"})
            if kinds:
                raise ValueError(
                    f"behaviours {kinds} act on position margin; portfolio populations take "
                    "hold, momentum or contrarian only"
                )
        return self
