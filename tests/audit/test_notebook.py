"""The example notebook in docs/ runs top to bottom (nbclient, a real Jupyter kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prophex.scenarios.analysis import run_scenario, solvency, sweep

ROOT = Path(__file__).resolve().parents[2]


def test_notebook_executes(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "docs" / "risk-notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
    assert any("P(fund depleted)" in str(c.get("outputs")) for c in notebook.cells)


def test_api_returns_typed_results_with_dataframes() -> None:
    run = run_scenario(ROOT / "scenarios" / "simultaneous-resolution.yaml")
    assert run.digest == run.summary["digest"]
    opens = run.trades[run.trades.kind == "open"]
    assert (
        int(opens.notional.sum()) + int(run.trades[run.trades.kind == "close"].notional.sum())
        == run.summary["volume"]
    )
    assert list(run.waterfalls.market) == ["BTC-100K", "ETH-5K", "SOL-300"]
    fall = run.waterfalls.set_index("market")
    layers = fall.drop(columns=["owed_to_winners"]).sum(axis=1)
    assert (layers == fall.owed_to_winners).all()
    assert int(run.fund.balance.iloc[-1]) == run.summary["insurance_fund"]["final"]
    assert set(run.positions.status) <= {"settled", "closed", "liquidated"}
    book = run_scenario(ROOT / "scenarios" / "contested-election.yaml", resolve=False)
    audit = solvency(book, paths=2_000, seed=1)
    assert audit.markets.loc[0, "market"] == "PRES"
    assert audit.depletion_probability == audit.report["monte_carlo"]["depletion_probability"]
    swept = sweep(ROOT / "scenarios" / "thin-market.yaml", {"V": [100, 5000]}, seeds=1, workers=1)
    assert list(swept.table.virtual_oi) == ["100", "5000"] and swept.warnings
