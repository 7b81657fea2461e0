"""Which question the patient saw: the message that asked it, and what came after it.

A question counts as asked once its message was sent; an answer is taken only for that question
and only if written after it (see docs/architecture.md, "The check-in").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, update
from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services.checkin.common import (
    _IN_PROGRESS,
    _active_questions,
    _answers,
    _closed,
    _first_unanswered,
    _id,
    _question_view,
    _task,
)
from bot.services.checkin.results import QuestionView
from bot.services.content import title_of
from storage.db import Database
from storage.models import (
    Answer,
    CheckinMessage,
    CheckinMessageKind,
    Delivery,
    InboxState,
    InboxUpdate,
    Person,
)


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
    revision 0005) is taken as seen. One whose words were reworded since its message
    (``reworded_since``) the answer paths ask again in the new ones before asking this.
    """
    if asked_message_id is None or message_id > asked_message_id:
        return True
    return sent_at is not None and asked_at is not None and sent_at >= asked_at + _ONE_SECOND


_ONE_SECOND = timedelta(seconds=1)


def reworded_since(asked_revision: int | None, revision: int) -> bool:
    """Whether the question now reads otherwise than the message that asked it.

    ``asked_revision`` is the revision whose words the message held (None: not known, as for a
    question reworded while its message was on its way before revision 0020). Compared by
    number, not by time: an edit committed just after the record of the send, its instant
    taken just before, is a rewording all the same.
    """
    return asked_revision is None or asked_revision != revision


def _await_question(delivery: Delivery, now: datetime, after_message_id: int | None) -> None:
    """Mark the check-in's next question as to be sent, after the chat's newest known message.

    That is the patient's typed answer, or after a button press the newest message the bot
    knew of in the chat (None: unknown). While a question waits, ``asked_message_id`` holds it
    (the question asked before is answered, so its own id is needed no more): see
    ``sent_but_unrecorded``. ``ask_after_message_id`` keeps it through the question's send,
    which overwrites the other: see ``typed_after_unrecorded``.
    """
    delivery.ask_pending_since = now
    delivery.asked_message_id = after_message_id
    delivery.ask_after_message_id = after_message_id


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


@frozen
class Shown:
    """A question's message reached the patient: it may now be answered.

    ``maybe_shown_before``: this message sends again a question that may already have reached
    the patient unrecorded (the bot stopped between its send and its record). A message the
    patient typed after that first send and before this one is then its answer, which
    ``typed_after_unrecorded`` tells by the numbering; ``ask_pending_since`` stays set to say so.
    """

    delivery_id: int
    question_id: int
    revision: int  # the question's revision whose words the message holds
    message_id: int
    maybe_shown_before: bool = False
    # The chat of a message with buttons, which lose them when the check-in closes (None: the
    # message has none). Answered by a press, the message is edited there and then instead.
    buttons_in_chat: int | None = None

    @classmethod
    def of(
        cls,
        question: QuestionView,
        message_id: int,
        *,
        maybe_shown_before: bool = False,
        buttons_in_chat: int | None = None,
    ) -> Shown:
        """The record of ``question``'s message, sent as ``message_id``."""
        return cls(
            question.delivery_id,
            question.question_id,
            question.revision,
            message_id,
            maybe_shown_before,
            buttons_in_chat,
        )


def note_question_shown(database: Database, now: datetime, shown: Shown) -> None:
    """Record that the question's message reached the patient, in a transaction of its own."""
    with database.session() as session:
        record_shown(session, now, [shown])
        session.commit()


def typed_after_unrecorded(
    delivery: Delivery, question_id: int | None, previous_message_id: int | None, message_id: int
) -> bool:
    """Whether a message typed before the question's recorded send answers an earlier send.

    The question was sent again (``Shown.maybe_shown_before``) as a message with a higher id
    than this one. If a message came between this one and the newest the bot knows of before
    it (the chat's newest when the question was stored as next, ``ask_after_message_id``, or
    the patient's previous message, whichever is later), it was the bot's, and not one it
    recorded: the first, unrecorded send of this very question (the same reasoning as
    ``sent_but_unrecorded``). Without such a gap this message was typed before any send of
    the question reached the patient.
    """
    known = [m for m in (delivery.ask_after_message_id, previous_message_id) if m is not None]
    after = max(known) if known else None
    return (
        delivery.asked_question_id == question_id
        and delivery.ask_pending_since is not None
        and delivery.asked_message_id is not None
        and message_id < delivery.asked_message_id
        and after is not None
        and message_id > after + 1
    )


def _sent_again(delivery: Delivery, question_id: int | None) -> bool:
    """A question sent again that may have reached the patient before (see ``Shown``)."""
    return (
        delivery.asked_question_id == question_id
        and delivery.ask_pending_since is not None
        and delivery.asked_at is not None
        and delivery.asked_at >= delivery.ask_pending_since
    )


# Built once, like the inbox's mark: it runs inside nearly every answer's transaction, and
# building it per call (the statement and its cache key) was 3 % of the answer path's CPU
# (py-spy, bench_answers on SQLite).
# Written only while its question is still unanswered. A record can come late (with the
# batch's next claim, see bot/receiver.py): the chat is held until then, but should the hold
# have lapsed first, another instance may have taken the patient's answer to that question and
# recorded the next one; written blindly it moved the check-in back, and the patient's answer
# to the next question was refused as typed before it was shown.
# The revision recorded is the one whose words the message held, whatever the question reads
# by now: a therapist's edit committed while the message was on its way (or while its record
# waited for the inbox's batch) makes any reply to it, typed before it arrived or after, meet
# the new words instead of being stored against them (``reworded_since``).
_DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
_ANSWERS = Answer.__table__  # type: ignore[attr-defined]
_RECORD_SHOWN = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("d_id"),
        ~exists().where(
            _ANSWERS.c.delivery_id == bindparam("d_id"),
            _ANSWERS.c.question_id == bindparam("q_id"),
        ),
    )
    .values(
        asked_question_id=bindparam("q_id"),
        asked_message_id=bindparam("m_id"),
        asked_at=bindparam("now"),
        asked_revision=bindparam("revision"),
        ask_pending_since=bindparam("pending"),
    )
)

_KEEP_BUTTONS = insert(CheckinMessage.__table__)  # type: ignore[attr-defined]


def _buttons_row(delivery_id: int, chat_id: int, message_id: int, now: datetime) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "chat_id": chat_id,
        "message_id": message_id,
        "kind": CheckinMessageKind.QUESTION.value,
        "text": None,
        "created_at": now,
    }


def record_shown(session: Session, now: datetime, shown: Sequence[Shown]) -> None:
    """Record questions as shown inside the caller's transaction (the inbox's per batch)."""
    if not shown:
        return
    session.connection().execute(
        _RECORD_SHOWN,
        [
            {
                "d_id": s.delivery_id,
                "q_id": s.question_id,
                "revision": s.revision,
                "m_id": s.message_id,
                "now": now,
                "pending": now if s.maybe_shown_before else None,
            }
            for s in shown
        ],
    )
    with_buttons = [s for s in shown if s.buttons_in_chat is not None]
    if with_buttons:
        session.connection().execute(
            _KEEP_BUTTONS,
            [
                _buttons_row(s.delivery_id, s.buttons_in_chat, s.message_id, now)
                for s in with_buttons
                if s.buttons_in_chat is not None
            ],
        )


def note_buttons_shown(
    database: Database, now: datetime, delivery_id: int, chat_id: int, message_id: int
) -> None:
    """A message with a question's buttons that records no question as asked (a re-ask):
    its buttons too go when the check-in closes."""
    with database.session() as session:
        session.connection().execute(
            _KEEP_BUTTONS,
            [_buttons_row(delivery_id, chat_id, message_id, now)],
        )
        session.commit()


def answered_by_press(session: Session, delivery_id: int, message_id: int | None) -> None:
    """The pressed question message is edited to show its answer, without buttons: nothing
    is left for the check-in's closing to take off it."""
    if message_id is None:
        return
    session.connection().execute(
        delete(CheckinMessage).where(
            col(CheckinMessage.delivery_id) == delivery_id,
            col(CheckinMessage.message_id) == message_id,
            col(CheckinMessage.kind) == CheckinMessageKind.QUESTION.value,
        )
    )


def buttons_taken_off(database: Database, delivery_id: int, message_id: int) -> None:
    """A refused press took the question message's buttons off: closing would send Telegram
    an edit that changes nothing, which it refuses."""
    with database.session() as session:
        answered_by_press(session, delivery_id, message_id)
        session.commit()


@frozen
class UnsentQuestion:
    chat_id: int
    question: QuestionView


def unsent_questions(
    database: Database, now: datetime, older_than: timedelta, limit: int
) -> list[UnsentQuestion]:
    """Check-ins whose next question was stored but not recorded as sent for a while.

    The bot stopped between an answer's commit and the next question's send. Nothing is
    changed here: the caller sends each question and records it (``note_question_shown``).
    A check-in that moved on or closed since is left out, and its mark cleared. So is one whose
    patient has updates waiting in the inbox (a restart handles its backlog while the scan
    runs): one of them may answer the very question the bot sent and did not record, and it
    is judged against what the patient saw before anything is sent again.
    """
    found: list[UnsentQuestion] = []
    stale: list[int] = []
    waiting_in_inbox = (
        select(InboxUpdate.update_id)
        .where(
            col(InboxUpdate.state) == InboxState.PENDING.value,
            col(InboxUpdate.chat_id) == col(Person.chat_id),
        )
        .exists()
    )
    with database.session() as session:
        deliveries = session.exec(
            select(Delivery)
            .join(Person, col(Person.id) == col(Delivery.person_id))
            .where(
                col(Delivery.ask_pending_since).is_not(None),
                col(Delivery.ask_pending_since) <= now - older_than,
                ~waiting_in_inbox,
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
            if (
                current is None
                or person is None
                or person.chat_id is None
                or _sent_again(delivery, current.id)
            ):
                # A question sent again is on the screen; its mark only waited for messages
                # typed before it, and the inbox holds none of this chat's any more.
                stale.append(_id(delivery))
                continue
            view = _question_view(_id(delivery), title_of(task), questions, current)
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
            .values(asked_message_id=None, ask_after_message_id=None)
        )
        session.commit()


def forget_unsent(database: Database, delivery_id: int) -> None:
    """Stop trying to send a check-in's next question (Telegram refused it for good)."""
    with database.session() as session:
        session.connection().execute(
            update(Delivery).where(col(Delivery.id) == delivery_id).values(ask_pending_since=None)
        )
        session.commit()
