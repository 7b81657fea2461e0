"""Reading the audit trail: /audit's pages (newest first) and the command line's CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select

from bot.frozen import frozen
from bot.services.audit import Actor, ActorRole, AuditAction, ObjectKind
from bot.services.authoring import AuthoringError, find_own_group, require_group, team_group_ids
from bot.services.meaning import Kind, meaning
from storage.db import Database
from storage.models import AuditEvent, Membership, Role, TherapyGroup

# Five events of the longest kind (a question's seven fields) fit one Telegram message.
PAGE_SIZE = 5
# Further back than this is the command line's job (patientbot audit --out FILE).
MAX_AUDIT_DAYS = 3660
CSV_COLUMNS = (
    "id",
    "at",
    "actor_telegram_id",
    "actor_role",
    "action",
    "object_kind",
    "object_id",
    "group_id",
    "before",
    "after",
)


@frozen
class AuditTarget:
    """What /audit was asked for: one group (or all) and the last ``days`` (or ever)."""

    group_id: int | None
    days: int | None


def parse_audit_target(database: Database, text: str, *, actor: Actor) -> AuditTarget:
    """Read "[GROUP] [DAYS]": a last word of digits is DAYS when the rest names a group or is
    empty ("/audit 7"); otherwise the whole text is the group ("Shoulder Therapy 1")."""
    words = text.split()
    with database.read_session() as session:
        if words and words[-1].isascii() and words[-1].isdigit():
            rest = " ".join(words[:-1])
            group = find_own_group(session, actor, rest) if rest else None
            if not rest or group is not None:
                days = int(words[-1])
                if not 1 <= days <= MAX_AUDIT_DAYS:
                    raise AuthoringError(meaning(Kind.AUDIT_BAD_DAYS, most=MAX_AUDIT_DAYS))
                return AuditTarget(group.id if group else None, days)
        if not words:
            return AuditTarget(None, None)
        group = require_group(session, actor, find_own_group(session, actor, text), text)
        return AuditTarget(group.id, None)


@frozen
class AuditEntry:
    at: datetime
    actor_telegram_id: int | None
    actor_role: ActorRole
    action: AuditAction
    object_kind: ObjectKind
    object_id: int | None
    group_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@frozen
class AuditPage:
    """One page of the trail, newest first; ``offset`` counts the newer events skipped."""

    entries: tuple[AuditEntry, ...]
    group_name: str | None
    days: int | None
    offset: int
    has_older: bool
    # Without a group: only the actor's team groups (a therapist), not all (an administrator).
    team_only: bool = False

    @property
    def has_newer(self) -> bool:
        return self.offset > 0


def audit_page(
    database: Database,
    now: datetime,
    *,
    group_id: int | None,
    days: int | None,
    offset: int,
    actor: Actor,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """The events of one group (or all the actor's) of the last ``days`` (or ever), newest
    first. A therapist who is not an administrator sees only their own groups' events (a
    patient's erasure among them, see ``_of_groups``) and their own acts, and none else that
    name no group (therapists added or removed, retention purges)."""
    offset = max(offset, 0)
    with database.read_session() as session:
        query = select(AuditEvent, TherapyGroup.name).outerjoin(
            TherapyGroup, col(TherapyGroup.id) == AuditEvent.group_id
        )
        group_name = None
        if group_id is not None:
            query = query.where(_of_groups([group_id]))
            group = session.get(TherapyGroup, group_id)
            if group is None:
                raise AuthoringError(meaning(Kind.ADMIN_GROUP_GONE))
            # The page's buttons carry the group: one from before leaving the team is refused.
            group_name = require_group(session, actor, group, group.name).name
        allowed = team_group_ids(session, actor)
        if allowed is not None:
            # A therapist's own acts that name no group (an export of all her groups) are hers
            # to see, whatever they touched.
            query = query.where(
                or_(_of_groups(allowed), col(AuditEvent.actor_telegram_id) == actor.telegram_id)
            )
        if days is not None:
            query = query.where(col(AuditEvent.at) >= now - timedelta(days=days))
        rows = session.exec(
            query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
            .offset(offset)
            .limit(page_size + 1)
        ).all()
        entries = tuple(_entry(event, name) for event, name in rows[:page_size])
        return AuditPage(
            entries,
            group_name,
            days,
            offset,
            has_older=len(rows) > page_size,
            team_only=allowed is not None,
        )


def _of_groups(group_ids: Iterable[int]) -> Any:
    """Events filed under these groups, and the erasure of a patient of theirs: recorded once,
    under no group (it spans all the patient's groups), it is each care team's to see."""
    wanted = sorted(group_ids)
    erased_here = select(Membership.person_id).where(
        col(Membership.group_id).in_(wanted), Membership.role == Role.ERASED.value
    )
    return or_(
        col(AuditEvent.group_id).in_(wanted),
        and_(
            col(AuditEvent.action) == AuditAction.DATA_ERASED.value,
            col(AuditEvent.group_id).is_(None),
            col(AuditEvent.object_id).in_(erased_here),
        ),
    )


def _entry(event: AuditEvent, group_name: str | None) -> AuditEntry:
    return AuditEntry(
        at=event.at,
        actor_telegram_id=event.actor_telegram_id,
        actor_role=ActorRole(event.actor_role),
        action=AuditAction(event.action),
        object_kind=ObjectKind(event.object_kind),
        object_id=event.object_id,
        group_name=group_name,
        before=event.before,
        after=event.after,
    )


def audit_csv(database: Database) -> tuple[str, int]:
    """The whole trail as CSV (oldest first) and how many events it holds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    count = 0
    with database.read_session() as session:
        for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))):
            writer.writerow(
                [
                    event.id,
                    event.at.isoformat(),
                    "" if event.actor_telegram_id is None else event.actor_telegram_id,
                    event.actor_role,
                    event.action,
                    event.object_kind,
                    "" if event.object_id is None else event.object_id,
                    "" if event.group_id is None else event.group_id,
                    "" if event.before is None else json.dumps(event.before, sort_keys=True),
                    "" if event.after is None else json.dumps(event.after, sort_keys=True),
                ]
            )
            count += 1
    return buffer.getvalue(), count
