"""Reports, exports and alerts, against check-ins that real patients answered (or did not)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot import cli
from bot.clock import ManualClock
from bot.config import Settings
from fakebotapi import FakeBotApi, NetworkFault
from storage.db import Database
from storage.models import AuditEvent
from tests.fakes.harness import Harness, patient, therapist
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
ALICE, BOB, CHLOE = patient(0), patient(1), patient(2)
TASK = (
    "Knees | Daily check | today 10:00 | daily x3 | "
    "Pain now? ; scale ; >= 8 | Did you do the exercise? ; yes_no ; == no"
)


def alerts(h: Harness) -> list[str]:
    return [t for t in h.texts(THEO.chat_id) if t.startswith("🚨 ")]


async def two_days_of_checkins(h: Harness) -> None:
    """Day 1: Alice finishes, Bob stops after one answer, Chloe ignores it.
    Day 2: Alice finishes, Bob ignores it, Chloe skips it. Day 3 is still to come."""
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", TASK)
    for person in (ALICE, BOB, CHLOE):
        await h.command(person, "/start", code)

    await h.advance_and_scan(timedelta(hours=1))  # Wed 10:00
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.press(ALICE, "Yes")
    assert alerts(h) == []
    await h.press(BOB, "▶️ Start now")
    await h.press(BOB, "9")
    assert len(alerts(h)) == 1

    await h.advance_and_scan(timedelta(days=1))  # Thu 10:00: day 1 expires, day 2 is due
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "2")
    await h.press(ALICE, "No")
    await h.press(CHLOE, "⏭ Skip this task")


async def test_an_alert_fires_only_when_an_answer_meets_its_rule(harness: Harness) -> None:
    h = harness
    await two_days_of_checkins(h)
    assert alerts(h) == [
        "🚨 Bob Test answered 9 to “Pain now?” (Knees, Wed 25 Nov 10:00)\n"
        "Task: Daily check · alert on 8 or more",
        "🚨 Alice Test answered No to “Did you do the exercise?” (Knees, Thu 26 Nov 10:00)\n"
        "Task: Daily check · alert on No",
    ]
    # Patients never see another patient's alert.
    for person in (ALICE, BOB, CHLOE):
        assert not [t for t in h.texts(person.chat_id) if t.startswith("🚨")]


async def bob_at_the_pain_question(h: Harness) -> None:
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", TASK)
    await h.command(BOB, "/start", code)
    await h.advance_and_scan(timedelta(hours=1))  # Wed 10:00
    await h.press(BOB, "▶️ Start now")


async def test_an_alert_lost_with_a_stop_after_its_answer_reaches_the_therapist_once(
    harness: Harness,
) -> None:
    """Bob's 9 is stored, and the process stops before the next question and the alert go
    out (the next question's send failing stands in for the kill): the due scan sends the
    alert after the grace, as it does the question, and never again."""
    h = harness
    await bob_at_the_pain_question(h)
    h.api.inject("sendMessage", NetworkFault())
    await h.press(BOB, "9")
    assert alerts(h) == []

    grace = timedelta(seconds=h.settings.checkins.question_resend_seconds)
    await h.advance_and_scan(grace / 2)
    assert alerts(h) == [], "the handler may still be sending it"
    await h.advance_and_scan(grace)
    assert alerts(h) == [
        "🚨 Bob Test answered 9 to “Pain now?” (Knees, Wed 25 Nov 10:00)\n"
        "Task: Daily check · alert on 8 or more"
    ]
    await h.advance_and_scan(grace * 4)
    assert len(alerts(h)) == 1


async def test_an_alert_the_scan_sent_while_the_handler_waited_is_not_sent_again(
    harness: Harness,
) -> None:
    """Bob's next question waits at Telegram past the grace (a flood wait): the due scan sends
    the alert meanwhile, and the handler, going on once the question went out, leaves it."""
    h = harness
    await bob_at_the_pain_question(h)
    released = asyncio.Event()
    holding = asyncio.Event()
    plain = h.api.do_request

    async def held(url: str, method: str, *args: object, **kwargs: object) -> object:
        data = kwargs.get("request_data", args[0] if args else None)
        chat = getattr(data, "parameters", {}).get("chat_id")
        # Only the handler's question 2: the scan's own send of it goes through.
        first_to_bob = str(chat) == str(BOB.chat_id) and not holding.is_set()
        if url.endswith("/sendMessage") and first_to_bob:
            holding.set()
            await released.wait()
        return await plain(url, method, *args, **kwargs)  # type: ignore[arg-type]

    h.api.do_request = held  # type: ignore[method-assign]
    answering = asyncio.create_task(h.press(BOB, "9"))
    await asyncio.wait_for(holding.wait(), 10)
    await asyncio.wait_for(
        h.advance_and_scan(timedelta(seconds=h.settings.checkins.question_resend_seconds + 1)), 10
    )
    assert len(alerts(h)) == 1, "the scan sent it"

    released.set()
    await asyncio.wait_for(answering, 10)
    assert "Question 2 of 2" in h.last_text(BOB.chat_id)
    assert len(alerts(h)) == 1
    await h.advance_and_scan(timedelta(minutes=5))
    assert len(alerts(h)) == 1


async def test_an_alert_to_a_therapist_who_blocked_the_bot_is_not_tried_again(
    harness: Harness,
) -> None:
    h = harness
    await bob_at_the_pain_question(h)
    h.api.block(THEO.chat_id)
    await h.press(BOB, "9")
    assert "Question 2 of 2" in h.last_text(BOB.chat_id)
    refused = len(h.api.calls_of("sendMessage"))

    await h.advance_and_scan(timedelta(minutes=5))
    again = [c for c in h.api.calls_of("sendMessage")[refused:] if c.chat_id == THEO.chat_id]
    assert again == []


async def test_the_report_shows_each_patients_adherence(harness: Harness) -> None:
    h = harness
    await two_days_of_checkins(h)
    await h.command(THEO, "/report", "knees")
    lines = h.last_text(THEO.chat_id).splitlines()
    assert lines[:5] == [
        "Adherence: Knees",
        "Alice Test: 2 check-ins: 2 done · last answer 26 Nov",
        "Bob Test: 2 check-ins: 1 partly answered, 1 not started yet · last answer 25 Nov",
        "Chloe Test: 2 check-ins: 1 not answered, 1 skipped",
        "All: 6 check-ins: 2 done, 1 partly answered, 1 not answered, 1 skipped, "
        "1 not started yet · last answer 26 Nov",
    ]
    await h.command(THEO, "/report", "#1")
    task_lines = h.last_text(THEO.chat_id).splitlines()
    assert task_lines[0] == "Adherence: #1 Daily check (Knees)"
    assert task_lines[1:5] == lines[1:5]
    await h.command(THEO, "/report", "task", "7")
    assert h.last_text(THEO.chat_id) == "There is no task 7. /tasks lists them with their numbers."


async def test_each_checkin_counts_once_and_the_outcomes_add_up(harness: Harness) -> None:
    """One patient with every outcome: done, partly answered, not answered, skipped, started
    and not started yet; the line's figures add up to the check-ins due."""
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", TASK.replace("daily x3", "daily x5"))
    await h.command(ALICE, "/start", code)

    await h.advance_and_scan(timedelta(hours=1))  # Wed 10:00: done
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.press(ALICE, "Yes")
    await h.advance_and_scan(timedelta(days=1))  # Thu: one answer, then it expires
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "4")
    await h.advance_and_scan(timedelta(days=1))  # Fri: ignored until it expires
    await h.advance_and_scan(timedelta(days=1))  # Sat: skipped
    await h.press(ALICE, "⏭ Skip this task")
    await h.advance_and_scan(timedelta(days=1))  # Sun: started, still open
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "5")
    await h.command(THEO, "/addtask", "Knees | Stretch | today 11:00 | once | Stretched? ; yes_no")
    await h.advance_and_scan(timedelta(hours=1))  # Sun 11:00: due, not started

    await h.command(THEO, "/report", "Knees")
    lines = h.last_text(THEO.chat_id).splitlines()
    assert lines[1] == (
        "Alice Test: 6 check-ins: 1 done, 1 partly answered, 1 not answered, 1 skipped, "
        "1 started, 1 not started yet · last answer 29 Nov"
    )
    counted = lines[1].split(": ")[2].split(" · ")[0]
    figures = [int(part.split()[0]) for part in counted.split(", ")]
    assert sum(figures) == 6
    assert lines[-1].startswith("Check-ins due so far.")


async def test_the_export_is_a_csv_file_with_one_row_per_answer(harness: Harness) -> None:
    h = harness
    await two_days_of_checkins(h)
    await h.command(THEO, "/export", "Knees")
    document = h.last_message(THEO.chat_id)
    assert document.kind == "document"
    assert document.file_name == "patientbot-export-knees-2026-11-26.csv"
    assert document.plain == "5 answers from Knees, one per row (CSV, UTF-8)."
    content = h.api.calls_of("sendDocument")[-1].files["document"]["content"]
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))
    assert [
        (
            r["patient_name"],
            r["due_utc"],
            r["due_local"],
            r["question_position"],
            r["response_type"],
            r["value"],
            r["delivery_status"],
        )
        for r in rows
    ] == [
        ("Alice Test", "2026-11-25T10:00:00Z", "2026-11-25 10:00", "1", "scale", "3", "completed"),
        (
            "Alice Test",
            "2026-11-25T10:00:00Z",
            "2026-11-25 10:00",
            "2",
            "yes_no",
            "yes",
            "completed",
        ),
        ("Bob Test", "2026-11-25T10:00:00Z", "2026-11-25 10:00", "1", "scale", "9", "expired"),
        ("Alice Test", "2026-11-26T10:00:00Z", "2026-11-26 10:00", "1", "scale", "2", "completed"),
        (
            "Alice Test",
            "2026-11-26T10:00:00Z",
            "2026-11-26 10:00",
            "2",
            "yes_no",
            "no",
            "completed",
        ),
    ]
    assert {r["group"] for r in rows} == {"Knees"}
    assert {r["timezone"] for r in rows} == {"Europe/London"}
    assert rows[0]["answered_at_utc"] == "2026-11-25T10:00:00Z"
    await h.command(THEO, "/export")
    assert h.last_message(THEO.chat_id).file_name == "patientbot-export-all-2026-11-26.csv"


@asynccontextmanager
async def uploads_up_to(
    limit: int, settings: Settings, database: Database, clock: ManualClock
) -> AsyncIterator[Harness]:
    """A Bot API server that takes files of at most ``limit`` bytes, and a bot told so: a
    clinic's year of answers against Telegram's 50 MB, without building 50 MB."""
    told = settings.model_copy(
        update={"telegram": settings.telegram.model_copy(update={"max_upload_bytes": limit})}
    )
    api = FakeBotApi(wall_clock=lambda: clock.now().timestamp(), max_upload_bytes=limit)
    h = await Harness(told, database, clock, api=api).start()
    try:
        yield h
        assert not h.api.violations, h.api.violations
    finally:
        await h.stop()


def sent_file(h: Harness) -> tuple[str, bytes]:
    upload = h.api.calls_of("sendDocument")[-1].files["document"]
    return upload["filename"], upload["content"]


def exports_audited(h: Harness) -> int:
    with h.database.read_session() as session:
        events = session.exec(select(AuditEvent)).all()
        return sum(1 for event in events if event.action == "data_exported")


# Five answers make a CSV of about 1 kB and a FHIR Bundle of several, each a few times
# smaller zipped: each limit is below the file and above it zipped.
@pytest.mark.parametrize(
    ("args", "inside", "limit"),
    [
        (("Knees",), "patientbot-export-knees-2026-11-26.csv", 700),
        (("Knees", "fhir"), "patientbot-fhir-knees-2026-11-26.json", 3000),
    ],
)
async def test_an_export_too_large_for_telegram_goes_zipped(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    args: tuple[str, ...],
    inside: str,
    limit: int,
) -> None:
    async with uploads_up_to(limit, settings, database, clock) as h:
        await two_days_of_checkins(h)

        await h.command(THEO, "/export", *args)

        filename, content = sent_file(h)
        assert filename == f"{inside}.zip" and len(content) <= limit
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            assert archive.namelist() == [inside]
            unzipped = archive.read(inside)
        assert len(unzipped) > limit
        if inside.endswith(".json"):
            assert json.loads(unzipped)["resourceType"] == "Bundle"
        else:
            assert len(list(csv.DictReader(io.StringIO(unzipped.decode("utf-8"))))) == 5
        caption = h.last_message(THEO.chat_id).plain or ""
        assert "Zipped: as it is, the file is 1 MB, more than a bot may send on Telegram." in (
            caption
        )
        assert exports_audited(h) == 1


async def test_an_export_too_large_even_zipped_is_refused_and_not_recorded(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    async with uploads_up_to(200, settings, database, clock) as h:
        await two_days_of_checkins(h)

        await h.command(THEO, "/export")
        everything = h.last_text(THEO.chat_id)
        await h.command(THEO, "/export", "Knees")
        one_group = h.last_text(THEO.chat_id)

        assert h.api.calls_of("sendDocument") == []
        for reply in (everything, one_group):
            assert reply.startswith("Nothing was exported: even zipped the file is 1 MB")
            assert "a bot may send at most 0 MB on Telegram" in reply
            assert "patientbot export" in reply
        assert "Export one group at a time" in everything
        assert "Export one group at a time" not in one_group
        assert exports_audited(h) == 0, "a file refused as too large is not recorded"


async def test_the_command_line_writes_the_same_file_as_export(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = harness
    await two_days_of_checkins(h)
    await h.command(THEO, "/export", "Knees")
    sent = h.api.calls_of("sendDocument")[-1].files["document"]["content"]
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{h.settings.database.url}"\n', encoding="utf-8")
    out = tmp_path / "knees.csv"
    code = cli.main(["--config", str(config), "export", "--group", "Knees", "--out", str(out)])
    assert code == 0
    assert out.read_bytes() == sent
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, "patients' answers, for the operator only"
    assert f"Wrote 5 answers to {out}." in capsys.readouterr().out
    exported = exports_audited(h)
    code = cli.main(["--config", str(config), "export", "--group", "Hips", "--out", str(out)])
    assert code == 1
    assert "There is no group “Hips”. Groups: Knees." in capsys.readouterr().err
    assert out.read_bytes() == sent, "a failed export left the earlier file as it was"

    # An --out that cannot be written is said before anything happens: no export recorded.
    for unwritable in (tmp_path / "no-such-folder" / "knees.csv", tmp_path):
        code = cli.main(["--config", str(config), "export", "--out", str(unwritable)])
        assert code == 1
        assert f"Cannot write {unwritable}: " in capsys.readouterr().err
    assert exports_audited(h) == exported
    assert not (tmp_path / ".knees.csv.partial").exists()


async def test_check_ins_the_bot_never_sent_are_not_counted_against_the_patients(
    harness: Harness,
) -> None:
    """The bot was down from before Wednesday's 10:00 until Friday morning: Wednesday's
    check-in expired unsent (and Thursday's was never planned). Alice did not miss it:
    /report and /patient count only what reached her."""
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", TASK)
    await h.command(ALICE, "/start", code)

    h.advance(timedelta(days=2, minutes=30))  # Fri 09:30: down until now
    await h.scan()
    await h.advance_and_scan(timedelta(minutes=30))  # Fri 10:00
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.press(ALICE, "Yes")

    await h.command(THEO, "/report", "knees")
    lines = h.last_text(THEO.chat_id).splitlines()
    assert lines[1] == "Alice Test: 1 check-in: 1 done · last answer 27 Nov", lines
    await h.command(THEO, "/patient", "Alice Test")
    assert "not answered" not in h.last_text(THEO.chat_id)
