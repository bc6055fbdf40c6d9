"""The exchange view's account panel for a portfolio-mode account: the requirement breakdown of
GET /v1/account/margin, shown exactly, and refreshed by the stream when the book changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

MARKETS = (
    {"market": "pm-btc-110k", "cluster": "BTC", "underlying": "BTC", "strike": "110000"},
    {"market": "pm-eth-4k", "cluster": "ETH", "underlying": "ETH", "strike": "4000"},
)
FIGURE = "document.querySelector(\"#account-margin [data-figure='{}'] .value\").textContent"


def call(url: str, path: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    if body is None:
        answer = httpx.get(url + path, headers=headers)
    else:
        answer = httpx.post(url + path, json=body, headers=headers)
    assert answer.status_code < 300, answer.text
    data: dict[str, Any] = answer.json()
    return data


def shown(amount: str) -> str:
    """How the panel writes an API amount: every digit, thousands grouped, with its unit."""
    return f"{Decimal(amount):,} USD"


def test_portfolio_account_shows_its_requirement_breakdown(
    make_page: Any, demo_server: Any
) -> None:
    url, admin = demo_server.url, demo_server.admin_key
    for market in MARKETS:
        call(url, "/v1/admin/markets", admin, {
            **market, "question": f"{market['underlying']} above {market['strike']}?",
            "contract_kind": "threshold", "direction": "above", "virtual_oi": "100000",
            "wallet_cap": "1000000", "market_oi_cap": "10000000",
        })  # fmt: skip
    key = str(httpx.post(url + "/v1/accounts", json={"label": "pm-view"}).json()["api_key"])
    call(url, "/v1/account/deposit", key, {"amount": "20000"})
    assert call(url, "/v1/account/margin-mode", key, {"mode": "portfolio"})["mode"] == "portfolio"
    for market, side in (("pm-btc-110k", "A"), ("pm-eth-4k", "B")):
        order = {"market": market, "side": side, "notional": "5000"}
        call(url, "/v1/portfolio/orders", key, order)
    margin = call(url, "/v1/account/margin", key)
    assert margin["positions"] == 2 and [c["cluster"] for c in margin["clusters"]] == [
        "BTC",
        "ETH",
    ]

    p = make_page(width=1280, height=900)
    page = p.page
    page.goto(url + "/dashboard/")
    page.wait_for_function(
        "document.body.dataset.ready === 'true' && document.body.dataset.stream === 'live'"
    )
    page.fill("#account-key", key)
    page.get_by_role("button", name="Show account").click()
    page.locator("#account-margin [data-figure='locked']").wait_for()
    assert page.evaluate(FIGURE.format("locked")) == shown(margin["locked"])
    assert page.evaluate(FIGURE.format("requirement")) == shown(margin["requirement"])
    for figure in ("full_collateral", "unrealized_loss", "equity", "distance_to_liquidation"):
        assert page.evaluate(FIGURE.format(figure)) == shown(margin[figure]), figure
    rows = page.locator("#account-clusters tbody tr").all()
    assert [r.locator("td").all_inner_texts() for r in rows] == [
        [c["cluster"], shown(c["gross"]), shown(c["es"]), "± " + shown(c["es_se"])]
        for c in margin["clusters"]
    ]
    assert "portfolio margin" in page.inner_text("#account-summary")
    p.shot("exchange-portfolio-account.png")

    # the breakdown fits a phone too
    phone = make_page(width=390, height=844).page
    phone.goto(url + "/dashboard/")
    phone.wait_for_function("document.body.dataset.ready === 'true'")
    phone.fill("#account-key", key)
    phone.get_by_role("button", name="Show account").click()
    phone.locator("#account-margin [data-figure='locked']").wait_for()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"

    # a third order changes the book: the stream event makes the panel re-read the breakdown
    call(url, "/v1/portfolio/orders", key, {"market": "pm-eth-4k", "side": "A", "notional": "2000"})
    after = call(url, "/v1/account/margin", key)
    assert after["positions"] == 3 and after["full_collateral"] != margin["full_collateral"]
    expected = shown(after["full_collateral"])
    page.wait_for_function(f"{FIGURE.format('full_collateral')} === '{expected}'")
    assert page.evaluate(FIGURE.format("locked")) == shown(after["locked"])
    assert page.evaluate(FIGURE.format("requirement")) == shown(after["requirement"])

    # an isolated account keeps today's view: no breakdown
    page.fill("#account-key", demo_server.dave_key)
    page.get_by_role("button", name="Show account").click()
    page.wait_for_function("document.getElementById('account-margin').hidden === true")
