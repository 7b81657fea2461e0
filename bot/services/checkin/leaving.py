"""Leaving: /stop and /deletemydata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from bot.services.audit import Actor, ActorRole, AuditAction, ObjectKind, record
from bot.services.checkin.answering import _finish
from bot.services.checkin.common import _ENDABLE, _person
from bot.services.checkin.results import Deleted, Stopped
from bot.services.closing import erased_message
from bot.services.erasure import mark, was_erased
from bot.services.inbox import scrub as scrub_inbox
from storage.db import Database
from storage.models import (
    Answer,
    CheckinMessage,
    CodeAttempts,
    ConsentRequest,
    Delivery,
    DeliveryStatus,
    Digest,
    Membership,
    Role,
)


def stop(database: Database, now: datetime, erasure_key: bytes, user_id: int) -> Stopped:
    """Opt out: no more prompts or reminders until /start."""
    with database.session() as session:
        person = _person(session, user_id)
        if person is None:
            return Stopped(known=False, erased=was_erased(session, erasure_key, user_id))
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
                Delivery.person_id == person.id, col(Delivery.status).in_(_ENDABLE)
            )
        ).all()
        for delivery in open_rows:
            _finish(delivery, now, DeliveryStatus.CANCELLED)
        session.commit()
        return Stopped(known=True, already=already, cancelled=len(open_rows))


def delete_my_data(database: Database, now: datetime, erasure_key: bytes, user_id: int) -> Deleted:
    """Erase everything that identifies the patient; keep a content-free row for reports.

    Answers (the patient's own words and photos among them) and check-ins go; memberships
    stay as ``erased`` markers. The person's row keeps no name, no Telegram user id and no
    chat id, only ``erased_user_mark`` (bot.services.erasure); their wrong-code counter and
    the updates stored from their chat are emptied in the same transaction.
    """
    with database.session() as session:
        person = _person(session, user_id)
        if person is None:
            if _forget_a_join(session, user_id):
                session.commit()
                return Deleted(known=True, join_forgotten=True)
            return Deleted(known=False, erased=was_erased(session, erasure_key, user_id))
        delivery_ids = select(Delivery.id).where(Delivery.person_id == person.id)
        chats = {user_id} | ({person.chat_id} if person.chat_id is not None else set())
        # The messages of their check-ins hold the chat id: they go with the rest, and the
        # handler edits them once on the way out (a record kept for the scan would keep the id).
        shown = session.exec(
            select(CheckinMessage).where(
                or_(
                    col(CheckinMessage.delivery_id).in_(delivery_ids.scalar_subquery()),
                    col(CheckinMessage.chat_id).in_(sorted(chats)),
                )
            )
        ).all()
        closing = tuple(erased_message(m.chat_id, m.message_id, m.text) for m in shown)
        session.exec(
            delete(CheckinMessage).where(col(CheckinMessage.id).in_([m.id for m in shown]))
        )
        answers = session.exec(
            delete(Answer).where(col(Answer.delivery_id).in_(delivery_ids.scalar_subquery()))
        ).rowcount
        deliveries = session.exec(
            delete(Delivery).where(col(Delivery.person_id) == person.id)
        ).rowcount
        # Patient memberships stay as content-free markers, so the therapists' lists say the
        # data was deleted at the patient's request; a removal stays too (it keeps the old
        # invites shut to this person, see joining._removed_before); any other membership goes.
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
        # Digests are planned for therapists only; one who erases their data gets none more.
        session.exec(delete(Digest).where(col(Digest.person_id) == person.id))
        session.exec(delete(CodeAttempts).where(col(CodeAttempts.user_id) == user_id))
        # A join still waiting for "I agree" names the Telegram id; the agreements given name
        # only the person row, which keeps no id, and stay as the record of what was agreed.
        session.exec(delete(ConsentRequest).where(col(ConsentRequest.telegram_user_id) == user_id))
        # Names of two letters or more: a shorter one would be found in nearly every payload.
        names = [n for n in (person.first_name, person.last_name) if len(n) >= 2]
        scrub_inbox(session, chats, [str(user_id), *names])
        person.telegram_user_id = None
        person.chat_id = None
        person.erased_user_mark = mark(erasure_key, user_id)
        person.last_answer_message_id = None
        person.first_name = ""
        person.last_name = ""
        person.language_code = "en"
        person.language = None
        person.timezone = None
        person.quiet_start = None
        person.quiet_end = None
        person.data_deleted_at = now
        # The patient's own act, recorded without their Telegram id: the erasure is the point.
        counts = {"answers": answers, "deliveries": deliveries, "memberships": memberships}
        record(
            session,
            now,
            Actor(None, ActorRole.PATIENT),
            AuditAction.DATA_ERASED,
            ObjectKind.PERSON,
            person.id,
            group_id=None,
            after=counts,
        )
        session.commit()
        return Deleted(
            known=True,
            answers=answers,
            deliveries=deliveries,
            memberships=memberships,
            closing=closing,
        )


def _forget_a_join(session: Session, user_id: int) -> bool:
    """Someone who never joined, whose join waits for their "I agree": what is stored of them
    (the pending joins, their wrong-code counter, the updates of their chat) goes, as /mydata
    shows it. Nothing happens, and False comes back, when no join waits."""
    joins = session.exec(
        delete(ConsentRequest).where(col(ConsentRequest.telegram_user_id) == user_id)
    ).rowcount
    if not joins:
        return False
    session.exec(delete(CodeAttempts).where(col(CodeAttempts.user_id) == user_id))
    scrub_inbox(session, [user_id], [str(user_id)])
    return True
