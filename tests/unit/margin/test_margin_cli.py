"""The CLI commands: tables, JSON, PNG, and exit code 2 with the field named on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prophex.bench.margin import bench_margin_command
from prophex.margin.cli import margin_command

BOOKS = Path(__file__).resolve().parents[3] / "scenarios" / "portfolio"


app = typer.Typer()
app.command("margin")(margin_command)
app.command("bench-margin")(bench_margin_command)
runner = CliRunner()
REFERENCE = str(BOOKS / "reference-8-cluster.yaml")


def test_table_output_names_binding_and_waterfall() -> None:
    result = runner.invoke(app, ["margin", REFERENCE, "--paths", "20000", "--rule", "sqrt"])
    assert result.exit_code == 0, result.output
    for text in (
        "intra-cluster netting",
        "cross-cluster diversification",
        "ELECTION",
        "binding control",
    ):
        assert text in result.output


def test_json_output_is_one_object(tmp_path: Path) -> None:
    png = tmp_path / "margin.png"
    result = runner.invoke(
        app, ["margin", REFERENCE, "--paths", "20000", "--json", "--plot", str(png)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["base"]["rule"] == "joint" and data["binding"] == "base"
    assert data["pm_micro_usd"] >= data["pm"] * 1_000_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--rho-within", "0.2"], "rho_within"),
        (["--rho-cross", "1.5"], "rho_cross"),
        (["--paths", "500"], "paths"),
        (["--rule", "mean"], "rule"),
    ],
)
def test_bad_options_exit_2_naming_the_field(args: list[str], field: str) -> None:
    result = runner.invoke(app, ["margin", REFERENCE, *args])
    assert result.exit_code == 2
    assert field in result.output and "Traceback" not in result.output


def test_bad_book_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("positions:\n  - {contract: X, side: long, contracts: -3}\n")
    result = runner.invoke(app, ["margin", str(bad)])
    assert result.exit_code == 2 and "positions[0].contracts" in result.output
    missing = runner.invoke(app, ["margin", str(tmp_path / "missing.yaml")])
    assert missing.exit_code == 2 and "book" in missing.output
