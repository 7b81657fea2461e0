"""Crash figures: answers sent, stored, duplicated and misplaced across kills of the real bot.

Runs ``benchmarks/crash.py``'s scenario (patients answer while ``patientbot run`` is killed at
points drawn from a seed; restart on the same database; patients who see nothing type again)
per backend (SQLite, PostgreSQL) and mode (polling, webhook), with SIGKILL, and the same
scenario with SIGTERM for contrast. Each run kills twice; the kill kinds rotate over
``received`` (as Telegram is told the answers arrived), ``replied`` (the next question
delivered, the bot dead before it hears so) and ``between`` (an answer committed, its next
question cut on the way).

    python -m benchmarks.bench_crash            # 20 patients, 2 kills per backend and mode
    python -m benchmarks.bench_crash --full     # 40 patients, 10 kills per backend and mode

PostgreSQL comes from PATIENTBOT_TEST_POSTGRES_URL (or the local default); without a server
its rows are left out and the output says so.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import machine, summary, temp_dir
from benchmarks.crash import KINDS, Mode, Outcome, Scenario, run_scenario
from benchmarks.rows import postgres_admin_url, postgres_database, sqlite_database

MODES: tuple[Mode, ...] = ("polling", "webhook")


@dataclass(frozen=True)
class Size:
    patients: int
    sigkill_runs: int  # two kills each
    sigterm_runs: int


QUICK = Size(patients=20, sigkill_runs=1, sigterm_runs=1)
FULL = Size(patients=40, sigkill_runs=5, sigterm_runs=2)


def kills_of(run: int) -> tuple[str, str]:
    """Run 0 kills as received then replied, run 1 replied then between, and so on."""
    return KINDS[run % 3], KINDS[(run + 1) % 3]


@contextmanager
def database(backend: str, workdir: Path, admin_url: str | None, tag: str) -> Iterator[str]:
    if backend == "sqlite":
        yield sqlite_database(workdir / "crash.db")
        return
    assert admin_url is not None
    with postgres_database(admin_url, tag) as url:
        yield url


def run_case(
    backend: str, mode: Mode, sig: signal.Signals, runs: int, size: Size, admin: str | None
) -> Outcome:
    total = Outcome(mode, backend, 0)
    for run in range(runs):
        with temp_dir() as workdir:
            tag = f"_crash_{mode}_{sig.name.lower()}_{run}"
            with database(backend, workdir, admin, tag) as url:
                scenario = Scenario(
                    url,
                    workdir,
                    mode=mode,
                    patients=size.patients,
                    seed=run,
                    kills=kills_of(run),
                    signal=sig,
                )
                outcome = run_scenario(scenario, backend)
        print(f"  {sig.name} {backend} {mode} run {run}: {outcome.figures()}", flush=True)
        total.add(outcome)
    return total


def row(sig: signal.Signals, outcome: Outcome) -> str:
    missed = sum(1 for k in outcome.kills if not k.reached)
    kills = f"{len(outcome.kills)}" + (f" ({missed} late)" if missed else "")
    return (
        f"| {sig.name} | {outcome.backend} | {outcome.mode} | {kills} | {outcome.sent} | "
        f"{outcome.stored} | {outcome.duplicated} | {outcome.misplaced} | "
        f"{outcome.next_delivered}/{outcome.patients} | {outcome.seconds:.0f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="40 patients, 10 kills per case")
    args = parser.parse_args()
    size = FULL if args.full else QUICK
    print(f"$ python -m benchmarks.bench_crash{' --full' if args.full else ''}")
    print(f"machine: {machine()}")
    admin = postgres_admin_url()
    backends = ["sqlite"] + (["postgresql"] if admin else [])
    if admin is None:
        print("PostgreSQL: no server answers; its rows are left out")
    cases = [
        (signal.SIGKILL, backend, mode, size.sigkill_runs)
        for backend in backends
        for mode in MODES
    ] + [
        (signal.SIGTERM, backend, mode, size.sigterm_runs)
        for backend in backends
        for mode in MODES
    ]
    rows: list[str] = []
    totals = {signal.SIGKILL: Outcome("", "", 0), signal.SIGTERM: Outcome("", "", 0)}
    for sig, backend, mode, runs in cases:
        outcome = run_case(backend, mode, sig, runs, size, admin)
        rows.append(row(sig, outcome))
        totals[sig].add(outcome)
    print()
    print(
        "| signal | backend | mode | kills | sent | stored | duplicated | misplaced "
        "| next question delivered | time |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for line in rows:
        print(line)
    kill, term = totals[signal.SIGKILL], totals[signal.SIGTERM]
    summary(
        "crash",
        f"SIGKILL x{len(kill.kills)}: sent {kill.sent}, stored {kill.stored}, duplicated "
        f"{kill.duplicated}, misplaced {kill.misplaced}, next question "
        f"{kill.next_delivered}/{kill.patients}; SIGTERM x{len(term.kills)}: sent {term.sent}, "
        f"stored {term.stored}, misplaced {term.misplaced} ({', '.join(backends)})",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
