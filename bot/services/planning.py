"""Materialise deliveries: each (task, patient) series keeps exactly one future row ahead.

Rows are created when a task is saved or edited, when a patient joins a group, and when the
scan claims or expires a row (the next occurrence is planned in the same transaction). So the
due scan only ever reads due rows, and nothing is held in memory per patient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import Session, SQLModel, col, select

from bot.services.schedule import local_to_utc, next_due, window_end
from storage.db import insert_skipping_conflicts
from storage.models import (
    Delivery,
    DeliveryStatus,
    Membership,
    Person,
    Role,
    Task,
    TherapyGroup,
)

# Days passed over by skip_delivered_days before giving up (a series changed beyond sense).
MAX_SKIPPED_DAYS = 366


def zone_for(person: Person, group: TherapyGroup, default_zone: str) -> ZoneInfo:
    """The patient's own zone, else the group's, else the configured default."""
    return ZoneInfo(person.timezone or group.timezone or default_zone)


def _plans_for(task: Task, person: Person) -> bool:
    """Whether the series goes on for this patient at all."""
    return not (
        task.deleted_at is not None
        or person.opted_out
        or person.unreachable
        or person.data_deleted_at is not None
    )


def plan_next(
    session: Session,
    task: Task,
    group: TherapyGroup,
    person: Person,
    after: datetime,
    default_zone: str,
    *,
    skip_delivered_days: bool = False,
) -> Delivery | None:
    """Add the first occurrence after ``after`` unless the series is over or already has it.

    ``skip_delivered_days`` is for planning again after an edit or a time zone change: an
    occurrence on a local day that already had one of this series delivered (sent, answered,
    expired...) is passed over, so moving a daily task from 12:00 to 15:00 at 13:00 does not
    prompt the patient a second time that day; and a once task they had is not planned
    again on the day it moved to (an edit of its date, a seed with relative dates run again
    on a later day).
    """
    if not _plans_for(task, person):
        return None
    if skip_delivered_days and task.recurrence is None and _had_it(session, task, person):
        return None
    zone = zone_for(person, group, default_zone)
    due_at = next_due(task.due_date, task.due_time, task.recurrence, zone, after)
    if due_at is None:
        return None
    if skip_delivered_days:
        due_at = _first_undelivered_day(session, task, person, zone, due_at)
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
    return _add_pending(session, task, person, due_at, zone, at=task.due_time)


def _add_pending(
    session: Session,
    task: Task,
    person: Person,
    due_at: datetime,
    zone: ZoneInfo,
    *,
    at: time | None = None,
) -> Delivery:
    """A pending row; ``at``: the wall-clock time it stands for (``schedule.window_end``)."""
    assert task.id is not None and person.id is not None
    delivery = Delivery(
        task_id=task.id,
        person_id=person.id,
        due_at=due_at,
        expires_at=window_end(due_at, task.expiry_minutes, zone, at),
        status=DeliveryStatus.PENDING.value,
    )
    session.add(delivery)
    return delivery


def plan_following(
    session: Session,
    series: Sequence[tuple[Task, TherapyGroup, Person, datetime]],
    default_zone: str,
) -> int:
    """``plan_next`` for many series at once: one bulk insert that skips what exists.

    The due scan plans the successor of every row it claims or expires; one row at a time that
    was 95% of a 500-row scan, and on SQLite the scan holds the only write lock. A row that is
    there already (planned by an edit of the task, or by another scanner a moment ago) is left
    as it is: ``ON CONFLICT DO NOTHING`` on the (task, patient, due) key, so a race is no error
    and needs no savepoint. Returns how many rows were added.
    """
    wanted: dict[tuple[int, int, datetime], dict[str, object]] = {}
    # A fan-out claims one task's rows for a whole group at once: the same rule, zone and
    # instant for every patient, so each next occurrence is worked out once, not per row.
    # Its window's end too (``window_end`` reads the zone's rules), once per rule, not per row.
    due_by_rule: dict[tuple[int | None, str, datetime], tuple[datetime, datetime] | None] = {}
    for task, group, person, after in series:
        if not _plans_for(task, person):
            continue
        zone = zone_for(person, group, default_zone)
        key = (task.id, zone.key, after)
        if key not in due_by_rule:
            due = next_due(task.due_date, task.due_time, task.recurrence, zone, after)
            due_by_rule[key] = (
                None
                if due is None
                else (due, window_end(due, task.expiry_minutes, zone, task.due_time))
            )
        planned = due_by_rule[key]
        if planned is None:
            continue
        due_at, expires_at = planned
        assert task.id is not None and person.id is not None
        wanted.setdefault(
            (task.id, person.id, due_at),
            {
                "task_id": task.id,
                "person_id": person.id,
                "due_at": due_at,
                "expires_at": expires_at,
                "status": DeliveryStatus.PENDING.value,
                "current_tries": 0,
                "reminders_sent": 0,
                "send_attempts": 0,
            },
        )
    if not wanted:
        return 0
    # Into the table, not through the ORM's bulk insert: without the per-row bookkeeping that
    # was a fifth of a 100-row scan (benchmarks/bench_scan.py). RETURNING counts the rows
    # really added (psycopg reports no row count for a batch) and lets SQLAlchemy send the
    # batch as one multi-row INSERT.
    deliveries = SQLModel.metadata.tables["deliveries"]
    statement = insert_skipping_conflicts(
        session, deliveries, ["task_id", "person_id", "due_at"]
    ).returning(deliveries.c.id)
    return len(session.connection().execute(statement, list(wanted.values())).all())


def _first_undelivered_day(
    session: Session, task: Task, person: Person, zone: ZoneInfo, due_at: datetime | None
) -> datetime | None:
    # Bounded: a series has at most one occurrence a day, so each step moves a day on.
    for _ in range(MAX_SKIPPED_DAYS):
        if due_at is None:
            return None
        day = due_at.astimezone(zone).date()
        day_start = local_to_utc(day, time(0), zone)
        day_end = local_to_utc(day + timedelta(days=1), time(0), zone)
        delivered = session.exec(
            select(Delivery.id).where(
                Delivery.task_id == task.id,
                Delivery.person_id == person.id,
                col(Delivery.due_at) >= day_start,
                col(Delivery.due_at) < day_end,
                col(Delivery.status).not_in(
                    [DeliveryStatus.PENDING.value, DeliveryStatus.CANCELLED.value]
                ),
            )
        ).first()
        if delivered is None:
            return due_at
        due_at = next_due(
            task.due_date,
            task.due_time,
            task.recurrence,
            zone,
            day_end - timedelta(microseconds=1),
        )
    return None


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
        planned = plan_next(
            session, task, group, person, now, default_zone, skip_delivered_days=True
        ) or _plan_late_once(session, task, group, person, now, default_zone)
        if planned is not None:
            added += 1
    return added


def _plan_late_once(
    session: Session,
    task: Task,
    group: TherapyGroup,
    person: Person,
    now: datetime,
    default_zone: str,
) -> Delivery | None:
    """A once task set for an hour still to come in the group's zone (the one the therapist
    was told it is due in) that has already come where the patient lives, further east: due
    now, with its whole time to answer. Planned by its hour in their zone it was not planned
    at all, and the patient missed it for good."""
    if task.recurrence is not None or not _plans_for(task, person):
        return None
    if _over_for_the_group(task, group, now, default_zone):
        return None  # nobody gets it
    zone = zone_for(person, group, default_zone)
    if local_to_utc(task.due_date, task.due_time, zone) > now:
        return None  # still to come for them: planned at its hour, or already there
    if _had_it(session, task, person):
        # An edit of its hour, or a seed again, does not send it again: not that day (the
        # check was by day once), nor the next, which comes first where they live.
        return None
    return _add_pending(session, task, person, now, zone)


def _had_it(session: Session, task: Task, person: Person) -> bool:
    """Whether the patient had an occurrence of the task: on its way or open, answered,
    skipped, or expired after its prompt reached them. One that expired unseen (held behind
    another check-in, or the bot down) or whose send failed for good does not count: moving
    the task's date issues it to them again."""
    had = (
        DeliveryStatus.SENDING.value,
        DeliveryStatus.SENT.value,
        DeliveryStatus.IN_PROGRESS.value,
        DeliveryStatus.COMPLETED.value,
        DeliveryStatus.SKIPPED.value,
    )
    seen_then_expired = and_(
        col(Delivery.status) == DeliveryStatus.EXPIRED.value,
        or_(col(Delivery.prompt_message_id).is_not(None), col(Delivery.started_at).is_not(None)),
    )
    return (
        session.exec(
            select(Delivery.id).where(
                Delivery.task_id == task.id,
                Delivery.person_id == person.id,
                or_(col(Delivery.status).in_(had), seen_then_expired),
            )
        ).first()
        is not None
    )


@dataclass(frozen=True)
class Replanned:
    """What planning a task again did: pending rows dropped, rows added, due rows kept."""

    cancelled: int
    added: int
    kept: int = 0


def replan_task(
    session: Session, task: Task, now: datetime, default_zone: str, *, moved: bool = False
) -> Replanned:
    """After an edit: drop the pending rows and plan again.

    Only ``pending`` rows go; a prompt already sent or answered stays as it is, so an edit
    never duplicates a prompt nor touches an answer. A row whose day, under the edited
    schedule, has an occurrence that has already come is kept and goes out now (see
    ``_keep_at_its_days_time``): a fan-out of the day's check-in may be on its way (the
    patients it had reached have theirs), and planning again finds only coming occurrences,
    so the others lost the day's check-in. An edit that leaves no occurrence that day (Mondays
    only, on a Tuesday) drops it, and a deleted task keeps none.

    ``moved``: the task's date or hour changed. A once task moved to an hour already gone in
    the group's zone (only a seed can: /edittask refuses it) is over: a row not yet due under
    the old schedule goes, as a task seeded in the past plans none; one already due (a fan-out
    on its way) is still owed. Another change (its expiry) keeps a late row waiting out the
    patient's quiet hours.
    """
    assert task.id is not None
    kept: list[int] = []
    if task.deleted_at is None:
        group = session.get(TherapyGroup, task.group_id)
        assert group is not None
        pending = session.exec(
            select(Delivery, Person)
            .join(Person, col(Person.id) == Delivery.person_id)
            .where(Delivery.task_id == task.id, Delivery.status == DeliveryStatus.PENDING.value)
        ).all()
        if moved and _over_for_the_group(task, group, now, default_zone):
            pending = [
                (delivery, person) for delivery, person in pending if delivery.due_at <= now
            ]
        kept = _keep_passed(
            session,
            [(delivery, task, group, person) for delivery, person in pending],
            now,
            default_zone,
            planned_in=lambda person, group: zone_for(person, group, default_zone),  # unchanged
        )
    result = session.execute(
        delete(Delivery).where(
            col(Delivery.task_id) == task.id,
            col(Delivery.status) == DeliveryStatus.PENDING.value,
            col(Delivery.id).not_in(kept),
        )
    )
    session.flush()
    cancelled = int(getattr(result, "rowcount", 0) or 0)
    added = plan_task(session, task, now, default_zone) if task.deleted_at is None else 0
    return Replanned(cancelled, added, len(kept))


# A once task's prompt this long after its hour where the patient lives is late, not the tail
# of its fan-out: 20,000 prompts at 30 a second take 11 minutes.
OFF_SCHEDULE_AFTER = timedelta(minutes=30)


def comes_late(task: Task, zone: ZoneInfo, now: datetime) -> bool:
    """Whether a once task's prompt sent at ``now`` comes late where the patient lives, and so
    waits out their quiet hours (``delivery._late_once_waits_until``)."""
    return (
        task.recurrence is None
        and now - local_to_utc(task.due_date, task.due_time, zone) > OFF_SCHEDULE_AFTER
    )


def _over_for_the_group(task: Task, group: TherapyGroup, now: datetime, default_zone: str) -> bool:
    """A once task whose one instant, in the group's zone, has gone by."""
    zone = ZoneInfo(group.timezone or default_zone)
    return (
        task.recurrence is None and next_due(task.due_date, task.due_time, None, zone, now) is None
    )


def occurrence_on(task: Task, day: date, zone: ZoneInfo) -> datetime | None:
    """The task's instant on local ``day`` in ``zone``, or None when it has none that day."""
    day_start = local_to_utc(day, time(0), zone)
    found = next_due(
        task.due_date, task.due_time, task.recurrence, zone, day_start - timedelta(microseconds=1)
    )
    if found is None or found.astimezone(zone).date() != day:
        return None
    return found


def _keep_at_its_days_time(
    session: Session,
    delivery: Delivery,
    task: Task,
    person: Person,
    planned_in: ZoneInfo,
    zone: ZoneInfo,
    now: datetime,
) -> bool:
    """Keep a pending row whose occurrence, on the local day it was planned for (a late once
    task: its one day), is today's and has already come under the task's schedule in ``zone``
    (planning again would drop it for good): move it to that occurrence, so it goes out now and
    the scan plans its successor on the next day. Its expiry stays, but for a late once
    task's row (``_owed_late_once``), which stays owed with its whole time to answer from now.

    Not kept: an occurrence of a day already over in ``zone`` while the series goes on (a move
    east across midnight would prompt at night, then again the same day; the last of a series,
    a once task, is kept: late beats lost for good), a row already expired, a day that had one
    of the series delivered, an instant another row of the series holds (the key is unique),
    and a row a scan claimed meanwhile (the UPDATE asks for ``pending``).
    """
    day = delivery.due_at.astimezone(planned_in).date()
    owed_late = _owed_late_once(delivery, task, now)
    if owed_late:
        day = task.due_date
    occurrence = occurrence_on(task, day, zone)
    if occurrence is None or occurrence > now or delivery.expires_at <= now:
        return False
    if occurrence.astimezone(zone).date() != now.astimezone(zone).date() and (
        next_due(task.due_date, task.due_time, task.recurrence, zone, now) is not None
    ):
        return False  # that day is over where the patient is, and the series goes on
    if _first_undelivered_day(session, task, person, zone, occurrence) != occurrence:
        return False
    taken = session.exec(
        select(Delivery.id).where(
            Delivery.task_id == task.id,
            Delivery.person_id == person.id,
            col(Delivery.due_at) == occurrence,
            Delivery.id != delivery.id,
        )
    ).first()
    if taken is not None:
        return False
    moved = session.execute(
        update(Delivery)
        .where(
            col(Delivery.id) == delivery.id, col(Delivery.status) == DeliveryStatus.PENDING.value
        )
        .values(
            due_at=occurrence,
            # Its time to answer from now, not from the day its row stood for.
            expires_at=window_end(now, task.expiry_minutes, zone)
            if owed_late
            else delivery.expires_at,
        )
    )
    return int(getattr(moved, "rowcount", 0) or 0) == 1


# A late once task's row is due when it was planned, or at most this long after (moved past
# the patient's quiet hours by the due scan).
LATE_ONCE_WAITS_AT_MOST = timedelta(days=1)


def _owed_late_once(delivery: Delivery, task: Task, now: datetime) -> bool:
    """Whether a once task's pending row may be a late one (``_plan_late_once``, perhaps moved
    past the patient's quiet hours): judged by the task's one day, not the day it came due on,
    so that a replan keeps it. A row further ahead stands for a day of its own, as before.
    A seed moving the task into the past drops both while not yet due (``replan_task``)."""
    return task.recurrence is None and delivery.due_at <= now + LATE_ONCE_WAITS_AT_MOST


def plan_member(
    session: Session, person: Person, group: TherapyGroup, now: datetime, default_zone: str
) -> list[Delivery]:
    """A patient who joins gets the future occurrences of the group's tasks, not past ones;
    a once task still to come in the group's zone but not in theirs is due now
    (``_plan_late_once``)."""
    tasks = session.exec(
        select(Task).where(Task.group_id == group.id, col(Task.deleted_at).is_(None))
    ).all()
    planned = []
    for task in tasks:
        assert task.id is not None and person.id is not None
        if _has_pending(session, task.id, person.id):
            continue
        delivery = plan_next(
            session, task, group, person, now, default_zone, skip_delivered_days=True
        ) or _plan_late_once(session, task, group, person, now, default_zone)
        if delivery is not None:
            planned.append(delivery)
    return planned


@dataclass(frozen=True)
class ZoneChange:
    """A patient's own zone before it changed (None: they had none, the group's applied)."""

    before: str | None


def replan_person(
    session: Session,
    person: Person,
    now: datetime,
    default_zone: str,
    *,
    zone_change: ZoneChange | None = None,
) -> None:
    """After a time zone change or opting back in: recompute the patient's pending rows.

    ``zone_change``: a row whose occurrence, on the day it was planned for, has already come
    in the new zone is kept and goes out now (see ``_keep_at_its_days_time``); the others move
    to the new zone. Planning again finds only coming occurrences, so where the new zone's
    time of that day had gone by (10:00 London due, or about to be, when the patient sets
    Berlin, whose 10:00 was an hour ago), the patient lost the day's check-in, or a once task
    for good. A due row may be a big group's fan-out that has not reached them yet, or the
    database away.
    """
    groups = session.exec(
        select(TherapyGroup)
        .join(Membership, col(Membership.group_id) == TherapyGroup.id)
        .where(Membership.person_id == person.id, Membership.role == Role.PATIENT.value)
    ).all()
    planned_in = None
    if zone_change is not None:
        before = zone_change.before

        def planned_in(_person: Person, group: TherapyGroup) -> ZoneInfo:
            return ZoneInfo(before or group.timezone or default_zone)

    _plan_again(session, person, groups, now, default_zone, planned_in=planned_in)


def replan_group(
    session: Session,
    group: TherapyGroup,
    zone_before: str | None,
    now: datetime,
    default_zone: str,
) -> None:
    """After the group's own time zone changed (a seed): recompute the pending rows of its
    patients who have no zone of their own, whose check-ins follow the group's. As for a
    patient's own change (``replan_person``), a row whose occurrence on its day has already
    come in the new zone is kept and goes out now; the others move to the new zone. Left as
    they were, the rows stayed at the old zone's hours (03:00 in New York for a group moved
    from Berlin) and their successors followed the new one, a second check-in the same day."""
    old_zone = ZoneInfo(zone_before or default_zone)
    members = session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.group_id == group.id,
            Membership.role == Role.PATIENT.value,
            col(Person.timezone).is_(None),
        )
    ).all()
    for person in members:
        _plan_again(
            session,
            person,
            [group],
            now,
            default_zone,
            planned_in=lambda _person, _group: old_zone,
            only_these_groups=True,
        )


def _plan_again(
    session: Session,
    person: Person,
    groups: Sequence[TherapyGroup],
    now: datetime,
    default_zone: str,
    *,
    planned_in: Callable[[Person, TherapyGroup], ZoneInfo] | None,
    only_these_groups: bool = False,
) -> None:
    """Drop the patient's pending rows (of ``groups``' tasks only, or all) and plan each of
    ``groups`` again. With ``planned_in`` (the zone each row was planned in: a zone changed),
    rows whose day's occurrence has come are kept first (``_keep_passed``)."""
    assert person.id is not None
    rows = [
        col(Delivery.person_id) == person.id,
        col(Delivery.status) == DeliveryStatus.PENDING.value,
    ]
    if only_these_groups:
        of_groups = select(Task.id).where(col(Task.group_id).in_([g.id for g in groups]))
        rows.append(col(Delivery.task_id).in_(of_groups))
    kept: list[int] = []
    if planned_in is not None:
        pending = session.exec(
            select(Delivery, Task, TherapyGroup)
            .join(Task, col(Task.id) == Delivery.task_id)
            .join(TherapyGroup, col(TherapyGroup.id) == Task.group_id)
            .where(*rows)
        ).all()
        kept = _keep_passed(
            session,
            [(delivery, task, group, person) for delivery, task, group in pending],
            now,
            default_zone,
            planned_in=planned_in,
        )
    session.execute(delete(Delivery).where(*rows, col(Delivery.id).not_in(kept)))
    session.flush()
    for group in groups:
        plan_member(session, person, group, now, default_zone)


def _keep_passed(
    session: Session,
    rows: Sequence[tuple[Delivery, Task, TherapyGroup, Person]],
    now: datetime,
    default_zone: str,
    *,
    planned_in: Callable[[Person, TherapyGroup], ZoneInfo],
) -> list[int]:
    """Keep (and move) the pending rows ``_keep_at_its_days_time`` keeps; return their ids.
    ``planned_in``: the zone each row was planned in, which gives the day it stands for."""
    kept = []
    for delivery, task, group, person in rows:
        zone = zone_for(person, group, default_zone)
        if _keep_at_its_days_time(
            session, delivery, task, person, planned_in(person, group), zone, now
        ):
            assert delivery.id is not None
            kept.append(delivery.id)
    return kept
