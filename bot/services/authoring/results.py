"""The limits of what a therapist may write, ``AuthoringError``, and what the use cases return."""

from __future__ import annotations

import re
from dataclasses import field
from datetime import date, datetime, time

from bot.frozen import frozen
from bot.services.meaning import Meaning
from bot.services.responses import QuestionRules, ResponseType

MAX_GROUP_NAME = 200
MAX_TITLE = 200
MAX_DESCRIPTION = 1000
MAX_LINK = 500
MAX_TEXT_LIMIT = 4000
MAX_QUESTIONS = 30
MAX_INVITE_DAYS = 365
# secrets.token_urlsafe(16): 128 random bits in 22 characters of [A-Za-z0-9_-], well within
# the 64 characters a deep-link start parameter may have.
INVITE_TOKEN_BYTES = 16

# Reserved so /report can tell a task ("#12", "task 12") from a group, and a bare number
# always means a group id.
_RESERVED_NAME = re.compile(r"[0-9]+|#.*|task\s+#?[0-9]+", re.IGNORECASE)
_RANGE = re.compile(r"\s*(\S+?)\s*(?:\.\.|–|—|\bto\b|-)\s*(\S+)\s*", re.IGNORECASE)
_TYPE_ALIASES = {
    "text": ResponseType.TEXT,
    "number": ResponseType.NUMBER,
    "num": ResponseType.NUMBER,
    "yes_no": ResponseType.YES_NO,
    "yes/no": ResponseType.YES_NO,
    "yesno": ResponseType.YES_NO,
    "yn": ResponseType.YES_NO,
    "scale": ResponseType.SCALE,
    "choice": ResponseType.CHOICE,
    "photo": ResponseType.PHOTO,
    "video": ResponseType.VIDEO,
}


class AuthoringError(Exception):
    """A request the therapist can fix; each problem says what is wrong and with which values.

    The rendering floor (``bot.texts.words``) words each one; the handler only sends them.
    """

    def __init__(self, *problems: Meaning) -> None:
        super().__init__(*problems)
        self.problems = list(problems)


# --- results ------------------------------------------------------------------------------


@frozen
class GroupInfo:
    id: int
    name: str
    zone: str  # the group's own IANA zone, or the configured default


@frozen
class GroupSummary:
    group: GroupInfo
    patients: int
    therapists: int
    tasks: int
    upcoming: int  # pending rows not yet due
    open: int  # prompts out, not finished
    completed: int
    # Seeded codes short enough to guess that still let people in (see ``active_demo_codes``).
    demo_codes: tuple[str, ...] = ()
    # Therapists whose place here ended because their id left the configuration.
    former_therapists: tuple[FormerTherapist, ...] = ()


@frozen
class FormerTherapist:
    telegram_user_id: int
    name: str
    ended_at: datetime


@frozen
class EndedTherapist:
    """A therapist no longer configured whose group places were ended (or, back, restored)."""

    telegram_user_id: int
    groups: tuple[str, ...]


@frozen
class TherapistPlaces:
    ended: tuple[EndedTherapist, ...]
    restored: tuple[EndedTherapist, ...]


@frozen
class DemoCode:
    code: str
    group: str


@frozen
class PatientRow:
    telegram_user_id: int
    name: str
    joined_at: datetime
    open_tasks: int
    data_deleted: bool


@frozen
class PatientList:
    group: GroupInfo
    patients: tuple[PatientRow, ...]


@frozen
class RemovedPatient:
    group: GroupInfo
    name: str
    telegram_user_id: int
    cancelled: int
    chat_id: int | None = None  # the patient's private chat, to tell them


@frozen
class InviteInfo:
    code: str
    group: GroupInfo
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    revoked_at: datetime | None
    # /revoke of a code withdrawn already: nothing changed.
    revoked_before: bool = False


@frozen
class TeamMember:
    telegram_user_id: int
    name: str
    added_at: datetime
    administrator: bool


@frozen
class Team:
    group: GroupInfo
    members: tuple[TeamMember, ...]


@frozen
class TeamChange:
    group: GroupInfo
    telegram_user_id: int
    name: str
    changed: bool


@frozen
class TherapistChange:
    telegram_user_id: int
    chat_id: int
    changed: bool


@frozen
class QuestionDraft:
    """A question as the therapist described it; validated by :func:`build_question`."""

    description: str
    response_type: ResponseType
    link: str | None = None
    options: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    integer_only: bool = False
    max_length: int | None = None
    required: bool = True
    alert_rule: str | None = None

    def rules(self) -> QuestionRules:
        return QuestionRules(
            response_type=self.response_type,
            options=self.options,
            min_value=self.min_value,
            max_value=self.max_value,
            integer_only=self.integer_only,
            max_length=self.max_length,
            required=self.required,
        )


@frozen
class TaskDraft:
    group_id: int
    title: str
    due_date: date
    due_time: time
    recurrence: str | None
    questions: tuple[QuestionDraft, ...]
    expiry_minutes: int | None = None  # None: the configured default


@frozen
class QuestionView:
    id: int
    revision: int
    position: int
    description: str
    link: str | None
    rules: QuestionRules
    alert_rule: str | None
    removed: bool

    def draft(self) -> QuestionDraft:
        """The question as it stands, in the therapist's words (translations left out: they
        stay with the stored question, see ``revisions.revise``)."""
        r = self.rules
        return QuestionDraft(
            description=str(self.description),
            response_type=r.response_type,
            link=str(self.link) if self.link is not None else None,
            options=tuple(str(option) for option in r.options),
            min_value=r.min_value,
            max_value=r.max_value,
            integer_only=r.integer_only,
            max_length=r.max_length,
            required=r.required,
            alert_rule=self.alert_rule,
        )


@frozen
class TaskSaved:
    task_id: int
    title: str
    group: GroupInfo
    due_date: date
    due_time: time
    recurrence: str | None
    next_due: datetime | None  # UTC, in the group's zone
    planned: int
    questions: int


@frozen
class TaskSummary:
    id: int
    title: str
    group: GroupInfo
    recurrence: str | None
    next_due: datetime | None
    questions: int
    completed: int
    due: int  # deliveries already due (not cancelled)


@frozen
class TaskDetails:
    id: int
    title: str
    group: GroupInfo
    due_date: date
    due_time: time
    recurrence: str | None
    expiry_minutes: int
    next_due: datetime | None
    deleted: bool
    questions: tuple[QuestionView, ...]
    status_counts: dict[str, int] = field(default_factory=dict)
    patients: int = 0

    @property
    def active_questions(self) -> tuple[QuestionView, ...]:
        return tuple(q for q in self.questions if not q.removed)


@frozen
class TaskChanged:
    task_id: int
    title: str
    group: GroupInfo
    due_date: date
    due_time: time
    recurrence: str | None
    next_due: datetime | None
    cancelled: int  # pending deliveries dropped
    added: int  # pending deliveries planned again
    kept: int = 0  # pending deliveries kept: their day's occurrence has come (see replan_task)


@frozen
class QuestionsChanged:
    task_id: int
    title: str
    positions: tuple[int, ...]
    active: int


@frozen
class QuestionReworded:
    """A question changed by /edittask; ``revision`` is its number now (unchanged: the same)."""

    task_id: int
    title: str
    position: int
    description: str
    revision: int
    changed: bool


@frozen
class TaskDeleted:
    task_id: int
    title: str
    group: GroupInfo
    cancelled_pending: int
    cancelled_open: int
