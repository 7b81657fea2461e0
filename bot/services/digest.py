"""The weekly digest: planned in the database, claimed by the due scan, sent once.

Like a check-in prompt, a digest is a row (``Digest``), unique on group, therapist and due
instant. Each scan plans the next one for every therapist of every group with a task (two
instances planning at once insert it once), claims the due ones (PostgreSQL: ``FOR UPDATE
SKIP LOCKED``; SQLite: the scan's write lock) under a lease, and the sender marks each sent.
A process killed after the send and before the mark sends that one again when the lease runs
out; nothing else is ever sent twice, and no digest is lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, or_, update
from sqlmodel import col, select

from bot.frozen import frozen
from bot.services.progress import (
    GroupHeatmap,
    Outcome,
    Tally,
    alerts_fired,
    group_heatmap,
    outcome_counts,
)
from storage.db import Database, insert_skipping_conflicts
from storage.models import (
    Delivery,
    Digest,
    DigestStatus,
    GroupTherapist,
    Membership,
    Person,
    Role,
    Task,
    TherapyGroup,
)

WEEK = timedelta(days=7)
# A digest more than this late (the bot was down for days) is dropped: the next is near.
STALE_AFTER = timedelta(days=3)


@frozen
class DigestSchedule:
    weekday: int  # Monday is 0
    at: time
    default_zone: str


def next_due(schedule: DigestSchedule, zone: ZoneInfo, now: datetime) -> datetime:
    """The first weekday-and-time in ``zone`` strictly after ``now``."""
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=(schedule.weekday - local.weekday()) % 7)
    due = datetime.combine(day, schedule.at, tzinfo=zone)
    if due <= now:
        due = datetime.combine(day + WEEK, schedule.at, tzinfo=zone)
    return due


@frozen
class DigestJob:
    """A claimed digest: whom to send it to, about which group and week."""

    digest_id: int
    chat_id: int
    group_id: int
    due_at: datetime


@frozen
class MissedPatient:
    telegram_user_id: int
    name: str
    data_deleted: bool
    missed: int


@frozen
class GroupDigest:
    group_name: str
    first_day: date  # the week the digest covers, in the group's zone
    last_day: date
    this_week: Tally
    last_week: Tally
    missed_twice: tuple[MissedPatient, ...]
    alerts: int
    heatmap: GroupHeatmap


def plan(
    database: Database, now: datetime, schedule: DigestSchedule, admins: Iterable[int]
) -> int:
    """Plan the next digest for each team member of each group with a task; return how many.

    ``admins`` are the configured therapists: on a team they get its digest like anyone else.
    """
    admins = list(admins)
    with database.session() as session:
        has_task = (
            select(Task.id)
            .where(Task.group_id == TherapyGroup.id, col(Task.deleted_at).is_(None))
            .exists()
        )
        waiting = (
            select(Digest.id)
            .where(
                Digest.group_id == TherapyGroup.id,
                Digest.person_id == GroupTherapist.person_id,
                col(Digest.status).in_([DigestStatus.PENDING.value, DigestStatus.SENDING.value]),
            )
            .exists()
        )
        pairs = session.exec(
            select(TherapyGroup.id, TherapyGroup.timezone, GroupTherapist.person_id)
            .join(GroupTherapist, col(GroupTherapist.group_id) == TherapyGroup.id)
            .join(Person, col(Person.id) == GroupTherapist.person_id)
            .where(_still_therapist(admins), has_task, ~waiting)
        ).all()
        if not pairs:
            return 0
        rows = [
            {
                "group_id": group_id,
                "person_id": person_id,
                "due_at": next_due(schedule, ZoneInfo(zone or schedule.default_zone), now),
                "status": DigestStatus.PENDING.value,
                "attempts": 0,
            }
            for group_id, zone, person_id in pairs
        ]
        result = session.execute(insert_skipping_conflicts(session, Digest).values(rows))
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def retime_pending(database: Database, now: datetime, schedule: DigestSchedule) -> int:
    """Move the digests still to come to the configured weekday and time; return how many.

    Planned a week ahead, they kept the time of the configuration they were planned under: a
    clinic that moved ``[digest] time`` or ``weekday`` waited a week or more for the change.
    """
    with database.session() as session:
        rows = session.exec(
            select(Digest, TherapyGroup.timezone)
            .join(TherapyGroup, col(TherapyGroup.id) == Digest.group_id)
            .where(Digest.status == DigestStatus.PENDING.value, col(Digest.due_at) > now)
        ).all()
        moved = 0
        for row, zone in rows:
            due = next_due(schedule, ZoneInfo(zone or schedule.default_zone), now)
            if row.due_at != due:
                row.due_at = due
                moved += 1
        session.commit()
        return moved


def _still_therapist(admins: list[int]) -> Any:
    """A team member who is still a therapist: stored as one, or configured (``admins``)."""
    return or_(col(Person.role) == Role.THERAPIST.value, col(Person.telegram_user_id).in_(admins))


def claim(
    database: Database,
    now: datetime,
    lease: timedelta,
    instance: str,
    admins: Iterable[int],
    limit: int = 50,
) -> list[DigestJob]:
    """Take the due digests (and those whose claim lapsed) for this instance to send.

    ``admins``: the configured therapists, as for ``plan``. A digest planned a week ahead for
    someone no longer a therapist since (taken out of the configuration: their team places
    stay, for the day they come back) is dropped, not sent with the team's patients in it.
    """
    admins = list(admins)
    with database.session() as session:
        rows = session.exec(
            select(Digest)
            .where(
                or_(
                    and_(
                        col(Digest.status) == DigestStatus.PENDING.value,
                        col(Digest.due_at) <= now,
                    ),
                    and_(
                        col(Digest.status) == DigestStatus.SENDING.value,
                        col(Digest.lease_until) <= now,
                    ),
                )
            )
            .order_by(col(Digest.due_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        chats = dict(
            session.exec(
                select(Person.id, Person.chat_id).where(
                    col(Person.id).in_({r.person_id for r in rows})
                )
            ).all()
        )
        # Planned a week ahead: whoever has left the group's team since gets no digest of it.
        on_team = set(
            session.exec(
                select(GroupTherapist.group_id, GroupTherapist.person_id)
                .join(Person, col(Person.id) == GroupTherapist.person_id)
                .where(
                    col(GroupTherapist.person_id).in_({r.person_id for r in rows}),
                    _still_therapist(admins),
                )
            ).all()
        )
        jobs = []
        for row in rows:
            assert row.id is not None
            chat_id = chats.get(row.person_id)
            if (row.group_id, row.person_id) not in on_team:
                row.status = DigestStatus.DROPPED.value
                row.last_error = "no longer on the group's team"
                continue
            if chat_id is None or now - row.due_at > STALE_AFTER:
                row.status = DigestStatus.DROPPED.value
                row.last_error = "no chat with the therapist" if chat_id is None else "stale"
                continue
            row.status = DigestStatus.SENDING.value
            row.lease_until = now + lease
            row.claimed_by = instance[:100]
            row.attempts += 1
            jobs.append(DigestJob(row.id, chat_id, row.group_id, row.due_at))
        session.commit()
        return jobs


def finish(
    database: Database, now: datetime, digest_id: int, *, sent: bool, error: str | None = None
) -> None:
    """Record a send (sent) or why it will never be sent (dropped)."""
    with database.session() as session:
        session.execute(
            update(Digest)
            .where(col(Digest.id) == digest_id)
            .values(
                status=(DigestStatus.SENT if sent else DigestStatus.DROPPED).value,
                sent_at=now if sent else None,
                lease_until=None,
                last_error=error[:300] if error else None,
            )
        )
        session.commit()


def give_back(database: Database, digest_id: int, error: str) -> None:
    """A send failed for a passing reason: the next scan tries again."""
    with database.session() as session:
        session.execute(
            update(Digest)
            .where(col(Digest.id) == digest_id)
            .values(status=DigestStatus.PENDING.value, lease_until=None, last_error=error[:300])
        )
        session.commit()


def content(database: Database, default_zone: str, job: DigestJob) -> GroupDigest:
    """What the digest says about its group and week (the week ending at its due instant)."""
    with database.read_session() as session:
        group = session.get(TherapyGroup, job.group_id)
        assert group is not None
        zone = ZoneInfo(group.timezone or default_zone)
        due = job.due_at
        week_start = due - WEEK
        counted = outcome_counts(
            session,
            job.group_id,
            (col(Delivery.due_at) >= week_start).cast(Integer),
            col(Delivery.due_at) >= due - 2 * WEEK,
            col(Delivery.due_at) < due,
        )
        weeks: dict[bool, Counter[Outcome]] = {True: Counter(), False: Counter()}
        missed: Counter[int] = Counter()
        for person_id, this_week, outcome, count in counted:
            weeks[bool(this_week)][Outcome(outcome)] += int(count)
            if this_week and outcome in (Outcome.MISSED.value, Outcome.EXPIRED.value):
                missed[person_id] += int(count)
        twice = [person_id for person_id, n in missed.items() if n >= 2]
        people: dict[int, tuple[Person, str]] = {}
        if twice:
            for person, role in session.exec(
                select(Person, Membership.role)
                .join(Membership, col(Membership.person_id) == Person.id)
                .where(Membership.group_id == group.id, col(Person.id).in_(twice))
            ).all():
                assert person.id is not None
                people[person.id] = (person, role)
        missed_twice = sorted(
            (
                MissedPatient(
                    telegram_user_id=people[pid][0].telegram_user_id or 0,
                    name=people[pid][0].display_name,
                    data_deleted=people[pid][1] == Role.ERASED.value
                    or people[pid][0].data_deleted_at is not None,
                    missed=missed[pid],
                )
                for pid in twice
                if pid in people
            ),
            key=lambda m: (-m.missed, m.data_deleted, m.name.casefold(), m.telegram_user_id),
        )
        # The week runs from one digest's instant to the next; named by its seven days.
        last_day = due.astimezone(zone).date() - timedelta(days=1)
        return GroupDigest(
            group_name=group.name,
            first_day=week_start.astimezone(zone).date(),
            last_day=last_day,
            this_week=Tally.of(weeks[True]),
            last_week=Tally.of(weeks[False]),
            missed_twice=tuple(missed_twice),
            alerts=alerts_fired(session, job.group_id, week_start, due),
            heatmap=group_heatmap(session, group, due - timedelta(microseconds=1), default_zone),
        )
