"""Print the JSON lines of ``prophex bench core|ledger`` (stdin) as the Markdown table of
docs/performance.md ("Summary of the write path"). ``make bench`` pipes its results here."""

from __future__ import annotations

import json
import sys

COLUMNS = (
    ("benchmark", lambda r: r["benchmark"] + (f" ({r['backend']})" if "backend" in r else "")),
    ("build", lambda r: r.get("build", "?")),
    ("commands", lambda r: f"{r.get('commands', r.get('commands_submitted', 0)):,}"),
    ("commands/s (wall)", lambda r: f"{r['commands_per_second']:,}"),
    ("commands/s (CPU)", lambda r: f"{r.get('commands_per_cpu_second', 0):,}"),
    ("block p50 ms", lambda r: r.get("block_ms_p50", "")),
    ("block p99 ms", lambda r: r.get("block_ms_p99", "")),
    ("peak RSS MB", lambda r: r.get("peak_rss_mb", "")),
    ("digest", lambda r: r.get("digest", "")[:12]),
)


def main() -> None:
    rows = []
    interpreter = ""
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "commands_per_second" not in record:
            continue
        interpreter = record.get("interpreter", interpreter)
        rows.append([str(get(record)) for _, get in COLUMNS])
    print(f"interpreter: {interpreter}")
    print("| " + " | ".join(name for name, _ in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
