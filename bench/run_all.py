"""Run every benchmark (what `make bench` does), then print one table of all figures.

    python bench/run_all.py [--quick] [--only NAME ...] [--markdown | --summary]

Each benchmark runs as its own process (`python bench/<name>.py`) and writes
bench/results/<name>.json; this script then reads those files back, prints the combined table
and writes bench/results/summary.json. --markdown prints the table as docs/benchmarks.md shows it;
--summary rewrites summary.json from the results on disk (after re-running some benchmarks alone).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BENCH, RESULTS, fmt, machine, table  # noqa: E402

BENCHMARKS = [
    "footprint",
    "overhead",
    "dispatch_latency",
    "progress_freshness",
    "scaling",
    "leader_scale",
    "pages_scale",
    "stats_scale",
]


def rows(quick: bool, names: list[str]) -> list[list[str]]:
    """Read each benchmark's JSON back into table rows."""
    out = []
    for name in names:
        path = RESULTS / f"{name}{'.quick' if quick else ''}.json"
        if not path.exists():
            out.append([name, "(no result)", "", "", "", ""])
            continue
        data = json.loads(path.read_text())
        for figure in data["figures"]:
            verdict = {True: "yes", False: "NO", None: ""}[figure["met"]]
            out.append([name, figure["name"], fmt(figure["value"]), figure["unit"], figure["target"], verdict])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--markdown", action="store_true", help="only print the last results as a Markdown table")
    parser.add_argument("--summary", action="store_true", help="only rewrite summary.json from the last results")
    args = parser.parse_args()
    names = args.only or BENCHMARKS
    header = ["benchmark", "figure", "value", "unit", "target", "met"]
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows(args.quick, names):
            print("| " + " | ".join(row) + " |")
        return 0
    failed: list[str] = []
    for name in [] if args.summary else names:
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        argv = [sys.executable, str(BENCH / f"{name}.py")] + (["--quick"] if args.quick else [])
        code = subprocess.run(argv).returncode
        print(
            f"=== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - started:.0f} s", flush=True
        )
        if code != 0:
            failed.append(name)
    all_rows = rows(args.quick, names)
    print("\n" + table(all_rows, header))
    summary = {
        "quick": args.quick,
        "machine": machine(),
        "failed": failed,
        "figures": [dict(zip(header, row)) for row in all_rows],
    }
    (RESULTS / f"summary{'.quick' if args.quick else ''}.json").write_text(json.dumps(summary, indent=2) + "\n")
    if failed:
        print(f"\nbenchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
