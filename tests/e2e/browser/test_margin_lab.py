"""The margin lab in a real browser: the acceptance list of the dashboard issue.

Every figure is compared with what ``prophex margin`` prints for the same book, paths, seed and
rule (the CLI is run as a subprocess on the YAML the lab exported), and the binding-switch and
structural checks follow docs/portfolio-margin.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prophex.api.server import REPO_ROOT

REFERENCE = REPO_ROOT / "scenarios" / "portfolio" / "reference-8-cluster.yaml"
REMOVED = ["SPX>6200", "SPX>6400", "WTI>80", "WTI>85", "PARLAY-1"]


def cli_margin(book: Path, paths: int, seed: int, rule: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", "from prophex.cli import main; main()", "margin", str(book),
         "--paths", str(paths), "--seed", str(seed), "--rule", rule, "--json"],
        check=True, capture_output=True, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(out.stdout)
    return figures


def settle(page: Any) -> dict[str, Any]:
    """Wait until the lab is idle with a result, and return that result."""
    page.wait_for_function(
        "document.body.dataset.ready === 'true' && window.marginLab.last !== null"
        " && !document.getElementById('run-info').classList.contains('busy')"
    )
    last: dict[str, Any] = page.evaluate("window.marginLab.last")
    return last


def open_lab(make_page: Any, url: str, **size: int) -> Any:
    p = make_page(**size)
    p.page.goto(url + "/dashboard/margin")
    settle(p.page)
    return p


def usd(x: float) -> str:
    return f"{round(x):,} USD"


def test_reference_book_matches_the_cli(make_page: Any, demo_server: Any) -> None:
    p = open_lab(make_page, demo_server.url)
    page = p.page
    last = settle(page)
    cli = cli_margin(REFERENCE, 100_000, 0, "joint")
    assert last["full_collateral"] == cli["full_collateral"] == 63_050.35
    assert last["pm"] == cli["pm"]
    assert last["binding"] == cli["binding"] == "base"
    assert page.inner_text("#kpi-fc") == usd(cli["full_collateral"])
    assert page.inner_text("#kpi-pm") == usd(cli["pm"])
    assert page.inner_text("#kpi-release") == f"{cli['release'] * 100:.1f}%"
    assert "100,000 paths · seed 0" in page.inner_text("#run-info")
    # every cluster ES and its Monte-Carlo standard error is shown
    for cluster in cli["clusters"]:
        row = page.locator(f"#clusters tr[data-cluster='{cluster['name']}']")
        assert usd(cluster["es"]) in row.inner_text()
        assert f"± {cluster['es_se']:,.1f}" in row.inner_text()
    # both rules side by side, the understatement named
    rules = page.inner_text("#rules")
    assert usd(cli["base"]["sqrt"]) in rules and usd(cli["base"]["joint"]) in rules
    assert "understatement" in rules
    assert last["distributions"]["book"]["es"] == cli["base"]["joint"]
    assert "VaR" in page.inner_text("#dist-book-note") and "ES" in page.inner_text(
        "#dist-risk-note"
    )
    p.shot("margin-lab.png")


def test_narrow_screen(make_page: Any, demo_server: Any) -> None:
    p = open_lab(make_page, demo_server.url, width=390, height=844)
    width = p.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    p.page.screenshot(path=str(p.shot("margin-lab-narrow.png")), full_page=False)


def test_rho_sliders_move_the_sqrt_base_and_refuse_an_inverted_pair(
    make_page: Any, demo_server: Any
) -> None:
    page = open_lab(make_page, demo_server.url).page
    before = float(page.get_attribute("#base-sqrt-row", "data-value") or "nan")
    # drag the rho_within thumb to the right with the mouse
    box = page.locator("#rho-within").bounding_box()
    y = box["y"] + box["height"] / 2
    thumb = box["x"] + 8 + (box["width"] - 16) * 0.68
    page.mouse.move(thumb, y)
    page.mouse.down()
    page.mouse.move(thumb + 0.15 * (box["width"] - 16), y, steps=6)
    page.mouse.up()
    dragged = settle(page)
    assert dragged["params"]["rho_within"] > 0.75
    after = float(page.get_attribute("#base-sqrt-row", "data-value") or "nan")
    assert after > before  # more correlation, larger square-root base
    # the keyboard moves it too (0.01 a step)
    page.focus("#rho-within")
    page.keyboard.press("ArrowRight")
    moved = settle(page)
    assert moved["params"]["rho_within"] == round(dragged["params"]["rho_within"] + 0.01, 2)
    assert moved["base"]["sqrt"] > after
    kept = moved["params"]["rho_within"]
    # drag rho_within to the far left: below rho_cross (0.35), refused with a visible message
    box = page.locator("#rho-within").bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    error = page.locator("#rho-error")
    error.wait_for(state="visible")
    assert "Refused" in error.inner_text() and "must be ≥" in error.inner_text()
    assert page.get_attribute("#rho-within", "aria-invalid") == "true"
    page.wait_for_timeout(400)  # longer than the debounce: prove no recompute was sent
    assert page.evaluate("window.marginLab.last.params.rho_within") == kept
    assert page.evaluate("window.marginLab.state.book.settings.rho_within") == kept
    page.keyboard.press("End")  # back to a valid pair: accepted again
    assert settle(page)["params"]["rho_within"] == 1.0
    assert error.is_hidden()


def _choose_rule(page: Any, rule: str) -> None:
    page.select_option("#rule", rule)
    settle(page)


def test_binding_switches_to_the_top2_floor_and_back(make_page: Any, demo_server: Any) -> None:
    p = open_lab(make_page, demo_server.url)
    page = p.page
    _choose_rule(page, "sqrt")  # the binding-switch table of docs/portfolio-margin.md
    assert page.get_attribute("#kpi-binding-tile", "data-binding") == "base"
    removed = {}
    for contract in REMOVED:
        row = page.locator(f"#positions tr[data-contract='{contract}']")
        removed[contract] = (
            row.locator("select").input_value(),
            row.locator("input[type=number]").first.input_value(),
        )
        page.get_by_role("button", name=f"Remove position {contract}").click()
    last = settle(page)
    assert last["binding"] == "top2_floor"
    assert page.inner_text("#kpi-binding") == "top-2 concentration floor"
    assert last["base"]["sqrt"] < last["floor_top2"]["value"]
    p.shot("margin-lab-floor-binds.png")
    for contract, (side, qty) in removed.items():
        page.select_option("#add-contract", contract)
        page.select_option("#add-side", side)
        page.fill("#add-qty", qty)
        page.get_by_role("button", name="Add position").click()
    last = settle(page)
    assert last["binding"] == "base"
    assert last["full_collateral"] == 63_050.35
    assert page.inner_text("#kpi-binding") == "correlations (base)"


def _load_example(page: Any, name: str) -> dict[str, Any]:
    page.select_option("#example", name)
    page.get_by_role("button", name="Load example").click()
    page.wait_for_function(f"window.marginLab.state.book.name === {json.dumps(name)}")
    return settle(page)


def _build(page: Any, contracts: list[tuple[str, str, int, float]], positions: list[Any]) -> Any:
    """A new empty book, threshold contracts (id, underlying, strike, price) and positions
    (contract, side, contracts), all entered through the page's forms."""
    page.get_by_role("button", name="New empty book").click()
    settle(page)
    assert page.inner_text("#kpi-binding") == "none (empty book)"
    for cid, underlying, strike, price in contracts:
        page.fill("#c-id", cid)
        page.select_option("#c-kind", "threshold")
        page.select_option("#c-where", underlying)
        page.fill("#c-strike", str(strike))
        page.select_option("#c-direction", "above")
        page.fill("#c-price", str(price))
        page.get_by_role("button", name="Add contract").click()
    for cid, side, qty in positions:
        page.select_option("#add-contract", cid)
        page.select_option("#add-side", side)
        page.fill("#add-qty", str(qty))
        page.get_by_role("button", name="Add position").click()
    return settle(page)


def test_cross_underlying_hedge_releases_nothing_same_underlying_spread_a_lot(
    make_page: Any, demo_server: Any
) -> None:
    page = open_lab(make_page, demo_server.url).page
    pair = _build(
        page,
        [("BTC>100k", "BTC", 100_000, 0.5), ("ETH>4000", "ETH", 4_000, 0.5)],
        [("BTC>100k", "long", 10_000), ("ETH>4000", "short", 10_000)],
    )
    assert pair["full_collateral"] == 10_000 and pair["positions"] == 2
    assert pair["release"] == 0.0  # the pair's whole 99% tail is "BTC misses, ETH hits"
    assert page.inner_text("#kpi-release") == "0.0%"
    spread = _build(
        page,
        [("BTC>100k", "BTC", 100_000, 0.373), ("BTC>105k", "BTC", 105_000, 0.308)],
        [("BTC>100k", "long", 10_000), ("BTC>105k", "short", 10_000)],
    )
    assert spread["clusters"][0]["es"] == pytest.approx(650.0)  # the bounded loss
    assert spread["release"] > 0.8
    assert page.inner_text("#kpi-release") == f"{spread['release'] * 100:.1f}%"
    # the shipped example books give the figures of docs/portfolio-margin.md section 6
    assert _load_example(page, "long-btc-short-eth")["release"] == 0.0
    assert _load_example(page, "btc-spread-right-way")["release"] == pytest.approx(0.939, abs=1e-3)


def test_edits_survive_a_reload_and_the_exported_yaml_gives_identical_figures(
    make_page: Any, demo_server: Any, tmp_path: Path
) -> None:
    page = open_lab(make_page, demo_server.url).page
    page.fill("#seed", "3")
    page.select_option("#paths", "50000")
    page.get_by_role("button", name="Remove position G20").click()
    page.fill("#beta", "20")
    page.focus("#rho-cross")
    page.keyboard.press("ArrowLeft")  # 0.35 -> 0.34
    row = page.locator("#positions tr[data-contract='BTC>100k'] input[type=number]").first
    row.fill("7500")
    edited = settle(page)
    assert edited["params"]["seed"] == 3 and edited["params"]["paths"] == 50_000
    assert edited["params"]["rho_cross"] == 0.34
    assert edited["params"]["addons"]["beta"] == 0.2

    page.reload()
    reloaded = settle(page)
    assert page.input_value("#seed") == "3"
    assert page.input_value("#paths") == "50000"
    assert page.input_value("#beta") == "20"
    assert page.locator("#positions tr[data-contract='G20']").count() == 0
    assert reloaded["pm"] == edited["pm"]
    assert reloaded["full_collateral"] == edited["full_collateral"]

    with page.expect_download() as download:
        page.get_by_role("button", name="Export YAML").click()
    exported = tmp_path / "exported.yaml"
    download.value.save_as(exported)
    cli = cli_margin(exported, 50_000, 3, "joint")
    for key in ("pm", "full_collateral", "sum_es", "binding", "release", "min_margin"):
        assert cli[key] == reloaded[key], key
    assert cli["base"] == reloaded["base"]
    assert cli["clusters"] == reloaded["clusters"]
    assert cli["addons"] == reloaded["addons"]

    # the exported file loads back through the file input with the same figures
    _load_example(page, "two-independent-bets")
    page.set_input_files("#yaml-file", str(exported))
    page.wait_for_function("window.marginLab.state.book.name === 'reference-8-cluster'")
    again = settle(page)
    assert (again["pm"], again["full_collateral"]) == (reloaded["pm"], reloaded["full_collateral"])


def test_what_if_row_and_a_live_accounts_book(make_page: Any, demo_server: Any) -> None:
    page = open_lab(make_page, demo_server.url).page
    page.select_option("#wi-contract", "SOL>200")
    page.select_option("#wi-side", "long")
    page.fill("#wi-qty", "5000")
    page.wait_for_function("document.getElementById('wi-after').textContent.includes('USD')")
    before = page.inner_text("#wi-before")
    assert before == page.inner_text("#kpi-pm")
    assert page.inner_text("#wi-change").startswith("+")
    # a live account's book, loaded with that account's key
    page.fill("#account-key", demo_server.dave_key)
    page.get_by_role("button", name="Load account's book").click()
    page.wait_for_function("window.marginLab.state.book.name === 'account dave'")
    last = settle(page)
    assert last["positions"] == page.locator("#positions tbody tr").count() >= 1
    assert last["full_collateral"] > 0
