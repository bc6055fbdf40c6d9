"""``prophex/money.py`` owns every rounding: no bare ``//``, ``%`` or ``divmod`` on money in the
engine. Each operator found by walking the syntax tree must be on the allow-list with a reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[3] / "prophex" / "engine"

# (file name, source text of the expression) -> why it is not money
ALLOWED: dict[tuple[str, str], str] = {
    ("funding.py", "start // interval"): "seconds of simulated time, not money",
    ("funding.py", "end // interval"): "seconds of simulated time, not money",
}


_ROUNDING_OPS = (ast.FloorDiv, ast.Mod)


def _is_rounding(node: ast.AST) -> bool:
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        return isinstance(node.op, _ROUNDING_OPS)
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "divmod"


def _divisions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [ast.unparse(node) for node in ast.walk(tree) if _is_rounding(node)]


def test_engine_has_no_bare_rounding_division() -> None:
    offenders = [
        f"{path.relative_to(ENGINE)}: {expr}"
        for path in sorted(ENGINE.rglob("*.py"))
        for expr in _divisions(path)
        if (path.name, expr) not in ALLOWED
    ]
    assert offenders == [], "round through prophex.money (mul_div_floor/ceil...): " + repr(
        offenders
    )


def test_allow_list_is_not_stale() -> None:
    present = {(p.name, e) for p in ENGINE.rglob("*.py") for e in _divisions(p)}
    assert set(ALLOWED) <= present
