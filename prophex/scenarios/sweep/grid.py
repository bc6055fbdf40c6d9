"""The grid: ``--grid`` names and values, their points, and a scenario with a point applied.

Grid keys are a :class:`prophex.params.Params` field, a scenario alias or a dotted path into
the scenario (docs/scenarios.md, "Sweeps").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from prophex.scenarios.sweep.errors import SweepError

if TYPE_CHECKING:
    from prophex.scenarios.schema import Scenario


ALIASES = {"V": "virtual_oi"}
SCENARIO_ALIASES = (
    "side_bias",
    "leverage",
    "margin",
    "outcome",
    "shock_at",
    "settlement",
    "loss_sharing",
)
SCENARIO_ROOTS = ("markets", "populations", "shocks", "resolution", "steps", "duration", "tick")
Point = tuple[tuple[str, str], ...]


def _is_scenario_key(key: str) -> bool:
    return key in SCENARIO_ALIASES or key.split(".", 1)[0] in SCENARIO_ROOTS


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["V=1000,5000", "side_bias=0.6,0.8"]`` -> ``{"virtual_oi": [...], "side_bias": [...]}``."""
    from prophex.params import Params

    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep or not values.strip():
            raise SweepError(f"--grid {item!r}: expected NAME=v1,v2,...", field="grid")
        known = (key in Params.model_fields and key != "profile") or _is_scenario_key(key)
        if not known:
            raise SweepError(
                f"--grid {item!r}: unknown name {key!r} (a protocol parameter, one of "
                f"{', '.join(SCENARIO_ALIASES)}, or a path under {', '.join(SCENARIO_ROOTS)})",
                field="grid",
            )
        if key in grid:
            raise SweepError(f"--grid {key} is given twice", field="grid")
        grid[key] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def grid_points(grid: dict[str, list[str]]) -> list[Point]:
    keys = list(grid)
    return [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _scalar(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _set_path(data: Any, path: list[str], value: Any, key: str) -> None:
    """Set ``value`` at ``path`` (list items by index, name/id, or ``*``)."""
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        if head == "*":
            targets = list(range(len(data)))
        elif head.isdigit() and int(head) < len(data):
            targets = [int(head)]
        else:
            targets = [
                i
                for i, item in enumerate(data)
                if isinstance(item, dict) and head in (item.get("name"), item.get("id"))
            ]
        if not targets:
            raise SweepError(f"--grid {key}: no item {head!r} in the scenario", field="grid")
        for i in targets:
            if rest:
                _set_path(data[i], rest, value, key)
            else:
                data[i] = value
        return
    if not isinstance(data, dict):
        raise SweepError(f"--grid {key}: {head!r} is not inside a mapping or list", field="grid")
    if not rest:
        data[head] = value
        return
    if data.get(head) is None:
        data[head] = {}
    _set_path(data[head], rest, value, key)


def _set_side_bias(data: dict[str, Any], key: str, value: Any) -> None:
    market_ids = [m["id"] for m in data["markets"]]
    for population in data["populations"]:
        population["side_bias"] = dict.fromkeys(population.get("markets") or market_ids, value)


def _set_fixed_distribution(data: dict[str, Any], key: str, value: Any) -> None:
    for population in data["populations"]:
        population[key] = {"dist": "fixed", "value": value}


def _set_outcome(data: dict[str, Any], key: str, value: Any) -> None:
    for plan in data["resolution"].values():
        if plan["outcome"] != "void":
            plan["outcome"] = value


def _set_shock_at(data: dict[str, Any], key: str, value: Any) -> None:
    if not data["shocks"]:
        raise SweepError("--grid shock_at: the scenario has no shocks", field="grid")
    for shock in data["shocks"]:
        shock["at"] = value


def _set_top_level(data: dict[str, Any], key: str, value: Any) -> None:
    data[key] = value


_ALIAS_SETTERS: dict[str, Callable[[dict[str, Any], str, Any], None]] = {
    "side_bias": _set_side_bias,
    "leverage": _set_fixed_distribution,
    "margin": _set_fixed_distribution,
    "outcome": _set_outcome,
    "shock_at": _set_shock_at,
    "settlement": _set_top_level,
    "loss_sharing": _set_top_level,
}
"""What each scenario alias (``SCENARIO_ALIASES``) sets; any other key is a dotted path."""


def _apply_scenario_key(data: dict[str, Any], key: str, text: str) -> None:
    value = _scalar(text)
    setter = _ALIAS_SETTERS.get(key)
    if setter is None:
        _set_path(data, key.split("."), value, key)
    else:
        setter(data, key, value)


def apply_point(scenario: Scenario, point: Point) -> Scenario:
    """The scenario with the grid point applied, validated exactly like a file."""
    from prophex.scenarios.schema import Scenario

    overrides = dict(point)
    data = scenario.model_dump(mode="python")
    params = dict(scenario.protocol.params)
    for key, text in overrides.items():
        if _is_scenario_key(key):
            _apply_scenario_key(data, key, text)
        else:
            params[key] = text
    data["protocol"]["params"] = params
    if "virtual_oi" in overrides:
        for market in data["markets"]:
            market["virtual_oi"] = overrides["virtual_oi"]
    from pydantic import ValidationError

    from prophex.scenarios.loader import validation_error

    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = validation_error(exc, {}, f"grid point {overrides}")
        raise SweepError(error.message, field="grid") from None


def fixed_point(scenario: Scenario, grid: Sequence[str]) -> Scenario:
    """With ``--solve``, each ``--grid NAME=value`` (one value) fixes that field first, e.g.
    ``--grid V=5000 --grid if_seed=250000`` to ask the question at that V and fund."""
    parsed = parse_grid(grid)
    several = [k for k, v in parsed.items() if len(v) != 1]
    if several:
        raise SweepError(
            f"with --solve, --grid fixes one value per name ({several[0]} has several)",
            field="grid",
        )
    return apply_point(scenario, tuple((k, v[0]) for k, v in parsed.items()))
