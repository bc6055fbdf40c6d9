"""Bad scenario files fail with the field and line named, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_lib import LIBRARY_DIR
from typer.testing import CliRunner

from prophex.scenarios.cli import replay_command
from prophex.scenarios.loader import json_schema_text, parse_scenario
from prophex.scenarios.schema import ScenarioError

GOOD = """\
name: ok
markets:
  - id: M1
populations:
  - name: p
    count: 5
    balance: {dist: fixed, value: 100}
    margin: {dist: uniform, low: 10, high: 20}
    leverage: {dist: fixed, value: 2}
"""

CASES = [
    ("unknown top-level key", GOOD + "colour: red\n", "colour", 10),
    (
        "unknown nested key",
        GOOD.replace("count: 5", "count: 5\n    size: 3"),
        "populations.0.size",
        7,
    ),
    ("wrong type", GOOD.replace("count: 5", "count: many"), "populations.0.count", 6),
    (
        "impossible uniform",
        GOOD.replace("low: 10, high: 20", "low: 30, high: 20"),
        "populations.0.margin",
        8,
    ),
    ("negative margin", GOOD.replace("low: 10", "low: -1"), "populations.0.margin.low", 8),
    (
        "leverage below one",
        GOOD.replace("{dist: fixed, value: 2}", "{dist: fixed, value: 0.5}"),
        "populations.0.leverage",
        9,
    ),
    (
        "population leverage above the protocol maximum (launch: 3x) is not clamped silently",
        GOOD.replace("{dist: fixed, value: 2}", "{dist: choice, values: [2, 50]}"),
        "populations.0.leverage",
        9,
    ),
    (
        "choice weights mismatch",
        GOOD.replace("{dist: fixed, value: 2}", "{dist: choice, values: [2, 3], weights: [1]}"),
        "populations.0.leverage",
        9,
    ),
    (
        "unknown market in a step",
        GOOD
        + "steps:\n  - {type: open, account: a, market: NOPE, side: A, margin: 1, leverage: 1}\n",
        "steps.0.market",
        11,
    ),
    (
        "bad command in a step",
        GOOD + "steps:\n  - {type: open, account: a, market: M1}\n",
        "steps.0.command",
        11,
    ),
    (
        "unknown market in a bias",
        GOOD.replace("count: 5", "count: 5\n    side_bias: {X: 0.5}"),
        "populations.0.side_bias.X",
        7,
    ),
    ("bad duration", GOOD + "duration: soon\n", "duration", 10),
    ("bad protocol param", GOOD + "protocol: {params: {max_leverage: 0}}\n", "protocol", 10),
]


@pytest.mark.parametrize(("label", "text", "field", "line"), CASES, ids=[c[0] for c in CASES])
def test_error_names_field_and_line(label: str, text: str, field: str, line: int) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.yaml")
    error = info.value
    assert error.details["field"].startswith(field), error.message
    assert error.details["line"] == line, error.message
    assert f"bad.yaml:{line}:" in error.message


def test_good_text_parses() -> None:
    assert parse_scenario(GOOD).populations[0].count == 5


def test_cli_writes_nothing_for_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "colour: red\n")
    out = tmp_path / "out"
    import typer

    app = typer.Typer()
    app.command()(replay_command)
    result = CliRunner().invoke(app, [str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "bad.yaml:10" in result.output and "colour" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_invalid_yaml_names_line() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario("name: x\nmarkets: [\n", "broken.yaml")
    assert info.value.details["line"] is not None


def test_committed_json_schema_is_current() -> None:
    committed = (LIBRARY_DIR / "scenario.schema.json").read_text()
    assert committed == json_schema_text(), "regenerate: prophex replay --schema > scenarios/..."
