"""The queries and rules every check-in use case shares, built once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from bot.services.checkin.results import (
    ConsentQuestion,
    NextDue,
    Policy,
    QuestionView,
    Refusal,
    Refused,
    consent_question,
)
from bot.services.consent import agreed_before, has_agreed, in_force, missing
from bot.services.content import (
    TEXT,
    localized,
    localized_link,
    localized_options,
    title_of,
)
from bot.services.erasure import was_erased
from bot.services.planning import comes_late, zone_for
from bot.services.responses import QuestionRules
from bot.services.schedule import after_quiet_hours
from bot.services.views import PromptView
from storage.models import (
    OPEN_STATUSES,
    Answer,
    Delivery,
    DeliveryStatus,
    Membership,
    Person,
    Question,
    QuestionRevision,
    Role,
    Task,
    TherapyGroup,
)

# What Telegram allows in a deep-link payload (t.me/<bot>?start=CODE).
INVITE_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OPEN = tuple(status.value for status in OPEN_STATUSES)
# What a patient's leaving ends: the open check-ins, and a prompt the due scan has claimed and
# may be sending (a big fan-out sends a round for seconds). Left as it was, that prompt went out
# after "no more check-ins" and its check-in could be answered; now it may still arrive, but
# its check-in is over, and the next scan edits it to say so.
_ENDABLE = (DeliveryStatus.SENDING.value, *_OPEN)
_SENT = DeliveryStatus.SENT.value
_IN_PROGRESS = DeliveryStatus.IN_PROGRESS.value
# Memberships that no longer make a member; a valid invite replaces them (see _start).
_ENDED_ROLES = (
    Role.ERASED.value,
    Role.REMOVED.value,
    Role.FORMER_THERAPIST.value,
    Role.DECLINED.value,
)

# --- helpers ----------------------------------------------------------------------------------


def _id(row: Delivery | Question | QuestionRevision | Person | Task) -> int:
    assert row.id is not None
    return row.id


# The queries every answer runs, built once: building a statement costs several times more
# than running it (measured in benchmarks/bench_answers.py), and the values go in as parameters.
_PERSON_BY_USER = select(Person).where(Person.telegram_user_id == bindparam("user_id"))
_ASKING = (
    select(Delivery)
    .where(Delivery.person_id == bindparam("person_id"), Delivery.status == _IN_PROGRESS)
    .order_by(col(Delivery.started_at).desc(), col(Delivery.id).desc())
)
_ASKING_LOCKED = _ASKING.with_for_update()
_OTHERS_IN_PROGRESS = select(Delivery).where(
    Delivery.person_id == bindparam("person_id"),
    Delivery.status == _IN_PROGRESS,
    Delivery.id != bindparam("delivery_id"),
)
_ACTIVE_QUESTIONS = (
    select(Question)
    .where(Question.task_id == bindparam("task_id"), col(Question.removed_at).is_(None))
    .order_by(col(Question.position))
)
_ANSWERS = select(Answer).where(Answer.delivery_id == bindparam("delivery_id"))


def _person(session: Session, user_id: int) -> Person | None:
    return session.exec(_PERSON_BY_USER, params={"user_id": user_id}).first()


def _stranger(session: Session, policy: Policy, user_id: int) -> Refusal:
    """Why someone without a row was refused: never joined, or erased their data."""
    if was_erased(session, policy.erasure_key, user_id):
        return Refusal.ERASED
    return Refusal.UNKNOWN_PERSON


def _task(session: Session, delivery: Delivery) -> Task:
    task = session.get(Task, delivery.task_id)
    assert task is not None  # the foreign key guarantees it
    return task


def _open_delivery(
    session: Session, now: datetime, policy: Policy, user_id: int, delivery_id: int
) -> tuple[Person, Delivery, Task] | Refused:
    """The caller's own delivery, locked, if it can still be acted on."""
    person = _person(session, user_id)
    if person is None:
        return Refused(_stranger(session, policy, user_id))
    delivery = session.exec(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update()
    ).first()
    # Someone else's delivery is refused exactly like a missing one: a forged button learns
    # nothing about other patients.
    if delivery is None or delivery.person_id != person.id:
        return Refused(Refusal.NOT_YOURS)
    task = _task(session, delivery)
    refusal = {
        DeliveryStatus.COMPLETED.value: Refusal.COMPLETED,
        DeliveryStatus.SKIPPED.value: Refusal.SKIPPED,
        DeliveryStatus.CANCELLED.value: Refusal.CANCELLED,
        DeliveryStatus.FAILED.value: Refusal.CANCELLED,
        DeliveryStatus.EXPIRED.value: Refusal.CLOSED,
        DeliveryStatus.PENDING.value: Refusal.NOT_OPEN,
    }.get(delivery.status)
    if refusal is None and _closed(delivery, now):
        refusal = Refusal.CLOSED
    if refusal is not None:
        return Refused(refusal, title_of(task))
    if delivery.status == DeliveryStatus.SENDING.value:
        # The scan marks a batch sent only after sending all of it; a press proves this prompt
        # arrived, so take the row over (the scan's late mark then finds it no longer sending).
        delivery.status = _SENT
        delivery.sent_at = delivery.sent_at or now
        delivery.lease_until = None
        delivery.claimed_by = None
        if delivery.remind_at is None and delivery.reminders_sent < policy.max_reminders:
            delivery.remind_at = now + timedelta(minutes=policy.first_reminder_minutes)
    return person, delivery, task


def _consent_first(session: Session, person: Person, task: Task) -> ConsentQuestion | None:
    """The group's consent text, when it changed since the patient agreed: no check-in of the
    group begins until they agree (one already begun goes on)."""
    group = session.get(TherapyGroup, task.group_id)
    assert group is not None
    required = in_force(session, group)
    if required is None or has_agreed(session, required.group_id, person.id, required.version):
        return None
    again = bool(agreed_before(session, [(required.group_id, _id(person))]))
    return consent_question(False, required.group_id, required, again=again)


def _closed(delivery: Delivery, now: datetime) -> bool:
    return delivery.status == DeliveryStatus.EXPIRED.value or delivery.expires_at <= now


def _asking(session: Session, person: Person, *, lock: bool) -> Delivery | None:
    """The delivery whose question the patient's next message answers."""
    query = _ASKING_LOCKED if lock else _ASKING
    return session.exec(query, params={"person_id": person.id}).first()


def _activate(session: Session, now: datetime, person: Person, delivery: Delivery) -> str | None:
    """Make ``delivery`` the one being answered; return the title of one put on hold."""
    others = session.exec(
        _OTHERS_IN_PROGRESS, params={"person_id": person.id, "delivery_id": delivery.id}
    ).all()
    paused_title = None
    for other in others:
        other.status = _SENT
        paused_title = title_of(_task(session, other))
    delivery.status = _IN_PROGRESS
    if delivery.started_at is None:
        delivery.started_at = now
    return paused_title


def _postpone_reminder(delivery: Delivery, now: datetime, policy: Policy) -> None:
    """Reminders are for a patient who went quiet: any step keeps the next one a full wait away."""
    if delivery.remind_at is not None:
        delivery.remind_at = max(
            delivery.remind_at, now + timedelta(minutes=policy.first_reminder_minutes)
        )


def _count_open(session: Session, now: datetime, person: Person) -> int:
    return session.exec(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.person_id == person.id,
            col(Delivery.status).in_(_OPEN),
            col(Delivery.expires_at) > now,
        )
    ).one()


def _active_questions(session: Session, task: Task) -> list[Question]:
    return list(session.exec(_ACTIVE_QUESTIONS, params={"task_id": task.id}).all())


def _answers(session: Session, delivery: Delivery) -> dict[int, Answer]:
    rows = session.exec(_ANSWERS, params={"delivery_id": delivery.id}).all()
    return {a.question_id: a for a in rows}


def _first_unanswered(questions: list[Question], answers: dict[int, Answer]) -> Question | None:
    return next((q for q in questions if _id(q) not in answers), None)


def _rules(question: Any) -> QuestionRules:
    """The answer rules of a ``Question``, or of a plain row of the questions table.

    The options carry their translations: a button shows the reader's, a typed answer may be
    any of them, and the answer stored is the canonical option.
    """
    return QuestionRules(
        response_type=question.response_type,
        options=localized_options(question.options, question.translations),
        min_value=question.min_value,
        max_value=question.max_value,
        integer_only=question.integer_only,
        max_length=question.max_length,
        required=question.required,
    )


def _question_view(
    delivery_id: int, task_title: str, questions: Sequence[Any], question: Any
) -> QuestionView:
    """``question`` among ``questions``: ``Question`` objects, or plain rows of their table."""
    return QuestionView(
        delivery_id=delivery_id,
        question_id=question.id,
        revision=question.revision,
        task_title=task_title,
        number=questions.index(question) + 1,
        total=len(questions),
        description=localized(question.description, question.translations, TEXT),
        link=localized_link(question.link, question.translations),
        rules=_rules(question),
    )


def _shown_value(options: Sequence[str], stored: str) -> str:
    """A stored answer with what its reader may see instead: a choice's option (``options``,
    with their translations) in their language; the stored value is the canonical option."""
    return next((option for option in options if option == stored), stored)


def _group_names(session: Session, person: Person) -> tuple[str, ...]:
    return tuple(
        session.exec(
            select(TherapyGroup.name)
            .join(Membership, col(Membership.group_id) == TherapyGroup.id)
            .where(Membership.person_id == person.id, Membership.role == Role.PATIENT.value)
            .order_by(col(Membership.joined_at), col(TherapyGroup.id))
        ).all()
    )


def _zone_of(session: Session, person: Person, task: Task, policy: Policy) -> str:
    group = session.get(TherapyGroup, task.group_id)
    assert group is not None
    return str(zone_for(person, group, policy.default_zone).key)


def _next_due(
    session: Session,
    person: Person,
    now: datetime,
    policy: Policy,
    *,
    group_id: int | None = None,
) -> NextDue | None:
    query = (
        select(Delivery, Task)
        .join(Task, col(Task.id) == Delivery.task_id)
        .where(
            Delivery.person_id == person.id,
            Delivery.status == DeliveryStatus.PENDING.value,
            col(Task.deleted_at).is_(None),
        )
        .order_by(col(Delivery.due_at), col(Delivery.id))
    )
    if group_id is not None:
        query = query.where(Task.group_id == group_id)
    row = session.exec(query).first()
    if row is None:
        return None
    delivery, task = row
    zone = _zone_of(session, person, task, policy)
    if delivery.due_at > now:
        return NextDue(title_of(task), delivery.due_at, zone)
    # Due already (a late once task, a fan-out on its way): it goes out with the next scan,
    # unless it comes late in the patient's quiet hours, which it waits out.
    where = ZoneInfo(zone)
    if comes_late(task, where, now):
        out_at = _reminder_time(person, policy, now, where)
        if out_at > now:
            return NextDue(title_of(task), out_at, zone)
    return NextDue(title_of(task), now, zone, due_now=True)


def _offer(
    session: Session,
    now: datetime,
    policy: Policy,
    person: Person,
    *,
    exclude: int,
    unseen_only: bool = False,
) -> PromptView | None:
    """The oldest other open task, to offer once the patient leaves the current one.

    ``unseen_only`` keeps to tasks whose prompt was never sent (they fell due while the patient
    was busy): after a pause the patient should not be pushed into a task they already saw.
    """
    if person.chat_id is None:
        return None
    query = (
        select(Delivery, Task)
        .join(Task, col(Task.id) == Delivery.task_id)
        .where(
            Delivery.person_id == person.id,
            col(Delivery.status).in_(_OPEN),
            col(Delivery.expires_at) > now,
            Delivery.id != exclude,
        )
        .order_by(col(Delivery.due_at), col(Delivery.id))
    )
    if unseen_only:
        query = query.where(col(Delivery.prompt_message_id).is_(None))
    # Locked: the due scan's sweep of held prompts (``delivery._release_held``) must not send
    # this one while it is being offered, nor this offer go out for one the sweep took.
    rows = session.exec(query.with_for_update(of=Delivery)).all()
    # A group whose consent text changed since the patient agreed offers no check-in not yet
    # begun until they agree: its held prompt goes back to the scan, which asks for consent
    # in its place. One already begun goes on, as ``begin`` lets it.
    unconsented = missing(session, {(task.group_id, _id(person)) for _, task in rows})
    row = next(
        (
            (d, t)
            for d, t in rows
            if d.started_at is not None or (t.group_id, person.id) not in unconsented
        ),
        None,
    )
    if row is None:
        return None
    delivery, task = row
    if delivery.prompt_message_id is None and delivery.remind_at is None:
        # A held prompt offered now: its reminder follows the offer, and the sweep, which
        # takes only prompts without one, leaves it to this offer (sent once, not twice).
        delivery.remind_at = now + timedelta(minutes=policy.first_reminder_minutes)
    return PromptView(
        delivery_id=_id(delivery),
        chat_id=person.chat_id,
        task_id=_id(task),
        task_title=title_of(task),
        due_at=delivery.due_at,
        zone=_zone_of(session, person, task, policy),
        question_count=len(_active_questions(session, task)),
        expires_at=delivery.expires_at,
        started=delivery.started_at is not None,
    )


def _reminder_time(person: Person, policy: Policy, at: datetime, zone: ZoneInfo) -> datetime:
    """When a reminder planned for ``at`` really goes out: after quiet hours, if in them."""
    own, clinic = (person.quiet_start, person.quiet_end), (policy.quiet_start, policy.quiet_end)
    return after_quiet_hours(at, zone, own, clinic)
