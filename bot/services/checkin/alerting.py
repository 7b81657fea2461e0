"""Alerts to the care team: raised with the answer that met its question's rule, never lost.

The answer's transaction stores it with ``alert_pending_since`` set; the handler sends the
alerts after its reply and then clears the mark (``note_alerts_sent``). A process killed
between the two (or a network failure in between) leaves the mark, and the due scan sends the
alerts of answers still marked after a grace (``unsent_alerts``): an outbox, as for the
questions stored but not sent (``checkin.shown``). A kill after a send and before the mark
sends that answer's alerts once more, a copy rather than none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from bot.services.authoring.teams import team_chat_ids
from bot.services.checkin.common import _zone_of
from bot.services.checkin.results import AlertNotice, Policy
from storage.db import Database
from storage.models import Answer, Delivery, Person, Question, Task, TherapyGroup


def alert_notices(
    session: Session,
    policy: Policy,
    person: Person,
    task: Task,
    question: Question,
    answer: Answer,
) -> tuple[AlertNotice, ...]:
    """One notice for each therapist of the group's care team (administrators only as members
    of it, or when it has none), about ``answer``, which met ``question``'s alert rule."""
    group = session.get(TherapyGroup, task.group_id)
    chat_ids = team_chat_ids(session, task.group_id, policy.therapist_user_ids)
    zone = _zone_of(session, person, task, policy)
    return tuple(
        AlertNotice(
            chat_id=chat_id,
            patient_name=person.display_name,
            group_name=group.name if group else "",
            # The therapist's alert quotes the canonical wording, whatever the patient read:
            # the words they wrote, and the ones their reports and exports show.
            task_title=task.title,
            question=question.description,
            answer=answer.value_text,
            rule=question.alert_rule or "",  # set: only answers that met it come here
            answered_at=answer.answered_at,
            zone=zone,
            patient_id=person.id or 0,
            media_kind=question.response_type if answer.file_id else None,
            file_id=answer.file_id,
            answer_id=answer.id or 0,
        )
        for chat_id in chat_ids
    )


def unsent_alerts(
    database: Database, now: datetime, policy: Policy, older_than: timedelta, limit: int
) -> list[AlertNotice]:
    """The alerts of answers marked as not yet sent for ``older_than``: a process stopped
    between the answer's commit and its alerts. Nothing is changed here but the marks of
    answers with no one left to tell, or whose question lost its rule since (a therapist
    stopped alerting on it); the caller sends the rest, then ``note_alerts_sent``."""
    found: list[AlertNotice] = []
    nobody: list[int] = []
    with database.read_session() as session:
        rows = session.exec(
            select(Answer, Question, Task, Person)
            .join(Delivery, col(Delivery.id) == Answer.delivery_id)
            .join(Question, col(Question.id) == Answer.question_id)
            .join(Task, col(Task.id) == Delivery.task_id)
            .join(Person, col(Person.id) == Delivery.person_id)
            .where(
                col(Answer.alert_pending_since).is_not(None),
                col(Answer.alert_pending_since) <= now - older_than,
            )
            .order_by(col(Answer.alert_pending_since))
            .limit(limit)
        ).all()
        for answer, question, task, person in rows:
            notices = (
                alert_notices(session, policy, person, task, question, answer)
                if question.alert_rule
                else ()
            )
            if notices:
                found.extend(notices)
            else:
                nobody.append(answer.id or 0)
    if nobody:
        note_alerts_sent(database, nobody)
    return found


# Built once: the handler runs it after nearly every alert.
_ALERTS_SENT = (
    update(Answer)
    .where(col(Answer.id).in_(bindparam("b_answer_ids", expanding=True)))
    .values(alert_pending_since=None)
)


def note_alerts_sent(database: Database, answer_ids: Iterable[int]) -> None:
    """The alerts these answers raised went out (or cannot: the therapist blocked the bot)."""
    ids = sorted(set(answer_ids))
    if not ids:
        return
    with database.session() as session:
        session.connection().execute(_ALERTS_SENT, {"b_answer_ids": ids})
        session.commit()
