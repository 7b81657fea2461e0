"""The prompt's buttons: Start, Remind me later, Skip task, and the offer of what is held."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.services.checkin.answering import _complete, _finish
from bot.services.checkin.common import (
    _IN_PROGRESS,
    _OPEN,
    _activate,
    _active_questions,
    _answers,
    _consent_first,
    _first_unanswered,
    _id,
    _offer,
    _open_delivery,
    _postpone_reminder,
    _question_view,
    _reminder_time,
    _zone_of,
)
from bot.services.checkin.results import (
    Deferred,
    Policy,
    Progress,
    Refusal,
    Refused,
    SkipAsked,
    TaskSkipped,
)
from bot.services.checkin.shown import _await_question
from bot.services.content import title_of
from storage.db import Database
from storage.models import CheckinMessage, CheckinMessageKind, Delivery, DeliveryStatus

# --- the prompt's buttons ---------------------------------------------------------------------


def begin(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    *,
    newest_known: int | None = None,
) -> Progress | Refused:
    """Start or continue a delivery (the prompt's Start button, or /tasks).

    ``newest_known``: the newest message of the chat the bot knew of as the patient pressed or
    typed; the question it sends follows it (``_await_question``), so an answer typed after
    that send still counts should the bot stop before recording it.
    """
    with database.session() as session:
        found = _open_delivery(session, now, policy, user_id, delivery_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task = found
        resumed = delivery.started_at is not None
        if not resumed and (consent := _consent_first(session, person, task)) is not None:
            reason = Refusal.CONSENT_CHANGED if consent.again else Refusal.CONSENT_ASKED
            return Refused(reason, title_of(task), consent=consent)
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
                _await_question(delivery, now, newest_known)
            progress = Progress(
                delivery_id=_id(delivery),
                task_title=title_of(task),
                question=_question_view(_id(delivery), title_of(task), questions, current),
                paused_title=paused_title,
                resumed=resumed,
            )
        session.commit()
        return progress


def remind_later(
    database: Database, now: datetime, policy: Policy, user_id: int, delivery_id: int
) -> Deferred | Refused:
    """Put a delivery off: a reminder comes after the configured wait (quiet hours respected).

    A check-in being answered stays so: the question on the patient's screen still takes
    their answer (it used to be paused, and the answer typed next was turned away).

    The patient asking is no nagging: the reminder comes even after the bot's own
    ``max_reminders`` are spent, if the check-in is still open then. Only reminders turned
    off altogether (``max_reminders = 0``) leave none.
    """
    with database.session() as session:
        found = _open_delivery(session, now, policy, user_id, delivery_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task = found
        number = total = 0
        if delivery.status == _IN_PROGRESS:
            questions = _active_questions(session, task)
            current = _first_unanswered(questions, _answers(session, delivery))
            if current is not None:
                number, total = questions.index(current) + 1, len(questions)
        remind_at = now + timedelta(minutes=policy.first_reminder_minutes)
        delivery.remind_at = remind_at
        zone = _zone_of(session, person, task, policy)
        expected = _reminder_time(person, policy, remind_at, ZoneInfo(zone))
        reminders_off = policy.max_reminders <= 0
        will_remind = not reminders_off and expected < delivery.expires_at
        # Another check-in held back waits until this one is done or left, as it would have
        # without the press; one not in progress makes way for it now.
        offer = (
            None
            if number
            else _offer(session, now, policy, person, exclude=_id(delivery), unseen_only=True)
        )
        session.commit()
        return Deferred(
            delivery_id=_id(delivery),
            task_title=title_of(task),
            remind_at=expected if will_remind else None,
            expires_at=delivery.expires_at,
            zone=zone,
            offer=offer,
            number=number,
            total=total,
            reminders_off=reminders_off,
        )


def skip_task(
    database: Database,
    now: datetime,
    policy: Policy,
    user_id: int,
    delivery_id: int,
    *,
    sure: bool = False,
) -> TaskSkipped | SkipAsked | Refused:
    """Skip the whole task; answers already given stay.

    A check-in with answers is skipped only ``sure``: otherwise ``SkipAsked`` (a tap on an
    old prompt's Skip would end a check-in half done, with no way back).
    """
    with database.session() as session:
        found = _open_delivery(session, now, policy, user_id, delivery_id)
        if isinstance(found, Refused):
            return found
        person, delivery, task = found
        if not sure:
            questions = _active_questions(session, task)
            answers = _answers(session, delivery)
            answered = sum(1 for q in questions if q.id in answers)
            if answered:
                return SkipAsked(_id(delivery), title_of(task), answered, len(questions))
        _finish(delivery, now, DeliveryStatus.SKIPPED)
        offer = _offer(session, now, policy, person, exclude=_id(delivery))
        session.commit()
        return TaskSkipped(_id(delivery), title_of(task), offer)


def note_offer(
    database: Database,
    now: datetime,
    policy: Policy,
    delivery_id: int,
    message_id: int,
    *,
    chat_id: int,
    text: str,
) -> bool:
    """Record an offered task's prompt, as the scan does for its own, so it is edited when
    the check-in closes. A held task's first prompt also becomes its prompt, and its reminders
    follow as for any. A task offered again (its first prompt ignored) keeps its first prompt,
    but the offer is recorded too: unrecorded, it kept its live buttons after the check-in was
    done. Returns whether anything was recorded (not when the check-in has ended since).
    """
    with database.session() as session:
        delivery = session.exec(
            select(Delivery).where(Delivery.id == delivery_id).with_for_update()
        ).first()
        if delivery is None or delivery.status not in _OPEN:
            return False
        first_prompt = delivery.prompt_message_id is None
        if first_prompt:
            delivery.prompt_message_id = message_id
        session.add(
            CheckinMessage(
                delivery_id=delivery_id,
                chat_id=chat_id,
                message_id=message_id,
                kind=CheckinMessageKind.PROMPT.value,
                text=text,
                created_at=now,
            )
        )
        if (
            first_prompt
            and delivery.remind_at is None
            and delivery.reminders_sent < policy.max_reminders
        ):
            delivery.remind_at = now + timedelta(minutes=policy.first_reminder_minutes)
        session.commit()
        return True
