"""The patient's own settings and lists: /pause, /tasks, /timezone."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.services.checkin.common import (
    _IN_PROGRESS,
    _OPEN,
    _SENT,
    _active_questions,
    _answers,
    _asking,
    _count_open,
    _first_unanswered,
    _group_names,
    _id,
    _next_due,
    _offer,
    _person,
    _postpone_reminder,
    _task,
    _zone_of,
)
from bot.services.checkin.results import (
    OpenTask,
    Paused,
    PersonStatus,
    Policy,
    TaskList,
    ZoneChanged,
    ZoneView,
)
from bot.services.content import title_of
from bot.services.erasure import was_erased
from bot.services.planning import ZoneChange, replan_person
from bot.services.schedule import normalise_zone
from storage.db import Database
from storage.models import ConsentRequest, Delivery, Membership, Role, Task, TherapyGroup

# --- the patient's commands -------------------------------------------------------------------


def pause(database: Database, now: datetime, policy: Policy, user_id: int) -> Paused:
    """Stop for now: the delivery goes back to ``sent`` and /tasks resumes it."""
    with database.session() as session:
        person = _person(session, user_id)
        if person is None:
            return Paused(known=False)
        delivery = _asking(session, person, lock=True)
        if delivery is None:
            return Paused(known=True, open_count=_count_open(session, now, person))
        task = _task(session, delivery)
        questions = _active_questions(session, task)
        current = _first_unanswered(questions, _answers(session, delivery))
        number = questions.index(current) + 1 if current is not None else len(questions)
        delivery.status = _SENT
        _postpone_reminder(delivery, now, policy)
        offer = _offer(session, now, policy, person, exclude=_id(delivery), unseen_only=True)
        session.commit()
        return Paused(
            known=True,
            task_title=title_of(task),
            number=number,
            total=len(questions),
            offer=offer,
        )


def list_tasks(database: Database, now: datetime, policy: Policy, user_id: int) -> TaskList:
    """The patient's open tasks, or when the next one is due."""
    with database.read_session() as session:
        person = _person(session, user_id)
        if person is None:
            return TaskList(known=False)
        rows = session.exec(
            select(Delivery, Task)
            .join(Task, col(Task.id) == Delivery.task_id)
            .where(
                Delivery.person_id == person.id,
                col(Delivery.status).in_(_OPEN),
                col(Delivery.expires_at) > now,
            )
            .order_by(col(Delivery.due_at), col(Delivery.id))
        ).all()
        items = []
        for delivery, task in rows:
            questions = _active_questions(session, task)
            answers = _answers(session, delivery)
            items.append(
                OpenTask(
                    delivery_id=_id(delivery),
                    task_title=title_of(task),
                    due_at=delivery.due_at,
                    expires_at=delivery.expires_at,
                    zone=_zone_of(session, person, task, policy),
                    answered=sum(1 for q in questions if _id(q) in answers),
                    total=len(questions),
                    started=delivery.started_at is not None,
                    active=delivery.status == _IN_PROGRESS,
                )
            )
        return TaskList(
            known=True,
            opted_out=person.opted_out,
            in_groups=bool(_group_names(session, person)),
            items=tuple(items),
            next_due=None if items else _next_due(session, person, now, policy),
        )


def timezone_of(database: Database, policy: Policy, user_id: int) -> ZoneView:
    """The zone the patient's due times are shown and planned in."""
    with database.read_session() as session:
        person = _person(session, user_id)
        if person is None:
            return ZoneView(known=False, zone=policy.default_zone, own=False)
        if person.timezone:
            return ZoneView(known=True, zone=person.timezone, own=True)
        group = session.exec(
            select(TherapyGroup)
            .join(Membership, col(Membership.group_id) == TherapyGroup.id)
            .where(Membership.person_id == person.id, Membership.role == Role.PATIENT.value)
            .order_by(col(Membership.joined_at))
        ).first()
        zone = (group.timezone if group else None) or policy.default_zone
        return ZoneView(known=True, zone=zone, own=False)


def set_timezone(
    database: Database, now: datetime, policy: Policy, user_id: int, name: str
) -> ZoneChanged:
    """Set the patient's zone and plan their coming tasks in it again."""
    zone = normalise_zone(name)
    with database.session() as session:
        person = _person(session, user_id)
        if person is None:
            erased = was_erased(session, policy.erasure_key, user_id)
            return ZoneChanged(known=False, zone=zone, erased=erased)
        if zone is None:
            return ZoneChanged(known=True, zone=None)
        change = ZoneChange(before=person.timezone)
        person.timezone = zone
        session.flush()
        replan_person(session, person, now, policy.default_zone, zone_change=change)
        session.flush()
        next_due = _next_due(session, person, now, policy)
        session.commit()
        return ZoneChanged(known=True, zone=zone, next_due=next_due)


def _joining(session: Session, user_id: int) -> bool:
    found = select(ConsentRequest.id).where(ConsentRequest.telegram_user_id == user_id)
    return session.exec(found).first() is not None


def never_a_patient(database: Database, user_id: int) -> bool:
    """Whether this Telegram user has had no place as a patient in any group, now or before:
    a therapist like that has nothing the patients' commands act on."""
    with database.read_session() as session:
        person = _person(session, user_id)
        if person is None:
            return True
        return (
            session.exec(
                select(Membership.id).where(
                    Membership.person_id == person.id, Membership.role == Role.PATIENT.value
                )
            ).first()
            is None
        )


def person_status(database: Database, user_id: int) -> PersonStatus:
    """Whether this Telegram user is known, opted out, or in the middle of a question."""
    with database.read_session() as session:
        person = _person(session, user_id)
        if person is None:
            return PersonStatus(known=False, joining=_joining(session, user_id))
        asking = _asking(session, person, lock=False)
        return PersonStatus(
            known=True,
            opted_out=person.opted_out,
            asking_delivery_id=_id(asking) if asking is not None else None,
        )
