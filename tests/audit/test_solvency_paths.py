"""Dynamic solvency: paths to resolution through the real engine on copies of the state."""

from __future__ import annotations

import json

import pytest
from test_solvency import replayed, unresolved

from prophex.audit.paths import PathSettings, dynamic_solvency
from prophex.audit.solvency import OutcomeModel, SolvencyError, solvency_cli, solvency_of_state
from prophex.chain.sequencer import Sequencer
from prophex.engine.events import INSURANCE_FUND
from prophex.engine.state import digest
from prophex.scenarios.replay import Replay


def test_paths_see_the_fund_draws_on_the_way_that_the_snapshot_ignores() -> None:
    state = replayed("skew-80-small-fund").state
    before = digest(state)
    settings = PathSettings(paths=12, steps=6)
    report = dynamic_solvency(state, seed=4, settings=settings)
    assert digest(state) == before  # the audited state is never touched
    assert report == dynamic_solvency(state, seed=4, settings=settings)  # seeded
    assert report.fund == state.balance(INSURANCE_FUND)
    # profitable closes on the way draw on the fund: the static snapshot cannot see them
    assert report.mean_drawn_on_closes > 0
    assert all(p.liquidations > 0 for p in report.paths)  # the flow liquidates on the way
    for path in report.paths:
        assert path.fund_min <= report.fund
        assert path.depleted == (
            path.haircut_closes + path.haircut_resolution > 0 or path.fund_min == 0
        )
    depleted = sum(p.depleted for p in report.paths)
    assert report.depletion_probability == depleted / 12
    low, high = report.wilson_95
    assert low <= report.depletion_probability <= high


def test_crowd_is_right_stress_drives_every_path_to_the_favoured_side() -> None:
    state = replayed("skew-80-mature").state  # the crowd is 80% on A
    report = dynamic_solvency(
        state,
        seed=1,
        settings=PathSettings(paths=3, steps=4),
        model=OutcomeModel(probabilities="crowd"),
    )
    assert [p.outcomes for p in report.paths] == [{"EVENT": "A"}] * 3
    static = solvency_of_state(state, paths=1_000, seed=1, model=OutcomeModel("crowd"))
    assert static["monte_carlo"]["depletion_probability"] == 0.0  # a 1M fund covers it


def test_bad_settings_are_typed_errors() -> None:
    for bad in ({"paths": 0}, {"steps": 0}, {"horizon": 5, "steps": 10}, {"take_profit": 0}):
        with pytest.raises(SolvencyError):
            PathSettings(**bad)  # type: ignore[arg-type]


def test_cli_reports_paths_to_resolution(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = unresolved("skew-80-small-fund")
    with Sequencer.open(sqlite_url, scenario.params()) as sequencer:
        Replay(scenario, sequencer).run()
    code = solvency_cli(sqlite_url, True, 1_000, 2, None, PathSettings(paths=5, steps=4))
    report = json.loads(capsys.readouterr().out)
    dynamic = report["paths_to_resolution"]
    assert len(dynamic["paths"]) == 5
    assert code == (
        1
        if dynamic["depletion_probability"] > 0.01
        or report["monte_carlo"]["shortfall_p99"] > report["insurance_fund"]
        else 0
    )
