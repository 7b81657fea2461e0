"""The patient's side: joining by invite, answering a due task question by question, and the
patient's own commands (/tasks, /pause, /timezone, /stop, /deletemydata).

Every use case is a synchronous function ``(database, now, ...)`` that runs one transaction and
returns frozen dataclasses; the handler turns them into messages. All state lives in the rows:

- ``in_progress`` means the patient is inside that delivery now: their next message answers its
  current question. A patient has at most one. Starting another puts the first back to ``sent``
  (paused, answers kept), and so do /pause and "Remind me later"; /tasks resumes either.
- The question being asked (or to resume at) is always the first active question, by position,
  without an answer: worked out from the answers, never stored, so an edit of the task by the
  therapist or a restart of the bot can never lose or repeat an answer. ``current_tries``
  counts failed tries on it.
- ``Person.last_answer_message_id`` is the newest of the patient's messages the walk-through has
  used. Message ids only grow within a chat, so a message at or below it is Telegram delivering
  an update again, and is ignored rather than taken as the answer to the next question.
- Answers are unique on (delivery, question); that constraint is the real guard against a double
  tap, and the row lock taken on the delivery keeps two instances from interleaving.
- Reminders (sent by the scan when ``remind_at`` passes) are for a patient who went quiet: every
  step the patient takes moves a planned reminder a full wait away. Starting, resuming and a
  failed try move ``remind_at`` at once; an answer does not write the delivery at all, and the
  scan puts off a reminder that falls due within a wait of the last answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import and_, bindparam, delete, func, or_, update
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from bot.services.meaning import Meaning
from bot.services.planning import plan_member, replan_person, zone_for
from bot.services.responses import (
    Accepted,
    QuestionRules,
    Rejected,
    Reply,
    alert_matches,
    parse_alert_rule,
    parse_reply,
)
from bot.services.schedule import end_of_quiet, is_quiet
from bot.services.throttle import (
    DEFAULT_THROTTLE,
    Burst,
    ThrottlePolicy,
    blocked_until,
    record_failure,
)
from bot.services.views import PromptView
from storage.db import Database
from storage.models import (
    OPEN_STATUSES,
    Answer,
    Delivery,
    DeliveryStatus,
    Invite,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
)

# What Telegram allows in a deep-link payload (t.me/<bot>?start=CODE).
INVITE_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OPEN = tuple(status.value for status in OPEN_STATUSES)
_SENT = DeliveryStatus.SENT.value
_IN_PROGRESS = DeliveryStatus.IN_PROGRESS.value
# Memberships that no longer make a member; a valid invite replaces them (see _start).
_ENDED_ROLES = (Role.ERASED.value, Role.REMOVED.value, Role.FORMER_THERAPIST.value)


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The settings the check-in rules depend on, so services never read the configuration."""

    default_zone: str
    max_reasks: int = 3
    first_reminder_minutes: int = 60
    max_reminders: int = 2
    quiet_start: time | None = None
    quiet_end: time | None = None
    therapist_user_ids: tuple[int, ...] = ()
    throttle: ThrottlePolicy = DEFAULT_THROTTLE


@dataclass(frozen=True)
class Patient:
    """Who wrote, as Telegram says: a private chat's id equals the user's."""

    telegram_user_id: int
    chat_id: int
    first_name: str
    last_name: str = ""
    language_code: str | None = None  # the person's app language, when Telegram says


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionView:
    delivery_id: int
    question_id: int
    task_title: str
    number: int  # 1-based among the task's active questions
    total: int
    description: str
    link: str | None
    rules: QuestionRules

    @property
    def optional(self) -> bool:
        return not self.rules.required


@dataclass(frozen=True)
class AnsweredView:
    question: QuestionView
    display: str  # raw: escape before putting it into HTML
    skipped: bool = False


@dataclass(frozen=True)
class SummaryLine:
    description: str
    display: str
    skipped: bool


@dataclass(frozen=True)
class Summary:
    task_title: str
    lines: tuple[SummaryLine, ...]


@dataclass(frozen=True)
class AlertNotice:
    """One message for one therapist: an answer met its question's alert rule."""

    chat_id: int
    patient_name: str
    group_name: str
    task_title: str
    question: str
    answer: str
    rule: str


@dataclass(frozen=True)
class NextDue:
    task_title: str
    due_at: datetime  # UTC
    zone: str


class Refusal(StrEnum):
    """Why a button press or an answer changed nothing."""

    UNKNOWN_PERSON = "unknown_person"  # the presser never joined
    NOT_YOURS = "not_yours"  # no such delivery, or someone else's (forged or deleted)
    NOT_OPEN = "not_open"  # not sent yet
    CLOSED = "closed"  # past its expiry
    COMPLETED = "completed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # cancelled by /stop, or never deliverable
    STALE = "stale"  # the question is not the one being asked any more (removed by an edit)
    NOT_YET = "not_yet"  # a later question of the check-in: the current one comes first
    NOT_AN_OPTION = "not_an_option"  # a value the question's buttons never offer (forged)
    ALREADY = "already"  # that question was answered a moment ago (double tap)
    REQUIRED = "required"  # skip pressed on a question that must be answered


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    task_title: str = ""


@dataclass(frozen=True)
class Progress:
    """The walk-through moved: ask ``question``, or show ``summary`` when the task is done."""

    delivery_id: int
    task_title: str
    answered: AnsweredView | None = None
    question: QuestionView | None = None
    summary: Summary | None = None
    offer: PromptView | None = None  # the next open task, offered once this one is done
    alerts: tuple[AlertNotice, ...] = ()
    paused_title: str | None = None  # another task put on hold to start this one
    resumed: bool = False  # started earlier: continuing where the patient left off


@dataclass(frozen=True)
class Reask:
    question: QuestionView
    hint: Meaning  # why the answer was not taken, and how to answer; worded by bot.texts
    tries: int
    offer_skip: bool  # an optional question after max_reasks failed tries
    stuck: bool  # a required question after max_reasks failed tries


@dataclass(frozen=True)
class NotShown:
    """A message came for a question whose message never reached the patient.

    The next question was stored but not sent (the bot stopped in between), or the patient
    typed before it arrived: the message is not taken as its answer; the question is sent.
    """

    question: QuestionView


class Idle(StrEnum):
    UNKNOWN_PERSON = "unknown_person"
    NOTHING_ASKED = "nothing_asked"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class NoQuestion:
    """A message that answers nothing."""

    reason: Idle
    open_count: int = 0


@dataclass(frozen=True)
class TaskSkipped:
    delivery_id: int
    task_title: str
    offer: PromptView | None = None


@dataclass(frozen=True)
class Deferred:
    delivery_id: int
    task_title: str
    remind_at: datetime | None  # UTC, when a reminder will come; None when none will
    expires_at: datetime
    zone: str
    offer: PromptView | None = None


@dataclass(frozen=True)
class Paused:
    known: bool
    task_title: str | None = None  # None: nothing was in progress
    number: int = 0
    total: int = 0
    open_count: int = 0
    offer: PromptView | None = None


@dataclass(frozen=True)
class OpenTask:
    delivery_id: int
    task_title: str
    due_at: datetime
    expires_at: datetime
    zone: str
    answered: int
    total: int
    started: bool
    active: bool


@dataclass(frozen=True)
class TaskList:
    known: bool
    opted_out: bool = False
    in_groups: bool = False
    items: tuple[OpenTask, ...] = ()
    next_due: NextDue | None = None


class StartOutcome(StrEnum):
    JOINED = "joined"
    ALREADY_MEMBER = "already_member"
    BAD_CODE = "bad_code"
    # Too many wrong codes lately: no code is looked at until ``retry_at``.
    THROTTLED = "throttled"
    NEWCOMER = "newcomer"  # /start alone from someone in no group
    OPTED_IN = "opted_in"  # /start alone from someone who had /stop'ped
    GREETING = "greeting"  # /start alone from a member


class InviteProblem(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"
    # The patient was taken out of the group after this invite was made.
    REMOVED = "removed"


@dataclass(frozen=True)
class StartResult:
    outcome: StartOutcome
    group_name: str = ""
    problem: InviteProblem | None = None
    next_due: NextDue | None = None
    groups: tuple[str, ...] = ()
    opted_back_in: bool = False
    # THROTTLED, or a wrong code that started a cool-down: when codes are looked at again.
    retry_at: datetime | None = None
    # Everyone's wrong codes just reached the alert level (at most once per window).
    burst: Burst | None = None


@dataclass(frozen=True)
class ZoneView:
    known: bool
    zone: str
    own: bool  # the patient chose it (otherwise the group's or the clinic's default)


@dataclass(frozen=True)
class ZoneChanged:
    known: bool
    zone: str | None  # None: not a time zone name
    next_due: NextDue | None = None


@dataclass(frozen=True)
class PersonStatus:
    known: bool
    opted_out: bool = False
    asking: bool = False  # a question is waiting for their answer


@dataclass(frozen=True)
class Stopped:
    known: bool
    already: bool = False
    cancelled: int = 0


@dataclass(frozen=True)
class Deleted:
    known: bool
    answers: int = 0
    deliveries: int = 0
    memberships: int = 0


# --- joining ----------------------------------------------------------------------------------


def start(
    database: Database, now: datetime, policy: Policy, who: Patient, code: str | None
) -> StartResult:
    """/start with or without an invite code: join a group, opt back in, or greet."""
    try:
        return _start(database, now, policy, who, code)
    except IntegrityError:
        # Two instances registered the same person or membership at once; the second attempt
        # finds the first one's rows.
        return _start(database, now, policy, who, code)


def _start(
    database: Database, now: datetime, policy: Policy, who: Patient, code: str | None
) -> StartResult:
    with database.session() as session:
        person = _person(session, who.telegram_user_id)
        if code is None:
            return _greet(session, now, policy, who, person)
        until = blocked_until(session, now, who.telegram_user_id)
        if until is not None:
            return StartResult(StartOutcome.THROTTLED, retry_at=until)
        invite = _find_invite(session, code)
        problem = _invite_problem(invite, now)
        if problem is InviteProblem.UNKNOWN:
            # A guess, or a typo: counted, and nothing else is written for a stranger.
            failure = record_failure(session, now, policy.throttle, who.telegram_user_id)
            session.commit()
            return StartResult(
                StartOutcome.BAD_CODE,
                problem=problem,
                retry_at=failure.blocked_until,
                burst=failure.burst,
            )
        if problem is not None or invite is None:
            return StartResult(StartOutcome.BAD_CODE, problem=problem or InviteProblem.UNKNOWN)
        group = session.get(TherapyGroup, invite.group_id)
        assert group is not None and group.id is not None
        if person is None:
            person = Person(
                telegram_user_id=who.telegram_user_id,
                chat_id=who.chat_id,
                first_name=who.first_name[:200],
                last_name=who.last_name[:200],
                language_code=(who.language_code or "en")[:16],
                created_at=now,
            )
            session.add(person)
            session.flush()
        else:
            _refresh_identity(person, who)
        # Joining is consent again after /stop or /deletemydata, and a message from someone
        # who had blocked the bot shows they have unblocked it.
        came_back = person.opted_out or person.data_deleted_at is not None or person.unreachable
        person.opted_out = False
        person.data_deleted_at = None
        person.unreachable = False
        assert person.id is not None
        member = session.exec(
            select(Membership).where(
                Membership.group_id == group.id, Membership.person_id == person.id
            )
        ).first()
        outcome = StartOutcome.ALREADY_MEMBER
        # Only an invite made after a removal lets the patient back (the therapist's new
        # decision); the old links and the seeded code no longer do.
        if (
            member is not None
            and member.role == Role.REMOVED.value
            and member.ended_at is not None
            and invite.created_at <= member.ended_at
        ):
            return StartResult(StartOutcome.BAD_CODE, problem=InviteProblem.REMOVED)
        if member is not None and member.role in _ENDED_ROLES:
            # Back after /deletemydata (this invite is consent for this group only), after a
            # removal, or a former therapist of the group joining it as a patient.
            session.delete(member)
            session.flush()
            member = None
        if member is None:
            # Counted in the UPDATE itself, so two patients cannot both take an invite's last use.
            used = session.exec(
                update(Invite)
                .where(
                    col(Invite.id) == invite.id,
                    or_(
                        col(Invite.max_uses).is_(None),
                        col(Invite.max_uses) <= 0,
                        col(Invite.uses) < col(Invite.max_uses),
                    ),
                )
                .values(uses=col(Invite.uses) + 1)
            )
            if used.rowcount != 1:
                return StartResult(StartOutcome.BAD_CODE, problem=InviteProblem.USED_UP)
            session.add(
                Membership(
                    group_id=group.id,
                    person_id=person.id,
                    role=Role.PATIENT.value,
                    joined_at=now,
                )
            )
            session.flush()
            outcome = StartOutcome.JOINED
        if came_back:
            replan_person(session, person, now, policy.default_zone)
        elif outcome == StartOutcome.JOINED:
            plan_member(session, person, group, now, policy.default_zone)
        session.flush()
        next_due = _next_due(session, person, now, policy, group_id=group.id)
        session.commit()
        return StartResult(
            outcome, group_name=group.name, next_due=next_due, opted_back_in=came_back
        )


def _greet(
    session: Session, now: datetime, policy: Policy, who: Patient, person: Person | None
) -> StartResult:
    if person is None:
        return StartResult(StartOutcome.NEWCOMER)
    _refresh_identity(person, who)
    groups = _group_names(session, person)
    if not groups:
        session.commit()
        return StartResult(StartOutcome.NEWCOMER)
    outcome = StartOutcome.GREETING
    if person.opted_out or person.unreachable:
        if person.opted_out:
            outcome = StartOutcome.OPTED_IN
        # Their series stopped when Telegram refused a prompt or they opted out; plan it again.
        person.opted_out = False
        person.unreachable = False
        session.flush()
        replan_person(session, person, now, policy.default_zone)
        session.flush()
    next_due = _next_due(session, person, now, policy)
    session.commit()
    return StartResult(
        outcome,
        groups=groups,
        next_due=next_due,
        opted_back_in=outcome == StartOutcome.OPTED_IN,
    )


def _find_invite(session: Session, code: str) -> Invite | None:
    if not INVITE_CODE_RE.fullmatch(code):
        return None
    # People type a code they were told ("shoulder1"): a code is one whatever its case, which
    # the unique index on lower(code) enforces, and this lookup goes through that index.
    return session.exec(select(Invite).where(func.lower(col(Invite.code)) == code.lower())).first()


def _invite_problem(invite: Invite | None, now: datetime) -> InviteProblem | None:
    if invite is None:
        return InviteProblem.UNKNOWN
    if invite.revoked_at is not None:
        return InviteProblem.REVOKED
    if invite.expires_at is not None and invite.expires_at <= now:
        return InviteProblem.EXPIRED
    if invite.max_uses is not None and invite.max_uses > 0 and invite.uses >= invite.max_uses:
        return InviteProblem.USED_UP
    return None


def _refresh_identity(person: Person, who: Patient) -> None:
    person.chat_id = who.chat_id
    if person.data_deleted_at is not None:
        return
    if who.first_name:
        person.first_name = who.first_name[:200]
        person.last_name = who.last_name[:200]
    if who.language_code:
        person.language_code = who.language_code[:16]


# --- the prompt's buttons ---------------------------------------------------------------------


def begin(
    database: Database, now: datetime, policy: Policy, user_id: int, delivery_id: int
) -> Progress | Refused:
    """Start or continue a delivery (the prompt's Start button, or /tasks)."""
    with database.session() as session:
        found = _open_delivery(session, now, policy, user_id, delivery_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task = found
        resumed = delivery.started_at is not None
        paused_title = _activate(session, now, person, delivery)
        _postpone_reminder(delivery, now, policy)
        questions = _active_questions(session, task)
        answers = _answers(session, delivery)
        current = _first_unanswered(questions, answers)
        if current is None:
            progress = _complete(session, now, policy, person, delivery, task, questions, answers)
        else:
            delivery.current_tries = 0
            if delivery.asked_question_id != current.id:
                _await_question(delivery, now, None)
            progress = Progress(
                delivery_id=_id(delivery),
                task_title=task.title,
                question=_question_view(_id(delivery), task.title, questions, current),
                paused_title=paused_title,
                resumed=resumed,
            )
        session.commit()
        return progress


def remind_later(
    database: Database, now: datetime, policy: Policy, user_id: int, delivery_id: int
) -> Deferred | Refused:
    """Put a delivery off: a reminder comes after the configured wait (quiet hours respected)."""
    with database.session() as session:
        found = _open_delivery(session, now, policy, user_id, delivery_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task = found
        if delivery.status == _IN_PROGRESS:
            delivery.status = _SENT
        remind_at = now + timedelta(minutes=policy.first_reminder_minutes)
        delivery.remind_at = remind_at
        zone = _zone_of(session, person, task, policy)
        expected = _reminder_time(person, policy, remind_at, ZoneInfo(zone))
        will_remind = (
            policy.max_reminders > delivery.reminders_sent and expected < delivery.expires_at
        )
        offer = _offer(session, now, policy, person, exclude=_id(delivery), unseen_only=True)
        session.commit()
        return Deferred(
            delivery_id=_id(delivery),
            task_title=task.title,
            remind_at=expected if will_remind else None,
            expires_at=delivery.expires_at,
            zone=zone,
            offer=offer,
        )


def skip_task(
    database: Database, now: datetime, policy: Policy, user_id: int, delivery_id: int
) -> TaskSkipped | Refused:
    """Skip the whole task; answers already given stay."""
    with database.session() as session:
        found = _open_delivery(session, now, policy, user_id, delivery_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task = found
        _finish(delivery, now, DeliveryStatus.SKIPPED)
        offer = _offer(session, now, policy, person, exclude=_id(delivery))
        session.commit()
        return TaskSkipped(_id(delivery), task.title, offer)


def note_offer(
    database: Database, now: datetime, policy: Policy, delivery_id: int, message_id: int
) -> bool:
    """Record the prompt of a held task once it has been offered, as the scan does for its own.

    So its reminders follow as for any prompt, and the scan can close it when it expires.
    Returns whether anything changed (not when it was offered before, or has ended since).
    """
    with database.session() as session:
        delivery = session.exec(
            select(Delivery).where(Delivery.id == delivery_id).with_for_update()
        ).first()
        if (
            delivery is None
            or delivery.status not in _OPEN
            or delivery.prompt_message_id is not None
        ):
            return False
        delivery.prompt_message_id = message_id
        if delivery.remind_at is None and delivery.reminders_sent < policy.max_reminders:
            delivery.remind_at = now + timedelta(minutes=policy.first_reminder_minutes)
        session.commit()
        return True


def came_after(
    asked_message_id: int | None,
    asked_at: datetime | None,
    message_id: int,
    sent_at: datetime | None,
) -> bool:
    """Whether a patient's message was written after the question's message reached them.

    In a private chat Telegram numbers both sides' messages in one sequence, so a message with
    a lower id than the question's was written before the question arrived (typed while the
    bot was down, waiting in the inbox). A Bot API server that numbers the two sides apart
    would make that test refuse every answer, so a message Telegram dates a whole second after
    the question was recorded counts too. A question recorded without its message (before
    revision 0005) is taken as seen.
    """
    if asked_message_id is None or message_id > asked_message_id:
        return True
    return sent_at is not None and asked_at is not None and sent_at >= asked_at + _ONE_SECOND


_ONE_SECOND = timedelta(seconds=1)


def _await_question(delivery: Delivery, now: datetime, after_message_id: int | None) -> None:
    """Mark the check-in's next question as to be sent, after the patient's message, if typed.

    While a question waits, ``asked_message_id`` holds that message's id (the question asked
    before is answered, so its own id is needed no more): see ``sent_but_unrecorded``.
    """
    delivery.ask_pending_since = now
    delivery.asked_message_id = after_message_id


def sent_but_unrecorded(
    ask_pending_since: datetime | None, after_message_id: int | None, message_id: int
) -> bool:
    """Whether a question stored as next, never recorded as sent, did reach the patient.

    The bot can stop after Telegram delivered the question and before it recorded so. In a
    private chat both sides' messages share one numbering: if the patient's new message is not
    the very next number after the typed message the question answers, a message came in
    between, and from the bot that can only be this question (any reply to a message of the
    patient's would have recorded it). Where a Bot API server numbers the two sides apart the
    numbers never jump, and the question is sent again instead; after a button press there is
    no typed message to count from, and it is sent again too.
    """
    return (
        ask_pending_since is not None
        and after_message_id is not None
        and message_id > after_message_id + 1
    )


@dataclass(frozen=True)
class Shown:
    """A question's message reached the patient: it may now be answered."""

    delivery_id: int
    question_id: int
    message_id: int


def note_question_shown(
    database: Database, now: datetime, delivery_id: int, question_id: int, message_id: int
) -> None:
    """Record that the question's message reached the patient, in a transaction of its own."""
    with database.session() as session:
        record_shown(session, now, [Shown(delivery_id, question_id, message_id)])
        session.commit()


def record_shown(session: Session, now: datetime, shown: Sequence[Shown]) -> None:
    """Record questions as shown inside the caller's transaction (the inbox's per batch)."""
    if not shown:
        return
    deliveries = SQLModel.metadata.tables["deliveries"]
    session.connection().execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("d_id"))
        .values(
            asked_question_id=bindparam("q_id"),
            asked_message_id=bindparam("m_id"),
            asked_at=now,
            ask_pending_since=None,
        ),
        [{"d_id": s.delivery_id, "q_id": s.question_id, "m_id": s.message_id} for s in shown],
    )


@dataclass(frozen=True)
class UnsentQuestion:
    chat_id: int
    question: QuestionView


def unsent_questions(
    database: Database, now: datetime, older_than: timedelta, limit: int
) -> list[UnsentQuestion]:
    """Check-ins whose next question was stored but not recorded as sent for a while.

    The bot stopped between an answer's commit and the next question's send. Nothing is
    changed here: the caller sends each question and records it (``note_question_shown``).
    A check-in that moved on or closed since is left out, and its mark cleared.
    """
    found: list[UnsentQuestion] = []
    stale: list[int] = []
    with database.session() as session:
        deliveries = session.exec(
            select(Delivery)
            .where(
                col(Delivery.ask_pending_since).is_not(None),
                col(Delivery.ask_pending_since) <= now - older_than,
            )
            .order_by(col(Delivery.ask_pending_since))
            .limit(limit)
        ).all()
        for delivery in deliveries:
            person = session.get(Person, delivery.person_id)
            task = _task(session, delivery)
            current = None
            if (
                delivery.status == _IN_PROGRESS
                and not _closed(delivery, now)
                and person is not None
                and person.chat_id is not None
                and not person.unreachable
            ):
                questions = _active_questions(session, task)
                current = _first_unanswered(questions, _answers(session, delivery))
            if current is None or person is None or person.chat_id is None:
                stale.append(_id(delivery))
                continue
            view = _question_view(_id(delivery), task.title, questions, current)
            found.append(UnsentQuestion(person.chat_id, view))
        if stale:
            session.connection().execute(
                update(Delivery).where(col(Delivery.id).in_(stale)).values(ask_pending_since=None)
            )
        session.commit()
    return found


def reply_lost(database: Database, user_id: int) -> None:
    """A reply to the patient was lost while the bot apologised: stop counting messages.

    The apology takes a number in the chat, so a jump in the patient's numbering no longer
    proves that a question waiting to be sent arrived (``sent_but_unrecorded``); it is sent
    again instead.
    """
    with database.session() as session:
        session.connection().execute(
            update(Delivery)
            .where(
                col(Delivery.person_id).in_(
                    select(Person.id).where(Person.telegram_user_id == user_id)
                ),
                col(Delivery.ask_pending_since).is_not(None),
            )
            .values(asked_message_id=None)
        )
        session.commit()


def forget_unsent(database: Database, delivery_id: int) -> None:
    """Stop trying to send a check-in's next question (Telegram refused it for good)."""
    with database.session() as session:
        session.connection().execute(
            update(Delivery).where(col(Delivery.id) == delivery_id).values(ask_pending_since=None)
        )
        session.commit()


# --- answers ----------------------------------------------------------------------------------


def answer_message(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    reply: Reply,
    message_id: int,
    sent_at: datetime | None = None,
) -> Progress | Reask | Refused | NoQuestion | NotShown:
    """Take a typed or uploaded message as the answer to the question being asked.

    Only the question whose message reached the patient before they wrote can be answered
    this way (``came_after``); for any other the message is not stored as an answer and
    ``NotShown`` says what to send. ``sent_at`` is when Telegram says the message was sent.
    """
    with database.session() as session:
        fast = _answer_in_passing(session, now, user_id, reply, message_id, sent_at)
        if fast is not None:
            return fast
        person = _person(session, user_id)
        if person is None:
            return NoQuestion(Idle.UNKNOWN_PERSON)
        if (
            person.last_answer_message_id is not None
            and message_id <= person.last_answer_message_id
        ):
            return NoQuestion(Idle.DUPLICATE)
        delivery = _asking(session, person, lock=True)
        if delivery is None:
            return NoQuestion(Idle.NOTHING_ASKED, _count_open(session, now, person))
        task = _task(session, delivery)
        if _closed(delivery, now):
            return Refused(Refusal.CLOSED, task.title)
        person.last_answer_message_id = message_id
        # The reads below do not depend on it: its UPDATE goes out with the answer's INSERT.
        with session.no_autoflush:
            questions = _active_questions(session, task)
            answers = _answers(session, delivery)
        current = _first_unanswered(questions, answers)
        if current is None:
            progress = _complete(session, now, policy, person, delivery, task, questions, answers)
            session.commit()
            return progress
        if delivery.asked_question_id != current.id and sent_but_unrecorded(
            delivery.ask_pending_since, delivery.asked_message_id, message_id
        ):
            # The question went out just before the bot stopped, too late to be recorded.
            delivery.asked_question_id = current.id
            delivery.asked_message_id = None
            delivery.asked_at = now
            delivery.ask_pending_since = None
        if delivery.asked_question_id != current.id or not came_after(
            delivery.asked_message_id, delivery.asked_at, message_id, sent_at
        ):
            _await_question(delivery, now, message_id)
            view = _question_view(_id(delivery), task.title, questions, current)
            session.commit()
            return NotShown(view)
        result = parse_reply(_rules(current), reply)
        if isinstance(result, Rejected):
            return _reject(session, now, policy, delivery, task, questions, current, result)
        return _store(
            session,
            now,
            policy,
            person,
            delivery,
            task,
            questions,
            current,
            result,
            answers=answers,
            typed_message_id=message_id,
        )


# The answer to a question that is not the last one, the commonest update the bot gets, in
# one read and two writes of plain rows (three after a failed try, to reset its count).
# Through the ORM (the general path below it) the same work took four times as long, most of
# it building statements and flushing the unit of work, not in the database
# (benchmarks/bench_answers.py measures it against a bare echo).
_P, _D, _T, _Q, _A = (
    SQLModel.metadata.tables[name]
    for name in ("people", "deliveries", "tasks", "questions", "answers")
)
# One row per active question of each check-in the patient has in progress, with the answer
# already given to it, if any; the delivery rows are locked as the general path locks them.
_PASSING_READ = (
    sa_select(
        _P.c.id.label("person_id"),
        _P.c.last_answer_message_id,
        _D.c.id.label("delivery_id"),
        _D.c.started_at,
        _D.c.expires_at,
        _D.c.current_tries,
        _D.c.asked_question_id,
        _D.c.asked_message_id,
        _D.c.asked_at,
        _T.c.title,
        _Q.c.id,
        _Q.c.position,
        _Q.c.description,
        _Q.c.link,
        _Q.c.response_type,
        _Q.c.options,
        _Q.c.min_value,
        _Q.c.max_value,
        _Q.c.integer_only,
        _Q.c.max_length,
        _Q.c.required,
        _Q.c.alert_rule,
        _A.c.id.label("answer_id"),
    )
    .select_from(
        _P.join(_D, and_(_D.c.person_id == _P.c.id, _D.c.status == _IN_PROGRESS))
        .join(_T, _T.c.id == _D.c.task_id)
        .join(_Q, and_(_Q.c.task_id == _T.c.id, _Q.c.removed_at.is_(None)))
        .outerjoin(_A, and_(_A.c.question_id == _Q.c.id, _A.c.delivery_id == _D.c.id))
    )
    .where(_P.c.telegram_user_id == bindparam("user_id"))
    .order_by(_D.c.id, _Q.c.position)
    .with_for_update(of=_D)
)
_PASSING_ANSWER = sa_insert(_A)
_PASSING_PERSON = (
    update(_P)
    .where(_P.c.id == bindparam("person_id"))
    .values(last_answer_message_id=bindparam("message_id"))
)
# The next question is stored as to be sent; ``note_question_shown`` clears it once it was.
_PASSING_NEXT = (
    update(_D)
    .where(_D.c.id == bindparam("delivery_id"))
    .values(
        current_tries=0,
        ask_pending_since=bindparam("now"),
        asked_message_id=bindparam("message_id"),  # see _await_question
    )
)


def _answer_in_passing(
    session: Session,
    now: datetime,
    user_id: int,
    reply: Reply,
    message_id: int,
    sent_at: datetime | None,
) -> Progress | Refused | None:
    """Store a valid answer to a question with another one after it; None for anything else.

    Exactly what the general path does in that case (same rows, locks, result); every other
    case (a stranger, a repeat, a closed or finished task, a second task in progress, an alert
    rule, a question not shown, an invalid answer) returns None without writing, and the
    general path takes over.
    """
    connection = session.connection()
    questions = connection.execute(_PASSING_READ, {"user_id": user_id}).all()
    if not questions or questions[0].delivery_id != questions[-1].delivery_id:
        return None  # nothing in progress, or two check-ins: the general path decides
    row = questions[0]
    repeated = row.last_answer_message_id is not None and message_id <= row.last_answer_message_id
    if repeated or row.started_at is None or row.expires_at <= now:
        return None
    open_ones = [q for q in questions if q.answer_id is None]
    if len(open_ones) < 2 or open_ones[0].alert_rule:
        return None
    current, following = open_ones[0], open_ones[1]
    if current.id != row.asked_question_id or not came_after(
        row.asked_message_id, row.asked_at, message_id, sent_at
    ):
        return None  # not shown before it was written: the general path says so and sends it
    accepted = parse_reply(_rules(current), reply)
    if not isinstance(accepted, Accepted):
        return None
    try:
        connection.execute(
            _PASSING_ANSWER,
            {
                "delivery_id": row.delivery_id,
                "question_id": current.id,
                "value_text": accepted.display,
                "value_number": accepted.number,
                "value_bool": accepted.boolean,
                "file_id": accepted.file_id,
                "skipped": False,
                "answered_at": now,
            },
        )
    except IntegrityError:
        session.rollback()
        return Refused(Refusal.ALREADY, row.title)
    connection.execute(_PASSING_PERSON, {"person_id": row.person_id, "message_id": message_id})
    connection.execute(
        _PASSING_NEXT, {"delivery_id": row.delivery_id, "now": now, "message_id": message_id}
    )
    # No reminder is moved: the scan puts off one that falls due within a wait of this
    # answer (delivery._claim_reminders).
    session.commit()

    def view(question: Any) -> QuestionView:
        return _question_view(row.delivery_id, row.title, questions, question)

    return Progress(
        delivery_id=row.delivery_id,
        task_title=row.title,
        answered=AnsweredView(view(current), accepted.display),
        question=view(following),
    )


def answer_button(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    question_id: int,
    token: str,
) -> Progress | Refused:
    """Store the answer a button carries, if it belongs to the question being asked."""
    with database.session() as session:
        found = _current_for_press(session, now, policy, user_id, delivery_id, question_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task, questions, answers, current = found
        result = parse_reply(_rules(current), Reply(kind="button", text=token))
        if isinstance(result, Rejected):
            return Refused(Refusal.NOT_AN_OPTION, task.title)
        return _store(
            session,
            now,
            policy,
            person,
            delivery,
            task,
            questions,
            current,
            result,
            answers=answers,
        )


def skip_question(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    question_id: int,
) -> Progress | Refused:
    """Skip an optional question and ask the next one."""
    with database.session() as session:
        found = _current_for_press(session, now, policy, user_id, delivery_id, question_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task, questions, answers, current = found
        if current.required:
            return Refused(Refusal.REQUIRED, task.title)
        return _store(
            session, now, policy, person, delivery, task, questions, current, None, answers=answers
        )


def _current_for_press(
    session: Session,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    question_id: int,
) -> tuple[Person, Delivery, Task, list[Question], dict[int, Answer], Question] | Refused:
    found = _open_delivery(session, now, policy, user_id, delivery_id)
    if isinstance(found, Refused):
        return found
    person, delivery, task = found
    questions = _active_questions(session, task)
    answers = _answers(session, delivery)
    if question_id in answers:
        return Refused(Refusal.ALREADY, task.title)
    current = _first_unanswered(questions, answers)
    if current is None or current.id != question_id:
        later = current is not None and any(
            q.id == question_id and q.position > current.position for q in questions
        )
        return Refused(Refusal.NOT_YET if later else Refusal.STALE, task.title)
    return person, delivery, task, questions, answers, current


def _reject(
    session: Session,
    now: datetime,
    policy: Policy,
    delivery: Delivery,
    task: Task,
    questions: list[Question],
    current: Question,
    rejected: Rejected,
) -> Reask:
    delivery.current_tries += 1
    _postpone_reminder(delivery, now, policy)
    tries = delivery.current_tries
    view = _question_view(_id(delivery), task.title, questions, current)
    session.commit()
    many = tries >= policy.max_reasks
    return Reask(
        question=view,
        hint=rejected.hint,
        tries=tries,
        offer_skip=many and not current.required,
        stuck=many and current.required,
    )


def _store(
    session: Session,
    now: datetime,
    policy: Policy,
    person: Person,
    delivery: Delivery,
    task: Task,
    questions: list[Question],
    question: Question,
    accepted: Accepted | None,
    *,
    answers: dict[int, Answer],
    typed_message_id: int | None = None,
) -> Progress | Refused:
    """Record an answer (None: skipped) and move on; the caller's session is committed here.

    ``typed_message_id``: the patient's message that was the answer (None for a button).

    ``answers``: the delivery's answers as the caller read them in this transaction, under the
    delivery's row lock, so they need no second read.
    """
    answer = Answer(
        delivery_id=_id(delivery),
        question_id=_id(question),
        value_text=accepted.display if accepted else "",
        value_number=accepted.number if accepted else None,
        value_bool=accepted.boolean if accepted else None,
        file_id=accepted.file_id if accepted else None,
        skipped=accepted is None,
        answered_at=now,
    )
    session.add(answer)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return Refused(Refusal.ALREADY, task.title)
    view = _question_view(_id(delivery), task.title, questions, question)
    answered = AnsweredView(view, accepted.display if accepted else "", skipped=accepted is None)
    alerts = _alerts(session, policy, person, task, question, accepted) if accepted else ()
    paused_title = _activate(session, now, person, delivery)
    # Under the delivery's lock nothing but this answer was added since the caller's read.
    answers = {**answers, _id(question): answer}
    following = _first_unanswered(questions, answers)
    if following is None:
        progress = _complete(session, now, policy, person, delivery, task, questions, answers)
        progress = replace(progress, answered=answered, alerts=alerts, paused_title=paused_title)
    else:
        delivery.current_tries = 0
        _await_question(delivery, now, typed_message_id)
        progress = Progress(
            delivery_id=_id(delivery),
            task_title=task.title,
            answered=answered,
            question=_question_view(_id(delivery), task.title, questions, following),
            alerts=alerts,
            paused_title=paused_title,
        )
    session.commit()
    return progress


def _complete(
    session: Session,
    now: datetime,
    policy: Policy,
    person: Person,
    delivery: Delivery,
    task: Task,
    questions: list[Question],
    answers: dict[int, Answer],
) -> Progress:
    _finish(delivery, now, DeliveryStatus.COMPLETED)
    lines = tuple(
        SummaryLine(
            description=q.description,
            display=answers[_id(q)].value_text,
            skipped=answers[_id(q)].skipped,
        )
        for q in questions
        if _id(q) in answers
    )
    session.flush()
    offer = _offer(session, now, policy, person, exclude=_id(delivery))
    return Progress(
        delivery_id=_id(delivery),
        task_title=task.title,
        summary=Summary(task.title, lines),
        offer=offer,
    )


def _finish(delivery: Delivery, now: datetime, status: DeliveryStatus) -> None:
    delivery.status = status.value
    delivery.finished_at = now
    delivery.ask_pending_since = None
    delivery.remind_at = None
    delivery.current_tries = 0


def _alerts(
    session: Session,
    policy: Policy,
    person: Person,
    task: Task,
    question: Question,
    accepted: Accepted,
) -> tuple[AlertNotice, ...]:
    if not question.alert_rule:
        return ()
    try:
        rule = parse_alert_rule(question.alert_rule, _rules(question))
    except ValueError:
        return ()  # a rule the question no longer supports (its type was edited): no alert
    if not alert_matches(rule, accepted):
        return ()
    group = session.get(TherapyGroup, task.group_id)
    members = session.exec(
        select(Person.chat_id)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.group_id == task.group_id,
            Membership.role == Role.THERAPIST.value,
            col(Person.chat_id).is_not(None),
        )
        .order_by(col(Person.id))
    ).all()
    chat_ids = list(
        dict.fromkeys([*(c for c in members if c is not None), *policy.therapist_user_ids])
    )
    return tuple(
        AlertNotice(
            chat_id=chat_id,
            patient_name=person.display_name,
            group_name=group.name if group else "",
            task_title=task.title,
            question=question.description,
            answer=accepted.display,
            rule=question.alert_rule,
        )
        for chat_id in chat_ids
    )


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
            task_title=task.title,
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
                    task_title=task.title,
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
            return ZoneChanged(known=False, zone=zone)
        if zone is None:
            return ZoneChanged(known=True, zone=None)
        person.timezone = zone
        session.flush()
        replan_person(session, person, now, policy.default_zone)
        session.flush()
        next_due = _next_due(session, person, now, policy)
        session.commit()
        return ZoneChanged(known=True, zone=zone, next_due=next_due)


def normalise_zone(text: str) -> str | None:
    """The IANA name meant by ``text`` ("europe/berlin", "Europe/Berlin "), or None."""
    cleaned = "_".join(text.strip().split())
    return _zone_names().get(cleaned.casefold())


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def person_status(database: Database, user_id: int) -> PersonStatus:
    """Whether this Telegram user is known, opted out, or in the middle of a question."""
    with database.read_session() as session:
        person = _person(session, user_id)
        if person is None:
            return PersonStatus(known=False)
        return PersonStatus(
            known=True,
            opted_out=person.opted_out,
            asking=_asking(session, person, lock=False) is not None,
        )


def stop(database: Database, now: datetime, user_id: int) -> Stopped:
    """Opt out: no more prompts or reminders until /start."""
    with database.session() as session:
        person = _person(session, user_id)
        if person is None:
            return Stopped(known=False)
        already = person.opted_out
        person.opted_out = True
        # Pending rows go (planning brings them back on /start); open ones end as cancelled.
        session.exec(
            delete(Delivery).where(
                col(Delivery.person_id) == person.id,
                col(Delivery.status) == DeliveryStatus.PENDING.value,
            )
        )
        open_rows = session.exec(
            select(Delivery).where(
                Delivery.person_id == person.id, col(Delivery.status).in_(_OPEN)
            )
        ).all()
        for delivery in open_rows:
            _finish(delivery, now, DeliveryStatus.CANCELLED)
        session.commit()
        return Stopped(known=True, already=already, cancelled=len(open_rows))


def delete_my_data(database: Database, now: datetime, user_id: int) -> Deleted:
    """Erase the patient's answers, deliveries and memberships; keep a marker row for reports."""
    with database.session() as session:
        person = _person(session, user_id)
        if person is None:
            return Deleted(known=False)
        delivery_ids = select(Delivery.id).where(Delivery.person_id == person.id)
        answers = session.exec(
            delete(Answer).where(col(Answer.delivery_id).in_(delivery_ids.scalar_subquery()))
        ).rowcount
        deliveries = session.exec(
            delete(Delivery).where(col(Delivery.person_id) == person.id)
        ).rowcount
        # Patient memberships stay as content-free markers, so the therapists' lists say the
        # data was deleted at the patient's request; a removal stays too (it keeps the old
        # invites shut to this person); any other membership goes.
        memberships = session.exec(
            update(Membership)
            .where(
                col(Membership.person_id) == person.id,
                col(Membership.role) == Role.PATIENT.value,
            )
            .values(role=Role.ERASED.value)
        ).rowcount
        session.exec(
            delete(Membership).where(
                col(Membership.person_id) == person.id,
                col(Membership.role).not_in([Role.ERASED.value, Role.REMOVED.value]),
            )
        )
        person.first_name = ""
        person.last_name = ""
        person.language_code = "en"
        person.timezone = None
        person.quiet_start = None
        person.quiet_end = None
        person.data_deleted_at = now
        session.commit()
        return Deleted(known=True, answers=answers, deliveries=deliveries, memberships=memberships)


# --- helpers ----------------------------------------------------------------------------------


def _id(row: Delivery | Question | Person | Task) -> int:
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
        return Refused(Refusal.UNKNOWN_PERSON)
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
        return Refused(refusal, task.title)
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
        paused_title = _task(session, other).title
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
    """The answer rules of a ``Question``, or of a plain row of the questions table."""
    return QuestionRules(
        response_type=question.response_type,
        options=tuple(question.options or ()),
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
        task_title=task_title,
        number=questions.index(question) + 1,
        total=len(questions),
        description=question.description,
        link=question.link,
        rules=_rules(question),
    )


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
    return NextDue(task.title, delivery.due_at, _zone_of(session, person, task, policy))


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
    row = session.exec(query).first()
    if row is None:
        return None
    delivery, task = row
    return PromptView(
        delivery_id=_id(delivery),
        chat_id=person.chat_id,
        task_id=_id(task),
        task_title=task.title,
        due_at=delivery.due_at,
        zone=_zone_of(session, person, task, policy),
        question_count=len(_active_questions(session, task)),
        expires_at=delivery.expires_at,
        started=delivery.started_at is not None,
    )


def _reminder_time(person: Person, policy: Policy, at: datetime, zone: ZoneInfo) -> datetime:
    """When a reminder planned for ``at`` really goes out: after quiet hours, if in them."""
    start_q, end_q = person.quiet_start, person.quiet_end
    if start_q is None or end_q is None:
        start_q, end_q = policy.quiet_start, policy.quiet_end
    if start_q is None or end_q is None:
        return at
    if not is_quiet(at.astimezone(zone).time(), start_q, end_q):
        return at
    return end_of_quiet(at, zone, start_q, end_q)
