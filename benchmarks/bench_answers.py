"""Answer handling: the full Application against a bare PTB echo that writes one row, same run.

Each of N patients has a check-in in progress at a number question and answers it ("7"). The
update goes through everything a real answer does: the durable inbox (the batch stored in one
transaction, as one ``getUpdates`` batch of 100 is; claimed; marked done with the answer),
PTB's dispatch to the patient handlers, ``checkin.answer_message`` in a thread (find the person
and their delivery, validate, store the answer, move on, one transaction), the reply with the
next question, and the record that it was shown. The same Application also takes updates
straight through ``process_update``, as before the inbox, so its cost is measured side by side.

The floor is a bare PTB Application on the same kind of fake Bot API and the same database
(same ``Database``, engine settings and sync-session-in-a-thread pattern) whose one handler
inserts one row in one transaction and replies. It processes updates one after the other, as
PTB does by default; the inbox's worker handles up to ``HANDLING_AT_ONCE`` of a batch side by
side (each of another chat), so the floor is also timed that way, like for like. All sides run
in alternating slices so the noise of a shared machine falls on each.

    python -m benchmarks.bench_answers            # quick: 1,000 answers per side and backend
    python -m benchmarks.bench_answers --full     # 4,000
    python -m benchmarks.bench_answers --batch 1  # the inbox fed as webhook calls feed it
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, func, insert, update
from sqlmodel import col, select
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from benchmarks.common import machine, summary, temp_dir
from benchmarks.rows import (
    DELIVERY_COLUMNS,
    Bulk,
    QuestionSpec,
    add_group,
    add_patients,
    add_task,
    delivery_row,
    postgres_admin_url,
    postgres_database,
    sqlite_database,
    utc_now,
)
from bot import scheduler
from bot.app import PLACEHOLDER_TOKEN, build_application, serving_runtime
from bot.config import Settings
from bot.receiver import HANDLING_AT_ONCE, receiver
from bot.sender import Pacer
from fakebotapi import FakeBotApi
from storage.db import Database
from storage.models import Answer, Delivery, DeliveryStatus, Person
from storage.types import UTCDateTime

FIRST_USER_ID = 20_000_000
DIRECT_USER_ID = 25_000_000
FLOOR_USER_ID = 30_000_000
FLOOR_AT_ONCE_USER_ID = 35_000_000
# One getUpdates answer holds at most 100 updates.
BATCH = 100
WARM_UP = 30
SLICES = 4
# Issue 22's goals: the answer path at this share of the bare echo's rate.
GOALS = {"SQLite": 0.90, "PostgreSQL": 0.85}

# The floor's table: created in the benchmark's own database only, never in the schema.
_floor_metadata = MetaData()
ECHO = Table(
    "bench_echo",
    _floor_metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("text", String(4096), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)


@dataclass(frozen=True)
class AnswersResult:
    backend: str
    answers: int
    ours_seconds: float
    direct_seconds: float  # the same Application without the inbox (the path before it)
    floor_seconds: float
    floor_at_once_seconds: float  # the floor handling HANDLING_AT_ONCE updates side by side
    stored: int  # answers rows written by the bot
    replies: int  # answers that got their next question
    floor_rows: int
    batch: int = BATCH  # updates stored and handled at a time by the inbox

    @property
    def ours_rate(self) -> float:
        return self.answers / self.ours_seconds

    @property
    def floor_rate(self) -> float:
        return self.answers / self.floor_seconds

    @property
    def direct_rate(self) -> float:
        return self.answers / self.direct_seconds

    @property
    def floor_at_once_rate(self) -> float:
        return self.answers / self.floor_at_once_seconds

    @property
    def ratio(self) -> float:
        return self.ours_rate / self.floor_rate

    @property
    def like_for_like_ratio(self) -> float:
        return self.ours_rate / self.floor_at_once_rate

    @property
    def direct_ratio(self) -> float:
        return self.direct_rate / self.floor_rate


def build(database: Database, patients: int) -> None:
    """``patients`` check-ins in progress, each at the first of two number questions, shown."""
    now = utc_now()
    group_id = add_group(database, "Answers", now)
    question = QuestionSpec("number", "How many press-ups did you do?", 0, 1000)
    task_id, questions = add_task(
        database,
        group_id,
        now - timedelta(minutes=10),
        questions=(question, QuestionSpec("number", "How many minutes did it take?", 0, 600)),
    )
    bulk = Bulk(database)
    people = add_patients(bulk, group_id, patients, now, first_user_id=FIRST_USER_ID)
    direct = add_patients(
        bulk, group_id, patients, now, first_user_id=DIRECT_USER_ID, after_id=patients
    )
    due = now - timedelta(minutes=10)
    bulk.insert(
        "deliveries",
        DELIVERY_COLUMNS,
        (
            delivery_row(
                bulk,
                person,
                task_id,
                person,
                due,
                status=DeliveryStatus.IN_PROGRESS.value,
                started=True,
                remind_at=now + timedelta(minutes=50),
                prompt_message_id=1,
            )
            for person in (*people, *direct)
        ),
    )
    with database.session() as session:
        session.execute(
            update(Delivery).values(
                asked_question_id=questions[0],
                asked_revision=1,
                asked_at=now,
                asked_message_id=2,
            )
        )
        session.commit()
    _floor_metadata.create_all(database.engine)


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Patient", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Patient"},
            "from": user,
            "text": text,
        },
    }


def _store_echo(database: Database, user_id: int, text: str, now: datetime) -> None:
    with database.session() as session:
        session.execute(insert(ECHO).values(user_id=user_id, text=text, at=now))
        session.commit()


def floor_application(
    api: FakeBotApi, database: Database
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A bare PTB Application: one handler, one row in one transaction, one reply."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.text is not None and message.from_user
        await asyncio.to_thread(
            _store_echo, database, message.from_user.id, message.text, utc_now()
        )
        await message.reply_text(f"Stored <b>{message.text}</b>.", parse_mode="HTML")

    application = (
        ApplicationBuilder().token(PLACEHOLDER_TOKEN).request(api).get_updates_request(api).build()
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return application


async def _feed(application: Any, updates: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for data in updates:
        await application.process_update(Update.de_json(data, application.bot))
    return time.perf_counter() - started


async def _feed_at_once(application: Any, updates: list[dict[str, Any]]) -> float:
    """As ``_feed``, with up to ``HANDLING_AT_ONCE`` updates processed side by side."""
    slots = asyncio.Semaphore(HANDLING_AT_ONCE)

    async def one(data: dict[str, Any]) -> None:
        async with slots:
            await application.process_update(Update.de_json(data, application.bot))

    started = time.perf_counter()
    await asyncio.gather(*(one(data) for data in updates))
    return time.perf_counter() - started


async def _feed_inbox(
    application: Any, updates: list[dict[str, Any]], batch: int = BATCH
) -> float:
    """As updates arrive by getUpdates (``batch`` 100) or by webhook (1): each batch stored,
    then handled from the inbox."""
    incoming = receiver(application)
    started = time.perf_counter()
    for first in range(0, len(updates), batch):
        await incoming.accept(updates[first : first + batch])
        await incoming.drain()
    return time.perf_counter() - started


async def run_answers(
    url: str, answers: int, backend: str, *, batch: int = BATCH
) -> AnswersResult:
    """Build the rows on ``url`` (a migrated, empty database) and time both applications.

    ``batch``: how many updates the inbox is given at a time (100, a ``getUpdates`` answer;
    1, a webhook call)."""
    database = Database(url)
    build(database, answers + WARM_UP)
    settings = Settings.model_validate({"database": {"url": url}})
    ours_api, floor_api = FakeBotApi(), FakeBotApi()
    ours = build_application(settings, request=ours_api, database=database)
    # What is timed is the handling of an answer, not Telegram's budget: 1,000 replies sent
    # back to back would otherwise wait for the pacer's 29 a second (issue 22: replies are
    # paced once they alone exceed the limit), as the bot must with Telegram.
    scheduler.state(ours).pacer = Pacer(1e9)
    floor = floor_application(floor_api, database)
    # Frozen collector and a 1 ms GIL switch interval, as `patientbot run` has them.
    runtime = ExitStack()
    runtime.enter_context(serving_runtime())
    await ours.initialize()
    await floor.initialize()
    ids = iter(range(1, 10 * (answers + WARM_UP)))

    def updates(first_user: int, start: int, count: int) -> list[dict[str, Any]]:
        return [text_update(next(ids), first_user + i, "7") for i in range(start, start + count)]

    try:
        # Warm all up (compiled statement caches, connection pools, first-call imports).
        await _feed_inbox(ours, updates(FIRST_USER_ID, answers + 1, WARM_UP), batch)
        await _feed(ours, updates(DIRECT_USER_ID, answers + 1, WARM_UP))
        await _feed(floor, updates(FLOOR_USER_ID, answers + 1, WARM_UP))
        await _feed_at_once(floor, updates(FLOOR_AT_ONCE_USER_ID, answers + 1, WARM_UP))
        seconds = {"inbox": 0.0, "direct": 0.0, "floor": 0.0, "floor at once": 0.0}
        size = -(-answers // SLICES)
        for index, start in enumerate(range(1, answers + 1, size)):
            count = min(size, answers + 1 - start)
            sides = [
                ("inbox", ours, FIRST_USER_ID, functools.partial(_feed_inbox, batch=batch)),
                ("direct", ours, DIRECT_USER_ID, _feed),
                ("floor", floor, FLOOR_USER_ID, _feed),
                ("floor at once", floor, FLOOR_AT_ONCE_USER_ID, _feed_at_once),
            ]
            if index % 2:
                sides.reverse()  # ABBA: no side always runs on the warmer machine
            for name, application, first_user, feed in sides:
                seconds[name] += await feed(application, updates(first_user, start, count))
    finally:
        await ours.shutdown()
        await floor.shutdown()
        runtime.close()  # a benchmark run inside pytest must not pin the rest of the session
    patients = range(FIRST_USER_ID + 1, FIRST_USER_ID + answers + 1)
    replies = sum(
        1
        for c in ours_api.calls_of("sendMessage")
        if c.ok and c.chat_id in patients and "minutes" in (c.text or "")
    )
    with database.session() as session:
        stored = session.exec(
            select(func.count())
            .select_from(Answer)
            .join(Delivery, col(Delivery.id) == Answer.delivery_id)
            .join(Person, col(Person.id) == Delivery.person_id)
            .where(col(Person.telegram_user_id).between(patients.start, patients.stop - 1))
        ).one()
        floor_rows = session.execute(select(func.count()).select_from(ECHO)).scalar_one()
        errors = session.exec(
            select(func.count()).select_from(Answer).where(col(Answer.value_number) != 7)
        ).one()
    database.dispose()
    assert errors == 0, f"{errors} answers were stored with the wrong value"
    return AnswersResult(
        backend=backend,
        answers=answers,
        ours_seconds=seconds["inbox"],
        direct_seconds=seconds["direct"],
        floor_seconds=seconds["floor"],
        floor_at_once_seconds=seconds["floor at once"],
        stored=int(stored),
        replies=replies,
        floor_rows=int(floor_rows) - 2 * WARM_UP,  # both floor sides
        batch=batch,
    )


def report(result: AnswersResult) -> None:
    r = result
    print(f"[{r.backend}] {r.answers:,} answers to a number question, processed one by one")
    print(f"  patientbot through the inbox ({r.batch} at a time stored, claimed, handled, "
          f"marked): {r.ours_rate:,.0f} "
          f"updates/s ({r.ours_seconds * 1000 / r.answers:.2f} ms each)")  # fmt: skip
    print(f"  patientbot without the inbox (process_update, as before it): {r.direct_rate:,.0f} "
          f"updates/s ({r.direct_seconds * 1000 / r.answers:.2f} ms each)")  # fmt: skip
    print(f"  floor (bare PTB echo, one row in one transaction, reply): {r.floor_rate:,.0f} "
          f"updates/s ({r.floor_seconds * 1000 / r.answers:.2f} ms each)")  # fmt: skip
    print(f"  the floor {HANDLING_AT_ONCE} at a time, as the inbox's worker handles a batch: "
          f"{r.floor_at_once_rate:,.0f} updates/s; ours / that: "
          f"{r.like_for_like_ratio:.2f}")  # fmt: skip
    goal = GOALS[r.backend]
    met = "met" if r.ratio >= goal else "NOT met"
    print(f"  ours / floor: {r.ratio:.2f} (goal >= {goal}: {met}); "
          f"without the inbox {r.direct_ratio:.2f}")  # fmt: skip
    print(f"  answers stored: {r.stored:,}, next question sent: {r.replies:,}, "
          f"floor rows: {r.floor_rows:,} (both floor sides)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="4,000 answers per side")
    parser.add_argument("--answers", type=int, help="override the number of answers")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--batch",
        type=int,
        default=BATCH,
        help="updates stored and handled at a time (100: getUpdates; 1: webhook calls)",
    )
    args = parser.parse_args()
    answers = args.answers or (4_000 if args.full else 1_000)
    print(f"$ python -m benchmarks.bench_answers {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    results = []
    with temp_dir() as folder:
        url = sqlite_database(Path(folder) / "answers.db")
        results.append(asyncio.run(run_answers(url, answers, "SQLite", batch=args.batch)))
        report(results[-1])
    admin = None if args.no_postgres else postgres_admin_url()
    if admin is not None:
        with postgres_database(admin) as url:
            results.append(asyncio.run(run_answers(url, answers, "PostgreSQL", batch=args.batch)))
            report(results[-1])
    else:
        print("[PostgreSQL] not measured: no server answers (or --no-postgres)")
    summary(
        "answers",
        "; ".join(
            f"{r.backend} {r.ours_rate:,.0f} updates/s vs floor {r.floor_rate:,.0f} = "
            f"{r.ratio:.2f} (without the inbox {r.direct_ratio:.2f}; against the floor "
            f"{HANDLING_AT_ONCE} at a time {r.like_for_like_ratio:.2f})"
            for r in results
        ),
    )


if __name__ == "__main__":
    main()
