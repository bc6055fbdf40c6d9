"""Structure gates for the engine: small files and functions, and the layer contract.

The engine and the money/params foundations import nothing above them (DESIGN.md): no ledger,
chain, API, scenarios or CLI. The one sibling they may import is ``prophex.margin`` (portfolio
margin prices portfolio-mode accounts); it imports nothing else from ``prophex``.
Ruff's C901/PLR0912/PLR0915 bound complexity (pyproject.toml);
this bounds size, which ruff does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3] / "prophex"
ENGINE_FILES = [*sorted((ROOT / "engine").rglob("*.py")), ROOT / "money.py", ROOT / "params.py"]
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 70
FOUNDATIONS = (
    "prophex.engine",
    "prophex.money",
    "prophex.params",
    "prophex.errors",
    "prophex.margin",  # the portfolio-margin library: a sibling foundation (issue 9)
)


def test_engine_files_are_small() -> None:
    big = {
        p.name: n for p in ENGINE_FILES if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert big == {}


def test_engine_functions_are_small() -> None:
    long: dict[str, int] = {}
    for path in ENGINE_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.name}:{node.name}"] = length
    assert long == {}


def test_engine_imports_nothing_above_it() -> None:
    offenders: list[str] = []
    for path in ENGINE_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith("prophex") and not name.startswith(FOUNDATIONS)
            ]
    assert offenders == []


def test_margin_imports_only_itself() -> None:
    """``prophex.margin`` may be imported by the engine, so it must not import the engine."""
    offenders: list[str] = []
    for path in sorted((ROOT / "margin").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("prophex") and not n.startswith("prophex.margin")
            ]
    assert offenders == []
