"""An account's open positions as a margin-engine book, and its portfolio requirement.

Pure functions of (positions, market tags, marks, parameters, clock): the same journal always
gives the same requirement, bit for bit. The rules (docs/portfolio-margin.md, "Trading in
portfolio mode"):

* a position long X with notional N and cost basis C is ``N / 10^6`` contracts on A bought at
  ``e = C / N`` (side A: long YES at e; side B: short YES at ``1 - e``);
* each market's contract comes from its taxonomy tags (``contract_kind``, ``cluster``,
  ``underlying``, ``strike``, ``direction``, ``group``) priced at the current mark
  ``p = OI_A / (OI_A + OI_B)``; a market with no ``cluster`` tag and kind ``independent`` is
  an independent event in a cluster of its own (``EVENT:<market>``, no offsets);
* threshold prices on one underlying that disagree with the strike order are projected onto
  it (each contract, in strike order, takes at least the previous latent threshold);
* scenarios: ``pm_paths`` paths, seed ``epoch_seed(pm_seed, time // pm_epoch_seconds)``,
  joint Monte-Carlo rule, default settings (alpha 0.99, rho 0.68 / 0.35, add-ons beta 0.10,
  gamma 0.25, lambda 0, mu 0.05);
* ``requirement = ceil(PM * 10^6 - 10^-6)`` micro-USD (``MarginResult.pm_micro_usd``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from statistics import NormalDist
from typing import Any

import yaml

from prophex.engine.state import Market
from prophex.errors import InvalidCommand
from prophex.margin import (
    Book,
    Contract,
    Hierarchy,
    MarginError,
    MarginParams,
    Position,
    parse_book,
)
from prophex.margin.hierarchy import load_hierarchy
from prophex.margin.incremental import FastResult, fast_margin
from prophex.money import MICRO, mul_div_floor
from prophex.params import Rules

OWN_CLUSTER_PREFIX = "EVENT:"
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class Holding:
    """What the margin engine reads of one open position."""

    market: str
    side: str
    notional: int
    cost_basis: int


def epoch_seed(pm_seed: int, epoch: int) -> int:
    """The scenario seed of an epoch: the first 8 bytes (big-endian) of
    ``sha256("prophex-pm:<pm_seed>:<epoch>")``, shifted right one bit (63 bits)."""
    digest = hashlib.sha256(f"prophex-pm:{pm_seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def epoch_of(rules: Rules, time: int) -> int:
    return mul_div_floor(time, 1, rules.pm_epoch_seconds)


def margin_params(rules: Rules, time: int) -> MarginParams:
    """The margin parameters in force at simulated ``time``."""
    return MarginParams(paths=rules.pm_paths, seed=epoch_seed(rules.pm_seed, epoch_of(rules, time)))


def is_untagged(tags: Mapping[str, str]) -> bool:
    return not tags.get("cluster") and tags.get("contract_kind", "independent") == "independent"


@lru_cache(maxsize=64)
def hierarchy_for(own_clusters: tuple[str, ...]) -> Hierarchy:
    """The default hierarchy plus one independent cluster per untagged market."""
    if not own_clusters:
        return load_hierarchy()
    base = load_hierarchy()
    data: dict[str, Any] = {
        "rho_within": base.rho_within,
        "rho_cross": base.rho_cross,
        "root": _default_root(),
    }
    data["root"]["children"].append(
        {
            "name": "Own-cluster events",
            "kind": "branch",
            "children": [
                {"name": c, "kind": "cluster", "model": "independent"} for c in own_clusters
            ],
        }
    )
    return Hierarchy.from_dict(data)


def _default_root() -> dict[str, Any]:
    text = resources.files("prophex.margin").joinpath("data/default-hierarchy.yaml").read_text()
    root: dict[str, Any] = yaml.safe_load(text)["root"]
    return root


def contract_spec(market_id: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """The ``ContractSpec`` fields of a market (without its price)."""
    if is_untagged(tags):
        return {"kind": "independent", "cluster": OWN_CLUSTER_PREFIX + market_id}
    spec: dict[str, Any] = {"kind": tags.get("contract_kind") or "independent"}
    for key in ("cluster", "underlying", "direction", "group"):
        if tags.get(key):
            spec[key] = tags[key]
    if tags.get("strike"):
        try:
            spec["strike"] = float(tags["strike"])
        except ValueError:
            spec["strike"] = tags["strike"]  # rejected by the margin engine with a field
    return spec


@lru_cache(maxsize=4096)
def _placed(
    market_id: str, spec_items: tuple[tuple[str, Any], ...], own: tuple[str, ...]
) -> Contract:
    """Validate one market's contract with the margin library (cached; price is a stand-in)."""
    spec = {**dict(spec_items), "id": market_id, "price": 0.5}
    try:
        book = parse_book({"contracts": [spec]}, hierarchy_for(own))
    except MarginError as exc:
        raise InvalidCommand(
            f"market {market_id!r} cannot be portfolio-margined: {exc}", field="market"
        ) from None
    return book.contracts[market_id]


def mark_a(market: Market) -> float:
    oi_a, oi_b = market.oi("A"), market.oi("B")
    return oi_a / (oi_a + oi_b)


def build_book(
    holdings: Iterable[Holding],
    markets: Mapping[str, Market],
    marks: Mapping[str, float],
) -> Book:
    """The book of ``holdings`` with contracts priced at ``marks`` (probability of A)."""
    held = [h for h in holdings if h.notional > 0]
    own = tuple(
        sorted({OWN_CLUSTER_PREFIX + h.market for h in held if is_untagged(markets[h.market].tags)})
    )
    hierarchy = hierarchy_for(own)
    contracts: dict[str, Contract] = {}
    for market_id in sorted({h.market for h in held}):
        spec = tuple(sorted(contract_spec(market_id, markets[market_id].tags).items()))
        c = _placed(market_id, spec, own)
        contracts[market_id] = Contract(
            c.id, c.kind, c.cluster, marks[market_id], c.underlying, c.strike, c.direction, c.group
        )
    _project_strike_order(contracts)
    positions = tuple(_position(h) for h in held)
    return Book("account", hierarchy, contracts, positions)


def _position(h: Holding) -> Position:
    entry = h.cost_basis / h.notional
    if h.side == "A":
        return Position(h.market, "long", h.notional / MICRO, entry)
    return Position(h.market, "short", h.notional / MICRO, 1.0 - entry)


def _project_strike_order(contracts: dict[str, Contract]) -> None:
    """Make latent thresholds non-decreasing in strike on each underlying (in place)."""
    by_underlying: dict[str, list[tuple[float, int, str]]] = {}
    for c in contracts.values():
        if c.kind == "threshold" and c.underlying is not None and c.strike is not None:
            key = (c.strike, 0 if c.direction == "below" else 1, c.id)
            by_underlying.setdefault(c.underlying, []).append(key)
    for items in by_underlying.values():
        floor = float("-inf")
        for _, _, cid in sorted(items):
            c = contracts[cid]
            below = c.direction == "below"
            t = _NORMAL.inv_cdf(c.price) if below else _NORMAL.inv_cdf(1.0 - c.price)
            if t < floor:
                price = _NORMAL.cdf(floor) if below else 1.0 - _NORMAL.cdf(floor)
                contracts[cid] = Contract(
                    c.id, c.kind, c.cluster, price, c.underlying, c.strike, c.direction, c.group
                )
                t = floor
            floor = t


def requirement(
    holdings: Iterable[Holding],
    markets: Mapping[str, Market],
    marks: Mapping[str, float],
    rules: Rules,
    time: int,
) -> tuple[int, FastResult, Book]:
    """(requirement in micro-USD, the figures, the book) of ``holdings`` at ``marks``."""
    book = build_book(holdings, markets, marks)
    try:
        result = fast_margin(book, margin_params(rules, time))
    except MarginError as exc:
        raise InvalidCommand(
            f"the book cannot be portfolio-margined: {exc}", field="market"
        ) from None
    return result.pm_micro_usd, result, book
