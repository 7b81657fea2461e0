"""Messages that stay true: once a check-in closes, its prompt and reminders say how it ended.

A patient is sent a prompt at 10:00 and reminders at 11:00 and 13:00 (the defaults: the first
after 60 minutes, then every 120, at most two), all three with live Start buttons. However the
check-in then ends, every one of them keeps its text and gains one line saying how it ended,
and no message of the closed check-in keeps a button. Read from the fake's record of the chat
as it stands now, as the patient sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
from sqlmodel import select

from bot import scheduler, texts
from bot.clock import ManualClock
from bot.config import Settings
from fakebotapi import FakeBotApi, NetworkFault
from storage.db import Database
from storage.models import CheckinMessage, Person
from tests.fakes.harness import Harness, therapist
from tests.fakes.updates import User
from tests.flows.test_scheduling_support import VirtualTime, World, at, virtual_pacer

TODAY = date(2026, 11, 25)  # the clock starts on Wednesday at 09:00 UTC
THEO = therapist()


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def h(
    settings: Settings, database: Database, clock: ManualClock, vt: VirtualTime
) -> AsyncIterator[Harness]:
    # The pacer keeps the scan's sends and edits on virtual time; the patient's own replies
    # are not paced, and virtual time stands still while they are handled, so the fake's
    # flood control stays off here (tests/flows/test_scheduling.py covers it).
    api = FakeBotApi(time_source=vt.time, wall_clock=lambda: clock.now().timestamp())
    harness = await Harness(settings, database, clock, api=api).start()
    scheduler.state(harness.app).pacer = virtual_pacer(settings, vt)
    try:
        yield harness
        assert not harness.api.violations, f"invalid Bot API requests: {harness.api.violations}"
    finally:
        await harness.stop()


@pytest.fixture
def world(database: Database, clock: ManualClock) -> World:
    return World(database, clock)


@dataclass
class Open:
    """A check-in that is open: its prompt and two reminders on the patient's screen."""

    patient: User
    chat_id: int
    task_id: int
    messages: list[int]  # prompt, first reminder, second reminder


async def scan(h: Harness, vt: VirtualTime) -> None:
    await vt.run(h.scan())


async def prompted_and_reminded_twice(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock, zone: str = "Europe/London"
) -> Open:
    group = world.group()
    person = world.patient(group, zone=zone)
    task = world.task(group, (TODAY, time(10, 0)), title="Shoulder <pain> check")
    due = at(TODAY, time(10, 0), zone)
    for moment in (due, due + timedelta(minutes=60), due + timedelta(minutes=180)):
        clock.set(moment)
        await scan(h, vt)
    assert person.chat_id is not None
    screen = h.screen(person.chat_id)
    assert len(screen) == 3
    assert all(m.button_texts[0] == "▶️ Start now" for m in screen)
    assert ["Reminder" in (m.plain or "") for m in screen] == [False, True, True]
    return Open(
        User(person.telegram_user_id, "Patient"),
        person.chat_id,
        task,
        [m.message_id for m in screen],
    )


def assert_closed(h: Harness, checkin: Open, line: str, *, whole_chat: bool = True) -> None:
    """Each message as sent plus the closing line; not one button left (in the chat)."""
    for message_id in checkin.messages:
        message = h.api.message(checkin.chat_id, message_id)
        assert message is not None and message.plain is not None and message.edited
        body, _, last = message.plain.rpartition("\n\n")
        assert last == line, message.plain
        assert "Shoulder <pain> check" in body and "Open until" in body
    shown = h.screen(checkin.chat_id)
    if not whole_chat:
        shown = [m for m in shown if m.message_id in checkin.messages]
    assert [m.buttons for m in shown if m.buttons] == []


def edits_of(h: Harness, message_id: int) -> int:
    """Successful edits of one message."""
    return sum(
        1
        for call in h.api.calls
        if call.method in ("editMessageText", "editMessageReplyMarkup")
        and call.params.get("message_id") == message_id
        and call.status == 200
    )


def recorded(h: Harness) -> int:
    with h.database.session() as session:
        return len(session.exec(select(CheckinMessage)).all())


# --- completed ----------------------------------------------------------------------------------


async def test_completing_a_check_in_edits_its_prompt_and_both_reminders_at_once(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    clock.advance(timedelta(minutes=5))

    await h.press(checkin.patient, "▶️ Start now")  # on the newest: the second reminder
    await h.press(checkin.patient, "Yes")
    await h.press(checkin.patient, "No")

    assert "Thank you" in h.last_text(checkin.chat_id)
    assert_closed(h, checkin, "✅ Completed")
    assert recorded(h) == 0
    # The scan finds nothing left to edit: nothing is edited twice.
    await scan(h, vt)
    assert [edits_of(h, m) for m in checkin.messages] == [1, 1, 1]


async def test_an_edit_that_fails_at_completion_is_made_by_the_next_scan(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    await h.press(checkin.patient, "▶️ Start now")
    await h.press(checkin.patient, "Yes")
    # The last answer typed, so the first edit after it is the prompt's: it meets a reset.
    h.api.inject("editMessageText", NetworkFault())
    await h.text(checkin.patient, "no")
    assert "Thank you" in h.last_text(checkin.chat_id)
    # The prompt, both reminders, and the question answered by typing, with its buttons.
    assert recorded(h) == 4

    await h.restart()  # a new process: nothing was kept in memory
    scheduler.state(h.app).pacer = virtual_pacer(h.settings, vt)
    await scan(h, vt)

    assert_closed(h, checkin, "✅ Completed")
    assert recorded(h) == 0
    assert [edits_of(h, m) for m in checkin.messages] == [1, 1, 1]


async def test_questions_answered_by_a_press_are_edited_once_by_the_press_alone(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    await h.press(checkin.patient, "▶️ Start now")
    first = h.last_message(checkin.chat_id).message_id
    await h.press(checkin.patient, "Yes")
    second = h.last_message(checkin.chat_id).message_id
    await h.press(checkin.patient, "No")

    assert_closed(h, checkin, "✅ Completed")
    assert recorded(h) == 0
    await scan(h, vt)
    # Each shows its answer from the press's edit; closing had nothing left to take off.
    assert [edits_of(h, m) for m in (first, second)] == [1, 1]


# --- expired ------------------------------------------------------------------------------------


async def test_an_expired_check_in_says_when_it_closed_in_the_patients_own_time(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock, zone="America/New_York")
    clock.set(at(TODAY + timedelta(days=1), time(10, 0), "America/New_York"))

    await scan(h, vt)

    assert_closed(h, checkin, "⌛ Closed at Thu 26 Nov, 10:00 (EST)")
    assert recorded(h) == 0


async def test_an_expired_check_in_takes_the_buttons_off_its_question_and_re_ask(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    await h.press(checkin.patient, "▶️ Start now")
    question = h.last_message(checkin.chat_id)
    await h.text(checkin.patient, "maybe")  # re-asked, with the Yes and No buttons again
    reask = h.last_message(checkin.chat_id)
    assert reask.button_texts == ["Yes", "No"] and question.button_texts == ["Yes", "No"]

    clock.set(at(TODAY + timedelta(days=1), time(10, 0), "Europe/London"))
    await scan(h, vt)

    # Not one button left in the chat; the question and the hint read as they were sent.
    assert_closed(h, checkin, "⌛ Closed at Thu 26 Nov, 10:00 (GMT)")
    assert [h.api.message(checkin.chat_id, m.message_id).plain for m in (question, reask)] == [
        question.plain,
        reask.plain,
    ]
    assert recorded(h) == 0


async def test_a_press_on_a_question_already_answered_takes_its_buttons_off(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    await h.press(checkin.patient, "▶️ Start now")
    first = h.last_message(checkin.chat_id)
    await h.text(checkin.patient, "yes")  # typed: the question's buttons stay live
    second = h.last_message(checkin.chat_id)

    await h.press(checkin.patient, "No", first.message_id)

    [toast] = h.callback_answers()[-1:]
    assert "already" in (toast.params.get("text") or "")
    assert h.api.message(checkin.chat_id, first.message_id).buttons == []
    # The question now asked keeps its own.
    assert h.api.message(checkin.chat_id, second.message_id).button_texts == ["Yes", "No"]

    # Its record went with them: completing the check-in edits it no more (Telegram refuses
    # an edit that changes nothing, and the fake records that as a violation).
    await h.press(checkin.patient, "Yes", second.message_id)
    assert_closed(h, checkin, "✅ Completed")
    assert recorded(h) == 0


async def test_an_expiry_edited_after_a_failed_try_is_edited_once(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    clock.set(at(TODAY + timedelta(days=1), time(10, 0), "Europe/London"))
    h.api.inject("editMessageText", NetworkFault())

    await scan(h, vt)  # expired; the first edit fails, the rest wait for the next scan
    assert recorded(h) == 3
    clock.advance(timedelta(seconds=5))
    await scan(h, vt)

    assert_closed(h, checkin, "⌛ Closed at Thu 26 Nov, 10:00 (GMT)")
    assert [edits_of(h, m) for m in checkin.messages] == [1, 1, 1]
    assert recorded(h) == 0


async def test_a_message_the_patient_deleted_is_given_up_not_retried(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    prompt = checkin.messages[0]
    h.api.delete_by_person(checkin.chat_id, prompt)
    clock.set(at(TODAY + timedelta(days=1), time(10, 0), "Europe/London"))

    await scan(h, vt)

    # Telegram answers the edit of the deleted prompt "message to edit not found": done.
    [refused] = h.api.violations
    assert (refused.method, refused.description) == (
        "editMessageText",
        "Bad Request: message to edit not found",
    )
    h.api.violations.clear()
    assert recorded(h) == 0
    reminders = Open(checkin.patient, checkin.chat_id, checkin.task_id, checkin.messages[1:])
    assert_closed(h, reminders, "⌛ Closed at Thu 26 Nov, 10:00 (GMT)")
    calls = len(h.api.calls)
    clock.advance(timedelta(seconds=5))
    await scan(h, vt)
    assert not [c for c in h.api.calls[calls:] if c.method.startswith("edit")]


# --- cancelled ----------------------------------------------------------------------------------


async def test_stop_cancels_the_check_in_and_its_messages_say_so(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)

    await h.command(checkin.patient, "/stop")
    await h.press(checkin.patient, texts.checkin_button_stop_yes())

    assert_closed(h, checkin, "✖️ Cancelled: no answer needed any more")
    assert recorded(h) == 0


async def test_a_deleted_task_cancels_the_check_in_and_the_scan_edits_its_messages(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)

    await h.command(THEO, "/deletetask", str(checkin.task_id))
    await h.press(THEO, "🗑 Yes, delete")
    assert "1 open check-in cancelled" in h.last_text(THEO.id)
    await scan(h, vt)

    assert_closed(h, checkin, "✖️ Cancelled: no answer needed any more")
    assert recorded(h) == 0


async def test_erasing_ones_data_still_closes_the_messages(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)

    await h.command(checkin.patient, "/deletemydata")
    await h.press(checkin.patient, texts.checkin_button_delete_yes())

    assert_closed(h, checkin, "✖️ Cancelled: no answer needed any more")
    assert recorded(h) == 0


async def test_skipping_from_a_reminder_closes_the_prompt_and_the_other_reminder(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)

    await h.press(checkin.patient, texts.button_skip_task(), checkin.messages[1])

    assert_closed(h, checkin, texts.checkin_prompt_skipped())
    assert [edits_of(h, m) for m in checkin.messages] == [1, 1, 1]


async def test_a_removed_patients_check_in_is_cancelled_and_the_scan_edits_its_messages(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    name = f"Patient {checkin.patient.id}"  # as World names its patients

    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", str(checkin.patient.id))
    assert f"Removed {name} from Shoulder Therapy 1." in h.last_text(THEO.id)
    await scan(h, vt)

    assert_closed(h, checkin, "✖️ Cancelled: no answer needed any more")
    assert recorded(h) == 0


async def test_the_scan_adds_the_closing_line_in_the_patients_language(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    """The scan edits outside any update of the patient's: the line is in the language they
    read now (here German, chosen after the prompt and reminders were sent)."""
    checkin = await prompted_and_reminded_twice(h, vt, world, clock)
    with h.database.session() as session:
        person = session.exec(
            select(Person).where(Person.telegram_user_id == checkin.patient.id)
        ).one()
        person.language = "de"
        session.add(person)
        session.commit()
    clock.set(at(TODAY + timedelta(days=1), time(10, 0), "Europe/London"))

    await scan(h, vt)

    assert_closed(h, checkin, "⌛ Geschlossen am Do., 26. Nov., 10:00 (GMT)")
