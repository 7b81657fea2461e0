"""The audit trail: who changed what, written in the transaction of the change itself.

A use case that changes something a clinic must be able to account for calls ``record`` on its
own session before it commits, so the change and its event are stored together or not at all.
``before``/``after`` carry only fields a therapist set (titles, due times, question wording,
invite limits), never an answer, a patient's text or an invite code (a code lets anyone in).
Rows are never updated or deleted here; on PostgreSQL a trigger refuses both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from bot.frozen import frozen
from storage.db import Database
from storage.models import AuditEvent


class ActorRole(StrEnum):
    ADMINISTRATOR = "administrator"
    THERAPIST = "therapist"
    PATIENT = "patient"
    # The `patientbot` command line, run by whoever operates the server.
    OPERATOR = "operator"
    # The bot itself: the due scan's retention purge.
    SYSTEM = "system"


class AuditAction(StrEnum):
    GROUP_CREATED = "group_created"
    # A seed's change of the group's time zone (its check-ins move with it).
    GROUP_EDITED = "group_edited"
    TASK_CREATED = "task_created"
    TASK_EDITED = "task_edited"
    TASK_DELETED = "task_deleted"
    QUESTION_CREATED = "question_created"
    QUESTION_DELETED = "question_deleted"
    # A new revision of a question's wording (see services/revisions.py).
    QUESTION_EDITED = "question_edited"
    INVITE_CREATED = "invite_created"
    # A seed's change of an invite: the group it joins, its use limit, its demo mark.
    INVITE_EDITED = "invite_edited"
    INVITE_REVOKED = "invite_revoked"
    PATIENT_REMOVED = "patient_removed"
    THERAPIST_ADDED = "therapist_added"
    THERAPIST_REMOVED = "therapist_removed"
    TEAM_MEMBER_ADDED = "team_member_added"
    TEAM_MEMBER_REMOVED = "team_member_removed"
    DATA_EXPORTED = "data_exported"
    DATA_ERASED = "data_erased"
    RETENTION_PURGE = "retention_purge"
    LANGUAGE_CHOSEN = "language_chosen"
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_CHANGED = "consent_changed"
    # A therapist saw a patient's answers: their page, a photo or video, a group's media.
    RECORD_VIEWED = "record_viewed"


class ObjectKind(StrEnum):
    GROUP = "group"
    TASK = "task"
    QUESTION = "question"
    INVITE = "invite"
    PERSON = "person"
    CHECK_INS = "check_ins"


@frozen
class Actor:
    """Who acts: their Telegram id (none for the command line) and in which capacity."""

    telegram_id: int | None
    role: ActorRole


OPERATOR = Actor(None, ActorRole.OPERATOR)
SYSTEM = Actor(None, ActorRole.SYSTEM)


def record(
    session: Session,
    now: datetime,
    actor: Actor,
    action: AuditAction,
    kind: ObjectKind,
    object_id: int | None,
    *,
    group_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one event to the caller's unit of work (the caller commits it with the change)."""
    session.add(
        AuditEvent(
            at=now,
            actor_telegram_id=actor.telegram_id,
            actor_role=actor.role.value,
            action=action.value,
            object_kind=kind.value,
            object_id=object_id,
            group_id=group_id,
            before=_plain(before),
            after=_plain(after),
        )
    )


def record_changes(
    session: Session,
    now: datetime,
    actor: Actor,
    action: AuditAction,
    kind: ObjectKind,
    object_id: int | None,
    *,
    group_id: int | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """One event holding only the fields that changed; none changed, no event."""
    changed = [name for name in after if after[name] != before.get(name)]
    if changed:
        record(
            session,
            now,
            actor,
            action,
            kind,
            object_id,
            group_id=group_id,
            before={name: before.get(name) for name in changed},
            after={name: after[name] for name in changed},
        )


def record_export(
    database: Database, now: datetime, actor: Actor, group_id: int | None, fields: dict[str, Any]
) -> None:
    """Record that data left the bot, committed before the file is handed over.

    Reading opens no transaction that changes anything, so the export gets its own.
    """
    action, kind = AuditAction.DATA_EXPORTED, ObjectKind.GROUP
    _record_alone(database, now, actor, action, kind, group_id, group_id, fields)


def record_view(
    database: Database,
    now: datetime,
    actor: Actor,
    kind: ObjectKind,
    object_id: int | None,
    *,
    group_id: int | None,
    fields: dict[str, Any],
) -> None:
    """Record that a therapist saw a patient's answers, committed before they are shown: a
    clinic accounts for who looked at a record, not only for who changed it. ``fields`` say
    what was seen (which page, which answer), never the answers themselves."""
    record_views(database, now, actor, kind, object_id, [(group_id, fields)])


def record_views(
    database: Database,
    now: datetime,
    actor: Actor,
    kind: ObjectKind,
    object_id: int | None,
    views: Sequence[tuple[int | None, dict[str, Any]]],
) -> None:
    """One view that showed several groups' answers: an event per group (``views`` holds
    each group with what of it was seen), so each group's team finds it in ``/audit GROUP``.
    All of them in one transaction, committed before anything is shown."""
    with database.session() as session:
        for group_id, fields in views:
            record(
                session,
                now,
                actor,
                AuditAction.RECORD_VIEWED,
                kind,
                object_id,
                group_id=group_id,
                after=fields,
            )
        session.commit()


def _record_alone(
    database: Database,
    now: datetime,
    actor: Actor,
    action: AuditAction,
    kind: ObjectKind,
    object_id: int | None,
    group_id: int | None,
    fields: dict[str, Any],
) -> None:
    """One event in a transaction of its own, for a use case that only reads."""
    with database.session() as session:
        record(session, now, actor, action, kind, object_id, group_id=group_id, after=fields)
        session.commit()


def _plain(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    """Dates, times and tuples as JSON keeps them, so what is read back equals what was put."""
    if fields is None:
        return None
    return dict(json.loads(json.dumps(fields, default=str)))
