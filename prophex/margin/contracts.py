"""Contracts, positions and books: the inputs of the margin engine.

A book is validated once, up front, so that the simulation can assume a consistent input:
every position refers to a known contract, every contract to a known cluster or
underlying, prices lie in (0, 1), and the prices of threshold contracts on one underlying
are ordered like their strikes (otherwise "BTC > 105k" could be YES while "BTC > 100k" is NO).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from prophex.margin._validation import as_margin_error
from prophex.margin.errors import (
    INVALID_BOOK,
    UNKNOWN_CLUSTER,
    UNKNOWN_CONTRACT,
    UNKNOWN_UNDERLYING,
    MarginError,
)
from prophex.margin.hierarchy import Hierarchy, load_hierarchy

ContractKind = Literal["threshold", "exclusive", "independent", "parlay"]
Side = Literal["long", "short"]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class AddOnParams(BaseModel):
    """Add-on and floor coefficients (fractions). See docs/portfolio-margin.md."""

    model_config = _STRICT

    beta: float = Field(0.10, ge=0, le=1, description="basis / threshold-divergence add-on")
    gamma: float = Field(0.25, ge=0, le=1, description="parlay add-on, share of parlay max loss")
    lam: float = Field(0.0, ge=0, le=1, description="liquidity add-on, share of FC")
    mu: float = Field(0.05, ge=0, le=1, description="minimum-margin floor, share of FC")


class BookSettings(BaseModel):
    """Per-book risk settings; ``None`` correlations fall back to the hierarchy's."""

    model_config = _STRICT

    alpha: float = Field(0.99, gt=0.5, lt=1)
    rho_within: float | None = None
    rho_cross: float | None = None
    eta: float = Field(0.0, ge=0, le=1, description="contract-level idiosyncratic noise share")
    addons: AddOnParams = Field(default_factory=AddOnParams)


class ContractSpec(BaseModel):
    """One contract as written in YAML (or in an exchange taxonomy)."""

    model_config = _STRICT

    id: str = Field(min_length=1)
    kind: ContractKind = Field(validation_alias=AliasChoices("kind", "contract_kind"))
    price: float = Field(gt=0, lt=1, description="market probability of YES")
    cluster: str | None = None
    underlying: str | None = None
    strike: float | None = Field(None, gt=0, allow_inf_nan=False)
    direction: Literal["above", "below"] | None = None
    group: str | None = None
    legs: list[str] = Field(default_factory=list)
    eta: float | None = Field(None, ge=0, le=1)


class PositionSpec(BaseModel):
    """One position as written in YAML."""

    model_config = _STRICT

    contract: str
    side: Side
    contracts: float = Field(gt=0, allow_inf_nan=False)
    price: float | None = Field(None, gt=0, lt=1, description="entry price of YES")


class BookSpec(BaseModel):
    """A book YAML file."""

    model_config = _STRICT

    name: str = "book"
    description: str = ""
    hierarchy: str | None = None
    settings: BookSettings = Field(default_factory=BookSettings)
    contracts: list[ContractSpec] = Field(default_factory=list)
    positions: list[PositionSpec] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Contract:
    """A validated $1-payout binary contract placed in its cluster."""

    id: str
    kind: ContractKind
    cluster: str
    price: float
    underlying: str | None = None
    strike: float | None = None
    direction: Literal["above", "below"] | None = None
    group: str | None = None
    legs: tuple[str, ...] = ()
    eta: float | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """``contracts`` YES contracts held long or short at entry ``price``."""

    contract: str
    side: Side
    contracts: float
    price: float

    @property
    def max_loss(self) -> float:
        """Loss if the contract settles against the position (full collateral)."""
        return self.contracts * (self.price if self.side == "long" else 1.0 - self.price)


@dataclass(frozen=True)
class Book:
    """A validated book: contracts, positions, hierarchy and settings."""

    name: str
    hierarchy: Hierarchy
    contracts: Mapping[str, Contract]
    positions: tuple[Position, ...]
    settings: BookSettings = field(default_factory=BookSettings)

    @property
    def full_collateral(self) -> float:
        """Sum of per-position maximum losses: no netting at all."""
        return math.fsum(p.max_loss for p in self.positions)  # exact: order-independent

    def subset(self, clusters: set[str]) -> Book:
        """The same book restricted to positions in ``clusters`` (parlay legs kept)."""
        keep = tuple(p for p in self.positions if self.contracts[p.contract].cluster in clusters)
        return Book(self.name, self.hierarchy, self.contracts, keep, self.settings)


def build_book(spec: BookSpec, hierarchy: Hierarchy) -> Book:
    """Validate a parsed book against ``hierarchy``."""
    contracts: dict[str, Contract] = {}
    for i, cspec in enumerate(spec.contracts):
        if cspec.id in contracts:
            raise MarginError(
                INVALID_BOOK, f"contracts[{i}].id", f"duplicate contract id {cspec.id!r}"
            )
        contracts[cspec.id] = _place_contract(cspec, hierarchy, f"contracts[{i}]")
    for i, cspec in enumerate(spec.contracts):
        _check_legs(cspec, contracts, f"contracts[{i}].legs")
    _check_groups(spec.contracts, contracts)
    _check_strike_order(spec.contracts)
    positions = []
    for i, pspec in enumerate(spec.positions):
        if pspec.contract not in contracts:
            raise MarginError(
                UNKNOWN_CONTRACT, f"positions[{i}].contract", f"unknown contract {pspec.contract!r}"
            )
        price = contracts[pspec.contract].price if pspec.price is None else pspec.price
        positions.append(Position(pspec.contract, pspec.side, pspec.contracts, price))
    return Book(spec.name, hierarchy, contracts, tuple(positions), spec.settings)


def _place_contract(spec: ContractSpec, hierarchy: Hierarchy, where: str) -> Contract:
    """Resolve a contract's cluster and check the fields its kind needs."""
    if spec.kind == "threshold":
        if spec.underlying is None or spec.strike is None or spec.direction is None:
            raise MarginError(
                INVALID_BOOK, where, "a threshold contract needs underlying, strike, direction"
            )
        if spec.underlying not in hierarchy.underlying_cluster:
            raise MarginError(
                UNKNOWN_UNDERLYING, f"{where}.underlying", f"unknown underlying {spec.underlying!r}"
            )
        cluster = hierarchy.underlying_cluster[spec.underlying]
        if spec.cluster is not None and spec.cluster != cluster:
            raise MarginError(
                INVALID_BOOK,
                f"{where}.cluster",
                f"{spec.underlying} lives in {cluster}, was {spec.cluster!r}",
            )
    else:
        if spec.cluster is None:
            raise MarginError(
                INVALID_BOOK, f"{where}.cluster", f"a {spec.kind} contract needs a cluster"
            )
        if spec.cluster not in hierarchy.clusters:
            raise MarginError(
                UNKNOWN_CLUSTER, f"{where}.cluster", f"unknown cluster {spec.cluster!r}"
            )
        cluster = spec.cluster
        model = hierarchy.clusters[cluster].model
        if model != spec.kind:
            raise MarginError(
                INVALID_BOOK,
                f"{where}.kind",
                f"cluster {cluster} holds {model} contracts, was {spec.kind!r}",
            )
        if spec.kind == "exclusive" and not spec.group:
            raise MarginError(INVALID_BOOK, f"{where}.group", "an exclusive contract needs a group")
        if spec.kind == "parlay" and not spec.legs:
            raise MarginError(INVALID_BOOK, f"{where}.legs", "a parlay needs at least one leg")
    return Contract(
        spec.id,
        spec.kind,
        cluster,
        spec.price,
        spec.underlying,
        spec.strike,
        spec.direction,
        spec.group,
        tuple(spec.legs),
        spec.eta,
    )


def _check_legs(spec: ContractSpec, contracts: Mapping[str, Contract], where: str) -> None:
    for leg in spec.legs:
        if leg not in contracts:
            raise MarginError(UNKNOWN_CONTRACT, where, f"unknown leg {leg!r}")
        if contracts[leg].kind == "parlay":
            raise MarginError(INVALID_BOOK, where, f"a leg cannot itself be a parlay, was {leg!r}")


def _check_groups(specs: Sequence[ContractSpec], contracts: Mapping[str, Contract]) -> None:
    """An exclusive group lives in one cluster (it is drawn as one categorical)."""
    home: dict[str, str] = {}
    for i, spec in enumerate(specs):
        c = contracts[spec.id]
        if c.group is None or c.kind != "exclusive":
            continue
        if home.setdefault(c.group, c.cluster) != c.cluster:
            raise MarginError(
                INVALID_BOOK, f"contracts[{i}].group", f"group {c.group!r} spans two clusters"
            )


def _check_strike_order(specs: Sequence[ContractSpec]) -> None:
    """Prices on one underlying must imply thresholds ordered like the strikes.

    ``above K`` is YES iff Z > Phi^-1(1-p) and ``below K`` iff Z < Phi^-1(p); both map a
    strike to a latent threshold, and that map must be non-decreasing in the strike
    (``below`` sorted first at equal strikes, so the two events stay disjoint).
    """
    normal = NormalDist()
    by_underlying: dict[str, list[tuple[float, int, float, int]]] = {}
    for i, s in enumerate(specs):
        if s.kind != "threshold" or s.underlying is None or s.strike is None:
            continue
        below = s.direction == "below"
        t = normal.inv_cdf(s.price) if below else normal.inv_cdf(1.0 - s.price)
        by_underlying.setdefault(s.underlying, []).append((s.strike, 0 if below else 1, t, i))
    for underlying, items in by_underlying.items():
        items.sort()
        for prev, cur in itertools.pairwise(items):
            if cur[2] < prev[2] - 1e-12:
                raise MarginError(
                    INVALID_BOOK,
                    f"contracts[{cur[3]}].price",
                    f"price {specs[cur[3]].price} is inconsistent with strike ordering on"
                    f" {underlying} (contract {specs[prev[3]].id!r} at strike {prev[0]})",
                )


def parse_book(data: Any, hierarchy: Hierarchy | None = None, base_dir: Path | None = None) -> Book:
    """Validate a parsed YAML mapping into a book."""
    try:
        spec = BookSpec.model_validate(data)
    except ValidationError as exc:
        raise as_margin_error(exc, INVALID_BOOK) from exc
    if hierarchy is None:
        path = None if spec.hierarchy is None else (base_dir or Path.cwd()) / spec.hierarchy
        hierarchy = load_hierarchy(path)
    return build_book(spec, hierarchy)


def load_book(path: Path, hierarchy: Hierarchy | None = None) -> Book:
    """Load and validate a book YAML file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise MarginError(INVALID_BOOK, "book", f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MarginError(INVALID_BOOK, "book", f"not valid YAML: {exc}") from exc
    return parse_book(data, hierarchy, Path(path).parent)
