"""Leaving: /stop and /deletemydata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from bot.services.audit import Actor, ActorRole, AuditAction, ObjectKind, record
from bot.services.checkin.answering import _finish
from bot.services.checkin.common import _OPEN, _person
from bot.services.checkin.results import Deleted, Stopped
from storage.db import Database
from storage.models import Answer, Delivery, DeliveryStatus, Membership, Role


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
        return Deleted(known=True, answers=answers, deliveries=deliveries, memberships=memberships)
