"""Structure gates for the whole package: small files and small functions.

Every module under ``prophex/`` stays under ``MAX_FILE_LINES`` lines and every function (and
method) under ``MAX_FUNCTION_LINES`` lines, decorators excluded, docstring included. Ruff's
C901/PLR0912/PLR0915 bound complexity (pyproject.toml); this bounds size, which ruff does not.
The layer contract (who may import whom) is tests/unit/test_layers.py.

``ALLOWED_OVER`` lists the only modules exempt (none since the changes that owned them merged;
docs/decisions.md, D132).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "prophex"
MAX_FILE_LINES = 400
"""A module has fewer lines than this (blank lines and docstrings count)."""
MAX_FUNCTION_LINES = 70
"""A function has fewer lines than this (from ``def`` to its last line)."""
ALLOWED_OVER: dict[str, str] = {}
"""Modules exempt from both limits, with the change that owns them. Nothing else may be."""


def _modules() -> list[Path]:
    return [p for p in sorted(ROOT.rglob("*.py")) if "migrations/versions" not in p.as_posix()]


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_files_are_small() -> None:
    big = {
        _name(p): n
        for p in _modules()
        if _name(p) not in ALLOWED_OVER and (n := len(p.read_text().splitlines())) >= MAX_FILE_LINES
    }
    assert big == {}


def test_functions_are_small() -> None:
    long: dict[str, int] = {}
    for path in _modules():
        if _name(path) in ALLOWED_OVER:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length >= MAX_FUNCTION_LINES:
                    long[f"{_name(path)}:{node.name}"] = length
    assert long == {}


def test_the_allowlist_names_real_modules() -> None:
    """A module that was split or renamed leaves the list rather than exempting nothing."""
    assert {name for name in ALLOWED_OVER if not (ROOT / name).exists()} == set()


def test_the_gates_see_the_package() -> None:
    """Guards the walk itself: it reads the engine, the SDK and the applications."""
    names = {_name(p) for p in _modules()}
    assert {"engine/exchange.py", "sdk/core.py", "api/app.py", "money.py"} <= names
