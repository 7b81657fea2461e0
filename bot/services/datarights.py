"""A patient's data rights: one file of everything stored about them (/mydata).

The use case gathers plain JSON-ready values under stable field names (never sentences: the
rendering floor adds the readable header) and records the export in the audit trail in the
same transaction that read the data, without the patient's Telegram id (see ``leaving``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.frozen import frozen
from bot.services.audit import Actor, ActorRole, AuditAction, ObjectKind, record
from bot.services.checkin.common import _person
from bot.services.consent import read_in_named, text_of
from storage.db import Database
from storage.models import (
    Answer,
    Consent,
    ConsentRequest,
    ConsentVersion,
    Delivery,
    Invite,
    Membership,
    Person,
    Question,
    QuestionRevision,
    Task,
    TherapyGroup,
)


@frozen
class PersonalData:
    """Everything stored about one person, as plain values, with counts for the caption."""

    data: dict[str, Any]
    memberships: int
    checkins: int
    answers: int


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _profile(person: Person) -> dict[str, Any]:
    return {
        "telegram_user_id": person.telegram_user_id,
        "chat_id": person.chat_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "language_code": person.language_code,
        "language": person.language,
        "timezone": person.timezone,
        "quiet_start": person.quiet_start.isoformat() if person.quiet_start else None,
        "quiet_end": person.quiet_end.isoformat() if person.quiet_end else None,
        "check_ins_stopped": person.opted_out,
        "unreachable": person.unreachable,
        "data_deleted_at": _when(person.data_deleted_at),
        "created_at": _when(person.created_at),
    }


def _answer(answer: Answer, position: int, question: QuestionRevision) -> dict[str, Any]:
    return {
        "question_position": position,
        "question": question.description,
        "question_revision": question.revision,
        "response_type": question.response_type,
        "text": answer.value_text,
        "number": answer.value_number,
        "yes_no": answer.value_bool,
        "telegram_file_id": answer.file_id,
        "skipped": answer.skipped,
        "answered_at": _when(answer.answered_at),
    }


def my_data(database: Database, now: datetime, user_id: int) -> PersonalData | None:
    """Everything stored about the Telegram user ``user_id``; None when nothing is."""
    with database.session() as session:
        person = _person(session, user_id)
        # A join waiting for "I agree" keeps the Telegram id and the invite for a week, with
        # no person row yet: that is stored about them too.
        pending_joins = [
            {
                "group": name,
                "consent_version": request.version,
                "asked_at": _when(request.created_at),
            }
            for request, name in session.exec(
                select(ConsentRequest, TherapyGroup.name)
                .join(Invite, col(Invite.id) == ConsentRequest.invite_id)
                .join(TherapyGroup, col(TherapyGroup.id) == Invite.group_id)
                .where(ConsentRequest.telegram_user_id == user_id)
                .order_by(col(ConsentRequest.created_at))
            ).all()
        ]
        if person is None:
            if not pending_joins:
                return None
            empty: dict[str, Any] = {"memberships": [], "consents": [], "check_ins": []}
            profile = {"telegram_user_id": user_id}
            return PersonalData(
                {"profile": profile, **empty, "pending_joins": pending_joins}, 0, 0, 0
            )
        memberships = session.exec(
            select(Membership, TherapyGroup.name)
            .join(TherapyGroup, col(TherapyGroup.id) == Membership.group_id)
            .where(Membership.person_id == person.id)
            .order_by(col(Membership.joined_at), col(Membership.id))
        ).all()
        deliveries = session.exec(
            select(Delivery, Task.title, TherapyGroup.name)
            .join(Task, col(Task.id) == Delivery.task_id)
            .join(TherapyGroup, col(TherapyGroup.id) == Task.group_id)
            .where(Delivery.person_id == person.id)
            .order_by(col(Delivery.due_at), col(Delivery.id))
        ).all()
        delivery_ids = [d.id for d, _, _ in deliveries]
        answers: dict[int, list[dict[str, Any]]] = {}
        rows = session.exec(
            # The wording the patient answered: the revision each answer points at.
            select(Answer, Question.position, QuestionRevision)
            .join(Question, col(Question.id) == Answer.question_id)
            .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
            .where(col(Answer.delivery_id).in_(delivery_ids))
            .order_by(col(Question.position), col(Answer.id))
        ).all()
        for answer, position, revision in rows:
            answers.setdefault(answer.delivery_id, []).append(_answer(answer, position, revision))
        consents = session.exec(
            select(Consent, TherapyGroup.name, ConsentVersion)
            .join(TherapyGroup, col(TherapyGroup.id) == Consent.group_id)
            .join(
                ConsentVersion,
                (col(ConsentVersion.group_id) == Consent.group_id)
                & (col(ConsentVersion.version) == Consent.version),
            )
            .where(Consent.person_id == person.id)
            .order_by(col(Consent.agreed_at), col(Consent.id))
        ).all()
        data = {
            "profile": _profile(person),
            "memberships": [
                {
                    "group": name,
                    "role": m.role,
                    "joined_at": _when(m.joined_at),
                    "ended_at": _when(m.ended_at),
                }
                for m, name in memberships
            ],
            # Each agreement with the words agreed to, as they stood in that version, in every
            # language the version has, and which of them this person read (None: not
            # recorded, an agreement from before that was kept).
            "consents": [
                {
                    "group": name,
                    "version": c.version,
                    "text": version.text,
                    "text_in": text_of(version).translations,
                    "read_in": read_in_named(c.read_in),
                    "agreed_at": _when(c.agreed_at),
                }
                for c, name, version in consents
            ],
            "check_ins": [
                {
                    "group": group,
                    "task": title,
                    "due_at": _when(d.due_at),
                    "status": d.status,
                    "sent_at": _when(d.sent_at),
                    "finished_at": _when(d.finished_at),
                    "answers": answers.get(d.id or 0, []),
                }
                for d, title, group in deliveries
            ],
            "pending_joins": pending_joins,
        }
        counts = {"memberships": len(memberships), "check_ins": len(deliveries)}
        record(
            session,
            now,
            Actor(None, ActorRole.PATIENT),
            AuditAction.DATA_EXPORTED,
            ObjectKind.PERSON,
            person.id,
            group_id=None,
            after={"format": "mydata", **counts, "answers": len(rows)},
        )
        session.commit()
        return PersonalData(data, len(memberships), len(deliveries), len(rows))
