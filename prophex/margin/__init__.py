"""Portfolio margin for binary-outcome books (independent of the exchange core).

Typical use::

    book = load_book(Path("scenarios/portfolio/reference-8-cluster.yaml"))
    result = compute_margin(book, params_for(book, paths=200_000, seed=7, rule="joint"))
    result.pm, result.pm_micro_usd, result.binding
"""

from prophex.margin.contracts import (
    AddOnParams,
    Book,
    BookSettings,
    Contract,
    Position,
    load_book,
    parse_book,
)
from prophex.margin.errors import MarginError
from prophex.margin.exchange_book import ExchangePosition, book_from_positions
from prophex.margin.hierarchy import Hierarchy, load_hierarchy
from prophex.margin.requirement import compute_margin, requirement_micro_usd
from prophex.margin.risk import MarginParams, MarginResult, expected_shortfall, params_for
from prophex.margin.scenarios import ScenarioParams, simulate_cluster_losses

__all__ = [
    "AddOnParams",
    "Book",
    "BookSettings",
    "Contract",
    "ExchangePosition",
    "Hierarchy",
    "MarginError",
    "MarginParams",
    "MarginResult",
    "Position",
    "ScenarioParams",
    "book_from_positions",
    "compute_margin",
    "expected_shortfall",
    "load_book",
    "load_hierarchy",
    "params_for",
    "parse_book",
    "requirement_micro_usd",
    "simulate_cluster_losses",
]
