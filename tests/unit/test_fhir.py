"""The FHIR export and the Questionnaire import, against rows whose every value is known."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError
from sqlmodel import Session, func, select

from bot.clock import ManualClock
from bot.services import fhir
from bot.services.audit import OPERATOR
from bot.services.authoring import AuthoringError, QuestionDraft, TaskDraft, create_task
from bot.services.responses import ResponseType
from bot.services.revisions import add_first_revision, revise
from fakebotapi import parse_html
from storage.db import Database
from storage.models import (
    Answer,
    Delivery,
    DeliveryStatus,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
)
from tests.fakes.revisions import revision_id, with_first_revisions
from tests.fakes.words import worded

ZONE = "Europe/London"
S = DeliveryStatus
# Telegram ids no date, count or code in the file could contain by chance.
ALICE_ID, BOB_ID, CHLOE_ID, DANA_ID, EVE_ID, HUGO_ID = (
    7_700_001,
    7_700_002,
    7_700_003,
    7_700_004,
    7_700_005,
    7_700_006,
)

EVERY_KIND = (
    QuestionDraft(
        "Pain now, 0-10?",
        ResponseType.SCALE,
        link="https://example.org/pain",
        alert_rule=">= 8",
    ),
    QuestionDraft("Minutes of exercise?", ResponseType.NUMBER, min_value=0.5, max_value=90.5),
    QuestionDraft(
        "How many press-ups?", ResponseType.NUMBER, min_value=0, max_value=50, integer_only=True
    ),
    QuestionDraft("Did you do it?", ResponseType.YES_NO, alert_rule="== no"),
    QuestionDraft("Which side?", ResponseType.CHOICE, options=("Left", "Right", "Both sides")),
    QuestionDraft("Notes", ResponseType.TEXT, max_length=500, required=False),
    QuestionDraft(
        "A photo of the exercise",
        ResponseType.PHOTO,
        link="https://example.org/how-to-photo",
        required=False,
    ),
    QuestionDraft("A video of one repetition", ResponseType.VIDEO, required=False),
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class World:
    session: Session
    group: TherapyGroup
    task: Task
    questions: list[Question]
    people: dict[str, Person]
    deliveries: dict[str, Delivery]

    def checkin(self, who: str, due: str, status: DeliveryStatus, **extra: Any) -> Delivery:
        row = Delivery(
            task_id=self.task.id or 0,
            person_id=self.people[who].id or 0,
            due_at=at(due),
            expires_at=at(due) + timedelta(days=1),
            status=status.value,
            **extra,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def answer(self, delivery: Delivery, position: int, when: str, **values: Any) -> None:
        self.session.add(
            Answer(
                delivery_id=delivery.id or 0,
                question_id=self.questions[position - 1].id or 0,
                question_revision_id=revision_id(
                    self.session, self.questions[position - 1].id or 0
                ),
                answered_at=at(when),
                **values,
            )
        )
        self.session.flush()


@pytest.fixture
def world(database: Database, clock: ManualClock) -> Iterator[World]:
    now = clock.now()
    saved = create_task(
        database,
        now,
        ZONE,
        24 * 60,
        TaskDraft(
            group_id=_group(database, now, "Shoulder Therapy 1"),
            title="Every kind",
            due_date=date(2026, 11, 26),
            due_time=time(10, 0),
            recurrence="FREQ=DAILY",
            questions=EVERY_KIND,
        ),
        actor=OPERATOR,
    )
    other = _group(database, now, "Hip Therapy 1")
    session = database.session().__enter__()
    task = session.get(Task, saved.task_id)
    assert task is not None
    group = session.get(TherapyGroup, task.group_id)
    assert group is not None
    questions = list(
        session.exec(select(Question).where(Question.task_id == task.id).order_by("position"))
    )
    # A question removed after Bob answered it: today's questionnaire leaves it out, and the
    # version Bob answered holds it, marked.
    removed = Question(
        task_id=task.id or 0,
        position=9,
        description="Old question",
        response_type="yes_no",
        removed_at=at("2026-11-21T08:00"),
    )
    session.add(removed)
    with_first_revisions(session, [removed])
    questions.append(removed)
    people = {
        "alice": Person(telegram_user_id=ALICE_ID, first_name="Alice", last_name="Test"),
        "bob": Person(telegram_user_id=BOB_ID, first_name="Bob"),
        "chloe": Person(telegram_user_id=CHLOE_ID, first_name="Chloe", last_name="Test"),
        # Erased her data (/deletemydata): no rows left but the marker and her Telegram id.
        "dana": Person(telegram_user_id=DANA_ID, data_deleted_at=now),
        "hugo": Person(telegram_user_id=HUGO_ID, first_name="Hugo"),
        # Telegram allows a name FHIR would refuse as a string: only a no-break space.
        "eve": Person(telegram_user_id=EVE_ID, first_name="\u00a0"),
    }
    for person in people.values():
        person.created_at = now
    session.add_all(people.values())
    session.flush()
    roles = {"alice": Role.PATIENT, "bob": Role.PATIENT, "chloe": Role.PATIENT}
    roles |= {"dana": Role.ERASED, "eve": Role.PATIENT}
    for who, role in roles.items():
        session.add(
            Membership(
                group_id=group.id or 0,
                person_id=people[who].id or 0,
                role=role.value,
                joined_at=now,
            )
        )
    session.add(
        Membership(group_id=other, person_id=people["hugo"].id or 0, role="patient", joined_at=now)
    )
    w = World(session, group, task, questions, people, {})
    d = w.checkin("alice", "2026-11-20T10:00", S.COMPLETED, finished_at=at("2026-11-20T10:09"))
    w.answer(d, 1, "2026-11-20T10:01", value_text="7", value_number=7.0)
    w.answer(d, 2, "2026-11-20T10:02", value_text="12.5", value_number=12.5)
    w.answer(d, 3, "2026-11-20T10:03", value_text="20", value_number=20.0)
    w.answer(d, 4, "2026-11-20T10:04", value_text="Yes", value_bool=True)
    w.answer(d, 5, "2026-11-20T10:05", value_text="Both sides")
    w.answer(d, 6, "2026-11-20T10:06", value_text='Sore, but "better"\nthanks')
    w.answer(d, 7, "2026-11-20T10:07", value_text="photo", file_id="AgAD-photo-1")
    w.answer(d, 8, "2026-11-20T10:08", value_text="video", file_id="BAAD-video-1")
    w.deliveries["alice"] = d
    d = w.checkin("bob", "2026-11-20T10:00", S.EXPIRED)
    w.answer(d, 1, "2026-11-20T11:00", value_text="9", value_number=9.0)
    w.answer(d, 2, "2026-11-20T11:01", skipped=True)
    w.answer(d, 9, "2026-11-20T11:02", value_text="No", value_bool=False)
    w.deliveries["bob"] = d
    d = w.checkin("chloe", "2026-11-21T10:00", S.IN_PROGRESS)
    w.answer(d, 1, "2026-11-21T10:30", value_text="0", value_number=0.0)
    w.deliveries["chloe"] = d
    # Expired untouched (missed), and still to come: neither is a response.
    w.checkin("eve", "2026-11-20T10:00", S.EXPIRED)
    w.checkin("eve", "2026-11-26T10:00", S.PENDING)
    session.commit()
    yield w
    session.close()


def _group(database: Database, now: datetime, name: str) -> int:
    with database.session() as session:
        group = TherapyGroup(name=name, timezone=ZONE, created_at=now)
        session.add(group)
        session.commit()
        assert group.id is not None
        return group.id


def _export(database: Database, now: datetime, ref: str | None = "Shoulder Therapy 1") -> Bundle:
    result = fhir.export_fhir(database, now, ZONE, ref, actor=OPERATOR)
    return Bundle.model_validate_json(result.content)


def _resources(bundle: Bundle, kind: str) -> list[Any]:
    return [e.resource for e in bundle.entry or [] if e.resource.get_resource_type() == kind]


TODAY = "1-1-1-1-1-1-1-1"  # the question at position 9 was removed: no 0 for it at the end
BEFORE_REMOVAL = "1-1-1-1-1-1-1-1-1"
# Extensions of an item that follow the question's settings today, in every version.
SETTINGS = {fhir.EXT_ALERT, fhir.EXT_REMOVED}


def _versions(bundle: Bundle) -> dict[str, Any]:
    return {q.version: q for q in _resources(bundle, "Questionnaire")}


def _answers(response: QuestionnaireResponse) -> dict[str, dict[str, Any]]:
    return {
        item.linkId: item.answer[0].model_dump(exclude_none=True)
        for item in response.item or []
        if item.answer
    }


def test_the_export_is_one_valid_r4b_bundle_of_every_kind_of_resource(
    database: Database, clock: ManualClock, world: World
) -> None:
    result = fhir.export_fhir(database, clock.now(), ZONE, "shoulder therapy 1", actor=OPERATOR)
    assert result.filename == "patientbot-fhir-shoulder-therapy-1-2026-11-25.json"
    # Today's questionnaire, and the version with the question Bob answered before its removal.
    assert (result.questionnaires, result.responses, result.patients) == (2, 3, 4)
    data = json.loads(result.content)
    assert data["type"] == "collection"
    assert data["meta"]["tag"] == [{"system": fhir.FHIR_VERSION_SYSTEM, "code": "4.3.0"}]
    bundle = Bundle.model_validate(data)
    # Every resource validates on its own too, as a receiving system will read it.
    for entry in data["entry"]:
        resource = entry["resource"]
        model = {
            "Questionnaire": Questionnaire,
            "QuestionnaireResponse": QuestionnaireResponse,
            "Patient": Patient,
        }[resource["resourceType"]]
        model.model_validate(resource)
        assert entry["fullUrl"] == f"{fhir.BASE}/{resource['resourceType']}/{resource['id']}"
    assert len(bundle.entry or []) == 9


def test_validation_refuses_a_resource_built_wrong(
    database: Database, clock: ManualClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database.read_session() as session:
        data = fhir.build_bundle(session, clock.now(), None)
    # Slices of two entries: the broken one is in a later slice, not the first.
    monkeypatch.setattr(fhir, "VALIDATION_SLICE", 2)
    fhir.validate_bundle(data)
    response = [
        e["resource"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    ][-1]
    assert data["entry"].index(next(e for e in data["entry"] if e["resource"] is response)) > 2
    response["authored"] = "yesterday"
    with pytest.raises(ValidationError):
        fhir.validate_bundle(data)
    with pytest.raises(ValidationError):
        Bundle.model_validate(data)


def test_the_questionnaire_maps_every_response_type(
    database: Database, clock: ManualClock, world: World
) -> None:
    versions = _versions(_export(database, clock.now()))
    assert sorted(versions) == [TODAY, BEFORE_REMOVAL]
    questionnaire, before = versions[TODAY], versions[BEFORE_REMOVAL]
    assert questionnaire.url == before.url == fhir.questionnaire_url(world.task.id or 0)
    assert questionnaire.title == "Every kind"
    assert (questionnaire.status, before.status) == ("active", "retired")
    # Today's holds what patients are asked now; the removed question is not asked.
    assert [i.linkId for i in questionnaire.item] == [str(n) for n in range(1, 9)]
    assert [i.model_dump() for i in before.item[:8]] == [
        i.model_dump() for i in questionnaire.item
    ]
    items = {i.linkId: i.model_dump(exclude_none=True) for i in before.item}
    assert [(k, i["type"], i["required"]) for k, i in items.items()] == [
        ("1", "integer", True),
        ("2", "decimal", True),
        ("3", "integer", True),
        ("4", "boolean", True),
        ("5", "choice", True),
        ("6", "string", False),
        ("7", "attachment", False),
        ("8", "attachment", False),
        ("9", "boolean", True),
    ]

    def ext(link_id: str) -> dict[str, Any]:
        found = {}
        for e in items[link_id].get("extension", []):
            value = next(v for k, v in e.items() if k.startswith("value"))
            found[e["url"]] = value
        return found

    assert ext("1") == {
        fhir.EXT_SUPPORT_LINK: "https://example.org/pain",
        fhir.EXT_ITEM_CONTROL: {
            "coding": [{"system": fhir.ITEM_CONTROL_SYSTEM, "code": "slider"}]
        },
        fhir.EXT_MIN: 0,
        fhir.EXT_MAX: 10,
        fhir.EXT_ALERT: ">= 8",
    }
    assert ext("2") == {fhir.EXT_MIN: 0.5, fhir.EXT_MAX: 90.5}
    assert ext("3") == {fhir.EXT_MIN: 0, fhir.EXT_MAX: 50}
    assert ext("4") == {fhir.EXT_ALERT: "== no"}
    assert items["5"]["answerOption"] == [
        {"valueCoding": {"code": "1", "display": "Left"}},
        {"valueCoding": {"code": "2", "display": "Right"}},
        {"valueCoding": {"code": "3", "display": "Both sides"}},
    ]
    assert items["6"]["maxLength"] == 500
    assert ext("7") == {
        fhir.EXT_SUPPORT_LINK: "https://example.org/how-to-photo",
        fhir.EXT_MIME: "image/*",
    }
    assert ext("8") == {fhir.EXT_MIME: "video/*"}
    assert ext("9") == {fhir.EXT_REMOVED: datetime(2026, 11, 21, 8, 0, tzinfo=UTC)}


def test_each_response_holds_the_values_stored_in_the_database(
    database: Database, clock: ManualClock, world: World
) -> None:
    bundle = _export(database, clock.now())
    responses = {r.id: r for r in _resources(bundle, "QuestionnaireResponse")}
    alice = responses[f"checkin-{world.deliveries['alice'].id}"]
    assert alice.status == "completed"
    # Every answer is to a question as it reads today. Bob answered the question removed
    # since: his response names the version that holds it.
    url = fhir.questionnaire_url(world.task.id or 0)
    assert {
        who: responses[f"checkin-{d.id}"].questionnaire for who, d in world.deliveries.items()
    } == {
        "alice": f"{url}|{TODAY}",
        "bob": f"{url}|{BEFORE_REMOVAL}",
        "chloe": f"{url}|{TODAY}",
    }
    assert alice.subject.reference == f"Patient/patient-{world.people['alice'].id}"
    assert alice.authored == datetime(2026, 11, 20, 10, 9, tzinfo=UTC)
    assert _answers(alice) == {
        "1": {"valueInteger": 7},
        "2": {"valueDecimal": 12.5},
        "3": {"valueInteger": 20},
        "4": {"valueBoolean": True},
        "5": {"valueCoding": {"code": "3", "display": "Both sides"}},
        "6": {"valueString": 'Sore, but "better"\nthanks'},
        "7": {
            "valueAttachment": {
                "extension": [{"url": fhir.EXT_FILE_ID, "valueString": "AgAD-photo-1"}],
                "contentType": "image/jpeg",
                "title": "Telegram photo",
            }
        },
        "8": {
            "valueAttachment": {
                "extension": [{"url": fhir.EXT_FILE_ID, "valueString": "BAAD-video-1"}],
                "title": "Telegram video",
            }
        },
    }
    # Expired half-way: stopped, the skipped question left out, the removed one kept.
    bob = responses[f"checkin-{world.deliveries['bob'].id}"]
    assert bob.status == "stopped"
    assert bob.authored == datetime(2026, 11, 20, 11, 2, tzinfo=UTC)
    assert _answers(bob) == {"1": {"valueInteger": 9}, "9": {"valueBoolean": False}}
    chloe = responses[f"checkin-{world.deliveries['chloe'].id}"]
    assert chloe.status == "in-progress"
    assert _answers(chloe) == {"1": {"valueInteger": 0}}


def test_whole_numbers_past_fhirs_integer_are_decimals(
    database: Database, clock: ManualClock, world: World
) -> None:
    question = world.questions[2]  # whole numbers, 0-50
    question.min_value, question.max_value = None, 5e9
    d = world.checkin("chloe", "2026-11-22T10:00", S.COMPLETED)
    world.answer(d, 3, "2026-11-22T10:01", value_text="3000000000", value_number=3e9)
    world.session.commit()
    bundle = _export(database, clock.now())
    item = _versions(bundle)[TODAY].item[2].model_dump(exclude_none=True)
    assert item["type"] == "decimal"
    assert item["extension"] == [{"url": fhir.EXT_MAX, "valueDecimal": 5e9}]
    (response,) = [
        r for r in _resources(bundle, "QuestionnaireResponse") if r.id == f"checkin-{d.id}"
    ]
    assert _answers(response) == {"3": {"valueDecimal": 3e9}}


_VALUE_TYPES = {
    "valueBoolean": {"boolean"},
    "valueInteger": {"integer"},
    "valueDecimal": {"decimal"},
    "valueCoding": {"choice"},
    "valueString": {"string"},
    "valueAttachment": {"attachment"},
}


def _answered_against(bundle: Bundle) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """Each response's answers, each with the item of the questionnaire version it names;
    asserts every answer fits that item as a receiving system would check it."""
    versions = {
        f"{q.url}|{q.version}": {i.linkId: i.model_dump(exclude_none=True) for i in q.item}
        for q in _resources(bundle, "Questionnaire")
    }
    found = {}
    for response in _resources(bundle, "QuestionnaireResponse"):
        items = versions[response.questionnaire]  # the version it names is in the bundle
        answers = {}
        for link_id, answer in _answers(response).items():
            item = items[link_id]
            ((kind, value),) = answer.items()
            assert item["type"] in _VALUE_TYPES[kind], (response.id, link_id, item, answer)
            if kind == "valueCoding":
                assert {"valueCoding": value} in item["answerOption"], (item, value)
            answers[link_id] = (response.questionnaire, answer)
        if response.status == "completed":
            required = {link_id for link_id, item in items.items() if item["required"]}
            assert required <= set(answers), (response.id, "unanswered", required - set(answers))
        found[response.id] = answers
    return found


def _chloe_completes_the_eight(world: World) -> Delivery:
    """Chloe's check-in of 27 November, completed: the five required questions answered and
    the three optional ones skipped."""
    d = world.checkin("chloe", "2026-11-27T10:00", S.COMPLETED)
    for position, value in ((1, 2.0), (2, 10.0), (3, 15.0)):
        world.answer(d, position, "2026-11-27T10:01", value_text=str(value), value_number=value)
    world.answer(d, 4, "2026-11-27T10:02", value_text="Yes", value_bool=True)
    world.answer(d, 5, "2026-11-27T10:03", value_text="Left")
    for position in (6, 7, 8):
        world.answer(d, position, "2026-11-27T10:04", skipped=True)
    return d


def test_a_completed_check_in_names_a_version_of_only_what_it_was_asked(
    database: Database, clock: ManualClock, world: World
) -> None:
    """A completed response must answer every required item of the version it names. Alice's
    check-in ended before the therapist added a required question: her version leaves it
    out, as it leaves out the question removed before she was asked it; Chloe, asked it
    since, names today's version, which holds it."""
    later = clock.now() + timedelta(days=1)
    added = Question(
        task_id=world.task.id or 0,
        position=10,
        description="Did you warm up first?",
        response_type="yes_no",
        required=True,
    )
    world.session.add(added)
    world.session.flush()
    add_first_revision(world.session, added, later)
    world.questions.append(added)
    d = _chloe_completes_the_eight(world)
    world.answer(d, 10, "2026-11-27T10:05", value_text="No", value_bool=False)
    world.session.commit()

    bundle = _export(database, later)
    answered = _answered_against(bundle)  # every completed response answers what it must
    url = fhir.questionnaire_url(world.task.id or 0)
    alice = {v for v, _a in answered[f"checkin-{world.deliveries['alice'].id}"].values()}
    assert alice == {f"{url}|1-1-1-1-1-1-1-1"}
    assert answered[f"checkin-{d.id}"]["10"] == (
        f"{url}|1-1-1-1-1-1-1-1-0-1",
        {"valueBoolean": False},
    )
    versions = _versions(bundle)
    assert (versions["1-1-1-1-1-1-1-1-0-1"].status, versions["1-1-1-1-1-1-1-1"].status) == (
        "active",
        "retired",
    )
    assert [i.linkId for i in versions["1-1-1-1-1-1-1-1-0-1"].item][-1] == "10"
    assert len(versions["1-1-1-1-1-1-1-1"].item) == 8


def test_a_check_in_answered_before_an_edit_names_the_version_it_answered(
    database: Database, clock: ManualClock, world: World
) -> None:
    # Alice answered "Both sides" (option 3) and "Yes" before the therapist dropped the third
    # option and made the yes/no a 0-10 scale.
    first = _versions(_export(database, clock.now()))[TODAY]
    later = clock.now() + timedelta(days=1)
    choice, yes_no = world.questions[4], world.questions[3]
    assert revise(world.session, choice, {"options": ["Left", "Right"]}, later)
    assert revise(world.session, yes_no, {"response_type": "scale"}, later)
    world.session.commit()
    d = world.checkin("alice", "2026-11-27T10:00", S.IN_PROGRESS)
    world.answer(d, 4, "2026-11-27T10:01", value_text="6", value_number=6.0)
    world.answer(d, 5, "2026-11-27T10:02", value_text="Right")
    world.session.commit()

    bundle = _export(database, clock.now())
    answered = _answered_against(bundle)
    before = answered[f"checkin-{world.deliveries['alice'].id}"]
    after = answered[f"checkin-{d.id}"]
    url = fhir.questionnaire_url(world.task.id or 0)
    assert before["4"] == (f"{url}|1-1-1-1-1-1-1-1", {"valueBoolean": True})
    assert before["5"] == (
        f"{url}|1-1-1-1-1-1-1-1",
        {"valueCoding": {"code": "3", "display": "Both sides"}},
    )
    assert after["4"] == (f"{url}|1-1-1-2-2-1-1-1", {"valueInteger": 6})
    assert after["5"] == (
        f"{url}|1-1-1-2-2-1-1-1",
        {"valueCoding": {"code": "2", "display": "Right"}},
    )
    # Chloe, still answering, reached only a question that did not change: today's version.
    # Bob's check-in expired before the edit, with the question removed since answered: his
    # version holds the rest as they stood then.
    for who, version in (("chloe", "1-1-1-2-2-1-1-1"), ("bob", BEFORE_REMOVAL)):
        assert {v for v, _a in answered[f"checkin-{world.deliveries[who].id}"].values()} == {
            f"{url}|{version}"
        }
    questionnaires = _versions(bundle)
    assert sorted(questionnaires) == ["1-1-1-1-1-1-1-1", BEFORE_REMOVAL, "1-1-1-2-2-1-1-1"]
    old, today = questionnaires["1-1-1-1-1-1-1-1"], questionnaires["1-1-1-2-2-1-1-1"]
    assert (old.id, old.status) == (f"task-{world.task.id}-v1-1-1-1-1-1-1-1", "retired")
    assert (first.id, first.version) == (old.id, old.version), "one version, one id"
    assert (today.id, today.status) == (f"task-{world.task.id}-v1-1-1-2-2-1-1-1", "active")
    assert old.date < today.date
    # The alert rule belongs to today's meaning: the old yes/no item does not carry it.
    assert "extension" not in old.item[3].model_dump(exclude_none=True)
    assert [x.url for x in today.item[3].extension] == [
        fhir.EXT_ITEM_CONTROL,
        fhir.EXT_MIN,
        fhir.EXT_MAX,
        fhir.EXT_ALERT,
    ]


def test_a_check_in_that_expired_names_the_same_version_after_later_edits(
    database: Database, clock: ManualClock, world: World
) -> None:
    """Bob's check-in expired with questions 3 to 8 unreached; a receiving system that filed
    his response must find it under the same version in every later export, whatever the
    therapist changes since: a rewording, a question removed, one added."""

    def bobs(bundle: Bundle) -> tuple[str, list[dict[str, Any]]]:
        """His version's label and what it asks; without the alert rule and the removal mark,
        which are today's settings of a question, not its wording (``fhir._item``)."""
        (label,) = {v for v, _a in _answered_against(bundle)[bob].values()}
        version = _versions(bundle)[label.partition("|")[2]]
        asked = []
        for item in version.item:
            data = item.model_dump(exclude_none=True)
            kept = [x for x in data.pop("extension", []) if x["url"] not in SETTINGS]
            asked.append(data | ({"extension": kept} if kept else {}))
        return label, asked

    bob = f"checkin-{world.deliveries['bob'].id}"
    before = bobs(_export(database, clock.now()))
    later = clock.now() + timedelta(days=1)
    assert revise(world.session, world.questions[3], {"response_type": "scale"}, later)
    world.questions[2].removed_at = later
    added = Question(
        task_id=world.task.id or 0, position=10, description="Warm-up?", response_type="yes_no"
    )
    world.session.add(added)
    world.session.flush()
    add_first_revision(world.session, added, later)
    world.session.commit()

    after = _export(database, later)
    assert bobs(after) == before
    assert before[0].endswith(f"|{BEFORE_REMOVAL}")
    # Chloe's is still open: what she has not reached stands as it is today.
    chloe = _answered_against(after)[f"checkin-{world.deliveries['chloe'].id}"]
    assert {v for v, _a in chloe.values()} == {
        f"{fhir.questionnaire_url(world.task.id or 0)}|1-1-0-2-1-1-1-1-0-1"
    }


def test_a_check_in_that_ended_part_way_names_the_wording_of_when_it_ended(
    database: Database, clock: ManualClock, world: World
) -> None:
    """Alice stopped her check-in of 26 November at 10:30 after the first question; Chloe's
    expired at 10:00 the next day, recorded by a scan that ran only a day later. Each version
    holds what the rest read like when the check-in ended: an edit before that counts, one
    after does not; a question removed by then, or added after, is not in it."""
    alice = world.checkin(
        "alice", "2026-11-26T10:00", S.SKIPPED, finished_at=at("2026-11-26T10:30")
    )
    world.answer(alice, 1, "2026-11-26T10:05", value_text="2", value_number=2.0)
    chloe = world.checkin(
        "chloe", "2026-11-26T10:00", S.EXPIRED, finished_at=at("2026-11-28T09:00")
    )
    world.answer(chloe, 1, "2026-11-26T11:00", value_text="3", value_number=3.0)
    assert chloe.expires_at == at("2026-11-27T10:00")
    q = world.questions
    assert revise(
        world.session, q[1], {"description": "Minutes, all sets?"}, at("2026-11-26T10:10")
    )
    q[5].removed_at = at("2026-11-26T10:20")
    added = Question(
        task_id=world.task.id or 0, position=10, description="Warm-up?", response_type="yes_no"
    )
    world.session.add(added)
    world.session.flush()
    add_first_revision(world.session, added, at("2026-11-26T11:00"))
    assert revise(
        world.session, q[2], {"description": "Press-ups, all sets?"}, at("2026-11-26T12:00")
    )
    assert revise(world.session, q[3], {"response_type": "scale"}, at("2026-11-27T12:00"))
    world.session.commit()

    bundle = _export(database, clock.now() + timedelta(days=5))
    answered = _answered_against(bundle)
    url = fhir.questionnaire_url(world.task.id or 0)
    assert {v for v, _a in answered[f"checkin-{alice.id}"].values()} == {f"{url}|1-2-1-1-1-0-1-1"}
    assert {v for v, _a in answered[f"checkin-{chloe.id}"].values()} == {
        f"{url}|1-2-2-1-1-0-1-1-0-1"
    }
    stopped = _versions(bundle)["1-2-1-1-1-0-1-1"]
    assert [i.text for i in stopped.item[1:3]] == ["Minutes, all sets?", "How many press-ups?"]
    assert [i.linkId for i in stopped.item] == ["1", "2", "3", "4", "5", "7", "8"]


def test_a_skip_of_a_question_required_since_is_left_out_of_the_completed_version(
    database: Database, clock: ManualClock, world: World
) -> None:
    """Chloe skipped the optional free-text question; the therapist then made it required.
    Her completed response has no answer for it (FHIR has none for a skip), so the version
    it names must not hold the item that now demands one."""
    d = _chloe_completes_the_eight(world)
    world.questions[5].required = True
    world.session.commit()

    bundle = _export(database, clock.now())
    answered = _answered_against(bundle)  # every completed response answers what it must
    url = fhir.questionnaire_url(world.task.id or 0)
    assert {v for v, _a in answered[f"checkin-{d.id}"].values()} == {f"{url}|1-1-1-1-1-0-1-1"}
    assert _versions(bundle)[TODAY].item[5].required is True


def test_patients_carry_their_name_and_telegram_id_only_as_an_identifier(
    database: Database, clock: ManualClock, world: World
) -> None:
    result = fhir.export_fhir(database, clock.now(), ZONE, "Shoulder Therapy 1", actor=OPERATOR)
    bundle = Bundle.model_validate_json(result.content)
    patients = {p.id: p.model_dump(exclude_none=True) for p in _resources(bundle, "Patient")}
    alice = patients[f"patient-{world.people['alice'].id}"]
    assert alice == {
        "resourceType": "Patient",
        "id": f"patient-{world.people['alice'].id}",
        "identifier": [{"system": fhir.TELEGRAM_USER_SYSTEM, "value": str(ALICE_ID)}],
        "name": [{"text": "Alice Test", "family": "Test", "given": ["Alice"]}],
    }
    assert patients[f"patient-{world.people['bob'].id}"]["name"] == [
        {"text": "Bob", "given": ["Bob"]}
    ]
    # Eve has no response but is a patient of the group; Hugo is in another group.
    assert len(patients) == 4
    assert "name" not in patients[f"patient-{world.people['eve'].id}"]
    text = result.content.decode()
    assert text.count(str(ALICE_ID)) == 1
    assert str(HUGO_ID) not in text
    # Dana erased her data: not even her Telegram id comes back.
    assert str(DANA_ID) not in text


def test_the_whole_export_holds_every_group(
    database: Database, clock: ManualClock, world: World
) -> None:
    result = fhir.export_fhir(database, clock.now(), ZONE, None, actor=OPERATOR)
    assert result.filename == "patientbot-fhir-all-2026-11-25.json"
    assert str(HUGO_ID) in result.content.decode()
    Bundle.model_validate_json(result.content)


def test_an_unknown_group_is_refused(database: Database, clock: ManualClock, world: World) -> None:
    with pytest.raises(AuthoringError) as caught:
        fhir.export_fhir(database, clock.now(), ZONE, "Knees", actor=OPERATOR)
    assert "There is no group" in parse_html(worded(caught.value.problems[0]))[0]


# --- import ---------------------------------------------------------------------------------


def _questions(database: Database, task_id: int) -> list[tuple[Any, ...]]:
    with database.read_session() as session:
        return [
            (
                q.position,
                q.description,
                q.response_type,
                q.link,
                q.options,
                q.min_value,
                q.max_value,
                q.integer_only,
                q.max_length,
                q.required,
                q.alert_rule,
            )
            for q in session.exec(
                select(Question)
                .where(Question.task_id == task_id, Question.removed_at == None)  # noqa: E711
                .order_by("position")
            )
        ]


def _tasks(database: Database) -> int:
    with database.read_session() as session:
        return session.exec(select(func.count()).select_from(Task)).one()


def test_a_round_trip_gives_the_same_questions_for_every_response_type(
    database: Database, clock: ManualClock, world: World
) -> None:
    data = json.loads(fhir.export_fhir(database, clock.now(), ZONE, None, actor=OPERATOR).content)
    # The version that still holds the removed question, marked: the import leaves it out.
    (questionnaire,) = [
        e["resource"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "Questionnaire"
        and e["resource"]["version"] == BEFORE_REMOVAL
    ]
    imported = fhir.import_questionnaire(
        database,
        clock.now(),
        ZONE,
        24 * 60,
        json.dumps(questionnaire),
        "Hip Therapy 1",
        "tomorrow 09:00",
        "daily",
        actor=OPERATOR,
    )
    saved = imported.saved
    assert saved.title == "Every kind"
    assert saved.group.name == "Hip Therapy 1"
    assert saved.recurrence == "FREQ=DAILY"
    assert imported.removed_left_out == 1
    assert saved.questions == len(EVERY_KIND)
    assert _questions(database, saved.task_id) == _questions(database, world.task.id or 0)
    assert saved.planned == 1  # Hugo


def _bad(items: list[dict[str, Any]], **more: Any) -> str:
    return json.dumps({"resourceType": "Questionnaire", "status": "active", "item": items} | more)


def _refused(database: Database, now: datetime, source: str) -> list[str]:
    before = _tasks(database)
    with pytest.raises(AuthoringError) as caught:
        fhir.import_questionnaire(
            database,
            now,
            ZONE,
            60,
            source,
            "Shoulder Therapy 1",
            "tomorrow 09:00",
            None,
            actor=OPERATOR,
        )
    assert _tasks(database) == before
    return [parse_html(worded(p))[0] for p in caught.value.problems]


def test_a_questionnaire_that_cannot_be_mapped_is_refused_item_by_item(
    database: Database, clock: ManualClock, world: World
) -> None:
    source = _bad(
        [
            {"linkId": "pain", "text": "Pain?", "type": "integer"},
            {"text": "Where does it hurt?", "type": "string"},
            {"linkId": "when", "text": "When?", "type": "dateTime"},
            {
                "linkId": "arm",
                "text": "Arm",
                "type": "group",
                "item": [{"linkId": "arm.1", "text": "Left?", "type": "boolean"}],
            },
            {"linkId": "pain", "text": "Again?", "type": "boolean"},
        ],
        title="Bad",
    )
    assert _refused(database, clock.now(), source) == [
        "Item #2 (“Where does it hurt?”) has no linkId: every item needs one.",
        "Item when: type “dateTime” is not supported (supported: attachment, boolean, "
        "choice, decimal, integer, string, text).",
        "Item arm: nested groups are not supported; list the questions flat.",
        "Item pain: this linkId is used twice.",
    ]


def test_a_question_our_rules_refuse_is_named_by_its_link_id(
    database: Database, clock: ManualClock, world: World
) -> None:
    source = _bad(
        [
            {
                "linkId": "side",
                "text": "Side?",
                "type": "choice",
                "answerOption": [{"valueCoding": {"code": "L", "display": "Left"}}],
            },
            {
                "linkId": "pain",
                "text": "Pain?",
                "type": "integer",
                "extension": [
                    {"url": fhir.EXT_MIN, "valueInteger": 9},
                    {"url": fhir.EXT_MAX, "valueInteger": 2},
                ],
            },
            {"linkId": "pic", "text": "Picture", "type": "attachment"},
            {"linkId": "ok", "type": "boolean"},
        ],
        title="Bad",
    )
    lines = _refused(database, clock.now(), source)
    assert [line.split(":")[0] for line in lines] == [
        "Item side",
        "Item pain",
        "Item pic",
        "Item ok",
    ]
    assert "mimeType extension image/*" in lines[2]
    assert lines[3] == "Item ok: it has no text: give the question as the patient should read it."


def test_what_is_not_a_questionnaire_is_refused(
    database: Database, clock: ManualClock, world: World
) -> None:
    assert _refused(database, clock.now(), "{")[0].startswith("The file is not JSON")
    assert _refused(database, clock.now(), '{"resourceType": "Patient"}') == [
        "The file holds a Patient, not a FHIR Questionnaire."
    ]
    # Valid shape, but not valid FHIR: status is required.
    lines = _refused(
        database,
        clock.now(),
        json.dumps(
            {
                "resourceType": "Questionnaire",
                "title": "T",
                "item": [{"linkId": "a", "text": "A", "type": "boolean"}],
            }
        ),
    )
    assert lines[0].startswith("Not a valid FHIR R4B Questionnaire at status")
    # Inside an item, the line names the item by its linkId.
    lines = _refused(
        database,
        clock.now(),
        _bad([{"linkId": "a", "text": "", "type": "boolean"}], title="T"),
    )
    assert lines[0].startswith("Item a: not valid FHIR R4B at text:")


def test_a_bad_group_or_due_time_writes_nothing(
    database: Database, clock: ManualClock, world: World
) -> None:
    source = _bad([{"linkId": "a", "text": "Done?", "type": "boolean"}], title="T")
    before = _tasks(database)
    with pytest.raises(AuthoringError) as caught:
        fhir.import_questionnaire(
            database,
            clock.now(),
            ZONE,
            60,
            source,
            "Knees",
            "yesterday",
            "sometimes",
            actor=OPERATOR,
        )
    assert len(caught.value.problems) == 2  # the group, and the repetition
    assert _tasks(database) == before
