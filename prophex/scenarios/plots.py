"""PNG plots of a replay (matplotlib, Agg backend: no display, same output on any machine).

Floats appear here and only here, for drawing: amounts are converted from micro-USD at the
last moment.

* ``odds_oi.png``: per market, the price of A (ending at the last pre-resolution price, with the
  outcome marked) and the real OI of **each side** (A solid, B dashed); shocks, halts and
  resolutions are marked.
* ``fund_balance.png``: the fund relative to its seed (USD above/below the seed, no axis
  offset), the seed line, the minimum, and every draw marked.
* ``liquidations.png``: every liquidation by market (colour) and side (marker), sized by cascade
  depth; below, the loss each market and side's liquidations caused (their gap).
* ``waterfall.png``: one stacked bar per resolved market (who paid its winners) and the total.
* ``funding.png`` (only when funding was paid): cumulative funding per market and paying side.
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
EVENT_STYLE = {
    "shock": ("tab:purple", ":"),
    "halt": ("tab:red", "--"),
    "resume": ("tab:green", "--"),
}


def _hours(seconds: list[int]) -> list[float]:
    return [s / 3600 for s in seconds]


def _colour(i: int) -> Any:
    return plt.get_cmap("tab10")(i % 10)


def odds_and_oi(metrics: Metrics, path: Path) -> Path:
    markets = sorted(metrics.markets)[:MAX_MARKETS_PLOTTED]
    fig, (ax_p, ax_oi) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for i, market_id in enumerate(markets):
        series = metrics.markets[market_id].series
        if not series:
            continue
        colour = _colour(i)
        t = _hours([r[0] for r in series])
        ax_p.step(
            t, [r[1] / (r[1] + r[2]) for r in series], where="post", color=colour, label=market_id
        )
        ax_oi.step(
            t, [r[3] / MICRO for r in series], where="post", color=colour, label=f"{market_id} A"
        )
        ax_oi.step(
            t,
            [r[4] / MICRO for r in series],
            where="post",
            color=colour,
            linestyle="--",
            label=f"{market_id} B",
        )
    index = {m: i for i, m in enumerate(markets)}
    for time, market_id, what in sorted(metrics.events):
        if market_id not in index:
            continue
        hours = time / 3600
        colour = _colour(index[market_id])
        if what.startswith("resolve") or what == "void":
            series = metrics.markets[market_id].series
            last = series[-1] if series else None
            price = last[1] / (last[1] + last[2]) if last else 0.5
            ax_p.plot([hours], [price], marker="X", markersize=10, color=colour)
            ax_p.annotate(
                f"{market_id}: {what}",
                (hours, price),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
            continue
        line_colour, style = EVENT_STYLE.get(what.split()[0], ("gray", ":"))
        for ax in (ax_p, ax_oi):
            ax.axvline(hours, color=line_colour, linestyle=style, linewidth=1, alpha=0.7)
        ax_p.annotate(
            f"{what} {market_id}",
            (hours, 0.97),
            fontsize=7,
            rotation=90,
            va="top",
            color=line_colour,
        )
    ax_p.set_ylabel("price of A (last value: before resolution)")
    ax_p.set_ylim(0, 1)
    ax_oi.set_ylabel("real OI per side (USD): A solid, B dashed")
    ax_oi.set_xlabel("simulated time (h)")
    ax_oi.ticklabel_format(axis="y", useOffset=False, style="plain")
    if markets:
        ax_p.legend(fontsize="small", ncol=4)
        ax_oi.legend(fontsize="x-small", ncol=4)
    fig.suptitle("Odds and open interest per market (X: resolution; lines: shocks, halts)")
    return _save(fig, path)


def fund_balance(metrics: Metrics, path: Path, seed: int) -> Path:
    fig, ax = plt.subplots(figsize=(11, 4.5))
    t = _hours([p[0] for p in metrics.fund_path])
    relative = [(p[1] - seed) / MICRO for p in metrics.fund_path]
    ax.step(t, relative, where="post", color="tab:blue", label="fund - seed")
    ax.axhline(0, color="black", linewidth=1, label=f"seed ({seed / MICRO:,.0f} USD)")
    if relative:
        low = min(range(len(relative)), key=lambda i: (relative[i], i))
        ax.plot(
            [t[low]],
            [relative[low]],
            marker="v",
            color="tab:red",
            markersize=9,
            label=f"minimum ({metrics.fund_path[low][1] / MICRO:,.2f} USD)",
        )
    ax.axhline(-seed / MICRO, color="tab:red", linestyle=":", linewidth=1, label="empty fund")
    for time, _amount in metrics.fund_draws:
        ax.axvline(time / 3600, color="tab:orange", alpha=0.4, linewidth=1)
    if metrics.fund_draws:
        total = sum(a for _, a in metrics.fund_draws) / MICRO
        ax.plot(
            [], [], color="tab:orange", label=f"draws ({len(metrics.fund_draws)}, {total:,.2f} USD)"
        )
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("USD relative to the seed")
    ax.set_title("Insurance fund relative to its seed")
    ax.legend(fontsize="small")
    return _save(fig, path)


def liquidation_timeline(metrics: Metrics, path: Path) -> Path:
    fig, (ax, ax_loss) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [2, 1]})
    events = metrics.liquidation_detail
    depth = [e[3] for e in metrics.liquidation_timeline]
    markets = sorted({e[1] for e in events})
    index = {m: i for i, m in enumerate(markets)}
    for market_id in markets:
        for side, marker in (("A", "^"), ("B", "v")):
            rows = [
                (e, d)
                for e, d in zip(events, depth, strict=True)
                if e[1] == market_id and e[2] == side
            ]
            if not rows:
                continue
            ax.scatter(
                _hours([e[0] for e, _ in rows]),
                [e[3] / MICRO for e, _ in rows],
                s=[10 + 4 * d for _, d in rows],
                marker=marker,
                color=_colour(index[market_id]),
                alpha=0.6,
                label=f"{market_id} {side}",
            )
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("liquidated notional (USD)")
    ax.set_title(
        f"Liquidations ({len(events)}): colour = market, ^ side A, v side B, size = cascade depth"
    )
    if events:
        ax.legend(fontsize="x-small", ncol=4)
    labels, losses = [], []
    for market_id in markets:
        for side in ("A", "B"):
            caused = [e[4] for e in events if e[1] == market_id and e[2] == side]
            if caused:
                labels.append(f"{market_id}\n{side}")
                losses.append(sum(caused) / MICRO)
    ax_loss.bar(range(len(labels)), losses, color="tab:red")
    ax_loss.set_xticks(range(len(labels)), labels, fontsize=7)
    ax_loss.set_ylabel("loss caused (USD)")
    ax_loss.set_title("Loss liquidations left (cost basis beyond proceeds and seized margin)")
    return _save(fig, path)


WATERFALL_LAYERS = (
    "losers_margin_at_resolution",
    "vault_margin_carried",
    "liquidation_penalties",
    "insurance_fund",
    "haircut",
)


def shortfall_waterfall(summary: dict[str, Any], path: Path) -> Path:
    markets = {k: v["waterfall"] for k, v in summary["markets"].items() if v["waterfall"]}
    columns = [*markets, "all markets"]
    flows = [*markets.values(), summary["waterfall"]]
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(columns) + 3), 5))
    bottoms = [0.0] * len(columns)
    for i, key in enumerate(WATERFALL_LAYERS):
        values = [flow[key] / MICRO for flow in flows]
        ax.bar(
            range(len(columns)),
            values,
            bottom=bottoms,
            color=_colour(i),
            label=key.replace("_", " "),
        )
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for j, flow in enumerate(flows):
        owed = flow["owed_to_winners"] / MICRO
        ax.plot([j - 0.4, j + 0.4], [owed, owed], color="black", linestyle="--")
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_ylabel("USD (dashed: owed to winners)")
    ax.set_title("Who paid the winners, per resolved market")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.legend(fontsize="small")
    return _save(fig, path)


def funding(metrics: Metrics, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 4))
    keys = sorted({(m, s) for _, m, s, _ in metrics.funding_timeline})
    for i, (market_id, side) in enumerate(keys):
        total, t, y = 0, [], []
        for time, m, s, amount in metrics.funding_timeline:
            if (m, s) == (market_id, side):
                total += amount
                t.append(time / 3600)
                y.append(total / MICRO)
        ax.step(t, y, where="post", color=_colour(i), label=f"{market_id}: side {side} pays")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("cumulative funding paid (USD)")
    ax.set_title("Funding payments")
    ax.legend(fontsize="small")
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_plots(summary: dict[str, Any], metrics: Metrics, out: Path) -> list[Path]:
    written = [
        odds_and_oi(metrics, out / "odds_oi.png"),
        fund_balance(metrics, out / "fund_balance.png", summary["insurance_fund"]["seed"]),
        liquidation_timeline(metrics, out / "liquidations.png"),
        shortfall_waterfall(summary, out / "waterfall.png"),
    ]
    if metrics.funding_timeline:
        written.append(funding(metrics, out / "funding.png"))
    return written
