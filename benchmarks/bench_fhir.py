"""FHIR export: one group's check-ins as a validated R4B Bundle, and where the time goes.

A group of P patients with one daily task of five questions (scale, number, yes/no, text,
photo), every patient having completed D days, so P x D QuestionnaireResponses of five answers
each. ``fhir.export_fhir`` (the real use case: read, build, validate with ``fhir.resources``,
serialise) is timed whole, then its parts: the reading and building (``build_bundle``), the
validation (``Bundle.model_validate``) and the JSON (``json.dumps``; the models' own
``model_dump_json`` is timed beside it, which is why the export does not use it).

    python -m benchmarks.bench_fhir            # quick: 200 patients x 10 days (2,000 check-ins)
    python -m benchmarks.bench_fhir --full     # 1,000 patients x 20 days (20,000 check-ins)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from benchmarks.common import machine, summary, temp_dir
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
from bot.services import fhir
from bot.services.audit import OPERATOR
from storage.db import Database
from storage.models import DeliveryStatus

QUESTIONS = (
    QuestionSpec("scale", "Pain now, 0-10?"),
    QuestionSpec("number", "Minutes of exercise?", 0, 240),
    QuestionSpec("yes_no", "Did you do the exercise?"),
    QuestionSpec("text", "Anything to tell your therapist?"),
    QuestionSpec("photo", "A photo of your position"),
)
ANSWER_COLUMNS = (
    "id", "delivery_id", "question_id", "question_revision_id", "value_text", "value_number",
    "value_bool", "file_id", "skipped", "answered_at",
)  # fmt: skip
GROUP = "Shoulder Therapy 1"


@dataclass(frozen=True)
class Timing:
    checkins: int
    answers: int
    size_bytes: int
    export_ms: list[float]
    build_ms: float
    validate_ms: float
    dump_ms: float
    model_dump_ms: float  # the models' own writer, for comparison (not used by the export)
    # The process's peak resident memory after the timed exports, before the comparison of
    # the models' own writer (which holds the whole validated bundle); the build included.
    peak_mb: float


def build(url: str, patients: int, days: int, start: datetime) -> int:
    """Fill the database; return how many answers it holds."""
    database = Database(url)
    try:
        bulk = Bulk(database)
        group_id = add_group(database, GROUP, start)
        task_id, question_ids = add_task(database, group_id, start, questions=QUESTIONS)
        people = add_patients(bulk, group_id, patients, start)

        def deliveries() -> Iterator[tuple[Any, ...]]:
            n = 0
            for day in range(days):
                for person in people:
                    n += 1
                    yield delivery_row(
                        bulk,
                        n,
                        task_id,
                        person,
                        start + timedelta(days=day),
                        status=DeliveryStatus.COMPLETED.value,
                        started=True,
                        finished=True,
                    )

        count = bulk.insert("deliveries", DELIVERY_COLUMNS, deliveries())
        revisions = revision_ids(database, question_ids)

        def answers() -> Iterator[tuple[Any, ...]]:
            n = 0
            for delivery in range(1, count + 1):
                at = bulk.instant(start + timedelta(days=(delivery - 1) // patients, minutes=6))
                values = (
                    ("4", 4.0, None, None),
                    ("25", 25.0, None, None),
                    ("Yes", None, True, None),
                    ("Stiff in the morning, better after the exercise.", None, None, None),
                    ("photo", None, None, f"AgACAgQAAxkBAAI-{delivery:08d}"),
                )
                for question_id, revision_id, (text, number, boolean, file_id) in zip(
                    question_ids, revisions, values, strict=True
                ):
                    n += 1
                    yield (
                        n, delivery, question_id, revision_id, text, number, boolean, file_id,
                        False, at,
                    )  # fmt: skip

        return bulk.insert("answers", ANSWER_COLUMNS, answers())
    finally:
        database.dispose()


def measure(url: str, runs: int, now: datetime) -> Timing:
    database = Database(url)
    try:
        times = []
        result = None
        for _ in range(runs):
            started = time.perf_counter()
            result = fhir.export_fhir(database, now, "UTC", GROUP, actor=OPERATOR)
            times.append((time.perf_counter() - started) * 1000)
        assert result is not None
        started = time.perf_counter()
        with database.read_session() as session:
            data = fhir.build_bundle(session, now, None)
        build_ms = (time.perf_counter() - started) * 1000
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
        started = time.perf_counter()
        fhir.validate_bundle(data)
        validate_ms = (time.perf_counter() - started) * 1000
        bundle = Bundle.model_validate(data)
        started = time.perf_counter()
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        dump_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        bundle.model_dump_json(exclude_none=True)
        model_dump_ms = (time.perf_counter() - started) * 1000
        return Timing(
            checkins=result.responses,
            answers=0,
            size_bytes=len(result.content),
            export_ms=times,
            build_ms=build_ms,
            validate_ms=validate_ms,
            dump_ms=dump_ms,
            model_dump_ms=model_dump_ms,
            peak_mb=peak_mb,
        )
    finally:
        database.dispose()


def run(folder: Path, patients: int, days: int, runs: int) -> Timing:
    url = sqlite_database(folder / "fhir.db")
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    answers = build(url, patients, days, start)
    timing = measure(url, runs, start + timedelta(days=days))
    return Timing(**{**timing.__dict__, "answers": answers})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000 patients x 20 days")
    args = parser.parse_args()
    patients, days = (1_000, 20) if args.full else (200, 10)
    runs = 3
    print(f"$ python -m benchmarks.bench_fhir {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    with temp_dir() as folder:
        t = run(folder, patients, days, runs)
    export = statistics.median(t.export_ms)
    per = export / t.checkins
    print(
        f"SQLite, {patients:,} patients x {days} days = {t.checkins:,} completed check-ins, "
        f"{t.answers:,} answers; file {t.size_bytes / 1e6:.1f} MB "
        f"({t.size_bytes / t.checkins / 1e3:.2f} kB per check-in)"
    )
    print(
        f"export_fhir median {export:.0f} ms of {runs} "
        f"[{', '.join(f'{x:.0f}' for x in t.export_ms)}] = {per:.2f} ms per check-in; "
        f"parts: read + build {t.build_ms:.0f} ms, validate {t.validate_ms:.0f} ms, "
        f"JSON {t.dump_ms:.0f} ms (the models' own model_dump_json: {t.model_dump_ms:.0f} ms); "
        f"peak memory {t.peak_mb:.0f} MB"
    )
    summary(
        "fhir",
        f"{t.checkins:,} check-ins -> {t.size_bytes / 1e6:.1f} MB in {export / 1000:.2f} s "
        f"(validation {t.validate_ms / 1000:.2f} s; SQLite, median of {runs})",
    )


if __name__ == "__main__":
    main()
