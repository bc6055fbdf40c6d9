"""The margin lab's API: a book's full portfolio-margin waterfall, example books, YAML parsing,
the hierarchy tree, and a live account's book.

``POST /v1/margin/requirement`` takes the book schema of ``prophex margin`` (the YAML, as a
JSON object) plus the CLI's ``paths``, ``seed``, ``rule`` and optional correlation overrides,
and returns every figure the CLI prints (the same ``to_dict`` as ``prophex margin --json``)
plus the loss distributions of the risk assets and of the whole book with their VaR and ES.
The figures are analytic USD floats (what the engine computes); the exchange-facing
requirement is also given as integer micro-USD and as a decimal string, rounded up.

Bad books are 422 problem+json with the engine's code (``INVALID_BOOK``, ``UNKNOWN_CONTRACT``,
``INVALID_PARAMETER``...) and the offending ``field``; never a 500.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from importlib import resources
from typing import Any, Literal

import anyio
import numpy as np
import yaml
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from prophex.api.deps import Ctx, Public, Trader
from prophex.api.routers.common import problems
from prophex.errors import NotFound, ProphexError
from prophex.margin import Book, MarginError, compute_margin, params_for, parse_book
from prophex.margin.hierarchy import Hierarchy, load_hierarchy
from prophex.margin.risk import BINDING_LABELS, expected_shortfall, sum_losses, tail_size, worst
from prophex.margin.scenarios import simulate_cluster_losses
from prophex.money import format_usd

router = APIRouter(prefix="/v1", tags=["margin lab"])

PATHS_MAX = 1_000_000
POSITIONS_MAX = 2_000
CONTRACTS_MAX = 1e12  # per position: keeps every sum finite (fsum raises on overflow)
HISTOGRAM_BINS = 60
BOOKS_PACKAGE = "prophex.api.dashboard.books"
COMPUTE_SLOTS = 2  # at most two simulations at once: the block writer keeps its CPU
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def slots(name: str, size: int) -> asyncio.Semaphore:
    """A semaphore per event loop (an asyncio semaphore must not be shared between loops)."""
    per_loop = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    if name not in per_loop:
        per_loop[name] = asyncio.Semaphore(size)
    return per_loop[name]


class MarginRejected(ProphexError):
    """A margin-engine rejection; ``code`` is the engine's (set per instance via subclass)."""

    status = 422
    title = "The book or a margin parameter is invalid"


_REJECTIONS: dict[str, type[MarginRejected]] = {}


def rejected(code: str, field: str, message: str) -> MarginRejected:
    cls = _REJECTIONS.get(code)
    if cls is None:
        cls = type(f"Margin{code.title().replace('_', '')}", (MarginRejected,), {"code": code})
        _REJECTIONS[code] = cls
    return cls(message, field=field)


def from_margin_error(exc: MarginError) -> MarginRejected:
    return rejected(exc.code, exc.field, exc.message)


class RequirementRequest(BaseModel):
    """A book in the schema of ``prophex margin`` plus the CLI's options."""

    model_config = ConfigDict(extra="forbid", strict=True)

    book: dict[str, Any] = Field(
        description="The book YAML as a JSON object: name, settings, contracts, positions."
    )
    paths: int = Field(100_000, ge=1_000, le=PATHS_MAX, description="Monte-Carlo paths")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the scenario set")
    rule: Literal["joint", "sqrt"] = Field("joint", description="base aggregation rule")
    rho_within: float | None = Field(None, ge=0, le=1, description="override, like --rho-within")
    rho_cross: float | None = Field(None, ge=0, le=1, description="override, like --rho-cross")


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    yaml: str = Field(description="book YAML text (the body limit applies: 64 KiB)")


class _NoAliasLoader(yaml.SafeLoader):
    """Safe loader that refuses anchors/aliases (no exponential 'billion laughs' expansion)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not accepted")
        return super().compose_node(parent, index)


def load_yaml_text(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise rejected("INVALID_BOOK", "yaml", f"not valid YAML: {exc}") from None
    except RecursionError:
        raise rejected("INVALID_BOOK", "yaml", "YAML nested too deeply") from None


_HIERARCHY: Hierarchy | None = None


def default_hierarchy() -> Hierarchy:
    global _HIERARCHY
    if _HIERARCHY is None:
        _HIERARCHY = load_hierarchy()
    return _HIERARCHY


def validate_book(data: Any) -> Book:
    """Parse a book mapping against the default hierarchy, with the API's size limits."""
    if not isinstance(data, dict):
        raise rejected("INVALID_BOOK", "book", "a book is a mapping")
    if data.get("hierarchy") is not None:
        raise rejected("INVALID_BOOK", "book.hierarchy", "the API uses the default hierarchy only")
    positions = data.get("positions")
    if isinstance(positions, list) and len(positions) > POSITIONS_MAX:
        raise rejected("INVALID_BOOK", "book.positions", f"at most {POSITIONS_MAX} positions")
    try:
        book = parse_book(data, default_hierarchy())
    except MarginError as exc:
        raise from_margin_error(exc) from None
    for i, pos in enumerate(book.positions):
        if pos.contracts > CONTRACTS_MAX:
            raise rejected(
                "INVALID_BOOK",
                f"positions[{i}].contracts",
                f"at most {CONTRACTS_MAX:.0e} contracts per position",
            )
    return book


def book_mapping(book: Book) -> dict[str, Any]:
    """A validated book back in the YAML schema (what ``prophex margin`` reads)."""
    contracts = []
    for c in book.contracts.values():
        spec: dict[str, Any] = {"id": c.id, "kind": c.kind}
        if c.kind != "threshold":
            spec["cluster"] = c.cluster
        for key in ("underlying", "strike", "direction", "group", "eta"):
            value = getattr(c, key)
            if value is not None:
                spec[key] = value
        if c.legs:
            spec["legs"] = list(c.legs)
        spec["price"] = c.price
        contracts.append(spec)
    positions = [
        {"contract": p.contract, "side": p.side, "contracts": p.contracts, "price": p.price}
        for p in book.positions
    ]
    return {
        "name": book.name,
        "settings": book.settings.model_dump(),
        "contracts": contracts,
        "positions": positions,
    }


def distribution(losses: Any, alpha: float) -> dict[str, Any]:
    """Histogram plus VaR (the smallest of the worst ceil((1-alpha)N) losses) and ES."""
    n = int(losses.shape[0])
    k = tail_size(n, alpha)
    var = float(worst(losses, k).min())
    es, es_se = expected_shortfall(losses, alpha)
    counts, edges = np.histogram(losses, bins=HISTOGRAM_BINS)
    return {
        "paths": n,
        "edges": edges.tolist(),
        "counts": counts.astype(int).tolist(),
        "var": var,
        "es": es,
        "es_se": es_se,
        "mean": float(losses.mean()),
        "p_loss": float(np.count_nonzero(losses > 0)) / n,
    }


def requirement(body: RequirementRequest) -> dict[str, Any]:
    """The full lab answer (blocking: run it in a worker thread)."""
    started = time.perf_counter()
    book = validate_book(body.book)
    try:
        params = params_for(
            book,
            paths=body.paths,
            seed=body.seed,
            rule=body.rule,
            rho_within=body.rho_within,
            rho_cross=body.rho_cross,
        )
        result = compute_margin(book, params)
        out = result.to_dict()
        dists: dict[str, Any] = {}
        if book.positions:
            losses = simulate_cluster_losses(book, params.scenario())
            names = sorted(losses)
            dists["book"] = distribution(sum_losses([losses[c] for c in names]), params.alpha)
            risky = [c for c in names if book.hierarchy.clusters[c].model == "threshold"]
            if risky:
                dists["risk_assets"] = distribution(
                    sum_losses([losses[c] for c in risky]), params.alpha
                )
    except MarginError as exc:
        raise from_margin_error(exc) from None
    except (OverflowError, FloatingPointError) as exc:
        raise rejected("INVALID_BOOK", "book", f"figures out of range: {exc}") from None
    out.update(
        binding_label=BINDING_LABELS[result.binding],
        distributions=dists,
        sqrt_understatement={
            "joint_minus_sqrt": result.base_joint - result.base_sqrt,
            "share_of_joint": (
                0.0
                if result.base_joint <= 0
                else (result.base_joint - result.base_sqrt) / result.base_joint
            ),
        },
        pm_usd=format_usd(result.pm_micro_usd),
        full_collateral_usd=format_usd(out["full_collateral_micro_usd"]),
        positions=len(book.positions),
        server_ms=round((time.perf_counter() - started) * 1000.0, 1),
    )
    finite: dict[str, Any] = _finite(out)
    return finite


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity; none should appear, but never emit invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@router.post(
    "/margin/requirement",
    operation_id="margin_requirement",
    responses=problems(),
    dependencies=[Public],
)
async def margin_requirement(body: RequirementRequest) -> dict[str, Any]:
    """Portfolio margin of a book: FC, per-cluster ES and its Monte-Carlo standard error, base
    by both rules, floors, add-ons, PM, binding control, capital released, the correlation
    matrix, and the loss distributions (risk assets and whole book) with VaR and ES. The same
    book, paths, seed and rule give exactly what ``prophex margin --json`` prints."""
    async with slots("margin", COMPUTE_SLOTS):
        answer: dict[str, Any] = await anyio.to_thread.run_sync(requirement, body)
        return answer


@router.post(
    "/margin/parse",
    operation_id="margin_parse_book",
    responses=problems(),
    dependencies=[Public],
)
def margin_parse(body: ParseRequest) -> dict[str, Any]:
    """Validate book YAML text and return it, as written, as the JSON book
    ``/margin/requirement`` takes."""
    data = load_yaml_text(body.yaml)
    validate_book(data)
    return {"book": data}


def _example_names() -> list[str]:
    files = resources.files(BOOKS_PACKAGE).iterdir()
    return sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml"))


@router.get(
    "/margin/books", operation_id="margin_list_books", responses=problems(), dependencies=[Public]
)
def margin_books() -> dict[str, Any]:
    """The shipped example books (the reference 8-cluster book and scenarios/portfolio/)."""
    return {"items": _example_names()}


@router.get(
    "/margin/books/{name}",
    operation_id="margin_get_book",
    responses=problems(404),
    dependencies=[Public],
)
def margin_book(name: str) -> dict[str, Any]:
    """One example book, as JSON and as its YAML text."""
    if name not in _example_names():
        raise NotFound(f"no example book {name!r}", resource="book")
    text = resources.files(BOOKS_PACKAGE).joinpath(f"{name}.yaml").read_text()
    data = load_yaml_text(text)
    validate_book(data)
    return {"name": name, "book": data, "yaml": text}


def _tree(hierarchy: Hierarchy) -> dict[str, Any]:
    root: dict[str, Any] = {"name": "Root", "children": []}
    for cluster in hierarchy.clusters.values():
        node = root
        for name in cluster.path[1:]:
            child = next((c for c in node["children"] if c["name"] == name), None)
            if child is None:
                child = {"name": name, "kind": hierarchy.node_kinds.get(name), "children": []}
                node["children"].append(child)
            node = child
        node.update(kind="cluster", model=cluster.model, underlyings=list(cluster.underlyings))
    return root


@router.get(
    "/margin/hierarchy",
    operation_id="margin_hierarchy",
    responses=problems(),
    dependencies=[Public],
)
def margin_hierarchy() -> dict[str, Any]:
    """The default asset hierarchy (classes -> clusters) and its default correlations."""
    h = default_hierarchy()
    return {"rho_within": h.rho_within, "rho_cross": h.rho_cross, "tree": _tree(h)}


@router.get(
    "/account/margin-book",
    operation_id="get_account_margin_book",
    responses=problems(401),
)
def account_margin_book(ctx: Ctx, caller: Trader) -> dict[str, Any]:
    """This account's open positions as a margin book (the mapping of ``prophex
    account-margin``: long A = long YES, long B = short YES, current spot as the price)."""
    from prophex.api.portfolio import market_taxonomy
    from prophex.margin import book_from_positions

    with ctx.read() as exchange:
        state = exchange.state
        positions = sorted(
            (
                p
                for p in state.positions.values()
                if p.account == caller.account and p.status == "open"
            ),
            key=lambda p: p.id,
        )
        taxonomy = {p.market: market_taxonomy(state.markets[p.market]) for p in positions}
        rows = [
            {
                "market_id": p.market,
                "side": p.side,
                "notional": p.notional,
                "cost_basis": p.cost_basis,
            }
            for p in positions
        ]
        isolated = sum(p.margin for p in positions)
    empty: dict[str, Any] = {"name": f"account {caller.account}", "contracts": [], "positions": []}
    try:
        book = (
            book_mapping(book_from_positions(rows, taxonomy, name=f"account {caller.account}"))
            if rows
            else empty
        )
    except MarginError as exc:
        raise from_margin_error(exc) from None
    return {
        "account": caller.account,
        "positions": len(rows),
        "isolated_margin": format_usd(isolated),
        "book": book,
    }
