"""Tasks: creating (dialogue or one line), listing, showing, editing and deleting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.services.audit import Actor, AuditAction, ObjectKind, record, record_changes
from bot.services.authoring.access import (
    require_group,
    require_task_group,
    sees_every_group,
    team_group_ids,
)
from bot.services.authoring.groups import (
    _group_info,
    _require_group,
    _unknown_group_problems,
    find_own_group,
)
from bot.services.authoring.parsing import (
    check_question,
    check_title,
    group_today,
    parse_question_line,
    parse_repeat,
)
from bot.services.authoring.results import (
    MAX_QUESTIONS,
    AuthoringError,
    GroupInfo,
    QuestionDraft,
    QuestionReworded,
    QuestionsChanged,
    QuestionView,
    TaskChanged,
    TaskDeleted,
    TaskDetails,
    TaskDraft,
    TaskSaved,
    TaskSummary,
)
from bot.services.content import TEXT, localized, localized_link, localized_options, title_of
from bot.services.meaning import Kind, Meaning, meaning
from bot.services.planning import Replanned, plan_task, replan_task
from bot.services.responses import ALERT_TYPES, QuestionRules, ResponseType
from bot.services.revisions import add_first_revision, revise
from bot.services.schedule import ScheduleError, next_due, parse_when
from storage.db import Database
from storage.models import (
    MAX_INTEGER,
    OPEN_STATUSES,
    Delivery,
    DeliveryStatus,
    Membership,
    Question,
    Role,
    Task,
    TherapyGroup,
)

# --- tasks --------------------------------------------------------------------------------


def _task_next_due(task: Task, zone: str, now: datetime) -> datetime | None:
    if task.deleted_at is not None:
        return None
    return next_due(task.due_date, task.due_time, task.recurrence, ZoneInfo(zone), now)


def require_task(
    session: Session, task_id: int, *, actor: Actor, allow_deleted: bool = False
) -> Task:
    """The task numbered ``task_id`` if ``actor`` may act on its group (``access``), or the
    error a therapist reads for an unknown one (another team's task reads as unknown)."""
    # An id past the column's range is unknown too, and must not reach the database.
    task = session.get(Task, task_id) if task_id <= MAX_INTEGER else None
    if task is None and not sees_every_group(actor):
        raise AuthoringError(meaning(Kind.TEAM_NOT_YOUR_TASK, task_id=task_id))
    if task is None:
        raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_TASK, task_id=task_id))
    require_task_group(session, actor, task_id, task.group_id)
    if task.deleted_at is not None and not allow_deleted:
        raise AuthoringError(meaning(Kind.ADMIN_TASK_DELETED, task_id=task_id, title=task.title))
    return task


def _group_of(session: Session, task: Task) -> TherapyGroup:
    group = session.get(TherapyGroup, task.group_id)
    assert group is not None
    return group


def _add_question_rows(
    session: Session, task_id: int, drafts: Sequence[QuestionDraft], start: int, now: datetime
) -> list[int]:
    positions = []
    for offset, draft in enumerate(drafts):
        position = start + offset
        question = Question(
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
        session.add(question)
        add_first_revision(session, question, now)
        positions.append(position)
    return positions


def create_task(
    database: Database,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    draft: TaskDraft,
    *,
    actor: Actor,
) -> TaskSaved:
    """Store a task and its questions and plan every patient's first check-in."""
    with database.session() as session:
        saved = _create_task(session, now, default_zone, default_expiry_minutes, draft, actor)
        session.commit()
        return saved


def add_task_from_line(
    database: Database,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    text: str,
    *,
    actor: Actor,
) -> TaskSaved:
    """Read the one-line form and store the task it describes, in one transaction."""
    with database.session() as session:
        draft = _parse_task_line(session, now, default_zone, text, actor)
        saved = _create_task(session, now, default_zone, default_expiry_minutes, draft, actor)
        session.commit()
        return saved


def _create_task(
    session: Session,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    draft: TaskDraft,
    actor: Actor,
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
    # The draft's group came from a button: it may be from before the therapist left the team.
    require_group(session, actor, group, group.name)
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
    _add_question_rows(session, task.id, draft.questions, 1, now)
    session.flush()
    planned = plan_task(session, task, now, default_zone)
    after = audited_task(task) | {"questions": [q.description for q in draft.questions]}
    record(
        session,
        now,
        actor,
        AuditAction.TASK_CREATED,
        ObjectKind.TASK,
        task.id,
        group_id=info.id,
        after=after,
    )
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


def parse_task_line(
    database: Database, now: datetime, default_zone: str, text: str, *, actor: Actor
) -> TaskDraft:
    """Read the one-line form "GROUP | TITLE | WHEN | REPEAT | Q1 | Q2 ..." into a draft.

    Fields are separated by "|" or by line breaks; each question is "TEXT ; TYPE ; extras"
    (see :func:`parse_question_line`). Every problem is reported, each naming its field.
    """
    with database.read_session() as session:
        return _parse_task_line(session, now, default_zone, text, actor)


def _parse_task_line(
    session: Session, now: datetime, default_zone: str, text: str, actor: Actor
) -> TaskDraft:
    if "|" in text:
        # Every field keeps its place: an empty title must read as an empty title, not move
        # the due time into the title and every later field one along. Only a trailing "|"
        # adds nothing.
        fields = [f.strip() for f in text.split("|")]
        while fields and not fields[-1]:
            fields.pop()
    else:  # one field a line: a blank line is spacing
        fields = [f.strip() for f in text.split("\n") if f.strip()]
    if len(fields) < 5:
        raise AuthoringError(meaning(Kind.ADMIN_LINE_TOO_SHORT))
    group_ref, title_text, when_text, repeat_text, *question_texts = fields
    problems: list[Meaning] = []
    group = find_own_group(session, actor, group_ref)
    if group is None:
        problems.extend(_unknown_group_problems(session, group_ref, actor))
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
        except ScheduleError as error:
            problems.append(
                meaning(
                    Kind.ADMIN_LINE_FIELD,
                    name="when",
                    problem=meaning(Kind.RULE_PROBLEM, reason=error.problem),
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
    database: Database,
    now: datetime,
    default_zone: str,
    group_ref: str | None,
    *,
    actor: Actor,
) -> tuple[GroupInfo | None, list[TaskSummary]]:
    """The live tasks of one group (or all the actor's), with next due time and completion."""
    with database.read_session() as session:
        group = _require_group(session, group_ref, actor) if group_ref else None
        query = select(Task).where(col(Task.deleted_at).is_(None))
        allowed = team_group_ids(session, actor)
        if group is None and allowed is not None and not allowed:
            # "No tasks yet, create one" would send them to /newtask, which refuses them.
            raise AuthoringError(meaning(Kind.TEAM_NONE_YET))
        if group is not None:
            query = query.where(Task.group_id == group.id)
        elif allowed is not None:
            query = query.where(col(Task.group_id).in_(allowed))
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
        revision=question.revision,
        position=question.position,
        # With their translations, for /preview in a patient's language; /task shows them as
        # written.
        description=localized(question.description, question.translations, TEXT),
        link=localized_link(question.link, question.translations),
        rules=QuestionRules(
            response_type=ResponseType(question.response_type),
            options=localized_options(question.options, question.translations),
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
    database: Database, now: datetime, default_zone: str, task_id: int, *, actor: Actor
) -> TaskDetails:
    """A task with all its questions and how its check-ins stand so far."""
    with database.read_session() as session:
        task = require_task(session, task_id, actor=actor, allow_deleted=True)
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
        title=title_of(task),
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


def audited_task(task: Task) -> dict[str, object]:
    """What a therapist sets on a task, as the audit trail keeps it."""
    return {
        "title": task.title,
        "due_date": task.due_date.isoformat(),
        "due_time": task.due_time.isoformat(timespec="minutes"),
        "recurrence": task.recurrence,
    }


def _changed(task: Task, group: GroupInfo, now: datetime, replanned: Replanned) -> TaskChanged:
    assert task.id is not None
    return TaskChanged(
        task_id=task.id,
        title=task.title,
        group=group,
        due_date=task.due_date,
        due_time=task.due_time,
        recurrence=task.recurrence,
        next_due=_task_next_due(task, group.zone, now),
        cancelled=replanned.cancelled,
        added=replanned.added,
        kept=replanned.kept,
    )


def change_due(
    database: Database,
    now: datetime,
    default_zone: str,
    task_id: int,
    due_date: date,
    due_time: time,
    *,
    actor: Actor,
) -> TaskChanged:
    """Move a task's start date and time; pending check-ins are planned again."""

    def move(task: Task) -> None:
        task.due_date, task.due_time = due_date, due_time

    return _reschedule(database, now, default_zone, task_id, actor, move)


def change_repeat(
    database: Database,
    now: datetime,
    default_zone: str,
    task_id: int,
    recurrence: str | None,
    *,
    actor: Actor,
) -> TaskChanged:
    """Change how a task repeats; pending check-ins are planned again."""

    def repeat(task: Task) -> None:
        task.recurrence = recurrence

    return _reschedule(database, now, default_zone, task_id, actor, repeat)


def _reschedule(
    database: Database,
    now: datetime,
    default_zone: str,
    task_id: int,
    actor: Actor,
    change: Callable[[Task], None],
) -> TaskChanged:
    """Apply a change of when a task is due, refuse it if never due again, plan again, audit."""
    with database.session() as session:
        task = require_task(session, task_id, actor=actor)
        info = _group_info(_group_of(session, task), default_zone)
        before = audited_task(task)
        change(task)
        if (
            next_due(task.due_date, task.due_time, task.recurrence, ZoneInfo(info.zone), now)
            is None
        ):
            raise AuthoringError(meaning(Kind.ADMIN_NEVER_DUE))  # the session rolls back
        session.flush()
        replanned = replan_task(session, task, now, default_zone)
        _record_edit(session, now, actor, task, info.id, before)
        session.commit()
        return _changed(task, info, now, replanned)


def _record_edit(
    session: Session,
    now: datetime,
    actor: Actor,
    task: Task,
    group_id: int,
    before: dict[str, object],
) -> None:
    """One TASK_EDITED event holding only the fields that changed (none changed: no event)."""
    record_changes(
        session,
        now,
        actor,
        AuditAction.TASK_EDITED,
        ObjectKind.TASK,
        task.id,
        group_id=group_id,
        before=before,
        after=audited_task(task),
    )


def add_questions(
    database: Database,
    task_id: int,
    drafts: Sequence[QuestionDraft],
    *,
    now: datetime,
    actor: Actor,
) -> QuestionsChanged:
    """Append questions to a task; check-ins already answered keep their answers."""
    for draft in drafts:
        check_question(draft)
    with database.session() as session:
        task = require_task(session, task_id, actor=actor)
        assert task.id is not None
        rows = session.exec(select(Question).where(Question.task_id == task.id)).all()
        active = sum(1 for q in rows if q.removed_at is None)
        if active + len(drafts) > MAX_QUESTIONS:
            raise AuthoringError(meaning(Kind.ADMIN_TOO_MANY_QUESTIONS, most=MAX_QUESTIONS))
        # Positions of removed questions stay taken: their answers still point at them.
        start = max((q.position for q in rows), default=0) + 1
        positions = _add_question_rows(session, task.id, drafts, start, now)
        session.flush()
        added = session.exec(
            select(Question).where(Question.task_id == task.id, col(Question.position) >= start)
        ).all()
        for question in added:
            record(
                session,
                now,
                actor,
                AuditAction.QUESTION_CREATED,
                ObjectKind.QUESTION,
                question.id,
                group_id=task.group_id,
                after=audited_question(question),
            )
        session.commit()
        return QuestionsChanged(task.id, task.title, tuple(positions), active + len(drafts))


def audited_question(question: Question) -> dict[str, object]:
    """What a therapist sets on a question, as the audit trail keeps it."""
    return {
        "task_id": question.task_id,
        "position": question.position,
        "description": question.description,
        "response_type": question.response_type,
        "options": question.options,
        "min_value": question.min_value,
        "max_value": question.max_value,
    }


def audited_revision(question: Question) -> dict[str, object]:
    """A question's fields for an edit's audit event, the revision named."""
    return audited_question(question) | {
        "link": question.link,
        "integer_only": question.integer_only,
        "max_length": question.max_length,
        "required": question.required,
        "alert_rule": question.alert_rule,
        "revision": question.revision,
    }


def _active_question(
    session: Session, task: Task, position: int, *, lock: bool = False
) -> Question:
    """The task's question at ``position`` that is not removed; refused by its number.

    ``lock``: held until the transaction ends, and read as a concurrent change left it once
    that committed (PostgreSQL; SQLite's writers take turns anyway)."""
    query = select(Question).where(
        Question.task_id == task.id,
        Question.position == position,
        col(Question.removed_at).is_(None),
    )
    target = session.exec(query.with_for_update() if lock else query).first()
    if target is None:
        raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_QUESTION, position=position))
    return target


def question_now(
    database: Database, task_id: int, position: int, *, actor: Actor
) -> QuestionDraft:
    """The task's question at ``position`` as it is now, for changing it step by step."""
    with database.read_session() as session:
        task = require_task(session, task_id, actor=actor)
        target = _active_question(session, task, position)
        return _question_view(target).draft()


def reword_question(
    database: Database,
    task_id: int,
    position: int,
    draft: QuestionDraft,
    *,
    seen: QuestionDraft,
    now: datetime,
    actor: Actor,
) -> QuestionReworded:
    """Give a question new wording, type, options or bounds as a new revision.

    Answers already given keep pointing at the revision they answered. A check-in in progress
    asks the new revision from its current question on: a reply to the old wording still on
    the patient's screen is not stored, and the question is sent again as it now reads.

    ``seen`` is the question as ``question_now`` showed it when the change began: what the
    therapist kept of it is that, so a colleague's change saved since is refused rather than
    silently undone.
    """
    check_question(draft)
    with database.session() as session:
        task = require_task(session, task_id, actor=actor)
        assert task.id is not None
        target = _active_question(session, task, position, lock=True)
        changed_meanwhile = AuthoringError(
            meaning(Kind.ADMIN_QUESTION_CHANGED_MEANWHILE, task_id=task.id, position=position)
        )
        if _question_view(target).draft() != seen:
            raise changed_meanwhile
        before = audited_revision(target)
        revise(
            session,
            target,
            {
                "description": draft.description,
                "link": draft.link,
                "response_type": draft.response_type.value,
                "options": list(draft.options) or None,
                "min_value": draft.min_value,
                "max_value": draft.max_value,
                "integer_only": draft.integer_only,
                "max_length": draft.max_length,
            },
            now,
        )
        # Required and the alert rule are the therapist's settings: changed in place.
        target.required, target.alert_rule = draft.required, draft.alert_rule
        after = audited_revision(target)
        record_changes(
            session,
            now,
            actor,
            AuditAction.QUESTION_EDITED,
            ObjectKind.QUESTION,
            target.id,
            group_id=task.group_id,
            before=before,
            after=after,
        )
        reworded = QuestionReworded(
            task.id, task.title, position, target.description, target.revision, after != before
        )
        try:
            session.commit()
        except IntegrityError:  # a writer that does not lock the row (a seed) took the revision
            raise changed_meanwhile from None
        return reworded


def remove_question(
    database: Database, now: datetime, task_id: int, position: int, *, actor: Actor
) -> QuestionsChanged:
    """Retire a question (never delete it: answers point at it); a task keeps at least one."""
    with database.session() as session:
        task = require_task(session, task_id, actor=actor)
        assert task.id is not None
        rows = session.exec(select(Question).where(Question.task_id == task.id)).all()
        target = next((q for q in rows if q.position == position and q.removed_at is None), None)
        if target is None:
            raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_QUESTION, position=position))
        active = sum(1 for q in rows if q.removed_at is None)
        if active <= 1:
            raise AuthoringError(meaning(Kind.ADMIN_LAST_QUESTION))
        target.removed_at = now
        record(
            session,
            now,
            actor,
            AuditAction.QUESTION_DELETED,
            ObjectKind.QUESTION,
            target.id,
            group_id=task.group_id,
            before=audited_question(target),
        )
        session.commit()
        return QuestionsChanged(task.id, task.title, (position,), active - 1)


def delete_task(
    database: Database, now: datetime, default_zone: str, task_id: int, *, actor: Actor
) -> TaskDeleted:
    """Soft-delete a task: future check-ins go, open ones are cancelled, answers stay."""
    with database.session() as session:
        task = require_task(session, task_id, actor=actor)
        info = _group_info(_group_of(session, task), default_zone)
        record(
            session,
            now,
            actor,
            AuditAction.TASK_DELETED,
            ObjectKind.TASK,
            task.id,
            group_id=info.id,
            before=audited_task(task),
        )
        task.deleted_at = now
        session.flush()
        cancelled_pending = replan_task(session, task, now, default_zone).cancelled
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
