"""Therapists: who is one (configuration or command), adding, removing, reconciling."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from bot.services.audit import Actor, AuditAction, ObjectKind, record
from bot.services.authoring.access import sees_every_group
from bot.services.authoring.results import (
    AuthoringError,
    DemoCode,
    EndedTherapist,
    TherapistChange,
    TherapistPlaces,
)
from bot.services.meaning import Kind, meaning
from storage.db import Database
from storage.models import (
    GroupTherapist,
    Invite,
    Membership,
    Person,
    Role,
    TherapyGroup,
    split_name,
)

# --- therapists ---------------------------------------------------------------------------


def is_therapist(database: Database, config_user_ids: Iterable[int], user_id: int) -> bool:
    """Listed under [therapists] in the configuration, or added with /addtherapist."""
    if user_id in set(config_user_ids):
        return True
    with database.read_session() as session:
        role = session.exec(select(Person.role).where(Person.telegram_user_id == user_id)).first()
    return role == Role.THERAPIST.value


def therapist_chat_ids(database: Database, config_user_ids: Iterable[int]) -> list[int]:
    """Every therapist's private chat (config ones first), for their command menus."""
    ids = list(dict.fromkeys(config_user_ids))
    with database.read_session() as session:
        rows = session.exec(
            select(Person.telegram_user_id, Person.chat_id).where(
                Person.role == Role.THERAPIST.value
            )
        ).all()
    for user_id, chat_id in rows:
        chat = chat_id or user_id
        if chat is None:
            continue  # erased: nobody to tell
        if chat not in ids:
            ids.append(chat)
    return ids


def add_therapist(
    database: Database,
    now: datetime,
    config_user_ids: Iterable[int],
    user_id: int,
    *,
    actor: Actor,
) -> TherapistChange:
    """Make a Telegram user a therapist (stored); say so when they already are one.

    Only an administrator may: a therapist added here is on no team until one puts them there.
    """
    if not sees_every_group(actor):
        raise AuthoringError(meaning(Kind.TEAM_ADMINS_ONLY))
    if user_id <= 0:
        raise AuthoringError(meaning(Kind.ADMIN_BAD_USER_ID, text=str(user_id)))
    with database.session() as session:
        person = _person_by_telegram_id(session, user_id)
        if user_id in set(config_user_ids) or (
            person is not None and person.role == Role.THERAPIST.value
        ):
            chat = (person.chat_id if person else None) or user_id
            return TherapistChange(user_id, chat, changed=False)
        if person is None:
            person = Person(telegram_user_id=user_id, role=Role.THERAPIST.value, created_at=now)
            session.add(person)
        else:
            person.role = Role.THERAPIST.value
        session.flush()
        record(
            session,
            now,
            actor,
            AuditAction.THERAPIST_ADDED,
            ObjectKind.PERSON,
            person.id,
            group_id=None,
            after={"telegram_user_id": user_id, "role": person.role},
        )
        session.commit()
        return TherapistChange(user_id, person.chat_id or user_id, changed=True)


def remove_therapist(
    database: Database,
    config_user_ids: Iterable[int],
    user_id: int,
    *,
    now: datetime,
    actor: Actor,
) -> TherapistChange:
    """Take a stored therapist's rights away, their group places and their team places.

    Only an administrator may.
    """
    if not sees_every_group(actor):
        raise AuthoringError(meaning(Kind.TEAM_ADMINS_ONLY))
    if user_id in set(config_user_ids):
        raise AuthoringError(meaning(Kind.ADMIN_THERAPIST_IN_CONFIG, user_id=user_id))
    with database.session() as session:
        person = _person_by_telegram_id(session, user_id)
        if person is None or person.role != Role.THERAPIST.value:
            raise AuthoringError(meaning(Kind.ADMIN_NOT_A_THERAPIST, user_id=user_id))
        person.role = Role.PATIENT.value
        # Alerts go to a group's therapist members: someone no longer a therapist must not
        # keep receiving patients' answers.
        memberships = session.exec(
            select(Membership).where(
                Membership.person_id == person.id, Membership.role == Role.THERAPIST.value
            )
        ).all()
        for membership in memberships:
            session.delete(membership)
        places = session.exec(
            select(GroupTherapist).where(GroupTherapist.person_id == person.id)
        ).all()
        teams = sorted(place.group_id for place in places)
        for place in places:
            session.delete(place)
        record(
            session,
            now,
            actor,
            AuditAction.THERAPIST_REMOVED,
            ObjectKind.PERSON,
            person.id,
            group_id=None,
            before={"telegram_user_id": user_id, "role": Role.THERAPIST.value, "teams": teams},
            after={"telegram_user_id": user_id, "role": person.role},
        )
        session.commit()
        return TherapistChange(user_id, person.chat_id or user_id, changed=True)


def reconcile_therapists(
    database: Database, now: datetime, config_user_ids: Iterable[int]
) -> TherapistPlaces:
    """At start: end the group places of therapists no longer configured; restore returning ones.

    A therapist's place in a group (from /newgroup) brings that group's alerts. Someone taken
    out of ``[therapists] user_ids``, and not added with /addtherapist, must stop receiving
    them: the membership becomes ``former_therapist`` (kept, so /groups can say so). When the
    id is configured again, the places come back as they were.
    """
    configured = set(config_user_ids)
    with database.session() as session:
        rows = session.exec(
            select(Membership, Person.telegram_user_id, Person.role, TherapyGroup.name)
            .join(Person, col(Person.id) == Membership.person_id)
            .join(TherapyGroup, col(TherapyGroup.id) == Membership.group_id)
            .where(col(Membership.role).in_([Role.THERAPIST.value, Role.FORMER_THERAPIST.value]))
            .order_by(col(TherapyGroup.name))
        ).all()
        ended: dict[int, list[str]] = {}
        restored: dict[int, list[str]] = {}
        for membership, user_id, person_role, group_name in rows:
            if user_id is None:
                continue  # erased: their places were deleted with their data
            allowed = user_id in configured or person_role == Role.THERAPIST.value
            if membership.role == Role.THERAPIST.value and not allowed:
                membership.role, membership.ended_at = Role.FORMER_THERAPIST.value, now
                ended.setdefault(user_id, []).append(group_name)
            elif membership.role == Role.FORMER_THERAPIST.value and allowed:
                membership.role, membership.ended_at = Role.THERAPIST.value, None
                restored.setdefault(user_id, []).append(group_name)
        session.commit()
    return TherapistPlaces(
        ended=tuple(EndedTherapist(u, tuple(g)) for u, g in ended.items()),
        restored=tuple(EndedTherapist(u, tuple(g)) for u, g in restored.items()),
    )


def active_demo_codes(database: Database, now: datetime) -> list[DemoCode]:
    """Demo codes that still let people in: not revoked, expired or used up."""
    with database.read_session() as session:
        return [DemoCode(invite.code, name) for invite, name in _active_demo_invites(session, now)]


def _active_demo_invites(session: Session, now: datetime) -> list[tuple[Invite, str]]:
    rows = session.exec(
        select(Invite, TherapyGroup.name)
        .join(TherapyGroup, col(TherapyGroup.id) == Invite.group_id)
        .where(col(Invite.demo), col(Invite.revoked_at).is_(None))
        .order_by(col(TherapyGroup.name), col(Invite.code))
    ).all()
    return [
        (invite, name)
        for invite, name in rows
        if (invite.expires_at is None or invite.expires_at > now)
        and not (invite.max_uses and invite.uses >= invite.max_uses)
    ]


def _person_by_telegram_id(session: Session, user_id: int) -> Person | None:
    return session.exec(select(Person).where(Person.telegram_user_id == user_id)).first()


def _ensure_person(session: Session, user_id: int, name: str, now: datetime) -> Person:
    person = _person_by_telegram_id(session, user_id)
    if person is None:
        # A config therapist is a therapist by configuration, so the row keeps the default role.
        first, last = split_name(name)
        person = Person(
            telegram_user_id=user_id,
            chat_id=user_id,
            first_name=first[:200],
            last_name=last[:200],
            created_at=now,
        )
        session.add(person)
        session.flush()
    else:
        # Alerts reach a group's therapists through their chat id; a therapist added with
        # /addtherapist before ever writing to the bot has none yet.
        person.chat_id = person.chat_id or user_id
        if not person.display_name and name and person.data_deleted_at is None:
            first, last = split_name(name)
            person.first_name, person.last_name = first[:200], last[:200]
    return person
