"""The patient's side: joining by invite, answering a due task question by question, and the
patient's own commands (/tasks, /pause, /timezone, /stop, /deletemydata), and the answer to a
group's consent text.

One module per journey: ``joining`` (/start with an invite), ``prompts`` (the prompt's buttons),
``shown`` (which question the patient saw), ``answering`` (answers, skips, the summary and alerts),
``preferences`` (/pause, /tasks, /timezone), ``leaving`` (/stop, /deletemydata), ``consent``
("I agree" / "No, thanks"); ``results``
holds what they return and ``common`` the queries and rules they share.

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
"""

from __future__ import annotations

from bot.services.checkin.alerting import note_alerts_sent, take_alerts, unsent_alerts
from bot.services.checkin.answering import answer_button, answer_message, skip_question
from bot.services.checkin.common import INVITE_CODE_RE
from bot.services.checkin.consent import (
    answer_join,
    answer_member,
    purge_requests,
    waiting_join,
)
from bot.services.checkin.joining import start
from bot.services.checkin.leaving import delete_my_data, stop
from bot.services.checkin.preferences import (
    list_tasks,
    never_a_patient,
    pause,
    person_status,
    set_timezone,
    timezone_of,
)
from bot.services.checkin.prompts import begin, note_offer, remind_later, skip_task
from bot.services.checkin.results import (
    AlertNotice,
    AnsweredView,
    ConsentAnswer,
    ConsentOutcome,
    ConsentQuestion,
    Deferred,
    Deleted,
    Idle,
    InviteProblem,
    NextDue,
    NoQuestion,
    NotShown,
    OpenTask,
    Patient,
    Paused,
    PersonStatus,
    Policy,
    Progress,
    QuestionView,
    Reask,
    Refusal,
    Refused,
    SkipAsked,
    StartOutcome,
    StartResult,
    Stopped,
    Summary,
    SummaryLine,
    TaskList,
    TaskSkipped,
    ZoneChanged,
    ZoneView,
)
from bot.services.checkin.shown import (
    Shown,
    UnsentQuestion,
    buttons_taken_off,
    came_after,
    forget_unsent,
    note_buttons_shown,
    note_question_shown,
    record_shown,
    reply_lost,
    sent_but_unrecorded,
    unsent_questions,
)
from bot.services.schedule import normalise_zone

__all__ = [
    "INVITE_CODE_RE",
    "AlertNotice",
    "AnsweredView",
    "ConsentAnswer",
    "ConsentOutcome",
    "ConsentQuestion",
    "Deferred",
    "Deleted",
    "Idle",
    "InviteProblem",
    "NextDue",
    "NoQuestion",
    "NotShown",
    "OpenTask",
    "Patient",
    "Paused",
    "PersonStatus",
    "Policy",
    "Progress",
    "QuestionView",
    "Reask",
    "Refusal",
    "Refused",
    "Shown",
    "SkipAsked",
    "StartOutcome",
    "StartResult",
    "Stopped",
    "Summary",
    "SummaryLine",
    "TaskList",
    "TaskSkipped",
    "UnsentQuestion",
    "ZoneChanged",
    "ZoneView",
    "answer_button",
    "answer_join",
    "answer_member",
    "answer_message",
    "begin",
    "buttons_taken_off",
    "came_after",
    "delete_my_data",
    "forget_unsent",
    "list_tasks",
    "never_a_patient",
    "normalise_zone",
    "note_alerts_sent",
    "note_buttons_shown",
    "note_offer",
    "note_question_shown",
    "pause",
    "person_status",
    "purge_requests",
    "record_shown",
    "remind_later",
    "reply_lost",
    "sent_but_unrecorded",
    "set_timezone",
    "skip_question",
    "skip_task",
    "start",
    "stop",
    "take_alerts",
    "timezone_of",
    "unsent_alerts",
    "unsent_questions",
    "waiting_join",
]
