"""Every library scenario reproduces its pinned digest and key figures (in memory).

The pins live in ``pins.json``. When the engine changes on purpose, regenerate them with
``PROPHEX_UPDATE_PINS=1 pytest tests/scenarios/test_library.py`` and review the diff: a pin
that moves is a behaviour change someone must be able to explain.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import run_scenario
from prophex.scenarios.report import build_summary, key_figures

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))
PINS_FILE = Path(__file__).with_name("pins.json")
UPDATE = os.environ.get("PROPHEX_UPDATE_PINS") == "1"


def _pins() -> dict[str, Any]:
    return json.loads(PINS_FILE.read_text()) if PINS_FILE.exists() else {}


def test_library_is_complete() -> None:
    names = {p.stem for p in LIBRARY}
    expected = {
        "alice-bob-w1",
        "alice-bob-settlement",
        "liquidation-5x",
        "skew-80-launch",
        "skew-80-mature",
        "skew-80-small-fund",
        "liquidation-cascade",
        "whale-wallet-cap",
        "thin-market",
        "crypto-thresholds",
        "perpetual-funding",
        "unknown-5050",
        "cap-rule-comparison",
        "contested-election",
        "resolution-reversed",
        "oracle-outage",
        "manipulation-near-resolution",
        "simultaneous-resolution",
        "mass-deleveraging",
    }
    assert expected <= names


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_scenario_matches_its_pins(path: Path) -> None:
    summary = build_summary(run_scenario(load_scenario(path)))
    figures = {**key_figures(summary), "rejected": summary["commands"]["rejected"]}
    assert summary["invariants"] == []
    if UPDATE:
        pins = _pins()
        pins[path.stem] = figures
        PINS_FILE.write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n")
        return
    assert figures == _pins()[path.stem]


@pytest.mark.parametrize("name", ["skew-80-mature", "crypto-thresholds"])
def test_same_seed_twice_same_digest_other_seed_differs(name: str) -> None:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    first = run_scenario(scenario)
    second = run_scenario(scenario)
    other = run_scenario(scenario, seed=scenario.seed + 1)
    assert first.digest == second.digest
    assert build_summary(first) == build_summary(second)
    assert other.digest != first.digest
