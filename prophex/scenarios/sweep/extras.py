"""The optional ``sweep`` extra: refused up front, with the install line, when it is missing."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

from prophex.scenarios.sweep.errors import SweepError

SWEEP_EXTRA = (
    "pip install 'prophex-sim[sweep]'  (or: pip install pandas pyarrow 'dask[distributed]')"
)


def missing_modules(names: Sequence[str]) -> list[str]:
    """The modules of ``names`` that cannot be imported here (checked without importing)."""
    missing = []
    for name in names:
        try:
            absent = sys.modules.get(name, 0) is None or importlib.util.find_spec(name) is None
        except (ImportError, ValueError):
            absent = True
        if absent:
            missing.append(name)
    return missing


def require_sweep_extra(executor: str = "local") -> None:
    """Refuse, before anything runs, when the ``sweep`` extra is not installed."""
    needed = ["pandas", "pyarrow"]
    if executor != "local":
        needed.append("distributed")
    missing = missing_modules(needed)
    if missing:
        raise SweepError(
            f"prophex sweep needs {', '.join(missing)} (the 'sweep' extra): {SWEEP_EXTRA}",
            field="extra",
            missing=missing,
        )
