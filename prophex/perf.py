"""Which build runs, and the garbage-collector settings of long runs.

``build_info()`` names the build of the engine (``pure`` Python or ``compiled`` with mypyc,
docs/performance.md "Compiled build") and the interpreter; ``prophex --version`` and every
benchmark print it. ``long_run_gc()`` is the one place the collector is tuned for runs that hold
hundreds of thousands of long-lived objects (the sequencer, the benchmarks, the replayer).
"""

from __future__ import annotations

import gc
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LONG_RUN_THRESHOLDS = (50_000, 50, 100)
"""Generation-0 threshold 50,000 allocations (CPython's default is 700): the engine allocates
small short-lived objects per command and keeps about a million long-lived ones, so the default
re-traverses the long-lived heap so often that it costs 15-20% of a run. Nothing the engine
builds relies on prompt cycle collection (its objects do not form cycles)."""


def engine_build() -> str:
    """``compiled`` when the engine's modules are mypyc extension modules, else ``pure``."""
    from prophex.engine import core

    return "compiled" if not core.__file__ or not core.__file__.endswith(".py") else "pure"


def interpreter() -> str:
    """Implementation, version and the compiler that built it (e.g. ``CPython 3.11.7 GCC``)."""
    compiler = platform.python_compiler().split(" ")[0]
    return f"{platform.python_implementation()} {platform.python_version()} {compiler}".strip()


def build_info() -> dict[str, Any]:
    return {"build": engine_build(), "interpreter": interpreter()}


def raise_gc_thresholds() -> None:
    """Raise (never lower) the collector's thresholds to :data:`LONG_RUN_THRESHOLDS`.
    Idempotent; the sequencer calls it when it opens, as a long-running writer."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(current, LONG_RUN_THRESHOLDS, strict=True)))


@contextmanager
def long_run_gc(freeze: bool = True) -> Iterator[None]:
    """Collect cycles rarely for the duration of a long run, then restore the thresholds.

    With ``freeze`` the objects alive on entry (the state built so far, modules) are moved to
    the permanent generation (``gc.freeze()``) so that no collection traverses them again;
    they are unfrozen on exit.
    """
    previous = gc.get_threshold()
    gc.set_threshold(*LONG_RUN_THRESHOLDS)
    if freeze:
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        gc.set_threshold(*previous)
