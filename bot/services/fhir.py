"""HL7 FHIR R4B: check-ins exported as one Bundle, and a Questionnaire imported as a task.

The export is a read-only use case: one ``Bundle`` of type ``collection`` holding a
``Questionnaire`` per task, a ``QuestionnaireResponse`` per check-in that has answers (or is
completed), and a ``Patient`` per patient. The bundle is validated with ``fhir.resources``
(its R4B models, ``validate_bundle``) before it is returned: a resource that does not
validate is a bug here, raised as ``pydantic.ValidationError``, never a file.

The import reads a ``Questionnaire`` into the same ``QuestionDraft`` the chat's task dialogue
builds, so the same rules check it (``authoring.check_question`` and ``_create_task``); what
cannot be mapped is refused item by item and nothing is written.

The mapping (README, "FHIR"):

=========  =============================================================================
ours       FHIR item
=========  =============================================================================
number     ``decimal`` (``integer`` when whole numbers only), minValue/maxValue extensions
yes_no     ``boolean``
scale      ``integer`` with the ``slider`` item control and minValue/maxValue (0-10)
choice     ``choice`` with ``answerOption.valueCoding`` (code = position, display = text)
text       ``string`` with ``maxLength``
photo      ``attachment`` with the mimeType extension ``image/*``
video      ``attachment`` with the mimeType extension ``video/*``
=========  =============================================================================
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import __fhir_version__
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import ValidationError
from sqlalchemy import exists
from sqlmodel import Session, col, or_, select

from bot.frozen import frozen
from bot.services.audit import Actor, record_export
from bot.services.authoring import (
    AuthoringError,
    QuestionDraft,
    TaskDraft,
    TaskSaved,
    check_description,
    check_question,
    check_title,
    create_task,
    find_own_group,
    not_your_group,
    parse_due,
    parse_link,
    parse_repeat,
    require_group,
    team_group_ids,
)
from bot.services.meaning import Kind, Meaning, meaning
from bot.services.reports import ExportScope, export_scope
from bot.services.responses import (
    DEFAULT_SCALE_MAX,
    DEFAULT_SCALE_MIN,
    QuestionRules,
    ResponseType,
)
from bot.services.uploads import fit_to_send
from storage.db import Database
from storage.models import (
    FINAL_STATUSES,
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

FHIR_VERSION = __fhir_version__  # "4.3.0": R4B
# Our own names (identifier systems, canonical URLs, extensions). ``.invalid`` is reserved
# (RFC 2606): the names are stable and unique but never pretend to resolve.
BASE = "https://patientbot.invalid/fhir"
TELEGRAM_USER_SYSTEM = f"{BASE}/telegram-user-id"
EXT_ALERT = f"{BASE}/StructureDefinition/alert-rule"
EXT_REMOVED = f"{BASE}/StructureDefinition/question-removed"
EXT_FILE_ID = f"{BASE}/StructureDefinition/telegram-file-id"
# HL7's own extensions and code systems.
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_MIME = "http://hl7.org/fhir/StructureDefinition/mimeType"
EXT_SUPPORT_LINK = "http://hl7.org/fhir/StructureDefinition/questionnaire-supportLink"
EXT_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
FHIR_VERSION_SYSTEM = "http://hl7.org/fhir/FHIR-version"

_RESPONSE_STATUS = {
    DeliveryStatus.COMPLETED.value: "completed",
    DeliveryStatus.SENT.value: "in-progress",
    DeliveryStatus.IN_PROGRESS.value: "in-progress",
    DeliveryStatus.SENDING.value: "in-progress",
    DeliveryStatus.PENDING.value: "in-progress",
}  # every other status is final without being finished: "stopped"


@frozen
class FhirExport:
    filename: str
    content: bytes
    questionnaires: int
    responses: int
    patients: int
    scope: ExportScope
    unzipped_size: int | None = None  # zipped: too large for the Bot API as it was


# --- export -------------------------------------------------------------------------------


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fhir_filename(scope: ExportScope, now: datetime, zone: str) -> str:
    today = now.astimezone(ZoneInfo(zone)).date()
    return f"patientbot-fhir-{scope.slug()}-{today}.json"


def questionnaire_url(task_id: int) -> str:
    return f"{BASE}/Questionnaire/task-{task_id}"


def _text(value: str | None) -> str | None:
    """The text, or None when FHIR would refuse it: a FHIR string needs a visible character
    or a plain space, and a Telegram name of only a no-break space has neither."""
    return value if value and value.strip() else None


# FHIR's integer is 32 bits; a patient may type a bigger whole number where nothing bounds it.
_INTEGER_LIMIT = 2**31 - 1


def _is_integer(value: float | None) -> bool:
    return value is None or (float(value).is_integer() and abs(value) <= _INTEGER_LIMIT)


def _number(value: float) -> int | float:
    return int(value) if _is_integer(value) else value


def _bound(url: str, value: float | None, whole: bool) -> list[dict[str, Any]]:
    if value is None:
        return []
    if whole:
        return [{"url": url, "valueInteger": int(value)}]
    return [{"url": url, "valueDecimal": _number(value)}]


def _item(question: Question, wording: Question | QuestionRevision) -> dict[str, Any]:
    """The item of ``question`` as ``wording`` (the question itself, or one of its revisions)
    has it; the settings that are not wording (required, removal) are the question's own."""
    kind = ResponseType(wording.response_type)
    item: dict[str, Any] = {
        "linkId": str(question.position),
        "text": wording.description,
        "required": question.required,
    }
    extensions: list[dict[str, Any]] = []
    if wording.link:
        extensions.append({"url": EXT_SUPPORT_LINK, "valueUri": wording.link})
    if kind == ResponseType.NUMBER:
        # Whole-number bounds past FHIR's integer make the item a decimal one.
        whole = (
            wording.integer_only
            and _is_integer(wording.min_value)
            and _is_integer(wording.max_value)
        )
        item["type"] = "integer" if whole else "decimal"
        extensions += _bound(EXT_MIN, wording.min_value, whole)
        extensions += _bound(EXT_MAX, wording.max_value, whole)
    elif kind == ResponseType.SCALE:
        item["type"] = "integer"
        low, high = QuestionRules(
            kind, min_value=wording.min_value, max_value=wording.max_value
        ).scale_bounds()
        extensions += [
            {
                "url": EXT_ITEM_CONTROL,
                "valueCodeableConcept": {
                    "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "slider"}]
                },
            },
            {"url": EXT_MIN, "valueInteger": low},
            {"url": EXT_MAX, "valueInteger": high},
        ]
    elif kind == ResponseType.YES_NO:
        item["type"] = "boolean"
    elif kind == ResponseType.CHOICE:
        item["type"] = "choice"
        item["answerOption"] = [
            {"valueCoding": {"code": str(n), "display": option}}
            for n, option in enumerate(wording.options or (), start=1)
        ]
    elif kind == ResponseType.TEXT:
        item["type"] = "string"
        if wording.max_length is not None:
            item["maxLength"] = wording.max_length
    else:
        item["type"] = "attachment"
        mime = "image/*" if kind == ResponseType.PHOTO else "video/*"
        extensions.append({"url": EXT_MIME, "valueCode": mime})
    # The rule is set for today's meaning of the question (a "> 7" of a scale says nothing
    # of the yes/no it was before).
    if question.alert_rule and wording.revision == question.revision:
        extensions.append({"url": EXT_ALERT, "valueString": question.alert_rule})
    if question.removed_at is not None:
        extensions.append({"url": EXT_REMOVED, "valueDateTime": _instant(question.removed_at)})
    if extensions:
        item["extension"] = extensions
    return item


# FHIR's id: [A-Za-z0-9-.]{1,64}.
_ID_LENGTH = 64


@frozen
class _Version:
    """One version of a task's questionnaire: each question at one of its revisions, or left out.

    Today's is each question patients are asked now, as it reads now (a removed question is
    left out). A check-in that answered a question in words, kind or options since changed
    gets a version of its own, holding the revisions it answered, so every answer is read
    against the item it answered: a removed option's code, or a yes/no answer under what is a
    scale today, would otherwise say something else or fail to validate. So does a completed
    check-in that was not asked a question of today's (added after it, or removed before it
    was asked): its version holds what it answered and nothing more, because a completed
    response must answer every required item of the version it names.
    """

    task_id: int
    # One per question, in their order (positions); LEFT_OUT where not part of this version.
    revisions: tuple[int, ...]
    current: bool

    @property
    def label(self) -> str:
        """``Questionnaire.version``: each question's revision in question order, 0 for one
        left out ("1-2-1", "1-0-1"), up to the last one it holds: a question added at the end
        later leaves the label of every version before it as it was."""
        held = list(self.revisions)
        while held and held[-1] == LEFT_OUT:
            held.pop()
        return "-".join(str(revision) for revision in held) or str(LEFT_OUT)

    @property
    def resource_id(self) -> str:
        """Named by its version, so one version has one id in every export (today's too: a
        version keeps its id once an edit has made it an older one)."""
        resource_id = f"task-{self.task_id}-v{self.label}"
        if len(resource_id) <= _ID_LENGTH:
            return resource_id
        digest = hashlib.sha256(self.label.encode("ascii")).hexdigest()[:16]
        return f"task-{self.task_id}-v{digest}"

    @property
    def canonical(self) -> str:
        """What a response names: the questionnaire's URL and this version."""
        return f"{questionnaire_url(self.task_id)}|{self.label}"


# A revision number for a question not part of a version (revisions count from 1).
LEFT_OUT = 0
# A check-in in one of these will be asked nothing more.
_ENDED = frozenset(status.value for status in FINAL_STATUSES)


def _today(questions: list[Question]) -> tuple[int, ...]:
    return tuple(LEFT_OUT if q.removed_at is not None else q.revision for q in questions)


def _version_of(
    task_id: int,
    questions: list[Question],
    today: tuple[int, ...],
    answered: dict[int, QuestionRevision],
    *,
    completed: bool,
    ended: Callable[[Question], int] | None = None,
) -> _Version:
    """The version a check-in answered (``answered``: its revisions by question id, a skip
    included; ``today``: the task's ``_today``). A completed check-in was asked exactly what
    it answered. One still open may yet reach the rest, which stand as they are today. One
    that ended otherwise (expired, stopped) would have been asked the rest as they stood when
    it ended (``ended``: ``_as_it_stood``), so later edits leave the version it names as it
    was in every export before them."""
    revisions = []
    for question, revision_today in zip(questions, today, strict=True):
        if question.id in answered:
            revisions.append(answered[question.id].revision)
        elif completed:
            revisions.append(LEFT_OUT)
        elif ended is not None:
            revisions.append(ended(question))
        else:
            revisions.append(revision_today)
    return _Version(task_id, tuple(revisions), tuple(revisions) == today)


def _as_it_stood(
    task: Task, history: dict[int, list[QuestionRevision]], instant: datetime
) -> Callable[[Question], int]:
    """Each question's revision in force at ``instant``; LEFT_OUT for one removed by then or
    added after it. A question of the task's own start whose records are younger than the
    check-in (seeded history, wordings dated by migration 0010) stands at its first wording."""

    def revision_at(question: Question) -> int:
        if question.removed_at is not None and question.removed_at <= instant:
            return LEFT_OUT
        wordings = history.get(question.id or 0, [])
        in_force = [w.revision for w in wordings if w.created_at <= instant]
        if in_force:
            return max(in_force)
        if wordings and wordings[0].created_at <= task.created_at:
            return wordings[0].revision
        return LEFT_OUT

    return revision_at


def _questionnaire(
    task: Task,
    group: TherapyGroup,
    questions: list[Question],
    version: _Version,
    wordings: dict[tuple[int, int], QuestionRevision],
) -> dict[str, Any]:
    assert task.id is not None
    items = []
    changed = [task.created_at]
    for question, revision in zip(questions, version.revisions, strict=True):
        assert question.id is not None
        if revision == LEFT_OUT:
            if question.removed_at is not None:
                changed.append(question.removed_at)  # a version without it came after
            continue
        stored = wordings.get((question.id, revision))
        wording = question if revision == question.revision or stored is None else stored
        items.append(_item(question, wording))
        if stored is not None:
            changed.append(stored.created_at)
    retired = task.deleted_at is not None or not version.current
    questionnaire: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": version.resource_id,
        "url": questionnaire_url(task.id),
        "version": version.label,
        "title": task.title,
        "status": "retired" if retired else "active",
        "subjectType": ["Patient"],
        # The group is where the task belongs; a receiving system files it by this.
        "useContext": [
            {
                "code": {
                    "system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                    "code": "program",
                },
                "valueCodeableConcept": {"text": group.name},
            }
        ],
    }
    if items:  # FHIR refuses an empty list; a version may hold no question still asked
        questionnaire["item"] = items
    # When this version came to be: the task's creation, or the newest revision in it.
    questionnaire["date"] = _instant(max(changed))
    return questionnaire


def _answer(answer: Answer, question: QuestionRevision) -> dict[str, Any] | None:
    """The FHIR answer of a stored answer, or None when there is nothing to say.

    Typed by the revision the patient answered, which may differ from today's question.
    """
    if answer.skipped:
        return None
    kind = ResponseType(question.response_type)
    if kind in (ResponseType.NUMBER, ResponseType.SCALE):
        if answer.value_number is None:
            return None
        whole = kind == ResponseType.SCALE or question.integer_only
        # Past FHIR's integer, a whole number of an unbounded question can only be a decimal.
        if whole and _is_integer(answer.value_number):
            return {"valueInteger": int(answer.value_number)}
        return {"valueDecimal": answer.value_number}
    if kind == ResponseType.YES_NO:
        return None if answer.value_bool is None else {"valueBoolean": answer.value_bool}
    if kind == ResponseType.CHOICE:
        display = _text(answer.value_text)
        if display is None:
            return None
        coding: dict[str, Any] = {"display": display}
        options = question.options or []
        if display in options:
            coding["code"] = str(options.index(display) + 1)
        return {"valueCoding": coding}
    if kind == ResponseType.TEXT:
        text = _text(answer.value_text)
        return None if text is None else {"valueString": text}
    if not answer.file_id:
        return None
    # The file id names the file for this bot's token only; the bytes stay with Telegram.
    attachment: dict[str, Any] = {
        "extension": [{"url": EXT_FILE_ID, "valueString": answer.file_id}],
        "title": f"Telegram {kind.value}",
    }
    if kind == ResponseType.PHOTO:
        attachment["contentType"] = "image/jpeg"  # Telegram re-encodes every photo as JPEG
    return {"valueAttachment": attachment}


def _response(
    delivery: Delivery,
    person: Person,
    answers: list[tuple[Answer, Question, QuestionRevision]],
    version: _Version,
) -> dict[str, Any]:
    items = []
    for answer, question, revision in sorted(answers, key=lambda row: row[1].position):
        value = _answer(answer, revision)
        if value is not None:
            # The text the patient read, even if the question was reworded since.
            items.append(
                {"linkId": str(question.position), "text": revision.description, "answer": [value]}
            )
    answered = [a.answered_at for a, _q, _r in answers]
    authored = delivery.finished_at or max(answered, default=None) or delivery.due_at
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"checkin-{delivery.id}",
        "questionnaire": version.canonical,
        "status": _RESPONSE_STATUS.get(delivery.status, "stopped"),
        "subject": {"reference": f"Patient/patient-{person.id}"},
        "authored": _instant(authored),
    }
    if items:
        response["item"] = items
    return response


def _patient(person: Person) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"patient-{person.id}",
        "identifier": [{"system": TELEGRAM_USER_SYSTEM, "value": str(person.telegram_user_id)}],
    }
    full, first, last = (
        _text(n) for n in (person.display_name, person.first_name, person.last_name)
    )
    if full:
        name: dict[str, Any] = {"text": full}
        if last:
            name["family"] = last
        if first:
            name["given"] = [first]
        patient["name"] = [name]
    return patient


def build_bundle(
    session: Session,
    now: datetime,
    group: TherapyGroup | None,
    *,
    among: frozenset[int] | None = None,
) -> dict[str, Any]:
    """The export as plain JSON-ready data, not yet validated (see ``export_fhir``).

    Without a group, every group, or only those ``among`` (a therapist's own, ``access``).
    """
    groups = {g.id: g for g in session.exec(select(TherapyGroup)).all()}
    task_query = select(Task).order_by(col(Task.id))
    if group is not None:
        task_query = task_query.where(Task.group_id == group.id)
    elif among is not None:
        task_query = task_query.where(col(Task.group_id).in_(among))
    tasks = {t.id: t for t in session.exec(task_query).all()}
    task_ids = list(tasks)
    questions: dict[int, list[Question]] = defaultdict(list)
    by_id: dict[int | None, Question] = {}
    for question in session.exec(
        select(Question)
        .where(col(Question.task_id).in_(task_ids))
        .order_by(col(Question.task_id), col(Question.position))
    ).all():
        questions[question.task_id].append(question)
        by_id[question.id] = question
    wordings = {
        (revision.question_id, revision.revision): revision
        for revision in session.exec(
            select(QuestionRevision).where(col(QuestionRevision.question_id).in_(list(by_id)))
        ).all()
    }
    # A check-in counts once someone answered (or skipped) a question in it, or it is done.
    # Deleted data (/deletemydata) has no rows left, so it cannot come back here.
    has_answers = exists().where(col(Answer.delivery_id) == Delivery.id)
    deliveries = session.exec(
        select(Delivery)
        .where(
            col(Delivery.task_id).in_(task_ids),
            or_(Delivery.status == DeliveryStatus.COMPLETED.value, has_answers),
        )
        .order_by(col(Delivery.due_at), col(Delivery.person_id), col(Delivery.id))
    ).all()
    answers: dict[int, list[tuple[Answer, Question, QuestionRevision]]] = defaultdict(list)
    for answer, revision in session.exec(
        select(Answer, QuestionRevision)
        .join(Delivery, col(Delivery.id) == Answer.delivery_id)
        .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
        .where(col(Delivery.task_id).in_(task_ids))
    ).all():
        answers[answer.delivery_id].append((answer, by_id[answer.question_id], revision))
    # Patients: everyone whose check-in is here, and the groups' current patients.
    member_query = select(Membership.person_id).where(
        Membership.role == Role.PATIENT.value,
    )
    if group is not None:
        member_query = member_query.where(Membership.group_id == group.id)
    elif among is not None:
        member_query = member_query.where(col(Membership.group_id).in_(among))
    person_ids = set(session.exec(member_query).all()) | {d.person_id for d in deliveries}
    # Someone who erased their data keeps a row with their Telegram id; it stays out.
    people = {
        p.id: p
        for p in session.exec(
            select(Person)
            .where(col(Person.id).in_(person_ids), col(Person.data_deleted_at).is_(None))
            .order_by(col(Person.id))
        ).all()
    }
    deliveries = [d for d in deliveries if d.person_id in people]
    # Each response's version of its questionnaire; today's version of every task is written
    # whether or not a response names it.
    versions: dict[int, _Version] = {}
    todays = {task_id: _today(questions[task_id or 0]) for task_id in task_ids}
    history: dict[int, list[QuestionRevision]] = defaultdict(list)
    for question_id, number in sorted(wordings):  # each question's, oldest first
        history[question_id].append(wordings[question_id, number])
    for delivery in deliveries:
        completed = delivery.status == DeliveryStatus.COMPLETED.value
        ended = None
        if not completed and delivery.status in _ENDED:
            # Nothing is asked past its expiry, however late the scan recorded it.
            end = min(delivery.finished_at or delivery.expires_at, delivery.expires_at)
            ended = _as_it_stood(tasks[delivery.task_id], history, end)
        answered = {
            question.id or 0: revision
            for answer, question, revision in answers.get(delivery.id or 0, [])
            # A skip has no answer FHIR could show; once its question is required (a setting,
            # not part of the version) an item would demand one: the version leaves it out.
            if not (completed and answer.skipped and question.required)
        }
        versions[delivery.id or 0] = _version_of(
            delivery.task_id,
            questions[delivery.task_id],
            todays[delivery.task_id],
            answered,
            completed=completed,
            ended=ended,
        )
    older: dict[int, set[_Version]] = defaultdict(set)
    for version in versions.values():
        if not version.current:
            older[version.task_id].add(version)
    resources: list[dict[str, Any]] = []
    for task in tasks.values():
        task_questions = questions[task.id or 0]
        if not task_questions:
            continue
        today = _Version(task.id or 0, todays[task.id or 0], current=True)
        before = sorted(older[task.id or 0], key=lambda v: v.revisions)
        for version in [*before, today]:
            group = groups[task.group_id]
            resources.append(_questionnaire(task, group, task_questions, version, wordings))
    resources += [_patient(person) for person in people.values()]
    resources += [
        _response(d, people[d.person_id], answers.get(d.id or 0, []), versions[d.id or 0])
        for d in deliveries
    ]
    return {
        "resourceType": "Bundle",
        "meta": {"tag": [{"system": FHIR_VERSION_SYSTEM, "code": FHIR_VERSION}]},
        "type": "collection",
        "timestamp": _instant(now),
        "entry": [
            {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


# Entries validated at a time: the validated models of a whole 20,000 check-in bundle took
# hundreds of MB (benchmarks/bench_fhir.py); a slice of them is checked and dropped.
VALIDATION_SLICE = 500


def validate_bundle(data: dict[str, Any]) -> None:
    """Validate the bundle with the R4B models; ValidationError means a bug, never a file.

    The bundle is checked a slice of entries at a time, each slice as a whole Bundle with the
    same envelope, so every entry and resource is validated exactly as in one piece.
    """
    entries = data["entry"]
    envelope = {k: v for k, v in data.items() if k != "entry"}
    Bundle.model_validate(envelope)
    for start in range(0, len(entries), VALIDATION_SLICE):
        Bundle.model_validate({**envelope, "entry": entries[start : start + VALIDATION_SLICE]})


def export_fhir(
    database: Database,
    now: datetime,
    default_zone: str,
    group_ref: str | None,
    *,
    actor: Actor,
    max_bytes: int | None = None,
) -> FhirExport:
    """Every check-in (of one group, or all) as one validated FHIR R4B Bundle, JSON.

    Larger than ``max_bytes`` (the Bot API's limit), it is zipped (``uploads.fit_to_send``).
    """
    with database.read_session() as session:
        group: TherapyGroup | None = None
        if group_ref:
            group = require_group(
                session, actor, find_own_group(session, actor, group_ref), group_ref
            )
        data = build_bundle(session, now, group, among=team_group_ids(session, actor))
        scope = export_scope(session, actor, group)
    validate_bundle(data)
    kinds = [entry["resource"]["resourceType"] for entry in data["entry"]]
    responses = kinds.count("QuestionnaireResponse")
    fitted = fit_to_send(
        fhir_filename(scope, now, default_zone),
        # The data that validated, written as it is: the models' own JSON writer took 2.3 s
        # where json.dumps takes a few ms for 2,000 check-ins (benchmarks/bench_fhir.py).
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        max_bytes,
        one_group=scope.group is not None,
    )
    record_export(
        database,
        now,
        actor,
        group.id if group else None,
        {"format": "fhir", "responses": responses},
    )
    return FhirExport(
        filename=fitted.filename,
        content=fitted.content,
        questionnaires=kinds.count("Questionnaire"),
        responses=responses,
        patients=kinds.count("Patient"),
        scope=scope,
        unzipped_size=fitted.unzipped_size,
    )


# --- import -------------------------------------------------------------------------------

_SUPPORTED = {"decimal", "integer", "boolean", "choice", "string", "text", "attachment"}


@frozen
class ImportedQuestionnaire:
    saved: TaskSaved
    removed_left_out: int  # items our own export marked as removed questions


def _extensions(item: dict[str, Any], url: str) -> list[dict[str, Any]]:
    found = item.get("extension") or []
    return [e for e in found if isinstance(e, dict) and e.get("url") == url]


def _extension_value(item: dict[str, Any], url: str, *keys: str) -> Any:
    for extension in _extensions(item, url):
        for key in keys:
            if key in extension:
                return extension[key]
    return None


def _is_slider(item: dict[str, Any]) -> bool:
    concept = _extension_value(item, EXT_ITEM_CONTROL, "valueCodeableConcept") or {}
    return any(
        isinstance(c, dict) and c.get("code") == "slider" for c in concept.get("coding") or []
    )


def _label(item: Any, index: int) -> str:
    link_id = item.get("linkId") if isinstance(item, dict) else None
    return link_id if isinstance(link_id, str) and link_id.strip() else f"#{index}"


def _structure_problems(items: list[Any]) -> list[Meaning]:
    """One line per item that cannot become a question, before any value is read."""
    problems: list[Meaning] = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(meaning(Kind.FHIR_ITEM_NOT_OBJECT, index=index))
            continue
        link_id = item.get("linkId")
        label = _label(item, index)
        if not isinstance(link_id, str) or not link_id.strip():
            problems.append(
                meaning(Kind.FHIR_ITEM_NO_LINK_ID, index=index, text=str(item.get("text") or ""))
            )
        elif link_id in seen:
            problems.append(meaning(Kind.FHIR_ITEM_DUPLICATE_LINK_ID, link_id=link_id))
        else:
            seen.add(link_id)
        kind = item.get("type")
        if kind == "group" or item.get("item"):
            problems.append(meaning(Kind.FHIR_ITEM_NESTED, link_id=label))
        elif kind not in _SUPPORTED:
            problems.append(
                meaning(
                    Kind.FHIR_ITEM_UNSUPPORTED_TYPE,
                    link_id=label,
                    kind=str(kind),
                    supported=sorted(_SUPPORTED),
                )
            )
        if item.get("enableWhen"):
            problems.append(meaning(Kind.FHIR_ITEM_CONDITIONAL, link_id=label))
        if item.get("repeats"):
            problems.append(meaning(Kind.FHIR_ITEM_REPEATS, link_id=label))
        if kind in ("choice", "open-choice") and item.get("answerValueSet"):
            problems.append(meaning(Kind.FHIR_ITEM_VALUE_SET, link_id=label))
    return problems


def _invalid_line(items: list[Any], loc: tuple[Any, ...], reason: str) -> Meaning:
    """A validation error, named by the item's linkId when it is inside an item."""
    if len(loc) >= 2 and loc[0] == "item" and isinstance(loc[1], int) and loc[1] < len(items):
        where = ".".join(str(part) for part in loc[2:]) or "item"
        return meaning(
            Kind.FHIR_ITEM_INVALID,
            link_id=_label(items[loc[1]], loc[1] + 1),
            where=where,
            reason=reason,
        )
    return meaning(Kind.FHIR_INVALID, where=".".join(str(part) for part in loc), reason=reason)


def _bounds(item: dict[str, Any]) -> tuple[float | None, float | None]:
    keys = ("valueDecimal", "valueInteger")
    low = _extension_value(item, EXT_MIN, *keys)
    high = _extension_value(item, EXT_MAX, *keys)
    return (
        None if low is None else float(low),
        None if high is None else float(high),
    )


def _draft(item: dict[str, Any]) -> QuestionDraft:
    """One item as a question; raises AuthoringError with what is wrong with it."""
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise AuthoringError(meaning(Kind.FHIR_ITEM_NO_TEXT))
    description = check_description(text)
    kind = item["type"]
    draft = QuestionDraft(
        description=description,
        response_type=ResponseType.TEXT,
        # FHIR's default is "not required"; our export always says which.
        required=bool(item.get("required", False)),
    )
    link = _extension_value(item, EXT_SUPPORT_LINK, "valueUri", "valueUrl")
    if link is not None:
        draft = replace(draft, link=parse_link(str(link)))
    if kind in ("decimal", "integer"):
        low, high = _bounds(item)
        if kind == "integer" and _is_slider(item):
            draft = replace(draft, response_type=ResponseType.SCALE)
            # A scale is 0-10 unless told otherwise, and is stored so (NULL bounds).
            if (low, high) == (DEFAULT_SCALE_MIN, DEFAULT_SCALE_MAX):
                low, high = None, None
        else:
            draft = replace(
                draft, response_type=ResponseType.NUMBER, integer_only=kind == "integer"
            )
        draft = replace(draft, min_value=low, max_value=high)
    elif kind == "boolean":
        draft = replace(draft, response_type=ResponseType.YES_NO)
    elif kind == "choice":
        options = []
        for option in item.get("answerOption") or []:
            coding = option.get("valueCoding")
            text = (
                (coding.get("display") or coding.get("code"))
                if isinstance(coding, dict)
                else option.get("valueString")
            )
            if not isinstance(text, str):
                raise AuthoringError(meaning(Kind.FHIR_OPTION_NOT_TEXT))
            options.append(" ".join(text.split()))
        draft = replace(draft, response_type=ResponseType.CHOICE, options=tuple(options))
    elif kind in ("string", "text"):
        draft = replace(draft, response_type=ResponseType.TEXT, max_length=item.get("maxLength"))
    else:
        mime = str(_extension_value(item, EXT_MIME, "valueCode") or "")
        if mime.startswith("image/"):
            draft = replace(draft, response_type=ResponseType.PHOTO)
        elif mime.startswith("video/"):
            draft = replace(draft, response_type=ResponseType.VIDEO)
        else:
            raise AuthoringError(meaning(Kind.FHIR_ATTACHMENT_KIND))
    alert = _extension_value(item, EXT_ALERT, "valueString")
    if alert is not None:
        draft = replace(draft, alert_rule=str(alert))
    return check_question(draft)


def read_questionnaire(source: bytes | str) -> tuple[str, tuple[QuestionDraft, ...], int]:
    """A Questionnaire's title, its questions, and how many removed items it left out.

    Raises AuthoringError with one line per problem (each naming the item's linkId).
    """
    try:
        data = json.loads(source)
    except ValueError as error:
        raise AuthoringError(meaning(Kind.FHIR_NOT_JSON, reason=str(error))) from None
    if not isinstance(data, dict) or data.get("resourceType") != "Questionnaire":
        kind = data.get("resourceType") if isinstance(data, dict) else None
        raise AuthoringError(
            meaning(Kind.FHIR_NOT_QUESTIONNAIRE, kind=str(kind) if kind else None)
        )
    items = data.get("item") or []
    if not isinstance(items, list):
        raise AuthoringError(meaning(Kind.FHIR_ITEMS_NOT_LIST))
    problems = _structure_problems(items)
    if problems:
        raise AuthoringError(*problems)
    try:
        Questionnaire.model_validate(data)
    except ValidationError as error:
        raise AuthoringError(
            *(
                # FHIR strings may not be empty; pydantic says so as a regular expression.
                _invalid_line(items, e["loc"], "empty" if e.get("input") == "" else e["msg"])
                for e in error.errors()
            )
        ) from None
    title_text = data.get("title") or data.get("name") or ""
    try:
        title = check_title(str(title_text))
    except AuthoringError as error:
        problems += error.problems
        title = ""
    drafts: list[QuestionDraft] = []
    removed = 0
    for item in items:
        if _extensions(item, EXT_REMOVED):
            removed += 1
            continue
        try:
            drafts.append(_draft(item))
        except AuthoringError as error:
            problems += [
                meaning(Kind.FHIR_ITEM_PROBLEM, link_id=item["linkId"], problem=p)
                for p in error.problems
            ]
    if problems:
        raise AuthoringError(*problems)
    return title, tuple(drafts), removed


def _imported_before(
    session: Session, group_id: int, title: str, due_date: date, due_time: time
) -> list[Meaning]:
    """The same task already in the group: the command run twice (a script retried, say)
    would have sent its patients every check-in twice."""
    existing = session.exec(
        select(Task.id).where(
            Task.group_id == group_id,
            Task.title == title,
            Task.due_date == due_date,
            Task.due_time == due_time,
            col(Task.deleted_at).is_(None),
        )
    ).first()
    if existing is None:
        return []
    return [
        meaning(
            Kind.FHIR_TASK_EXISTS,
            title=title,
            task_id=existing,
            due=f"{due_date.isoformat()} {due_time.strftime('%H:%M')}",
        )
    ]


def import_questionnaire(
    database: Database,
    now: datetime,
    default_zone: str,
    default_expiry_minutes: int,
    source: bytes | str,
    group_ref: str,
    due: str,
    repeat: str | None,
    *,
    actor: Actor,
    source_name: str | None = None,
) -> ImportedQuestionnaire:
    """Create a task from a FHIR Questionnaire in one transaction, or nothing at all.

    ``source_name``: the file the Questionnaire was read from, named by each of its problems
    (the group and the due time are the command's, not the file's)."""
    problems: list[Meaning] = []
    title, removed = "", 0
    drafts: tuple[QuestionDraft, ...] = ()
    try:
        title, drafts, removed = read_questionnaire(source)
    except AuthoringError as error:
        problems += (
            [meaning(Kind.FHIR_IN_FILE, file=source_name, problem=p) for p in error.problems]
            if source_name
            else error.problems
        )
    group_id, zone = 0, default_zone
    with database.read_session() as session:
        group = find_own_group(session, actor, group_ref)
        if group is None:
            problems += not_your_group(session, actor, group_ref).problems
        else:
            group_id, zone = group.id or 0, group.timezone or default_zone
    due_date, due_time, recurrence = None, None, None
    if group is not None:
        try:
            due_date, due_time = parse_due(due, zone, now)
        except AuthoringError as error:
            problems += error.problems
    try:
        recurrence = parse_repeat(repeat or "once")
    except AuthoringError as error:
        problems += error.problems
    if not problems:
        assert due_date is not None and due_time is not None
        with database.read_session() as session:
            problems += _imported_before(session, group_id, title, due_date, due_time)
    if problems:
        raise AuthoringError(*problems)
    assert due_date is not None and due_time is not None
    draft = TaskDraft(
        group_id=group_id,
        title=title,
        due_date=due_date,
        due_time=due_time,
        recurrence=recurrence,
        questions=drafts,
    )
    # The one write: the task, its questions and the patients' first check-ins together.
    saved = create_task(database, now, default_zone, default_expiry_minutes, draft, actor=actor)
    return ImportedQuestionnaire(saved=saved, removed_left_out=removed)
