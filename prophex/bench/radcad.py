"""``python -m prophex.bench.radcad``: CPU per trade of the engine against a radCAD model of the
same minimal vAMM, measured in one run (``make bench-radcad``; docs/performance.md, "radCAD").

radCAD 0.14 pins ``numpy<1.26.4`` and this project needs ``numpy>=2``, so radCAD lives in a venv
of its own (``.venv-radcad``) and its model (``bench/radcad_model.py``) runs there as a
subprocess; this module imports no radCAD. Both sides get the same pre-drawn trades: the
engine's are the ``bench core`` workload's commands (opens, increases, partial and full closes
with liquidations, all the engine does for them), the model's are the same intents reduced to
what the minimal vAMM knows (side and notional: margin times leverage). The ratio therefore
compares our full engine per command with radCAD stepping price and fee only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from prophex.bench.core import bench_core, intents
from prophex.money import MICRO

MODEL = Path(__file__).resolve().parents[2] / "bench" / "radcad_model.py"


def vamm_trades(count: int, seed: int) -> list[list[int]]:
    """(side, notional in micro-USD) of each intent of the ``bench core`` workload."""
    return [
        [side, margin * MICRO * leverage // 100]
        for _, _, _, side, margin, leverage in intents(count, seed)
    ]


def run_radcad(python: str, trades: list[list[int]], model: Path = MODEL) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trades.json"
        path.write_text(json.dumps(trades))
        out = subprocess.run(
            [python, str(model), str(path)], check=True, capture_output=True, text=True
        ).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


def compare(
    python: str, commands: int, trades: int, seed: int = 7, model: Path = MODEL
) -> dict[str, Any]:
    """Both benchmarks, one after the other in the same run, and the ratio of CPU per trade."""
    radcad = run_radcad(python, vamm_trades(trades, seed), model)
    ours = bench_core(commands, seed)
    ours_us = 1e6 / ours["commands_per_cpu_second"]
    return {
        "benchmark": "radcad comparison",
        "build": ours["build"],
        "interpreter": ours["interpreter"],
        "prophex_commands": commands,
        "prophex_cpu_us_per_command": round(ours_us, 2),
        "radcad_trades": radcad["trades"],
        "radcad_cpu_us_per_trade": radcad["cpu_us_per_trade"],
        "radcad_over_prophex": round(radcad["cpu_us_per_trade"] / ours_us, 2),
        "prophex_digest": ours["digest"],
        "radcad_final": radcad["final"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--radcad-python", default=".venv-radcad/bin/python")
    parser.add_argument("--commands", type=int, default=40_000, help="engine commands")
    parser.add_argument("--trades", type=int, default=20_000, help="radCAD timesteps")
    parser.add_argument("--model", type=Path, default=MODEL, help="bench/radcad_model.py")
    args = parser.parse_args()
    figures = compare(args.radcad_python, args.commands, args.trades, model=args.model)
    sys.stdout.write(json.dumps(figures, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
