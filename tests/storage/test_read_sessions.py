"""Read-only use cases answer while a writer holds the database, and cannot write themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from bot.services import authoring, checkin
from storage.db import Database
from storage.models import Person, Role

THEO, ALICE = 1001, 2002


@pytest.fixture
def people(database: Database) -> Database:
    with database.session() as session:
        now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        session.add(
            Person(telegram_user_id=THEO, chat_id=THEO, role=Role.THERAPIST.value, created_at=now)
        )
        session.add(Person(telegram_user_id=ALICE, chat_id=ALICE, created_at=now))
        session.commit()
    return database


def test_a_reader_answers_from_the_last_commit_while_a_writer_holds_the_database(
    people: Database,
) -> None:
    # The due scan claiming a fan-out holds SQLite's one write lock for a fraction of a
    # second; /help, /tasks and reports must not queue behind it. A reader that asked for the
    # write lock would wait the busy timeout (5 s) and fail with "database is locked".
    with people.session() as writer:
        writer.execute(
            update(Person).where(Person.telegram_user_id == ALICE).values(opted_out=True)
        )
        writer.execute(
            update(Person).where(Person.telegram_user_id == THEO).values(role=Role.ERASED.value)
        )

        assert authoring.is_therapist(people, (), THEO)
        status = checkin.person_status(people, ALICE)
        assert status.known and not status.opted_out

        writer.commit()

    assert not authoring.is_therapist(people, (), THEO)
    assert checkin.person_status(people, ALICE).opted_out


def test_a_write_in_a_read_session_is_refused_and_the_connection_stays_writable(
    people: Database,
) -> None:
    with people.read_session() as session, pytest.raises(DBAPIError):
        session.execute(update(Person).values(opted_out=True))

    with people.session() as session:
        session.execute(
            update(Person).where(Person.telegram_user_id == ALICE).values(timezone="UTC")
        )
        session.commit()
    with people.read_session() as session:
        alice = session.exec(select(Person).where(Person.telegram_user_id == ALICE)).one()
    assert alice.timezone == "UTC" and not alice.opted_out


def test_an_object_changed_in_a_read_session_is_never_written(people: Database) -> None:
    # A read session ends in a COMMIT on PostgreSQL (to keep psycopg's prepared statements):
    # a use case that changes a loaded object to compute something must leave the row as
    # it was, and its session must close without an error, as after a rollback.
    with people.read_session() as session:
        alice = session.exec(select(Person).where(Person.telegram_user_id == ALICE)).one()
        alice.timezone = "Europe/Berlin"

    with people.read_session() as session:
        stored = session.exec(select(Person).where(Person.telegram_user_id == ALICE)).one()
    assert stored.timezone is None


def test_a_read_session_does_not_end_the_inbox_first_commit(people: Database) -> None:
    # The inbox marks an update handled in the first commit its handler makes; a read
    # session's commit writes nothing and must leave that to the handler's real write.
    marked: list[str] = []
    with people.first_commit_runs(lambda _session: marked.append("marked")) as hook:
        with people.read_session() as session:
            session.exec(select(Person)).all()
        assert marked == [] and not hook.committed
        with people.session() as session:
            session.execute(
                update(Person).where(Person.telegram_user_id == ALICE).values(timezone="UTC")
            )
            session.commit()
    assert marked == ["marked"] and hook.committed
