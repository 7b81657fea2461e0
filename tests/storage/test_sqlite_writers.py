"""Write sessions of one process take turns on SQLite instead of meeting its lock.

The receiver handles up to four updates at once, each use case in a thread of its own, and
SQLite has one writer: a second writer that met the lock would sleep in SQLite's busy
handler (1, 2, 5, 10 ms and longer) well past the moment the first one committed.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from storage.db import Database
from storage.models import Person

# What sharing SQLite's lock would cost here: none of these writers may meet it.
WRITERS = 4
WRITES_EACH = 40
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _add_person(database: Database, user_id: int) -> None:
    with database.session() as session:
        session.add(Person(telegram_user_id=user_id, chat_id=user_id, created_at=NOW))
        session.commit()


def _no_busy_wait(database: Database) -> None:
    """A writer that meets SQLite's lock fails at once ("database is locked")."""

    @event.listens_for(database.engine, "connect")
    def _fail_at_once(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_writers_in_threads_side_by_side_never_meet_sqlites_lock(database: Database) -> None:
    _no_busy_wait(database)

    def writer(first: int) -> None:
        for user_id in range(first, first + WRITES_EACH):
            _add_person(database, user_id)

    with ThreadPoolExecutor(WRITERS) as pool:
        for done in [pool.submit(writer, 1000 * (n + 1)) for n in range(WRITERS)]:
            done.result()  # "database is locked" would be raised here

    with database.read_session() as session:
        assert session.exec(select(func.count()).select_from(Person)).one() == WRITERS * (
            WRITES_EACH
        )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_write_session_opened_inside_another_on_the_same_thread_is_not_held_up(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # The outer session has not begun yet, so SQLite itself would let the inner one write.
    with caplog.at_level(logging.WARNING, logger="storage.db"), database.session():
        _add_person(database, 1)
    assert not [r for r in caplog.records if "waited" in r.getMessage()]
    with database.read_session() as session:
        assert session.exec(select(Person.telegram_user_id)).all() == [1]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_write_session_that_failed_lets_the_next_writer_in(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    def fail_inside_a_session() -> None:
        with database.session() as session:
            session.add(Person(telegram_user_id=7, chat_id=7, created_at=NOW))
            session.flush()
            raise RuntimeError("the use case failed half way")

    with ThreadPoolExecutor(1) as pool:
        assert isinstance(pool.submit(fail_inside_a_session).exception(), RuntimeError)
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        _add_person(database, 8)  # on another thread than the failed one
    assert not [r for r in caplog.records if "waited" in r.getMessage()]
    with database.read_session() as session:
        assert session.exec(select(Person.telegram_user_id)).all() == [8]
