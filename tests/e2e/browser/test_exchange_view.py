"""The exchange view in a real browser: live odds, a liquidation and a resolution as they happen
(pushed by /v1/stream, no reload, no polling), gap detection, the fund and an account."""

from __future__ import annotations

import time
from typing import Any

import httpx

MARKET = "live-view"


def post(url: str, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    answer = httpx.post(url + path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code < 300, answer.text
    data: dict[str, Any] = answer.json()
    return data


def trader(url: str, label: str) -> str:
    key = str(httpx.post(url + "/v1/accounts", json={"label": label}).json()["api_key"])
    post(url, "/v1/account/deposit", {"amount": "1000"}, key)
    return key


def test_live_odds_liquidation_resolution_and_account(make_page: Any, demo_server: Any) -> None:
    url, admin = demo_server.url, demo_server.admin_key
    post(url, "/v1/admin/markets", {
        "market": MARKET, "question": "Does the dashboard update live?", "virtual_oi": "100",
        "wallet_cap": "10000", "market_oi_cap": "100000",
    }, admin)  # fmt: skip
    alice, bob = trader(url, "alice"), trader(url, "bob")

    p = make_page()
    page = p.page
    page.goto(url + "/dashboard/")
    page.wait_for_function(
        "document.body.dataset.ready === 'true' && document.body.dataset.stream === 'live'"
        f" && window.exchangeView.lastSeq['{MARKET}'] !== undefined"
    )
    price_cell = page.locator(f"#markets tr[data-market='{MARKET}'] td.price-a")
    assert price_cell.inner_text() == "0.5000"

    # an order through the API moves the odds on screen (pushed by the stream)
    sent = time.perf_counter()
    post(url, "/v1/orders", {"market": MARKET, "side": "A", "margin": "10", "leverage": "3"}, alice)
    expected = f"{float(httpx.get(f'{url}/v1/markets/{MARKET}').json()['price_a']):.4f}"
    page.wait_for_function(
        f"document.querySelector(\"#markets tr[data-market='{MARKET}'] td.price-a\")"
        f".textContent === '{expected}'"
    )
    latency = time.perf_counter() - sent
    print(f"odds on screen {latency * 1000:.0f} ms after the order was sent")
    assert expected != "0.5000"

    # a large B order liquidates alice: the feed shows it live
    result = post(
        url, "/v1/orders", {"market": MARKET, "side": "B", "margin": "300", "leverage": "3"}, bob
    )
    assert result["liquidations"], result
    liquidation = page.locator(f"#feed li[data-kind='liquidation'][data-market='{MARKET}']")
    liquidation.wait_for()
    assert "live" in liquidation.inner_text() and "USD" in liquidation.inner_text()

    # the resolution appears as it happens, and the market's status follows
    post(url, f"/v1/admin/markets/{MARKET}/resolve", {"outcome": "B"}, admin)
    resolution = page.locator(f"#feed li[data-kind='resolution'][data-market='{MARKET}']")
    resolution.wait_for()
    assert "B wins" in resolution.inner_text()
    page.wait_for_function(
        f"document.querySelector(\"#markets tr[data-market='{MARKET}']\")"
        ".textContent.includes('resolved (B)')"
    )
    assert page.evaluate("document.body.dataset.stream") == "live"

    # the account view: positions with liquidation prices and the distance to them
    page.fill("#account-key", demo_server.dave_key)
    page.get_by_role("button", name="Show account").click()
    row = page.locator("#account-positions tbody tr").first
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "cascade" and cells[2] == "B"
    assert cells[8] != "–" and "%" in cells[9]
    assert "equity" in page.inner_text("#account-summary")
    page.get_by_role("button", name="Chart cascade").click()
    page.wait_for_function("document.getElementById('price-market').textContent === 'cascade'")
    p.shot("exchange.png")


def test_gap_in_the_stream_triggers_a_resync(make_page: Any, demo_server: Any) -> None:
    page = make_page().page
    page.goto(demo_server.url + "/dashboard/")
    page.wait_for_function(
        "document.body.dataset.ready === 'true' && document.body.dataset.stream === 'live'"
    )
    seq = page.evaluate("window.exchangeView.lastSeq['w1']")
    # a delta numbered two ahead means one was missed: the page must ask for a replay
    page.evaluate(
        "(seq) => window.exchangeView.inject({type: 'trade', market: 'w1', seq: seq + 2,"
        " data: {}})",
        seq,
    )
    assert page.evaluate("window.exchangeView.resyncs") == 1
    page.wait_for_function("document.body.dataset.stream === 'live'")
    assert page.evaluate("window.exchangeView.lastSeq['w1']") == seq  # nothing was lost


def test_exchange_view_on_a_narrow_screen(make_page: Any, demo_server: Any) -> None:
    p = make_page(width=390, height=844)
    p.page.goto(demo_server.url + "/dashboard/")
    p.page.wait_for_function("document.body.dataset.ready === 'true'")
    width = p.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    p.page.screenshot(path=str(p.shot("exchange-narrow.png")), full_page=False)


def test_api_docs_load_offline(make_page: Any, demo_server: Any) -> None:
    page = make_page().page
    page.goto(demo_server.url + "/docs")
    page.get_by_text("POST/v1/margin/requirement").first.wait_for()
    assert "Prophex-sim trading API" in page.inner_text("body")
