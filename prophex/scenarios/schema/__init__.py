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

from typing import Annotated, Literal

from pydantic import Field, model_validator

from prophex.params import Params
from prophex.scenarios.schema.base import (
    MAX_SECONDS,
    Fraction01,
    Name,
    PositiveSeconds,
    Probability,
    ScenarioError,
    Seconds,
    Strict,
    Usd,
    _at,
    _LocatedError,
)
from prophex.scenarios.schema.distributions import Choice, Distribution, Fixed, LogNormal, Uniform
from prophex.scenarios.schema.markets import MarketSpec, ProtocolSpec, Taxonomy
from prophex.scenarios.schema.populations import (
    Arrivals,
    Behaviour,
    Exit,
    Hold,
    Population,
    TopUp,
    Trend,
)
from prophex.scenarios.schema.script import Resolution, ScriptStep, Shock, Step

__all__ = [
    "MAX_SECONDS",
    "Arrivals",
    "Behaviour",
    "Choice",
    "Distribution",
    "Exit",
    "Fixed",
    "Fraction01",
    "Hold",
    "LogNormal",
    "MarketSpec",
    "Name",
    "Population",
    "PositiveSeconds",
    "Probability",
    "ProtocolSpec",
    "Resolution",
    "Scenario",
    "ScenarioError",
    "ScriptStep",
    "Seconds",
    "Shock",
    "Step",
    "Strict",
    "Taxonomy",
    "TopUp",
    "Trend",
    "Uniform",
    "Usd",
    "_LocatedError",
]

# --------------------------------------------------------------------------- the scenario


class Scenario(Strict):
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
        """Cross-field checks, in file order: markets, steps, populations, shocks, loss
        sharing, resolution (the first failure is the one reported)."""
        seen = self._check_market_ids()
        self._check_steps(seen)
        names = self._check_populations(seen)
        self._check_shocks(seen, names)
        if self.loss_sharing == "adl" and self.settlement != "batch":
            raise _at(("loss_sharing",), "loss_sharing: adl needs settlement: batch")
        self._check_resolution(seen)
        return self

    def _check_market_ids(self) -> set[str]:
        seen: set[str] = set()
        for i, market in enumerate(self.market_ids()):
            if market in seen:
                raise _at(("markets", i, "id"), f"market {market!r} is defined twice")
            seen.add(market)
        return seen

    def _check_steps(self, seen: set[str]) -> None:
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

    def _check_populations(self, seen: set[str]) -> set[str]:
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
            self._check_population_window(i, pop, seen)
        return names

    def _check_population_window(self, i: int, pop: Population, seen: set[str]) -> None:
        """Its markets exist, and its arrivals fall inside the run."""
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

    def _check_shocks(self, seen: set[str], names: set[str]) -> None:
        for i, shock in enumerate(self.shocks):
            if shock.market not in seen:
                raise _at(("shocks", i, "market"), f"unknown market {shock.market!r}")
            for pop_name in shock.populations or []:
                if pop_name not in names:
                    raise _at(("shocks", i, "populations"), f"unknown population {pop_name!r}")

    def _check_resolution(self, seen: set[str]) -> None:
        kinds = {m.id: m.kind for m in self.markets}
        for market, plan in self.resolution.items():
            if market not in seen:
                raise _at(("resolution", market), f"unknown market {market!r}")
            if kinds.get(market) == "perpetual" and plan.outcome != "void":
                raise _at(("resolution", market, "outcome"), "perpetual markets can only be voided")
            if plan.at is not None and plan.at > self.duration:
                raise _at(("resolution", market, "at"), "resolution is after the end of the run")
