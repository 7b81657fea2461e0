"""/deletemydata leaves nothing in the database that identifies the patient.

The patient here has done everything that leaves a trace: a wrong invite code, two groups,
answers of every kind (a typed sentence with their name in it, a photo), /mydata, charts, a
therapist's report and a weekly digest about their group, and messages still waiting in the
inbox when the erasure runs. Afterwards every column of every row of every table is read back
as text and searched for their Telegram id (which is also their chat id), names, username,
what they typed and their photo's file id.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, col, select

from bot import texts
from bot.services import checkin, erasure
from storage.db import Database
from storage.models import AuditEvent, Delivery, InboxUpdate, Membership, Person
from tests.fakes.harness import Harness, therapist
from tests.fakes.updates import User
from tests.fakes.waiting import wait_until
from tests.flows.test_checkin_support import at, local
from tests.flows.test_therapist_support import invite_code

# An id past 32 bits, as real ones are, and names found nowhere else in the demo data.
ZED = User(
    id=7_351_924_680,
    first_name="Zephyrine",
    last_name="Quillfeather",
    username="zq_feather",
)
THEO = therapist()
TYPED = "Zephyrine here: my left knee clicks since Tuesday"
PHOTO = "AgACAgQAAxkBAAIZephyrinesKneePhoto"
START = "▶️ Start now"
DELETE = "Yes, delete everything"


def everything_stored(database: Database) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every column of every row of every table."""
    found = []
    with database.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(sa_select(table)).mappings():
                for column, value in row.items():
                    found.append((table.name, column, str(value)))
    return found


def traces_of(database: Database, *needles: str) -> list[tuple[str, str, str]]:
    return [
        (table, column, value)
        for table, column, value in everything_stored(database)
        if any(needle.casefold() in value.casefold() for needle in needles)
    ]


def counts(database: Database) -> dict[str, int]:
    with database.session() as session:
        return {
            table.name: len(session.execute(sa_select(table)).all())
            for table in SQLModel.metadata.sorted_tables
            if table.name not in ("inbox", "audit_events")
        }


def toasts(h: Harness) -> list[Any]:
    return [call.params.get("text") for call in h.callback_answers()]


async def live_a_little(h: Harness) -> dict[str, Any]:
    """Everything a patient leaves behind in a week; returns an old prompt's button."""
    await h.command(ZED, "/start", "NOT_A_CODE")  # a wrong code: a counter row
    await h.command(ZED, "/start", "SHOULDER1")
    await h.command(ZED, "/start", "HIP1")
    # A group of THEO's own, so THEO gets its weekly digest.
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    await h.command(ZED, "/start", invite_code(h.last_text(THEO.chat_id)))
    await h.command(
        THEO, "/addtask", "Knees | Evening stretch | today 20:00 | once | Done? ; yes_no"
    )
    await at(h, local(10))  # Hip mobility session
    await h.press(ZED, START)
    await h.press(ZED, "Yes")
    await h.press(ZED, "Left")
    await h.text(ZED, "3")
    await at(h, local(18))  # Shoulder pain check: scale, minutes, free text
    await h.press(ZED, START)
    await h.press(ZED, "4")
    await h.text(ZED, "25")
    await h.text(ZED, TYPED)
    await at(h, local(17, day=26))  # Weekly form check: the photo
    prompt = h.last_message(ZED.chat_id)
    await h.press(ZED, START)
    await h.photo(ZED, PHOTO)
    await h.command(ZED, "/mydata")
    await h.command(ZED, "/progress")
    await h.command(THEO, "/report", "Shoulder Therapy 1")
    await h.command(THEO, "/chart", "Zephyrine")
    await at(h, datetime(2026, 11, 30, 8, 0, tzinfo=local(0).tzinfo))  # Monday: the digest
    await h.scan()  # planned by the scan before, sent by this one
    assert any("Weekly digest" in (c.params.get("caption") or "") for c in h.api.calls)
    # A language of their own choosing (there and back: the rest of the test reads English).
    await h.command(ZED, "/language", "es")
    await h.command(ZED, "/language", "en")
    assert traces_of(h.database, TYPED), "the test must have stored what it looks for"
    assert traces_of(h.database, PHOTO)
    return {"data": prompt.callback_data(START), "message_id": prompt.message_id}


async def test_after_an_erasure_no_table_holds_the_patients_ids_names_or_words(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    old_button = await live_a_little(h)
    await h.command(ZED, "/deletemydata")
    # Sent in a rush after the confirmation: still in the inbox when the erasure runs.
    erase = h.updates.press(ZED, DELETE)
    afterwards = h.updates.message(ZED, f"{TYPED}, again")
    rejoin_in_a_rush = h.updates.command(ZED, "/start", "SHOULDER1")
    calls_before = len(h.api.calls)

    await h.deliver(erase, afterwards, rejoin_in_a_rush)

    assert h.last_text(ZED.chat_id) == texts.checkin_deleted()
    replies = h.api.calls[calls_before:]
    assert [c.method for c in replies[:2]] == ["answerCallbackQuery", "editMessageText"]
    # Then the prompts and reminders of open check-ins erased, if any, say so (see
    # tests/flows/test_closing_messages.py); the rushed updates get no answer.
    for closed in replies[2:]:
        assert (closed.method, closed.chat_id) == ("editMessageText", ZED.id)
        assert closed.params["text"].endswith("no answer needed any more</i>")
    needles = (str(ZED.id), "Zephyrine", "Quillfeather", "zq_feather", TYPED, PHOTO)
    assert traces_of(h.database, *needles) == []
    with h.database.session() as session:
        (erased,) = session.exec(select(Person).where(col(Person.data_deleted_at).is_not(None)))
        assert (erased.telegram_user_id, erased.chat_id, erased.display_name) == (None, None, "")
        assert erased.erased_user_mark == erasure.mark(h.settings.erasure_key, ZED.id)
        assert erased.language_code == "en" and erased.last_answer_message_id is None
        assert erased.language is None
        marks = session.exec(select(Membership.role).where(Membership.person_id == erased.id))
        assert sorted(marks) == ["erased"] * 3, "the [deleted] rows of the reports"
        (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "data_erased")).all()
        assert (event.actor_telegram_id, event.object_id) == (None, erased.id)
        # The rushed updates were emptied, not lost: a redelivery is still known as handled.
        pending = session.exec(
            select(InboxUpdate).where(col(InboxUpdate.state) == "pending")
        ).all()
        assert pending == []
    await h.command(THEO, "/report", "Shoulder Therapy 1")
    assert "[deleted] = data deleted at the patient's request" in h.last_text(THEO.chat_id)

    # Nothing of theirs comes back by itself: an old button, a redelivered update, a message.
    before = counts(h.database)
    await h.press_data(ZED, old_button["data"], old_button["message_id"])
    assert toasts(h)[-1] == texts.checkin_refused("erased")
    await h.again(rejoin_in_a_rush)
    await h.text(ZED, "hello?")
    assert h.last_text(ZED.chat_id) == texts.checkin_data_was_deleted()
    assert counts(h.database) == before

    # The same Telegram user may join again, as a new person.
    await h.command(ZED, "/start", "SHOULDER1")
    assert "You have joined Shoulder Therapy 1" in h.last_text(ZED.chat_id)
    with h.database.session() as session:
        again = session.exec(select(Person).where(Person.telegram_user_id == ZED.id)).one()
        assert again.id != erased.id and again.display_name == "Zephyrine Quillfeather"
        assert session.get(Person, erased.id) is not None
    await h.command(THEO, "/patients", "Shoulder Therapy 1")
    patients = h.last_text(THEO.chat_id)
    assert "Zephyrine Quillfeather" in patients
    assert "data deleted at the patient's request" in patients


async def test_a_removed_patient_who_erased_their_data_stays_out_with_the_old_invite(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    await h.command(ZED, "/start", "SHOULDER1")
    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", str(ZED.id))
    await h.command(ZED, "/deletemydata")
    await h.press(ZED, DELETE)
    assert traces_of(h.database, str(ZED.id), "Zephyrine") == []

    await h.command(ZED, "/start", "SHOULDER1")

    assert "Nothing has changed." in h.last_text(ZED.chat_id)
    with h.database.session() as session:
        assert session.exec(select(Person).where(Person.telegram_user_id == ZED.id)).all() == []
    # A new invite is the therapist's new decision, and lets them in as a new person.
    h.advance(timedelta(minutes=1))
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    link = h.last_message(THEO.chat_id).plain or ""
    code = link.split("start=")[1].split()[0]
    await h.command(ZED, "/start", code)
    assert "You have joined Shoulder Therapy 1" in h.last_text(ZED.chat_id)


async def test_erasing_twice_is_answered_as_done_before(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    await h.command(ZED, "/start", "SHOULDER1")
    await h.command(ZED, "/deletemydata")
    confirmation = h.last_message(ZED.chat_id)
    await h.press(ZED, DELETE)

    await h.press_data(ZED, confirmation.callback_data(DELETE), confirmation.message_id)

    assert toasts(h)[-1] == texts.checkin_refused("erased")
    with h.database.session() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "data_erased"))
        assert len(events.all()) == 1


async def test_an_old_language_button_after_an_erasure_says_the_data_was_deleted(
    harness: Harness,
) -> None:
    """It said "Please join your therapy group first", as to someone never here; an old
    check-in button says the data was deleted, as the README has every old button say."""
    h = harness
    h.seed_demo()
    await h.command(ZED, "/start", "SHOULDER1")
    await h.command(ZED, "/language")
    languages = h.last_message(ZED.chat_id)
    await h.command(ZED, "/deletemydata")
    await h.press(ZED, DELETE)

    await h.press(ZED, "Deutsch", languages.message_id)

    assert h.last_text(ZED.chat_id) == texts.checkin_data_was_deleted()
    with h.database.session() as session:
        assert session.exec(select(Person).where(Person.telegram_user_id == ZED.id)).all() == []


async def test_an_erasure_confirmed_on_a_question_message_edits_it_once(
    harness: Harness,
) -> None:
    """A "delete" press carried by a question with buttons (a forged press, or a client
    that mixed messages up): the pressed message was replaced by the answer, then edited
    again to take off buttons it no longer had, which Telegram refuses (found by the fuzz
    test; the fixture fails on any refused request)."""
    h = harness
    h.seed_demo()
    await h.command(ZED, "/start", "SHOULDER1")
    await at(h, local(18, 0))
    await h.press(ZED, "▶️ Start now")
    question = h.last_message(ZED.chat_id)
    assert question.button_texts[:3] == ["0", "1", "2"]

    await h.press_data(ZED, "del:yes", question.message_id)

    assert h.api.message(ZED.chat_id, question.message_id).plain == texts.checkin_deleted()


async def test_a_prompt_on_its_way_as_the_patient_erases_their_data_loses_its_buttons(
    harness: Harness,
) -> None:
    """Zed erases his data while the 11:00 fan-out is sending his prompt. Its check-in is gone
    before the scan records the send, so nothing would ever close the prompt: it stayed on his
    screen with a Start button that only said "deleted". It is edited once, there and then."""
    h = harness
    h.seed_demo()
    await h.command(ZED, "/start", "SHOULDER1")
    h.clock.set(local(11, 0))
    h.api.slow_chats[ZED.chat_id] = 0.5  # the prompt is on its way for half a second

    def claimed() -> bool:
        with h.database.session() as session:
            statuses = session.exec(select(Delivery.status)).all()
            return "sending" in statuses

    scan = asyncio.create_task(h.scan())
    await wait_until(claimed, 5, "the prompt claimed for sending")
    erased = await asyncio.to_thread(
        checkin.delete_my_data, h.database, h.clock.now(), h.settings.erasure_key, ZED.id
    )
    assert erased.known and erased.deliveries >= 1
    await scan

    [prompt] = [m for m in h.screen(ZED.chat_id) if "Time for your check-in" in (m.plain or "")]
    assert prompt.buttons == [] and prompt.edited
