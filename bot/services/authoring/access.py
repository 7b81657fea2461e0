"""Care teams: which groups a therapist may see and change. The one rule every therapist use
case asks, so a command, a button from an old message and a list all answer alike.

- Administrators (``[therapists] user_ids``, acting as ``ActorRole.ADMINISTRATOR``), the
  command line (``OPERATOR``) and the bot itself (``SYSTEM``) may act on every group.
- Any other therapist may act only on the groups whose team (``group_therapists``) they are on.

A therapist cannot tell another team's group from a group that does not exist: both are refused
with the same sentence (``Kind.TEAM_NOT_YOUR_GROUP``), listing only their own groups; a task of
another team and a task that does not exist likewise (``Kind.TEAM_NOT_YOUR_TASK``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.services.audit import Actor, ActorRole
from bot.services.authoring.results import AuthoringError
from bot.services.meaning import Kind, meaning
from storage.models import GroupTherapist, Person, TherapyGroup

_EVERY_GROUP = frozenset({ActorRole.ADMINISTRATOR, ActorRole.OPERATOR, ActorRole.SYSTEM})


def sees_every_group(actor: Actor) -> bool:
    """Administrators, the command line and the bot act on every group, teams or not."""
    return actor.role in _EVERY_GROUP


def team_group_ids(session: Session, actor: Actor) -> frozenset[int] | None:
    """The ids of the groups ``actor`` may act on; None means every group."""
    if sees_every_group(actor):
        return None
    if actor.telegram_id is None:
        return frozenset()
    rows = session.exec(
        select(GroupTherapist.group_id)
        .join(Person, col(Person.id) == GroupTherapist.person_id)
        .where(Person.telegram_user_id == actor.telegram_id)
    ).all()
    return frozenset(rows)


def may_manage(session: Session, actor: Actor, group_id: int) -> bool:
    """Whether ``actor`` may see and change the group ``group_id``."""
    allowed = team_group_ids(session, actor)
    return allowed is None or group_id in allowed


def visible_group_names(session: Session, actor: Actor) -> list[str]:
    """The names of the groups ``actor`` may act on, sorted: what a refusal may list."""
    query = select(TherapyGroup.id, TherapyGroup.name).order_by(col(TherapyGroup.name))
    allowed = team_group_ids(session, actor)
    return [
        name
        for group_id, name in session.exec(query).all()
        if allowed is None or group_id in allowed
    ]


def not_your_group(session: Session, actor: Actor, ref: str) -> AuthoringError:
    """The refusal for a group ``actor`` may not act on, or that does not exist."""
    names = visible_group_names(session, actor)
    kind = Kind.ADMIN_UNKNOWN_GROUP if sees_every_group(actor) else Kind.TEAM_NOT_YOUR_GROUP
    return AuthoringError(meaning(kind, ref=ref, names=names))


def require_group(
    session: Session, actor: Actor, group: TherapyGroup | None, ref: str
) -> TherapyGroup:
    """``group`` if ``actor`` may act on it; otherwise the refusal (the same one if it is None).

    Every therapist use case that names a group passes it through here.
    """
    if group is None or group.id is None or not may_manage(session, actor, group.id):
        raise not_your_group(session, actor, ref)
    return group


def require_task_group(session: Session, actor: Actor, task_id: int, group_id: int) -> None:
    """Refuse a task of a group ``actor`` is not on, exactly as a task that does not exist."""
    if not may_manage(session, actor, group_id):
        raise AuthoringError(meaning(Kind.TEAM_NOT_YOUR_TASK, task_id=task_id))


def team_place(session: Session, group_id: int, person: Person) -> GroupTherapist | None:
    """``person``'s place on the group's team, if they have one."""
    return session.exec(
        select(GroupTherapist).where(
            GroupTherapist.group_id == group_id, GroupTherapist.person_id == person.id
        )
    ).first()


def join_team(session: Session, now: datetime, group_id: int, person: Person) -> None:
    """Put ``person`` on the team of a group (the creator of a new group), unless they are."""
    assert person.id is not None
    if team_place(session, group_id, person) is None:
        session.add(GroupTherapist(group_id=group_id, person_id=person.id, added_at=now))
