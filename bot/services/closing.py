"""Prompts and reminders of closed check-ins: which to edit, and forgetting those edited.

Every prompt and reminder on a patient's screen has a ``checkin_messages`` row, written with
the record that it was sent (``delivery.mark_results``, ``checkin.note_offer``); so has a
question with buttons (``checkin.record_shown``, no text: it only loses its buttons). However a
check-in ends (completed, skipped, expired, cancelled by /stop, a deleted task or a removed
patient, or its row purged by retention), its rows are found here by a join on the check-in's
status, never by the code that closed it: a new way to close a check-in cannot forget them.
The Telegram side (``bot.closing``) edits each message, then ``forget`` deletes its row; a
kill between the two edits it again next time, to the same text ("not modified").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import col, select

from bot.frozen import frozen
from storage.db import Database
from storage.models import (
    FINAL_STATUSES,
    CheckinMessage,
    Delivery,
    DeliveryStatus,
    Person,
    Task,
    TherapyGroup,
)

_FINAL = [s.value for s in FINAL_STATUSES]


class Ending(StrEnum):
    """How a check-in ended, as its messages say it."""

    COMPLETED = "completed"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # /stop, task deleted, patient removed, bot blocked, row purged


_ENDINGS = {
    DeliveryStatus.COMPLETED.value: Ending.COMPLETED,
    DeliveryStatus.SKIPPED.value: Ending.SKIPPED,
    DeliveryStatus.EXPIRED.value: Ending.EXPIRED,
}


@frozen
class ClosingMessage:
    """One message to edit: the text as sent (None: unknown, take the buttons off only)."""

    id: int
    chat_id: int
    message_id: int
    text: str | None
    ending: Ending
    # When the check-in closed, for an expiry its window's end (the same on every edit).
    closed_at: datetime | None
    zone: str  # the patient's zone, for showing closed_at


def erased_message(chat_id: int, message_id: int, text: str | None) -> ClosingMessage:
    """A message of a check-in an erasure deleted: edited once, as cancelled, with no record
    left to keep (``bot.closing.edit_once``)."""
    return ClosingMessage(
        id=0,
        chat_id=chat_id,
        message_id=message_id,
        text=text,
        ending=Ending.CANCELLED,
        closed_at=None,
        zone="UTC",
    )


def closed_messages_query(limit: int, chat_id: int | None = None) -> Any:
    """Messages whose check-in ended (or is gone), oldest first.

    Read from ``checkin_messages`` (a few rows per open check-in) to ``deliveries`` by primary
    key, never from the history of closed check-ins (tests/storage/test_scan.py checks).
    """
    query = (
        select(CheckinMessage, Delivery, Person, TherapyGroup)
        .outerjoin(Delivery, col(Delivery.id) == CheckinMessage.delivery_id)
        .outerjoin(Person, col(Person.id) == Delivery.person_id)
        .outerjoin(Task, col(Task.id) == Delivery.task_id)
        .outerjoin(TherapyGroup, col(TherapyGroup.id) == Task.group_id)
        .where(or_(col(CheckinMessage.delivery_id).is_(None), col(Delivery.status).in_(_FINAL)))
        .order_by(col(CheckinMessage.id))
        .limit(limit)
    )
    if chat_id is not None:
        query = query.where(CheckinMessage.chat_id == chat_id)
    return query


def closed_messages(
    database: Database, default_zone: str, limit: int, *, chat_id: int | None = None
) -> tuple[ClosingMessage, ...]:
    """Up to ``limit`` messages whose check-in has closed, oldest first; one query.

    ``chat_id``: only that chat's (a handler tidying up after the patient's own act).
    """
    query = closed_messages_query(limit, chat_id)
    with database.read_session() as session:
        rows = session.exec(query).all()
    found = []
    for message, checkin, person, group in rows:
        assert message.id is not None
        status = checkin.status if checkin is not None else ""
        ending = _ENDINGS.get(status, Ending.CANCELLED)
        zone = (
            (person.timezone if person is not None else None)
            or (group.timezone if group is not None else None)
            or default_zone
        )
        found.append(
            ClosingMessage(
                id=message.id,
                chat_id=message.chat_id,
                message_id=message.message_id,
                text=message.text,
                ending=ending,
                closed_at=checkin.expires_at
                if checkin is not None and ending is Ending.EXPIRED
                else None,
                zone=zone,
            )
        )
    return tuple(found)


def forget(database: Database, message_ids: Sequence[int]) -> int:
    """Delete the rows of messages edited (or gone from the chat); returns how many."""
    if not message_ids:
        return 0
    with database.session() as session:
        result = session.exec(
            delete(CheckinMessage).where(col(CheckinMessage.id).in_(sorted(set(message_ids))))
        )
        session.commit()
    return int(result.rowcount or 0)
