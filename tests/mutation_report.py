"""Mutation-testing helpers for docs/mutation.md (run from the repository root, after mutmut
has generated ``mutants/``).

``python tests/mutation_report.py sample N SEED`` prints a uniform random sample of N mutant
names (the seed fixes it), for ``mutmut run $(...)`` when the whole population does not fit in
the time available (D149). ``python tests/mutation_report.py table [NAMES_FILE]`` prints the
per-module table of results, over every mutant or over the names listed in the file, and the
score with its 95 % Wilson interval (:func:`prophex.audit.stats.wilson_interval`).

The score counts **killed** mutants only. mutmut itself also counts a *timeout* (the test run
killed by SIGXCPU after its CPU limit, ``(estimated test time + 1 s) x 15 x 2`` CPU seconds, or
after half that in wall time) as caught; on a shared machine a wall-clock timeout can be load,
not a mutant that loops, so a timeout is reported in its own column and scored as not killed
until a re-run on its own shows a real failure (docs/mutation.md).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from prophex.audit.stats import wilson_interval

ROOT = Path("mutants/prophex")
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout"}
STATUS |= {24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
COLUMNS = ("killed", "timeout", "survived", "no tests", "not checked", "other")


def _results() -> dict[str, tuple[str, int | None]]:
    """Mutant name -> (module, exit code or None when not run)."""
    out: dict[str, tuple[str, int | None]] = {}
    for meta in sorted(ROOT.rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT))[: -len(".py.meta")].replace("engine/", "")
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            out[name] = (module, code)
    return out


def sample(n: int, seed: int) -> None:
    names = sorted(_results())
    print("\n".join(random.Random(seed).sample(names, n)))


def table(names_file: str | None) -> None:
    results = _results()
    names = Path(names_file).read_text().split() if names_file else sorted(results)
    rows: dict[str, dict[str, int]] = {}
    for name in names:
        module, code = results[name]
        status = "not checked" if code is None else STATUS.get(code, "other")
        row = rows.setdefault(module, dict.fromkeys(("mutants", *COLUMNS), 0))
        row["mutants"] += 1
        row[status] += 1
    total = {key: sum(r[key] for r in rows.values()) for key in ("mutants", *COLUMNS)}
    print("| module | " + " | ".join(("mutants", *COLUMNS)) + " |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    for module, row in [*sorted(rows.items()), ("**total**", total)]:
        print(f"| {module} | " + " | ".join(str(row[k]) for k in ("mutants", *COLUMNS)) + " |")
    checked = total["mutants"] - total["not checked"]
    killed = total["killed"]
    low, high = wilson_interval(killed, checked)
    print(
        f"\nkilled {killed} of {checked} run: {100 * killed / max(checked, 1):.1f} % "
        f"(95 % Wilson interval {100 * low:.1f}-{100 * high:.1f} %); "
        f"{total['timeout']} timeouts counted as not killed"
    )


if __name__ == "__main__":
    if sys.argv[1] == "sample":
        sample(int(sys.argv[2]), int(sys.argv[3]))
    else:
        table(sys.argv[2] if len(sys.argv) > 2 else None)
