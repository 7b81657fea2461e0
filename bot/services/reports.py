"""Adherence reports and the CSV export: read-only use cases over deliveries and answers.

Every check-in already due counts once, in exactly one outcome (a series always keeps one
future ``pending`` row, which is not yet anybody's to answer; cancelled ones never count):

- completed: every question answered;
- closed_partly: some answers, then closed (expired, undeliverable, or skipped midway);
- closed_unanswered: nothing answered, then closed by its window or a failed send;
- skipped: the patient skipped it before answering anything;
- open_started: still answerable, some answers in;
- open_not_started: still answerable, nothing answered yet.

So the outcomes of a patient sum to their check-ins. The charts (``progress``) draw a coarser
split of the same rows; both count answers with the same SQL (``answered_count``).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, func, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services.audit import Actor, record_export
from bot.services.authoring import (
    AuthoringError,
    find_own_group,
    require_group,
    require_task,
    team_group_ids,
)
from bot.services.consent import in_force
from bot.services.meaning import Kind, meaning
from bot.services.progress import answered_count, answers_join, reached_the_patient
from bot.services.responses import format_number
from bot.services.uploads import fit_to_send
from storage.db import Database
from storage.models import (
    Answer,
    Consent,
    Delivery,
    DeliveryStatus,
    Membership,
    Person,
    Question,
    QuestionRevision,
    Role,
    Task,
    TherapyGroup,
)

CSV_COLUMNS = (
    "group",
    "task",
    "task_id",
    "due_utc",
    "due_local",
    "timezone",
    "patient_telegram_id",
    "patient_name",
    "question_position",
    "question",
    "question_revision",
    "response_type",
    "value",
    "file_id",
    "answered_at_utc",
    "delivery_status",
)

_STILL_OPEN = (
    DeliveryStatus.PENDING.value,
    DeliveryStatus.SENDING.value,
    DeliveryStatus.SENT.value,
    DeliveryStatus.IN_PROGRESS.value,
)


class CheckinOutcome(StrEnum):
    COMPLETED = "completed"
    CLOSED_PARTLY = "closed_partly"
    CLOSED_UNANSWERED = "closed_unanswered"
    SKIPPED = "skipped"
    OPEN_STARTED = "open_started"
    OPEN_NOT_STARTED = "open_not_started"


def checkin_outcome(answered: ColumnElement[int]) -> ColumnElement[str]:
    """A due check-in's one outcome, from its status and how many answers it has."""
    status = col(Delivery.status)
    started = (status == DeliveryStatus.IN_PROGRESS.value) | (answered > 0)
    return case(
        (status == DeliveryStatus.COMPLETED.value, literal(CheckinOutcome.COMPLETED.value)),
        (status.in_(_STILL_OPEN) & started, literal(CheckinOutcome.OPEN_STARTED.value)),
        (status.in_(_STILL_OPEN), literal(CheckinOutcome.OPEN_NOT_STARTED.value)),
        (answered > 0, literal(CheckinOutcome.CLOSED_PARTLY.value)),
        (status == DeliveryStatus.SKIPPED.value, literal(CheckinOutcome.SKIPPED.value)),
        else_=literal(CheckinOutcome.CLOSED_UNANSWERED.value),
    )


@frozen
class PatientAdherence:
    telegram_user_id: int
    name: str
    data_deleted: bool
    member: bool  # still in the group
    completed: int = 0
    closed_partly: int = 0
    closed_unanswered: int = 0
    skipped: int = 0
    open_started: int = 0
    open_not_started: int = 0
    last_answered: date | None = None  # the patient's local date
    person_id: int = 0  # the row's id, for the buttons to the patient's page (0 in totals)
    # The newest version of the group's consent text this patient agreed to, if any.
    consent_version: int | None = None

    @property
    def checkins(self) -> int:
        return sum(self.count(outcome) for outcome in CheckinOutcome)

    def count(self, outcome: CheckinOutcome) -> int:
        return int(getattr(self, outcome.value))


@frozen
class AdherenceReport:
    kind: str  # "group" or "task"
    title: str  # the group's name, or the task's title
    group_name: str
    task_id: int | None
    rows: tuple[PatientAdherence, ...]
    total: PatientAdherence
    group_id: int = 0
    # The version of the group's consent text in force; None when the group asks for none.
    consent_in_force: int | None = None


@frozen
class ExportScope:
    """Which groups an export holds, for its caption and file name.

    One group (``group``: named, or the only group of a therapist's who named none), several
    of a therapist's own groups (``groups``: how many, when not one), or, neither set, every
    group (an administrator's, or the command line's, export of all).
    """

    group: str | None = None
    groups: int | None = None

    def slug(self) -> str:
        """For the file name: the group's name, "3-groups", or "all"."""
        if self.group is not None:
            return _slug(self.group)
        if self.groups is not None:
            return f"{self.groups}-groups"
        return "all"


def export_scope(session: Session, actor: Actor, group: TherapyGroup | None) -> ExportScope:
    """What an export of ``group`` (None: every group ``actor`` may see) holds."""
    if group is not None:
        return ExportScope(group=group.name)
    allowed = team_group_ids(session, actor)
    if allowed is None:
        return ExportScope()
    if not allowed:
        # A file of no group's answers, recorded in the trail as data that left: nothing to
        # export, and other teams' groups may well exist.
        raise AuthoringError(meaning(Kind.TEAM_NONE_YET))
    if len(allowed) == 1:
        (only,) = allowed
        found = session.get(TherapyGroup, only)
        assert found is not None  # group_therapists' foreign key
        return ExportScope(group=found.name)
    return ExportScope(groups=len(allowed))


@frozen
class ExportFile:
    filename: str
    content: bytes
    rows: int
    scope: ExportScope
    unzipped_size: int | None = None  # zipped: too large for the Bot API as it was


# --- adherence ----------------------------------------------------------------------------


def parse_report_target(text: str) -> tuple[str, str]:
    """Tell "/report #12" or "/report task 12" (a task) from "/report GROUP"."""
    cleaned = " ".join(text.split())
    match = re.fullmatch(r"(?:#|task\s+#?)([0-9]+)", cleaned, re.IGNORECASE)
    if match:
        return "task", match[1]
    return "group", cleaned


def adherence(
    database: Database,
    now: datetime,
    default_zone: str,
    kind: str,
    ref: str,
    *,
    actor: Actor,
) -> AdherenceReport:
    """Per-patient figures for a group ("group", name or id) or a task ("task", id)."""
    with database.read_session() as session:
        if kind == "task":
            task = require_task(session, int(ref), actor=actor, allow_deleted=True)
            group = session.get(TherapyGroup, task.group_id)
            assert group is not None and task.id is not None
            task_ids = [task.id]
            title = task.title
        else:
            group = require_group(session, actor, find_own_group(session, actor, ref), ref)
            task_ids = [
                t for t in session.exec(select(Task.id).where(Task.group_id == group.id)) if t
            ]
            title = group.name
        rows = _adherence_rows(session, group, task_ids, now, default_zone)
        required = in_force(session, group)
        total = PatientAdherence(
            telegram_user_id=0,
            name="",
            data_deleted=False,
            member=True,
            **{o.value: sum(r.count(o) for r in rows) for o in CheckinOutcome},
            last_answered=max((r.last_answered for r in rows if r.last_answered), default=None),
        )
        return AdherenceReport(
            kind=kind,
            title=title,
            group_name=group.name,
            task_id=task_ids[0] if kind == "task" else None,
            rows=tuple(rows),
            total=total,
            group_id=group.id or 0,
            consent_in_force=required.version if required is not None else None,
        )


def _adherence_rows(
    session: Session,
    group: TherapyGroup,
    task_ids: list[int],
    now: datetime,
    default_zone: str,
) -> list[PatientAdherence]:
    roles: dict[int | None, str] = {}
    members: dict[int | None, Person] = {}
    for person, role in session.exec(
        select(Person, Membership.role)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.group_id == group.id,
            col(Membership.role).in_([Role.PATIENT.value, Role.ERASED.value]),
        )
    ).all():
        members[person.id] = person
        roles[person.id] = role
    per_delivery = (
        select(
            col(Delivery.person_id).label("person_id"),
            checkin_outcome(answered_count()).label("outcome"),
            func.max(Answer.answered_at).label("last_at"),
        )
        .outerjoin(Answer, answers_join())
        .where(
            col(Delivery.task_id).in_(task_ids),
            col(Delivery.due_at) <= now,
            reached_the_patient(),
        )
        .group_by(col(Delivery.id), col(Delivery.person_id), col(Delivery.status))
        .subquery()
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    last: dict[int, datetime] = {}
    for person_id, outcome, how_many, last_at in session.exec(
        select(
            per_delivery.c.person_id,
            per_delivery.c.outcome,
            func.count().cast(Integer),
            func.max(per_delivery.c.last_at),
        ).group_by(per_delivery.c.person_id, per_delivery.c.outcome)
    ).all():
        counts[person_id][outcome] = int(how_many)
        if last_at is not None:
            at = last_at if last_at.tzinfo else last_at.replace(tzinfo=UTC)
            if person_id not in last or at > last[person_id]:
                last[person_id] = at

    people = dict(members)
    others = set(counts) - set(members)
    if others:
        for person in session.exec(select(Person).where(col(Person.id).in_(others))).all():
            people[person.id] = person
    agreed = dict(
        session.exec(
            select(Consent.person_id, func.max(Consent.version))
            .where(Consent.group_id == group.id, col(Consent.person_id).in_(list(people)))
            .group_by(col(Consent.person_id))
        ).all()
    )
    rows = []
    for person_id, person in people.items():
        assert person_id is not None
        tally = counts.get(person_id, {})
        zone = ZoneInfo(person.timezone or group.timezone or default_zone)
        at = last.get(person_id)
        rows.append(
            PatientAdherence(
                # 0 for an erased person, who has no id left (shown as [deleted]).
                telegram_user_id=person.telegram_user_id or 0,
                name=person.display_name,
                data_deleted=roles.get(person_id) == Role.ERASED.value
                or person.data_deleted_at is not None,
                member=person_id in members,
                **{o.value: tally.get(o.value, 0) for o in CheckinOutcome},
                last_answered=at.astimezone(zone).date() if at else None,
                person_id=person_id,
                consent_version=agreed.get(person_id),
            )
        )
    rows.sort(key=lambda r: (r.data_deleted, not r.member, r.name.casefold(), r.telegram_user_id))
    return rows


# --- export -------------------------------------------------------------------------------


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return slug or "group"


def parse_export_args(text: str) -> tuple[str | None, bool]:
    """Read "/export [GROUP] [fhir]": the group (None: all) and whether FHIR was asked for."""
    words = text.split()
    if words and words[-1].casefold() in ("fhir", "csv"):
        return " ".join(words[:-1]) or None, words[-1].casefold() == "fhir"
    return " ".join(words) or None, False


def export_filename(scope: ExportScope, now: datetime, zone: str) -> str:
    today = now.astimezone(ZoneInfo(zone)).date()
    return f"patientbot-export-{scope.slug()}-{today}.csv"


def _value(answer: Answer, question: QuestionRevision) -> str:
    if answer.skipped:
        return ""
    if answer.value_bool is not None:
        return "yes" if answer.value_bool else "no"
    if answer.value_number is not None and question.response_type in ("number", "scale"):
        return format_number(answer.value_number)
    return _as_text(answer.value_text)


# A spreadsheet runs a cell starting with one of these as a formula. A patient chooses their
# own Telegram name and free-text answers, and a therapist opens the export in Excel: such a
# cell gets a leading apostrophe, which spreadsheets hide and show the rest as text (OWASP's
# advice for CSV injection). Numbers are written as numbers, so a negative one keeps its sign.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Invisible to a reader, and some spreadsheets skip them before a formula sign: format
# characters (zero-width space and joiners, BOM, soft hyphen), controls, and spaces.
_INVISIBLE = frozenset(("Cf", "Cc", "Zs", "Zl", "Zp"))


def _as_text(text: str) -> str:
    """The text itself, with an apostrophe first when a spreadsheet could run it.

    The check sees the text as a spreadsheet may: compatibility forms folded (NFKC makes the
    full-width ＝ ＋ － ＠ their ASCII selves) and invisible characters in front skipped. The
    original text is what is exported.
    """
    seen = unicodedata.normalize("NFKC", text)
    for char in seen:
        if char in "\t\r" or unicodedata.category(char) not in _INVISIBLE:
            return f"'{text}" if char in _FORMULA_STARTS else text
    return text


def export_csv(
    database: Database,
    now: datetime,
    default_zone: str,
    group_ref: str | None,
    *,
    actor: Actor,
    max_bytes: int | None = None,
) -> ExportFile:
    """Every answer (of one group, or all) as CSV: UTF-8, a header row, standard quoting.

    Text that a spreadsheet would run as a formula starts with an apostrophe (``_as_text``).
    Larger than ``max_bytes`` (the Bot API's limit), it is zipped (``uploads.fit_to_send``).
    """
    with database.read_session() as session:
        group: TherapyGroup | None = None
        if group_ref:
            group = require_group(
                session, actor, find_own_group(session, actor, group_ref), group_ref
            )
        groups = {g.id: g for g in session.exec(select(TherapyGroup)).all()}
        allowed = team_group_ids(session, actor)
        query = (
            # The question as the patient read it: the revision the answer points at.
            select(Answer, QuestionRevision, Delivery, Task)
            .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
            .join(Delivery, col(Delivery.id) == Answer.delivery_id)
            .join(Task, col(Task.id) == Delivery.task_id)
        )
        if group is not None:
            query = query.where(Task.group_id == group.id)
        elif allowed is not None:
            # "/export" without a group: every group of the therapist's, never another team's.
            query = query.where(col(Task.group_id).in_(allowed))
        found = session.exec(query).all()
        person_ids = {delivery.person_id for _, _, delivery, _ in found}
        positions = dict(
            session.exec(
                select(Question.id, Question.position).where(
                    col(Question.id).in_({answer.question_id for answer, _, _, _ in found})
                )
            ).all()
        )
        people = {
            p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(person_ids)))
        }

        def order(
            row: tuple[Answer, QuestionRevision, Delivery, Task],
        ) -> tuple[str, int, datetime, int, int]:
            answer, _question, delivery, task = row
            person = people[delivery.person_id]
            return (
                groups[task.group_id].name,
                task.id or 0,
                delivery.due_at,
                person.telegram_user_id or 0,
                positions[answer.question_id],
            )

        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        rows = 0
        for answer, question, delivery, task in sorted(found, key=order):
            row_group = groups[task.group_id]
            person = people[delivery.person_id]
            zone_name = person.timezone or row_group.timezone or default_zone
            writer.writerow(
                (
                    _as_text(row_group.name),
                    _as_text(task.title),
                    task.id,
                    _iso_utc(delivery.due_at),
                    delivery.due_at.astimezone(ZoneInfo(zone_name)).strftime("%Y-%m-%d %H:%M"),
                    zone_name,
                    person.telegram_user_id,
                    _as_text(person.display_name),
                    positions[answer.question_id],
                    _as_text(question.description),
                    question.revision,
                    question.response_type,
                    _value(answer, question),
                    answer.file_id or "",
                    _iso_utc(answer.answered_at),
                    delivery.status,
                )
            )
            rows += 1
        scope = export_scope(session, actor, group)
        filename = export_filename(scope, now, default_zone)
        group_id = group.id if group else None
    fitted = fit_to_send(
        filename, buffer.getvalue().encode("utf-8"), max_bytes, one_group=scope.group is not None
    )
    record_export(database, now, actor, group_id, {"format": "csv", "answers": rows})
    return ExportFile(fitted.filename, fitted.content, rows, scope, fitted.unzipped_size)
