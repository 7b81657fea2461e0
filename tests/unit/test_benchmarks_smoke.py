"""The benchmarks still run: each one's core at a tiny size, checked for correct results only.

Benchmarks are measurements (``make bench``), not tests: nothing here looks at a time.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import (
    bench_answers,
    bench_charts,
    bench_crash,
    bench_fanout,
    bench_fhir,
    bench_inbox,
    bench_memory,
    bench_requests,
    bench_scan,
    bench_startup,
)
from benchmarks.crash import Scenario, run_scenario
from benchmarks.rows import sqlite_database
from fakebotapi import FakeBotApi
from fakebotapi.server import serve_in_thread


async def test_the_fan_out_benchmark_delivers_every_prompt_once(tmp_path: Path) -> None:
    result = await bench_fanout.run_fanout(tmp_path, 20, 300.0)

    assert (result.delivered, result.lost, result.duplicated) == (20, 0, 0)
    assert result.rows_sent == 20
    assert result.violations == 0


async def test_the_answers_benchmark_stores_every_answer_and_asks_the_next_question(
    tmp_path: Path,
) -> None:
    url = sqlite_database(tmp_path / "answers.db")

    result = await bench_answers.run_answers(url, 20, "SQLite")

    # The floor runs twice: one at a time, and as many at a time as the inbox's worker.
    assert (result.stored, result.replies, result.floor_rows) == (20, 20, 2 * 20)


def test_the_fhir_benchmark_exports_every_checkin(tmp_path: Path) -> None:
    timing = bench_fhir.run(tmp_path, 3, 2, runs=1)

    assert (timing.checkins, timing.answers) == (6, 30)
    assert timing.size_bytes > 0


def test_the_scan_benchmark_claims_exactly_the_due_rows(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    small = bench_scan.build_clinic(tmp_path / "small.db", 1_000, today)
    large = bench_scan.build_clinic(tmp_path / "large.db", 2_000, today)

    timings = bench_scan.time_scans([small, large], runs=2)

    assert [t.claimed for t in timings] == [bench_scan.DUE, bench_scan.DUE]
    assert [t.history for t in timings] == [1_000, 2_000]
    assert "ix_deliveries_status_due_at" in bench_scan.query_plan(large)


def test_the_inbox_benchmark_handles_every_update_and_claims_through_the_indexes(
    tmp_path: Path,
) -> None:
    urls = {size: sqlite_database(tmp_path / f"{size}.db") for size in ("empty", "large")}

    medians = bench_inbox.run(urls, 1_000, runs=1)  # each run asserts all were handled

    assert set(medians) == {"empty", "large"}
    plan = bench_inbox.query_plan(urls["large"])
    # The pending rows in order from their index; no subquery walks the table either.
    assert "SEARCH inbox USING INDEX ix_inbox_state_update_id" in plan, plan
    assert not any(f"SCAN {table}" in plan for table in ("inbox", "older", "held")), plan


async def test_the_memory_benchmark_reads_a_polling_and_scanning_bot(tmp_path: Path) -> None:
    url = sqlite_database(tmp_path / "memory.db")
    bench_memory.build(url, 20)

    sample = await bench_memory.measure(tmp_path, url, 20, interval=0.2)

    assert sample.polls >= 3
    assert sample.scans_seen
    assert sample.rss > 0 and sample.peak >= sample.rss


async def test_the_start_up_benchmark_times_a_real_start_to_its_first_poll(
    tmp_path: Path,
) -> None:
    url = bench_startup.demo_database(tmp_path)

    # It returns only once the fake saw a getUpdates; a bot that exited early raises instead,
    # and one that never polls runs into the timeout.
    seconds = await asyncio.wait_for(bench_startup.time_bot_start(url), 60)

    assert seconds > 0


def test_the_crash_benchmark_kills_at_its_point_and_counts_every_answer(tmp_path: Path) -> None:
    url = sqlite_database(tmp_path / "crash.db")
    scenario = Scenario(url, tmp_path, patients=3, seed=1, kills=bench_crash.kills_of(1)[1:])

    outcome = run_scenario(scenario, "sqlite")

    # Whether answers survive is the crash tests' business; here only that the figures add up.
    (kill,) = outcome.kills
    assert (kill.kind, kill.reached, kill.exit_code) == ("between", True, -signal.SIGKILL)
    assert outcome.sent == 3
    assert outcome.stored + outcome.lost == outcome.sent
    assert 0 <= outcome.next_delivered <= outcome.patients == 3


def test_the_charts_benchmark_draws_every_patient(tmp_path: Path) -> None:
    checkins, figures = bench_charts.run(tmp_path, 5, 10, runs=1)

    assert checkins == 50
    assert figures.rows == 5
    assert figures.png_bytes > 0
    assert figures.answers_written > 0


def test_the_requests_benchmark_sends_as_many_with_and_without_sniffio() -> None:
    api = FakeBotApi()
    with serve_in_thread(api) as server:
        for hidden in (False, True):
            took = bench_requests.time_requests(
                server.base_url, hide_sniffio=hidden, requests=5, rounds=2
            )
            assert took > 0
    assert len(api.calls_of("sendMessage")) == 2 * (bench_requests.WARM_UP + 5 * 2)
