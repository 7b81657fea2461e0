"""Therapists, groups, invites, tasks and questions: the use cases behind the admin commands.

Each use case takes the database and ``now``, runs in one transaction and returns frozen
dataclasses. A request a therapist can fix raises :class:`AuthoringError` carrying what is
wrong and the values involved (``Meaning``); the handler has ``bot.texts`` word and send them.

Who may call these is decided by the handlers (``is_therapist``); every therapist may administer
every group, as in a single clinic.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.services.meaning import Kind, Meaning, meaning
from bot.services.planning import plan_task, replan_task
from bot.services.responses import (
    ALERT_TYPES,
    AlertRuleError,
    QuestionRules,
    ResponseType,
    format_alert_rule,
    parse_alert_rule,
    parse_number,
)
from bot.services.schedule import (
    local_to_utc,
    next_due,
    parse_recurrence_text,
    parse_when,
)
from storage.db import Database
from storage.models import (
    MAX_INTEGER,
    OPEN_STATUSES,
    Delivery,
    DeliveryStatus,
    Invite,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
    split_name,
)

MAX_GROUP_NAME = 200
MAX_TITLE = 200
MAX_DESCRIPTION = 1000
MAX_LINK = 500
MAX_TEXT_LIMIT = 4000
MAX_QUESTIONS = 30
MAX_INVITE_DAYS = 365
# secrets.token_urlsafe(16): 128 random bits in 22 characters of [A-Za-z0-9_-], well within
# the 64 characters a deep-link start parameter may have.
INVITE_TOKEN_BYTES = 16

# Reserved so /report can tell a task ("#12", "task 12") from a group, and a bare number
# always means a group id.
_RESERVED_NAME = re.compile(r"[0-9]+|#.*|task\s+#?[0-9]+", re.IGNORECASE)
_RANGE = re.compile(r"\s*(\S+?)\s*(?:\.\.|–|—|\bto\b|-)\s*(\S+)\s*", re.IGNORECASE)
_TYPE_ALIASES = {
    "text": ResponseType.TEXT,
    "number": ResponseType.NUMBER,
    "num": ResponseType.NUMBER,
    "yes_no": ResponseType.YES_NO,
    "yes/no": ResponseType.YES_NO,
    "yesno": ResponseType.YES_NO,
    "yn": ResponseType.YES_NO,
    "scale": ResponseType.SCALE,
    "choice": ResponseType.CHOICE,
    "photo": ResponseType.PHOTO,
    "video": ResponseType.VIDEO,
}


class AuthoringError(Exception):
    """A request the therapist can fix; each problem says what is wrong and with which values.

    The rendering floor (``bot.texts.words``) words each one; the handler only sends them.
    """

    def __init__(self, *problems: Meaning) -> None:
        super().__init__(*problems)
        self.problems = list(problems)


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    zone: str  # the group's own IANA zone, or the configured default


@dataclass(frozen=True)
class GroupSummary:
    group: GroupInfo
    patients: int
    therapists: int
    tasks: int
    upcoming: int  # pending rows not yet due
    open: int  # prompts out, not finished
    completed: int
    # Seeded codes short enough to guess that still let people in (see ``active_demo_codes``).
    demo_codes: tuple[str, ...] = ()
    # Therapists whose place here ended because their id left the configuration.
    former_therapists: tuple[FormerTherapist, ...] = ()


@dataclass(frozen=True)
class FormerTherapist:
    telegram_user_id: int
    name: str
    ended_at: datetime


@dataclass(frozen=True)
class EndedTherapist:
    """A therapist no longer configured whose group places were ended (or, back, restored)."""

    telegram_user_id: int
    groups: tuple[str, ...]


@dataclass(frozen=True)
class TherapistPlaces:
    ended: tuple[EndedTherapist, ...]
    restored: tuple[EndedTherapist, ...]


@dataclass(frozen=True)
class DemoCode:
    code: str
    group: str


@dataclass(frozen=True)
class PatientRow:
    telegram_user_id: int
    name: str
    joined_at: datetime
    open_tasks: int
    data_deleted: bool


@dataclass(frozen=True)
class PatientList:
    group: GroupInfo
    patients: tuple[PatientRow, ...]


@dataclass(frozen=True)
class RemovedPatient:
    group: GroupInfo
    name: str
    telegram_user_id: int
    cancelled: int


@dataclass(frozen=True)
class InviteInfo:
    code: str
    group: GroupInfo
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    revoked_at: datetime | None


@dataclass(frozen=True)
class TherapistChange:
    telegram_user_id: int
    chat_id: int
    changed: bool


@dataclass(frozen=True)
class QuestionDraft:
    """A question as the therapist described it; validated by :func:`build_question`."""

    description: str
    response_type: ResponseType
    link: str | None = None
    options: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    integer_only: bool = False
    max_length: int | None = None
    required: bool = True
    alert_rule: str | None = None

    def rules(self) -> QuestionRules:
        return QuestionRules(
            response_type=self.response_type,
            options=self.options,
            min_value=self.min_value,
            max_value=self.max_value,
            integer_only=self.integer_only,
            max_length=self.max_length,
            required=self.required,
        )


@dataclass(frozen=True)
class TaskDraft:
    group_id: int
    title: str
    due_date: date
    due_time: time
    recurrence: str | None
    questions: tuple[QuestionDraft, ...]
    expiry_minutes: int | None = None  # None: the configured default


@dataclass(frozen=True)
class QuestionView:
    id: int
    position: int
    description: str
    link: str | None
    rules: QuestionRules
    alert_rule: str | None
    removed: bool


@dataclass(frozen=True)
class TaskSaved:
    task_id: int
    title: str
    group: GroupInfo
    due_date: date
    due_time: time
    recurrence: str | None
    next_due: datetime | None  # UTC, in the group's zone
    planned: int
    questions: int


@dataclass(frozen=True)
class TaskSummary:
    id: int
    title: str
    group: GroupInfo
    recurrence: str | None
    next_due: datetime | None
    questions: int
    completed: int
    due: int  # deliveries already due (not cancelled)


@dataclass(frozen=True)
class TaskDetails:
    id: int
    title: str
    group: GroupInfo
    due_date: date
    due_time: time
    recurrence: str | None
    expiry_minutes: int
    next_due: datetime | None
    deleted: bool
    questions: tuple[QuestionView, ...]
    status_counts: dict[str, int] = field(default_factory=dict)
    patients: int = 0

    @property
    def active_questions(self) -> tuple[QuestionView, ...]:
        return tuple(q for q in self.questions if not q.removed)


@dataclass(frozen=True)
class TaskChanged:
    task_id: int
    title: str
    group: GroupInfo
    due_date: date
    due_time: time
    recurrence: str | None
    next_due: datetime | None
    cancelled: int  # pending deliveries dropped
    added: int  # pending deliveries planned again


@dataclass(frozen=True)
class QuestionsChanged:
    task_id: int
    title: str
    positions: tuple[int, ...]
    active: int


@dataclass(frozen=True)
class TaskDeleted:
    task_id: int
    title: str
    group: GroupInfo
    cancelled_pending: int
    cancelled_open: int


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
        if chat not in ids:
            ids.append(chat)
    return ids


def add_therapist(
    database: Database, now: datetime, config_user_ids: Iterable[int], user_id: int
) -> TherapistChange:
    """Make a Telegram user a therapist (stored); say so when they already are one."""
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
        session.commit()
        return TherapistChange(user_id, person.chat_id or user_id, changed=True)


def remove_therapist(
    database: Database, config_user_ids: Iterable[int], user_id: int
) -> TherapistChange:
    """Take a stored therapist's rights away, and their place as a group's therapist."""
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


# --- groups -------------------------------------------------------------------------------


def _group_info(group: TherapyGroup, default_zone: str) -> GroupInfo:
    assert group.id is not None
    return GroupInfo(group.id, group.name, group.timezone or default_zone)


def _clean(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'“«" and text[-1] in "\"'”»":
        text = text[1:-1]
    return " ".join(text.split())


def find_group(session: Session, ref: str) -> TherapyGroup | None:
    """A group by numeric id, or by name ignoring case and spacing."""
    ref = _clean(ref)
    if not ref:
        return None
    if ref.isascii() and ref.isdigit():
        number = int(ref)
        return session.get(TherapyGroup, number) if number <= MAX_INTEGER else None
    wanted = ref.casefold()
    for group in session.exec(select(TherapyGroup)).all():
        if " ".join(group.name.split()).casefold() == wanted:
            return group
    return None


def _require_group(session: Session, ref: str) -> TherapyGroup:
    group = find_group(session, ref)
    if group is None:
        names = [g.name for g in session.exec(select(TherapyGroup).order_by(TherapyGroup.name))]
        raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_GROUP, ref=ref, names=names))
    return group


def _split_group_prefix(
    session: Session, text: str, *, trailing_ok: int | None = None
) -> tuple[TherapyGroup, str] | None:
    """Find the longest leading run of words that names a group; return it and the rest.

    Group names may hold spaces and digits ("Shoulder Therapy 1"), so "Shoulder Therapy 1 7"
    is read as the group followed by 7. An explicit "|" after the group always wins.
    """
    if "|" in text:
        head, _, rest = text.partition("|")
        group = find_group(session, head)
        return (group, rest.strip()) if group else None
    words = text.split()
    for cut in range(len(words), 0, -1):
        trailing = words[cut:]
        if trailing_ok is not None and len(trailing) > trailing_ok:
            break
        group = find_group(session, " ".join(words[:cut]))
        if group is not None:
            return group, " ".join(trailing)
    return None


def check_group_name(name: str) -> str:
    """Return the cleaned name, or raise AuthoringError saying what is wrong with it."""
    cleaned = _clean(name)
    if not cleaned:
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_MISSING))
    if len(cleaned) > MAX_GROUP_NAME:
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_TOO_LONG, most=MAX_GROUP_NAME))
    if "|" in cleaned or _RESERVED_NAME.fullmatch(cleaned):
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_NAME_RESERVED, name=cleaned))
    return cleaned


def split_zone(text: str) -> tuple[str, str | None]:
    """Split an optional trailing IANA zone ("Europe/London") off a group name."""
    words = text.split()
    if len(words) >= 2 and ("/" in words[-1] or words[-1].upper() == "UTC"):
        try:
            ZoneInfo(words[-1])
        except (ZoneInfoNotFoundError, ValueError):
            return text, None
        return " ".join(words[:-1]), words[-1]
    return text, None


def create_group(
    database: Database,
    now: datetime,
    default_zone: str,
    creator_id: int,
    creator_name: str,
    text: str,
) -> GroupInfo:
    """Create a group ("NAME [ZONE]") with its creator as the group's therapist."""
    raw_name, zone = split_zone(text)
    name = check_group_name(raw_name)
    with database.session() as session:
        if find_group(session, name) is not None:
            raise AuthoringError(meaning(Kind.ADMIN_GROUP_EXISTS, name=name))
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
        try:
            session.commit()
        except IntegrityError:
            # Another therapist created the same name at the same moment.
            raise AuthoringError(meaning(Kind.ADMIN_GROUP_EXISTS, name=name)) from None
        return _group_info(group, default_zone)


def list_groups(database: Database, now: datetime, default_zone: str) -> list[GroupSummary]:
    """Every group with its members and its deliveries: upcoming, open, completed."""
    with database.read_session() as session:
        groups = session.exec(select(TherapyGroup).order_by(TherapyGroup.name)).all()
        members = Counter(
            (g, r) for g, r in session.exec(select(Membership.group_id, Membership.role)).all()
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
                    person.telegram_user_id, person.display_name, membership.ended_at or now
                )
            )
        result = []
        for group in groups:
            assert group.id is not None
            result.append(
                GroupSummary(
                    group=_group_info(group, default_zone),
                    patients=members[(group.id, Role.PATIENT.value)],
                    therapists=members[(group.id, Role.THERAPIST.value)],
                    tasks=tasks[group.id],
                    upcoming=upcoming[group.id],
                    open=open_[group.id],
                    completed=completed[group.id],
                    demo_codes=tuple(demo[group.id]),
                    former_therapists=tuple(former[group.id]),
                )
            )
        return result


def group_names(database: Database, default_zone: str) -> list[GroupInfo]:
    """Every group, by name: the buttons of the /newtask dialogue."""
    with database.read_session() as session:
        groups = session.exec(select(TherapyGroup).order_by(TherapyGroup.name)).all()
        return [_group_info(g, default_zone) for g in groups]


def get_group(database: Database, default_zone: str, ref: str) -> GroupInfo:
    with database.read_session() as session:
        return _group_info(_require_group(session, ref), default_zone)


def group_patients(database: Database, default_zone: str, ref: str) -> PatientList:
    """The group's patients: name, when they joined, how many check-ins they have open."""
    with database.read_session() as session:
        group = _require_group(session, ref)
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
                telegram_user_id=person.telegram_user_id,
                name=person.display_name,
                joined_at=joined_at,
                open_tasks=open_counts[person.id or 0],
                data_deleted=role == Role.ERASED.value or person.data_deleted_at is not None,
            )
            for person, joined_at, role in rows
        )
        return PatientList(_group_info(group, default_zone), patients)


def remove_patient(
    database: Database, now: datetime, default_zone: str, text: str
) -> RemovedPatient:
    """Take a patient out of a group ("GROUP PATIENT"); their answers stay.

    The invites that exist now (links, the seeded code) no longer let them back into the
    group; one made after the removal does. Their pending and open check-ins for the group's
    tasks are cancelled, so no prompt or reminder reaches someone no longer in the group.
    """
    with database.session() as session:
        split = _split_group_prefix(session, text)
        if split is None or not split[1]:
            if split is None and find_group(session, text) is None:
                names = [g.name for g in session.exec(select(TherapyGroup))]
                raise AuthoringError(
                    meaning(Kind.ADMIN_UNKNOWN_GROUP, ref=text, names=sorted(names))
                )
            raise AuthoringError(meaning(Kind.ADMIN_USAGE_REMOVEPATIENT))
        group, patient_ref = split
        members = session.exec(
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(Membership.group_id == group.id, Membership.role == Role.PATIENT.value)
        ).all()
        patient_ref = _clean(patient_ref)
        if patient_ref.lstrip("-").isdigit():
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
            ids = [p.telegram_user_id for p, _ in found]
            raise AuthoringError(meaning(Kind.ADMIN_AMBIGUOUS_PATIENT, ref=patient_ref, ids=ids))
        person, membership = found[0]
        # The row stays, ended: invites made before now no longer let them back in.
        membership.role = Role.REMOVED.value
        membership.ended_at = now
        task_ids = select(Task.id).where(Task.group_id == group.id)
        result = session.execute(
            update(Delivery)
            .where(
                col(Delivery.person_id) == person.id,
                col(Delivery.task_id).in_(task_ids),
                col(Delivery.status).in_(
                    [DeliveryStatus.PENDING, DeliveryStatus.SENDING, *OPEN_STATUSES]
                ),
            )
            .values(status=DeliveryStatus.CANCELLED.value, finished_at=now, remind_at=None)
        )
        cancelled = int(getattr(result, "rowcount", 0) or 0)
        session.commit()
        return RemovedPatient(
            _group_info(group, default_zone),
            person.display_name,
            person.telegram_user_id,
            cancelled,
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
) -> InviteInfo:
    """Make an invite code for "GROUP [DAYS] [USES]" (USES 0 means unlimited)."""
    with database.session() as session:
        split = _split_group_prefix(session, text, trailing_ok=2)
        if split is None:
            raise AuthoringError(*_unknown_group_problems(session, text))
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
        session.commit()
        return _invite_info(invite, group, default_zone)


def new_invite_code() -> str:
    return secrets.token_urlsafe(INVITE_TOKEN_BYTES)


def revoke_invite(database: Database, now: datetime, default_zone: str, code: str) -> InviteInfo:
    """Stop an invite code from working; revoking twice keeps the first time."""
    code = code.strip()
    # A therapist may paste the whole link rather than the code.
    code = code.rsplit("start=", 1)[-1]
    with database.session() as session:
        invite = session.exec(
            select(Invite).where(func.lower(col(Invite.code)) == code.lower())
        ).first()
        if invite is None:
            raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_INVITE, code=code))
        if invite.revoked_at is None:
            invite.revoked_at = now
            session.commit()
        group = session.get(TherapyGroup, invite.group_id)
        assert group is not None
        return _invite_info(invite, group, default_zone)


def _unknown_group_problems(session: Session, ref: str) -> list[Meaning]:
    names = [g.name for g in session.exec(select(TherapyGroup).order_by(TherapyGroup.name))]
    return [meaning(Kind.ADMIN_UNKNOWN_GROUP, ref=ref, names=names)]


# --- parsing what a therapist types --------------------------------------------------------


def group_today(zone: str, now: datetime) -> date:
    """The group's local date, against which "tomorrow 10:00" is read."""
    return now.astimezone(ZoneInfo(zone)).date()


def parse_due(text: str, zone: str, now: datetime) -> tuple[date, time]:
    """Read a due date and time in the group's zone; it must not be in the past."""
    try:
        due_date, due_time = parse_when(text, group_today(zone, now))
    except ValueError as error:
        raise AuthoringError(meaning(Kind.RULE_PROBLEM, reason=str(error))) from None
    if local_to_utc(due_date, due_time, ZoneInfo(zone)) <= now:
        raise AuthoringError(meaning(Kind.ADMIN_DUE_IN_PAST, day=due_date, at=due_time, zone=zone))
    return due_date, due_time


def parse_repeat(text: str) -> str | None:
    """Read a repetition ("daily", "mon,wed,fri x6", ...) into the stored rule."""
    try:
        return parse_recurrence_text(text)
    except ValueError as error:
        raise AuthoringError(meaning(Kind.RULE_PROBLEM, reason=str(error))) from None


def check_title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise AuthoringError(meaning(Kind.ADMIN_TITLE_MISSING))
    if len(title) > MAX_TITLE:
        raise AuthoringError(meaning(Kind.ADMIN_TITLE_TOO_LONG, length=len(title), most=MAX_TITLE))
    return title


def check_description(text: str) -> str:
    description = text.strip()
    if not description:
        raise AuthoringError(meaning(Kind.ADMIN_DESCRIPTION_MISSING))
    if len(description) > MAX_DESCRIPTION:
        raise AuthoringError(
            meaning(Kind.ADMIN_DESCRIPTION_TOO_LONG, length=len(description), most=MAX_DESCRIPTION)
        )
    return description


def parse_link(text: str) -> str:
    """An http(s) address with a host, as a patient's button can open it."""
    link = text.strip()
    parts = urlsplit(link)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(link) > MAX_LINK
        or any(c.isspace() for c in link)
    ):
        raise AuthoringError(meaning(Kind.ADMIN_BAD_LINK, link=link))
    return link


def parse_response_type(text: str) -> ResponseType:
    kind = _TYPE_ALIASES.get(" ".join(text.split()).casefold().replace(" ", "_"))
    if kind is None:
        raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_TYPE, text=text.strip()))
    return kind


def parse_options(text: str) -> tuple[str, ...]:
    options = tuple(" ".join(o.split()) for o in text.split(","))
    problems = QuestionRules(ResponseType.CHOICE, options=options).validate()
    if problems:
        raise AuthoringError(*problems, meaning(Kind.ADMIN_OPTIONS_HINT))
    return options


def parse_bounds(text: str, kind: ResponseType) -> tuple[float, float]:
    """Read "0-50" (also "0 to 50", "0..50", "-5 - 5") and check it for the response type."""
    match = _RANGE.fullmatch(text)
    lo = parse_number(match[1]) if match else None
    hi = parse_number(match[2]) if match else None
    if lo is None or hi is None:
        raise AuthoringError(meaning(Kind.ADMIN_BAD_BOUNDS, text=text.strip()))
    problems = QuestionRules(kind, min_value=lo, max_value=hi).validate()
    if problems:
        raise AuthoringError(*problems)
    return lo + 0.0, hi + 0.0


def parse_max_length(text: str) -> int:
    value = text.strip().lower().removeprefix("max").strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_TEXT_LIMIT:
        raise AuthoringError(meaning(Kind.ADMIN_BAD_MAX_LENGTH, most=MAX_TEXT_LIMIT))
    return int(value)


def parse_alert(text: str, draft: QuestionDraft) -> str:
    """Read an alert rule for the question and return its stored form (">= 8")."""
    try:
        return format_alert_rule(parse_alert_rule(text, draft.rules()))
    except AlertRuleError as error:
        raise AuthoringError(error.problem) from None


def check_question(draft: QuestionDraft) -> QuestionDraft:
    """Validate a finished question; raise AuthoringError with every problem."""
    problems = draft.rules().validate()
    if draft.alert_rule is not None and not problems:
        try:
            parse_alert_rule(draft.alert_rule, draft.rules())
        except AlertRuleError as error:
            problems.append(error.problem)
    if problems:
        raise AuthoringError(*problems)
    return draft


def parse_question_line(text: str) -> QuestionDraft:
    """Read one question of the one-line form: "TEXT ; TYPE ; extras...".

    Extras may come in any order and are told apart by their shape: an http(s) address is the
    link, "optional" makes the question optional, a comparison (">= 8", "== no") is the alert,
    "whole" allows whole numbers only, "max 500" limits a text answer, a range ("0-50") bounds
    a number or scale, and for a choice question the comma-separated list is the options.
    """
    parts = [p.strip() for p in text.split(";")]
    if len(parts) < 2 or not parts[0]:
        raise AuthoringError(meaning(Kind.ADMIN_LINE_QUESTION_SHAPE))
    description = check_description(parts[0])
    kind = parse_response_type(parts[1])
    draft = QuestionDraft(description=description, response_type=kind)
    alert_text: str | None = None
    problems: list[Meaning] = []
    for extra in parts[2:]:
        if not extra:
            continue
        lowered = extra.casefold()
        try:
            if lowered.startswith(("http://", "https://")):
                draft = replace(draft, link=parse_link(extra))
            elif lowered in ("optional", "opt"):
                draft = replace(draft, required=False)
            elif lowered in ("required", "req"):
                draft = replace(draft, required=True)
            elif extra[0] in "<>=!≥≤≠":
                alert_text = extra
            elif lowered in ("whole", "integer", "whole numbers") and kind == ResponseType.NUMBER:
                draft = replace(draft, integer_only=True)
            elif lowered.startswith("max") and kind == ResponseType.TEXT:
                draft = replace(draft, max_length=parse_max_length(extra))
            elif kind in (ResponseType.NUMBER, ResponseType.SCALE):
                lo, hi = parse_bounds(extra, kind)
                draft = replace(draft, min_value=lo, max_value=hi)
            elif kind == ResponseType.CHOICE and not draft.options:
                draft = replace(draft, options=parse_options(extra))
            else:
                problems.append(meaning(Kind.ADMIN_LINE_UNKNOWN_EXTRA, extra=extra))
        except AuthoringError as error:
            problems.extend(error.problems)
    if kind == ResponseType.CHOICE and not draft.options and not problems:
        problems.append(meaning(Kind.ADMIN_LINE_CHOICE_NEEDS_OPTIONS))
    if draft.integer_only and not problems:
        problems.extend(draft.rules().validate())
    if alert_text is not None and not problems:
        try:
            draft = replace(draft, alert_rule=parse_alert(alert_text, draft))
        except AuthoringError as error:
            problems.extend(error.problems)
    if problems:
        raise AuthoringError(*problems)
    return draft


# --- tasks --------------------------------------------------------------------------------


def _task_next_due(task: Task, zone: str, now: datetime) -> datetime | None:
    if task.deleted_at is not None:
        return None
    return next_due(task.due_date, task.due_time, task.recurrence, ZoneInfo(zone), now)


def require_task(session: Session, task_id: int, *, allow_deleted: bool = False) -> Task:
    """The task numbered ``task_id``, or the error a therapist reads for an unknown one."""
    # An id past the column's range is unknown too, and must not reach the database.
    task = session.get(Task, task_id) if task_id <= MAX_INTEGER else None
    if task is None:
        raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_TASK, task_id=task_id))
    if task.deleted_at is not None and not allow_deleted:
        raise AuthoringError(meaning(Kind.ADMIN_TASK_DELETED, task_id=task_id, title=task.title))
    return task


def _group_of(session: Session, task: Task) -> TherapyGroup:
    group = session.get(TherapyGroup, task.group_id)
    assert group is not None
    return group


def _add_question_rows(
    session: Session, task_id: int, drafts: Sequence[QuestionDraft], start: int
) -> list[int]:
    positions = []
    for offset, draft in enumerate(drafts):
        position = start + offset
        session.add(
            Question(
                task_id=task_id,
                position=position,
                description=draft.description,
                link=draft.link,
                response_type=draft.response_type.value,
                options=list(draft.options) or None,
                min_value=draft.min_value,
                max_value=draft.max_value,
                integer_only=draft.integer_only,
                max_length=draft.max_length,
                required=draft.required,
                alert_rule=draft.alert_rule,
            )
        )
        positions.append(position)
    return positions


def create_task(
    database: Database,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    draft: TaskDraft,
) -> TaskSaved:
    """Store a task and its questions and plan every patient's first check-in."""
    with database.session() as session:
        saved = _create_task(session, now, default_zone, default_expiry_minutes, draft)
        session.commit()
        return saved


def add_task_from_line(
    database: Database,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    text: str,
) -> TaskSaved:
    """Read the one-line form and store the task it describes, in one transaction."""
    with database.session() as session:
        draft = _parse_task_line(session, now, default_zone, text)
        saved = _create_task(session, now, default_zone, default_expiry_minutes, draft)
        session.commit()
        return saved


def _create_task(
    session: Session,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    draft: TaskDraft,
) -> TaskSaved:
    title = check_title(draft.title)
    if not draft.questions:
        raise AuthoringError(meaning(Kind.ADMIN_TASK_NEEDS_QUESTION))
    if len(draft.questions) > MAX_QUESTIONS:
        raise AuthoringError(meaning(Kind.ADMIN_TOO_MANY_QUESTIONS, most=MAX_QUESTIONS))
    for question in draft.questions:
        check_question(question)
    group = session.get(TherapyGroup, draft.group_id)
    if group is None:
        raise AuthoringError(meaning(Kind.ADMIN_GROUP_GONE))
    info = _group_info(group, default_zone)
    task = Task(
        group_id=info.id,
        title=title,
        due_date=draft.due_date,
        due_time=draft.due_time,
        recurrence=draft.recurrence,
        expiry_minutes=draft.expiry_minutes or default_expiry_minutes,
        created_at=now,
    )
    upcoming = _task_next_due(task, info.zone, now)
    if upcoming is None:
        raise AuthoringError(meaning(Kind.ADMIN_NEVER_DUE))
    session.add(task)
    session.flush()
    assert task.id is not None
    _add_question_rows(session, task.id, draft.questions, 1)
    session.flush()
    planned = plan_task(session, task, now, default_zone)
    return TaskSaved(
        task_id=task.id,
        title=task.title,
        group=info,
        due_date=task.due_date,
        due_time=task.due_time,
        recurrence=task.recurrence,
        next_due=upcoming,
        planned=planned,
        questions=len(draft.questions),
    )


def parse_task_line(database: Database, now: datetime, default_zone: str, text: str) -> TaskDraft:
    """Read the one-line form "GROUP | TITLE | WHEN | REPEAT | Q1 | Q2 ..." into a draft.

    Fields are separated by "|" or by line breaks; each question is "TEXT ; TYPE ; extras"
    (see :func:`parse_question_line`). Every problem is reported, each naming its field.
    """
    with database.read_session() as session:
        return _parse_task_line(session, now, default_zone, text)


def _parse_task_line(session: Session, now: datetime, default_zone: str, text: str) -> TaskDraft:
    separator = "|" if "|" in text else "\n"
    fields = [f.strip() for f in text.split(separator) if f.strip()]
    if len(fields) < 5:
        raise AuthoringError(meaning(Kind.ADMIN_LINE_TOO_SHORT))
    group_ref, title_text, when_text, repeat_text, *question_texts = fields
    problems: list[Meaning] = []
    group = find_group(session, group_ref)
    if group is None:
        problems.extend(_unknown_group_problems(session, group_ref))
    info = _group_info(group, default_zone) if group else None
    try:
        title = check_title(title_text)
    except AuthoringError as error:
        problems.extend(
            meaning(Kind.ADMIN_LINE_FIELD, name="title", problem=p) for p in error.problems
        )
        title = ""
    due: tuple[date, time] | None = None
    if info is not None:
        try:
            due = parse_when(when_text, group_today(info.zone, now))
        except ValueError as error:
            problems.append(
                meaning(
                    Kind.ADMIN_LINE_FIELD,
                    name="when",
                    problem=meaning(Kind.RULE_PROBLEM, reason=str(error)),
                )
            )
    recurrence: str | None = None
    try:
        recurrence = parse_repeat(repeat_text)
    except AuthoringError as error:
        problems.extend(
            meaning(Kind.ADMIN_LINE_FIELD, name="repeat", problem=p) for p in error.problems
        )
    questions: list[QuestionDraft] = []
    for number, question_text in enumerate(question_texts, 1):
        try:
            questions.append(parse_question_line(question_text))
        except AuthoringError as error:
            problems.extend(
                meaning(Kind.ADMIN_LINE_FIELD, name=f"Q{number}", problem=p)
                for p in error.problems
            )
    if len(question_texts) > MAX_QUESTIONS:
        problems.append(meaning(Kind.ADMIN_TOO_MANY_QUESTIONS, most=MAX_QUESTIONS))
    if info is not None and due is not None and not problems:
        upcoming = next_due(due[0], due[1], recurrence, ZoneInfo(info.zone), now)
        if upcoming is None:
            problems.append(
                meaning(Kind.ADMIN_LINE_FIELD, name="when", problem=meaning(Kind.ADMIN_NEVER_DUE))
            )
    if problems:
        raise AuthoringError(*problems)
    assert info is not None and due is not None
    return TaskDraft(
        group_id=info.id,
        title=title,
        due_date=due[0],
        due_time=due[1],
        recurrence=recurrence,
        questions=tuple(questions),
    )


def _due_counts(session: Session, task_ids: Sequence[int], now: datetime) -> Counter[str]:
    return Counter(
        f"{task_id}:{status}"
        for task_id, status in session.exec(
            select(Delivery.task_id, Delivery.status).where(
                col(Delivery.task_id).in_(task_ids), col(Delivery.due_at) <= now
            )
        ).all()
    )


def list_tasks(
    database: Database, now: datetime, default_zone: str, group_ref: str | None
) -> tuple[GroupInfo | None, list[TaskSummary]]:
    """The live tasks of one group (or all), with their next due time and completion."""
    with database.read_session() as session:
        group = _require_group(session, group_ref) if group_ref else None
        query = select(Task).where(col(Task.deleted_at).is_(None))
        if group is not None:
            query = query.where(Task.group_id == group.id)
        tasks = session.exec(query.order_by(col(Task.group_id), col(Task.id))).all()
        groups = {g.id: g for g in session.exec(select(TherapyGroup)).all()}
        task_ids = [t.id for t in tasks if t.id is not None]
        question_counts = Counter(
            session.exec(
                select(Question.task_id).where(
                    col(Question.task_id).in_(task_ids), col(Question.removed_at).is_(None)
                )
            ).all()
        )
        counts = _due_counts(session, task_ids, now)
        result = []
        for task in tasks:
            assert task.id is not None
            info = _group_info(groups[task.group_id], default_zone)
            due = sum(
                n
                for key, n in counts.items()
                if key.startswith(f"{task.id}:") and not key.endswith(":cancelled")
            )
            result.append(
                TaskSummary(
                    id=task.id,
                    title=task.title,
                    group=info,
                    recurrence=task.recurrence,
                    next_due=_task_next_due(task, info.zone, now),
                    questions=question_counts[task.id],
                    completed=counts[f"{task.id}:{DeliveryStatus.COMPLETED.value}"],
                    due=due,
                )
            )
        return (_group_info(group, default_zone) if group else None), result


def _question_view(question: Question) -> QuestionView:
    assert question.id is not None
    return QuestionView(
        id=question.id,
        position=question.position,
        description=question.description,
        link=question.link,
        rules=QuestionRules(
            response_type=ResponseType(question.response_type),
            options=tuple(question.options or ()),
            min_value=question.min_value,
            max_value=question.max_value,
            integer_only=question.integer_only,
            max_length=question.max_length,
            required=question.required,
        ),
        alert_rule=question.alert_rule,
        removed=question.removed_at is not None,
    )


def task_details(
    database: Database, now: datetime, default_zone: str, task_id: int
) -> TaskDetails:
    """A task with all its questions and how its check-ins stand so far."""
    with database.read_session() as session:
        task = require_task(session, task_id, allow_deleted=True)
        return _details(session, task, now, default_zone)


def _details(session: Session, task: Task, now: datetime, default_zone: str) -> TaskDetails:
    assert task.id is not None
    info = _group_info(_group_of(session, task), default_zone)
    questions = session.exec(
        select(Question).where(Question.task_id == task.id).order_by(col(Question.position))
    ).all()
    statuses = session.exec(
        select(Delivery.status, Delivery.due_at, Delivery.person_id).where(
            Delivery.task_id == task.id
        )
    ).all()
    counts: Counter[str] = Counter()
    for status, due_at, _person in statuses:
        if status == DeliveryStatus.PENDING.value and due_at > now:
            counts["upcoming"] += 1
        else:
            counts[status] += 1
    patients = session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.group_id == task.group_id, Membership.role == Role.PATIENT.value)
    ).one()
    return TaskDetails(
        id=task.id,
        title=task.title,
        group=info,
        due_date=task.due_date,
        due_time=task.due_time,
        recurrence=task.recurrence,
        expiry_minutes=task.expiry_minutes,
        next_due=_task_next_due(task, info.zone, now),
        deleted=task.deleted_at is not None,
        questions=tuple(_question_view(q) for q in questions),
        status_counts=dict(counts),
        patients=int(patients),
    )


def _changed(
    task: Task, group: GroupInfo, now: datetime, cancelled: int, added: int
) -> TaskChanged:
    assert task.id is not None
    return TaskChanged(
        task_id=task.id,
        title=task.title,
        group=group,
        due_date=task.due_date,
        due_time=task.due_time,
        recurrence=task.recurrence,
        next_due=_task_next_due(task, group.zone, now),
        cancelled=cancelled,
        added=added,
    )


def change_due(
    database: Database,
    now: datetime,
    default_zone: str,
    task_id: int,
    due_date: date,
    due_time: time,
) -> TaskChanged:
    """Move a task's start date and time; pending check-ins are planned again."""
    with database.session() as session:
        task = require_task(session, task_id)
        info = _group_info(_group_of(session, task), default_zone)
        if next_due(due_date, due_time, task.recurrence, ZoneInfo(info.zone), now) is None:
            raise AuthoringError(meaning(Kind.ADMIN_NEVER_DUE))
        task.due_date, task.due_time = due_date, due_time
        session.flush()
        cancelled, added = replan_task(session, task, now, default_zone)
        session.commit()
        return _changed(task, info, now, cancelled, added)


def change_repeat(
    database: Database, now: datetime, default_zone: str, task_id: int, recurrence: str | None
) -> TaskChanged:
    """Change how a task repeats; pending check-ins are planned again."""
    with database.session() as session:
        task = require_task(session, task_id)
        info = _group_info(_group_of(session, task), default_zone)
        zone = ZoneInfo(info.zone)
        if next_due(task.due_date, task.due_time, recurrence, zone, now) is None:
            raise AuthoringError(meaning(Kind.ADMIN_NEVER_DUE))
        task.recurrence = recurrence
        session.flush()
        cancelled, added = replan_task(session, task, now, default_zone)
        session.commit()
        return _changed(task, info, now, cancelled, added)


def add_questions(
    database: Database, task_id: int, drafts: Sequence[QuestionDraft]
) -> QuestionsChanged:
    """Append questions to a task; check-ins already answered keep their answers."""
    for draft in drafts:
        check_question(draft)
    with database.session() as session:
        task = require_task(session, task_id)
        assert task.id is not None
        rows = session.exec(select(Question).where(Question.task_id == task.id)).all()
        active = sum(1 for q in rows if q.removed_at is None)
        if active + len(drafts) > MAX_QUESTIONS:
            raise AuthoringError(meaning(Kind.ADMIN_TOO_MANY_QUESTIONS, most=MAX_QUESTIONS))
        # Positions of removed questions stay taken: their answers still point at them.
        start = max((q.position for q in rows), default=0) + 1
        positions = _add_question_rows(session, task.id, drafts, start)
        session.commit()
        return QuestionsChanged(task.id, task.title, tuple(positions), active + len(drafts))


def remove_question(
    database: Database, now: datetime, task_id: int, position: int
) -> QuestionsChanged:
    """Retire a question (never delete it: answers point at it); a task keeps at least one."""
    with database.session() as session:
        task = require_task(session, task_id)
        assert task.id is not None
        rows = session.exec(select(Question).where(Question.task_id == task.id)).all()
        target = next((q for q in rows if q.position == position and q.removed_at is None), None)
        if target is None:
            raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_QUESTION, position=position))
        active = sum(1 for q in rows if q.removed_at is None)
        if active <= 1:
            raise AuthoringError(meaning(Kind.ADMIN_LAST_QUESTION))
        target.removed_at = now
        session.commit()
        return QuestionsChanged(task.id, task.title, (position,), active - 1)


def delete_task(database: Database, now: datetime, default_zone: str, task_id: int) -> TaskDeleted:
    """Soft-delete a task: future check-ins go, open ones are cancelled, answers stay."""
    with database.session() as session:
        task = require_task(session, task_id)
        info = _group_info(_group_of(session, task), default_zone)
        task.deleted_at = now
        session.flush()
        cancelled_pending, _added = replan_task(session, task, now, default_zone)
        result = session.execute(
            update(Delivery)
            .where(
                col(Delivery.task_id) == task.id,
                col(Delivery.status).in_([DeliveryStatus.SENDING, *OPEN_STATUSES]),
            )
            .values(status=DeliveryStatus.CANCELLED.value, finished_at=now, remind_at=None)
        )
        cancelled_open = int(getattr(result, "rowcount", 0) or 0)
        session.commit()
        assert task.id is not None
        return TaskDeleted(task.id, task.title, info, cancelled_pending, cancelled_open)


def question_needs_alert_step(kind: ResponseType) -> bool:
    return kind in ALERT_TYPES
