"""Helpers shared by the scenario tests."""

from __future__ import annotations

from pathlib import Path

from prophex.scenarios.loader import load_scenario
from prophex.scenarios.schema import Scenario

LIBRARY_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def library(name: str) -> Scenario:
    return load_scenario(LIBRARY_DIR / f"{name}.yaml")
