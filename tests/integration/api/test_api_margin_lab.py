"""The margin lab's endpoints: figures identical to ``prophex margin``, typed 4xx for bad books,
the example books, the account book, the solvency report, the dashboard pages and offline docs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from prophex.api.app import create_app
from prophex.api.portfolio import account_margin
from prophex.api.settings import ApiSettings
from prophex.margin import compute_margin, load_book, params_for

REPO = Path(__file__).resolve().parents[3]
BOOKS = REPO / "scenarios" / "portfolio"
PACKAGED = REPO / "prophex" / "api" / "dashboard" / "books"
ADMIN = {"Authorization": "Bearer lab-admin"}
PROBLEM = "application/problem+json"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/lab.db",
        admin_key="lab-admin",
        rate_limit_per_second=0,
        block_wait_ms=0,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _book(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((BOOKS / f"{name}.yaml").read_text())
    return data


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def test_packaged_example_books_are_the_scenario_books() -> None:
    shipped = sorted(p.name for p in PACKAGED.glob("*.yaml"))
    assert shipped == sorted(p.name for p in BOOKS.glob("*.yaml"))
    for name in shipped:
        assert (PACKAGED / name).read_text() == (BOOKS / name).read_text(), name


@pytest.mark.parametrize("rule", ["joint", "sqrt"])
def test_requirement_equals_the_cli_figures(api: TestClient, rule: str) -> None:
    body = {"book": _book("reference-8-cluster"), "paths": 20_000, "seed": 5, "rule": rule}
    answer = api.post("/v1/margin/requirement", json=body)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    book = load_book(BOOKS / "reference-8-cluster.yaml")
    result = compute_margin(book, params_for(book, paths=20_000, seed=5, rule=rule))
    want = json.loads(json.dumps(result.to_dict()))
    for key, value in want.items():
        assert got[key] == value, key
    assert got["full_collateral"] == 63_050.35
    assert got["pm_usd"] == f"{got['pm_micro_usd'] / 1e6:.6f}".rstrip("0").rstrip(".")
    # the whole book's distribution is the joint base; its VaR is at most its ES
    dist = got["distributions"]["book"]
    assert dist["es"] == got["base"]["joint"] and dist["var"] <= dist["es"]
    assert sum(dist["counts"]) == 20_000 and len(dist["edges"]) == 61
    assert got["distributions"]["risk_assets"]["paths"] == 20_000
    gap = got["sqrt_understatement"]
    assert gap["joint_minus_sqrt"] == pytest.approx(got["base"]["joint"] - got["base"]["sqrt"])
    assert got["binding_label"] and got["server_ms"] > 0


def test_overrides_behave_like_the_cli_options(api: TestClient) -> None:
    body = {"book": _book("long-btc-short-eth"), "paths": 5_000, "rho_within": 0.9}
    got = api.post("/v1/margin/requirement", json=body).json()
    book = load_book(BOOKS / "long-btc-short-eth.yaml")
    want = compute_margin(book, params_for(book, paths=5_000, rho_within=0.9))
    assert got["pm"] == want.pm and got["params"]["rho_within"] == 0.9


@pytest.mark.parametrize(
    ("book", "code", "field"),
    [
        ({"positions": [{"contract": "X", "side": "long", "contracts": 1}]}, "UNKNOWN_CONTRACT",
         "positions[0].contract"),
        ({"contracts": [{"id": "a", "kind": "threshold", "price": 0.5}]}, "INVALID_BOOK",
         "contracts[0]"),
        ({"settings": {"rho_within": 0.1, "rho_cross": 0.5}}, "INVALID_PARAMETER", "rho_within"),
        ({"hierarchy": "/etc/passwd"}, "INVALID_BOOK", "book.hierarchy"),
        ({"contracts": [{"id": "a", "kind": "independent", "cluster": "SPORTS", "price": 0.5}],
          "positions": [{"contract": "a", "side": "long", "contracts": 1e300}]},
         "INVALID_BOOK", "positions[0].contracts"),
    ],
)  # fmt: skip
def test_bad_books_are_typed_422(api: TestClient, book: Any, code: str, field: str) -> None:
    body = _problem(api.post("/v1/margin/requirement", json={"book": book}), 422, code)
    assert body["field"] == field


def test_bad_options_are_422(api: TestClient) -> None:
    for extra in ({"paths": 10}, {"paths": 2_000_000}, {"rule": "max"}, {"seed": -1}, {"x": 1}):
        answer = api.post("/v1/margin/requirement", json={"book": {}, **extra})
        _problem(answer, 422, "VALIDATION_ERROR")


def test_empty_book_needs_nothing(api: TestClient) -> None:
    got = api.post("/v1/margin/requirement", json={"book": {}}).json()
    assert got["pm"] == 0 and got["binding"] == "none" and got["distributions"] == {}


def test_example_books_and_yaml_parsing(api: TestClient) -> None:
    names = api.get("/v1/margin/books").json()["items"]
    assert "reference-8-cluster" in names and "btc-spread-right-way" in names
    one = api.get("/v1/margin/books/reference-8-cluster").json()
    assert one["book"] == _book("reference-8-cluster")
    assert one["yaml"] == (BOOKS / "reference-8-cluster.yaml").read_text()
    _problem(api.get("/v1/margin/books/nope"), 404, "NOT_FOUND")
    parsed = api.post("/v1/margin/parse", json={"yaml": one["yaml"]}).json()
    assert parsed["book"] == one["book"]
    _problem(api.post("/v1/margin/parse", json={"yaml": "a: [1"}), 422, "INVALID_BOOK")
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    _problem(api.post("/v1/margin/parse", json={"yaml": bomb}), 422, "INVALID_BOOK")
    _problem(api.post("/v1/margin/parse", json={"yaml": "[" * 5_000}), 422, "INVALID_BOOK")
    _problem(api.post("/v1/margin/parse", json={"yaml": "- 1"}), 422, "INVALID_BOOK")


def test_hierarchy_tree(api: TestClient) -> None:
    got = api.get("/v1/margin/hierarchy").json()
    assert (got["rho_within"], got["rho_cross"]) == (0.68, 0.35)
    risk = got["tree"]["children"][0]
    assert risk["name"] == "Risk assets"
    crypto = risk["children"][0]
    assert [c["name"] for c in crypto["children"]] == ["BTC", "ETH", "SOL"]


def test_account_book_gives_the_account_margin_figures(api: TestClient) -> None:
    assert api.post("/v1/admin/markets", json={"market": "m1"}, headers=ADMIN).status_code == 201
    assert api.post("/v1/admin/markets", json={"market": "m2"}, headers=ADMIN).status_code == 201
    created = api.post("/v1/accounts", json={"label": "lab"}).json()
    key = {"Authorization": f"Bearer {created['api_key']}"}
    _problem(api.get("/v1/account/margin-book"), 401, "UNAUTHORIZED")
    empty = api.get("/v1/account/margin-book", headers=key).json()
    assert empty["positions"] == 0 and empty["book"]["positions"] == []
    api.post("/v1/account/deposit", json={"amount": "1000"}, headers=key)
    for market, side in (("m1", "A"), ("m2", "B")):
        order = {"market": market, "side": side, "margin": "50", "leverage": "2"}
        assert api.post("/v1/orders", json=order, headers=key).status_code == 200
    got = api.get("/v1/account/margin-book", headers=key).json()
    assert got["positions"] == 2 and got["isolated_margin"] == "100"
    lab = api.post(
        "/v1/margin/requirement", json={"book": got["book"], "paths": 10_000, "seed": 2}
    ).json()
    with api.app.state.ctx.read() as exchange:  # type: ignore[attr-defined]
        want = account_margin(exchange.state, created["account"], paths=10_000, seed=2)
    assert lab["pm_micro_usd"] == want["portfolio_margin"]
    assert lab["full_collateral_micro_usd"] == want["full_collateral"]


def test_solvency_report_in_usd_strings(api: TestClient) -> None:
    assert api.post("/v1/admin/markets", json={"market": "m1"}, headers=ADMIN).status_code == 201
    got = api.get("/v1/insurance-fund/solvency", params={"paths": 2_000, "seed": 3}).json()
    assert got["monte_carlo"]["paths"] == 2_000 and got["monte_carlo"]["seed"] == 3
    assert isinstance(got["insurance_fund"], str) and float(got["insurance_fund"]) > 0
    assert got["markets"][0]["market"] == "m1"
    assert got["markets"][0]["if_a"]["shortfall"] == "0"
    assert got["monte_carlo"]["depletion_probability"] == "0.000000"
    _problem(api.get("/v1/insurance-fund/solvency", params={"paths": 10}), 422, "VALIDATION_ERROR")


def test_pages_assets_and_offline_docs(api: TestClient) -> None:
    for path in ("/dashboard/", "/dashboard/margin"):
        page = api.get(path)
        assert page.status_code == 200 and "<html" in page.text
        assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert api.get("/dashboard", follow_redirects=False).status_code in (307, 308)
    chart = api.get("/dashboard/static/vendor/chartjs/chart.umd.min.js")
    assert chart.status_code == 200 and "Chart.js v4.4.7" in chart.text[:200]
    docs = api.get("/docs").text
    assert "/dashboard/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs
    assert "cdn.jsdelivr" not in docs and "fastapi.tiangolo.com" not in docs
    assert api.get("/dashboard/static/vendor/swagger-ui/swagger-ui.css").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert "/v1/margin/requirement" in paths and "/dashboard/" not in paths


def test_margin_routes_are_rate_limited_like_other_public_routes(tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path}/rl.db",
        admin_key="lab-admin",
        rate_limit_per_second=0.001,
        rate_limit_burst=2,
        block_wait_ms=0,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        body = {"book": {}, "paths": 1_000}
        for _ in range(2):
            answer = client.post("/v1/margin/requirement", json=body)
            assert answer.status_code == 200 and "X-RateLimit-Remaining" in answer.headers
        refused = _problem(client.post("/v1/margin/requirement", json=body), 429, "RATE_LIMITED")
        assert refused["retry_after"] >= 1
        _problem(client.get("/v1/insurance-fund/solvency"), 429, "RATE_LIMITED")
