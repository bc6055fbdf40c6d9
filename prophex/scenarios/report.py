"""The per-run report: ``summary.json`` (machine) and ``report.md`` (people).

Every amount in ``summary.json`` is an **integer of micro-USD** (1 USD = 1_000_000), the same
unit as the ledger; there are no floats for money anywhere in the file. Prices (odds) appear
only in the market series and are decimal strings with six places. ``report.md`` renders the
same figures as USD.

The shortfall waterfall answers "who paid the winners": what winners were owed at resolution
equals, to the micro-dollar, losers' margin taken at resolution + margin already in the vault
(from liquidations and losing closes, net of earlier payouts) + liquidation penalties the fund
had received from this market + the rest of the fund + the haircut winners took.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prophex.engine.events import INSURANCE_FUND
from prophex.money import format_price, format_usd
from prophex.scenarios.metrics import MarketStats, Metrics
from prophex.scenarios.replay import ReplayResult

WATERFALL_KEYS = (
    "losers_margin_at_resolution",
    "vault_margin_carried",
    "liquidation_penalties",
    "insurance_fund",
    "haircut",
)


def waterfall(stats: MarketStats) -> dict[str, int] | None:
    """Split what winners were owed into who paid it (sums exactly to ``owed_to_winners``)."""
    res = stats.resolution
    if res is None or res["kind"] != "resolve":
        return None
    owed, draw, haircut = res["owed_to_winners"], res["fund_draw"], res["haircut"]
    from_vault = owed - draw - haircut
    from_losers = min(from_vault, res["losers_margin_at_resolution"])
    penalties = min(draw, stats.penalties_to_fund)
    return {
        "owed_to_winners": owed,
        "losers_margin_at_resolution": from_losers,
        "vault_margin_carried": from_vault - from_losers,
        "liquidation_penalties": penalties,
        "insurance_fund": draw - penalties,
        "haircut": haircut,
    }


SETTLEMENT_PRICE_A = {"A": "1", "B": "0", "UNKNOWN": "0.5"}


def _liquidations_by_side(metrics: Metrics, market_id: str) -> dict[str, dict[str, int]]:
    out = {side: {"count": 0, "notional": 0, "loss_caused": 0} for side in ("A", "B")}
    for _, market, side, notional, loss in metrics.liquidation_detail:
        if market == market_id:
            out[side]["count"] += 1
            out[side]["notional"] += notional
            out[side]["loss_caused"] += loss
    return out


def _market_summary(
    market_id: str, stats: MarketStats, result: ReplayResult, metrics: Metrics
) -> dict[str, Any]:
    market = result.state.markets.get(market_id)
    last = stats.series[-1] if stats.series else (0, 0, 0, 0, 0)
    outcome = None if market is None else market.outcome
    return {
        "status": None if market is None else market.status,
        "outcome": outcome,
        # the last price traded before resolution (after it only virtual OI is left)
        "final_price_a": format_price(last[1], last[1] + last[2]) if last[1] + last[2] else None,
        "settlement_price_a": None if outcome is None else SETTLEMENT_PRICE_A[outcome],
        "real_oi_a_final": last[3],
        "real_oi_b_final": last[4],
        "liquidations_by_side": _liquidations_by_side(metrics, market_id),
        "liquidation_gap": stats.liquidation_gap,
        "unposted_premium_at_resolution": stats.unposted_premium,
        "volume": stats.volume,
        "fees": stats.fees,
        "liquidations": {"count": stats.liquidations, "notional": stats.liquidated_notional},
        "penalties_to_fund": stats.penalties_to_fund,
        "bad_debt": stats.bad_debt,
        "funding_paid": stats.funding_paid,
        "fund_draw_on_closes": stats.close_fund_draw,
        "haircut_on_closes": stats.close_haircut,
        "resolution": stats.resolution,
        "waterfall": waterfall(stats),
    }


def _total_waterfall(markets: dict[str, dict[str, Any]]) -> dict[str, int]:
    total = dict.fromkeys(("owed_to_winners", *WATERFALL_KEYS), 0)
    for data in markets.values():
        for key, value in (data["waterfall"] or {}).items():
            total[key] += value
    return total


def build_summary(result: ReplayResult) -> dict[str, Any]:
    """The JSON-ready summary of one run (integers of micro-USD throughout)."""
    m: Metrics = result.metrics
    markets = {k: _market_summary(k, m.markets[k], result, m) for k in sorted(m.markets)}
    balances = [b for _, b in m.fund_path]
    state = result.state
    return {
        "units": "amounts are integer micro-USD; prices are decimal strings",
        "scenario": result.scenario,
        "seed": result.seed,
        "digest": result.digest,
        "invariants": result.invariant_problems,
        "commands": {
            "submitted": m.submitted,
            "accepted": m.accepted,
            "rejected": dict(sorted(m.rejected.items())),
        },
        "volume": m.volume,
        "fees": m.fees,
        "liquidations": {
            "count": m.liquidations,
            "notional": m.liquidated_notional,
            "deepest_cascade": {
                "size": m.deepest.size,
                "notional": m.deepest.notional,
                "market": m.deepest.market,
                "time": m.deepest.time,
                "command_seq": m.deepest.command_seq,
            },
        },
        "bad_debt": m.bad_debt,
        "bad_debt_breakdown": {
            "liquidation_gap": sum(v.liquidation_gap for v in m.markets.values()),
            "unposted_premium_at_resolution": sum(v.unposted_premium for v in m.markets.values()),
            "closes": m.bad_debt
            - sum(v.liquidation_gap + v.unposted_premium for v in m.markets.values()),
        },
        "funding_paid": m.funding_paid,
        "funding": [[t, market, side, amount] for t, market, side, amount in m.funding_timeline],
        "events": [[t, market, what] for t, market, what in sorted(m.events)],
        "insurance_fund": {
            "seed": state.rules.if_seed,
            "final": state.balance(INSURANCE_FUND),
            "min": min(balances) if balances else 0,
            "drawn": m.fund_draw_closes + m.fund_draw_resolutions,
            "drawn_on_closes": m.fund_draw_closes,
            "drawn_at_resolution": m.fund_draw_resolutions,
            "path": [[t, b] for t, b in m.fund_path],
            "draws": [[t, amount] for t, amount in m.fund_draws],
        },
        "haircuts": {
            "total": sum(m.haircuts.values()),
            "positions": {str(k): v for k, v in sorted(m.haircuts.items())},
        },
        "vault_shortfall_at_resolution": {
            k: v["resolution"]["vault_shortfall"]
            for k, v in markets.items()
            if v["resolution"] is not None
        },
        "waterfall": _total_waterfall(markets),
        "markets": markets,
    }


def key_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The handful of numbers tests pin (stable names, integers)."""
    return {
        "digest": summary["digest"],
        "accepted": summary["commands"]["accepted"],
        "volume": summary["volume"],
        "fees": summary["fees"],
        "liquidations": summary["liquidations"]["count"],
        "deepest_cascade": summary["liquidations"]["deepest_cascade"]["size"],
        "bad_debt": summary["bad_debt"],
        "fund_drawn": summary["insurance_fund"]["drawn"],
        "fund_final": summary["insurance_fund"]["final"],
        "haircut": summary["haircuts"]["total"],
    }


def _usd(value: int) -> str:
    return f"{format_usd(value)} USD"


def _signed_usd(value: int) -> str:
    return ("-" if value < 0 else "+") + _usd(abs(value))


def render_markdown(summary: dict[str, Any]) -> str:
    fund = summary["insurance_fund"]
    liq = summary["liquidations"]
    lines = [
        f"# Replay report: {summary['scenario']} (seed {summary['seed']})",
        "",
        f"State digest: `{summary['digest']}`",
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Commands accepted / submitted | {summary['commands']['accepted']} / "
        f"{summary['commands']['submitted']} |",
        f"| Volume | {_usd(summary['volume'])} |",
        f"| Fees | {_usd(summary['fees'])} |",
        f"| Liquidations | {liq['count']} ({_usd(liq['notional'])} notional) |",
        f"| Deepest cascade | {liq['deepest_cascade']['size']} positions |",
        f"| Liquidation gaps (loss left by liquidations) | "
        f"{_usd(summary['bad_debt_breakdown']['liquidation_gap'])} |",
        f"| Premium losers never posted at resolution (uncollectable, not a fund loss) | "
        f"{_usd(summary['bad_debt_breakdown']['unposted_premium_at_resolution'])} |",
        f"| Funding paid | {_usd(summary['funding_paid'])} |",
        f"| Insurance fund seed / final / min | {_usd(fund['seed'])} / {_usd(fund['final'])} / "
        f"{_usd(fund['min'])} |",
        f"| Fund final - seed | {_signed_usd(fund['final'] - fund['seed'])} |",
        f"| Fund drawn (closes + resolutions) | {_usd(fund['drawn'])} |",
        f"| Haircuts | {_usd(summary['haircuts']['total'])} on "
        f"{len(summary['haircuts']['positions'])} positions |",
        "",
    ]
    rejected = summary["commands"]["rejected"]
    if rejected:
        lines += ["Rejected commands: " + ", ".join(f"{k} x{v}" for k, v in rejected.items()), ""]
    lines += [
        "## Markets",
        "",
        "| Market | Status | Last price A before resolution / settlement | Real OI A / B | "
        "Volume | Funding paid | Liquidations | Vault shortfall | Fund draw | Haircut |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for market_id, data in summary["markets"].items():
        res = data["resolution"] or {}
        status = data["status"] + (f" ({data['outcome']})" if data["outcome"] else "")
        settle = data["settlement_price_a"]
        price = f"{data['final_price_a']}" + (f" / {settle}" if settle is not None else "")
        lines.append(
            f"| {market_id} | {status} | {price} | {_usd(data['real_oi_a_final'])} / "
            f"{_usd(data['real_oi_b_final'])} | {_usd(data['volume'])} | "
            f"{_usd(data['funding_paid'])} | "
            f"{data['liquidations']['count']} | {_usd(res.get('vault_shortfall', 0))} | "
            f"{_usd(res.get('fund_draw', 0))} | {_usd(res.get('haircut', 0))} |"
        )
    if summary["liquidations"]["count"]:
        lines += _liquidation_lines(summary)
    lines += _waterfall_lines(summary)
    problems = summary["invariants"]
    lines += ["", "Invariants: " + ("all hold" if not problems else "; ".join(problems)), ""]
    return "\n".join(lines)


def _liquidation_lines(summary: dict[str, Any]) -> list[str]:
    """The table of liquidations by market and side (sides with any)."""
    lines = [
        "",
        "## Liquidations by market and side",
        "",
        "| Market | Side | Count | Notional | Loss caused (gap beyond seized margin) |",
        "|---|---|---|---|---|",
    ]
    for market_id, data in summary["markets"].items():
        for side, row in data["liquidations_by_side"].items():
            if row["count"]:
                lines.append(
                    f"| {market_id} | {side} | {row['count']} | {_usd(row['notional'])} | "
                    f"{_usd(row['loss_caused'])} |"
                )
    return lines


def _waterfall_lines(summary: dict[str, Any]) -> list[str]:
    """Who paid each resolved market's winners, and the total over all markets."""
    lines = ["", "## Shortfall waterfall (who paid the winners)", ""]
    resolved = {k: v for k, v in summary["markets"].items() if v["waterfall"]}
    columns = ("owed_to_winners", *WATERFALL_KEYS)
    lines += [
        "| Market | " + " | ".join(c.replace("_", " ") for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for market_id, data in resolved.items():
        rule = " (batch)" if (data["resolution"] or {}).get("settled_in_batch") else ""
        cells = " | ".join(_usd(data["waterfall"][c]) for c in columns)
        lines.append(f"| {market_id}{rule} | {cells} |")
    total = summary["waterfall"]
    lines.append("| **all markets** | " + " | ".join(_usd(total[c]) for c in columns) + " |")
    return lines


def write_reports(
    summary: dict[str, Any], result: ReplayResult, out: Path, plots: bool = True
) -> list[Path]:
    """Write summary.json, report.md and (optionally) the PNG plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "summary.json", out / "report.md"]
    written[0].write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    written[1].write_text(render_markdown(summary))
    if plots:
        from prophex.scenarios.plots import write_plots

        written += write_plots(summary, result.metrics, out)
    return written
