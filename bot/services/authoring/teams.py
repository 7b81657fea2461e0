"""Care teams: /team, /addtoteam, /removefromteam. Only administrators change a team."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from bot.services.audit import Actor, AuditAction, ObjectKind, record
from bot.services.authoring.access import (
    not_your_group,
    require_group,
    sees_every_group,
    team_place,
)
from bot.services.authoring.groups import _group_info, _split_group_prefix, find_group
from bot.services.authoring.results import (
    AuthoringError,
    Team,
    TeamChange,
    TeamMember,
)
from bot.services.authoring.therapists import _ensure_person, _person_by_telegram_id
from bot.services.meaning import Kind, meaning
from storage.db import Database
from storage.models import GroupTherapist, Person, Role, TherapyGroup


def _admins_only(actor: Actor) -> None:
    if not sees_every_group(actor):
        raise AuthoringError(meaning(Kind.TEAM_ADMINS_ONLY))


def _group(session: Session, actor: Actor, ref: str) -> TherapyGroup:
    ref = ref.strip()
    if not ref:
        raise AuthoringError(meaning(Kind.TEAM_USAGE))
    return require_group(session, actor, find_group(session, ref), ref)


def _user_id(word: str) -> int:
    if not (word.isascii() and word.isdigit()) or not 0 < int(word) < 2**63:
        raise AuthoringError(meaning(Kind.ADMIN_BAD_USER_ID, text=word))
    return int(word)


def _group_and_user(
    session: Session, actor: Actor, text: str, *, adding: bool
) -> tuple[TherapyGroup, int]:
    """The group and user id of "GROUP USER_ID", the group read as /removepatient reads it
    (the longest run of leading words that names one): a name may end in a number, so
    "Shoulder Therapy 1" alone is that group with the user id missing."""
    split = _split_group_prefix(session, text, actor, trailing_ok=1)
    if split is None:
        # Neither the whole text nor all but its last word names a group of theirs.
        *words, last = text.split() or [""]
        if not words:
            raise AuthoringError(meaning(Kind.TEAM_USAGE))
        _user_id(last)
        raise not_your_group(session, actor, " ".join(words))
    group, rest = require_group(session, actor, split[0], split[0].name), split[1]
    if not rest:
        raise AuthoringError(meaning(Kind.TEAM_USER_ID_MISSING, group=group.name, adding=adding))
    return group, _user_id(rest)


def team_of(
    database: Database,
    default_zone: str,
    config_user_ids: Iterable[int],
    ref: str,
    *,
    actor: Actor,
) -> Team:
    """A group's team, oldest place first; administrators only."""
    _admins_only(actor)
    admins = set(config_user_ids)
    with database.read_session() as session:
        group = _group(session, actor, ref)
        rows = session.exec(
            select(Person, GroupTherapist.added_at)
            .join(GroupTherapist, col(GroupTherapist.person_id) == Person.id)
            .where(GroupTherapist.group_id == group.id)
            .order_by(col(GroupTherapist.added_at), col(Person.id))
        ).all()
        members = tuple(
            TeamMember(
                telegram_user_id=person.telegram_user_id or 0,
                name=person.display_name,
                added_at=added_at,
                administrator=person.telegram_user_id in admins,
            )
            for person, added_at in rows
        )
        return Team(_group_info(group, default_zone), members)


def add_to_team(
    database: Database,
    now: datetime,
    default_zone: str,
    config_user_ids: Iterable[int],
    text: str,
    *,
    actor: Actor,
) -> TeamChange:
    """Put a therapist on a group's team ("GROUP USER_ID"); say so if they already are."""
    _admins_only(actor)
    with database.session() as session:
        group, user_id = _group_and_user(session, actor, text, adding=True)
        assert group.id is not None
        person = _person_by_telegram_id(session, user_id)
        therapist = user_id in set(config_user_ids) or (
            person is not None and person.role == Role.THERAPIST.value
        )
        if not therapist:
            raise AuthoringError(meaning(Kind.TEAM_NOT_A_THERAPIST, user_id=user_id))
        person = _ensure_person(session, user_id, "", now)
        info = _group_info(group, default_zone)
        if team_place(session, group.id, person) is not None:
            return TeamChange(info, user_id, person.display_name, changed=False)
        assert person.id is not None
        session.add(GroupTherapist(group_id=group.id, person_id=person.id, added_at=now))
        record(
            session,
            now,
            actor,
            AuditAction.TEAM_MEMBER_ADDED,
            ObjectKind.PERSON,
            person.id,
            group_id=group.id,
            after={"telegram_user_id": user_id},
        )
        session.commit()
        return TeamChange(info, user_id, person.display_name, changed=True)


def remove_from_team(
    database: Database, now: datetime, default_zone: str, text: str, *, actor: Actor
) -> TeamChange:
    """Take a therapist off a group's team ("GROUP USER_ID"); say so if they were not on it."""
    _admins_only(actor)
    with database.session() as session:
        group, user_id = _group_and_user(session, actor, text, adding=False)
        assert group.id is not None
        info = _group_info(group, default_zone)
        person = _person_by_telegram_id(session, user_id)
        place = team_place(session, group.id, person) if person is not None else None
        if person is None or place is None:
            return TeamChange(info, user_id, person.display_name if person else "", changed=False)
        session.delete(place)
        record(
            session,
            now,
            actor,
            AuditAction.TEAM_MEMBER_REMOVED,
            ObjectKind.PERSON,
            person.id,
            group_id=group.id,
            before={"telegram_user_id": user_id},
        )
        session.commit()
        return TeamChange(info, user_id, person.display_name, changed=True)


def team_chat_ids(session: Session, group_id: int, config_user_ids: Iterable[int]) -> list[int]:
    """The chats a group's alerts go to: its team's members who are still therapists.

    A group with no therapist on its team sends them to the administrators, so no alert is
    lost; otherwise an administrator gets them only as a member of the team.
    """
    admins = list(dict.fromkeys(config_user_ids))
    rows = session.exec(
        select(Person.telegram_user_id, Person.chat_id, Person.role)
        .join(GroupTherapist, col(GroupTherapist.person_id) == Person.id)
        .where(GroupTherapist.group_id == group_id)
        .order_by(col(GroupTherapist.added_at), col(Person.id))
    ).all()
    chats: list[int] = []
    for user_id, chat, role in rows:
        reach = chat or user_id
        if reach is not None and (user_id in admins or role == Role.THERAPIST.value):
            chats.append(reach)
    return list(dict.fromkeys(chats)) or admins
