"""The scenario file format: pydantic v2 models (``extra='forbid'`` everywhere).

A scenario is data, not code: the protocol profile, the markets, trader populations that
generate order flow, scripted commands in the same user form as ``prophex run``, shocks, a
resolution plan and a seed. Everything that can be checked without running the engine is
checked here, so a bad file fails before any database is created.

Amounts are USD decimal strings (or YAML numbers, taken by their shortest decimal repr) and
become integer micro-USD only through :mod:`prophex.money`. Times are seconds of simulated
time, as integers or as ``"90s"``, ``"30m"``, ``"2h"``, ``"3d"``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from prophex.engine.commands import parse_user_command
from prophex.errors import ProphexError
from prophex.params import Params, profile

_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_SECONDS = 10 * 365 * 86_400


def _duration(value: Any) -> Any:
    """Accept ``3600`` or ``"1h"``; everything else is left for pydantic to reject."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use seconds or e.g. '30m', '2h', '3d')")
        return int(match.group(1)) * _UNITS[match.group(2) or "s"]
    return value


def _decimal(value: Any) -> Any:
    """YAML turns ``0.8`` into a float; take its shortest repr so no binary noise gets in."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


_DURATION_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_SECONDS},
            {"type": "string", "pattern": _DURATION.pattern},
        ],
        "description": "seconds, or a number with a unit: 90s, 30m, 2h, 3d",
    }
)
Seconds = Annotated[int, BeforeValidator(_duration), Field(ge=0, le=MAX_SECONDS), _DURATION_SCHEMA]
PositiveSeconds = Annotated[
    int, BeforeValidator(_duration), Field(ge=1, le=MAX_SECONDS), _DURATION_SCHEMA
]
Usd = Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0, le=10**9, decimal_places=6)]
Fraction01 = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, le=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(pattern=_NAME)]


class ScenarioError(ProphexError):
    """A scenario file that cannot be run; names the field and, when known, the line."""

    code = "INVALID_SCENARIO"
    status = 422
    title = "Invalid scenario"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- distributions


class Fixed(_Strict):
    dist: Literal["fixed"]
    value: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0)]

    def bounds(self) -> tuple[Decimal, Decimal]:
        return self.value, self.value


class Uniform(_Strict):
    dist: Literal["uniform"]
    low: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0)]
    high: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def bounds(self) -> tuple[Decimal, Decimal]:
        return self.low, self.high


class LogNormal(_Strict):
    """Heavy-tailed sizes (a few whales, many small traders), clipped to [low, high]."""

    dist: Literal["lognormal"]
    median: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0)]
    sigma: Annotated[float, Field(ge=0.0, le=5.0)]
    low: Annotated[Decimal | None, BeforeValidator(_decimal), Field(gt=0)] = None
    high: Annotated[Decimal | None, BeforeValidator(_decimal), Field(gt=0)] = None

    @model_validator(mode="after")
    def _ordered(self) -> LogNormal:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def bounds(self) -> tuple[Decimal, Decimal]:
        low = self.low if self.low is not None else Decimal("0.01")
        high = self.high if self.high is not None else Decimal(10**9)
        return low, high


class Choice(_Strict):
    dist: Literal["choice"]
    values: Annotated[
        list[Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0)]], Field(min_length=1)
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


# --------------------------------------------------------------------------- protocol, markets


class ProtocolSpec(_Strict):
    """A named profile plus overrides, validated by :class:`prophex.params.Params` itself."""

    profile: Literal["launch", "mature"] = "launch"
    params: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> Params:
        return profile(self.profile, **{k: _decimal(v) for k, v in self.params.items()})

    @model_validator(mode="after")
    def _valid(self) -> ProtocolSpec:
        try:
            self.build()
        except ProphexError as exc:
            field = exc.details.get("field", "params")
            raise ValueError(f"params.{field}: {exc.message}") from None
        return self


class Taxonomy(_Strict):
    """Tags the portfolio-margin hierarchy uses (and the solvency audit's correlation)."""

    cluster: str = ""
    underlying: str = ""
    contract_kind: Literal["independent", "threshold", "exclusive", "parlay"] = "independent"
    strike: str = ""
    direction: Literal["", "above", "below"] = ""
    group: str = ""


class MarketSpec(_Strict):
    id: Name
    kind: Literal["prediction", "perpetual"] = "prediction"
    question: str = ""
    virtual_oi: Usd | None = None
    funding: bool | None = None
    wallet_cap: Usd | None = None
    market_oi_cap: Usd | None = None
    taxonomy: Taxonomy = Field(default_factory=Taxonomy)


# --------------------------------------------------------------------------- populations


class Hold(_Strict):
    kind: Literal["hold"]
    share: Annotated[float, Field(gt=0.0)] = 1.0


class Exit(_Strict):
    """Take profit / stop loss, both as a multiple of the position's margin."""

    kind: Literal["exit"]
    share: Annotated[float, Field(gt=0.0)] = 1.0
    take_profit: Annotated[Decimal | None, BeforeValidator(_decimal), Field(gt=0)] = None
    stop_loss: Annotated[Decimal | None, BeforeValidator(_decimal), Field(gt=0, le=1)] = None

    @model_validator(mode="after")
    def _something(self) -> Exit:
        if self.take_profit is None and self.stop_loss is None:
            raise ValueError("an exit behaviour needs take_profit, stop_loss or both")
        return self


class TopUp(_Strict):
    """Add margin once the unrealised loss reaches ``trigger`` of the margin."""

    kind: Literal["top_up"]
    share: Annotated[float, Field(gt=0.0)] = 1.0
    trigger: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0, lt=1)] = Decimal("0.7")
    amount: Annotated[Decimal, BeforeValidator(_decimal), Field(gt=0, le=10)] = Decimal("0.5")
    max_times: Annotated[int, Field(ge=1, le=100)] = 1


class Trend(_Strict):
    """Momentum follows the last move of the odds; contrarian fades it."""

    kind: Literal["momentum", "contrarian"]
    share: Annotated[float, Field(gt=0.0)] = 1.0
    lookback: PositiveSeconds = 3_600
    strength: Probability = 0.5


Behaviour = Annotated[Hold | Exit | TopUp | Trend, Field(discriminator="kind")]


class Arrivals(_Strict):
    """Order arrivals over simulated time: a Poisson process or an even (deterministic) spread."""

    process: Literal["poisson", "uniform"] = "poisson"
    start: Seconds = 0
    end: Seconds | None = None
    orders_per_trader: Annotated[float, Field(gt=0.0, le=100_000.0)] = 1.0


def _hold_only() -> list[Hold | Exit | TopUp | Trend]:
    return [Hold(kind="hold")]


class Population(_Strict):
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


# --------------------------------------------------------------------------- script, shocks


class Step(_Strict):
    """One scripted command in the ``prophex run`` user form, at a simulated time."""

    at: Seconds = 0
    command: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if isinstance(data, dict) and "command" not in data:
            body = dict(data)
            at = body.pop("at", 0)
            return {"at": at, "command": body}
        return data

    @field_validator("command")
    @classmethod
    def _parses(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_user_command(value)
        except ProphexError as exc:
            field = exc.details.get("field")
            prefix = f"{field}: " if field else ""
            raise ValueError(f"{prefix}{exc.message}") from None
        return value


_STEP_SCHEMA = WithJsonSchema(
    {
        "type": "object",
        "description": "a command in the prophex run user form, plus an optional 'at' time",
        "required": ["type"],
        "properties": {
            "at": _DURATION_SCHEMA.json_schema,
            "type": {
                "enum": [
                    "create_market",
                    "deposit",
                    "withdraw",
                    "open",
                    "close",
                    "add_margin",
                    "halt",
                    "resume",
                    "resolve",
                    "resolve_batch",
                    "void",
                    "advance_clock",
                    "set_params",
                ]
            },
        },
        "additionalProperties": True,
    }
)
ScriptStep = Annotated[Step, _STEP_SCHEMA]


class Shock(_Strict):
    """News: from ``at`` (until ``until``) the flow into ``market`` changes side and/or rate."""

    at: Seconds
    until: Seconds | None = None
    market: Name
    side_bias: Probability | None = None
    shift: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    flow: Annotated[float, Field(ge=0.0, le=1_000.0)] = 1.0
    populations: list[str] | None = None


class Resolution(_Strict):
    outcome: Literal["A", "B", "UNKNOWN", "void"]
    at: Seconds | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"outcome": data} if isinstance(data, str) else data


# --------------------------------------------------------------------------- the scenario


class Scenario(_Strict):
    name: Name
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
    duration: Seconds = 86_400
    tick: PositiveSeconds = 3_600
    markets: list[MarketSpec] = Field(default_factory=list)
    populations: list[Population] = Field(default_factory=list)
    steps: list[ScriptStep] = Field(default_factory=list)
    shocks: list[Shock] = Field(default_factory=list)
    resolution: dict[str, Resolution] = Field(default_factory=dict)
    settlement: Literal["sequential", "batch"] = "sequential"
    """How markets resolving at the same time settle: one ``resolve`` each in market-id order
    (each draws on the fund in turn), or one ``resolve_batch`` sharing a shortfall pro rata."""
    loss_sharing: Literal["pro_rata", "adl"] = "pro_rata"
    """With ``settlement: batch``: how the uncovered rest is cut from winners."""

    def params(self) -> Params:
        return self.protocol.build()

    def market_ids(self) -> list[str]:
        """Markets of the file plus those created by scripted ``create_market`` steps."""
        ids = [m.id for m in self.markets]
        ids += [
            str(s.command["market"]) for s in self.steps if s.command["type"] == "create_market"
        ]
        return ids

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        ids = self.market_ids()
        seen: set[str] = set()
        for i, market in enumerate(ids):
            if market in seen:
                raise _at(("markets", i, "id"), f"market {market!r} is defined twice")
            seen.add(market)
        kinds = {m.id: m.kind for m in self.markets}
        for i, step in enumerate(self.steps):
            step_market = step.command.get("market")
            if (
                step.command["type"] != "create_market"
                and step_market is not None
                and step_market not in seen
            ):
                raise _at(("steps", i, "market"), f"unknown market {step_market!r}")
            if step.at > self.duration:
                raise _at(("steps", i, "at"), f"at {step.at} is after the end ({self.duration})")
        names: set[str] = set()
        max_leverage = self.params().max_leverage
        for i, pop in enumerate(self.populations):
            _, high = pop.leverage.bounds()
            if high > max_leverage and not pop.clamp_leverage:
                raise _at(
                    ("populations", i, "leverage"),
                    f"leverage up to {high} exceeds the protocol's max_leverage {max_leverage}; "
                    "lower it, raise max_leverage, or set clamp_leverage: true to clamp draws",
                )
            if pop.name in names:
                raise _at(("populations", i, "name"), f"population {pop.name!r} is defined twice")
            names.add(pop.name)
            for key in ("markets", "side_bias"):
                for market in getattr(pop, key) or {}:
                    if market not in seen:
                        raise _at(("populations", i, key, market), f"unknown market {market!r}")
            end = pop.arrivals.end if pop.arrivals.end is not None else self.duration
            if not pop.arrivals.start < end <= self.duration:
                raise _at(
                    ("populations", i, "arrivals"),
                    f"arrivals need start < end <= duration, got {pop.arrivals.start}..{end}",
                )
        for i, shock in enumerate(self.shocks):
            if shock.market not in seen:
                raise _at(("shocks", i, "market"), f"unknown market {shock.market!r}")
            for pop_name in shock.populations or []:
                if pop_name not in names:
                    raise _at(("shocks", i, "populations"), f"unknown population {pop_name!r}")
        if self.loss_sharing == "adl" and self.settlement != "batch":
            raise _at(("loss_sharing",), "loss_sharing: adl needs settlement: batch")
        for market, plan in self.resolution.items():
            if market not in seen:
                raise _at(("resolution", market), f"unknown market {market!r}")
            if kinds.get(market) == "perpetual" and plan.outcome != "void":
                raise _at(("resolution", market, "outcome"), "perpetual markets can only be voided")
            if plan.at is not None and plan.at > self.duration:
                raise _at(("resolution", market, "at"), "resolution is after the end of the run")
        return self


class _LocatedError(ValueError):
    """A cross-field error that knows the path of the offending field."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _at(loc: tuple[str | int, ...], message: str) -> _LocatedError:
    return _LocatedError(loc, message)
