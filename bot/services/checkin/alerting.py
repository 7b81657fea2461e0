"""Alerts to the care team: raised with the answer that met its question's rule, never lost.

The answer's transaction stores it with ``alert_pending_since`` set to the answer's own
instant; the handler takes the alerts (``take_alerts``), sends them after its reply and then
clears the mark (``note_alerts_sent``). A process killed before that (or a network failure)
leaves the mark, and the due scan's holder takes and sends the alerts of answers still marked
after a grace (``unsent_alerts``): an outbox, as for the questions stored but not sent
(``checkin.shown``). Taking moves the mark to the taker's time, so a handler whose replies
waited past the grace finds the alerts taken by the scan and leaves them, and the scan takes
again only a taker's that went quiet for a grace. A kill after a send and before the clear
sends that answer's alerts once more (to every therapist of the team), a copy rather than none.
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


def take_alerts(database: Database, now: datetime, answer_ids: Iterable[int]) -> set[int]:
    """The handler's claim on the alerts its answers raised: those nobody took yet (the mark
    still the answer's own instant). Returns the answers whose alerts are now the caller's."""
    ids = sorted(set(answer_ids))
    if not ids:
        return set()
    with database.session() as session:
        taken = (
            session.connection()
            .execute(_TAKE_RAISED, {"b_answer_ids": ids, "b_now": now})
            .scalars()
        )
        result = {answer_id for answer_id in taken if answer_id is not None}
        session.commit()
    return result


def unsent_alerts(
    database: Database, now: datetime, policy: Policy, older_than: timedelta, limit: int
) -> list[AlertNotice]:
    """Take and return the alerts of answers marked for ``older_than``: a process stopped
    between the answer's commit and its alerts, or a taker went quiet. The marks of answers
    with no one left to tell, or whose question lost its rule since (a therapist stopped
    alerting on it), are cleared; the caller sends the rest, then ``note_alerts_sent``."""
    found: list[AlertNotice] = []
    taken: list[int] = []
    nobody: list[int] = []
    with database.session() as session:
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
            # Skipping answers a handler is taking (PostgreSQL; SQLite's writer is alone).
            .with_for_update(skip_locked=True, of=Answer)
        ).all()
        for answer, question, task, person in rows:
            notices = (
                alert_notices(session, policy, person, task, question, answer)
                if question.alert_rule
                else ()
            )
            (taken if notices else nobody).append(answer.id or 0)
            found.extend(notices)
        if taken:
            session.connection().execute(_RETAKE, {"b_answer_ids": taken, "b_now": now})
        if nobody:
            session.connection().execute(_ALERTS_SENT, {"b_answer_ids": nobody})
        session.commit()
    return found


# Built once: the handler runs them with nearly every alert.
_ANSWER_IDS = col(Answer.id).in_(bindparam("b_answer_ids", expanding=True))
_TAKE_RAISED = (
    update(Answer)
    .where(_ANSWER_IDS, col(Answer.alert_pending_since) == col(Answer.answered_at))
    .values(alert_pending_since=bindparam("b_now"))
    .returning(col(Answer.id))
)
_RETAKE = update(Answer).where(_ANSWER_IDS).values(alert_pending_since=bindparam("b_now"))
_ALERTS_SENT = update(Answer).where(_ANSWER_IDS).values(alert_pending_since=None)


def note_alerts_sent(database: Database, answer_ids: Iterable[int]) -> None:
    """The alerts these answers raised went out (or cannot: the therapist blocked the bot)."""
    ids = sorted(set(answer_ids))
    if not ids:
        return
    with database.session() as session:
        session.connection().execute(_ALERTS_SENT, {"b_answer_ids": ids})
        session.commit()
