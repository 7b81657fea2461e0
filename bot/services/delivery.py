"""The due scan, claims, and what became of each send: sent, reminded, failed or expired.

Each function runs one transaction and returns frozen dataclasses. The scan is the only reader
of "what is due"; it reads through the status indexes of ``deliveries`` so its cost follows the
number of rows due now, not the size of the history:

- expiry:    ``ix_deliveries_status_expires_at``  (pending/sent/in_progress past their window)
- claims:    ``ix_deliveries_status_due_at``      (pending rows that fell due)
- reclaims:  ``ix_deliveries_status_lease_until`` (sending rows whose claimer died)
- reminders: ``ix_deliveries_status_remind_at``   (open rows whose reminder fell due)

A claim is a lease (``lease_until``, ``claimed_by``) written in the same transaction as the
read. On PostgreSQL the read is ``FOR UPDATE SKIP LOCKED``, so two bot processes sharing the
database never take the same row; SQLite runs one writer at a time (``BEGIN IMMEDIATE``), so
there the read and the write cannot interleave with another scan at all. A row claimed by a
process that died is claimed again once its lease has run out: at most one duplicate prompt per
crash, never a lost one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, bindparam, delete, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services import inbox
from bot.services.closing import ClosingMessage, erased_message
from bot.services.consent import (
    HELD_FOR_CONSENT,
    RELEASED_BY_CONSENT,
    agreed_before,
    latest_versions,
    missing,
    text_of,
)
from bot.services.content import Localized, title_of
from bot.services.planning import comes_late, plan_following, zone_for
from bot.services.schedule import after_quiet_hours, window_end
from bot.services.views import PromptView
from storage.db import Database
from storage.models import (
    OPEN_STATUSES,
    Answer,
    CheckinMessage,
    Delivery,
    DeliveryStatus,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
)

log = logging.getLogger(__name__)

PENDING = DeliveryStatus.PENDING.value
SENDING = DeliveryStatus.SENDING.value
SENT = DeliveryStatus.SENT.value
IN_PROGRESS = DeliveryStatus.IN_PROGRESS.value
_OPEN = [s.value for s in OPEN_STATUSES]
# Rows a blocked patient can no longer receive or answer.
_LIVE = [PENDING, SENDING, SENT, IN_PROGRESS]

MAX_ERROR_LENGTH = 300
BLOCKED_ERROR = "Forbidden: the patient blocked the bot"

JobKind = Literal["prompt", "reminder"]


# --- inputs -------------------------------------------------------------------------------


@frozen
class ScanPolicy:
    """What a scan needs from the configuration."""

    instance_id: str
    lease_seconds: int
    batch_size: int
    default_zone: str
    max_reminders: int
    quiet_start: time | None
    quiet_end: time | None
    # A reminder waits this long after the patient's last answer (see _claim_reminders), and a
    # check-in untouched this long no longer holds back the patient's next prompt.
    first_reminder_minutes: int
    # A claimed row due this long before its scan began was missed (downtime): "late".
    late_after_seconds: float = 60.0


@frozen
class MarkPolicy:
    """When reminders follow a prompt."""

    first_reminder_minutes: int
    reminder_interval_minutes: int
    max_reminders: int


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # Telegram refused the request itself (BadRequest): trying again won't help
    FORBIDDEN = "forbidden"  # the patient blocked the bot
    RETRY = "retry"  # a transient failure outlived its retries: a later scan sends it


@frozen
class SendResult:
    delivery_id: int
    kind: JobKind
    outcome: Outcome
    message_id: int | None = None
    error: str | None = None
    # Where the message went and its HTML, kept so it can be edited once the check-in closes.
    chat_id: int | None = None
    text: str | None = None


# --- outputs ------------------------------------------------------------------------------


@frozen
class SendJob:
    """One message the scheduler must send: a due prompt or a reminder."""

    kind: JobKind
    view: PromptView
    # Fell due long before this scan (the bot was down): reported as caught up.
    late: bool = False

    @property
    def delivery_id(self) -> int:
        return self.view.delivery_id

    @property
    def chat_id(self) -> int:
        return self.view.chat_id


@frozen
class ConsentAsk:
    """A due prompt held for the group's consent text in force, asked in its place."""

    chat_id: int
    group_id: int
    group_name: str
    version: int
    text: Localized  # with the version's translations, for the reader's language
    # The patient agreed to an earlier version: the text changed; otherwise a first request.
    again: bool = True


@frozen
class ScanBatch:
    jobs: tuple[SendJob, ...]
    claimed: int  # rows taken for a prompt this scan (sent now, or held)
    # Prompts held back while the patient is in another check-in, or until they agree to
    # their group's consent text in force.
    held: int
    reclaimed: int  # of the claimed, rows whose previous claimer's lease ran out
    cancelled: int  # due rows not sent: patient opted out, erased, blocked or left; task gone
    expired: int  # rows that passed their window
    expired_unsent: int  # of the expired, rows that were never sent (the bot was down)
    # Reminders, and once tasks' late prompts (``_late_once_waits_until``), pushed past the
    # patient's quiet hours.
    deferred: int
    more: bool  # a limit was hit: run again at once
    # Members who have not agreed to their group's consent text in force: asked instead of
    # prompted.
    consent_asks: tuple[ConsentAsk, ...] = ()

    @property
    def prompts(self) -> int:
        return sum(1 for job in self.jobs if job.kind == "prompt")

    @property
    def reminders(self) -> int:
        return sum(1 for job in self.jobs if job.kind == "reminder")


@frozen
class MarkReport:
    sent: int = 0
    reminded: int = 0
    failed: int = 0
    blocked_people: int = 0
    failed_by_block: int = 0  # rows failed because their patient blocked the bot
    requeued: int = 0
    stale: int = 0  # results for rows that changed meanwhile (expired, cancelled, taken over)
    # Sent for a check-in erased meanwhile (/deletemydata): its records are gone, so the
    # message is edited once, now, or its buttons stay live on the patient's screen.
    orphaned: tuple[ClosingMessage, ...] = ()


# --- the scan -----------------------------------------------------------------------------


def scan(
    database: Database,
    now: datetime,
    policy: ScanPolicy,
    *,
    scanning_since: datetime | None = None,
) -> ScanBatch:
    """Expire, claim due prompts and due reminders, and plan next occurrences: one transaction.

    ``scanning_since``: since when scans have run without a gap (default ``now``). A prompt is
    late, missed while the bot was down, when it fell due ``late_after_seconds`` before that:
    a big fan-out's last prompts go out minutes after their due time, and on time.
    """
    with database.session() as session:
        expired, expired_unsent, expire_full = _expire(session, now, policy)
        released = _release_held(session, now, policy)
        late_before = (scanning_since or now) - timedelta(seconds=policy.late_after_seconds)
        claim = _claim_prompts(session, now, policy, late_before, released)
        reminders, deferred, remind_full = _claim_reminders(session, now, policy)
        session.commit()
    return ScanBatch(
        jobs=claim.jobs + reminders,
        claimed=claim.claimed,
        held=claim.held,
        reclaimed=claim.reclaimed,
        cancelled=claim.cancelled,
        expired=expired,
        expired_unsent=expired_unsent,
        deferred=claim.deferred + deferred,
        more=expire_full or claim.full or remind_full,
        consent_asks=claim.consent_asks,
    )


# --- the scan's reads: each through its status index (tests/storage/test_scan.py checks) ---


def expiring_query(now: datetime, limit: int) -> Any:
    """Unfinished rows past their window (ix_deliveries_status_expires_at)."""
    return (
        select(Delivery)
        .where(
            col(Delivery.status).in_([PENDING, SENT, IN_PROGRESS]),
            col(Delivery.expires_at) <= now,
        )
        .order_by(col(Delivery.expires_at))
        .limit(limit)
    )


def abandoned_query(now: datetime, limit: int) -> Any:
    """Lapsed claims whose window closed too (ix_deliveries_status_lease_until)."""
    return (
        select(Delivery)
        .where(
            col(Delivery.status) == SENDING,
            col(Delivery.lease_until) <= now,
            col(Delivery.expires_at) <= now,
        )
        .order_by(col(Delivery.lease_until))
        .limit(limit)
    )


def lapsed_claims_query(now: datetime, limit: int) -> Any:
    """Claims whose claimer died, still worth sending (ix_deliveries_status_lease_until)."""
    return (
        select(Delivery)
        .where(
            col(Delivery.status) == SENDING,
            col(Delivery.lease_until) <= now,
            col(Delivery.expires_at) > now,
        )
        .order_by(col(Delivery.lease_until))
        .limit(limit)
    )


def due_prompts_query(now: datetime, limit: int) -> Any:
    """Pending rows that fell due and are still open (ix_deliveries_status_due_at)."""
    return (
        select(Delivery)
        .where(
            col(Delivery.status) == PENDING,
            col(Delivery.due_at) <= now,
            col(Delivery.expires_at) > now,
        )
        .order_by(col(Delivery.due_at), col(Delivery.id))
        .limit(limit)
    )


def due_reminders_query(now: datetime, limit: int) -> Any:
    """Open rows whose reminder fell due, unclaimed (ix_deliveries_status_remind_at).

    Not by ``reminders_sent``: the bot plans its own reminders only up to ``max_reminders``
    (a reminder sent plans the next only below it), and a ``remind_at`` beyond them is the
    patient's own "Remind me later", which they get.
    """
    return (
        select(Delivery)
        .where(
            col(Delivery.status).in_(_OPEN),
            col(Delivery.remind_at) <= now,
            # No expires_at condition here: SQLite would pick that index and read every
            # future row. The expiry step of the same scan has closed expired rows already.
            or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) <= now),
        )
        .order_by(col(Delivery.remind_at))
        .limit(limit)
    )


def _locked(query: Any) -> Any:
    # PostgreSQL: rows another scan holds are skipped, not waited for. SQLite's compiler
    # drops FOR UPDATE; there BEGIN IMMEDIATE already makes the whole scan one writer.
    return query.with_for_update(skip_locked=True)


@dataclass
class _Context:
    task: Task
    group: TherapyGroup
    person: Person


def _contexts(session: Session, rows: Sequence[Delivery]) -> dict[int, _Context]:
    """Task, group and patient of each row, in one query."""
    ids = [row.id for row in rows]
    if not ids:
        return {}
    found = session.exec(
        select(Delivery.id, Task, TherapyGroup, Person)
        .join(Task, col(Task.id) == Delivery.task_id)
        .join(TherapyGroup, col(TherapyGroup.id) == Task.group_id)
        .join(Person, col(Person.id) == Delivery.person_id)
        .where(col(Delivery.id).in_(ids))
    ).all()
    contexts: dict[int, _Context] = {}
    for delivery_id, task, group, person in found:
        assert delivery_id is not None
        contexts[delivery_id] = _Context(task, group, person)
    return contexts


def _last_answers(session: Session, delivery_ids: list[int | None]) -> dict[int, datetime]:
    """When each of these deliveries was last answered, for those with an answer."""
    if not delivery_ids:
        return {}
    rows = session.exec(
        select(Answer.delivery_id, func.max(Answer.answered_at))
        .where(col(Answer.delivery_id).in_(delivery_ids))
        .group_by(col(Answer.delivery_id))
    ).all()
    return {delivery_id: answered for delivery_id, answered in rows if answered is not None}


def _question_counts(session: Session, task_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(Question.task_id, func.count())
        .where(col(Question.task_id).in_(ids), col(Question.removed_at).is_(None))
        .group_by(col(Question.task_id))
    ).all()
    return {task_id: int(count) for task_id, count in rows}


def _view(
    row: Delivery,
    context: _Context,
    counts: dict[int, int],
    default_zone: str,
    *,
    reminder_number: int = 0,
) -> PromptView:
    assert row.id is not None and context.person.chat_id is not None
    return PromptView(
        delivery_id=row.id,
        chat_id=context.person.chat_id,
        task_id=row.task_id,
        task_title=title_of(context.task),
        due_at=row.due_at,
        zone=zone_for(context.person, context.group, default_zone).key,
        question_count=counts.get(row.task_id, 0),
        expires_at=row.expires_at,
        reminder_number=reminder_number,
        # A paused check-in is back to `sent` but keeps started_at: its reminder says Continue.
        started=row.started_at is not None,
    )


def _plan_successors(
    session: Session,
    items: Sequence[tuple[_Context, datetime]],
    default_zone: str,
    *,
    claimed_before: Sequence[tuple[_Context, datetime]] = (),
) -> None:
    """Plan each series' next row; one a concurrent edit planned a moment ago, at the same
    instant, is kept as is (``plan_following``).

    A row ``claimed_before`` (let go after it was held, or put back after a failed send)
    planned its successor then: planned again from its due time under a schedule edited
    since, it would add a second prompt to a day that had one (held at 11:30, moved to 15:00,
    let go at 12:01: a 15:00 the same day, beside the next day's the edit planned). Its
    series is planned only when it has no pending row: a replan that kept the row dropped its
    successor. Asked of those few rows only: for a fan-out's, that read walked every row of
    their series (4 to 5 ms of a 100-row claim over 200,000 rows of history).
    """
    wanted = [(c.task, c.group, c.person, after) for c, after in items]
    if claimed_before:
        session.flush()  # the claimed rows are no longer pending
        tasks = sorted({c.task.id for c, _ in claimed_before if c.task.id is not None})
        people = sorted({c.person.id for c, _ in claimed_before if c.person.id is not None})
        planned = set(
            session.exec(
                select(Delivery.task_id, Delivery.person_id).where(
                    Delivery.status == PENDING,
                    col(Delivery.task_id).in_(tasks),
                    col(Delivery.person_id).in_(people),
                )
            ).all()
        )
        wanted += [
            (c.task, c.group, c.person, after)
            for c, after in claimed_before
            if (c.task.id, c.person.id) not in planned
        ]
    if wanted:
        plan_following(session, wanted, default_zone)


def _expire(session: Session, now: datetime, policy: ScanPolicy) -> tuple[int, int, bool]:
    """Close rows past their window; unsent ones plan their next occurrence after ``now``.

    Their prompts and reminders are edited to say so by ``bot.closing`` (``checkin_messages``).
    """
    limit = policy.batch_size
    rows: list[Delivery] = list(session.exec(_locked(expiring_query(now, limit))).all())
    full = len(rows) >= limit
    # A claim whose claimer died after its window closed: nobody will mark it any more.
    abandoned = session.exec(_locked(abandoned_query(now, limit))).all()
    full = full or len(abandoned) >= limit
    rows += abandoned
    if not rows:
        return 0, 0, False
    contexts = _contexts(session, rows)
    successors: list[tuple[_Context, datetime]] = []
    unsent = 0
    for row in rows:
        assert row.id is not None
        context = contexts[row.id]
        if row.status == PENDING:
            unsent += 1
            # After ``now``, not after due_at: downtime must not leave a trail of past rows.
            successors.append((context, now))
        elif row.status == SENDING:
            unsent += 1
        row.status = DeliveryStatus.EXPIRED.value
        row.finished_at = now
        row.remind_at = None
        row.lease_until = None
        row.claimed_by = None
    _plan_successors(session, successors, policy.default_zone)
    return len(rows), unsent, full


@dataclass
class _Claim:
    jobs: tuple[SendJob, ...] = ()
    claimed: int = 0
    held: int = 0
    reclaimed: int = 0
    cancelled: int = 0
    deferred: int = 0
    full: bool = False
    consent_asks: tuple[ConsentAsk, ...] = ()


def _why_not(context: _Context, members: set[tuple[int, int]]) -> str | None:
    """Why this patient must not get this task now, or None."""
    person, task = context.person, context.task
    if task.deleted_at is not None:
        return "task deleted"
    if person.data_deleted_at is not None:
        return "patient data deleted"
    if person.opted_out:
        return "patient opted out"
    if person.unreachable:
        return BLOCKED_ERROR
    if person.chat_id is None:
        return "no chat with the patient"
    if (task.group_id, person.id) not in members:
        return "patient left the group"
    return None


def _claim_prompts(
    session: Session,
    now: datetime,
    policy: ScanPolicy,
    late_before: datetime,
    released: frozenset[int] = frozenset(),
) -> _Claim:
    """Claim due prompts (and lapsed claims). ``released``: held prompts this scan let go,
    claimed on time when they were held: not late, though long past their due time."""
    limit = policy.batch_size
    # Reclaims first: they are the oldest work.
    stale = list(session.exec(_locked(lapsed_claims_query(now, limit))).all())
    fresh: list[Delivery] = []
    if len(stale) < limit:
        fresh = list(session.exec(_locked(due_prompts_query(now, limit - len(stale)))).all())
    rows = sorted(stale + fresh, key=lambda r: (r.due_at, r.id or 0))
    if not rows:
        return _Claim()
    contexts = _contexts(session, rows)
    person_ids = sorted({row.person_id for row in rows})
    members = {
        (group_id, person_id)
        for group_id, person_id in session.exec(
            select(Membership.group_id, Membership.person_id).where(
                col(Membership.person_id).in_(person_ids), Membership.role == Role.PATIENT.value
            )
        ).all()
    }
    # In the middle of a check-in means touched within a reminder's wait: one left untouched
    # longer was walked away from, and holding every later prompt behind it would hide them
    # until it expires. Their prompts go out; starting one pauses the old check-in.
    active_since = now - timedelta(minutes=policy.first_reminder_minutes)
    answered_lately = (
        select(Answer.id)
        .where(Answer.delivery_id == Delivery.id, col(Answer.answered_at) >= active_since)
        .exists()
    )
    busy = set(
        session.exec(
            select(Delivery.person_id)
            .where(
                Delivery.status == IN_PROGRESS,
                col(Delivery.person_id).in_(person_ids),
                or_(
                    col(Delivery.started_at).is_(None),
                    col(Delivery.started_at) >= active_since,
                    answered_lately,
                ),
            )
            .distinct()
        ).all()
    )
    counts = _question_counts(session, (row.task_id for row in rows))
    result = _Claim(reclaimed=len(stale), full=len(rows) >= limit)
    unconsented = missing(
        session, {(c.task.group_id, c.person.id or 0) for c in contexts.values()}
    )
    asks: dict[tuple[int, int], ConsentAsk] = {}
    held_for_consent: list[Delivery] = []
    jobs: list[SendJob] = []
    successors: list[tuple[_Context, datetime]] = []
    planned_before: list[tuple[_Context, datetime]] = []  # claimed before: see _plan_successors
    for row in rows:
        assert row.id is not None
        context = contexts[row.id]
        was_pending = row.status == PENDING
        reason = _why_not(context, members)
        if reason is not None:
            row.status = DeliveryStatus.CANCELLED.value
            row.finished_at = now
            row.last_error = reason
            row.lease_until = None
            row.claimed_by = None
            result.cancelled += 1
            log.info(
                "due prompt not sent",
                extra={"delivery_id": row.id, "task_id": row.task_id, "reason": reason},
            )
            continue
        if was_pending and (until := _late_once_waits_until(context, policy, now)):
            # Still pending, with its whole time to answer from then: the scan after the
            # quiet hours claims it.
            zone = zone_for(context.person, context.group, policy.default_zone)
            row.expires_at = max(
                row.expires_at, window_end(until, context.task.expiry_minutes, zone)
            )
            row.due_at = until
            result.deferred += 1
            continue
        if was_pending:
            # A reclaimed row planned its successor when it was first claimed; so did one let
            # go after it was held, or put back after a failed send, unless a replan dropped
            # it since (``_plan_successors``).
            again = (
                row.id in released
                or row.send_attempts > 0
                or row.last_error == RELEASED_BY_CONSENT
            )
            (planned_before if again else successors).append((context, row.due_at))
        pair = (context.task.group_id, row.person_id)
        result.claimed += 1
        if pair in unconsented:
            # The patient has not agreed to the group's consent text in force: the prompt waits
            # for their "I agree" (``consent.release_held``), and the consent question takes
            # its place, once per scan. No message, so no reminders either.
            row.status = SENT
            row.sent_at = now
            row.prompt_message_id = None
            row.remind_at = None
            row.lease_until = None
            row.claimed_by = None
            row.last_error = HELD_FOR_CONSENT
            result.held += 1
            held_for_consent.append(row)
            if pair not in asks and context.person.chat_id is not None:
                asks[pair] = _consent_ask(session, context, unconsented[pair])
            continue
        if row.person_id in busy:
            # The patient is in the middle of another check-in; the prompt waits, and the
            # check-in offers it when they finish. No message, so no reminders either.
            row.status = SENT
            row.sent_at = now
            row.prompt_message_id = None
            row.remind_at = None
            row.lease_until = None
            row.claimed_by = None
            result.held += 1
            continue
        jobs.append(
            SendJob(
                "prompt",
                _view(row, context, counts, policy.default_zone),
                # Released when it was held, or when its patient agreed: not the bot's delay.
                late=row.due_at < late_before
                and row.id not in released
                and row.last_error != RELEASED_BY_CONSENT,
            )
        )
    if held_for_consent:
        result.cancelled += _supersede_held(session, now, held_for_consent)
    if jobs:
        # One UPDATE for the whole claim: through the unit of work, row by row, it was a fifth
        # of a 100-row scan (benchmarks/bench_scan.py). The rows' objects are not used again.
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_([job.delivery_id for job in jobs]))
            .values(
                status=SENDING,
                lease_until=now + timedelta(seconds=policy.lease_seconds),
                claimed_by=policy.instance_id,
                send_attempts=col(Delivery.send_attempts) + 1,
            )
            .execution_options(synchronize_session=False)
        )
    _plan_successors(session, successors, policy.default_zone, claimed_before=planned_before)
    result.jobs = tuple(jobs)
    result.consent_asks = tuple(asks.values())
    return result


def _late_once_waits_until(
    context: _Context, policy: ScanPolicy, now: datetime
) -> datetime | None:
    """When the prompt of a once task that comes late may go out, if not now.

    Late: more than ``planning.OFF_SCHEDULE_AFTER`` after the task's hour where the patient
    lives (``planning.comes_late``). A
    once task set for an hour still to come in its group's zone, which had already come
    further east, is due at once there (``planning._plan_late_once``), and so is one whose
    patient moved east past its hour (``planning._keep_at_its_days_time``) or that the bot was
    down for: at whatever hour it is for the patient, so it waits out their quiet hours. A
    series' prompts are not held: the next occurrence follows.
    """
    zone = zone_for(context.person, context.group, policy.default_zone)
    if not comes_late(context.task, zone, now):
        return None  # a series, on time, or the end of a big fan-out that began on time
    return _quiet_until(policy, context.person, zone, now)


def _quiet_until(
    policy: ScanPolicy, person: Person, zone: ZoneInfo, now: datetime
) -> datetime | None:
    """When the patient's quiet hours (their own, else the clinic's) end, if it is quiet now."""
    own, clinic = (person.quiet_start, person.quiet_end), (policy.quiet_start, policy.quiet_end)
    until = after_quiet_hours(now, zone, own, clinic)
    return until if until > now else None


def _consent_ask(session: Session, context: _Context, version: int) -> ConsentAsk:
    assert context.group.id is not None and context.person.chat_id is not None
    text = text_of(latest_versions(session, [context.group.id])[context.group.id])
    again = bool(agreed_before(session, [(context.group.id, context.person.id or 0)]))
    return ConsentAsk(
        context.person.chat_id, context.group.id, context.group.name, version, text, again
    )


def _supersede_held(session: Session, now: datetime, held: Sequence[Delivery]) -> int:
    """Of each series' check-ins held for consent, keep only the newest: a patient who agrees
    after days gets today's check-in, not every day's they did not answer. Returns how many
    older ones were cancelled."""
    session.flush()
    tasks = sorted({row.task_id for row in held})
    people = sorted({row.person_id for row in held})
    waiting = session.exec(
        _locked(
            select(Delivery)
            .where(
                Delivery.status == SENT,
                col(Delivery.last_error) == HELD_FOR_CONSENT,
                col(Delivery.task_id).in_(tasks),
                col(Delivery.person_id).in_(people),
            )
            .order_by(col(Delivery.due_at).desc(), col(Delivery.id).desc())
        )
    ).all()
    newest: set[tuple[int, int]] = set()
    superseded = 0
    for row in waiting:
        series = (row.task_id, row.person_id)
        if series not in newest:
            newest.add(series)
            continue
        row.status = DeliveryStatus.CANCELLED.value
        row.finished_at = now
        row.last_error = "awaiting consent; a later one came"
        superseded += 1
    return superseded


def _claim_reminders(
    session: Session, now: datetime, policy: ScanPolicy
) -> tuple[tuple[SendJob, ...], int, bool]:
    if policy.max_reminders <= 0:
        return (), 0, False
    limit = policy.batch_size
    rows = session.exec(_locked(due_reminders_query(now, limit))).all()
    if not rows:
        return (), 0, False
    contexts = _contexts(session, rows)
    counts = _question_counts(session, (row.task_id for row in rows))
    last_answers = _last_answers(session, [row.id for row in rows if row.started_at is not None])
    wait = timedelta(minutes=policy.first_reminder_minutes)
    # A check-in sent before its group's consent text changed is not pressed on the patient
    # until they agree to the new text (its own prompt, not a reminder, asks them).
    unconsented = missing(
        session, {(c.task.group_id, c.person.id or 0) for c in contexts.values()}
    )
    jobs: list[SendJob] = []
    deferred = 0
    for row in rows:
        assert row.id is not None
        if row.expires_at <= now:
            continue  # left over when the expiry step hit its batch limit; expired next round
        context = contexts[row.id]
        person = context.person
        if (
            person.unreachable
            or person.opted_out
            or person.data_deleted_at is not None
            or person.chat_id is None
            or context.task.deleted_at is not None
            or (context.task.group_id, row.person_id) in unconsented
        ):
            row.remind_at = None
            continue
        answered = last_answers.get(row.id)
        if answered is not None and answered + wait > now:
            # The patient is answering: an answer leaves remind_at alone (it would cost every
            # answer a write of the delivery), so the reminder is put off here instead, a full
            # wait after the last answer, as starting or a failed try put it off at once.
            row.remind_at = answered + wait
            continue
        zone = zone_for(person, context.group, policy.default_zone)
        until = _quiet_until(policy, person, zone, now)
        if until is not None:
            row.remind_at = until
            deferred += 1
            continue
        row.lease_until = now + timedelta(seconds=policy.lease_seconds)
        row.claimed_by = policy.instance_id
        jobs.append(
            SendJob(
                "reminder",
                _view(
                    row,
                    context,
                    counts,
                    policy.default_zone,
                    reminder_number=row.reminders_sent + 1,
                ),
            )
        )
    session.flush()
    return tuple(jobs), deferred, len(rows) >= limit


def _held_statement() -> Any:
    """The read of ``held_query``, built once: built per call with its aliases it cost a scan
    with nothing to do 1.9 ms of its 3.2 (``benchmarks/bench_scan.py``)."""
    row = _DELIVERIES.c
    other, answered, answers = _DELIVERIES.alias("other"), _DELIVERIES.alias("answered"), _ANSWERS
    active_since: BindParameter[datetime] = bindparam("b_active_since")
    still_answering = or_(
        select(other.c.id)
        .where(
            other.c.person_id == row.person_id,
            other.c.status == IN_PROGRESS,
            or_(other.c.started_at.is_(None), other.c.started_at >= active_since),
        )
        .exists(),
        # Any answer within the wait, also one that just finished a check-in: its handler is
        # offering the held prompt (``checkin.note_offer`` gives it a message of its own).
        select(answers.c.id)
        .join(answered, answered.c.id == answers.c.delivery_id)
        .where(answered.c.person_id == row.person_id, answers.c.answered_at >= active_since)
        .exists(),
    )
    return select(row.id).where(
        row.status == SENT,
        row.remind_at.is_(None),
        row.prompt_message_id.is_(None),
        row.started_at.is_(None),
        # Held for consent: the agreement lets it go, not the end of another check-in.
        or_(row.last_error.is_(None), row.last_error != HELD_FOR_CONSENT),
        ~still_answering,
    )


_DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
_ANSWERS = Answer.__table__  # type: ignore[attr-defined]
_HELD = _held_statement()


def held_query(active_since: datetime, limit: int) -> Any:
    """Prompts held for patients no longer in the middle of a check-in
    (ix_deliveries_status_remind_at: a held prompt has no reminder of its own, where open
    check-ins mostly have one planned). Not by its window: through the expiry index that
    read every open check-in; the scan's expiry has just closed the held prompts whose
    window is over."""
    return _HELD.params(b_active_since=active_since).limit(limit)


def _release_held(session: Session, now: datetime, policy: ScanPolicy) -> frozenset[int]:
    """Send the prompts held for patients who are no longer answering another check-in.

    A prompt held while the patient was answering waits for them to finish, and their last
    answer offers it; one who went quiet for a reminder's wait may not finish at all, and the
    held prompt has no message and no reminder of its own. Back to ``pending``, this scan
    sends it as usual. Before, only a reminder of the check-in in progress let it go: one with
    no reminder left (or one that expired first) kept it unsent until its own window closed.
    """
    active_since = now - timedelta(minutes=policy.first_reminder_minutes)
    held = session.execute(_locked(held_query(active_since, policy.batch_size))).scalars().all()
    if not held:
        return frozenset()
    session.execute(
        update(Delivery)
        .where(
            col(Delivery.id).in_(list(held)),
            col(Delivery.status) == SENT,
            col(Delivery.expires_at) > now,
        )
        .values(status=PENDING, sent_at=None)
        .execution_options(synchronize_session=False)
    )
    log.info("held prompts released", extra={"released": len(held)})
    return frozenset(held)


# --- results ------------------------------------------------------------------------------


def _error_text(error: str | None) -> str | None:
    return error[:MAX_ERROR_LENGTH] if error else None


# What a batch of results reads of each delivery, and what a claim's release writes. Plain
# rows and prebuilt statements, not ORM objects: the sender records its results every few
# sends (a kill -9 re-sends only those in flight), and through the unit of work this was the
# busiest use case of a sending instance, a seventh of its CPU in the three-process fan-out.
_MARK_READ = (
    sa_select(
        _DELIVERIES.c.id,
        _DELIVERIES.c.person_id,
        _DELIVERIES.c.status,
        _DELIVERIES.c.prompt_message_id,
        _DELIVERIES.c.reminders_sent,
    )
    .where(_DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)))
    # Lock the rows: a patient pressing a button on one of them must not interleave.
    .with_for_update()
)
_RELEASED = {"lease_until": None, "claimed_by": None}


def _change(row: dict[str, Any], change: dict[str, Any], **values: Any) -> None:
    """Apply ``values`` to the row as read (a later result of it sees them) and keep them for
    its UPDATE."""
    row.update(values)
    change.update(values)


@functools.cache
def _mark_statement(columns: tuple[str, ...]) -> Any:
    """One UPDATE for every row whose results changed exactly ``columns``, sent as a batch."""
    return (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )


def mark_results(
    database: Database, now: datetime, results: Sequence[SendResult], policy: MarkPolicy
) -> MarkReport:
    """Record what became of a batch of sends, in one transaction."""
    if not results:
        return MarkReport()
    sent = reminded = failed = requeued = stale = 0
    with database.session() as session:
        connection = session.connection()
        ids = sorted({r.delivery_id for r in results})
        rows = {
            row.id: row._asdict() for row in connection.execute(_MARK_READ, {"b_ids": ids}).all()
        }
        changed: dict[int, dict[str, Any]] = {}
        blocked: set[int] = set()
        on_screen: list[dict[str, Any]] = []
        orphaned: list[ClosingMessage] = []
        for result in results:
            row = rows.get(result.delivery_id)
            if row is None:
                stale += 1
                if (
                    result.outcome is Outcome.SENT
                    and result.message_id is not None
                    and result.chat_id is not None
                ):
                    orphaned.append(erased_message(result.chat_id, result.message_id, result.text))
                continue
            # Applied to the row as read, in order: a later result of the same delivery sees
            # what an earlier one changed.
            change = changed.setdefault(row["id"], {})
            if (
                result.outcome is Outcome.SENT
                and result.message_id is not None
                and result.chat_id is not None
            ):
                # Stale or not, the message is on the patient's screen with live-looking
                # buttons: it is edited once its check-in closes (bot.closing).
                on_screen.append(
                    {
                        "delivery_id": row["id"],
                        "chat_id": result.chat_id,
                        "message_id": result.message_id,
                        "kind": result.kind,
                        "text": result.text,
                        "created_at": now,
                    }
                )
            if result.outcome is Outcome.FORBIDDEN:
                blocked.add(row["person_id"])
                continue
            if result.kind == "prompt":
                if row["status"] != SENDING:
                    # Expired, cancelled, or sent by another process that reclaimed it; or
                    # taken over by a press on this very prompt (``checkin.common``), which
                    # knows no message id: it is this one.
                    if (
                        row["status"] in _OPEN
                        and row["prompt_message_id"] is None
                        and result.outcome is Outcome.SENT
                    ):
                        _change(row, change, prompt_message_id=result.message_id)
                    stale += 1
                    continue
                _change(row, change, **_RELEASED)
                if result.outcome is Outcome.SENT:
                    _change(
                        row,
                        change,
                        status=SENT,
                        sent_at=now,
                        prompt_message_id=result.message_id,
                        last_error=None,
                        remind_at=(
                            now + timedelta(minutes=policy.first_reminder_minutes)
                            if policy.max_reminders > 0
                            else None
                        ),
                    )
                    sent += 1
                elif result.outcome is Outcome.FAILED:
                    _change(
                        row,
                        change,
                        status=DeliveryStatus.FAILED.value,
                        finished_at=now,
                        last_error=_error_text(result.error),
                    )
                    failed += 1
                else:
                    _change(row, change, status=PENDING, last_error=_error_text(result.error))
                    requeued += 1
                continue
            # A reminder: the delivery itself stays as it is.
            _change(row, change, **_RELEASED)
            if row["status"] not in _OPEN:
                stale += 1
                continue
            if result.outcome is Outcome.SENT:
                reminders_sent = row["reminders_sent"] + 1
                _change(
                    row,
                    change,
                    reminders_sent=reminders_sent,
                    remind_at=(
                        now + timedelta(minutes=policy.reminder_interval_minutes)
                        if reminders_sent < policy.max_reminders
                        else None
                    ),
                )
                reminded += 1
            elif result.outcome is Outcome.FAILED:
                _change(row, change, remind_at=None, last_error=_error_text(result.error))
                failed += 1
            else:
                requeued += 1
        if on_screen:
            connection.execute(insert(CheckinMessage), on_screen)
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for delivery_id, change in changed.items():
            if change:
                # Sorted: one key, and one cached statement, per set of columns.
                columns = tuple(sorted(change))
                values = {f"b_{name}": change[name] for name in columns}
                by_columns.setdefault(columns, []).append({"b_id": delivery_id, **values})
        for columns, batch in by_columns.items():
            connection.execute(_mark_statement(columns), batch)
        failed_by_block = _fail_blocked(session, now, blocked) if blocked else 0
        session.commit()
    return MarkReport(
        sent=sent,
        reminded=reminded,
        failed=failed,
        blocked_people=len(blocked),
        failed_by_block=failed_by_block,
        requeued=requeued,
        stale=stale,
        orphaned=tuple(orphaned),
    )


def _fail_blocked(session: Session, now: datetime, blocked: set[int]) -> int:
    """Mark the people who blocked the bot unreachable and fail what they can no longer get;
    returns how many deliveries failed so."""
    people = sorted(blocked)
    session.execute(
        update(Person)
        .where(col(Person.id).in_(people))
        .values(unreachable=True)
        .execution_options(synchronize_session=False)
    )
    # Future occurrences were only plans: drop them, so that when the patient unblocks
    # the bot and says /start, planning can put the same instants back.
    session.execute(
        delete(Delivery)
        .where(
            col(Delivery.person_id).in_(people),
            col(Delivery.status) == DeliveryStatus.PENDING.value,
            col(Delivery.due_at) > now,
        )
        .execution_options(synchronize_session=False)
    )
    outcome = session.execute(
        update(Delivery)
        .where(col(Delivery.person_id).in_(people), col(Delivery.status).in_(_LIVE))
        .values(
            status=DeliveryStatus.FAILED.value,
            finished_at=now,
            remind_at=None,
            lease_until=None,
            claimed_by=None,
            last_error=BLOCKED_ERROR,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(outcome, "rowcount", 0) or 0)


def release_claims(database: Database, now: datetime, instance_id: str) -> int:
    """Give back what this process claimed and did not send (a clean shutdown); return how many.

    Prompts go back to pending, so the next scan of any process sends them at once instead of
    waiting for the lease to run out; reminder claims are simply dropped.
    """
    with database.session() as session:
        released = _release(session, [instance_id])
        session.commit()
    if released:
        log.info("released claims", extra={"released": released, "at": now.isoformat()})
    return released


def release_dead(
    database: Database,
    now: datetime,
    host: str,
    instance_id: str,
    alive: Callable[[int], bool] | None = None,
) -> int:
    """Give back the claims of earlier processes that are gone (a kill -9; which ones:
    ``inbox.dead_holders``).

    A restarted bot calls this before its first scan, so its dead predecessor's fan-out
    carries on at once instead of after the lease. The prompts it gives back may have gone out
    just before the kill (sent, not yet recorded): they are sent again, as after a lease.
    """
    with database.session() as session:
        holders = session.exec(
            select(Delivery.claimed_by)
            .where(col(Delivery.status).in_([SENDING, *_OPEN]))
            .distinct()
        ).all()
        dead = inbox.dead_holders(
            database, holders, host, instance_id, alive or inbox.process_alive
        )
        released = _release(session, dead) if dead else 0
        session.commit()
    if released:
        log.info(
            "took back the claims of a stopped process",
            extra={"released": released, "at": now.isoformat()},
        )
    return released


def renew_claims(database: Database, now: datetime, instance_id: str, lease_seconds: float) -> int:
    """Push this process's leases on what it is sending ``lease_seconds`` past ``now``.

    Leases stay short (a dead sender's rows pass on within seconds) only because the living
    renew theirs while they send.
    """
    with database.session() as session:
        result = session.execute(
            update(Delivery)
            .where(
                col(Delivery.status).in_([SENDING, *_OPEN]),
                col(Delivery.claimed_by) == instance_id,
            )
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def _release(session: Session, holders: list[str]) -> int:
    prompts = session.execute(
        update(Delivery)
        .where(col(Delivery.status) == SENDING, col(Delivery.claimed_by).in_(holders))
        .values(status=PENDING, lease_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Delivery)
        .where(col(Delivery.status).in_(_OPEN), col(Delivery.claimed_by).in_(holders))
        .values(lease_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(prompts, "rowcount", 0) or 0)
