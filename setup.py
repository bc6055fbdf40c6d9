"""Opt-in compiled build of the pure core (docs/performance.md, "Compiled build").

``pip install .`` installs the pure-Python package, as always. With ``PROPHEX_COMPILE=1`` and mypy
in the build environment (``PROPHEX_COMPILE=1 pip install --no-build-isolation .``, or
``make compiled``, which compiles a copy of the checkout in place in ``build/compiled`` and runs
it with ``PYTHONPATH``), ``prophex/money.py`` and the modules of ``prophex/engine/`` are compiled
with mypyc from the same source; everything else stays Python. The compiled and pure builds give
identical digests (CI runs the engine tests on both). Never install the compiled build editable
into the dev venv: an editable compiled install silently ignores later ``.py`` edits.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

def compiled_modules() -> list[str]:
    """``prophex/money.py`` and every module of ``prophex/engine/``."""
    engine = sorted(p.as_posix() for p in Path("prophex/engine").rglob("*.py"))
    return ["prophex/money.py", *engine]


if os.environ.get("PROPHEX_COMPILE") == "1":
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit(
            "PROPHEX_COMPILE=1 needs mypy in the build environment: "
            "pip install mypy, then pip install --no-build-isolation ."
        ) from None

    setup(ext_modules=mypycify(compiled_modules(), opt_level="3", debug_level="0"))
else:
    setup()
