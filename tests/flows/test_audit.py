"""The audit trail: every change a person makes leaves exactly one event, in its transaction.

One table drives it: each row is a step a therapist (or a patient) takes through the real
Application, and the one event it must leave (who, what, on which object, before and after).
Steps that change nothing (a refusal, revoking twice) must leave none.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot import texts
from bot.cli import main
from bot.services.audit import ActorRole, AuditAction, ObjectKind
from bot.services.audit_view import PAGE_SIZE, AuditEntry, AuditPage
from storage.db import Database
from storage.models import AuditEvent, Person
from tests.fakes.harness import Harness, patient, therapist
from tests.flows.test_therapist_support import invite_code

THEO = therapist()  # configured: an administrator
TESS = therapist(555)  # added with /addtherapist: a therapist
ALICE, BOB = patient(0), patient(1)
LINE = (
    "Knees | Knee check | today 18:00 | daily x14 | "
    "How strong was your knee pain today? ; scale | "
    "How many minutes did you exercise? ; number ; 0-240 ; whole"
)

Step = Callable[[Harness, dict[str, str]], Awaitable[None]]


def events(h: Harness) -> list[AuditEvent]:
    with h.database.session() as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


async def new_group(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/newgroup", "Knees")


async def make_invite(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/invite", "Knees", "7", "5")
    seen["code"] = invite_code(h.last_text(THEO.chat_id))
    await h.command(ALICE, "/start", seen["code"])
    await h.command(BOB, "/start", seen["code"])


async def bad_invite(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/invite", "Elbows")


async def add_task(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/addtask", LINE)


async def move_due(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "🕘 Due time")
    await h.text(THEO, "tomorrow 19:30")


async def add_question(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "➕ Add a question")
    await h.text(THEO, "Did you sleep well?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Yes / No")
    await h.press(THEO, "Optional")
    await h.press(THEO, "No alert")
    await h.press(THEO, "✅ Done – save")


async def reword_question(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "✏️ Change a question")
    await h.press(THEO, "3. Did you sleep well?")
    await h.text(THEO, "Did you sleep through the night?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Yes / No")
    await h.press(THEO, "Required")
    await h.press(THEO, "No alert")


async def remove_question(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "➖ Remove a question")
    await h.press(THEO, "2. How many minutes did you exercise?")


async def add_therapist(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/addtherapist", str(TESS.id))


async def add_therapist_again(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/addtherapist", str(TESS.id))


async def add_to_team(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/addtoteam", "Knees", str(TESS.id))


async def add_to_team_again(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/addtoteam", "Knees", str(TESS.id))


async def remove_from_team(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/removefromteam", "Knees", str(TESS.id))


async def remove_from_team_again(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/removefromteam", "Knees", str(TESS.id))


async def revoke(h: Harness, seen: dict[str, str]) -> None:
    await h.command(TESS, "/revoke", seen["code"])


async def revoke_again(h: Harness, seen: dict[str, str]) -> None:
    await h.command(TESS, "/revoke", seen["code"])


async def remove_patient(h: Harness, seen: dict[str, str]) -> None:
    await h.command(TESS, "/removepatient", "Knees", "Alice", "Test")


async def export(h: Harness, seen: dict[str, str]) -> None:
    await h.command(TESS, "/export", "Knees")


async def delete_task(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/deletetask", "1")
    await h.press(THEO, "🗑 Yes, delete")


async def remove_therapist(h: Harness, seen: dict[str, str]) -> None:
    await h.command(THEO, "/removetherapist", str(TESS.id))


async def erase(h: Harness, seen: dict[str, str]) -> None:
    await h.command(BOB, "/deletemydata")
    await h.press(BOB, "Yes, delete everything")


ADMIN, THERAPIST = (THEO.id, "administrator"), (TESS.id, "therapist")
# step, then the one event it leaves: (who, role), action, object kind, before, after; or None.
STEPS: list[tuple[Step, Any]] = [
    (new_group, (ADMIN, "group_created", "group", None, {"name": "Knees", "timezone": None})),
    (
        make_invite,
        (
            ADMIN,
            "invite_created",
            "invite",
            None,
            {"expires_at": "2026-12-02T09:01:00+00:00", "max_uses": 5},
        ),
    ),
    (bad_invite, None),
    (
        add_task,
        (
            ADMIN,
            "task_created",
            "task",
            None,
            {
                "title": "Knee check",
                "due_date": "2026-11-25",
                "due_time": "18:00",
                "recurrence": "FREQ=DAILY;COUNT=14",
                "questions": [
                    "How strong was your knee pain today?",
                    "How many minutes did you exercise?",
                ],
            },
        ),
    ),
    (
        move_due,
        (
            ADMIN,
            "task_edited",
            "task",
            {"due_date": "2026-11-25", "due_time": "18:00"},
            {"due_date": "2026-11-26", "due_time": "19:30"},
        ),
    ),
    (
        add_question,
        (
            ADMIN,
            "question_created",
            "question",
            None,
            {
                "task_id": 1,
                "position": 3,
                "description": "Did you sleep well?",
                "response_type": "yes_no",
                "options": None,
                "min_value": None,
                "max_value": None,
            },
        ),
    ),
    (
        reword_question,
        (
            ADMIN,
            "question_edited",
            "question",
            {"description": "Did you sleep well?", "required": False, "revision": 1},
            {"description": "Did you sleep through the night?", "required": True, "revision": 2},
        ),
    ),
    (
        remove_question,
        (
            ADMIN,
            "question_deleted",
            "question",
            {
                "task_id": 1,
                "position": 2,
                "description": "How many minutes did you exercise?",
                "response_type": "number",
                "options": None,
                "min_value": 0.0,
                "max_value": 240.0,
            },
            None,
        ),
    ),
    (
        add_therapist,
        (ADMIN, "therapist_added", "person", None, {"telegram_user_id": 555, "role": "therapist"}),
    ),
    (add_therapist_again, None),
    (add_to_team, (ADMIN, "team_member_added", "person", None, {"telegram_user_id": 555})),
    (add_to_team_again, None),
    (
        revoke,
        (
            THERAPIST,
            "invite_revoked",
            "invite",
            {"revoked_at": None},
            {"revoked_at": "2026-11-25T09:09:00+00:00"},
        ),
    ),
    (revoke_again, None),
    (
        remove_patient,
        (THERAPIST, "patient_removed", "person", {"role": "patient"}, {"role": "removed"}),
    ),
    (export, (THERAPIST, "data_exported", "group", None, {"format": "csv", "answers": 0})),
    (remove_from_team, (ADMIN, "team_member_removed", "person", {"telegram_user_id": 555}, None)),
    (remove_from_team_again, None),
    (
        delete_task,
        (
            ADMIN,
            "task_deleted",
            "task",
            {
                "title": "Knee check",
                "due_date": "2026-11-26",
                "due_time": "19:30",
                "recurrence": "FREQ=DAILY;COUNT=14",
            },
            None,
        ),
    ),
    (
        remove_therapist,
        (
            ADMIN,
            "therapist_removed",
            "person",
            {"telegram_user_id": 555, "role": "therapist", "teams": []},
            {"telegram_user_id": 555, "role": "patient"},
        ),
    ),
    (
        erase,
        (
            (None, "patient"),
            "data_erased",
            "person",
            None,
            {"answers": 0, "deliveries": 0, "memberships": 1},
        ),
    ),
]


async def run_steps(h: Harness) -> dict[str, str]:
    seen: dict[str, str] = {}
    for step, expected in STEPS:
        before = len(events(h))
        await step(h, seen)
        new = events(h)[before:]
        if expected is None:
            assert new == [], f"{step.__name__} changed nothing yet left {new}"
            continue
        assert len(new) == 1, f"{step.__name__} left {len(new)} events: {new}"
        event = new[0]
        (who, role), action, kind, fields_before, fields_after = expected
        got = (event.actor_telegram_id, event.actor_role, event.action, event.object_kind)
        assert got == (who, role, action, kind), step.__name__
        assert (event.before, event.after) == (fields_before, fields_after), step.__name__
        assert event.at == h.clock.now()
        h.advance(timedelta(minutes=1))
    return seen


async def test_every_audited_action_leaves_exactly_one_event_with_before_and_after(
    harness: Harness,
) -> None:
    h = harness
    seen = await run_steps(h)

    trail = json.dumps([(e.before, e.after) for e in events(h)])
    assert seen["code"] not in trail, "an invite code lets anyone in: never in the trail"
    with h.database.session() as session:
        bob = session.exec(select(Person).where(Person.data_deleted_at != None)).one()  # noqa: E711
    erased = [e for e in events(h) if e.action == "data_erased"]
    assert erased[0].object_id == bob.id
    assert all(e.actor_telegram_id != BOB.id for e in events(h))


async def test_audit_pages_newest_first_with_older_and_newer_buttons(harness: Harness) -> None:
    h = harness
    await run_steps(h)
    total = len(events(h))
    assert total == 16

    await h.command(THEO, "/audit")
    first, first_text = h.last_message(THEO.chat_id), h.last_text(THEO.chat_id)
    print(f"\n/audit, first page:\n{first_text}\nbuttons: {first.button_texts}")
    lines = first_text.splitlines()
    assert lines[0] == "Audit trail (all groups, all time), events 1–5, newest first:"
    erased = "2026-11-25 09:15 UTC · a patient · data erased at the patient's request · person 3"
    assert lines[2] == erased
    assert "administrator 9001 · taken off the group's team · person 4 in Knees" in first_text
    assert "    telegram_user_id: 555\n    role: therapist → patient" in first_text
    assert first.button_texts == ["◀ Older"]

    pages = [first_text]
    for expected in ("events 6–10", "events 11–15", "events 16–16"):
        await h.press(THEO, "◀ Older")
        page, text = h.last_message(THEO.chat_id), h.last_text(THEO.chat_id)
        print(f"\n/audit, after Older:\n{text}\nbuttons: {page.button_texts}")
        assert page.message_id == first.message_id, "the page turns in place"
        assert text.splitlines()[0].endswith(f"{expected}, newest first:")
        pages.append(text)
    assert "therapist 555 · patient removed" in pages[1]
    assert "administrator 9001 · put on the group's team · person 4 in Knees" in pages[1]
    assert "    due_time: 18:00 → 19:30" in pages[2]
    assert "    revision: 1 → 2" in pages[2]
    assert "administrator 9001 · task created · task 1 in Knees" in pages[2]
    assert "administrator 9001 · group created · group 1 in Knees" in pages[3]
    assert h.last_message(THEO.chat_id).button_texts == ["Newer ▶"]
    await h.press(THEO, "Newer ▶")
    assert h.last_text(THEO.chat_id) == pages[2]
    await h.press(THEO, "Newer ▶")
    assert h.last_text(THEO.chat_id) == pages[1]
    assert h.last_message(THEO.chat_id).button_texts == ["◀ Older", "Newer ▶"]
    await h.press(THEO, "Newer ▶")
    assert h.last_text(THEO.chat_id) == first_text

    await h.command(THEO, "/audit", "Knees", "7")
    knees = h.last_text(THEO.chat_id)
    assert knees.startswith("Audit trail (group Knees, last 7 days), events 1–5")
    assert "therapist removed" not in knees, "not an event of the group"
    await h.command(THEO, "/audit", "Elbows")
    assert h.last_text(THEO.chat_id).startswith("There is no group “Elbows”")
    await h.command(THEO, "/audit", "0")
    assert h.last_text(THEO.chat_id) == "DAYS must be a whole number from 1 to 3660."

    h.advance(timedelta(days=30))
    await h.command(THEO, "/audit", "7")
    assert h.last_text(THEO.chat_id) == "Audit trail (all groups, last 7 days): no events."
    await h.command(THEO, "/audit", "1")
    assert h.last_text(THEO.chat_id) == "Audit trail (all groups, last day): no events."
    # A therapist's trail holds her team's groups only, and says so.
    await h.command(THEO, "/addtherapist", str(TESS.id))
    await h.command(THEO, "/addtoteam", "Knees", str(TESS.id))
    await h.command(TESS, "/audit", "1")
    assert h.last_text(TESS.chat_id).startswith("Audit trail (your groups, last day), events 1–")

    # Someone who is not a therapist gets neither the command nor an old page's buttons.
    await h.command(ALICE, "/audit")
    assert h.last_text(ALICE.chat_id) == "This command is for therapists."
    await h.press_data(ALICE, "au:0:0:10", first.message_id)
    assert h.callback_answers()[-1].params["text"] == "This command is for therapists."
    await h.press_data(THEO, "au:0:x:10", first.message_id)
    assert h.callback_answers()[-1].params["text"] == "This button is no longer active."


async def test_the_command_line_writes_the_trail_as_csv(
    harness: Harness, database_url: str, tmp_path: Path
) -> None:
    h = harness
    await run_steps(h)
    config, out = tmp_path / "config.toml", tmp_path / "audit.csv"
    config.write_text(f'[database]\nurl = "{database_url}"\n', "utf-8")

    assert main(["--config", str(config), "audit", "--out", str(out)]) == 0

    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    stored = events(h)
    assert [int(r["id"]) for r in rows] == [e.id for e in stored]
    assert [r["action"] for r in rows] == [e.action for e in stored]
    edited = next(r for r in rows if r["action"] == "task_edited")
    assert json.loads(edited["before"]) == {"due_date": "2026-11-25", "due_time": "18:00"}
    assert edited["actor_telegram_id"] == str(THEO.id)
    assert rows[-1]["actor_telegram_id"] == "", "an erasure keeps no Telegram id"


# The append-only trigger is PostgreSQL's, the shared store other programs could reach; the
# embedded SQLite file has no roles to refuse, and nothing in the code updates or deletes.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_postgresql_refuses_to_update_or_delete_an_audit_event(
    harness: Harness, backend: str, database: Database
) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    for statement in (
        "UPDATE audit_events SET actor_role = 'nobody'",
        "DELETE FROM audit_events",
    ):
        with (
            pytest.raises(sa.exc.DBAPIError, match="audit_events is append-only"),
            database.engine.begin() as connection,
        ):
            connection.exec_driver_sql(statement)
    assert [(e.action, e.actor_role) for e in events(h)] == [("group_created", "administrator")]


def test_a_page_of_the_longest_events_fits_one_telegram_message() -> None:
    longest = AuditEntry(
        at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        actor_telegram_id=9_999_999_999,
        actor_role=ActorRole.ADMINISTRATOR,
        action=AuditAction.DATA_ERASED,
        object_kind=ObjectKind.QUESTION,
        object_id=2**31 - 1,
        group_name="G" * 200,
        before={f"field_{n}": "<&>" * 400 for n in range(7)},
        after={f"field_{n}": ["Q" * 1000] * 20 for n in range(7)},
    )
    page = AuditPage((longest,) * PAGE_SIZE, "G" * 200, 3660, offset=10**6, has_older=True)
    text = texts.audit_page(page)
    shown = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert len(shown) <= 4096, len(shown)
    assert "…" in shown
    assert shown.count(texts.audit_more().strip()) == PAGE_SIZE, "each event says it was cut"
