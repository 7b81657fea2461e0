"""One patient's page and the media patients sent: read-only use cases for therapists.

``/patient NAME`` finds patients by a name, a part of one or a Telegram id; ``patient_page``
gathers one page of what one patient did (their groups, zone, adherence, the latest check-ins
with every answer); ``media_answer`` is one photo or video answer to send on; ``group_media``
is a group's recent photo and video answers for ``/media``. Every one of them asks
``may_see`` first: the one place where "which patients may this therapist look at" is decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from bot.frozen import frozen
from bot.services.audit import Actor, ActorRole, ObjectKind, record_view, record_views
from bot.services.authoring import (
    AuthoringError,
    find_own_group,
    require_group,
    team_group_ids,
)
from bot.services.meaning import Kind, meaning
from bot.services.patients import PATIENT_ROLES, PatientChoices, Patients
from bot.services.progress import answered_count, answers_join, reached_the_patient
from bot.services.reports import CheckinOutcome, PatientAdherence, checkin_outcome
from bot.services.responses import MEDIA_TYPES, STORED_NO, STORED_YES, format_number
from storage.db import Database
from storage.models import (
    MAX_INTEGER,
    Answer,
    Delivery,
    DeliveryStatus,
    InboxUpdate,
    Membership,
    Person,
    Question,
    QuestionRevision,
    Role,
    Task,
    TherapyGroup,
)

# Check-ins per page: a week of a daily task's answers reads on a phone without scrolling far.
PAGE_CHECKINS = 4
# /media looks back this many days unless told; at most a year.
DEFAULT_MEDIA_DAYS = 7
MAX_MEDIA_DAYS = 366
# A group's media in one /media: a clinic's week is far fewer; more would flood the chat.
MAX_GROUP_MEDIA = 100

_NOT_DUE_YET = (DeliveryStatus.PENDING.value, DeliveryStatus.CANCELLED.value)


# --- what the use cases return --------------------------------------------------------------


@frozen
class GroupPlace:
    name: str
    joined: date  # the patient's local date
    member: bool  # False: removed, or their data was deleted


@frozen
class AnswerLine:
    answer_id: int
    question: str
    response_type: str
    value: str  # as stored for display: "Yes", "7", the text; "photo"/"video" for media
    skipped: bool
    media: bool  # a photo or video Telegram can still be asked to send
    answered_at: datetime  # the patient's local time


@frozen
class CheckinLine:
    delivery_id: int
    task_title: str
    group_id: int
    group_name: str
    due_at: datetime  # the patient's local time
    outcome: CheckinOutcome
    answers: tuple[AnswerLine, ...]


@frozen
class PatientPage:
    person_id: int
    telegram_user_id: int
    name: str
    data_deleted: bool
    zone: str
    zone_is_own: bool  # False: the group's or the bot's default
    groups: tuple[GroupPlace, ...]
    joined: date | None  # the first group joined, the patient's local date
    last_seen: datetime | None  # the patient's local time
    adherence: PatientAdherence
    checkins: tuple[CheckinLine, ...]  # newest first, one page
    offset: int  # check-ins newer than this page
    total: int  # check-ins due so far
    stopped: bool = False  # the patient sent /stop: nothing is sent until /start
    unreachable: bool = False  # Telegram says they blocked the bot

    @property
    def has_older(self) -> bool:
        return self.offset + len(self.checkins) < self.total

    @property
    def has_newer(self) -> bool:
        return self.offset > 0


@frozen
class MediaItem:
    answer_id: int
    kind: str  # "photo" or "video"
    file_id: str
    patient: str
    group_name: str
    task_title: str
    question: str
    answered_at: datetime  # the patient's local time


@frozen
class GroupMedia:
    group_name: str
    days: int
    items: tuple[MediaItem, ...]  # oldest first
    more: int  # found beyond MAX_GROUP_MEDIA, not sent


# --- who may see whom -----------------------------------------------------------------------


def may_see(
    session: Session, viewer: Actor, config_user_ids: Iterable[int], group_ids: Iterable[int]
) -> bool:
    """Whether ``viewer`` may see the patients (and their answers) of these groups.

    The one place this is decided for the patient page, its buttons and /media: an
    administrator sees every group, another therapist the groups of their care team.
    """
    if viewer.telegram_id is None:
        return False
    if viewer.role == ActorRole.ADMINISTRATOR or viewer.telegram_id in set(config_user_ids):
        return True
    role = session.exec(
        select(Person.role).where(Person.telegram_user_id == viewer.telegram_id)
    ).first()
    if role != Role.THERAPIST.value:
        return False
    own = team_group_ids(session, viewer)
    return own is None or not own.isdisjoint(group_ids)


def _patient_groups(session: Session, person_ids: Iterable[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for person_id, group_id in session.exec(
        select(Membership.person_id, Membership.group_id).where(
            col(Membership.person_id).in_(list(person_ids)),
            col(Membership.role).in_(PATIENT_ROLES),
        )
    ).all():
        groups.setdefault(person_id, []).append(group_id)
    return groups


# --- finding a patient ----------------------------------------------------------------------


def find_patient(
    database: Database,
    now: datetime,
    default_zone: str,
    viewer: Actor,
    config_user_ids: Iterable[int],
    text: str,
) -> PatientPage | PatientChoices:
    """The page of the one patient ``text`` names, or the choices when several fit.

    ``text`` is a Telegram id, a whole name or a part of one (any case; ``patients.Patients``
    finds them, as for ``/chart``). A patient whose data was deleted is found by Telegram id
    only: their name is gone.
    """
    config_user_ids = tuple(config_user_ids)
    ref = " ".join(text.split())
    with database.read_session() as session:
        # Asked per group, not per patient: a clinic has far fewer groups than patients.
        # Another team's group reads as one that does not exist: its patients are not found,
        # and a choice does not name it.
        seen_groups = frozenset(
            group_id
            for group_id in session.exec(
                select(Membership.group_id)
                .where(col(Membership.role).in_(PATIENT_ROLES))
                .distinct()
            ).all()
            if may_see(session, viewer, config_user_ids, [group_id])
        )
        patients = Patients(session, seen_groups)
        matches = patients.matching(ref)
        if not matches:
            raise AuthoringError(meaning(Kind.PATIENT_PAGE_NO_MATCH, ref=ref))
        if len(matches) > 1:
            return patients.choices(ref, matches)
        only = matches[0]
        assert only.id is not None
        seen = patients.group_ids(only.id)
        page = _page(session, now, default_zone, only, 0, team_group_ids(session, viewer))
    _record_page_view(database, now, viewer, page, seen)
    return page


# --- one patient's page ---------------------------------------------------------------------


def patient_page(
    database: Database,
    now: datetime,
    default_zone: str,
    viewer: Actor,
    config_user_ids: Iterable[int],
    person_id: int,
    offset: int = 0,
) -> PatientPage:
    """One page of a patient's check-ins (``offset`` newer ones left out), newest first."""
    with database.read_session() as session:
        person, groups = _visible_patient(session, viewer, config_user_ids, person_id)
        visible = team_group_ids(session, viewer)
        page = _page(session, now, default_zone, person, max(0, offset), visible)
    seen = {g for g in groups if visible is None or g in visible}
    _record_page_view(database, now, viewer, page, seen)
    return page


def _record_page_view(
    database: Database, now: datetime, viewer: Actor, page: PatientPage, seen: Iterable[int]
) -> None:
    """The trail's account of a page shown: one event per group whose check-ins were on it,
    naming those check-ins (their rows, which a later check-in does not renumber), so each
    group's team reads it in ``/audit GROUP``. A page with no check-in on it is filed under
    every group of the patient's the viewer sees (``seen``): the page showed them all."""
    shown: dict[int, list[int]] = {}
    for checkin in page.checkins:
        shown.setdefault(checkin.group_id, []).append(checkin.delivery_id)
    if not shown:
        shown = {group_id: [] for group_id in seen}
    record_views(
        database,
        now,
        viewer,
        ObjectKind.PERSON,
        page.person_id,
        [
            (group_id, {"seen": "patient page", "check_ins": check_ins})
            for group_id, check_ins in sorted(shown.items())
        ],
    )


def _visible_patient(
    session: Session, viewer: Actor, config_user_ids: Iterable[int], person_id: int
) -> tuple[Person, list[int]]:
    """The patient and their groups, if ``viewer`` may see them."""
    person = session.get(Person, person_id) if 0 < person_id <= MAX_INTEGER else None
    groups = _patient_groups(session, [person_id]).get(person_id, []) if person else []
    if person is None or not groups:
        raise AuthoringError(meaning(Kind.PATIENT_PAGE_GONE))
    if not may_see(session, viewer, config_user_ids, groups):
        raise AuthoringError(meaning(Kind.PATIENT_PAGE_NOT_YOURS))
    return person, groups


def _page(
    session: Session,
    now: datetime,
    default_zone: str,
    person: Person,
    offset: int,
    visible: frozenset[int] | None,
) -> PatientPage:
    """The page as ``visible`` groups show it (None: every group, an administrator's view).

    A patient in two groups shows a therapist of one of them that group's check-ins only.
    """
    assert person.id is not None
    in_view: list[ColumnElement[bool]] = []
    if visible is not None:
        in_view.append(col(Membership.group_id).in_(visible))
    memberships = session.exec(
        select(Membership, TherapyGroup)
        .join(TherapyGroup, col(TherapyGroup.id) == Membership.group_id)
        .where(
            Membership.person_id == person.id,
            col(Membership.role).in_(PATIENT_ROLES),
            *in_view,
        )
        .order_by(col(Membership.joined_at))
    ).all()
    first_group = memberships[0][1] if memberships else None
    zone_name = person.timezone or (first_group.timezone if first_group else None) or default_zone
    zone = ZoneInfo(zone_name)
    deleted = person.data_deleted_at is not None or any(
        m.role == Role.ERASED.value for m, _ in memberships
    )
    places = tuple(
        GroupPlace(g.name, m.joined_at.astimezone(zone).date(), m.role == Role.PATIENT.value)
        for m, g in memberships
    )
    due: list[ColumnElement[bool]] = [
        col(Delivery.person_id) == person.id,
        col(Delivery.due_at) <= now,
        col(Delivery.status).not_in(_NOT_DUE_YET),
        reached_the_patient(),
    ]
    if visible is not None:
        due.append(
            col(Delivery.task_id).in_(select(Task.id).where(col(Task.group_id).in_(visible)))
        )
    adherence = _adherence(session, person, due, deleted, zone)
    total = adherence.checkins
    deliveries = session.exec(
        select(Delivery, Task, TherapyGroup.name)
        .join(Task, col(Task.id) == Delivery.task_id)
        .join(TherapyGroup, col(TherapyGroup.id) == Task.group_id)
        .where(*due)
        .order_by(col(Delivery.due_at).desc(), col(Delivery.id).desc())
        .offset(offset)
        .limit(PAGE_CHECKINS)
    ).all()
    # Each answer with the question as the patient read it (its revision), not as it reads
    # now: a reworded question, or a photo question turned into text, mislabelled the old
    # answers and hid their photos.
    answers: dict[int, list[tuple[Answer, QuestionRevision]]] = {}
    ids = [d.id for d, _, _ in deliveries]
    if ids:
        for answer, question in session.exec(
            select(Answer, QuestionRevision)
            .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
            .join(Question, col(Question.id) == Answer.question_id)
            .where(col(Answer.delivery_id).in_(ids))
            .order_by(col(Question.position))
        ).all():
            answers.setdefault(answer.delivery_id, []).append((answer, question))
    outcomes = _outcomes(session, [i for i in ids if i is not None])
    checkins = tuple(
        CheckinLine(
            delivery_id=delivery.id or 0,
            task_title=task.title,
            group_id=task.group_id,
            group_name=group_name,
            due_at=delivery.due_at.astimezone(zone),
            outcome=outcomes.get(delivery.id or 0, CheckinOutcome.OPEN_NOT_STARTED),
            answers=tuple(
                _answer_line(answer, question, zone)
                for answer, question in answers.get(delivery.id or 0, [])
            ),
        )
        for delivery, task, group_name in deliveries
    )
    return PatientPage(
        person_id=person.id,
        telegram_user_id=person.telegram_user_id or 0,
        name=person.display_name,
        data_deleted=deleted,
        zone=zone_name,
        zone_is_own=person.timezone is not None,
        groups=places,
        joined=min((p.joined for p in places), default=None),
        last_seen=_last_seen(session, person, zone),
        adherence=adherence,
        checkins=checkins,
        offset=offset,
        total=total,
        stopped=person.opted_out,
        unreachable=person.unreachable,
    )


def _adherence(
    session: Session,
    person: Person,
    due: list[ColumnElement[bool]],
    deleted: bool,
    zone: ZoneInfo,
) -> PatientAdherence:
    per_delivery = (
        select(
            col(Delivery.id).label("delivery_id"),
            checkin_outcome(answered_count()).label("outcome"),
            func.max(Answer.answered_at).label("last_at"),
        )
        .outerjoin(Answer, answers_join())
        .where(*due)
        .group_by(col(Delivery.id), col(Delivery.status))
        .subquery()
    )
    tally: dict[str, int] = {}
    last: datetime | None = None
    for outcome, how_many, last_at in session.exec(
        select(
            per_delivery.c.outcome, func.count().cast(Integer), func.max(per_delivery.c.last_at)
        ).group_by(per_delivery.c.outcome)
    ).all():
        tally[outcome] = int(how_many)
        if last_at is not None:
            at = last_at if last_at.tzinfo else last_at.replace(tzinfo=UTC)
            last = at if last is None or at > last else last
    return PatientAdherence(
        telegram_user_id=person.telegram_user_id or 0,
        name=person.display_name,
        data_deleted=deleted,
        member=True,
        **{o.value: tally.get(o.value, 0) for o in CheckinOutcome},
        last_answered=last.astimezone(zone).date() if last else None,
        person_id=person.id or 0,
    )


def _outcomes(session: Session, delivery_ids: list[int]) -> dict[int, CheckinOutcome]:
    if not delivery_ids:
        return {}
    rows = session.exec(
        select(col(Delivery.id), checkin_outcome(answered_count()))
        .outerjoin(Answer, answers_join())
        .where(col(Delivery.id).in_(delivery_ids))
        .group_by(col(Delivery.id), col(Delivery.status))
    ).all()
    return {int(delivery_id or 0): CheckinOutcome(outcome) for delivery_id, outcome in rows}


def _answer_line(answer: Answer, question: QuestionRevision, zone: ZoneInfo) -> AnswerLine:
    if answer.value_bool is not None:
        value = STORED_YES if answer.value_bool else STORED_NO
    elif answer.value_number is not None and question.response_type in ("number", "scale"):
        value = format_number(answer.value_number)
    else:
        value = answer.value_text
    return AnswerLine(
        answer_id=answer.id or 0,
        question=question.description,
        response_type=question.response_type,
        value=value,
        skipped=answer.skipped,
        media=bool(answer.file_id) and question.response_type in MEDIA_TYPES,
        answered_at=answer.answered_at.astimezone(zone),
    )


def _last_seen(session: Session, person: Person, zone: ZoneInfo) -> datetime | None:
    """The newest sign of the patient: an answer, or any message or press they sent."""
    answered = session.exec(
        select(func.max(Answer.answered_at))
        .join(Delivery, col(Delivery.id) == Answer.delivery_id)
        .where(Delivery.person_id == person.id)
    ).first()
    chat = person.chat_id or person.telegram_user_id
    received = (
        session.exec(
            select(func.max(InboxUpdate.received_at)).where(InboxUpdate.chat_id == chat)
        ).first()
        if chat is not None
        else None
    )
    seen = [_aware(at) for at in (answered, received) if at is not None]
    return max(seen).astimezone(zone) if seen else None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# --- media ----------------------------------------------------------------------------------


def media_answer(
    database: Database,
    now: datetime,
    default_zone: str,
    viewer: Actor,
    config_user_ids: Iterable[int],
    answer_id: int,
) -> MediaItem:
    """One photo or video answer, to send on to the therapist who pressed its button."""
    with database.read_session() as session:
        found = (
            session.exec(_media_query().where(Answer.id == answer_id)).first()
            if 0 < answer_id <= MAX_INTEGER
            else None
        )
        if found is None:
            raise AuthoringError(meaning(Kind.PATIENT_MEDIA_GONE))
        answer, question, task, delivery = found
        group, person = _group_and_person(session, task, delivery)
        if not may_see(session, viewer, config_user_ids, [group.id or 0]):
            raise AuthoringError(meaning(Kind.PATIENT_PAGE_NOT_YOURS))
        item = _media_item(answer, question, task, group, person, default_zone)
    record_view(
        database,
        now,
        viewer,
        ObjectKind.PERSON,
        person.id,
        group_id=group.id,
        fields={"seen": item.kind, "answer_id": item.answer_id},
    )
    return item


def parse_media_args(text: str) -> tuple[str, int | None]:
    """Read "/media GROUP [DAYS]": the group, and the days when the last word is a number."""
    words = text.split()
    if len(words) > 1 and words[-1].isascii() and words[-1].isdigit():
        return " ".join(words[:-1]), int(words[-1][:6])
    return " ".join(words), None


def group_media(
    database: Database,
    now: datetime,
    default_zone: str,
    viewer: Actor,
    config_user_ids: Iterable[int],
    group_ref: str,
    days: int | None,
) -> GroupMedia:
    """A group's photo and video answers of the last ``days`` days, oldest first.

    A group whose name ends in a number ("Shoulder Therapy 1") is that group, not days.
    """
    with database.read_session() as session:
        whole = f"{group_ref} {days}" if days is not None else None
        if whole is not None and find_own_group(session, viewer, whole) is not None:
            group_ref, days = whole, None
        days = DEFAULT_MEDIA_DAYS if days is None else days
        if not 1 <= days <= MAX_MEDIA_DAYS:
            raise AuthoringError(meaning(Kind.MEDIA_BAD_DAYS, days=days, most=MAX_MEDIA_DAYS))
        # Another team's group reads like one that does not exist (care teams' rule).
        own = find_own_group(session, viewer, group_ref)
        if own is None and whole is not None:
            # Quoted as typed: "Shoulder Therapy", cut from "Shoulder Therapy 1", names a
            # group nobody meant. Whole whether or not another team's group has that name,
            # so the refusal still tells nothing about other teams' groups.
            group_ref = whole
        group = require_group(session, viewer, own, group_ref)
        if not may_see(session, viewer, config_user_ids, [group.id or 0]):
            raise AuthoringError(meaning(Kind.PATIENT_PAGE_NOT_YOURS))
        found = session.exec(
            _media_query()
            .where(Task.group_id == group.id, col(Answer.answered_at) >= now - timedelta(days))
            .order_by(col(Answer.answered_at), col(Answer.id))
            .limit(MAX_GROUP_MEDIA + 1)
        ).all()
        more = 0
        if len(found) > MAX_GROUP_MEDIA:
            everything = session.exec(
                select(func.count())
                .select_from(Answer)
                .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
                .join(Delivery, col(Delivery.id) == Answer.delivery_id)
                .join(Task, col(Task.id) == Delivery.task_id)
                .where(
                    Task.group_id == group.id,
                    col(Answer.answered_at) >= now - timedelta(days),
                    col(Answer.file_id).is_not(None),
                    col(Answer.skipped).is_(False),
                    col(QuestionRevision.response_type).in_([t.value for t in MEDIA_TYPES]),
                )
            ).one()
            more = int(everything) - MAX_GROUP_MEDIA
            found = found[:MAX_GROUP_MEDIA]
        items = tuple(
            _media_item(
                answer, question, task, *_group_and_person(session, task, delivery), default_zone
            )
            for answer, question, task, delivery in found
        )
        patients = sorted({delivery.person_id for _a, _q, _t, delivery in found})
    if items:
        record_view(
            database,
            now,
            viewer,
            ObjectKind.GROUP,
            group.id,
            group_id=group.id,
            fields={"seen": "media", "days": days, "answers": len(items), "patients": patients},
        )
    return GroupMedia(group.name, days, items, more)


def _media_query() -> Select[Answer, QuestionRevision, Task, Delivery]:
    """Photo and video answers, each with its question as the patient read it: a question
    turned into text since keeps its old photos reachable."""
    return (
        select(Answer, QuestionRevision, Task, Delivery)
        .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
        .join(Delivery, col(Delivery.id) == Answer.delivery_id)
        .join(Task, col(Task.id) == Delivery.task_id)
        .where(
            col(Answer.file_id).is_not(None),
            col(Answer.skipped).is_(False),
            col(QuestionRevision.response_type).in_([t.value for t in MEDIA_TYPES]),
        )
    )


def _group_and_person(
    session: Session, task: Task, delivery: Delivery
) -> tuple[TherapyGroup, Person]:
    group = session.get(TherapyGroup, task.group_id)
    person = session.get(Person, delivery.person_id)
    assert group is not None and person is not None  # foreign keys
    return group, person


def _media_item(
    answer: Answer,
    question: QuestionRevision,
    task: Task,
    group: TherapyGroup,
    person: Person,
    default_zone: str,
) -> MediaItem:
    zone = ZoneInfo(person.timezone or group.timezone or default_zone)
    assert answer.file_id is not None
    return MediaItem(
        answer_id=answer.id or 0,
        kind=question.response_type,
        file_id=answer.file_id,
        patient=person.display_name,
        group_name=group.name,
        task_title=task.title,
        question=question.description,
        answered_at=answer.answered_at.astimezone(zone),
    )
