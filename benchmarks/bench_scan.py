"""Due scan: the same 100 prompts due, over a small history and over a large one.

A clinic of 1,000 patients with three daily tasks: each (task, patient) series has one pending
row ahead (tomorrow), today's morning prompts are open (sent or in progress, reminders planned
for later), and the history holds N finished rows (completed, expired, skipped, cancelled,
failed) going back day by day, a million of them reaching a year back. 100 series have their
pending row due now. ``delivery.scan`` (expiry, claims, successors, reminders: the real
transaction) runs over a history of 10,000 and over one of 1,000,000 rows; the 100 claimed rows
are put back to pending and their successors deleted between runs, the two sizes' runs taken
in turn, and the medians compared.

    python -m benchmarks.bench_scan            # quick: 10,000 vs 200,000 rows
    python -m benchmarks.bench_scan --full     # 10,000 vs 1,000,000 rows
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.common import machine, summary, temp_dir
from benchmarks.rows import (
    DELIVERY_COLUMNS,
    Bulk,
    add_group,
    add_patients,
    add_task,
    delivery_row,
    sqlite_database,
)
from bot.services import delivery
from bot.services.delivery import ScanPolicy
from storage.db import Database
from storage.models import DeliveryStatus

PATIENTS = 1_000
TASK_TIMES = (clock_time(8, 0), clock_time(13, 0), clock_time(19, 0))
DUE = 100
RUNS = 9
POLICY = ScanPolicy(
    instance_id="bench-scan",
    lease_seconds=120,
    batch_size=500,
    default_zone="UTC",
    max_reminders=2,
    quiet_start=clock_time(21, 0),
    quiet_end=clock_time(8, 0),
    first_reminder_minutes=60,
)
# Finished rows in the history, per hundred.
_FINAL = (
    [DeliveryStatus.COMPLETED.value] * 70
    + [DeliveryStatus.EXPIRED.value] * 20
    + [DeliveryStatus.SKIPPED.value] * 5
    + [DeliveryStatus.CANCELLED.value] * 3
    + [DeliveryStatus.FAILED.value] * 2
)


@dataclass(frozen=True)
class Clinic:
    url: str
    history: int
    now: datetime
    due_ids: tuple[int, ...]
    last_id: int  # rows above it are successors planned by a scan
    build_seconds: float


@dataclass(frozen=True)
class ScanTiming:
    history: int
    scan_ms: float  # median of RUNS: the whole scan transaction, 100 claimed
    scan_all_ms: tuple[float, ...]
    cpu_ms: float  # median CPU time of the same runs: what a busy shared machine cannot blur
    query_ms: float  # median: the claim query alone, read-only
    idle_ms: float  # median: a scan an hour earlier, when nothing is due
    claimed: int


def build_clinic(path: Path, history: int, today: date) -> Clinic:
    """Write the clinic described in the module docstring into a new SQLite file."""
    started = time.perf_counter()
    url = sqlite_database(path)
    database = Database(url)
    now = datetime.combine(today, clock_time(13, 0, 30), tzinfo=UTC)
    year_ago = now - timedelta(days=366)
    group_id = add_group(database, "Clinic", year_ago)
    task_ids = [
        add_task(
            database,
            group_id,
            datetime.combine(year_ago.date(), at, tzinfo=UTC),
            title=f"Daily task {n}",
            created_at=year_ago,
        )[0]
        for n, at in enumerate(TASK_TIMES)
    ]
    bulk = Bulk(database)
    people = add_patients(bulk, group_id, PATIENTS, year_ago)
    ids = iter(range(1, 10**9))

    def history_rows() -> Iterator[tuple[Any, ...]]:
        # Oldest first, so ids grow with time as in a real database; ending yesterday.
        per_day = len(task_ids) * PATIENTS
        days = -(-history // per_day)
        count = 0
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            for task_id, at in zip(task_ids, TASK_TIMES, strict=True):
                due_at = datetime.combine(day, at, tzinfo=UTC)
                # One row per status, the same for every patient that day: only ids differ.
                shapes = {
                    status: delivery_row(
                        bulk,
                        0,
                        task_id,
                        0,
                        due_at,
                        status=status,
                        finished=True,
                        started=status in ("completed", "skipped"),
                    )
                    for status in set(_FINAL)
                }
                for person in people:
                    if count >= history:
                        return
                    count += 1
                    shape = shapes[_FINAL[(count * 37 + person) % 100]]
                    yield (next(ids), task_id, person, *shape[3:-1], count)

    def current_rows() -> Iterator[tuple[Any, ...]]:
        morning = datetime.combine(today, TASK_TIMES[0], tzinfo=UTC)
        later = now + timedelta(minutes=45)
        for person in people:  # today's morning prompt: still open, a reminder planned
            status = "in_progress" if person % 10 == 0 else "sent"
            yield delivery_row(
                bulk, next(ids), task_ids[0], person, morning, status=status,
                started=status == "in_progress", remind_at=later, prompt_message_id=1,
            )  # fmt: skip
        tomorrow = today + timedelta(days=1)
        for task_id, at in zip(task_ids, TASK_TIMES, strict=True):
            for person in people:  # one pending row ahead per series...
                due_at = datetime.combine(tomorrow, at, tzinfo=UTC)
                if task_id == task_ids[1] and person <= DUE:
                    due_at = datetime.combine(today, at, tzinfo=UTC)  # ...or due now
                yield delivery_row(bulk, next(ids), task_id, person, due_at)

    bulk.insert("deliveries", DELIVERY_COLUMNS, history_rows(), rebuild_indexes=history > 50_000)
    first_current = history + 1
    bulk.insert("deliveries", DELIVERY_COLUMNS, current_rows())
    with database.engine.connect() as connection:
        due_ids = tuple(
            connection.execute(
                text("SELECT id FROM deliveries WHERE status = 'pending' AND due_at <= :now"),
                {"now": bulk.instant(now)},
            ).scalars()
        )
        last_id = connection.execute(text("SELECT max(id) FROM deliveries")).scalar_one()
    database.dispose()
    assert len(due_ids) == DUE and first_current <= min(due_ids)
    return Clinic(url, history, now, due_ids, last_id, time.perf_counter() - started)


def _reset(database: Database, clinic: Clinic) -> None:
    """Put the claimed rows back to pending and drop the successors the scan planned.

    Then checkpoint the WAL, so no scan pays for copying the pages this reset wrote (SQLite
    checkpoints every 1,000 pages written, a cost of the writes, whatever the history).
    """
    with database.session() as session:
        connection = session.connection()
        connection.execute(
            text(
                "UPDATE deliveries SET status = 'pending', lease_until = NULL, "
                "claimed_by = NULL, send_attempts = 0 WHERE id IN "
                f"({', '.join(str(i) for i in clinic.due_ids)})"
            )
        )
        connection.execute(
            text("DELETE FROM deliveries WHERE id > :last"), {"last": clinic.last_id}
        )
        session.commit()
    raw = database.engine.raw_connection()  # outside a transaction, as a checkpoint must be
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _scan_once(database: Database, clinic: Clinic) -> tuple[float, float, int]:
    """One scan with 100 due: wall and CPU milliseconds and rows claimed; then the reset."""
    started, started_cpu = time.perf_counter(), time.process_time()
    batch = delivery.scan(database, clinic.now, POLICY)
    elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    _reset(database, clinic)
    return elapsed * 1000, elapsed_cpu * 1000, batch.claimed


def _idle_and_reads(database: Database, clinic: Clinic, runs: int) -> tuple[float, float]:
    """Medians: a scan an hour earlier (nothing due), and the claim query alone, read-only."""
    query = delivery.due_prompts_query(clinic.now, POLICY.batch_size)
    idle: list[float] = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        nothing = delivery.scan(database, clinic.now - timedelta(hours=1), POLICY)
        idle.append((time.perf_counter() - started) * 1000)
        assert not nothing.jobs and not nothing.expired
    reads: list[float] = []
    for _ in range(runs + 1):
        with database.session() as session:
            started = time.perf_counter()
            rows = session.exec(query).all()
            reads.append((time.perf_counter() - started) * 1000)
        assert len(rows) == DUE
    return statistics.median(idle[1:]), statistics.median(reads[1:])


def time_scans(clinics: list[Clinic], runs: int = RUNS) -> list[ScanTiming]:
    """Scan each clinic ``runs`` times, interleaved (ABBA), so a busy spell on this shared
    machine falls on both sizes alike rather than on whichever was measured first."""
    databases = [Database(clinic.url) for clinic in clinics]
    scans: list[list[tuple[float, float, int]]] = [[] for _ in clinics]
    try:
        for database, clinic in zip(databases, clinics, strict=True):
            _scan_once(database, clinic)  # warms the caches; not counted
        for run in range(runs):
            order = list(range(len(clinics)))
            if run % 2:
                order.reverse()
            for index in order:
                scans[index].append(_scan_once(databases[index], clinics[index]))
        extras = [
            _idle_and_reads(database, clinic, runs)
            for database, clinic in zip(databases, clinics, strict=True)
        ]
    finally:
        for database in databases:
            database.dispose()
    return [
        ScanTiming(
            history=clinic.history,
            scan_ms=statistics.median(wall for wall, _cpu, _n in runs_of),
            scan_all_ms=tuple(wall for wall, _cpu, _n in runs_of),
            cpu_ms=statistics.median(cpu for _wall, cpu, _n in runs_of),
            query_ms=reads,
            idle_ms=idle,
            claimed=runs_of[-1][2],
        )
        for clinic, runs_of, (idle, reads) in zip(clinics, scans, extras, strict=True)
    ]


def query_plan(clinic: Clinic) -> str:
    """SQLite's EXPLAIN QUERY PLAN of the claim query, as the scan runs it."""
    database = Database(clinic.url)
    query = delivery.due_prompts_query(clinic.now, POLICY.batch_size)
    sql = str(
        query.compile(
            dialect=database.engine.dialect,
            compile_kwargs={"literal_binds": True, "render_postcompile": True},
        )
    )
    try:
        with database.engine.connect() as connection:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    finally:
        database.dispose()
    return "\n".join(f"    {row[-1]}" for row in rows)


def compare(folder: Path, small: int, large: int) -> tuple[ScanTiming, ScanTiming, str]:
    today = datetime.now(UTC).date()
    clinics = []
    for history in (small, large):
        clinic = build_clinic(folder / f"scan-{history}.db", history, today)
        print(f"built {history:,} history rows (+{PATIENTS * 4:,} open and pending) "
              f"in {clinic.build_seconds:.1f} s")  # fmt: skip
        clinics.append(clinic)
    a, b = time_scans(clinics)
    return a, b, query_plan(clinics[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10,000 vs 1,000,000 rows")
    parser.add_argument("--large", type=int, help="override the large history's size")
    args = parser.parse_args()
    small, large = 10_000, args.large or (1_000_000 if args.full else 200_000)
    print(f"$ python -m benchmarks.bench_scan {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    mode = "full" if args.full else "quick"
    print(f"SQLite, {DUE} prompts due now, {PATIENTS:,} patients x 3 daily tasks; "
          f"{mode} mode: {small:,} vs {large:,} history rows")  # fmt: skip
    with temp_dir() as folder:
        a, b, plan = compare(folder, small, large)
    ratio = b.scan_ms / a.scan_ms
    for t in (a, b):
        print(f"history {t.history:>9,}: scan (expire + claim {t.claimed} + plan successors + "
              f"reminders, one transaction) median {t.scan_ms:.1f} ms, CPU {t.cpu_ms:.1f} ms "
              f"[{', '.join(f'{x:.1f}' for x in t.scan_all_ms)}]; "
              f"claim query alone {t.query_ms:.2f} ms; a scan with nothing due "
              f"{t.idle_ms:.1f} ms")  # fmt: skip
    fast = "met" if b.scan_ms < 20 else "NOT met"
    print(f"ratio {b.history:,} / {a.history:,}: {ratio:.2f} (CPU {b.cpu_ms / a.cpu_ms:.2f}; "
          f"goal <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}); at {b.history:,} rows "
          f"{b.scan_ms:.1f} ms (goal < 20 ms: {fast})")  # fmt: skip
    print("EXPLAIN QUERY PLAN of the claim query (delivery.due_prompts_query):")
    print(plan)
    summary(
        "scan",
        f"{a.history:,} rows {a.scan_ms:.1f} ms, {b.history:,} rows {b.scan_ms:.1f} ms "
        f"(ratio {ratio:.2f}; {DUE} due, SQLite, median of {RUNS}); nothing due "
        f"{a.idle_ms:.1f} vs {b.idle_ms:.1f} ms",
    )


if __name__ == "__main__":
    main()
