"""The layer contract of the package (docs/architecture.md, DESIGN.md): who may import whom.

Every ``import prophex.X...`` in ``prophex/`` counts, at module level or inside a function or an
``if TYPE_CHECKING:`` block, since a lazy import is still a dependency. A "package" is the first
name under ``prophex``: a sub-package (``engine``, ``api``, ...) or a root module (``money``,
``cli``, ...).

- Foundations (``errors``, ``money``, ``params``, ``perf``) import only each other; ``perf``
  also reads ``prophex.engine`` to name the build (pure or compiled).
- ``margin`` imports nothing else of prophex (the engine may import it).
- ``engine`` imports only ``margin`` and the foundations.
- ``ledger`` imports only ``engine`` and the foundations; ``chain`` adds ``ledger``;
  ``audit`` adds ``chain`` and ``margin``.
- ``sdk`` imports only the foundations: never the server (``api``).
- The applications (``api``, ``scenarios``, ``simulation``, ``bench``, ``cli``, ``client``) may
  import anything below them, but no package imports ``cli`` or ``bench``, and the package
  graph has no cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "prophex"
FOUNDATIONS = frozenset({"errors", "money", "params", "perf"})
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "money": frozenset({"errors"}),
    "params": frozenset({"errors", "money"}),
    "perf": frozenset({"engine"}),
    "margin": frozenset(),
    "engine": FOUNDATIONS - {"perf"} | {"margin"},
    "ledger": FOUNDATIONS - {"perf"} | {"engine"},
    "chain": FOUNDATIONS | {"engine", "ledger"},
    "audit": FOUNDATIONS | {"engine", "ledger", "chain", "margin"},
    "sdk": FOUNDATIONS,
    "client": frozenset({"sdk"}),
}
TOP = frozenset({"cli", "bench"})
"""Entry points: imported by nobody but ``cli`` (which registers the benchmark commands)."""


def package_of(path: Path) -> str:
    first = path.relative_to(ROOT).parts[0]
    return first.removesuffix(".py")


def imported_packages(path: Path) -> set[str]:
    """The prophex packages ``path`` imports, itself excluded."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "prophex":
                names = [f"prophex.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        found |= {name.split(".")[1] for name in names if name.startswith("prophex.")}
    return found - {package_of(path)}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(ROOT.rglob("*.py")):
        graph[package_of(path)] |= imported_packages(path)
    return graph


def test_the_graph_sees_the_known_edges() -> None:
    """Guards the parser itself: these imports exist, so the contract below is not vacuous."""
    graph = package_graph()
    assert {"margin", "money"} <= graph["engine"]
    assert "engine" in graph["ledger"]
    assert {"engine", "ledger"} <= graph["chain"]
    assert "sdk" in graph["client"]
    assert {"api", "scenarios", "simulation", "bench"} <= graph["cli"]


def test_lower_layers_import_only_what_they_may() -> None:
    graph = package_graph()
    offenders = {
        package: sorted(graph[package] - allowed)
        for package, allowed in ALLOWED.items()
        if graph[package] - allowed
    }
    assert offenders == {}


def test_the_sdk_does_not_import_the_server() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}"
        for path in sorted((ROOT / "sdk").rglob("*.py"))
        if "api" in imported_packages(path)
    ]
    assert offenders == []


def test_nothing_imports_the_entry_points() -> None:
    graph = package_graph()
    offenders = {
        package: sorted(targets & TOP)
        for package, targets in graph.items()
        if package != "cli" and targets & TOP
    }
    assert offenders == {}


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, set())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for package in sorted(graph):
        if package not in state:
            visit(package, [package])
    assert cycles == []
