"""Run every benchmark one after the other and end with their summary lines.

Each benchmark runs in its own process (so one's memory or threads never weigh on the next),
its output shown as it comes. The quick sizes take under two minutes together; ``--full`` runs
the full sizes (the fan-out alone then takes about eleven minutes, the crash figures about
six; the crash benchmark runs only there).

    python -m benchmarks.run_all           # make bench
    python -m benchmarks.run_all --full    # make bench FULL=1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks.common import PYTHON, ROOT, machine

QUICK: list[list[str]] = [
    ["benchmarks.bench_fanout"],
    ["benchmarks.bench_answers"],
    ["benchmarks.bench_scan"],
    ["benchmarks.bench_inbox"],
    ["benchmarks.bench_memory"],
    ["benchmarks.bench_startup", "--runs", "3"],
    ["benchmarks.bench_requests"],
    ["benchmarks.bench_fhir"],
    ["benchmarks.bench_charts"],
]
FULL: list[list[str]] = [
    ["benchmarks.bench_fanout", "--full"],
    ["benchmarks.bench_answers", "--full"],
    ["benchmarks.bench_scan", "--full"],
    ["benchmarks.bench_inbox", "--full"],
    ["benchmarks.bench_memory", "--full"],
    ["benchmarks.bench_startup", "--runs", "5"],
    ["benchmarks.bench_requests", "--rounds", "9"],
    ["benchmarks.bench_fhir", "--full"],
    ["benchmarks.bench_charts", "--runs", "20"],
    # Not in the quick list: even its quick size restarts the bot 24 times (about two minutes).
    ["benchmarks.bench_crash", "--full"],
]


def run(module: list[str]) -> tuple[list[str], float, int]:
    """Run one benchmark, echoing its output; return its SUMMARY lines, seconds and exit code."""
    print(f"\n=== python -m {' '.join(module)}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "-m", *module],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    summaries = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("SUMMARY "):
            summaries.append(line.rstrip("\n"))
    code = process.wait()
    return summaries, time.perf_counter() - started, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full sizes (about 21 minutes)")
    args = parser.parse_args()
    print(f"$ python -m benchmarks.run_all{' --full' if args.full else ''}")
    print(f"machine: {machine()}")
    started = time.perf_counter()
    lines: list[str] = []
    failed: list[str] = []
    for module in FULL if args.full else QUICK:
        summaries, seconds, code = run(module)
        print(f"--- {seconds:.1f} s", flush=True)
        lines += summaries
        if code != 0 or not summaries:
            failed.append(module[0])
            lines.append(f"SUMMARY {module[0].removeprefix('benchmarks.bench_')}: FAILED")
    print(f"\n=== all benchmarks: {time.perf_counter() - started:.0f} s; {machine()}")
    for line in lines:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
