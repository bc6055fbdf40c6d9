"""The human rendering of the solvency report."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from prophex.audit.solvency import render, solvency_of_state
from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import Replay, open_sequencer


def test_render_mentions_every_market() -> None:
    scenario = load_scenario(
        Path(__file__).resolve().parents[2] / "scenarios" / "crypto-thresholds.yaml"
    ).model_copy(update={"resolution": {}})
    sequencer = open_sequencer(scenario, None)
    Replay(scenario, sequencer).run()
    report = solvency_of_state(sequencer.state, paths=1_000, seed=1)
    console = Console(record=True, width=160)
    console.print(render(report))
    text = console.export_text()
    for market in scenario.market_ids():
        assert market in text
    assert "P(fund depleted)" in text
