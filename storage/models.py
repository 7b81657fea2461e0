"""SQLModel tables: the whole persistent state of the bot.

Every instant is a UTC-aware ``datetime`` stored through ``UTCDateTime``. A task's due date and
time are wall-clock values in the patient's time zone; ``bot.services.schedule`` turns them into
instants. Status and role columns hold the string values of the enums below.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from storage.types import UTCDateTime

# Constraint names must be deterministic so alembic batch mode on SQLite can find them again.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TableBase(SQLModel):
    """The base of every table. Rows are built from the database or by our own code, never
    validated from outside, so pydantic builds a table's validator only if something asks for
    it: building all eighteen cost start-up ~7 ms."""

    model_config = SQLModelConfig(defer_build=True)


# Ids and counts are INTEGER columns: a larger number (typed by a person, or forged into
# callback data) names no row, and PostgreSQL refuses even to compare it.
MAX_INTEGER = 2**31 - 1


class Role(StrEnum):
    PATIENT = "patient"
    THERAPIST = "therapist"
    # A membership whose patient erased their data (/deletemydata): it links no personal data
    # and is kept only so the group's therapists see that the data was deleted on request.
    ERASED = "erased"
    # Taken out by a therapist (/removepatient) at ``ended_at``: invites made before then no
    # longer let this person back into this group.
    REMOVED = "removed"
    # A therapist's place in a group, ended at start because their id left [therapists] in
    # the configuration (and /addtherapist never added them): kept so /groups can say so.
    FORMER_THERAPIST = "former_therapist"
    # The patient declined the group's changed consent text and so left it: no prompts of
    # the group any more; an invite (and agreeing) brings them back.
    DECLINED = "declined"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A patient can still act on these; the rest are final.
OPEN_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.IN_PROGRESS)
FINAL_STATUSES = (
    DeliveryStatus.COMPLETED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.EXPIRED,
    DeliveryStatus.FAILED,
    DeliveryStatus.CANCELLED,
)


def _instant(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _fk(target: str, *, ondelete: str = "CASCADE", nullable: bool = False) -> Any:
    return Field(
        sa_column=Column(
            Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True
        )
    )


# A partial index names its predicate here and gets it from its migration. Given as
# ``postgresql_where``/``sqlite_where``, it would make SQLAlchemy import each dialect's module
# to check the option: PostgreSQL's brings its four drivers' modules, 30 ms of every SQLite
# start (benchmarks/bench_startup.py). Alembic does not compare an index's predicate, so
# tests/storage/test_migrations.py checks that every index at the head is partial exactly as
# its model says.
PARTIAL_WHERE = "patientbot_where"


def partial(predicate: str) -> dict[str, str]:
    """The ``info`` of an index over the rows where ``predicate`` (SQL) holds."""
    return {PARTIAL_WHERE: predicate}


class Person(TableBase, table=True):
    __tablename__ = "people"

    id: int | None = Field(default=None, primary_key=True)
    # NULL once the person erased their data (/deletemydata): then only ``erased_user_mark``
    # is left of who they were.
    telegram_user_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True, unique=True)
    )
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # As Telegram gives them; people who joined before revision 0003 had one name, split then
    # at its first space (see ``split_name``). Show ``display_name``, never one half alone.
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    # Telegram's IETF tag for the person's app language ("en", "pt-br"), as it last said; ""
    # until it has said one (a row made by /addtherapist or a seed's team before the person
    # wrote): the clinic's default language applies. The server default is the schema's as
    # migrated (rows of raw inserts); every row the bot makes starts from this one.
    language_code: str = Field(
        default="", max_length=16, sa_column_kwargs={"server_default": "en"}
    )
    # The language chosen with /language ("de"); None follows language_code, else the
    # clinic's default. A choice sticks whatever Telegram says later.
    language: str | None = Field(default=None, max_length=8)
    role: str = Field(default=Role.PATIENT.value, max_length=20)
    timezone: str | None = Field(default=None, max_length=64)
    quiet_start: time | None = None
    quiet_end: time | None = None
    opted_out: bool = False
    # Set when Telegram answers Forbidden: the patient blocked the bot.
    unreachable: bool = False
    # The patient asked for their data to be erased; the row stays so reports can say so.
    data_deleted_at: datetime | None = _instant()
    # After an erasure: HMAC-SHA256 of the Telegram user id under the erasure key
    # (bot.services.erasure), hex. With the key, a press of an old button from this person is
    # recognised and answered "your data was deleted"; without it, the value names nobody. Not
    # unique: one Telegram user may join, erase, join again and erase again.
    erased_user_mark: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, index=True)
    )
    # The newest of the patient's messages a check-in used as an answer or a failed try. Ids
    # only grow within a chat, so a message at or below it is an update Telegram delivered
    # again, not the answer to the next question.
    last_answer_message_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    created_at: datetime = _instant(nullable=False)

    @property
    def display_name(self) -> str:
        """The name to show: first and last name with the space between them, if any."""
        return f"{self.first_name} {self.last_name}".strip()


def split_name(full: str) -> tuple[str, str]:
    """First and last name of a one-string name: split at the first space (revision 0003)."""
    first, _space, last = full.partition(" ")
    return first, last


class TherapyGroup(TableBase, table=True):
    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    timezone: str | None = Field(default=None, max_length=64)
    created_at: datetime = _instant(nullable=False)


class Membership(TableBase, table=True):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = _fk("groups.id")
    person_id: int = _fk("people.id")
    role: str = Field(default=Role.PATIENT.value, max_length=20)
    joined_at: datetime = _instant(nullable=False)
    # When a removed patient or a former therapist left (see Role); NULL while a member.
    ended_at: datetime | None = _instant()


class GroupTherapist(TableBase, table=True):
    """A therapist on a group's care team: they see, edit and export that group, and get its
    alerts and digests. Administrators (``[therapists] user_ids``) see every group without a
    row here, but get a group's alerts and digests only through one (or when it has no team).
    """

    __tablename__ = "group_therapists"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = _fk("groups.id")
    person_id: int = _fk("people.id")
    added_at: datetime = _instant(nullable=False)


class Invite(TableBase, table=True):
    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    # A seeded code short enough to guess, allowed only with ``invite_demo = true`` in the
    # seed; the bot warns about it in production (webhook mode) and /groups lists it.
    demo: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    group_id: int = _fk("groups.id")
    expires_at: datetime | None = _instant()
    max_uses: int | None = None
    uses: int = 0
    revoked_at: datetime | None = _instant()
    created_at: datetime = _instant(nullable=False)


# People type a code they were told ("shoulder1" for SHOULDER1), so a code is one code whatever
# its case: one group per code, and the lookup of a typed code goes through this index.
INVITE_CODE_INDEX = "uq_invites_lower_code"
Index(INVITE_CODE_INDEX, func.lower(Invite.__table__.c.code), unique=True)  # type: ignore[attr-defined]


@contextmanager
def unreflectable_indexes_ignored() -> Iterator[None]:
    """Compare models and database without the warnings about the one expression index.

    SQLAlchemy cannot reflect an index on ``lower(code)`` from SQLite, so alembic's comparison
    skips it there and says so twice; on PostgreSQL it is compared like any other index, and
    ``tests/storage/test_migrations.py`` checks SQLite's own definition of it.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=f".*expression-based index '?{INVITE_CODE_INDEX}'?"
        )
        yield


class Task(TableBase, table=True):
    __tablename__ = "tasks"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = _fk("groups.id")
    title: str = Field(max_length=200)
    due_date: date
    due_time: time
    # RFC 5545 RRULE without DTSTART ("FREQ=DAILY;COUNT=3"); NULL means once.
    recurrence: str | None = Field(default=None, max_length=200)
    expiry_minutes: int = 24 * 60
    # The title in other languages, {"de": {"title": "..."}} (bot.services.content).
    translations: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    # Soft delete: answers already given keep their task.
    deleted_at: datetime | None = _instant()
    created_at: datetime = _instant(nullable=False)


class Question(TableBase, table=True):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("task_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = _fk("tasks.id")
    position: int
    description: str = Field(max_length=1000)
    link: str | None = Field(default=None, max_length=500)
    response_type: str = Field(max_length=20)
    options: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    min_value: float | None = None
    max_value: float | None = None
    integer_only: bool = False
    max_length: int | None = None
    required: bool = True
    alert_rule: str | None = Field(default=None, max_length=100)
    # Soft removal: answers already given still point at their question.
    removed_at: datetime | None = _instant()
    # The number of the newest QuestionRevision: the wording patients are asked from now on.
    # The fields above are that revision's, kept here so asking reads one row.
    revision: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # The newest revision's text, options and link in other languages,
    # {"de": {"text": ..., "options": [...], "link": ...}} (bot.services.content). Not part of
    # the wording: a translation changes in place and makes no revision.
    translations: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


# The fields of a question a patient reads or answers by; a change to any is a new revision.
REVISED_FIELDS = (
    "description",
    "link",
    "response_type",
    "options",
    "min_value",
    "max_value",
    "integer_only",
    "max_length",
)


class QuestionRevision(TableBase, table=True):
    """What a patient saw of a question, as it stood from ``created_at`` on.

    A change of wording, link, type, options or bounds adds a revision instead of rewriting
    the question, and each answer points at the revision it answered, so a report shows the
    question the patient actually read. Whether an answer is required and its alert rule are
    the therapist's settings, not what the patient read: they change in place.
    """

    __tablename__ = "question_revisions"
    __table_args__ = (UniqueConstraint("question_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = _fk("questions.id")
    revision: int
    description: str = Field(max_length=1000)
    link: str | None = Field(default=None, max_length=500)
    response_type: str = Field(max_length=20)
    options: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    min_value: float | None = None
    max_value: float | None = None
    integer_only: bool = False
    max_length: int | None = None
    # This revision's translations, as on ``Question``: a summary shows an answered revision
    # in the patient's language.
    translations: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    created_at: datetime = _instant(nullable=False)


class Delivery(TableBase, table=True):
    """One occurrence of a task for one patient: the unit the scheduler claims and sends."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("task_id", "person_id", "due_at"),
        # The scans read only rows that need work now, whatever the size of the history.
        Index("ix_deliveries_status_due_at", "status", "due_at"),
        Index("ix_deliveries_status_lease_until", "status", "lease_until"),
        Index("ix_deliveries_status_remind_at", "status", "remind_at"),
        Index("ix_deliveries_status_expires_at", "status", "expires_at"),
        Index("ix_deliveries_ask_pending_since", "ask_pending_since"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = _fk("tasks.id")
    person_id: int = _fk("people.id")
    due_at: datetime = _instant(nullable=False)
    expires_at: datetime = _instant(nullable=False)
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=20)
    # Failed tries on the question being asked (the first active one without an answer), for
    # the offer to skip; an accepted answer puts it back to 0.
    current_tries: int = 0
    sent_at: datetime | None = _instant()
    started_at: datetime | None = _instant()
    finished_at: datetime | None = _instant()
    remind_at: datetime | None = _instant()
    reminders_sent: int = 0
    # A claim: whoever holds it sends; after the lease anyone may claim again.
    lease_until: datetime | None = _instant()
    claimed_by: str | None = Field(default=None, max_length=100)
    send_attempts: int = 0
    prompt_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    last_error: str | None = Field(default=None, max_length=300)
    # The question whose message last reached the patient (its id in the chat, and when).
    # A typed answer counts only for this question, and only if written after it: one stored
    # but never sent (a kill between the answer's commit and the send) is sent again, not
    # answered blindly. While the next question waits (ask_pending_since), asked_message_id
    # holds the patient's typed message it follows (bot.services.checkin._await_question).
    # asked_revision is the question's revision whose words the message held: an answer
    # counts only while it is still the question's (bot.services.checkin.shown.reworded_since).
    asked_question_id: int | None = None
    asked_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    asked_at: datetime | None = _instant()
    asked_revision: int | None = None
    # Set when a use case moved the check-in to a question still to be sent; cleared when its
    # message is recorded. The scan sends what is left here past a grace (the outbox).
    ask_pending_since: datetime | None = _instant()
    # The chat's newest message known when that question was stored as next (the typed answer
    # before it, or after a press the pressed message or a newer one). Kept through a send
    # again after a kill: a message more than one number above it answers the first send.
    ask_after_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))


class Answer(TableBase, table=True):
    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("delivery_id", "question_id"),
        # The due scan's look for alerts not yet sent: partial, as those are a handful.
        Index(
            "ix_answers_alert_pending_since",
            "alert_pending_since",
            info=partial("alert_pending_since IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = _fk("deliveries.id")
    question_id: int = _fk("questions.id", ondelete="RESTRICT")
    # The wording the patient answered (see QuestionRevision).
    question_revision_id: int = _fk("question_revisions.id", ondelete="RESTRICT")
    value_text: str = Field(default="", max_length=4096)
    value_number: float | None = None
    value_bool: bool | None = None
    file_id: str | None = Field(default=None, max_length=300)
    skipped: bool = False
    answered_at: datetime = _instant(nullable=False)
    # The answer met its question's alert rule and the care team's alerts are not yet sent:
    # set in the answer's transaction, cleared once they are (bot.services.checkin.alerting).
    alert_pending_since: datetime | None = _instant()


class CheckinMessageKind(StrEnum):
    PROMPT = "prompt"
    REMINDER = "reminder"
    # A question with buttons (a scale, yes/no, an optional question's Skip): only its
    # buttons go when the check-in closes, so its text is not kept.
    QUESTION = "question"


class CheckinMessage(TableBase, table=True):
    """A prompt, reminder or question on a patient's screen whose buttons still look live.

    Written in the transaction that records the message as sent; once its check-in has
    closed, the due scan (or the handler that closed it) edits the message to say so, without
    buttons, and deletes the row. So the table holds the messages of open check-ins and of
    those closed a moment ago. ``text`` is the HTML as sent (NULL for rows made by migration
    0010, whose text was never kept: those only lose their buttons). A check-in row deleted
    under its message (retention's purge) leaves ``delivery_id`` NULL: closed as cancelled.
    /deletemydata deletes its rows (they hold the chat id) and edits their messages once.
    """

    __tablename__ = "checkin_messages"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("deliveries.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
    )
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(max_length=20)
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _instant(nullable=False)


class InboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    # Telegram sent something this version cannot read; kept for the record, never handled.
    UNREADABLE = "unreadable"


class InboxUpdate(TableBase, table=True):
    """One update as Telegram sent it, stored before Telegram is told it arrived.

    Keyed by Telegram's ``update_id``, so an update delivered twice is stored once. It is
    handled from here in order per chat and marked done in the transaction of the handler's
    first write (``bot.inbox``); handled rows are purged by the due scan after a while.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        # The worker's claim: the pending rows, oldest first, without walking the handled
        # ones the inbox keeps until its purge (100,000 of them made each claim 10-13 ms)...
        Index("ix_inbox_state_update_id", "state", "update_id"),
        # ... of which the oldest pending row of each chat...
        Index("ix_inbox_state_chat_id_update_id", "state", "chat_id", "update_id"),
        Index("ix_inbox_state_handled_at", "state", "handled_at"),
        # ... of a chat no instance holds (leased rows, in hand or handled in a batch not yet
        # closed). Partial: those are few, the handled rows are many.
        Index("ix_inbox_leased_chat_id", "chat_id", info=partial("lease_until IS NOT NULL")),
        # A chat's arrivals of the last minute, counted by the claim for the flood watch.
        Index("ix_inbox_chat_id_received_at", "chat_id", "received_at"),
    )

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # The private chat (or the user for updates without one); NULL for kinds with neither.
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=InboxState.PENDING.value, max_length=20)
    received_at: datetime = _instant(nullable=False)
    handled_at: datetime | None = _instant()
    attempts: int = 0
    lease_until: datetime | None = _instant()
    claimed_by: str | None = Field(default=None, max_length=100)


class CodeAttempts(TableBase, table=True):
    """Wrong invite codes lately from one Telegram user, to slow down guessing.

    One small row per user who sent a wrong code (never a row per attempt), deleted by the due
    scan once ``expires_at`` passes. ``user_id`` 0, never a Telegram user, counts everyone's
    wrong codes together, so a burst from many accounts alerts the administrators once.
    """

    __tablename__ = "code_attempts"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # Wrong codes since ``window_started_at``.
    failures: int = 0
    window_started_at: datetime = _instant(nullable=False)
    # Cool-downs this user has had; each is twice as long as the one before.
    cooldowns: int = 0
    blocked_until: datetime | None = _instant()
    # Everyone's row: the administrators have been told about this window's burst.
    alerted: bool = False
    expires_at: datetime = _instant(nullable=False, index=True)


class DigestStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    # Not sent: the therapist has no chat with the bot, blocked it, or the week went by.
    DROPPED = "dropped"


class Digest(TableBase, table=True):
    """One weekly digest for one therapist about one group, planned ahead like a delivery.

    The due scan plans the next one (unique on group, therapist and due instant, so two
    instances plan it once), claims it when due and records the send.
    """

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("group_id", "person_id", "due_at"),
        Index("ix_digests_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = _fk("groups.id")
    person_id: int = _fk("people.id")
    due_at: datetime = _instant(nullable=False)
    status: str = Field(default=DigestStatus.PENDING.value, max_length=20)
    lease_until: datetime | None = _instant()
    claimed_by: str | None = Field(default=None, max_length=100)
    attempts: int = 0
    sent_at: datetime | None = _instant()
    last_error: str | None = Field(default=None, max_length=300)


class AuditEvent(TableBase, table=True):
    """One change a person made (or the operator's command line made), kept for an auditor.

    Written by the use case in the same transaction as the change, so a change without its
    record cannot exist. Append-only: nothing in the code updates or deletes a row, and on
    PostgreSQL a trigger (migration 0008) refuses both. No foreign keys, so deleting a group or
    a person never has to touch the trail. ``before``/``after`` hold only the fields a
    therapist set (titles, due times, question wording), never an answer or a patient's text.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_group_id_at", "group_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _instant(nullable=False, index=True)
    # The Telegram id of whoever acted; empty for the command line and for an erased patient.
    actor_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    actor_role: str = Field(max_length=20)
    action: str = Field(max_length=40)
    object_kind: str = Field(max_length=20)
    object_id: int | None = None
    group_id: int | None = None
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ConsentVersion(TableBase, table=True):
    """One version of a group's consent text; the newest version is the one in force.

    Versions count 1, 2, ... per group and are never changed afterwards, so an agreement names
    exactly the words the patient agreed to. A version without text lifts the requirement.
    A group without any version never asked for consent.
    """

    __tablename__ = "consent_versions"
    __table_args__ = (UniqueConstraint("group_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = _fk("groups.id")
    version: int
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The text in other languages, {"de": {"text": "..."}}: part of the version, like the text.
    translations: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    created_at: datetime = _instant(nullable=False)


class Consent(TableBase, table=True):
    """A patient agreed to version ``version`` of the group's consent text at ``agreed_at``."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("group_id", "person_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = _fk("groups.id")
    person_id: int = _fk("people.id")
    version: int
    agreed_at: datetime = _instant(nullable=False)
    # The words read, with the version: a translation's code ("de"), "" for the text as
    # written (``READ_AS_WRITTEN``), NULL when not recorded (agreements before revision 0022).
    read_in: str | None = Field(default=None, max_length=16)


class ConsentRequest(TableBase, table=True):
    """A join waiting for the patient's "I agree": who pressed /start CODE, and which invite.

    Until they agree nothing else of theirs is stored (no person row, no membership). The
    buttons carry this row's id, never the invite code, and a press counts only from the
    Telegram user named here. Agreeing or declining deletes it; the due scan deletes rows
    left unanswered for a week.
    """

    __tablename__ = "consent_requests"
    __table_args__ = (UniqueConstraint("telegram_user_id", "invite_id"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    invite_id: int = _fk("invites.id")
    version: int
    created_at: datetime = _instant(nullable=False, index=True)
    # Chosen with /language while waiting (NULL: none); the person's language once they agree.
    language: str | None = Field(default=None, max_length=8)
