"""Charts: how long one takes, the memory it holds, and whether the event loop waits for it.

A group of P patients with one daily task (a 0-10 pain scale with an alert at >= 8) over D
days: most check-ins completed, some partly, some expired or skipped. Measured:

- a group's heatmap (``/chart GROUP``) and a patient's progress (``/chart PATIENT``): the
  read-only query and the drawing, median and p95 over several runs;
- resident memory before, at its peak while drawing, and after (collected);
- the event loop's lag (how late a 10 ms timer fires) while ten charts are drawn through
  ``bot.charts.render`` and, meanwhile, "patients answer": a small write transaction every
  20 ms through ``asyncio.to_thread``, as the answer handler runs its use case.

Goals (issue #18): a chart in under 1 s here, loop lag p99 under 50 ms, memory back to the
baseline after.

    python -m benchmarks.bench_charts            # 200 patients x 90 days
    python -m benchmarks.bench_charts --quick    # 50 patients x 30 days
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from benchmarks.common import machine, median, percentile, summary, temp_dir
from benchmarks.rows import (
    DELIVERY_COLUMNS,
    Bulk,
    QuestionSpec,
    add_group,
    add_patients,
    add_task,
    delivery_row,
    revision_ids,
    sqlite_database,
)
from bot import charts
from bot.app import serving_runtime
from bot.services import progress
from bot.services.audit import OPERATOR
from storage.db import Database
from storage.models import Delivery, DeliveryStatus, Question

GROUP = "Shoulder Therapy 1"
ANSWER_COLUMNS = (
    "id", "delivery_id", "question_id", "question_revision_id", "value_text", "value_number",
    "answered_at",
)  # fmt: skip


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def build(url: str, patients: int, days: int, start: datetime) -> int:
    """Fill the database; return how many check-ins it holds."""
    database = Database(url)
    rng = random.Random(18)
    try:
        bulk = Bulk(database)
        group_id = add_group(database, GROUP, start)
        task_id, (question_id,) = add_task(
            database, group_id, start, questions=(QuestionSpec("scale", "Pain now, 0-10?"),)
        )
        with database.session() as session:
            question = session.get(Question, question_id)
            assert question is not None
            question.alert_rule = ">= 8"
            session.commit()
        people = add_patients(bulk, group_id, patients, start)
        outcomes: list[str] = []

        def deliveries() -> Iterator[tuple[Any, ...]]:
            n = 0
            for day in range(days):
                for person in people:
                    n += 1
                    roll = rng.random()
                    status = (
                        DeliveryStatus.COMPLETED
                        if roll < 0.75
                        else DeliveryStatus.EXPIRED
                        if roll < 0.93
                        else DeliveryStatus.SKIPPED
                    ).value
                    outcomes.append(status)
                    yield delivery_row(
                        bulk,
                        n,
                        task_id,
                        person,
                        start + timedelta(days=day),
                        status=status,
                        started=status == DeliveryStatus.COMPLETED.value,
                        finished=status != DeliveryStatus.EXPIRED.value,
                    )

        count = bulk.insert("deliveries", DELIVERY_COLUMNS, deliveries())
        (revision_id,) = revision_ids(database, [question_id])

        def answers() -> Iterator[tuple[Any, ...]]:
            for n, status in enumerate(outcomes, start=1):
                if status == DeliveryStatus.COMPLETED.value:
                    value = float(rng.randint(0, 10))
                    at = bulk.instant(start + timedelta(days=(n - 1) // patients, minutes=6))
                    yield (n, n, question_id, revision_id, f"{value:g}", value, at)

        bulk.insert("answers", ANSWER_COLUMNS, answers())
        return count
    finally:
        database.dispose()


@dataclass(frozen=True)
class Figures:
    heatmap_query_ms: list[float]
    heatmap_draw_ms: list[float]
    patient_query_ms: list[float]
    patient_draw_ms: list[float]
    png_bytes: int
    rows: int  # patients in the heatmap
    rss_cold_mb: float  # after one chart of each kind
    rss_before_mb: float  # after a first round of ten concurrent charts (the baseline)
    rss_peak_mb: float
    rss_after_mb: float
    lag_ms: list[float]
    answers_written: int


def _timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, (time.perf_counter() - started) * 1000


def measure(url: str, now: datetime, runs: int) -> Figures:
    database = Database(url)
    try:
        # A first chart of each kind loads matplotlib's fonts: the baseline is after it.
        warm = progress.chart(database, now, "UTC", GROUP, actor=OPERATOR)
        assert warm.group is not None
        charts.heatmap_png(warm.group)
        patient = progress.chart(database, now, "UTC", "Patient 1", actor=OPERATOR)
        assert patient.patient is not None
        charts.progress_png(patient.patient, False)
        gc.collect()
        rss_cold = _rss_mb()
        # One round as measured below, unmeasured: matplotlib's caches (fonts, text layout)
        # and the threads' allocator arenas fill once; "back to baseline" is against this.
        with serving_runtime():
            asyncio.run(_loop_lag(database, now))
        gc.collect()
        rss_before = _rss_mb()
        peak = [rss_before]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], _rss_mb())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        heat_q, heat_d, pat_q, pat_d = [], [], [], []
        size = 0
        rows = 0
        for _ in range(runs):
            target, ms = _timed(progress.chart, database, now, "UTC", GROUP, actor=OPERATOR)
            heat_q.append(ms)
            assert target.group is not None
            rows = len(target.group.rows)
            picture, ms = _timed(charts.heatmap_png, target.group)
            heat_d.append(ms)
            size = len(picture)
            target, ms = _timed(progress.chart, database, now, "UTC", "Patient 1", actor=OPERATOR)
            pat_q.append(ms)
            assert target.patient is not None
            _picture, ms = _timed(charts.progress_png, target.patient, False)
            pat_d.append(ms)
        with serving_runtime():
            lag, written = asyncio.run(_loop_lag(database, now))
        sampling.set()
        sampler.join()
        gc.collect()
        return Figures(
            heat_q, heat_d, pat_q, pat_d, size, rows, rss_cold, rss_before, peak[0], _rss_mb(),
            lag, written,
        )  # fmt: skip
    finally:
        database.dispose()


async def _loop_lag(database: Database, now: datetime) -> tuple[list[float], int]:
    """Ten charts drawn while patients answer; how late a 10 ms timer fires meanwhile."""
    lags: list[float] = []
    done = asyncio.Event()
    written = 0

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            planned = loop.time() + 0.01
            await asyncio.sleep(0.01)
            lags.append(max(0.0, loop.time() - planned) * 1000)

    def answer(delivery_id: int) -> None:
        with database.session() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)  # type: ignore[arg-type]
                .values(current_tries=Delivery.current_tries + 1)
            )
            session.commit()

    async def patients() -> None:
        nonlocal written
        delivery_id = 1
        while not done.is_set():
            await asyncio.to_thread(answer, delivery_id)
            written += 1
            delivery_id += 1
            await asyncio.sleep(0.02)

    async def one_chart(n: int) -> None:
        ref = GROUP if n % 2 == 0 else f"Patient {n // 2 + 1}"
        target = await asyncio.to_thread(progress.chart, database, now, "UTC", ref, actor=OPERATOR)
        if target.group is not None:
            await charts.render(charts.heatmap_png, target.group)
        else:
            assert target.patient is not None
            await charts.render(charts.progress_png, target.patient, False)

    tick = asyncio.create_task(ticker())
    answering = asyncio.create_task(patients())
    await asyncio.gather(*(one_chart(n) for n in range(10)))
    done.set()
    await asyncio.gather(tick, answering)
    return lags, written


def report(patients: int, days: int, checkins: int, figures: Figures) -> None:
    def line(name: str, query: list[float], draw: list[float]) -> None:
        total = [q + d for q, d in zip(query, draw, strict=True)]
        print(
            f"  {name:<18} query {median(query):7.1f} ms   draw {median(draw):7.1f} ms   "
            f"total median {median(total):7.1f} ms, p95 {percentile(total, 0.95):7.1f} ms"
        )

    print(f"{patients} patients x {days} days = {checkins:,} check-ins ({machine()})")
    line("heatmap (group)", figures.heatmap_query_ms, figures.heatmap_draw_ms)
    line("progress (patient)", figures.patient_query_ms, figures.patient_draw_ms)
    print(f"  heatmap PNG {figures.png_bytes / 1024:.0f} KiB, {figures.rows} patients listed")
    print(
        f"  RSS after the first chart {figures.rss_cold_mb:.0f} MB, after a first round "
        f"(baseline) {figures.rss_before_mb:.0f} MB, peak while drawing "
        f"{figures.rss_peak_mb:.0f} MB, after {figures.rss_after_mb:.0f} MB "
        f"(after - before {figures.rss_after_mb - figures.rss_before_mb:+.1f} MB)"
    )
    print(
        f"  loop lag while 10 charts draw and {figures.answers_written} answers are written: "
        f"p50 {percentile(figures.lag_ms, 0.5):.1f} ms, "
        f"p99 {percentile(figures.lag_ms, 0.99):.1f} ms, max {max(figures.lag_ms):.1f} ms"
    )
    heatmap = zip(figures.heatmap_query_ms, figures.heatmap_draw_ms, strict=True)
    patient = zip(figures.patient_query_ms, figures.patient_draw_ms, strict=True)
    slowest = max(
        percentile([q + d for q, d in heatmap], 0.95),
        percentile([q + d for q, d in patient], 0.95),
    )
    summary(
        "charts",
        f"chart p95 {slowest:.0f} ms (goal < 1000), loop lag p99 "
        f"{percentile(figures.lag_ms, 0.99):.1f} ms (goal < 50), RSS after - before "
        f"{figures.rss_after_mb - figures.rss_before_mb:+.1f} MB",
    )


def run(tmp: Path, patients: int, days: int, runs: int) -> tuple[int, Figures]:
    start = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    url = sqlite_database(tmp / "charts.db")
    checkins = build(url, patients, days, start)
    now = start + timedelta(days=days - 1, hours=12)
    return checkins, measure(url, now, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 patients x 30 days")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    patients, days = (50, 30) if args.quick else (200, 90)
    with temp_dir() as tmp:
        checkins, figures = run(tmp, patients, days, args.runs)
    report(patients, days, checkins, figures)


if __name__ == "__main__":
    main()
