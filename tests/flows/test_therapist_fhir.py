"""/export GROUP fhir and the FHIR commands, against check-ins real patients answered in chat."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlmodel import select

from bot import cli, texts
from bot.services import fhir
from storage.models import Question, Task
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.updates import User
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
ALICE, BOB = patient(0), patient(1)
STRANGER = User(id=4242, first_name="Stranger", last_name="Danger")
TASK = (
    "Knees | Every kind | today 10:00 | daily x3 | "
    "Pain now? ; scale ; >= 8 | Minutes? ; number ; 0-240 ; whole | Did you? ; yes_no | "
    "Side? ; choice ; Left, Right | Notes ; text ; max 500 | Photo ; photo | "
    "Video ; video ; https://example.org/squat"
)


async def everyone_answers(h: Harness) -> None:
    """Alice answers every question of day 1; Bob answers one and stops."""
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", TASK)
    for person in (ALICE, BOB):
        await h.command(person, "/start", code)
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.text(ALICE, "25")
    await h.press(ALICE, "Yes")
    await h.press(ALICE, "Right")
    await h.text(ALICE, "Stiff in the morning")
    await h.photo(ALICE, "AgAD-photo")
    await h.video(ALICE, "BAAD-video")
    await h.press(BOB, "▶️ Start now")
    await h.press(BOB, "9")


def sent_bundle(h: Harness) -> dict[str, Any]:
    content = h.api.calls_of("sendDocument")[-1].files["document"]["content"]
    Bundle.model_validate_json(content)
    data: dict[str, Any] = json.loads(content)
    return data


def of_kind(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


async def test_export_fhir_sends_a_valid_bundle_with_every_answer(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(THEO, "/export", "Knees", "fhir")
    document = h.last_message(THEO.chat_id)
    assert document.kind == "document"
    assert document.file_name == "patientbot-fhir-knees-2026-11-25.json"
    assert document.plain == "2 check-ins of 2 patients from Knees as one FHIR R4B Bundle (JSON)."
    data = sent_bundle(h)
    (questionnaire,) = of_kind(data, "Questionnaire")
    assert [i["type"] for i in questionnaire["item"]] == [
        "integer",
        "integer",
        "boolean",
        "choice",
        "string",
        "attachment",
        "attachment",
    ]
    patients = {p["name"][0]["text"]: p for p in of_kind(data, "Patient")}
    assert patients["Alice Test"]["identifier"][0]["value"] == str(ALICE.id)
    by_patient = {r["subject"]["reference"]: r for r in of_kind(data, "QuestionnaireResponse")}
    alice = by_patient[f"Patient/{patients['Alice Test']['id']}"]
    assert alice["status"] == "completed"
    assert [next(iter(i["answer"][0].items())) for i in alice["item"]] == [
        ("valueInteger", 3),
        ("valueInteger", 25),
        ("valueBoolean", True),
        ("valueCoding", {"code": "2", "display": "Right"}),
        ("valueString", "Stiff in the morning"),
        (
            "valueAttachment",
            {
                "extension": [{"url": fhir.EXT_FILE_ID, "valueString": "AgAD-photo"}],
                "contentType": "image/jpeg",
                "title": "Telegram photo",
            },
        ),
        (
            "valueAttachment",
            {
                "extension": [{"url": fhir.EXT_FILE_ID, "valueString": "BAAD-video"}],
                "title": "Telegram video",
            },
        ),
    ]
    bob = by_patient[f"Patient/{patients['Bob Test']['id']}"]
    assert bob["status"] == "in-progress"
    assert [i["answer"] for i in bob["item"]] == [[{"valueInteger": 9}]]
    # The day expires with Bob half-way: his response is stopped.
    await h.advance_and_scan(timedelta(days=1))
    await h.command(THEO, "/export", "knees", "FHIR")
    data = sent_bundle(h)
    statuses = sorted(r["status"] for r in of_kind(data, "QuestionnaireResponse"))
    assert statuses == ["completed", "stopped"]
    # Without "fhir" the CSV export is as before.
    await h.command(THEO, "/export", "Knees")
    assert h.last_message(THEO.chat_id).file_name == "patientbot-export-knees-2026-11-26.csv"
    await h.command(THEO, "/export", "fhir")
    assert h.last_message(THEO.chat_id).file_name == "patientbot-fhir-all-2026-11-26.json"


async def test_data_deleted_at_the_patients_request_does_not_reappear(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(BOB, "/deletemydata")
    await h.press(BOB, "Yes, delete everything")
    await h.command(THEO, "/export", "Knees", "fhir")
    data = sent_bundle(h)
    assert [p["name"][0]["text"] for p in of_kind(data, "Patient")] == ["Alice Test"]
    assert len(of_kind(data, "QuestionnaireResponse")) == 1
    content = h.api.calls_of("sendDocument")[-1].files["document"]["content"].decode()
    assert str(BOB.id) not in content


async def test_a_stranger_and_a_patient_are_refused_the_export(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    for user in (STRANGER, ALICE):
        await h.command(user, "/export", "Knees", "fhir")
        assert h.last_text(user.chat_id) == texts.admin_refused()
    assert h.api.calls_of("sendDocument") == []


async def test_the_command_line_exports_and_imports_fhir(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(THEO, "/newgroup", "Hips")
    await h.command(THEO, "/export", "Knees", "fhir")
    sent = sent_bundle(h)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{h.settings.database.url}"\n', encoding="utf-8")
    out = tmp_path / "knees.json"
    args = ["--config", str(config), "export", "--format", "fhir", "--group", "Knees"]
    assert cli.main([*args, "--out", str(out)]) == 0
    assert "Wrote 2 check-ins of 2 patients and 1 questionnaire to" in capsys.readouterr().out
    written = json.loads(out.read_bytes())
    Bundle.model_validate(written)
    # The same file as the chat's, but for the moment it was made.
    assert {**written, "timestamp": ""} == {**sent, "timestamp": ""}

    (questionnaire,) = of_kind(written, "Questionnaire")
    source = tmp_path / "questionnaire.json"
    source.write_text(json.dumps(questionnaire), encoding="utf-8")
    imports = ["--config", str(config), "import-questionnaire", str(source), "--group", "Hips"]
    # The real clock reads the due time, so it is one surely ahead.
    assert cli.main([*imports, "--due", "2099-01-05 09:00", "--repeat", "daily"]) == 0
    assert "Saved task #2 “Every kind” for Hips with 7 questions." in capsys.readouterr().out
    with h.database.read_session() as session:
        task = session.exec(select(Task).where(Task.id == 2)).one()
        assert task.recurrence == "FREQ=DAILY"
        kinds = [
            (q.response_type, q.link)
            for q in session.exec(
                select(Question).where(Question.task_id == 2).order_by("position")
            )
        ]
    assert kinds == [
        ("scale", None),
        ("number", None),
        ("yes_no", None),
        ("choice", None),
        ("text", None),
        ("photo", None),
        ("video", "https://example.org/squat"),
    ]

    # The same command again: refused, as patients would get every check-in twice.
    assert cli.main([*imports, "--due", "2099-01-05 09:00", "--repeat", "daily"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "The group already has the task “Every kind” due 2099-01-05 09:00 (task 2): this "
        "Questionnaire was imported before. To import it again, give another --due, or delete "
        "that task first (/deletetask 2).",
        "Nothing was written: fix the 1 problem above and import again.",
    ]
    with h.database.read_session() as session:
        assert len(session.exec(select(Task)).all()) == 2

    questionnaire["item"][1]["type"] = "quantity"
    del questionnaire["item"][2]["linkId"]
    source.write_text(json.dumps(questionnaire), encoding="utf-8")
    assert cli.main([*imports, "--due", "2099-01-05 09:00"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        # Each problem of the file names it, as a seed file's do.
        f"{source}: Item 2: type “quantity” is not supported (supported: attachment, boolean, "
        "choice, decimal, integer, string, text).",
        f"{source}: Item #3 (“Did you?”) has no linkId: every item needs one.",
        "Nothing was written: fix the 2 problems above and import again.",
    ]
    with h.database.read_session() as session:
        assert len(session.exec(select(Task)).all()) == 2
