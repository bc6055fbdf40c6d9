"""Every engine class deep-copies and pickles, and the copy equals the original, on the pure and
the compiled build alike (prophex/engine/pickling.py; docs/performance.md, "Compiled build")."""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import enum
import importlib
import os
import pickle
import pkgutil
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, is_typeddict

import pytest

import prophex.engine
from prophex.bench.core import bench_params, build_plan, setup_commands
from prophex.engine.core import Core
from prophex.engine.domain import MarginMode, MarketStatus, Outcome, Side
from prophex.engine.events import Journal
from prophex.engine.exchange import Exchange
from prophex.engine.liquidation import HeapEntry
from prophex.engine.state import digest
from prophex.errors import ProphexError
from prophex.margin.incremental import FastResult
from prophex.perf import engine_build


def engine_classes() -> list[type[Any]]:
    found: list[type[Any]] = []
    for info in pkgutil.walk_packages(prophex.engine.__path__, "prophex.engine."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                if Protocol in getattr(value, "__mro__", ()) or getattr(value, "_is_protocol", 0):
                    continue  # a structural type: nothing to instantiate
                if is_typeddict(value):
                    continue  # plain dicts at run time
                found.append(value)
    return found


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    """An exchange after a workload with opens, closes and liquidations."""
    exchange = Exchange.create(bench_params())
    for command in setup_commands()[:110]:
        exchange.apply(command)
    for command in build_plan(3_000, seed=3):
        with contextlib.suppress(ProphexError):
            exchange.apply(command)
    return exchange


def plain(value: Any, depth: int = 0) -> Any:
    """Comparable plain data of an engine object (classes without ``__eq__`` included)."""
    if depth > 8:
        return repr(type(value))
    if isinstance(value, dict):
        return {repr(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v, depth + 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, Exchange | Core):
        return digest(value.state)
    if isinstance(value, HeapEntry):  # compiled classes expose no __slots__: name the fields
        return ["HeapEntry", value.num, value.den, value.position_id, value.version]
    if isinstance(value, Journal):
        return ["Journal", plain(value.postings, depth + 1)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return [type(value).__name__, *(plain(getattr(value, f.name), depth + 1) for f in fields)]
    slots = [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ())]
    if slots and not isinstance(value, enum.Enum):
        return [type(value).__name__, *(plain(getattr(value, s), depth + 1) for s in slots)]
    return value


def sample(cls: type[Any], exchange: Exchange) -> Any:
    """One instance of ``cls`` with realistic field values."""
    state = exchange.state
    if issubclass(cls, enum.Enum):
        return next(iter(cls))
    if cls is Exchange:
        return exchange
    if cls is Core:
        return Core(state)
    if cls is HeapEntry:
        return HeapEntry(12, 34, 5, 6)
    if cls is Journal:
        journal = Journal()
        journal.move("wallet:a", "treasury", 3)
        return journal
    if cls is type(state):
        return state
    assert dataclasses.is_dataclass(cls), cls
    declared = source_annotations(cls)
    return cls(**{f.name: value_for(declared[f.name], exchange) for f in dataclasses.fields(cls)})


def source_annotations(cls: type[Any]) -> dict[str, str]:
    """The field annotations of ``cls`` as written in its source file. The compiled build keeps
    only erased runtime types (``dict`` for ``dict[str, int]``), so they are read from the
    ``.py`` file that sits beside the extension module in both builds."""
    declared: dict[str, str] = {}
    for base in reversed([c for c in cls.__mro__ if dataclasses.is_dataclass(c)]):
        declared |= _own_annotations(base)  # inherited fields (shared event heads) first
    return declared


def _own_annotations(cls: type[Any]) -> dict[str, str]:
    module = sys.modules[cls.__module__]
    path = Path(str(module.__file__))
    source = path.parent / (cls.__module__.rsplit(".", 1)[1] + ".py")
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return {
                item.target.id: ast.unparse(item.annotation)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    raise AssertionError(f"{cls} not found in {source}")


def value_for(annotation: str, exchange: Exchange) -> Any:
    state = exchange.state
    market = next(m for m in state.markets.values() if m.liquidations.size())
    position = next(iter(state.positions.values()))
    by_name: dict[str, Any] = {
        "int": 7,
        "str": "A",
        "bool": True,
        "Fraction": Fraction(1, 3),
        "Side": Side.A,
        "Outcome": Outcome.A,
        "MarketStatus": MarketStatus.OPEN,
        "MarketKind": "prediction",
        "Market": market,
        "Position": position,
        "LiquidationIndex": market.liquidations,
        "Params": state.params,
        "Rules": state.rules,
        "list[Market]": [market],
        "list[Posting]": [("wallet:a", -5), ("treasury", 5)],
        "list[str]": ["m000"],
        "dict[int, Position]": dict(list(state.positions.items())[:20]),
        "dict[str, Market]": dict(list(state.markets.items())[:3]),
        "dict[str, list[Keyed]]": market.liquidations.heaps,
        "dict[str, list[Position]]": {"A": [position]},
        "list[tuple[Position, int]]": [(position, 3)],
        "dict[str, Any]": {"k": 1, "nested": {"x": [1, 2]}},
        "JsonObject": {"k": 1, "nested": {"x": [1, 2]}},
        "MarginMode": MarginMode.PORTFOLIO,
        "dict[str, dict[str, int | str]]": {"7": {"account": "a", "pnl": -3}},
        "dict[str, int]": {"A": 1},
        "dict[str, str]": {"a": "b"},
        "set[int]": {1, 2},
        "set[str]": {"a"},
    }
    if annotation == "FastResult":  # the margin engine's answer a portfolio plan carries
        return FastResult(1.5, 0.1, 9.0, 1.4, 0.1, 1.2, 0.5, "base", {"x": 0.1}, {"c": (1.4, 0.1)})
    base = annotation.removesuffix(" | None")
    if base in by_name:
        return by_name[base]
    if base in ("Event", "Result", "OrderResult"):  # unions: a member stands for them
        member = {"Event": "Deposited", "Result": "CloseResult", "OrderResult": "OpenResult"}
        return sample(_engine_class(member[base]), exchange)
    if base == "dict[str, BatchMarketResult]":
        return {"m": sample(_engine_class("BatchMarketResult"), exchange)}
    if base == "list[Transaction]":
        receipt = exchange.apply(setup_commands()[-1])  # a deposit: one transaction
        return receipt.transactions
    if base.startswith("tuple[") and base.endswith(", ...]"):
        return (sample(_engine_class(base[6:-6]), exchange),)
    if base[:1].isupper():
        return sample(_engine_class(base), exchange)
    return eval(base.split("[")[0])()  # an empty builtin container


def _engine_class(name: str) -> type[Any]:
    matches = [c for c in engine_classes() if c.__name__ == name]
    assert matches, name
    return matches[0]


CLASSES = engine_classes()


@pytest.mark.parametrize("cls", CLASSES, ids=[f"{c.__module__}.{c.__name__}" for c in CLASSES])
def test_deepcopy_and_pickle(cls: type[Any], exchange: Exchange) -> None:
    original = sample(cls, exchange)
    expected = plain(original)
    copied = copy.deepcopy(original)
    assert type(copied) is cls
    assert plain(copied) == expected
    restored = pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(restored) is cls
    assert plain(restored) == expected


def test_copied_exchange_runs_on_identically(exchange: Exchange) -> None:
    """A deep copy and a pickled copy continue exactly like the original."""
    twins = [copy.deepcopy(exchange), pickle.loads(pickle.dumps(exchange))]
    plan = build_plan(3_400, seed=3)[3_000:]
    for engine in [exchange, *twins]:
        for command in plan:
            with contextlib.suppress(ProphexError):
                engine.apply(command)
    assert {digest(e.state) for e in twins} == {digest(exchange.state)}


def test_the_expected_build_runs() -> None:
    """``make test-compiled`` sets PROPHEX_EXPECT_BUILD=compiled: this proves the suite really
    ran on the mypyc build (every engine module is an extension)."""
    expected = os.environ.get("PROPHEX_EXPECT_BUILD", "pure")
    assert engine_build() == expected
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(prophex.engine.__path__, "prophex.engine.")
    ]
    compiled = {m.__name__ for m in modules if not str(m.__file__).endswith(".py")}
    if expected == "pure":
        assert compiled == set()
    else:
        assert {m.__name__ for m in modules} - compiled == set()
