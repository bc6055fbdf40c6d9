"""Reading scenario files: YAML -> :class:`Scenario`, with errors that point at a line.

pydantic reports *where* in the data an error is (``populations.0.margin.low``); the YAML
node tree knows on which line each key sits. Composing the node tree once and mapping every
path to its line lets the error say ``file.yaml:14``, which is what a person editing the file
needs. Nothing here writes anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from prophex.scenarios.schema import Scenario, ScenarioError, _LocatedError

Loc = tuple[str | int, ...]


def _line_map(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            out[(*path, name)] = key.start_mark.line + 1
            _line_map(value, (*path, name), out)
            out[(*path, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)


def _find_line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """Line of the deepest prefix of ``loc`` present in the file."""
    for cut in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:cut])
        if key in lines:
            return lines[key]
    return None


_TAGS = {
    "fixed",
    "uniform",
    "lognormal",
    "choice",
    "hold",
    "exit",
    "top_up",
    "momentum",
    "contrarian",
}
_TAGGED_FIELDS = {"balance", "margin", "leverage"}


def _tagged(loc: tuple[Any, ...]) -> Loc:
    """Remove the union-member tags pydantic inserts into paths (``margin.uniform.low``)."""
    cleaned: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        after_union = cleaned and (cleaned[-1] in _TAGGED_FIELDS or isinstance(cleaned[-1], int))
        if isinstance(part, str) and part in _TAGS and after_union:
            continue
        cleaned.append(part)
    return tuple(cleaned)


def validation_error(exc: ValidationError, lines: dict[Loc, int], source: str) -> ScenarioError:
    """The first error of ``exc`` as a ScenarioError naming the field and line."""
    first = exc.errors()[0]
    loc = _tagged(first["loc"])
    message = str(first["msg"])
    error = (first.get("ctx") or {}).get("error")
    if isinstance(error, _LocatedError):
        loc = (*loc, *error.loc)
        message = str(error)
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    field = ".".join(str(p) for p in loc) or "scenario"
    line = _find_line(lines, loc)
    where = f"{source}:{line}" if line is not None else source
    extra = len(exc.errors()) - 1
    more = f" (and {extra} more error{'s' if extra > 1 else ''})" if extra else ""
    return ScenarioError(f"{where}: {field}: {message}{more}", field=field, line=line)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate scenario YAML text."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        where = f"{source}:{line}" if line is not None else source
        raise ScenarioError(f"{where}: not valid YAML: {exc}", field="yaml", line=line) from None
    if not isinstance(data, dict) or node is None:
        raise ScenarioError(f"{source}: a scenario must be a YAML mapping", field="scenario")
    lines: dict[Loc, int] = {}
    _line_map(node, (), lines)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, lines, source) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; every problem becomes a :class:`ScenarioError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot read: {exc.strerror}", field="file") from None
    return parse_scenario(text, str(file))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (what editors and ``--schema`` use)."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Prophex-sim scenario"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
