"""Sweeps: grid parsing, outputs, and the same aggregates locally and on a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scenario_lib import LIBRARY_DIR, library
from typer.testing import CliRunner

from prophex.sweep import SweepError, parse_grid, sweep, sweep_command


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
