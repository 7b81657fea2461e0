"""The /newtask dialogue: every step, wrong entries re-asked with a hint, /cancel, Save."""

from __future__ import annotations

from datetime import time, timedelta

from sqlmodel import col, select

from bot import texts
from bot.clock import ManualClock
from bot.config import Settings
from bot.handlers.therapist.dialogue import chats_in_dialogue
from bot.receiver import DIALOGUE_HOLD_SECONDS, receiver
from storage.db import Database
from storage.models import Delivery, InboxUpdate, Question, Task
from tests.fakes.harness import Harness, patient, therapist, two_instances
from tests.fakes.snapshots import snapshot

THEO = therapist()


async def start_dialogue(h: Harness, group: str = "Shoulder Therapy 1") -> None:
    await h.command(THEO, "/newtask")
    await h.press(THEO, group)


def last(h: Harness) -> str:
    return h.last_text(THEO.chat_id)


def buttons(h: Harness) -> list[str]:
    return h.last_message(THEO.chat_id).button_texts


async def test_each_step_re_asks_a_wrong_entry_with_a_hint(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    await h.command(THEO, "/newtask")
    assert buttons(h) == ["Shoulder Therapy 1"]
    await h.text(THEO, "Shoulder Therapy 1")  # typed instead of tapped
    assert "Please answer the last question above" in last(h)
    await h.press(THEO, "Shoulder Therapy 1")
    assert "What is the task's title?" in last(h)

    await h.text(THEO, "x" * 201)
    assert "That title has 201 characters; keep it to 200." in last(h)
    await h.text(THEO, "Knee <b>bends</b>")
    assert "When is it due?" in last(h)
    assert "for example 2026-12-02 10:00," in last(h)  # a week after the clock's Wed 25 Nov

    await h.text(THEO, "someday")
    assert 'Could not read "someday" as a due time.' in last(h)
    await h.text(THEO, "today 08:00")
    assert "That is in the past (Wed 25 Nov 2026, 08:00 in Europe/London)" in last(h)
    await h.text(THEO, "2026-12-01 10:00")
    assert "Due Tue 1 Dec 2026, 10:00 (Europe/London)." in h.texts(THEO.chat_id)[-2]
    assert buttons(h) == ["Once", "Daily", "Weekdays", "Every N days"]

    await h.text(THEO, "fortnightly")
    assert 'Could not read "fortnightly" as a repeat.' in last(h)
    # Typed with an end before the first day: refused here, as the button's way refuses it
    # (taken, the task could never be due, and Save asked again and again for a due date).
    await h.text(THEO, "weekdays until 2026-11-30")
    assert last(h) == (
        "That repeat ends on Mon 30 Nov 2026, before the first day, Tue 1 Dec 2026: the task "
        "would never be due. Please tap one of the buttons above, or type the repeat again "
        "with a later end."
    )
    await h.press(THEO, "Every N days")
    await h.text(THEO, "0")
    assert last(h).startswith("Please type a whole number of days from 1 to 365")
    await h.text(THEO, "3")
    assert buttons(h) == ["No end date", "Until a date", "A number of times"]
    await h.press(THEO, "Until a date")
    await h.text(THEO, "31/12/2026")
    assert "“31/12/2026” is not a date." in last(h)
    await h.text(THEO, "2026-11-30")
    assert "Mon 30 Nov 2026 is before the first day, Tue 1 Dec 2026" in last(h)
    await h.text(THEO, "2026-12-31")
    assert "Repeats: every 3 days until 31 Dec 2026." in h.texts(THEO.chat_id)[-2]
    assert "Question 1" in last(h)

    # Question 1: a choice, with wrong options first.
    await h.sticker(THEO)
    assert "Please answer the last question above" in last(h)
    await h.text(THEO, "Which knee hurts more?")
    await h.text(THEO, "youtube.com/watch?v=1")
    assert "“youtube.com/watch?v=1” is not a web address." in last(h)
    await h.press(THEO, "No link")
    assert buttons(h) == ["Yes / No", "Scale", "Number", "Choice", "Text", "Photo", "Video"]
    await h.text(THEO, "choice")
    assert "Please answer the last question above" in last(h)
    await h.press(THEO, "Choice")
    await h.text(THEO, "Left")
    assert "A choice question needs at least 2 options; this one has 1." in last(h)
    await h.text(THEO, "Left, left")
    assert "The option “left” is listed more than once." in last(h)
    await h.text(THEO, "Left, Right, Both")
    await h.press(THEO, "Required")
    await h.text(THEO, ">= Left")
    assert "A choice alert compares with == or !=" in last(h)
    await h.text(THEO, "== Middle")
    assert "“Middle” is not one of the options: Left, Right, Both." in last(h)
    await h.text(THEO, "both")  # short for "== both"
    assert "Question 1 added" in last(h)
    assert "alert on Both" in last(h)  # in words, as the alert says it
    await h.press(THEO, "➕ Add another question")

    # Question 2: a number with bounds that must be whole.
    await h.text(THEO, "How many bends?")
    await h.text(THEO, "www.example.org/bends")  # read as https://
    await h.press(THEO, "Number")
    await h.text(THEO, "lots")
    assert "“lots” is not a range." in last(h)
    await h.text(THEO, "50-0")
    assert "The minimum (50) is greater than the maximum (0)." in last(h)
    await h.text(THEO, "0.5-30")
    await h.press(THEO, "Whole numbers")
    assert "the minimum and maximum must be whole too" in h.texts(THEO.chat_id)[-1]
    # "…or tap No limits": the re-ask carries that button.
    assert buttons(h) == ["No limits"]
    await h.text(THEO, "0-30")
    await h.press(THEO, "Whole numbers")
    await h.press(THEO, "Optional")
    await h.text(THEO, ">= 31")
    assert "The alert value must be between 0 and 30" in last(h)
    await h.press(THEO, "No alert")
    await h.press(THEO, "➕ Add another question")

    # Question 3: a scale, first too wide.
    await h.text(THEO, "Pain now?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Scale")
    await h.text(THEO, "0-100")
    assert "A scale can have at most 21 points (for example 0 to 20)" in last(h)
    await h.text(THEO, "1-5")
    await h.press(THEO, "Required")
    await h.text(THEO, "very high")
    assert "Write the alert as a comparison and a value" in last(h)
    await h.text(THEO, "4+")  # short for ">= 4"
    await h.press(THEO, "➕ Add another question")

    # Question 4: text with a limit; question 5: a photo, whose one alert is on every photo.
    await h.text(THEO, "Anything else?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Text")
    await h.text(THEO, "0")
    assert "a whole number from 1 to 4000" in last(h)
    await h.text(THEO, "300")
    await h.press(THEO, "Optional")
    assert "Question 4 added" in last(h)
    await h.press(THEO, "➕ Add another question")
    await h.text(THEO, "A photo of your knee")
    await h.press(THEO, "No link")
    await h.press(THEO, "Photo")
    await h.press(THEO, "Required")
    assert "get every photo as an alert" in last(h)
    await h.press(THEO, "No alert")
    await h.press(THEO, "✅ Done – review the task")

    review = h.texts(THEO.chat_id)[-2]
    assert review.splitlines()[:6] == [
        "Review",
        "Knee <b>bends</b>",
        "Group: Shoulder Therapy 1",
        "Starts: Tue 1 Dec 2026, 10:00 (Europe/London)",
        "Repeats: every 3 days until 31 Dec 2026",
        "Next due: Tue 1 Dec 2026, 10:00 (Europe/London)",
    ]
    assert "1. Which knee hurts more?" in review
    assert "Number · 0 to 30 · whole numbers · optional" in review
    assert "Scale · 1 to 5 · required · alert on 4 or more" in review
    assert "Text · at most 300 characters · optional" in review
    assert "Photo · required" in review
    await h.press(THEO, "💾 Save")
    assert "Saved task #1 “Knee <b>bends</b>”" in last(h)

    with h.database.session() as session:
        task = session.exec(select(Task)).one()
        questions = session.exec(select(Question).order_by(col(Question.position))).all()
    assert (task.title, task.recurrence, task.due_time) == (
        "Knee <b>bends</b>",
        "FREQ=DAILY;INTERVAL=3;UNTIL=20261231",
        time(10, 0),
    )
    assert [
        (q.response_type, q.options, q.min_value, q.max_value, q.integer_only, q.required)
        for q in questions
    ] == [
        ("choice", ["Left", "Right", "Both"], None, None, False, True),
        ("number", None, 0.0, 30.0, True, False),
        ("scale", None, 1.0, 5.0, False, True),
        ("text", None, None, None, False, False),
        ("photo", None, None, None, False, True),
    ]
    assert [q.alert_rule for q in questions] == ["== Both", None, ">= 4", None, None]
    assert [q.link for q in questions] == [None, "https://www.example.org/bends", None, None, None]
    assert [q.max_length for q in questions] == [None, None, None, 300, None]
    assert not h.api.violations


async def test_the_due_example_follows_the_clock(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    h.advance(timedelta(days=60))  # as the playground's clock may run ahead of today
    await start_dialogue(h)
    await h.text(THEO, "Later")
    assert "for example 2027-01-31 10:00," in last(h)
    await h.text(THEO, "2027-01-31 10:00")
    assert "Due Sun 31 Jan 2027, 10:00 (Europe/London)." in h.texts(THEO.chat_id)[-2]


async def test_a_saved_task_plans_each_patients_first_checkin(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    alice, bob = patient(0), patient(1)
    await h.command(alice, "/start", "HIP1")
    await h.command(bob, "/start", "HIP1")
    await start_dialogue(h, "Hip Therapy 1")
    await h.text(THEO, "Balance")
    await h.text(THEO, "tomorrow 10:00")
    await h.press(THEO, "Weekdays")
    await h.press(THEO, "A number of times")
    await h.text(THEO, "ten")
    assert last(h).startswith("Please type a whole number from 1 to 1000")
    await h.text(THEO, "10")
    await h.text(THEO, "Stand on one leg for a minute. Done?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Yes / No")
    await h.press(THEO, "Required")
    await h.text(THEO, "== no")
    await h.press(THEO, "✅ Done – review the task")
    await h.press(THEO, "💾 Save")
    saved = last(h)
    assert "Next due: Thu 26 Nov 2026, 10:00 (Europe/London); 2 patients scheduled." in saved
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Balance")).one()
        rows = session.exec(select(Delivery).where(Delivery.task_id == task.id)).all()
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    assert len(rows) == 2 and {r.status for r in rows} == {"pending"}


async def test_a_due_time_gone_by_while_writing_asks_for_another_and_keeps_the_questions(
    harness: Harness,
) -> None:
    """Set at 09:50 for today 10:00, once, and saved at 10:05: the draft and its questions
    were thrown away with "never due again"."""
    h = harness
    h.seed_demo()
    h.advance(timedelta(minutes=50))
    await start_dialogue(h, "Hip Therapy 1")
    await h.text(THEO, "Balance")
    await h.text(THEO, "today 10:00")
    await h.press(THEO, "Once")
    await h.text(THEO, "Stand on one leg for a minute. Done?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Yes / No")
    await h.press(THEO, "Required")
    await h.press(THEO, "No alert")
    h.advance(timedelta(minutes=15))
    await h.press(THEO, "✅ Done – review the task")
    await h.press(THEO, "💾 Save")

    assert last(h) == (
        "With that date and repetition the task would never be due again.\n"
        "Please type the due date and time again (in Europe/London)."
    )
    await h.text(THEO, "today 11:00")
    assert "1. Stand on one leg for a minute. Done?" in h.texts(THEO.chat_id)[-2]
    await h.press(THEO, "💾 Save")
    assert last(h).startswith("Saved task")
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Balance")).one()
        questions = session.exec(select(Question).where(Question.task_id == task.id)).all()
    assert (task.due_time, [q.description for q in questions]) == (
        time(11, 0),
        ["Stand on one leg for a minute. Done?"],
    )


async def test_cancel_at_any_step_stores_nothing(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    steps = [
        [],
        ["Title"],
        ["Title", "tomorrow 10:00"],
        ["Title", "tomorrow 10:00", "[Daily]"],
        ["Title", "tomorrow 10:00", "[Once]", "Question?"],
        ["Title", "tomorrow 10:00", "[Once]", "Question?", "[No link]", "[Scale]"],
    ]
    before = snapshot(h.database)
    for entries in steps:
        await start_dialogue(h)
        for entry in entries:
            if entry.startswith("["):
                await h.press(THEO, entry[1:-1])
            else:
                await h.text(THEO, entry)
        await h.command(THEO, "/cancel")
        assert last(h) == texts.admin_cancelled()
        assert snapshot(h.database) == before
    # After /cancel a typed message is no longer taken as part of a task.
    await h.text(THEO, "Another title")
    assert "What is the task" not in last(h) and "When is it due" not in last(h)


async def test_cancel_on_the_review_stores_nothing(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    before = snapshot(h.database)
    await start_dialogue(h)
    await h.text(THEO, "Title")
    await h.text(THEO, "tomorrow 10:00")
    await h.press(THEO, "Once")
    await h.text(THEO, "Done?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Video")
    await h.press(THEO, "Optional")
    await h.press(THEO, "No alert")
    await h.press(THEO, "✅ Done – review the task")
    await h.press(THEO, "✖️ Cancel")
    assert last(h) == texts.admin_cancelled()
    assert snapshot(h.database) == before


async def test_a_button_from_an_earlier_step_is_no_longer_active(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    await start_dialogue(h)
    await h.text(THEO, "Title")
    await h.text(THEO, "tomorrow 10:00")
    repeat_message = h.last_message(THEO.chat_id).message_id
    await h.press(THEO, "Daily")
    # The pressed keyboard is gone, showing the choice instead.
    assert h.api.message(THEO.chat_id, repeat_message).buttons == []  # type: ignore[union-attr]
    assert "→ Daily" in h.texts(THEO.chat_id)[-2]
    await h.press_data(THEO, "tr:once", repeat_message)
    assert h.callback_answers()[-1].params.get("text") == texts.admin_stale_button()
    await h.press(THEO, "No end date")
    assert "Repeats: every day." in h.texts(THEO.chat_id)[-2]


async def test_an_abandoned_dialogue_is_dropped_after_an_hour(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    before = snapshot(h.database)
    await start_dialogue(h)
    await h.text(THEO, "Title")
    h.advance(timedelta(hours=2))
    await h.text(THEO, "tomorrow 10:00")
    assert last(h) == texts.admin_dialogue_expired()
    await h.text(THEO, "tomorrow 10:00")
    assert last(h) != texts.admin_dialogue_expired()
    assert snapshot(h.database) == before


async def test_a_restart_forgets_an_unfinished_dialogue_and_says_so(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    before = snapshot(h.database)
    await start_dialogue(h)
    await h.text(THEO, "Title")
    await h.text(THEO, "tomorrow 10:00")
    await h.restart()
    await h.press(THEO, "Daily")
    assert h.callback_answers()[-1].params.get("text") == texts.admin_stale_button()
    assert snapshot(h.database) == before


async def test_a_group_is_needed_before_a_task(harness: Harness) -> None:
    await harness.command(THEO, "/newtask")
    assert harness.last_text(THEO.chat_id) == texts.admin_no_groups()


async def test_a_dialogue_stays_with_the_instance_that_holds_its_draft(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """Two instances behind one webhook. Theo's /newtask reaches A, which keeps his draft in
    its memory; his press of the group reaches B. B answered "This button is no longer
    active" (it has no draft), and every step after met the same luck. Now A keeps his
    chat: B leaves the press alone, and A takes it and asks for the title. Should A die, the
    hold runs out within half a minute and B answers as after a restart."""
    async with two_instances(settings, database, clock) as (first, second):
        first.seed_demo()
        await first.command(THEO, "/newtask")
        asked = len(first.texts(THEO.chat_id))

        await second.press(THEO, "Shoulder Therapy 1")

        assert len(first.texts(THEO.chat_id)) == asked, "B answered a step of A's dialogue"
        assert await receiver(first.app).drain() == 1
        assert "What is the task's title?" in last(first)

        # A renews the hold while the draft lives: past the first hold, B still leaves it.
        first.advance(timedelta(seconds=DIALOGUE_HOLD_SECONDS - 5))
        await receiver(first.app)._keep_dialogues()
        first.advance(timedelta(seconds=10))
        await second.text(THEO, "Title")
        assert len(first.texts(THEO.chat_id)) == asked + 1, "B answered a step of A's dialogue"
        # A dies with the draft; when the renewed hold runs out, B answers.
        first.advance(timedelta(seconds=DIALOGUE_HOLD_SECONDS))
        assert await receiver(second.app).drain() == 1
        # B's answer: with no draft, a typed title starts nothing (A would ask for the date).
        assert last(first) == texts.help_therapist_free_text()


async def test_a_dialogue_ended_holds_its_chat_no_more(harness: Harness) -> None:
    """While Theo builds a task his chat is this process's (``chats_in_dialogue``); /cancel
    ends that, and its closing write leaves no hold on the chat for another instance to wait
    out."""
    h = harness
    h.seed_demo()
    await start_dialogue(h)
    assert chats_in_dialogue(h.app) == {THEO.chat_id}
    assert held_updates(h) != []

    await h.command(THEO, "/cancel")

    assert chats_in_dialogue(h.app) == set()
    assert held_updates(h) == []


def held_updates(h: Harness) -> list[int]:
    """Updates of Theo's chat that hold it (a lease not yet run out)."""
    with h.database.session() as session:
        found = session.execute(
            select(InboxUpdate.update_id).where(  # type: ignore[call-overload]
                InboxUpdate.chat_id == THEO.chat_id,
                col(InboxUpdate.lease_until) >= h.clock.now(),
            )
        )
        return list(found.scalars())


async def test_an_administrator_with_more_groups_than_buttons_types_the_group(
    harness: Harness,
) -> None:
    """101 groups: more than Telegram puts under one message (100 buttons)."""
    h = harness
    for n in range(1, 102):
        await h.command(THEO, "/newgroup", f"Ward {n}")

    await h.command(THEO, "/newtask")

    assert buttons(h) == []
    assert "You have 101 groups, too many for buttons: type the group's name" in last(h)
    await h.text(THEO, "Ward 404")
    assert "Ward 404" in last(h) and "What is the task's title?" not in last(h)
    await h.text(THEO, "ward 77")
    assert "What is the task's title?" in last(h) and "Ward 77" in last(h)
