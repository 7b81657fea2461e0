"""The database goes away for a while; the running bot says so in one line, and catches up.

The Application runs for real (its JobQueue ticks the due scan every 0.2 s of real time) while
the database is taken away under it:

- PostgreSQL: the server is shared with the rest of the suite, so it is not stopped; instead
  the test database stops accepting connections (``ALTER DATABASE ... ALLOW_CONNECTIONS
  false``) and the bot's open connections are terminated (``pg_terminate_backend``);
- SQLite: another connection holds the write lock (``BEGIN EXCLUSIVE``) for several times the
  busy timeout (cut to 0.5 s for the test, from 5 s).

During the outage the prompts fall due and a patient writes to the bot. Then the database
comes back and every due prompt goes out.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

import storage.db
from bot import scheduler, texts
from bot.clock import ManualClock
from bot.config import Settings
from bot.receiver import receiver
from bot.sender import Pacer
from fakebotapi import FakeBotApi
from storage.db import Database
from tests.conftest import _libpq
from tests.fakes.harness import Harness
from tests.fakes.updates import User
from tests.fakes.waiting import wait_until
from tests.flows.test_scheduling_support import World

DUE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PATIENTS = 10
OUTAGE_SECONDS = 2.0


@contextmanager
def sqlite_locked(url: str) -> Iterator[None]:
    """Another writer holds the database: every transaction of the bot that writes waits, then
    fails (one that only reads is answered from the last commit)."""
    path = make_url(url).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("COMMIT")
    finally:
        holder.close()


@contextmanager
def postgres_gone(url: str, admin_url: str) -> Iterator[None]:
    """The database refuses new connections and the bot's open ones are cut."""
    name = make_url(url).database
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # type: ignore[arg-type]
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            yield
        finally:
            # Whatever happened, the rest of the suite needs this database back.
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # type: ignore[arg-type]


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Five seconds per locked transaction would make an outage test slow for nothing.
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 500)


async def test_the_bot_keeps_running_through_a_database_outage_and_catches_up(
    short_busy_timeout: None,
    settings: Settings,
    database_url: str,
    clock: ManualClock,
    backend: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fast = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"scan_interval_seconds": 0.2})}
    )
    database = Database(database_url)  # built after the busy timeout was cut
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, PATIENTS)
    task = world.task(group, (date(2026, 11, 25), clock_time(10, 0)))
    h = await Harness(fast, database, clock).start()
    app = h.app
    alice = User(id=people[0].chat_id or 0, first_name="Patient", last_name="One")
    if backend == "sqlite":
        outage = sqlite_locked(database_url)
    else:
        outage = postgres_gone(database_url, request.getfixturevalue("postgres_admin_url"))

    def store_warnings() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "bot.receiver" and "database is unavailable" in r.getMessage()
        ]

    def scan_warnings() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "bot.scheduler" and "database is unavailable" in r.getMessage()
        ]

    await app.start()
    # Updates come in through getUpdates, as in production: the fetch loop stores each batch
    # before confirming it, and keeps trying while the database is away.
    incoming = receiver(app)
    incoming.start(polling=True)
    try:
        await wait_until(lambda: h.app.bot_data["deps"].scans.last_finished, 10, "a first scan")
        started = time.monotonic()
        with outage:
            clock.set(DUE)  # the prompts fall due while the database is away
            await wait_until(lambda: len(scan_warnings()) >= 2, 15, "failed scans to be logged")
            # A change, which needs the database: it cannot even be stored now.
            h.api.push_update(h.updates.command(alice, "/timezone", "Europe/Berlin"))
            await wait_until(store_warnings, 15, "the failed store to be logged")
            remaining = OUTAGE_SECONDS - (time.monotonic() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)
            assert app.running and app.job_queue is not None and app.job_queue.scheduler.running
            assert not h.api.calls_of("sendMessage"), "nothing was sent during the outage"
        outage_took = time.monotonic() - started
        failed_scans = len(scan_warnings())
        back = time.monotonic()
        await wait_until(
            lambda: world.statuses(task_id=task) == {"sent": PATIENTS}, 20, "the catch-up"
        )
        caught_up_after = time.monotonic() - back
        await wait_until(
            lambda: any("Europe/Berlin" in t for t in h.api.texts(alice.chat_id)),
            20,
            "the update sent during the outage to be handled",
        )
        zone_reply = next(t for t in h.api.texts(alice.chat_id) if "Europe/Berlin" in t)
        await incoming.close()
        await h.command(alice, "/tasks")
        after = h.last_text(alice.chat_id)
    finally:
        await incoming.close()
        await app.stop()
        await h.stop()
        database.dispose()

    prompts = {
        p.chat_id: [t for t in h.api.texts(p.chat_id or 0) if "Time for your check-in" in t]
        for p in people
    }
    figures = {
        "outage_s": round(outage_took, 1),
        "failed_scans_logged": failed_scans,
        "prompts_due": PATIENTS,
        "prompts_sent_after_return": sum(len(p) for p in prompts.values()),
        "caught_up_within_s": round(caught_up_after, 1),
    }
    print(f"\ndatabase outage [{backend}]: {figures}")

    # Nothing the patient sent was lost, and nothing needed an apology.
    assert texts.something_went_wrong() not in h.api.texts(alice.chat_id)
    assert "Europe/Berlin" in zone_reply
    assert "Your open check-ins" in after
    assert all(len(sent) == 1 for sent in prompts.values()), prompts
    warning = scan_warnings()[0]
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    message = warning.getMessage()
    assert "\n" not in message and "Traceback" not in message
    print(f"  the scan's line: {message}")
    leaks = [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert not leaks, [(r.name, r.getMessage()) for r in leaks]
    for text in h.api.texts(alice.chat_id):
        assert "Traceback" not in text and "OperationalError" not in text


class OutageAfter(FakeBotApi):
    """A Telegram that works, while the database goes away after the ``after``-th prompt."""

    def __init__(
        self, after: int, seconds: float, outage: AbstractContextManager[None], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.after = after
        self.seconds = seconds
        self.outage = outage
        self.began: float | None = None
        self.ended: float | None = None

    async def handle(
        self, name: str, params: dict[str, Any], files: dict[str, Any] | None = None
    ) -> tuple[int, bytes]:
        answer = await super().handle(name, params, files)
        if name == "sendMessage" and len(self.calls_of("sendMessage")) == self.after:
            self.outage.__enter__()
            self.began = time.monotonic()
            asyncio.get_running_loop().call_later(self.seconds, self._end)
        return answer

    def _end(self) -> None:
        self.outage.__exit__(None, None, None)
        self.ended = time.monotonic()


async def test_results_are_recorded_after_an_outage_in_the_middle_of_a_fan_out(
    short_busy_timeout: None,
    settings: Settings,
    database_url: str,
    clock: ManualClock,
    backend: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Prompts already sent are recorded once the database is back, so none goes out twice."""
    caplog.set_level(logging.INFO)
    count = 60
    database = Database(database_url)
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, count)
    task = world.task(group, (date(2026, 11, 25), clock_time(10, 0)))
    if backend == "sqlite":
        outage: AbstractContextManager[None] = sqlite_locked(database_url)
    else:
        outage = postgres_gone(database_url, request.getfixturevalue("postgres_admin_url"))
    # Longer than a few quick retries: the first results wait about three seconds for it.
    api = OutageAfter(20, 4.0, outage, wall_clock=lambda: clock.now().timestamp())
    h = await Harness(settings, database, clock, api=api).start()
    # Real time this once: the flush must really wait for the database to come back.
    scheduler.state(h.app).pacer = Pacer(settings.scheduler.messages_per_second)
    try:
        clock.set(DUE)
        started = time.monotonic()
        report = await h.scan()
        took = time.monotonic() - started
        statuses = world.statuses(task_id=task)
    finally:
        await h.stop()
        database.dispose()

    per_chat = [len(api.sent_to(p.chat_id or 0)) for p in people]
    waits = [r for r in caplog.records if "could not record send results" in r.getMessage()]
    figures = {
        "prompts": count,
        "sent": report.sent,
        "outage_s": round((api.ended or 0) - (api.began or 0), 1),
        "flush_attempts_failed": len(waits),
        "duplicates": sum(n - 1 for n in per_chat if n > 1),
        "lost": per_chat.count(0),
        "scan_s": round(took, 1),
    }
    print(f"\noutage in the middle of a fan-out [{backend}]: {figures}")
    assert api.began is not None and api.ended is not None
    assert statuses == {"sent": count}, "every result was recorded once the database was back"
    assert per_chat == [1] * count
    assert waits and all(r.levelno == logging.WARNING and not r.exc_info for r in waits)
    assert "database is unavailable" in waits[0].getMessage()
