"""Materialise deliveries: each (task, patient) series keeps exactly one future row ahead.

Rows are created when a task is saved or edited, when a patient joins a group, and when the
scan claims or expires a row (the next occurrence is planned in the same transaction). So the
due scan only ever reads due rows, and nothing is held in memory per patient.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from bot.services.schedule import next_due
from storage.models import (
    Delivery,
    DeliveryStatus,
    Membership,
    Person,
    Role,
    Task,
    TherapyGroup,
)


def zone_for(person: Person, group: TherapyGroup, default_zone: str) -> ZoneInfo:
    """The patient's own zone, else the group's, else the configured default."""
    return ZoneInfo(person.timezone or group.timezone or default_zone)


def plan_next(
    session: Session,
    task: Task,
    group: TherapyGroup,
    person: Person,
    after: datetime,
    default_zone: str,
) -> Delivery | None:
    """Add the first occurrence after ``after`` unless the series is over or already has it."""
    if task.deleted_at is not None or person.opted_out or person.data_deleted_at is not None:
        return None
    zone = zone_for(person, group, default_zone)
    due_at = next_due(task.due_date, task.due_time, task.recurrence, zone, after)
    if due_at is None:
        return None
    assert task.id is not None and person.id is not None
    exists = session.exec(
        select(Delivery.id).where(
            Delivery.task_id == task.id,
            Delivery.person_id == person.id,
            col(Delivery.due_at) == due_at,
        )
    ).first()
    if exists is not None:
        return None
    delivery = Delivery(
        task_id=task.id,
        person_id=person.id,
        due_at=due_at,
        expires_at=due_at + timedelta(minutes=task.expiry_minutes),
        status=DeliveryStatus.PENDING.value,
    )
    session.add(delivery)
    return delivery


def _has_pending(session: Session, task_id: int, person_id: int) -> bool:
    return (
        session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.task_id == task_id,
                Delivery.person_id == person_id,
                Delivery.status == DeliveryStatus.PENDING.value,
            )
        ).one()
        > 0
    )


def plan_task(session: Session, task: Task, now: datetime, default_zone: str) -> int:
    """Give every patient of the task's group its next occurrence; return how many were added."""
    group = session.get(TherapyGroup, task.group_id)
    assert group is not None and task.id is not None
    patients = session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(Membership.group_id == task.group_id, Membership.role == Role.PATIENT.value)
    ).all()
    added = 0
    for person in patients:
        assert person.id is not None
        if _has_pending(session, task.id, person.id):
            continue
        if plan_next(session, task, group, person, now, default_zone) is not None:
            added += 1
    return added


def replan_task(session: Session, task: Task, now: datetime, default_zone: str) -> tuple[int, int]:
    """After an edit: drop the pending rows and plan again. Returns (cancelled, added).

    Only ``pending`` rows go; a prompt already sent or answered stays as it is, so an edit
    never duplicates a prompt nor touches an answer.
    """
    assert task.id is not None
    result = session.execute(
        delete(Delivery).where(
            col(Delivery.task_id) == task.id,
            col(Delivery.status) == DeliveryStatus.PENDING.value,
        )
    )
    session.flush()
    cancelled = int(getattr(result, "rowcount", 0) or 0)
    added = plan_task(session, task, now, default_zone) if task.deleted_at is None else 0
    return cancelled, added


def plan_member(
    session: Session, person: Person, group: TherapyGroup, now: datetime, default_zone: str
) -> list[Delivery]:
    """A patient who joins gets the future occurrences of the group's tasks, not past ones."""
    tasks = session.exec(
        select(Task).where(Task.group_id == group.id, col(Task.deleted_at).is_(None))
    ).all()
    planned = []
    for task in tasks:
        assert task.id is not None and person.id is not None
        if _has_pending(session, task.id, person.id):
            continue
        delivery = plan_next(session, task, group, person, now, default_zone)
        if delivery is not None:
            planned.append(delivery)
    return planned


def replan_person(session: Session, person: Person, now: datetime, default_zone: str) -> None:
    """After a time zone change or opting back in: recompute the patient's pending rows."""
    assert person.id is not None
    session.execute(
        delete(Delivery).where(
            col(Delivery.person_id) == person.id,
            col(Delivery.status) == DeliveryStatus.PENDING.value,
        )
    )
    session.flush()
    groups = session.exec(
        select(TherapyGroup)
        .join(Membership, col(Membership.group_id) == TherapyGroup.id)
        .where(Membership.person_id == person.id, Membership.role == Role.PATIENT.value)
    ).all()
    for group in groups:
        plan_member(session, person, group, now, default_zone)
