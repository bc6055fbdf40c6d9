"""Structure gates for the engine: small files and functions.

The layer contract (the engine imports only ``prophex.margin`` and the foundations, ``margin``
imports nothing else of prophex, ...) is tests/unit/test_layers.py, for every package.
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
