"""Rows for the benchmarks, written in bulk straight into a migrated database.

Tens of thousands of people and a million deliveries cannot go through the use cases one by
one in a benchmark's budget, so the big tables are filled with ``executemany`` of plain tuples
in large transactions, through the engine's own DBAPI connection (SQLite or PostgreSQL). The
few rows that carry structure (groups, tasks, questions) go through the ORM, so their encoded
columns (dates, times, JSON) are exactly what the bot writes.

Instants follow ``storage.types.UTCDateTime``: naive UTC, which on SQLite is SQLAlchemy's text
form ``YYYY-MM-DD HH:MM:SS.ffffff`` (the scan compares those strings, so the form must match).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel, col, select

from bot.services.revisions import add_first_revision
from storage.db import Database, upgrade
from storage.models import DeliveryStatus, Question, QuestionRevision, Role, Task, TherapyGroup

PENDING = DeliveryStatus.PENDING.value
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

MEMBERSHIP_COLUMNS = ("id", "group_id", "person_id", "role", "joined_at")
DELIVERY_COLUMNS = (
    "id", "task_id", "person_id", "due_at", "expires_at", "status", "current_tries",
    "sent_at", "started_at", "finished_at", "remind_at", "reminders_sent", "send_attempts",
    "prompt_message_id",
)  # fmt: skip


def utc_now() -> datetime:
    """The real time, to the second (benchmarks measure real time; the bot's clock agrees)."""
    return datetime.now(UTC).replace(microsecond=0)


class Bulk:
    """Insert plain tuples into one table per call, in big transactions, on either backend."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.sqlite = database.is_sqlite

    def instant(self, value: datetime | None) -> Any:
        if value is None:
            return None
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else naive

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        chunk: int = 100_000,
        rebuild_indexes: bool = False,
    ) -> int:
        """Insert ``rows`` (explicit ids included); return how many.

        Required columns not named get the model's own default, so a new column with a default
        does not break the benchmarks. ``rebuild_indexes`` (SQLite) drops the table's indexes
        for the load and creates them again from their own DDL afterwards: a million rows load
        several times faster so.
        """
        extra, filler = _defaults(table, columns)
        names = [*columns, *extra]
        mark = "?" if self.sqlite else "%s"
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(mark for _ in names)})"
        source = ((*row, *filler) for row in rows) if filler else rows
        count = 0
        raw = self.database.engine.raw_connection()
        try:
            cursor = raw.cursor()
            indexes: list[tuple[str, str]] = []
            if self.sqlite:
                cursor.execute("PRAGMA synchronous=OFF")  # the build only; the bot sets its own
                if rebuild_indexes:
                    cursor.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                        "AND tbl_name = ? AND sql IS NOT NULL",
                        (table,),
                    )
                    indexes = list(cursor.fetchall())
                    for name, _sql in indexes:
                        cursor.execute(f'DROP INDEX "{name}"')
            for batch in _chunks(source, chunk):
                if self.sqlite:
                    cursor.execute("BEGIN")
                cursor.executemany(sql, batch)
                if self.sqlite:
                    cursor.execute("COMMIT")
                else:
                    raw.commit()
                count += len(batch)
            for _name, index_sql in indexes:
                cursor.execute(index_sql)
            if self.sqlite:
                # No ANALYZE: the bot never runs one, so the planner sees what it sees in use.
                cursor.execute("PRAGMA synchronous=NORMAL")
            elif "id" in columns:
                # Explicit ids leave the sequence behind; the bot's own inserts come next.
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
                cursor.execute(f"ANALYZE {table}")
                raw.commit()
            cursor.close()
        finally:
            raw.close()
        return count


def _defaults(table: str, columns: Sequence[str]) -> tuple[list[str], tuple[Any, ...]]:
    """Required columns of ``table`` not in ``columns``, and the model's default of each."""
    extra: list[str] = []
    values: list[Any] = []
    for column in SQLModel.metadata.tables[table].columns:
        if column.name in columns or column.nullable:
            continue
        default = column.default
        if default is None or not getattr(default, "is_scalar", False):
            raise ValueError(f"{table}.{column.name} is required and has no default")
        extra.append(column.name)
        values.append(getattr(default, "arg", None))
    return extra, tuple(values)


def name_column() -> str:
    """Where a person's (first) name goes in this version of the schema."""
    columns = SQLModel.metadata.tables["people"].columns
    return "first_name" if "first_name" in columns else "name"


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- structure through the ORM ---------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSpec:
    response_type: str = "yes_no"
    description: str = "Did you do the exercise?"
    min_value: float | None = None
    max_value: float | None = None


def add_group(database: Database, name: str, now: datetime, zone: str = "UTC") -> int:
    with database.session() as session:
        group = TherapyGroup(name=name, timezone=zone, created_at=now)
        session.add(group)
        session.commit()
        assert group.id is not None
        return group.id


def add_task(
    database: Database,
    group_id: int,
    due: datetime,
    *,
    title: str = "Perform 20 Press-Ups",
    recurrence: str | None = "FREQ=DAILY",
    questions: Sequence[QuestionSpec] = (QuestionSpec(),),
    created_at: datetime | None = None,
) -> tuple[int, list[int]]:
    """A task due at ``due`` (wall clock in UTC: the groups here live in UTC); its question ids."""
    with database.session() as session:
        task = Task(
            group_id=group_id,
            title=title,
            due_date=due.date(),
            due_time=due.time(),
            recurrence=recurrence,
            expiry_minutes=24 * 60,
            created_at=created_at or due,
        )
        session.add(task)
        session.flush()
        assert task.id is not None
        rows = [
            Question(
                task_id=task.id,
                position=position,
                description=spec.description,
                response_type=spec.response_type,
                min_value=spec.min_value,
                max_value=spec.max_value,
            )
            for position, spec in enumerate(questions, start=1)
        ]
        session.add_all(rows)
        for row in rows:
            add_first_revision(session, row, created_at or due)
        session.commit()
        return task.id, [q.id for q in rows if q.id is not None]


def revision_ids(database: Database, question_ids: Sequence[int]) -> list[int]:
    """The current revision of each question, for answers written in bulk."""
    with database.session() as session:
        found = dict(
            session.exec(
                select(QuestionRevision.question_id, QuestionRevision.id).where(
                    col(QuestionRevision.question_id).in_(question_ids)
                )
            ).all()
        )
    return [found[q] for q in question_ids]


def add_patients(
    bulk: Bulk,
    group_id: int,
    count: int,
    now: datetime,
    *,
    first_user_id: int = 10_000_000,
    after_id: int = 0,
) -> list[int]:
    """``count`` patients in the group, ids after_id+1..; user n's id is first_user_id + n."""
    created = bulk.instant(now)
    ids = range(after_id + 1, after_id + count + 1)
    bulk.insert(
        "people",
        ("id", "telegram_user_id", "chat_id", name_column(), "created_at"),
        (
            (
                i,
                first_user_id + i - after_id,
                first_user_id + i - after_id,
                f"Patient {i}",
                created,
            )
            for i in ids
        ),
    )
    bulk.insert(
        "memberships",
        MEMBERSHIP_COLUMNS,
        ((i, group_id, i, Role.PATIENT.value, created) for i in ids),
    )
    return list(ids)


def delivery_row(
    bulk: Bulk,
    delivery_id: int,
    task_id: int,
    person_id: int,
    due_at: datetime,
    *,
    status: str = PENDING,
    started: bool = False,
    finished: bool = False,
    remind_at: datetime | None = None,
    prompt_message_id: int | None = None,
) -> tuple[Any, ...]:
    """One row in ``DELIVERY_COLUMNS`` order; sent, started and finished follow ``due_at``."""
    sent = status not in (PENDING, DeliveryStatus.CANCELLED.value)
    return (
        delivery_id, task_id, person_id,
        bulk.instant(due_at), bulk.instant(due_at + timedelta(days=1)), status, 0,
        bulk.instant(due_at) if sent else None,
        bulk.instant(due_at + timedelta(minutes=5)) if started else None,
        bulk.instant(due_at + timedelta(minutes=20)) if finished else None,
        bulk.instant(remind_at), 0, 1 if sent else 0, prompt_message_id,
    )  # fmt: skip


# --- databases ------------------------------------------------------------------------------


def sqlite_database(path: os.PathLike[str] | str) -> str:
    """A new SQLite file migrated to head by alembic, as ``patientbot db upgrade`` would."""
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


def postgres_admin_url() -> str | None:
    """The PostgreSQL server to use (PATIENTBOT_TEST_POSTGRES_URL or the local default)."""
    url = os.environ.get("PATIENTBOT_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            return url
    except psycopg.Error:
        return None


@contextmanager
def postgres_database(admin_url: str, tag: str = "") -> Iterator[str]:
    """A database of our own, ``patientbot_bench_<pid>``, migrated to head; dropped after."""
    name = f"patientbot_bench_{os.getpid()}{tag}"
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute(statement)


def day_at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=UTC)
