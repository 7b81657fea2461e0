"""What the check-in use cases are given (``Policy``, ``Patient``) and what they return."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.frozen import frozen
from bot.services.closing import ClosingMessage
from bot.services.content import Localized
from bot.services.meaning import Meaning
from bot.services.responses import QuestionRules
from bot.services.throttle import DEFAULT_THROTTLE, Burst, ThrottlePolicy
from bot.services.views import PromptView

if TYPE_CHECKING:
    from bot.services.consent import ConsentText

# --- inputs -----------------------------------------------------------------------------------


@frozen
class Policy:
    """The settings the check-in rules depend on, so services never read the configuration."""

    default_zone: str
    # The key of erased people's marks (bot.services.erasure), from Settings.erasure_key.
    erasure_key: bytes
    max_reasks: int = 3
    first_reminder_minutes: int = 60
    max_reminders: int = 2
    quiet_start: time | None = None
    quiet_end: time | None = None
    therapist_user_ids: tuple[int, ...] = ()
    throttle: ThrottlePolicy = DEFAULT_THROTTLE


@frozen
class Patient:
    """Who wrote, as Telegram says: a private chat's id equals the user's."""

    telegram_user_id: int
    chat_id: int
    first_name: str
    last_name: str = ""
    language_code: str | None = None  # the person's app language, when Telegram says


# --- views ------------------------------------------------------------------------------------


@frozen
class QuestionView:
    delivery_id: int
    question_id: int
    # The question's revision whose words these are: a reply to its message counts as an answer
    # only while that revision is still the question's (``shown.reworded_since``).
    revision: int
    task_title: str
    number: int  # 1-based among the task's active questions
    total: int
    description: str
    link: str | None
    rules: QuestionRules

    @property
    def optional(self) -> bool:
        return not self.rules.required


@frozen
class AnsweredView:
    question: QuestionView
    display: str  # raw: escape before putting it into HTML
    skipped: bool = False


@frozen
class SummaryLine:
    description: str
    display: str
    skipped: bool


@frozen
class Summary:
    task_title: str
    lines: tuple[SummaryLine, ...]


@frozen
class AlertNotice:
    """One message for one therapist: an answer met its question's alert rule."""

    chat_id: int
    patient_name: str
    group_name: str
    task_title: str
    question: str
    answer: str
    rule: str  # the stored form, "== no" or ">= 8"
    answered_at: datetime  # UTC
    zone: str  # the patient's
    patient_id: int = 0  # for the button to the patient's page
    media_kind: str | None = None  # "photo" or "video": the alert carries it
    file_id: str | None = None
    answer_id: int = 0  # whose ``alert_pending_since`` to clear once sent


@frozen
class NextDue:
    task_title: str
    due_at: datetime  # UTC: when its prompt goes out
    zone: str
    due_now: bool = False  # due already: it goes out with the next scan


class Refusal(StrEnum):
    """Why a button press or an answer changed nothing."""

    UNKNOWN_PERSON = "unknown_person"  # the presser never joined
    ERASED = "erased"  # the presser erased their data (/deletemydata) and has not joined since
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
    # The group's consent text changed since the patient agreed: ``Refused.consent`` asks.
    CONSENT_CHANGED = "consent_changed"
    # The group asks for consent the patient never gave (it had none when they joined).
    CONSENT_ASKED = "consent_asked"


@frozen
class Refused:
    reason: Refusal
    task_title: str = ""
    consent: ConsentQuestion | None = None  # the text in force, to agree to first


@frozen
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
    # The message answered the question last asked, removed meanwhile, and was not kept.
    question_removed: bool = False


@frozen
class Reask:
    question: QuestionView
    hint: Meaning  # why the answer was not taken, and how to answer; worded by bot.texts
    tries: int
    offer_skip: bool  # an optional question after max_reasks failed tries
    stuck: bool  # a required question after max_reasks failed tries


@frozen
class NotShown:
    """A message came for a question whose message never reached the patient.

    The next question was stored but not sent (the bot stopped in between), or the patient
    typed before it arrived: the message is not taken as its answer; the question is sent.
    ``reworded``: it did reach the patient, but the therapist changed its wording since.
    ``removed``: the question the patient was shown (and answered) was removed since; the
    message is not stored, and the question now asked is sent.
    """

    question: QuestionView
    # The question may have reached the patient before, unrecorded: see ``Shown``.
    maybe_shown_before: bool = False
    # The question's send is recorded and came after the message: it is sent again as a
    # reminder only, and answers typed after the first send still count.
    shown_already: bool = False
    reworded: bool = False
    removed: bool = False


class Idle(StrEnum):
    UNKNOWN_PERSON = "unknown_person"
    ERASED = "erased"  # from someone who erased their data and has not joined since
    NOTHING_ASKED = "nothing_asked"
    # An answer to the question on the screen, typed after its check-in expired.
    CLOSED = "closed"
    DUPLICATE = "duplicate"


@frozen
class NoQuestion:
    """A message that answers nothing."""

    reason: Idle
    open_count: int = 0


@frozen
class MessageAnswered:
    """What a typed or uploaded message did, and the language its writer chose with
    /language (None: never chose), read in the same transaction so the reply needs no read
    of its own to know which language to write in."""

    outcome: Progress | Reask | Refused | NoQuestion | NotShown
    chosen_language: str | None


@frozen
class PressAnswered:
    """What an answer or Skip button did, and the language its presser chose with /language
    (None: never chose), read in the same transaction as ``MessageAnswered``'s."""

    outcome: Progress | Refused | NotShown
    chosen_language: str | None


@frozen
class TaskSkipped:
    delivery_id: int
    task_title: str
    offer: PromptView | None = None


@frozen
class SkipAsked:
    """Skip pressed on a check-in with answers: the patient is asked to confirm first."""

    delivery_id: int
    task_title: str
    answered: int
    total: int


@frozen
class Deferred:
    delivery_id: int
    task_title: str
    remind_at: datetime | None  # UTC, when a reminder will come; None when none will
    expires_at: datetime
    zone: str
    offer: PromptView | None = None
    # The question still waiting on screen, of a check-in in progress (0: none is)
    number: int = 0
    total: int = 0
    reminders_off: bool = False  # max_reminders = 0: no reminder, however long it is open


@frozen
class Paused:
    known: bool
    task_title: str | None = None  # None: nothing was in progress
    number: int = 0
    total: int = 0
    open_count: int = 0
    offer: PromptView | None = None


@frozen
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


@frozen
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
    # The group asks for consent first: shown with "I agree" / "No, thanks"; nothing joined.
    CONSENT_NEEDED = "consent_needed"


class InviteProblem(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"
    # The patient was taken out of the group after this invite was made.
    REMOVED = "removed"


@frozen
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
    # CONSENT_NEEDED: what to agree to, and the buttons' reference.
    consent: ConsentQuestion | None = None


@frozen
class ConsentQuestion:
    """A consent text to show with "I agree" and "No, thanks".

    ``joining``: the buttons answer a pending join (``ref`` is its request's id); otherwise a
    member is asked (``ref`` is the group's id): ``again`` when they agreed to an earlier
    version (the text changed), else for the first time (the group asked for none when they
    joined). ``version`` travels in the buttons, so a press on an older text never agrees to a
    newer one.
    """

    joining: bool
    ref: int
    group_name: str
    version: int
    text: Localized  # with the version's translations, for the reader's language
    again: bool = False


def consent_question(
    joining: bool, ref: int, required: ConsentText, *, again: bool
) -> ConsentQuestion:
    """The question for the text ``required`` (``ref``, ``again``: see ``ConsentQuestion``)."""
    return ConsentQuestion(
        joining, ref, required.group_name, required.version, required.text, again
    )


class ConsentOutcome(StrEnum):
    JOINED = "joined"  # agreed and joined (or agreed as a member already)
    AGREED = "agreed"  # a member agreed to the changed text
    DECLINED = "declined"  # "No, thanks" to a join: nothing stored
    LEFT = "left"  # a member declined the changed text: out of the group, as /stop
    CHANGED = "changed"  # the text changed since these buttons: here is the new one
    NOT_NEEDED = "not_needed"  # the group asks for no consent any more
    GONE = "gone"  # nothing to answer: pressed twice, expired, or not this person's
    ANSWERED = "answered"  # pressed again by a patient whose join it answered already
    BAD_CODE = "bad_code"  # the invite stopped working meanwhile (``problem``)


@frozen
class ConsentAnswer:
    outcome: ConsentOutcome
    group_name: str = ""
    version: int = 0
    next_due: NextDue | None = None
    question: ConsentQuestion | None = None  # CHANGED: the text to agree to now
    problem: InviteProblem | None = None
    cancelled: int = 0  # LEFT: open check-ins of the group that ended
    known: bool = False  # DECLINED by someone already stored here (a patient of another group)


@frozen
class ZoneView:
    known: bool
    zone: str
    own: bool  # the patient chose it (otherwise the group's or the clinic's default)


@frozen
class ZoneChanged:
    known: bool
    zone: str | None  # None: not a time zone name
    next_due: NextDue | None = None
    erased: bool = False  # not known because they erased their data


@frozen
class PersonStatus:
    known: bool
    opted_out: bool = False
    # Not known, but a join waits for their "I agree" (a ``consent_requests`` row with their id).
    joining: bool = False
    # The check-in whose question is waiting for their answer, if one is.
    asking_delivery_id: int | None = None

    @property
    def asking(self) -> bool:
        return self.asking_delivery_id is not None


@frozen
class Stopped:
    known: bool
    erased: bool = False  # not known because they erased their data
    already: bool = False
    cancelled: int = 0


@frozen
class Deleted:
    known: bool
    erased: bool = False  # not known because they erased their data already
    join_forgotten: bool = False  # never joined: only a join waiting for "I agree" was stored
    answers: int = 0
    deliveries: int = 0
    memberships: int = 0
    # The prompts and reminders of the erased check-ins: their records (and chat id) are gone
    # with the erasure, so they are edited once, now, or not at all.
    closing: tuple[ClosingMessage, ...] = ()
