"""Exchange positions as a margin book: the bridge from Prophex positions to contracts.

A Prophex position (side A or B, notional and cost basis in integer micro-USD) becomes
contracts paying $1 if its side wins; the market taxonomy says what kind of contract each
market is (docs/portfolio-margin.md, "From exchange positions").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prophex.margin.contracts import Book, BookSettings, PositionSpec, parse_book
from prophex.margin.errors import INVALID_BOOK, UNKNOWN_CONTRACT, MarginError
from prophex.margin.hierarchy import Hierarchy, load_hierarchy

MICRO = 1_000_000


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    """A Prophex position as the exchange stores it (integer micro-USD)."""

    market_id: str
    side: Literal["A", "B"]
    notional: int
    cost_basis: int


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, Mapping) else getattr(obj, key)


def book_from_positions(
    positions: Sequence[ExchangePosition | Mapping[str, Any]],
    taxonomy: Mapping[str, Mapping[str, Any]],
    *,
    hierarchy: Hierarchy | None = None,
    settings: BookSettings | None = None,
    name: str = "account",
) -> Book:
    """Build a book from exchange positions and the market taxonomy.

    A position long side X with notional N (micro-USD) at entry ``e = cost_basis / N`` is N
    USD of contracts paying $1 if X wins, bought at e; long B is short YES of A at 1 - e.
    ``taxonomy[market_id]`` holds the keys of ``ContractSpec`` except ``id`` (``kind`` or
    ``contract_kind``; ``price`` optional, the A probability, else taken from the entry).
    """
    specs: list[PositionSpec] = []
    entry_a: dict[str, float] = {}
    for i, pos in enumerate(positions):
        market, side = str(_get(pos, "market_id")), _get(pos, "side")
        notional, cost = int(_get(pos, "notional")), int(_get(pos, "cost_basis"))
        where = f"positions[{i}]"
        if side not in ("A", "B"):
            raise MarginError(INVALID_BOOK, f"{where}.side", f"must be 'A' or 'B', was {side!r}")
        if notional <= 0:
            raise MarginError(INVALID_BOOK, f"{where}.notional", f"must be > 0, was {notional}")
        if not 0 < cost < notional:
            raise MarginError(
                INVALID_BOOK, f"{where}.cost_basis", f"must be in (0, notional), was {cost}"
            )
        if market not in taxonomy:
            raise MarginError(
                UNKNOWN_CONTRACT, f"{where}.market_id", f"no taxonomy for market {market!r}"
            )
        entry = cost / notional
        price_a = entry if side == "A" else 1.0 - entry
        entry_a.setdefault(market, price_a)
        specs.append(
            PositionSpec(
                contract=market,
                side="long" if side == "A" else "short",
                contracts=notional / MICRO,
                price=price_a,
            )
        )
    contracts = [
        _taxonomy_contract(m, taxonomy, entry_a) for m in _needed_markets(entry_a, taxonomy)
    ]
    raw: dict[str, Any] = {
        "name": name,
        "contracts": contracts,
        "positions": [s.model_dump() for s in specs],
    }
    if settings is not None:
        raw["settings"] = settings.model_dump()
    return parse_book(raw, hierarchy or load_hierarchy())


def _needed_markets(
    held: Mapping[str, float], taxonomy: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Markets with a position plus, transitively, the legs of held parlays."""
    needed, todo = [], list(held)
    while todo:
        market = todo.pop()
        if market in needed:
            continue
        needed.append(market)
        legs = taxonomy.get(market, {}).get("legs") or []
        todo.extend(str(leg) for leg in legs)
    return sorted(needed)


def _taxonomy_contract(
    market: str, taxonomy: Mapping[str, Mapping[str, Any]], entry_a: Mapping[str, float]
) -> dict[str, Any]:
    if market not in taxonomy:
        raise MarginError(UNKNOWN_CONTRACT, f"taxonomy.{market}", f"no taxonomy for leg {market!r}")
    data = {**dict(taxonomy[market]), "id": market}
    if "price" not in data:
        if market not in entry_a:
            raise MarginError(
                INVALID_BOOK, f"taxonomy.{market}.price", "a leg without a position needs a price"
            )
        data["price"] = entry_a[market]
    return data
