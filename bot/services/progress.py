"""What the charts show: a patient's check-ins and answers over time, a group's adherence.

Read-only use cases, each in one read-only session. Answers are counted and grouped in SQL:
a group's chart reads one aggregated row per patient, day and outcome, never the group's
answers one by one; a patient's trend lines read only the numbers they are drawn from.

A check-in's outcome for the charts (the calendar strip and the heatmap):

- completed: every question answered;
- partial: some answers, and no longer answerable (or it is, see open);
- missed: nothing answered, closed by the patient's skip or because it could not be sent;
- expired: nothing answered and the answer window passed;
- open: due and still answerable (whatever was answered so far).

The captions count missed and expired-without-answers together as missed. ``/report`` splits
the same rows finer, one outcome per check-in (``reports.checkin_outcome``), counting answers
with the same ``answered_count``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, false, func, literal, or_
from sqlalchemy import select as sql_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services.audit import Actor, ObjectKind, record_views
from bot.services.authoring import find_group, team_group_ids, visible_group_names
from bot.services.content import TEXT, TITLE, Localized, localized
from bot.services.patients import PatientChoices, Patients
from bot.services.responses import (
    ALERT_TYPES,
    AlertRule,
    QuestionRules,
    ResponseType,
    parse_alert_rule,
)
from storage.db import Database
from storage.models import (
    Answer,
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

PROGRESS_WEEKS = 8
HEATMAP_DAYS = 28
# At most this many trend panels and heatmap rows are drawn: more would not read on a phone;
# the caption says what was left out.
MAX_TRENDS = 4
MAX_HEATMAP_ROWS = 30
TREND_TYPES = ("number", "scale")


class Outcome(StrEnum):
    COMPLETED = "completed"
    PARTIAL = "partial"
    MISSED = "missed"
    EXPIRED = "expired"
    OPEN = "open"


# Drawn and listed in this order: good news first.
OUTCOMES = (Outcome.COMPLETED, Outcome.PARTIAL, Outcome.OPEN, Outcome.MISSED, Outcome.EXPIRED)


@frozen
class DayCheckins:
    """The check-ins due on one local day, in due order."""

    day: date
    outcomes: tuple[Outcome, ...]

    @property
    def summary(self) -> Outcome:
        """One outcome for the day (a heatmap cell): closed ones decide, open ones wait."""
        closed = [o for o in self.outcomes if o != Outcome.OPEN]
        if not closed:
            return Outcome.OPEN
        if all(o == Outcome.COMPLETED for o in closed):
            return Outcome.COMPLETED
        if any(o in (Outcome.COMPLETED, Outcome.PARTIAL) for o in closed):
            return Outcome.PARTIAL
        if any(o == Outcome.MISSED for o in closed):
            return Outcome.MISSED
        return Outcome.EXPIRED


@frozen
class TrendPoint:
    day: date
    value: float


@frozen
class Trend:
    """One number or scale question's answers over time."""

    question_id: int
    task_title: str
    question: str
    low: float | None  # the axis: a scale's or a number's bounds, when it has them
    high: float | None
    alert: AlertRule | None  # drawn as a line when the rule compares a number
    points: tuple[TrendPoint, ...]

    @property
    def alert_threshold(self) -> float | None:
        if self.alert is None or self.alert.op in ("==", "!="):
            return None
        return float(self.alert.value)


@frozen
class Tally:
    completed: int = 0
    partial: int = 0
    missed: int = 0
    expired: int = 0
    open: int = 0

    @property
    def due(self) -> int:
        return self.completed + self.partial + self.missed + self.expired + self.open

    @property
    def closed(self) -> int:
        return self.due - self.open

    @property
    def not_done(self) -> int:
        """Missed as /report counts it: nothing answered, no longer answerable."""
        return self.missed + self.expired

    @classmethod
    def of(cls, outcomes: Counter[Outcome]) -> Tally:
        return cls(**{o.value: outcomes[o] for o in Outcome})


@frozen
class PatientProgress:
    """A patient's chart: the calendar strip, the streak, trend lines."""

    name: str
    data_deleted: bool
    today: date
    first_day: date  # a Monday, PROGRESS_WEEKS - 1 weeks before this week's
    days: tuple[DayCheckins, ...]  # only days with a check-in due
    tally: Tally
    streak: int  # check-ins completed in a row, up to the latest closed one
    trends: tuple[Trend, ...]


@frozen
class HeatmapRow:
    telegram_user_id: int
    name: str
    data_deleted: bool
    days: tuple[DayCheckins, ...]
    tally: Tally


@frozen
class GroupHeatmap:
    group_name: str
    first_day: date
    today: date
    rows: tuple[HeatmapRow, ...]  # those needing attention first

    @property
    def tally(self) -> Tally:
        total: Counter[Outcome] = Counter()
        for row in self.rows:
            for outcome in Outcome:
                total[outcome] += getattr(row.tally, outcome.value)
        return Tally.of(total)


# --- typed refusals: the rendering floor says them ------------------------------------------


class ChartError(Exception):
    """A chart cannot be made; subclasses carry what the reader needs to fix the request."""


class NotAPatient(ChartError):
    """/progress from someone in no group."""


@dataclass
class UnknownChartTarget(ChartError):
    ref: str
    groups: tuple[str, ...]


class PatientNotShown(ChartError):
    """A chosen patient (a button) no longer in any of the presser's groups."""


@dataclass
class UnknownQuestion(ChartError):
    ref: str
    patient: str
    questions: tuple[str, ...]


# --- the outcome of a check-in, in SQL ------------------------------------------------------

_OPEN = (
    DeliveryStatus.PENDING.value,
    DeliveryStatus.SENDING.value,
    DeliveryStatus.SENT.value,
    DeliveryStatus.IN_PROGRESS.value,
)


def answered_count() -> ColumnElement[int]:
    return func.count(col(Answer.id))


def delivery_outcome(answered: ColumnElement[int]) -> ColumnElement[str]:
    status = col(Delivery.status)
    return case(
        (status == DeliveryStatus.COMPLETED.value, literal(Outcome.COMPLETED.value)),
        (status.in_(_OPEN), literal(Outcome.OPEN.value)),
        (answered > 0, literal(Outcome.PARTIAL.value)),
        (status == DeliveryStatus.EXPIRED.value, literal(Outcome.EXPIRED.value)),
        else_=literal(Outcome.MISSED.value),
    )


def reached_the_patient() -> ColumnElement[bool]:
    """A due check-in that counts: not cancelled, and not one that expired before its prompt
    was ever sent (the bot down past its window): that one the patient never saw, and it is
    no more missed by them than a cancelled one."""
    status = col(Delivery.status)
    return and_(
        status != DeliveryStatus.CANCELLED.value,
        or_(status != DeliveryStatus.EXPIRED.value, col(Delivery.sent_at).is_not(None)),
    )


def answers_join() -> ColumnElement[bool]:
    return and_(col(Answer.delivery_id) == Delivery.id, col(Answer.skipped).is_(false()))


def due_between(since: datetime, now: datetime) -> list[ColumnElement[bool]]:
    return [
        col(Delivery.due_at) >= since,
        col(Delivery.due_at) <= now,
        reached_the_patient(),
    ]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _zone_of(person: Person, group: TherapyGroup | None, default_zone: str) -> ZoneInfo:
    return ZoneInfo(person.timezone or (group.timezone if group else None) or default_zone)


def _window_start(today: date, days: int, zone: ZoneInfo) -> datetime:
    first = today - timedelta(days=days - 1)
    return datetime.combine(first, datetime.min.time(), tzinfo=zone)


# --- a patient's progress -------------------------------------------------------------------


def progress_for_user(
    database: Database, now: datetime, default_zone: str, telegram_user_id: int
) -> PatientProgress:
    """The progress of the patient writing /progress (raises NotAPatient if in no group)."""
    with database.read_session() as session:
        person = session.exec(
            select(Person).where(Person.telegram_user_id == telegram_user_id)
        ).first()
        if person is None or person.data_deleted_at is not None:
            raise NotAPatient()
        group = session.exec(
            select(TherapyGroup)
            .join(Membership, col(Membership.group_id) == TherapyGroup.id)
            .where(Membership.person_id == person.id, Membership.role == Role.PATIENT.value)
            .order_by(col(Membership.joined_at))
        ).first()
        if group is None:
            raise NotAPatient()
        return _progress(session, person, group, now, default_zone, None, False)


def _of_groups(among: frozenset[int] | None) -> list[ColumnElement[bool]]:
    """Only check-ins of tasks of the groups ``among`` (a therapist's own); all if None."""
    if among is None:
        return []
    return [col(Delivery.task_id).in_(select(Task.id).where(col(Task.group_id).in_(among)))]


def _progress(
    session: Session,
    person: Person,
    group: TherapyGroup | None,
    now: datetime,
    default_zone: str,
    question_ref: str | None,
    data_deleted: bool,
    among: frozenset[int] | None = None,
) -> PatientProgress:
    zone = _zone_of(person, group, default_zone)
    today = now.astimezone(zone).date()
    first_day = _monday(today) - timedelta(weeks=PROGRESS_WEEKS - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=zone)
    answered = answered_count()
    rows = session.exec(
        select(Delivery.due_at, delivery_outcome(answered))
        .outerjoin(Answer, answers_join())
        .where(Delivery.person_id == person.id, *due_between(since, now), *_of_groups(among))
        .group_by(col(Delivery.id), col(Delivery.due_at), col(Delivery.status))
        .order_by(col(Delivery.due_at))
    ).all()
    by_day: dict[date, list[Outcome]] = defaultdict(list)
    outcomes: Counter[Outcome] = Counter()
    for due_at, outcome in rows:
        by_day[due_at.astimezone(zone).date()].append(Outcome(outcome))
        outcomes[Outcome(outcome)] += 1
    trends = _trends(session, person, since, now, zone, among)
    if question_ref is not None:
        wanted = " ".join(question_ref.split()).casefold()
        chosen = tuple(t for t in trends if wanted in t.question.casefold())
        if not chosen:
            raise UnknownQuestion(
                question_ref, person.display_name, tuple(t.question for t in trends)
            )
        trends = chosen
    return PatientProgress(
        name=person.display_name,
        data_deleted=data_deleted,
        today=today,
        first_day=first_day,
        days=tuple(DayCheckins(day, tuple(by_day[day])) for day in sorted(by_day)),
        tally=Tally.of(outcomes),
        streak=_streak(session, person, now, among),
        trends=trends,
    )


def _streak(session: Session, person: Person, now: datetime, among: frozenset[int] | None) -> int:
    """Completed check-ins since the last one that closed without being completed."""
    broken = (
        DeliveryStatus.EXPIRED.value,
        DeliveryStatus.SKIPPED.value,
        DeliveryStatus.FAILED.value,
    )
    last_break = session.exec(
        select(func.max(Delivery.due_at)).where(
            Delivery.person_id == person.id,
            col(Delivery.due_at) <= now,
            col(Delivery.status).in_(broken),
            reached_the_patient(),
            *_of_groups(among),
        )
    ).one()
    query = select(func.count()).where(
        Delivery.person_id == person.id,
        col(Delivery.due_at) <= now,
        Delivery.status == DeliveryStatus.COMPLETED.value,
        *_of_groups(among),
    )
    if last_break is not None:
        query = query.where(col(Delivery.due_at) > last_break)
    return int(session.exec(query).one())


def _trends(
    session: Session,
    person: Person,
    since: datetime,
    now: datetime,
    zone: ZoneInfo,
    among: frozenset[int] | None,
) -> tuple[Trend, ...]:
    """Each number or scale question's answers, one line per meaning they were given under.

    An answer is read as the revision it answered (``Answer.question_revision_id``): a pain
    scale reworded into minutes, or from 0-10 to 1-5, starts a line of its own, labelled with
    the words the patient read, instead of drawing the old values under today's question (or
    dropping them, once the question is no longer a number). Today's alert rule is drawn only
    on the line of today's meaning, for which it was set.
    """
    # Five columns: past the typed overloads of sqlmodel's select.
    found = session.execute(
        sql_select(
            Question,
            QuestionRevision,
            col(Task.title),
            col(Task.translations),
            col(Delivery.due_at),
            col(Answer.value_number),
        )
        .join(Answer, col(Answer.question_id) == Question.id)
        .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
        .join(Delivery, col(Delivery.id) == Answer.delivery_id)
        .join(Task, col(Task.id) == Delivery.task_id)
        .where(
            col(Delivery.person_id) == person.id,
            col(Delivery.due_at) >= since,
            col(Delivery.due_at) <= now,
            col(QuestionRevision.response_type).in_(TREND_TYPES),
            col(Answer.skipped).is_(false()),
            col(Answer.value_number).is_not(None),
            *_of_groups(among),
        )
        .order_by(
            col(Question.task_id),
            col(Question.position),
            col(Delivery.due_at),
            col(QuestionRevision.revision),
        )
    ).all()
    Line = tuple[int, _Reading]
    lines: dict[Line, tuple[Question, QuestionRevision, Localized]] = {}
    points: dict[Line, list[TrendPoint]] = defaultdict(list)
    for question, revision, title, translations, due_at, value in found:
        assert question.id is not None and value is not None
        line: Line = (question.id, _reading(revision))
        latest = lines.get(line)
        if latest is None or revision.revision > latest[1].revision:
            # Labelled with its newest words, in the reader's language where they have it.
            lines[line] = (question, revision, localized(title, translations, TITLE))
        points[line].append(TrendPoint(due_at.astimezone(zone).date(), float(value)))
    trends = []
    for line, (question, revision, title) in lines.items():
        _question_id, (_type, low, high) = line
        today = _reading(question) == line[1]
        trends.append(
            Trend(
                question_id=_question_id,
                task_title=title,
                # A question's translations are of its words today: an older wording's
                # line keeps the words the patient read then.
                question=localized(revision.description, question.translations, TEXT)
                if revision.revision == question.revision
                else revision.description,
                low=low,
                high=high,
                alert=_rule(question) if today else None,
                points=tuple(points[line]),
            )
        )
    return tuple(trends)


# How a number or scale answer reads: the kind and the bounds it was given under, a scale's
# as the patient saw them (0 to 10 unless set, so "unset" and "0-10" read alike).
_Reading = tuple[str, float | None, float | None]


def _reading(question: Question | QuestionRevision) -> _Reading:
    """What an answer to ``question`` (as it asks now, or as one revision asked) means: the
    chart's lines and the digest's count of alerts both go by it."""
    if question.response_type == "scale":
        low, high = QuestionRules(
            ResponseType.SCALE, min_value=question.min_value, max_value=question.max_value
        ).scale_bounds()
        return question.response_type, float(low), float(high)
    return question.response_type, question.min_value, question.max_value


def _rules(question: Question) -> QuestionRules:
    return QuestionRules(
        response_type=ResponseType(question.response_type),
        options=tuple(question.options or ()),
        min_value=question.min_value,
        max_value=question.max_value,
        integer_only=question.integer_only,
        max_length=question.max_length,
        required=question.required,
    )


def _rule(question: Question) -> AlertRule | None:
    if not question.alert_rule or question.response_type not in ALERT_TYPES:
        return None
    try:
        return parse_alert_rule(question.alert_rule, _rules(question))
    except ValueError:
        return None  # a rule its question no longer supports fires no alert either


# --- a therapist's charts -------------------------------------------------------------------


@frozen
class ChartTarget:
    """What "/chart TEXT" names: a group's heatmap, one patient's progress, or the patients
    the name fits (``question``: what followed the name, for the chosen one's chart)."""

    group: GroupHeatmap | None = None
    patient: PatientProgress | None = None
    choices: PatientChoices | None = None
    question: str | None = None


def chart(
    database: Database, now: datetime, default_zone: str, text: str, *, actor: Actor
) -> ChartTarget:
    """Read "/chart GROUP" or "/chart PATIENT [QUESTION]" and gather what to draw.

    Only the actor's groups and their patients are found (``access``): anything else is
    unknown, whether it exists or not. A patient is found as ``/patient`` finds them
    (``patients.Patients``: a Telegram id, a name or a part of one), by the longest leading
    words of ``text`` that fit anyone; the rest is the question.
    """
    cleaned = " ".join(text.split())
    with database.read_session() as session:
        among = team_group_ids(session, actor)
        group = find_group(session, cleaned, among=among)
        if group is not None:
            return ChartTarget(group=group_heatmap(session, group, now, default_zone))
        patients = Patients(session, among)
        words = cleaned.split()
        for cut in range(len(words), 0, -1):
            ref, rest = " ".join(words[:cut]), " ".join(words[cut:])
            matches = patients.matching(ref)
            if len(matches) > 1:
                return ChartTarget(choices=patients.choices(ref, matches), question=rest or None)
            if matches:
                person = matches[0]
                progress, shown = _patient_chart(
                    session, patients, person, now, default_zone, rest or None, among
                )
                break
        else:
            raise UnknownChartTarget(cleaned, tuple(visible_group_names(session, actor)))
    _record_chart_view(database, now, actor, person, progress, shown)
    return ChartTarget(patient=progress)


def chart_patient(
    database: Database,
    now: datetime,
    default_zone: str,
    person_id: int,
    question: str | None,
    *,
    actor: Actor,
) -> ChartTarget:
    """One patient's chart, chosen from ``chart``'s choices: checked again when pressed."""
    with database.read_session() as session:
        among = team_group_ids(session, actor)
        patients = Patients(session, among)
        person = patients.people.get(person_id)
        if person is None:
            raise PatientNotShown()
        progress, shown = _patient_chart(
            session, patients, person, now, default_zone, question, among
        )
    _record_chart_view(database, now, actor, person, progress, shown)
    return ChartTarget(patient=progress)


def _patient_chart(
    session: Session,
    patients: Patients,
    person: Person,
    now: datetime,
    default_zone: str,
    question: str | None,
    among: frozenset[int] | None,
) -> tuple[PatientProgress, list[int]]:
    """The patient's progress as ``among`` shows it, and the groups whose check-ins it drew
    (drawing none, it showed every group of theirs ``among`` holds)."""
    assert person.id is not None
    groups = patients.group_ids(person.id)
    # A patient of several groups: a therapist sees only their own groups' check-ins.
    first = session.get(TherapyGroup, groups[0])
    progress = _progress(
        session, person, first, now, default_zone, question, patients.erased(person.id), among
    )
    zone = _zone_of(person, first, default_zone)
    since = datetime.combine(progress.first_day, datetime.min.time(), tzinfo=zone)
    return progress, _groups_drawn(session, person, since, now, among) or sorted(groups)


def _record_chart_view(
    database: Database,
    now: datetime,
    actor: Actor,
    person: Person,
    progress: PatientProgress,
    shown: list[int],
) -> None:
    """Their answers over the weeks: a view of the record, in the trail before it is drawn,
    filed under each group whose check-ins it drew."""
    fields = {"seen": "chart", "from": progress.first_day, "to": progress.today}
    record_views(database, now, actor, ObjectKind.PERSON, person.id, [(g, fields) for g in shown])


def _groups_drawn(
    session: Session, person: Person, since: datetime, now: datetime, among: frozenset[int] | None
) -> list[int]:
    """The groups whose check-ins (the strip) or answers (the lines) a patient's chart from
    ``since`` draws: what ``_progress`` reads, by group."""
    answered = col(Delivery.id).in_(select(Answer.delivery_id))
    return list(
        session.exec(
            select(Task.group_id)
            .join(Delivery, col(Delivery.task_id) == Task.id)
            .where(
                Delivery.person_id == person.id,
                col(Delivery.due_at) >= since,
                col(Delivery.due_at) <= now,
                or_(reached_the_patient(), answered),
                *_of_groups(among),
            )
            .distinct()
            .order_by(col(Task.group_id))
        ).all()
    )


def group_heatmap(
    session: Session, group: TherapyGroup, now: datetime, default_zone: str
) -> GroupHeatmap:
    zone = ZoneInfo(group.timezone or default_zone)
    today = now.astimezone(zone).date()
    since = _window_start(today, HEATMAP_DAYS, zone)
    members = session.exec(
        select(Person, Membership.role)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.group_id == group.id,
            col(Membership.role).in_([Role.PATIENT.value, Role.ERASED.value]),
        )
    ).all()
    assert group.id is not None
    rows = outcome_counts(session, group.id, col(Delivery.due_at), *due_between(since, now))
    zones = {p.id: _zone_of(p, group, default_zone) for p, _role in members}
    by_person: dict[int, dict[date, list[Outcome]]] = defaultdict(lambda: defaultdict(list))
    for person_id, due_at, found, count in rows:
        person_zone = zones.get(person_id, zone)
        by_person[person_id][due_at.astimezone(person_zone).date()].extend(
            [Outcome(found)] * int(count)
        )
    heat_rows = []
    for person, role in members:
        assert person.id is not None
        days = by_person.get(person.id, {})
        outcomes = Counter(o for day in days.values() for o in day)
        heat_rows.append(
            HeatmapRow(
                # 0 for an erased person, who has no id left (shown as [deleted]).
                telegram_user_id=person.telegram_user_id or 0,
                name=person.display_name,
                data_deleted=role == Role.ERASED.value or person.data_deleted_at is not None,
                days=tuple(DayCheckins(d, tuple(days[d])) for d in sorted(days)),
                tally=Tally.of(outcomes),
            )
        )
    heat_rows.sort(key=_attention)
    return GroupHeatmap(
        group_name=group.name,
        first_day=today - timedelta(days=HEATMAP_DAYS - 1),
        today=today,
        rows=tuple(heat_rows),
    )


def outcome_counts(
    session: Session,
    group_id: int,
    bucket: Any,  # a column expression
    *window: ColumnElement[bool],
) -> Sequence[tuple[int, Any, str, int]]:
    """Check-ins of a group's tasks in ``window``: (patient, bucket, outcome, how many).

    One row per patient, bucket (a due instant, a week) and outcome: several tasks due at
    the same minute are counted together, and no answer travels out of the database.
    """
    per_delivery = (
        select(
            Delivery.person_id,
            bucket.label("bucket"),
            delivery_outcome(answered_count()).label("outcome"),
        )
        .join(Task, col(Task.id) == Delivery.task_id)
        .outerjoin(Answer, answers_join())
        .where(
            Task.group_id == group_id,
            reached_the_patient(),
            *window,
        )
        .group_by(col(Delivery.id), col(Delivery.person_id), col(Delivery.due_at))
        .group_by(col(Delivery.status))
        .subquery()
    )
    columns = (per_delivery.c.person_id, per_delivery.c.bucket, per_delivery.c.outcome)
    return session.exec(select(*columns, func.count().cast(Integer)).group_by(*columns)).all()


def _attention(row: HeatmapRow) -> tuple[bool, int, float, str, int]:
    """Most missed first, then the lowest completion; deleted patients last."""
    rate = row.tally.completed / row.tally.closed if row.tally.closed else 1.0
    return (row.data_deleted, -row.tally.not_done, rate, row.name.casefold(), row.telegram_user_id)


# --- alerts fired, counted in SQL -----------------------------------------------------------


def alert_condition(question: Question) -> ColumnElement[bool] | None:
    """The SQL form of the question's alert rule over its answers, or None without one."""
    rule = _rule(question)
    if rule is None:
        return None
    if question.response_type in ("photo", "video"):
        return col(Answer.file_id).is_not(None)
    if question.response_type in TREND_TYPES:
        target = float(rule.value)
        value = col(Answer.value_number)
        return {
            ">=": value >= target,
            "<=": value <= target,
            ">": value > target,
            "<": value < target,
            "==": value == target,
            "!=": value != target,
        }[rule.op]
    if question.response_type == "yes_no":
        wanted = (rule.value == "yes") == (rule.op == "==")
        return col(Answer.value_bool).is_(wanted)
    # A choice is stored as its option, as written, and the rule names the option as written
    # (``parse_alert_rule``): no folding, which SQLite's lower() does for ASCII only and so
    # never matched "Übelkeit".
    equal = col(Answer.value_text) == rule.value
    return equal if rule.op == "==" else ~equal


def alerts_fired(session: Session, group_id: int, since: datetime, until: datetime) -> int:
    """Answers given in [since, until) that met their question's alert rule.

    Only answers given to the question as it reads now (``_reading``: its kind and bounds),
    as the chart draws the rule only on today's line: the rule was set for those, and read
    against a 0-10 scale's old answers, "alert on 2 or less" set for a 1-5 scale counted what
    was never an alert.
    """
    questions = session.exec(
        select(Question)
        .join(Task, col(Task.id) == Question.task_id)
        .where(Task.group_id == group_id, col(Question.alert_rule).is_not(None))
    ).all()
    today = {question.id: _reading(question) for question in questions}
    conditions = []
    for question in questions:
        condition = alert_condition(question)
        if condition is not None:
            conditions.append(
                and_(
                    col(Answer.question_id) == question.id,
                    col(QuestionRevision.response_type) == question.response_type,
                    condition,
                )
            )
    if not conditions:
        return 0
    # The rows that met a rule are few: their revisions' bounds are compared here, by the
    # same reading the chart uses, rather than spelled out again in SQL.
    met = session.exec(
        select(Answer.question_id, QuestionRevision)
        .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
        .where(
            col(Answer.answered_at) >= since,
            col(Answer.answered_at) < until,
            col(Answer.skipped).is_(false()),
            or_(*conditions),
        )
    ).all()
    return sum(1 for question_id, revision in met if _reading(revision) == today[question_id])
