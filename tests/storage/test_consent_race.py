"""Two saves of a group's consent text at the same moment: one is saved, the other is told.

On PostgreSQL both read version 1 in force and both insert version 2; the unique
(group_id, version) stops the second at its commit. On SQLite the second waits for the
first's write lock and then reads version 2. Either way the second therapist gets a sentence,
not "something went wrong", and the first's words stay in force.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select

from bot.services import consent
from bot.services.audit import Actor, ActorRole
from bot.services.authoring.results import AuthoringError
from bot.services.meaning import Kind
from storage.db import Database
from storage.models import ConsentVersion, TherapyGroup
from tests.fakes.holding import held_write

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADMIN = Actor(9001, ActorRole.ADMINISTRATOR)


def a_group_asking_consent(database: Database) -> int:
    with database.session() as session:
        group = TherapyGroup(name="Knees", timezone="Europe/London", created_at=NOW)
        session.add(group)
        session.flush()
        assert group.id is not None
        session.add(ConsentVersion(group_id=group.id, version=1, text="First", created_at=NOW))
        session.commit()
        return group.id


SAVES = {
    "text as written": (
        lambda database, group_id: consent.set_consent(
            database, NOW, group_id, "Mine", based_on=1, actor=ADMIN
        ),
        Kind.CONSENT_SAVED_MEANWHILE,
    ),
    "translation": (
        lambda database, group_id: consent.set_translation(
            database, NOW, group_id, 1, "de", "Meine", actor=ADMIN
        ),
        Kind.CONSENT_CHANGED_MEANWHILE,
    ),
}


def a_colleague_saving_version_2(
    database: Database, group_id: int
) -> AbstractContextManager[None]:
    """A colleague's version 2, written but not yet committed while the body runs."""

    def save(session: Session) -> None:
        session.add(ConsentVersion(group_id=group_id, version=2, text="Theirs", created_at=NOW))

    return held_write(database, save)


def versions(database: Database) -> list[tuple[int, str | None]]:
    with database.session() as session:
        rows = session.exec(
            select(ConsentVersion.version, ConsentVersion.text).order_by(
                col(ConsentVersion.version)
            )
        ).all()
    return [(version, text) for version, text in rows]


@pytest.mark.parametrize("save", list(SAVES))
def test_a_save_racing_another_is_refused_with_a_sentence(database: Database, save: str) -> None:
    saving, refusal = SAVES[save]
    group_id = a_group_asking_consent(database)

    with (
        pytest.raises(AuthoringError) as refused,
        a_colleague_saving_version_2(database, group_id),
    ):
        saving(database, group_id)

    assert [problem.kind for problem in refused.value.problems] == [refusal]
    assert versions(database) == [(1, "First"), (2, "Theirs")]


def test_off_at_the_same_moment_as_a_colleagues_save_switches_off_after_it(
    database: Database,
) -> None:
    """Off keeps no words of its own: it comes after the colleague's version, whichever
    committed first, instead of failing (PostgreSQL) or waiting its turn (SQLite) differently."""
    group_id = a_group_asking_consent(database)

    with a_colleague_saving_version_2(database, group_id):
        change = consent.set_consent(database, NOW, group_id, None, based_on=None, actor=ADMIN)

    assert (change.version, change.required) == (3, False)
    assert versions(database) == [(1, "First"), (2, "Theirs"), (3, None)]


@pytest.mark.parametrize("based_on", [0, 2])
def test_a_save_against_a_version_not_in_force_is_refused(
    database: Database, based_on: int
) -> None:
    group_id = a_group_asking_consent(database)
    with pytest.raises(AuthoringError) as refused:
        consent.set_consent(database, NOW, group_id, "Mine", based_on=based_on, actor=ADMIN)
    assert [p.kind for p in refused.value.problems] == [Kind.CONSENT_SAVED_MEANWHILE]
