"""Deep copies and pickles of engine objects, the same in the pure and the compiled build.

mypyc-compiled frozen dataclasses cannot be restored by ``copy``/``pickle``'s default protocol
(it assigns attributes after construction, which a frozen class refuses). :func:`register`
gives every frozen dataclass of the engine a reducer in :mod:`copyreg`'s dispatch table, which
both ``copy.deepcopy`` and ``pickle`` consult: the object is rebuilt by calling its class with
its fields as keywords. Plain classes with constructor arguments (``HeapEntry``, ``Core``,
``Exchange``) define ``__reduce__`` themselves. ``tests/unit/engine/test_pickling.py``
deep-copies and pickles an instance of every engine class on both builds.
"""

from __future__ import annotations

import copyreg
from dataclasses import fields, is_dataclass
from typing import Any


def rebuild(cls: type[Any], values: dict[str, Any]) -> Any:
    """Inverse of :func:`reduce_frozen`: call the class with its fields."""
    return cls(**values)


def reduce_frozen(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    return rebuild, (type(obj), {f.name: getattr(obj, f.name) for f in fields(obj)})


def register(*classes: type[Any]) -> None:
    """Register :func:`reduce_frozen` for each frozen dataclass among ``classes``."""
    for cls in classes:
        params = getattr(cls, "__dataclass_params__", None)
        if is_dataclass(cls) and params is not None and params.frozen:
            copyreg.pickle(cls, reduce_frozen)


def register_engine() -> None:
    """Register every frozen dataclass defined in ``prophex.engine`` (imports every module of
    the package; ``prophex.engine.exchange`` calls it once, last, when it is imported)."""
    import importlib
    import pkgutil

    import prophex.engine

    for info in pkgutil.walk_packages(prophex.engine.__path__, "prophex.engine."):
        module = importlib.import_module(info.name)
        register(*(v for v in vars(module).values() if isinstance(v, type)))
