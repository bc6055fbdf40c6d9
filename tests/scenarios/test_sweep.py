"""Sweeps: grid parsing, outputs, and the same aggregates locally and on a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scenario_lib import LIBRARY_DIR, library
from typer.testing import CliRunner

from prophex.scenarios.sweep import SweepError, parse_grid, sweep, sweep_command


def test_grid_parsing() -> None:
    assert parse_grid(["V=1000,5000", "max_leverage=3,5"]) == {
        "virtual_oi": ["1000", "5000"],
        "max_leverage": ["3", "5"],
    }
    for bad in (["nope=1"], ["V"], ["V=1", "virtual_oi=2"], ["profile=mature"]):
        with pytest.raises(SweepError):
            parse_grid(bad)


def test_dask_cluster_gives_exactly_the_local_aggregates() -> None:
    from dask.distributed import LocalCluster

    scenario = library("skew-80-launch")
    grid = parse_grid(["V=1000,5000", "max_leverage=2,3"])
    local_table, local_rows = sweep(scenario, grid, 2, "local", workers=2)
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        dask_table, dask_rows = sweep(scenario, grid, 2, address)
    assert dask_table == local_table
    assert dask_rows == local_rows
    assert [r["virtual_oi"] for r in local_table] == ["1000", "1000", "5000", "5000"]
    assert all(r["runs"] == 2 for r in local_table)


def test_cli_writes_table_parquet_and_heatmaps(tmp_path: Path) -> None:
    import typer

    app = typer.Typer()
    app.command()(sweep_command)
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        app,
        [
            str(LIBRARY_DIR / "cap-rule-comparison.yaml"),
            "--grid",
            "cap_rule=fixed,coverage",
            "--grid",
            "if_seed=5000,50000",
            "--seeds",
            "2",
            "--workers",
            "2",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)["table"]
    assert len(table) == 4
    frame = pd.read_parquet(out / "sweep.parquet")
    assert list(frame["cap_rule"]) == ["fixed", "fixed", "coverage", "coverage"]
    assert (out / "sweep.csv").exists() and (out / "runs.csv").exists()
    for metric in ("depletion_probability", "mean_shortfall", "p99_shortfall", "mean_liquidations"):
        assert (out / f"heatmap_{metric}.png").stat().st_size > 0
    by_rule = {(r["cap_rule"], r["if_seed"]): r for r in table}
    # the coverage rule refuses the opens the small fund could not cover: nobody is haircut
    assert by_rule[("coverage", "5000")]["depletion_probability"] == 0.0
    assert by_rule[("fixed", "5000")]["depletion_probability"] == 1.0


# --------------------------------------------------------------------------- issue 11

BOUNDARY = Path(__file__).with_name("leverage-boundary.yaml")


def test_grid_over_scenario_fields() -> None:
    from prophex.scenarios.sweep import apply_point

    grid = parse_grid(
        ["side_bias=0.6", "leverage=2", "outcome=A", "populations.crowd.count=50", "margin=30"]
    )
    assert list(grid) == ["side_bias", "leverage", "outcome", "populations.crowd.count", "margin"]
    scenario = apply_point(library("skew-80-mature"), tuple((k, v[0]) for k, v in grid.items()))
    (crowd,) = scenario.populations
    assert crowd.side_bias == {"EVENT": 0.6}
    assert crowd.leverage.bounds() == (2, 2) and crowd.margin.bounds() == (30, 30)
    assert crowd.count == 50
    assert scenario.resolution["EVENT"].outcome == "A"
    shocked = apply_point(library("crypto-thresholds"), (("shock_at", "10h"),))
    assert shocked.shocks[0].at == 36_000
    batch = apply_point(library("crypto-thresholds"), (("settlement", "batch"),))
    assert batch.settlement == "batch"
    with pytest.raises(SweepError, match="populations"):  # validated like a file
        apply_point(library("crypto-thresholds"), (("leverage", "50"),))
    with pytest.raises(SweepError):
        apply_point(library("skew-80-mature"), (("populations.nobody.count", "5"),))
    with pytest.raises(SweepError):
        parse_grid(["colour=red"])


def test_statistics() -> None:
    from prophex.scenarios.sweep import (
        bootstrap_interval,
        runs_needed,
        upper_bound,
        wilson,
        z_two_sided,
    )

    low, high = wilson(0, 10, z_two_sided(0.95))
    assert low == 0.0 and round(high, 4) == 0.2775  # the textbook Wilson interval for 0/10
    low, high = wilson(5, 10, z_two_sided(0.95))
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert runs_needed(0.01, 0.95) == 268  # ceil(1.6449^2 * 0.99 / 0.01)
    assert upper_bound(0, 268, 0.95) <= 0.01 < upper_bound(0, 267, 0.95)
    values = list(range(1, 201))
    first = bootstrap_interval(values, 0.99, 0.95)
    assert first == bootstrap_interval(values, 0.99, 0.95)  # seeded: deterministic
    assert first[0] <= 198 <= first[1] <= 200


def test_solver_finds_the_boundary_known_by_construction() -> None:
    from prophex.scenarios.loader import load_scenario
    from prophex.scenarios.sweep import solve

    scenario = load_scenario(BOUNDARY)
    result = solve(scenario, "max_leverage", 0.3, confidence=0.95, workers=1)
    assert result.answer == "3.99" and result.first_unsafe == "4"
    assert result.runs_per_value == 7  # enough for an upper bound <= 30% at 95%
    assert all(e.safe == (float(e.value) < 4) for e in result.evaluations)
    assert result.baseline.depletion_probability == 1.0  # the file's 10x is unsafe
    assert result.volume_given_up == 400_000_000  # the 4x order (400 USD notional) is lost
    assert result.fees_given_up == 400_000
    few = solve(scenario, "max_leverage", 0.01, seeds=3, workers=1, low="3.5", high="4.5")
    assert few.answer is None and few.warnings and "265 missing" in few.warnings[0]


def test_solver_command_line(tmp_path: Path) -> None:
    import typer

    app = typer.Typer()
    app.command()(sweep_command)
    args = [str(BOUNDARY), "--solve", "max_leverage", "--target", "P(fund depleted) <= 30%"]
    result = CliRunner().invoke(app, [*args, "--workers", "1", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == "3.99"
    bad = CliRunner().invoke(app, [str(BOUNDARY), "--solve", "max_leverage", "--target", "low"])
    assert bad.exit_code == 2
    # at a bigger fund (--grid fixes it) the 4x order is covered too: everything up to 10 is safe
    rich = ["--grid", "if_seed=100000", "--range", "1,10", "--workers", "1", "--json"]
    result = CliRunner().invoke(app, [*args, *rich, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == "10"
    two = CliRunner().invoke(app, [*args, "--grid", "if_seed=1,2", "--out", str(tmp_path)])
    assert two.exit_code == 2


def test_missing_extra_is_named_before_anything_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    from prophex.scenarios.sweep import missing_modules

    assert missing_modules(["pandas", "no_such_module_xyz"]) == ["no_such_module_xyz"]
    out = tmp_path / "never"
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from prophex.cli import main\n"
        f"sys.argv = ['prophex', 'sweep', {str(BOUNDARY)!r}, '--grid', 'if_seed=1', "
        f"'--out', {str(out)!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "pip install 'prophex-sim[sweep]'" in done.stderr.replace("\n", " ")
    assert not out.exists()


def test_help_does_not_import_the_engine_or_pandas() -> None:
    """``prophex --help`` registers every command without loading what the commands run."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from prophex.cli import _register_subsystems\n"
        "_register_subsystems()\n"
        "heavy = ('prophex.scenarios.replay', 'prophex.engine.exchange', 'pandas', 'sqlalchemy',"
        " 'matplotlib', 'prophex.audit.solvency')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_loss_sharing_policies_side_by_side() -> None:
    scenario = library("mass-deleveraging")
    table, rows = sweep(scenario, parse_grid(["loss_sharing=pro_rata,adl"]), 1, workers=1)
    by_policy = {r["loss_sharing"]: r for r in rows}
    assert by_policy["pro_rata"]["haircut"] == by_policy["adl"]["haircut"] > 0
    assert by_policy["pro_rata"]["digest"] != by_policy["adl"]["digest"]
    assert [r["depletion_probability"] for r in table] == [1.0, 1.0]


def test_means_of_losses_round_up_and_of_income_down() -> None:
    """docs/scenarios.md: means of losses are never understated, of volume and fees never
    overstated (three runs, every sum leaves a remainder of 1 or 2)."""
    from prophex.scenarios.sweep.runs import aggregate

    runs = [
        {"seed": s, "x": "1", "shortfall": v, "depleted": False, "liquidations": 0,
         "bad_debt": v, "fund_drawn": v, "volume": v, "fees": v}
        for s, v in enumerate((1, 0, 0))
    ]  # fmt: skip
    (row,) = aggregate(runs, ["x"], [(("x", "1"),)])
    assert [row[k] for k in ("mean_shortfall", "mean_bad_debt", "mean_fund_drawn")] == [1, 1, 1]
    assert [row[k] for k in ("mean_volume", "mean_fees")] == [0, 0]
