"""PNG plots of a replay (matplotlib, Agg backend: no display, same output on any machine).

Floats appear here and only here, for drawing: amounts are converted from micro-USD at the
last moment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from prophex.money import MICRO
from prophex.scenarios.metrics import Metrics

MAX_MARKETS_PLOTTED = 12


def _hours(seconds: list[int]) -> list[float]:
    return [s / 3600 for s in seconds]


def odds_and_oi(metrics: Metrics, path: Path) -> Path:
    markets = sorted(metrics.markets)[:MAX_MARKETS_PLOTTED]
    fig, (ax_p, ax_oi) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for market_id in markets:
        series = metrics.markets[market_id].series
        if not series:
            continue
        t = _hours([r[0] for r in series])
        ax_p.step(t, [r[1] / (r[1] + r[2]) for r in series], where="post", label=market_id)
        ax_oi.step(t, [(r[3] + r[4]) / MICRO for r in series], where="post", label=market_id)
    ax_p.set_ylabel("price of A")
    ax_p.set_ylim(0, 1)
    ax_oi.set_ylabel("real OI, both sides (USD)")
    ax_oi.set_xlabel("simulated time (h)")
    if markets:
        ax_p.legend(fontsize="small", ncol=3)
    fig.suptitle("Odds and open interest per market")
    return _save(fig, path)


def fund_balance(metrics: Metrics, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 4))
    t = _hours([p[0] for p in metrics.fund_path])
    ax.step(t, [p[1] / MICRO for p in metrics.fund_path], where="post")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("insurance fund (USD)")
    ax.set_title("Insurance fund balance")
    return _save(fig, path)


def liquidation_timeline(metrics: Metrics, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 4))
    events = metrics.liquidation_timeline
    if events:
        ax.scatter(
            _hours([e[0] for e in events]),
            [e[2] / MICRO for e in events],
            s=[8 + 4 * e[3] for e in events],
            alpha=0.5,
        )
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("liquidated notional (USD)")
    ax.set_title(f"Liquidations ({len(events)}; marker size = cascade depth)")
    return _save(fig, path)


def shortfall_waterfall(summary: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(10, 4))
    flow = summary["waterfall"]
    keys = [k for k in flow if k != "owed_to_winners"]
    values = [flow[k] / MICRO for k in keys]
    bottom = 0.0
    for key, value in zip(keys, values, strict=True):
        ax.bar(key.replace("_", "\n"), value, bottom=bottom)
        bottom += value
    owed = flow["owed_to_winners"] / MICRO
    ax.axhline(owed, color="black", linestyle="--", label="owed to winners")
    ax.set_ylim(0, max(owed, bottom, 1.0) * 1.1)
    ax.set_ylabel("USD")
    ax.set_title("Shortfall waterfall: who paid the winners")
    ax.legend()
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_plots(summary: dict[str, Any], metrics: Metrics, out: Path) -> list[Path]:
    return [
        odds_and_oi(metrics, out / "odds_oi.png"),
        fund_balance(metrics, out / "fund_balance.png"),
        liquidation_timeline(metrics, out / "liquidations.png"),
        shortfall_waterfall(summary, out / "waterfall.png"),
    ]
