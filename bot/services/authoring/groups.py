"""Groups, their patients and their invites."""

from __future__ import annotations

import dataclasses
import secrets
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.services.audit import Actor, AuditAction, ObjectKind, record
from bot.services.authoring.access import (
    join_team,
    may_manage,
    not_your_group,
    require_group,
    team_group_ids,
)
from bot.services.authoring.results import (
    _RESERVED_NAME,
    INVITE_TOKEN_BYTES,
    MAX_GROUP_NAME,
    MAX_INVITE_DAYS,
    AuthoringError,
    FormerTherapist,
    GroupInfo,
    GroupSummary,
    InviteInfo,
    PatientList,
    PatientRow,
    RemovedPatient,
)
from bot.services.authoring.therapists import _active_demo_invites, _ensure_person
from bot.services.meaning import Kind, Meaning, meaning
from bot.services.schedule import normalise_zone
from storage.db import Database
from storage.models import (
    MAX_INTEGER,
    OPEN_STATUSES,
    Delivery,
    DeliveryStatus,
    GroupTherapist,
    Invite,
    Membership,
    Person,
    Role,
    Task,
    TherapyGroup,
)

# --- groups -------------------------------------------------------------------------------


def _group_info(group: TherapyGroup, default_zone: str) -> GroupInfo:
    assert group.id is not None
    return GroupInfo(group.id, group.name, group.timezone or default_zone)


_OPENING_QUOTES = "\"'“«"
_CLOSING_QUOTES = "\"'”»"


def _clean(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in _OPENING_QUOTES and text[-1] in _CLOSING_QUOTES:
        text = text[1:-1]
    return " ".join(text.split())


def find_group(
    session: Session, ref: str, *, among: frozenset[int] | None = None
) -> TherapyGroup | None:
    """A group by numeric id, or by name ignoring case and spacing.

    ``among`` (``access.team_group_ids``) limits the search to a therapist's own groups, so
    another team's group is not found, exactly like one that does not exist.
    """
    ref = _clean(ref)
    if not ref:
        return None
    found: TherapyGroup | None = None
    if ref.isascii() and ref.isdigit():
        number = int(ref)
        found = session.get(TherapyGroup, number) if number <= MAX_INTEGER else None
    else:
        wanted = ref.casefold()
        for group in session.exec(select(TherapyGroup)).all():
            if " ".join(group.name.split()).casefold() == wanted:
                found = group
                break
    if found is not None and among is not None and found.id not in among:
        return None
    return found


def find_own_group(session: Session, actor: Actor, ref: str) -> TherapyGroup | None:
    """The group ``ref`` names if ``actor`` may act on it (see ``access``)."""
    return find_group(session, ref, among=team_group_ids(session, actor))


def _require_group(session: Session, ref: str, actor: Actor) -> TherapyGroup:
    return require_group(session, actor, find_own_group(session, actor, ref), ref)


def _split_group_prefix(
    session: Session,
    text: str,
    actor: Actor,
    *,
    trailing_ok: int | None = None,
) -> tuple[TherapyGroup, str] | None:
    """Find the longest leading run of words that names a group; return it and the rest.

    Group names may hold spaces and digits ("Shoulder Therapy 1"), so "Shoulder Therapy 1 7"
    is read as the group followed by 7. An explicit "|" after the group always wins.
    """
    among = team_group_ids(session, actor)
    if "|" in text:
        head, _, rest = text.partition("|")
        group = find_group(session, head, among=among)
        return (group, rest.strip()) if group else None
    words = text.split()
    for cut in range(len(words), 0, -1):
        trailing = words[cut:]
        if trailing_ok is not None and len(trailing) > trailing_ok:
            break
        group = find_group(session, " ".join(words[:cut]), among=among)
        if group is not None:
            return group, " ".join(trailing)
    return None


def check_group_name(name: str) -> str:
    """Return the cleaned name, or raise AuthoringError saying what is wrong with it."""
    cleaned = _clean(name)
    if not any(_visible(character) for character in cleaned):
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_MISSING))
    if len(cleaned) > MAX_GROUP_NAME:
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_TOO_LONG, most=MAX_GROUP_NAME))
    if "|" in cleaned or _RESERVED_NAME.fullmatch(cleaned):
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_RESERVED, name=cleaned))
    return cleaned


def _visible(character: str) -> bool:
    # Format characters (category Cf: U+200B zero-width space, U+2060 word joiner) draw
    # nothing: a name of only those would list as an empty line nobody can type.
    return not character.isspace() and unicodedata.category(character) != "Cf"


def split_zone(text: str) -> tuple[str, str | None]:
    """Split an optional trailing IANA zone ("Europe/London", any case) off a group name.

    A last word that looks like a zone but is none ("Europe/Nowhere") is refused: taken as
    part of the name, it would leave the group on the default zone without a word. A name
    whose last word holds a slash is written in quotes.
    """
    words = text.split()
    if len(words) < 2 or words[-1][-1] in _CLOSING_QUOTES:
        return text, None
    last = words[-1]
    if "/" not in last and last.casefold() not in ("utc", "gmt"):
        return text, None
    zone = normalise_zone(last)
    if zone is None:
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_UNKNOWN_ZONE, zone=last))
    return " ".join(words[:-1]), zone


def create_group(
    database: Database,
    now: datetime,
    default_zone: str,
    creator_id: int,
    creator_name: str,
    text: str,
    *,
    actor: Actor,
) -> GroupInfo:
    """Create a group ("NAME [ZONE]") with its creator on its care team."""
    raw_name, zone = split_zone(text)
    name = check_group_name(raw_name)
    with database.session() as session:
        existing = find_group(session, name)
        if existing is not None:
            if existing.id is not None and may_manage(session, actor, existing.id):
                raise AuthoringError(meaning(Kind.ADMIN_GROUP_EXISTS, name=name))
            # Another team's: "there is already a group called …" told a therapist that it
            # exists, a name that can say what its patients are treated for.
            raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_TAKEN))
        group = TherapyGroup(name=name, timezone=zone, created_at=now)
        session.add(group)
        person = _ensure_person(session, creator_id, creator_name, now)
        session.flush()
        assert group.id is not None and person.id is not None
        session.add(
            Membership(
                group_id=group.id, person_id=person.id, role=Role.THERAPIST.value, joined_at=now
            )
        )
        # The creator is on the new group's team: a therapist who is not an administrator
        # could otherwise not see the group they just made.
        join_team(session, now, group.id, person)
        after = {"name": group.name, "timezone": group.timezone}
        record(
            session,
            now,
            actor,
            AuditAction.GROUP_CREATED,
            ObjectKind.GROUP,
            group.id,
            group_id=group.id,
            after=after,
        )
        try:
            session.commit()
        except IntegrityError:
            # Another therapist created the same name at the same moment.
            raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_TAKEN)) from None
        return _group_info(group, default_zone)


def list_groups(
    database: Database,
    now: datetime,
    default_zone: str,
    config_user_ids: Iterable[int],
    *,
    actor: Actor,
) -> list[GroupSummary]:
    """The actor's groups with their members and deliveries: upcoming, open, completed.

    ``config_user_ids``: the administrators (``[therapists] user_ids``), who count on a team
    they are on, as therapists added with /addtherapist do."""
    with database.read_session() as session:
        allowed = team_group_ids(session, actor)
        groups = [
            group
            for group in session.exec(select(TherapyGroup).order_by(TherapyGroup.name)).all()
            if allowed is None or group.id in allowed
        ]
        members = Counter(
            (g, r) for g, r in session.exec(select(Membership.group_id, Membership.role)).all()
        )
        # The care team (``/team``) members who are still therapists: those who see the group
        # and get its alerts (``teams.team_chat_ids``' rule). A ``therapist`` membership names
        # only who made the group, so counted that way a team of two read "1 therapist".
        admins = set(config_user_ids)
        team = Counter(
            group_id
            for group_id, user_id, role in session.exec(
                select(GroupTherapist.group_id, Person.telegram_user_id, Person.role).join(
                    Person, col(Person.id) == GroupTherapist.person_id
                )
            ).all()
            if user_id in admins or role == Role.THERAPIST.value
        )
        tasks = Counter(
            session.exec(select(Task.group_id).where(col(Task.deleted_at).is_(None))).all()
        )
        statuses = session.exec(
            select(Task.group_id, Delivery.status, Delivery.due_at).join(
                Task, col(Task.id) == Delivery.task_id
            )
        ).all()
        upcoming: Counter[int] = Counter()
        open_: Counter[int] = Counter()
        completed: Counter[int] = Counter()
        for group_id, status, due_at in statuses:
            if status == DeliveryStatus.PENDING.value and due_at > now:
                upcoming[group_id] += 1
            elif status in (*OPEN_STATUSES, DeliveryStatus.PENDING, DeliveryStatus.SENDING):
                open_[group_id] += 1
            elif status == DeliveryStatus.COMPLETED.value:
                completed[group_id] += 1
        demo: defaultdict[int, list[str]] = defaultdict(list)
        for invite, _name in _active_demo_invites(session, now):
            demo[invite.group_id].append(invite.code)
        former: defaultdict[int, list[FormerTherapist]] = defaultdict(list)
        for membership, person in session.exec(
            select(Membership, Person)
            .join(Person, col(Person.id) == Membership.person_id)
            .where(Membership.role == Role.FORMER_THERAPIST.value)
            .order_by(col(Membership.ended_at))
        ).all():
            former[membership.group_id].append(
                FormerTherapist(
                    person.telegram_user_id or 0, person.display_name, membership.ended_at or now
                )
            )
        result = []
        for group in groups:
            assert group.id is not None
            result.append(
                GroupSummary(
                    group=_group_info(group, default_zone),
                    patients=members[(group.id, Role.PATIENT.value)],
                    therapists=team[group.id],
                    tasks=tasks[group.id],
                    upcoming=upcoming[group.id],
                    open=open_[group.id],
                    completed=completed[group.id],
                    demo_codes=tuple(demo[group.id]),
                    former_therapists=tuple(former[group.id]),
                )
            )
        return result


def group_names(database: Database, default_zone: str, *, actor: Actor) -> list[GroupInfo]:
    """The actor's groups, by name: the buttons of the /newtask dialogue."""
    with database.read_session() as session:
        allowed = team_group_ids(session, actor)
        groups = session.exec(select(TherapyGroup).order_by(TherapyGroup.name)).all()
        return [_group_info(g, default_zone) for g in groups if allowed is None or g.id in allowed]


def get_group(database: Database, default_zone: str, ref: str, *, actor: Actor) -> GroupInfo:
    with database.read_session() as session:
        return _group_info(_require_group(session, ref, actor), default_zone)


def group_patients(
    database: Database, default_zone: str, ref: str, *, actor: Actor
) -> PatientList:
    """The group's patients: name, when they joined, how many check-ins they have open."""
    with database.read_session() as session:
        group = _require_group(session, ref, actor)
        rows = session.exec(
            select(Person, Membership.joined_at, Membership.role)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(
                Membership.group_id == group.id,
                col(Membership.role).in_([Role.PATIENT.value, Role.ERASED.value]),
            )
            .order_by(col(Membership.joined_at), col(Person.id))
        ).all()
        open_counts = Counter(
            session.exec(
                select(Delivery.person_id)
                .join(Task, col(Task.id) == Delivery.task_id)
                .where(Task.group_id == group.id, col(Delivery.status).in_(OPEN_STATUSES))
            ).all()
        )
        patients = tuple(
            PatientRow(
                # 0 for an erased person, who has no id left (shown as deleted).
                telegram_user_id=person.telegram_user_id or 0,
                name=person.display_name,
                joined_at=joined_at,
                open_tasks=open_counts[person.id or 0],
                data_deleted=role == Role.ERASED.value or person.data_deleted_at is not None,
            )
            for person, joined_at, role in rows
        )
        return PatientList(_group_info(group, default_zone), patients)


def remove_patient(
    database: Database, now: datetime, default_zone: str, text: str, *, actor: Actor
) -> RemovedPatient:
    """Take a patient out of a group ("GROUP PATIENT"); their answers stay.

    The invites that exist now (links, the seeded code) no longer let them back into the
    group; one made after the removal does. Their check-ins for the group's tasks end: open
    ones are cancelled and ones not yet sent are deleted, so no prompt or reminder reaches
    someone no longer in the group, and one invited back is planned again.
    """
    with database.session() as session:
        split = _split_group_prefix(session, text, actor)
        if split is None or not split[1]:
            if split is None and find_own_group(session, actor, text) is None:
                raise not_your_group(session, actor, text)
            raise AuthoringError(meaning(Kind.ADMIN_USAGE_REMOVEPATIENT))
        group, patient_ref = split
        members = session.exec(
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.group_id == group.id, Membership.role == Role.PATIENT.value)
        ).all()
        patient_ref = _clean(patient_ref)
        # ASCII digits only: str.isdigit() also passes "²", which int() refuses.
        digits = patient_ref.removeprefix("-")
        if digits.isascii() and digits.isdigit():
            found = [(p, m) for p, m in members if p.telegram_user_id == int(patient_ref)]
        else:
            wanted = patient_ref.casefold()
            found = [
                (p, m) for p, m in members if " ".join(p.display_name.split()).casefold() == wanted
            ]
        if not found:
            raise AuthoringError(
                meaning(Kind.ADMIN_UNKNOWN_PATIENT, ref=patient_ref, group_name=group.name)
            )
        if len(found) > 1:
            ids = [p.telegram_user_id or 0 for p, _ in found]
            raise AuthoringError(meaning(Kind.ADMIN_AMBIGUOUS_PATIENT, ref=patient_ref, ids=ids))
        person, membership = found[0]
        # The row stays, ended: invites made before now no longer let them back in.
        membership.role = Role.REMOVED.value
        membership.ended_at = now
        task_ids = select(Task.id).where(Task.group_id == group.id)
        of_the_group = (
            col(Delivery.person_id) == person.id,
            col(Delivery.task_id).in_(task_ids),
        )
        # Rows not yet sent go, as on /stop: a cancelled one would hold its instant (the key
        # is unique), and a patient invited back would never be planned that check-in again.
        unsent = session.execute(
            delete(Delivery).where(
                *of_the_group, col(Delivery.status) == DeliveryStatus.PENDING.value
            )
        )
        ended = session.execute(
            update(Delivery)
            .where(
                *of_the_group,
                col(Delivery.status).in_([DeliveryStatus.SENDING, *OPEN_STATUSES]),
            )
            .values(status=DeliveryStatus.CANCELLED.value, finished_at=now, remind_at=None)
        )
        cancelled = sum(int(getattr(r, "rowcount", 0) or 0) for r in (unsent, ended))
        record(
            session,
            now,
            actor,
            AuditAction.PATIENT_REMOVED,
            ObjectKind.PERSON,
            person.id,
            group_id=group.id,
            before={"role": Role.PATIENT.value},
            after={"role": Role.REMOVED.value},
        )
        session.commit()
        return RemovedPatient(
            _group_info(group, default_zone),
            person.display_name,
            person.telegram_user_id or 0,
            cancelled,
            person.chat_id,
        )


# --- invites ------------------------------------------------------------------------------


def _invite_info(invite: Invite, group: TherapyGroup, default_zone: str) -> InviteInfo:
    return InviteInfo(
        code=invite.code,
        group=_group_info(group, default_zone),
        expires_at=invite.expires_at,
        max_uses=invite.max_uses,
        uses=invite.uses,
        revoked_at=invite.revoked_at,
    )


def create_invite(
    database: Database,
    now: datetime,
    default_zone: str,
    text: str,
    *,
    default_days: int,
    default_uses: int,
    actor: Actor,
) -> InviteInfo:
    """Make an invite code for "GROUP [DAYS] [USES]" (USES 0 means unlimited)."""
    with database.session() as session:
        split = _split_group_prefix(session, text, actor, trailing_ok=2)
        if split is None:
            raise AuthoringError(*_unknown_group_problems(session, text, actor))
        group, rest = split
        numbers = rest.split()
        if not all(n.isascii() and n.isdigit() for n in numbers):
            raise AuthoringError(meaning(Kind.ADMIN_USAGE_INVITE))
        days = int(numbers[0]) if numbers else default_days
        uses = int(numbers[1]) if len(numbers) > 1 else default_uses
        if uses > MAX_INTEGER:
            raise AuthoringError(meaning(Kind.ADMIN_USAGE_INVITE))
        if not 1 <= days <= MAX_INVITE_DAYS:
            raise AuthoringError(meaning(Kind.ADMIN_INVITE_BAD_DAYS, most=MAX_INVITE_DAYS))
        assert group.id is not None
        invite = Invite(
            code=new_invite_code(),
            group_id=group.id,
            expires_at=now + timedelta(days=days),
            max_uses=uses or None,
            created_at=now,
        )
        session.add(invite)
        session.flush()
        # Never the code itself: the trail is read by more people than may join the group.
        expires = invite.expires_at.isoformat() if invite.expires_at else None
        limits = {"expires_at": expires, "max_uses": invite.max_uses}
        record(
            session,
            now,
            actor,
            AuditAction.INVITE_CREATED,
            ObjectKind.INVITE,
            invite.id,
            group_id=group.id,
            after=limits,
        )
        session.commit()
        return _invite_info(invite, group, default_zone)


def new_invite_code() -> str:
    return secrets.token_urlsafe(INVITE_TOKEN_BYTES)


def revoke_invite(
    database: Database, now: datetime, default_zone: str, code: str, *, actor: Actor
) -> InviteInfo:
    """Stop an invite code from working; revoking twice keeps the first time."""
    code = code.strip()
    # A therapist may paste the whole link rather than the code.
    code = code.rsplit("start=", 1)[-1]
    with database.session() as session:
        invite = session.exec(
            select(Invite).where(func.lower(col(Invite.code)) == code.lower())
        ).first()
        if invite is None or not may_manage(session, actor, invite.group_id):
            # Another team's code is refused as if unknown: saying more would confirm it.
            raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_INVITE, code=code))
        revoked_before = invite.revoked_at is not None
        if not revoked_before:
            invite.revoked_at = now
            record(
                session,
                now,
                actor,
                AuditAction.INVITE_REVOKED,
                ObjectKind.INVITE,
                invite.id,
                group_id=invite.group_id,
                before={"revoked_at": None},
                after={"revoked_at": now.isoformat()},
            )
            session.commit()
        group = session.get(TherapyGroup, invite.group_id)
        assert group is not None
        return dataclasses.replace(
            _invite_info(invite, group, default_zone), revoked_before=revoked_before
        )


def _unknown_group_problems(session: Session, ref: str, actor: Actor) -> list[Meaning]:
    return not_your_group(session, actor, ref).problems
