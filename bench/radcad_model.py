"""radCAD model of the minimal vAMM, for the same-run comparison of ``make bench-radcad``.

Benchmark-only: it runs in its own venv (``.venv-radcad``: radCAD 0.14 pins ``numpy<1.26.4``,
the project needs ``numpy>=2``), imports nothing of ``prophex`` and is never imported by it.
``prophex/bench/radcad.py`` writes the pre-drawn trades to a JSON file, runs this script on it
and reads one JSON line back.

The model is the smallest vAMM the comparison allows (price update and fee only): one market,
state variables ``oi_a``, ``oi_b`` (open interest), ``price_a`` (the spot
``OI_A / (OI_A + OI_B)``) and ``fees``; each trade adds its notional to its side and pays the
fee ``fee_rate * N`` rounded up. No margin, position, journal, cap or liquidation.
One radCAD timestep per trade, one state-update block, radCAD's default engine settings
(``deepcopy=True``, pickle as the deepcopy method) on its single-process backend, so that all of
its CPU time is in this process and counted.

Usage: ``python bench/radcad_model.py TRADES.json`` -> one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from radcad import Backend, Engine, Model, Simulation

VIRTUAL_OI = 1_000_000_000  # micro-USD per side at start (the engine's default virtual OI)
FEE_PPM = 2_000  # 0.2 %


def p_trade(params: dict[str, Any], substep: int, history: Any, state: dict[str, Any]) -> dict:
    """The timestep's trade and its fee."""
    side, notional = params["trades"][state["timestep"] - 1]
    fee = -(-notional * params["fee_ppm"] // 1_000_000)
    return {"side": side, "notional": notional, "fee": fee}


def s_oi_a(params: Any, substep: int, history: Any, state: dict[str, Any], signal: dict) -> tuple:
    return "oi_a", state["oi_a"] + (signal["notional"] if signal["side"] == 0 else 0)


def s_oi_b(params: Any, substep: int, history: Any, state: dict[str, Any], signal: dict) -> tuple:
    return "oi_b", state["oi_b"] + (signal["notional"] if signal["side"] == 1 else 0)


def s_price(params: Any, substep: int, history: Any, state: dict[str, Any], signal: dict) -> tuple:
    oi_a = state["oi_a"] + (signal["notional"] if signal["side"] == 0 else 0)
    oi_b = state["oi_b"] + (signal["notional"] if signal["side"] == 1 else 0)
    return "price_a", oi_a / (oi_a + oi_b)


def s_fees(params: Any, substep: int, history: Any, state: dict[str, Any], signal: dict) -> tuple:
    return "fees", state["fees"] + signal["fee"]


def run(trades: list[list[int]]) -> dict[str, Any]:
    model = Model(
        initial_state={
            "oi_a": VIRTUAL_OI,
            "oi_b": VIRTUAL_OI,
            "price_a": 0.5,
            "fees": 0,
        },
        state_update_blocks=[
            {
                "policies": {"trade": p_trade},
                "variables": {
                    "oi_a": s_oi_a,
                    "oi_b": s_oi_b,
                    "price_a": s_price,
                    "fees": s_fees,
                },
            }
        ],
        params={"trades": [trades], "fee_ppm": [FEE_PPM]},
    )
    simulation = Simulation(model=model, timesteps=len(trades), runs=1)
    simulation.engine = Engine(backend=Backend.SINGLE_PROCESS)
    started, cpu_started = time.perf_counter(), time.process_time()
    results = simulation.run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    final = results[-1]
    return {
        "benchmark": "radcad",
        "trades": len(trades),
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_trade": round(cpu / len(trades) * 1e6, 2),
        "final": {k: final[k] for k in ("oi_a", "oi_b", "price_a", "fees")},
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        sys.stdout.write(json.dumps(run(json.load(handle))) + "\n")
