"""The same scenario gives the same digest in memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from prophex.engine.state import digest
from prophex.ledger.store import Store, make_db_engine
from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import run_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["alice-bob-settlement", "liquidation-cascade"])
def test_database_replay_matches_memory(name: str, db_url: str) -> None:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    in_memory = run_scenario(scenario)
    stored = run_scenario(scenario, url=db_url)
    assert stored.digest == in_memory.digest
    engine = make_db_engine(db_url)
    try:
        assert digest(Store(engine).load_state()) == in_memory.digest
    finally:
        engine.dispose()
