"""The same flow with isolated and with portfolio-mode accounts (issue 9), side by side:
capital locked before resolution, liquidations, insurance-fund draws, bad debt and haircuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prophex.engine.events import pm_margin_account, position_account
from prophex.scenarios.loader import load_scenario
from prophex.scenarios.replay import run_scenario
from prophex.scenarios.report import build_summary

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def figures(name: str) -> dict[str, Any]:
    scenario = load_scenario(ROOT / f"{name}.yaml")
    before = run_scenario(scenario.model_copy(update={"resolution": {}})).state
    locked = sum(before.balance(position_account(p.id)) for p in before.positions.values())
    locked += sum(before.balance(pm_margin_account(a)) for a in before.margin_modes)
    max_loss = sum(p.cost_basis for p in before.positions.values() if p.status == "open")
    summary = build_summary(run_scenario(scenario))
    assert summary["invariants"] == []
    return {
        "capital_locked": locked,
        "max_loss_of_open_books": max_loss,
        "liquidations": summary["liquidations"]["count"],
        "fund_drawn": summary["insurance_fund"]["drawn"],
        "bad_debt": summary["bad_debt"],
        "haircut": summary["haircuts"]["total"],
    }


def test_isolated_versus_portfolio() -> None:
    iso = figures("hedged-books-isolated")
    pm = figures("hedged-books-portfolio")
    # the same orders: the same books and fees, so the same maximum loss
    assert iso["max_loss_of_open_books"] > 0
    # portfolio accounts lock their book's 99% ES (+ floors, add-ons) instead of per-position
    # margin, and losers pay their full cost at resolution from lock then wallet
    assert pm["bad_debt"] < iso["bad_debt"]
    assert pm["fund_drawn"] < iso["fund_drawn"]
    assert (iso, pm) == (PINNED["isolated"], PINNED["portfolio"])


PINNED: dict[str, dict[str, int]] = {
    "isolated": {
        "capital_locked": 47_023_000_000,
        "max_loss_of_open_books": 63_261_206_634,
        "liquidations": 0,
        "fund_drawn": 18_110_346_884,
        "bad_debt": 5_909_613_518,
        "haircut": 0,
    },
    "portfolio": {
        "capital_locked": 36_284_119_403,
        "max_loss_of_open_books": 63_261_206_634,
        "liquidations": 0,
        "fund_drawn": 12_589_274_287,
        "bad_debt": 0,
        "haircut": 0,
    },
}
"""docs/portfolio-margin.md section 10 shows these figures."""


def test_portfolio_population_refuses_margin_behaviours() -> None:
    import pytest

    from prophex.scenarios.schema import Population

    base = {
        "name": "p",
        "count": 1,
        "balance": {"dist": "fixed", "value": 10},
        "margin": {"dist": "fixed", "value": 1},
        "leverage": {"dist": "fixed", "value": 1},
        "margin_mode": "portfolio",
    }
    Population.model_validate(base)
    with pytest.raises(ValueError, match="portfolio populations"):
        Population.model_validate(
            {**base, "behaviours": [{"kind": "exit", "share": 1, "take_profit": 1}]}
        )
