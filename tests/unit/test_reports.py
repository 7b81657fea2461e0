"""Adherence figures and the CSV export, against rows whose outcome is known."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from bot import texts
from bot.clock import ManualClock
from bot.services import reports
from bot.services.audit import OPERATOR
from bot.services.authoring import AuthoringError
from bot.services.reports import AdherenceReport, PatientAdherence
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
from tests.fakes.words import raises_saying

ZONE = "Europe/London"
S = DeliveryStatus


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class World:
    """A group, two tasks and patients, made in code so every figure is known."""

    session: Session
    now: datetime
    group: TherapyGroup
    tasks: dict[str, Task]
    questions: dict[str, list[Question]]
    people: dict[str, Person]

    def delivery(self, who: str, task: str, due: str, status: DeliveryStatus) -> Delivery:
        due_at = at(due)
        row = Delivery(
            task_id=self.tasks[task].id or 0,
            person_id=self.people[who].id or 0,
            due_at=due_at,
            expires_at=due_at + timedelta(days=1),
            status=status.value,
            # Sent on time, as every row past pending was here (an expiry before any send
            # is not counted: tests/flows/test_therapist_reports.py).
            sent_at=None if status in (S.PENDING, S.CANCELLED) else due_at,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def answer(self, delivery: Delivery, position: int, when: str, **values: Any) -> None:
        question = self.questions[_task_of(self, delivery)][position - 1]
        self.session.add(
            Answer(
                delivery_id=delivery.id or 0,
                question_id=question.id or 0,
                question_revision_id=revision_id(self.session, question.id or 0),
                answered_at=at(when),
                **values,
            )
        )
        self.session.flush()


def _task_of(world: World, delivery: Delivery) -> str:
    return next(k for k, t in world.tasks.items() if t.id == delivery.task_id)


def build(database: Database, now: datetime) -> World:
    session = database.session().__enter__()
    group = TherapyGroup(name="Shoulder Therapy 1", timezone=ZONE, created_at=now)
    other = TherapyGroup(name="Hip Therapy 1", timezone=ZONE, created_at=now)
    session.add_all([group, other])
    session.flush()
    tasks = {
        "daily": Task(
            group_id=group.id or 0,
            title="Pain check",
            due_date=now.date(),
            due_time=now.time(),
            created_at=now,
        ),
        "once": Task(
            group_id=group.id or 0,
            title='Press-ups, "day 1"',
            due_date=now.date(),
            due_time=now.time(),
            created_at=now,
        ),
        "hip": Task(
            group_id=other.id or 0,
            title="Hip",
            due_date=now.date(),
            due_time=now.time(),
            created_at=now,
        ),
    }
    session.add_all(tasks.values())
    session.flush()
    kinds = {
        "daily": [("scale", "Pain, 0-10?"), ("number", "Minutes?"), ("text", "Notes")],
        "once": [("yes_no", "Did you?"), ("choice", "Side?"), ("photo", "A photo")],
        "hip": [("yes_no", "Hip ok?")],
    }
    questions: dict[str, list[Question]] = {}
    for key, specs in kinds.items():
        questions[key] = [
            Question(
                task_id=tasks[key].id or 0,
                position=n,
                description=text,
                response_type=kind,
                options=["Left", "Right"] if kind == "choice" else None,
            )
            for n, (kind, text) in enumerate(specs, 1)
        ]
        session.add_all(questions[key])
        with_first_revisions(session, questions[key])
    session.flush()
    people = {
        "alice": Person(
            telegram_user_id=101,
            first_name="Alice",
            last_name="Test",
            timezone="Pacific/Auckland",
        ),
        "bob": Person(telegram_user_id=102, first_name="Bob", last_name="Test"),
        "chloe": Person(telegram_user_id=103, first_name="Chloe", last_name="Test"),
        "dana": Person(telegram_user_id=104, data_deleted_at=now),
        "eve": Person(telegram_user_id=105, first_name="Eve", last_name="Test"),
        "hugo": Person(telegram_user_id=108, first_name="Hugo"),
    }
    for person in people.values():
        person.created_at = now
    session.add_all(people.values())
    session.flush()
    for who in ("alice", "bob", "chloe", "dana"):
        session.add(
            Membership(
                group_id=group.id or 0,
                person_id=people[who].id or 0,
                role=Role.PATIENT.value,
                joined_at=now,
            )
        )
    session.add(
        Membership(
            group_id=other.id or 0,
            person_id=people["hugo"].id or 0,
            role=Role.PATIENT.value,
            joined_at=now,
        )
    )
    session.flush()
    return World(session, now, group, tasks, questions, people)


@pytest.fixture
def world(database: Database, clock: ManualClock) -> Iterator[World]:
    w = build(database, clock.now())
    # Alice: two completed, one still in progress, one expired half-done.
    d = w.delivery("alice", "daily", "2026-11-21T11:00", S.COMPLETED)
    w.answer(d, 1, "2026-11-21T11:05", value_text="3", value_number=3.0)
    w.answer(d, 2, "2026-11-21T11:06", value_text="20", value_number=20.0)
    w.answer(d, 3, "2026-11-21T11:07", value_text='Sore, but "better"\nthanks', skipped=False)
    d = w.delivery("alice", "daily", "2026-11-22T11:00", S.COMPLETED)
    w.answer(d, 1, "2026-11-22T11:05", value_text="7", value_number=7.0)
    w.answer(d, 2, "2026-11-22T11:06", value_text="12.5", value_number=12.5)
    w.answer(d, 3, "2026-11-22T11:07", skipped=True)
    d = w.delivery("alice", "daily", "2026-11-23T11:00", S.EXPIRED)
    # 12:30 UTC is already 24 Nov in Auckland: the date shown is the patient's own.
    w.answer(d, 1, "2026-11-23T12:30", value_text="9", value_number=9.0)
    d = w.delivery("alice", "daily", "2026-11-24T11:00", S.IN_PROGRESS)
    w.delivery("alice", "daily", "2026-11-26T11:00", S.PENDING)  # not due yet: not counted
    d = w.delivery("alice", "once", "2026-11-20T10:00", S.COMPLETED)
    w.answer(d, 1, "2026-11-20T10:01", value_text="Yes", value_bool=True)
    w.answer(d, 2, "2026-11-20T10:02", value_text="Left")
    w.answer(d, 3, "2026-11-20T10:03", value_text="photo", file_id="AgAD-photo-1")
    # Bob: one expired untouched, one skipped, one sent, one due but unsent, one cancelled.
    w.delivery("bob", "daily", "2026-11-21T11:00", S.EXPIRED)
    w.delivery("bob", "daily", "2026-11-22T11:00", S.SKIPPED)
    w.delivery("bob", "daily", "2026-11-24T11:00", S.SENT)
    w.delivery("bob", "daily", "2026-11-25T08:00", S.PENDING)
    w.delivery("bob", "once", "2026-11-20T10:00", S.CANCELLED)
    # Eve left the group after completing one.
    d = w.delivery("eve", "daily", "2026-11-21T11:00", S.COMPLETED)
    w.answer(d, 1, "2026-11-21T12:00", value_text="2", value_number=2.0)
    # Hugo is in the other group.
    d = w.delivery("hugo", "hip", "2026-11-21T11:00", S.COMPLETED)
    w.answer(d, 1, "2026-11-21T11:30", value_text="No", value_bool=False)
    w.session.commit()
    yield w
    w.session.close()


def figures(row: PatientAdherence) -> tuple[object, ...]:
    return (
        row.completed,
        row.closed_partly,
        row.closed_unanswered,
        row.skipped,
        row.open_started,
        row.open_not_started,
        row.last_answered.isoformat() if row.last_answered else None,
    )


def test_the_group_report_counts_each_outcome_per_patient(
    database: Database, clock: ManualClock, world: World
) -> None:
    report = reports.adherence(
        database, clock.now(), ZONE, "group", "shoulder therapy 1", actor=OPERATOR
    )
    assert [(r.name, r.member, r.data_deleted) for r in report.rows] == [
        ("Alice Test", True, False),
        ("Bob Test", True, False),
        ("Chloe Test", True, False),
        ("Eve Test", False, False),
        ("", True, True),
    ]
    # Each due check-in in exactly one outcome: Alice's expired half-done one is partly
    # answered, her one in progress started; Bob's sent one and his unsent due one not started.
    assert [figures(r) for r in report.rows] == [
        (3, 1, 0, 0, 1, 0, "2026-11-24"),
        (0, 0, 1, 1, 0, 2, None),
        (0, 0, 0, 0, 0, 0, None),
        (1, 0, 0, 0, 0, 0, "2026-11-21"),
        (0, 0, 0, 0, 0, 0, None),
    ]
    assert [r.checkins for r in report.rows] == [5, 4, 0, 1, 0]
    assert figures(report.total) == (4, 1, 1, 1, 1, 2, "2026-11-24")
    assert report.total.checkins == 10


def test_a_task_report_counts_only_that_task(
    database: Database, clock: ManualClock, world: World
) -> None:
    once = world.tasks["once"].id
    report = reports.adherence(database, clock.now(), ZONE, "task", str(once), actor=OPERATOR)
    assert (report.kind, report.title, report.group_name) == (
        "task",
        'Press-ups, "day 1"',
        "Shoulder Therapy 1",
    )
    assert figures(report.total) == (1, 0, 0, 0, 0, 0, "2026-11-20")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("#12", ("task", "12")),
        ("task 12", ("task", "12")),
        ("Task #12", ("task", "12")),
        ("12", ("group", "12")),
        ("Shoulder Therapy 1", ("group", "Shoulder Therapy 1")),
    ],
)
def test_a_report_tells_a_task_from_a_group(text: str, target: tuple[str, str]) -> None:
    assert reports.parse_report_target(text) == target


def test_an_unknown_group_or_task_is_named_in_the_answer(
    database: Database, clock: ManualClock, world: World
) -> None:
    with raises_saying(AuthoringError, "no group “Knees”"):
        reports.adherence(database, clock.now(), ZONE, "group", "Knees", actor=OPERATOR)
    with raises_saying(AuthoringError, "no task 99"):
        reports.adherence(database, clock.now(), ZONE, "task", "99", actor=OPERATOR)


def test_the_report_reads_as_one_line_in_words_per_patient(
    database: Database, clock: ManualClock, world: World
) -> None:
    report = reports.adherence(
        database, clock.now(), ZONE, "group", "Shoulder Therapy 1", actor=OPERATOR
    )
    [message] = texts.admin_report(report, 4096)
    plain, _entities = parse_html(message)
    lines = plain.splitlines()
    assert lines[:7] == [
        "Adherence: Shoulder Therapy 1",
        "Alice Test: 5 check-ins: 3 done, 1 partly answered, 1 started · last answer 24 Nov",
        "Bob Test: 4 check-ins: 1 not answered, 1 skipped, 2 not started yet",
        "Chloe Test: no check-ins due yet",
        "Eve Test†: 1 check-in: 1 done · last answer 21 Nov",
        "[deleted]: no check-ins",
        "All: 10 check-ins: 4 done, 1 partly answered, 1 not answered, 1 skipped, 1 started, "
        "2 not started yet · last answer 24 Nov",
    ]
    assert "[deleted] = data deleted at the patient's request" in plain
    assert "† no longer in the group" in plain


def test_a_long_report_is_split_into_messages_telegram_accepts() -> None:
    rows = tuple(
        PatientAdherence(
            telegram_user_id=1000 + n,
            name=f"Patient <{n}>",
            data_deleted=False,
            member=True,
            completed=n,
        )
        for n in range(400)
    )
    total = PatientAdherence(0, "", False, True, completed=sum(r.completed for r in rows))
    report = AdherenceReport("group", "Big & busy", "Big & busy", None, rows, total)
    messages = texts.admin_report(report, 4096)
    assert len(messages) > 1
    seen = []
    for message in messages:
        plain, _ = parse_html(message)  # balanced tags in every part
        assert len(plain) <= 4096  # Telegram counts the text after parsing the markup
        assert plain.startswith("Adherence: Big & busy")
        seen += [line for line in plain.splitlines() if line.startswith("Patient <")]
    assert len(seen) == 400


# --- export -------------------------------------------------------------------------------


def read_back(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_export_has_one_row_per_answer_that_csv_reads_back(
    database: Database, clock: ManualClock, world: World
) -> None:
    result = reports.export_csv(database, clock.now(), ZONE, "Shoulder Therapy 1", actor=OPERATOR)
    assert result.filename == "patientbot-export-shoulder-therapy-1-2026-11-25.csv"
    rows = read_back(result.content)
    assert result.rows == len(rows) == 11
    assert list(rows[0]) == list(reports.CSV_COLUMNS)
    pain = [r for r in rows if r["task"] == "Pain check"]
    first = pain[0]
    assert first == {
        "group": "Shoulder Therapy 1",
        "task": "Pain check",
        "task_id": str(world.tasks["daily"].id),
        "due_utc": "2026-11-21T11:00:00Z",
        "due_local": "2026-11-22 00:00",
        "timezone": "Pacific/Auckland",
        "patient_telegram_id": "101",
        "patient_name": "Alice Test",
        "question_position": "1",
        "question": "Pain, 0-10?",
        "question_revision": "1",
        "response_type": "scale",
        "value": "3",
        "file_id": "",
        "answered_at_utc": "2026-11-21T11:05:00Z",
        "delivery_status": "completed",
    }
    alice = [r for r in pain if r["patient_telegram_id"] == "101"]
    assert [r["value"] for r in alice] == [
        "3",
        "20",
        'Sore, but "better"\nthanks',
        "7",
        "12.5",
        "",
        "9",
    ]
    eve = next(r for r in pain if r["patient_name"] == "Eve Test")
    assert (eve["timezone"], eve["due_local"]) == ("Europe/London", "2026-11-21 11:00")
    once = [r for r in rows if r["task_id"] == str(world.tasks["once"].id)]
    assert [(r["task"], r["value"], r["file_id"]) for r in once] == [
        ('Press-ups, "day 1"', "yes", ""),
        ('Press-ups, "day 1"', "Left", ""),
        ('Press-ups, "day 1"', "photo", "AgAD-photo-1"),
    ]
    assert not any(r["group"] == "Hip Therapy 1" for r in rows)


def test_the_export_of_all_groups_includes_every_answer(
    database: Database, clock: ManualClock, world: World
) -> None:
    result = reports.export_csv(database, clock.now(), ZONE, None, actor=OPERATOR)
    rows = read_back(result.content)
    assert result.filename == "patientbot-export-all-2026-11-25.csv"
    assert [r["group"] for r in rows].count("Hip Therapy 1") == 1
    assert len(rows) == 12
    # Standard quoting: only fields that need it are quoted, lines end in CRLF.
    raw = result.content.decode("utf-8")
    assert raw.startswith("group,task,task_id,due_utc,due_local,timezone,")
    assert '"Press-ups, ""day 1"""' in raw
    assert raw.endswith("\r\n")


def test_text_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(
    database: Database, clock: ManualClock, world: World
) -> None:
    # A patient picks their own Telegram name and types free text; the therapist opens the
    # file in a spreadsheet, which would run "=HYPERLINK(...)" as a formula.
    world.people["chloe"].first_name = '=HYPERLINK("http://evil.example","Chloe")'
    world.session.add(world.people["chloe"])
    d = world.delivery("chloe", "daily", "2026-11-21T11:00", S.COMPLETED)
    world.answer(d, 1, "2026-11-21T11:05", value_text="-2", value_number=-2.0)
    world.answer(d, 2, "2026-11-21T11:06", value_text="+20", value_number=20.0)
    world.answer(d, 3, "2026-11-21T11:07", value_text="@SUM(A1:A9) -- and more")
    world.session.commit()

    rows = read_back(reports.export_csv(database, clock.now(), ZONE, None, actor=OPERATOR).content)

    chloe = [r for r in rows if r["patient_telegram_id"] == "103"]
    assert {r["patient_name"] for r in chloe} == {
        '\'=HYPERLINK("http://evil.example","Chloe") Test'
    }
    # Numbers are numbers, negative ones included; only text is guarded.
    assert [r["value"] for r in chloe] == ["-2", "20", "'@SUM(A1:A9) -- and more"]
    others = [r for r in rows if r["patient_telegram_id"] != "103"]
    assert not any(value.startswith("'") for r in others for value in r.values())


# (typed by a patient, written to the file): the ASCII signs, their full-width forms, and a
# formula sign behind something a reader cannot see.
FORMULA_FORMS = [
    ("=1+1", "'=1+1"),
    ("+1", "'+1"),
    ("-1 bad day", "'-1 bad day"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tindent", "'\tindent"),
    ('＝HYPERLINK("x")', '\'＝HYPERLINK("x")'),
    ("＋1", "'＋1"),
    ("－1", "'－1"),
    ("＠SUM(A1)", "'＠SUM(A1)"),
    ("\u200b=1+1", "'\u200b=1+1"),  # zero-width space
    ("\ufeff=1+1", "'\ufeff=1+1"),  # byte order mark
    ("\u2060@x", "'\u2060@x"),  # word joiner
    ("\u00ad+1", "'\u00ad+1"),  # soft hyphen
    ("\u200b\u200d＝1", "'\u200b\u200d＝1"),  # two invisible, then full-width
    ("\u3000=1", "'\u3000=1"),  # ideographic space
    ("\u00a0-1", "'\u00a0-1"),  # no-break space
    # Left alone: a sign inside the text, or nothing a spreadsheet runs.
    ("a=1", "a=1"),
    ("fine \u200b=1", "fine \u200b=1"),
    ("\u200bfine", "\u200bfine"),
    ("’quoted", "’quoted"),
    ("", ""),
]


def test_every_form_of_a_formula_sign_is_exported_as_text(
    database: Database, clock: ManualClock, world: World
) -> None:
    for day, (typed, _written) in enumerate(FORMULA_FORMS, start=1):
        d = world.delivery("chloe", "daily", f"2026-10-{day:02d}T11:00", S.COMPLETED)
        world.answer(d, 3, f"2026-10-{day:02d}T11:07", value_text=typed)
    world.session.commit()

    rows = read_back(reports.export_csv(database, clock.now(), ZONE, None, actor=OPERATOR).content)

    exported = [r["value"] for r in rows if r["patient_telegram_id"] == "103"]
    assert exported == [written for _typed, written in FORMULA_FORMS]


def test_an_export_with_no_answers_still_has_its_header(
    database: Database, clock: ManualClock
) -> None:
    result = reports.export_csv(database, clock.now(), ZONE, None, actor=OPERATOR)
    assert result.rows == 0
    assert result.content.decode().splitlines() == [",".join(reports.CSV_COLUMNS)]


def test_the_last_word_of_export_picks_the_format() -> None:
    assert reports.parse_export_args("") == (None, False)
    assert reports.parse_export_args("Shoulder  Therapy 1") == ("Shoulder Therapy 1", False)
    assert reports.parse_export_args("Shoulder Therapy 1 FHIR") == ("Shoulder Therapy 1", True)
    assert reports.parse_export_args("fhir") == (None, True)
    assert reports.parse_export_args("fhir csv") == ("fhir", False)
    assert reports.parse_export_args("fhir fhir") == ("fhir", True)
