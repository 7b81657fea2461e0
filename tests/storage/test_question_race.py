"""Two therapists change the same question at the same moment: the second is told, and the
first's change stays (the question's row is read under lock, so the comparison with what the
second was shown sees the first's commit on PostgreSQL too)."""

from __future__ import annotations

import dataclasses
from datetime import date
from datetime import time as time_of_day

import pytest
from sqlmodel import Session, select

from bot.clock import ManualClock
from bot.services import authoring
from bot.services.audit import Actor, ActorRole
from bot.services.authoring import AuthoringError
from bot.services.meaning import Kind
from storage.db import Database
from storage.models import Question
from tests.fakes.holding import held_write
from tests.flows.test_scheduling_support import World

ADMIN = Actor(9001, ActorRole.ADMINISTRATOR)


def test_a_change_racing_a_colleagues_is_refused_and_theirs_stays(
    database: Database, clock: ManualClock
) -> None:
    world = World(database, clock)
    task_id = world.task(world.group(), (date(2026, 11, 26), time_of_day(9, 0)))
    seen = authoring.question_now(database, task_id, 1, actor=ADMIN)

    def colleague_changes(session: Session) -> None:
        question = session.exec(
            select(Question)
            .where(Question.task_id == task_id, Question.position == 1)
            .with_for_update()
        ).one()
        question.alert_rule = "== no"

    with pytest.raises(AuthoringError) as refused, held_write(database, colleague_changes):
        authoring.reword_question(
            database,
            task_id,
            1,
            # The wording changed, the rest kept as shown: no alert.
            dataclasses.replace(seen, description="Question 1, reworded"),
            seen=seen,
            now=clock.now(),
            actor=ADMIN,
        )

    assert [p.kind for p in refused.value.problems] == [Kind.ADMIN_QUESTION_CHANGED_MEANWHILE]
    with database.session() as session:
        question = session.exec(
            select(Question).where(Question.task_id == task_id, Question.position == 1)
        ).one()
    assert (question.alert_rule, question.revision) == ("== no", 1)
