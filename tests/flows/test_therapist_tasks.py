"""Tasks after they exist: /tasks, /task, /edittask, /deletetask, /preview, /addtask."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot import texts
from bot.services.planning import replan_task
from storage.models import Answer, Delivery, Person, Question, Task
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.snapshots import snapshot
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
TOKYO = ZoneInfo("Asia/Tokyo")
ALICE, BOB = patient(0), patient(1)
PAIN_CHECK = 1  # made by pain_check_at_six
DEMO_PAIN_CHECK = 4  # the demo's "Shoulder pain check": daily x14 at 18:00, three questions
PAIN_LINE = (
    "Shoulder Therapy 1 | Shoulder pain check | today 18:00 | daily x14 | "
    "How strong was your shoulder pain today? ; scale ; >= 8 | "
    "How many minutes did you spend on your exercises? ; number ; 0-240 ; whole | "
    "Anything you want your therapist to know? ; text ; max 500 ; optional"
)


def last(h: Harness) -> str:
    return h.last_text(THEO.chat_id)


def rows(h: Harness, task_id: int) -> list[tuple[Any, ...]]:
    with h.database.session() as session:
        found = session.exec(
            select(Delivery).where(Delivery.task_id == task_id).order_by(col(Delivery.id))
        ).all()
        return [(d.id, d.person_id, d.status, d.due_at) for d in found]


def answers(h: Harness) -> list[tuple[Any, ...]]:
    return snapshot(h.database)["answers"]


async def pain_check_at_six(h: Harness) -> None:
    """Both patients get the 18:00 pain check; Alice answers it, Bob leaves it open."""
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    code = invite_code(last(h))
    await h.command(THEO, "/addtask", PAIN_LINE)
    assert last(h).startswith("Saved task #1")
    await h.command(ALICE, "/start", code)
    await h.command(BOB, "/start", code)
    h.advance(timedelta(hours=9))  # 18:00 in London
    await h.scan()
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.text(ALICE, "20")
    await h.text(ALICE, "Fine")
    assert "Done" in h.last_text(ALICE.chat_id)


async def test_editing_the_due_time_moves_pending_checkins_only(harness: Harness) -> None:
    h = harness
    await pain_check_at_six(h)
    before = rows(h, PAIN_CHECK)
    given = answers(h)
    assert [status for _, _, status, _ in before] == ["completed", "sent", "pending", "pending"]

    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    assert h.last_message(THEO.chat_id).button_texts == [
        "🕘 Due time",
        "🔁 Repetition",
        "➕ Add a question",
        "➖ Remove a question",
        "✏️ Change a question",
        "✖️ Cancel",
    ]
    await h.press(THEO, "🕘 Due time")
    await h.text(THEO, "yesterday")
    assert "Could not read" in last(h)
    await h.text(THEO, "tomorrow 19:30")
    assert "Due Thu 26 Nov 2026, 19:30 (Europe/London)." in last(h)
    assert "Next due: Thu 26 Nov 2026, 19:30 (Europe/London)." in last(h)

    after = rows(h, PAIN_CHECK)
    assert after[:2] == before[:2]  # the completed and the open check-in are untouched
    moved = datetime(2026, 11, 26, 19, 30, tzinfo=UTC)
    assert sorted((p, s, d) for _, p, s, d in after[2:]) == [
        (before[0][1], "pending", moved),
        (before[1][1], "pending", moved),
    ]
    assert answers(h) == given


async def test_editing_the_repetition_plans_again(harness: Harness) -> None:
    h = harness
    await pain_check_at_six(h)
    given = answers(h)
    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "🔁 Repetition")
    await h.press(THEO, "Every N days")
    await h.text(THEO, "2")
    await h.press(THEO, "A number of times")
    await h.text(THEO, "5")
    assert "repeats every 2 days, 5 times" in last(h)
    assert "Next due: Fri 27 Nov 2026, 18:00 (Europe/London)." in last(h)
    with h.database.session() as session:
        task = session.get(Task, PAIN_CHECK)
        assert task is not None and task.recurrence == "FREQ=DAILY;INTERVAL=2;COUNT=5"
    pending = [d for _, _, s, d in rows(h, PAIN_CHECK) if s == "pending"]
    assert pending == [datetime(2026, 11, 27, 18, 0, tzinfo=UTC)] * 2
    assert answers(h) == given


async def test_a_task_at_thirty_questions_offers_no_step_toward_a_thirty_first(
    harness: Harness,
) -> None:
    """/edittask walked a therapist through every step of a 31st question, then refused it
    at the save."""
    h = harness
    await h.command(THEO, "/newgroup", "Big")
    questions = " | ".join(f"Question {n}? ; yes_no" for n in range(1, 30))
    await h.command(THEO, "/addtask", f"Big | Long | tomorrow 10:00 | once | {questions}")
    task_id = 1
    await h.command(THEO, "/edittask", str(task_id))
    await h.press(THEO, "➕ Add a question")
    await h.text(THEO, "Question 30?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Yes / No")
    await h.press(THEO, "Required")
    await h.press(THEO, "No alert")
    assert last(h).startswith("Question 30 added")
    assert h.last_message(THEO.chat_id).button_texts == ["✅ Done – save"]
    await h.press(THEO, "✅ Done – save")
    assert "it now has 30 questions" in last(h)

    await h.command(THEO, "/edittask", str(task_id))
    await h.press(THEO, "➕ Add a question")

    assert last(h) == texts.admin_too_many_questions(30)
    await h.text(THEO, "Question 31?")  # no dialogue is waiting for it
    assert "Question 31" not in last(h)


async def test_adding_and_removing_questions_keeps_the_answers_given(harness: Harness) -> None:
    h = harness
    await pain_check_at_six(h)
    given = answers(h)
    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "➕ Add a question")
    # Numbered as it will be: the task has three (it read "Question 1").
    assert last(h).startswith("Question 4: type it as the patient should read it")
    await h.text(THEO, "Did you sleep well?")
    await h.press(THEO, "No link")
    await h.press(THEO, "Yes / No")
    await h.press(THEO, "Optional")
    await h.press(THEO, "No alert")
    assert last(h).startswith("Question 4 added:\n4. Did you sleep well?")
    await h.press(THEO, "✅ Done – save")
    assert "Added 1 question (4)" in last(h) and "it now has 4 questions" in last(h)

    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "➖ Remove a question")
    assert h.last_message(THEO.chat_id).button_texts == [
        "1. How strong was your shoulder pain today?",
        "2. How many minutes did you spend on your…",
        "3. Anything you want your therapist to kno…",
        "4. Did you sleep well?",
    ]
    await h.press(THEO, "2. How many minutes did you spend on your…")
    assert "Removed question 2" in last(h) and "3 questions left" in last(h)
    assert answers(h) == given
    with h.database.session() as session:
        questions = session.exec(
            select(Question).where(Question.task_id == PAIN_CHECK).order_by(col(Question.position))
        ).all()
        kept = session.exec(select(Answer.question_id)).all()
    assert [(q.position, q.removed_at is not None) for q in questions] == [
        (1, False),
        (2, True),
        (3, False),
        (4, False),
    ]
    assert questions[1].id in kept  # the removed question still has Alice's answer

    await h.command(THEO, "/task", str(PAIN_CHECK))
    details = last(h)
    assert "2. How many minutes did you spend on your exercises? (removed)" in details
    assert "1 completed · 1 sent, not started · 2 upcoming" in details


async def test_a_question_list_of_an_earlier_edittask_changes_nothing(harness: Harness) -> None:
    """The list of task 1's questions, left unpressed while the therapist went on to edit task
    2, removed task 2's question of that number."""
    h = harness
    await pain_check_at_six(h)
    await h.command(THEO, "/addtask", PAIN_LINE.replace("Shoulder pain check", "Knee check"))
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "➖ Remove a question")
    first_list = h.last_message(THEO.chat_id)
    await h.command(THEO, "/edittask", "2")
    await h.press(THEO, "➖ Remove a question")

    await h.press(
        THEO, "2. How many minutes did you spend on your…", message_id=first_list.message_id
    )

    with h.database.session() as session:
        removed = session.exec(select(Question).where(col(Question.removed_at).is_not(None)))
        assert removed.all() == []
    old = h.api.message(THEO.chat_id, first_list.message_id)
    assert old is not None and old.button_texts == []
    assert old.plain is not None and old.plain.endswith("This button is no longer active.")
    # Task 2's own list still works.
    await h.press(THEO, "2. How many minutes did you spend on your…")
    assert "Removed question 2 from #2" in last(h)


async def test_deleting_a_task_asks_first_and_cancels_its_checkins(harness: Harness) -> None:
    h = harness
    await pain_check_at_six(h)
    before = snapshot(h.database)
    await h.command(THEO, "/deletetask", str(PAIN_CHECK))
    assert "Delete task #1 “Shoulder pain check” of Shoulder Therapy 1?" in last(h)
    await h.press(THEO, "No, keep it")
    assert "Kept." in last(h)
    assert snapshot(h.database) == before

    await h.command(THEO, "/deletetask", str(PAIN_CHECK))
    confirm = h.last_message(THEO.chat_id).message_id
    await h.press(THEO, "🗑 Yes, delete")
    assert "Deleted task #1" in last(h)
    assert "2 upcoming check-ins and 1 open check-in cancelled; answers kept." in last(h)
    assert [s for _, _, s, _ in rows(h, PAIN_CHECK)] == ["completed", "cancelled"]
    assert answers(h) == before["answers"]

    # The same confirmation pressed again (a double tap, a forwarded message) changes nothing.
    after = snapshot(h.database)
    await h.press_data(THEO, f"td:{PAIN_CHECK}:yes", confirm)
    assert "was deleted" in last(h)
    assert snapshot(h.database) == after
    await h.command(THEO, "/tasks")
    assert "Shoulder pain check" not in last(h)

    # Nothing more goes out for it: not tomorrow's check-in, not a reminder.
    sent = len(h.api.sent_to(BOB.chat_id))
    await h.advance_and_scan(timedelta(days=1))
    assert not any(
        "Shoulder pain check" in (c.text or "") for c in h.api.sent_to(BOB.chat_id)[sent:]
    )


async def test_preview_shows_the_task_as_a_patient_sees_it_and_stores_nothing(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    before = snapshot(h.database)
    await h.command(THEO, "/preview", str(DEMO_PAIN_CHECK))
    messages = h.screen(THEO.chat_id)[-5:]
    assert messages[0].plain is not None and messages[0].plain.startswith("Preview of #4")
    prompt, first, second, third = messages[1:]
    assert prompt.button_texts == ["▶️ Start now", "⏰ Remind me later", "⏭ Skip this task"]
    assert "Question 1 of 3" in (first.plain or "")
    assert first.button_texts == [str(n) for n in range(11)]
    assert second.button_texts == []
    assert "Anything you want your therapist to know?" in (third.plain or "")
    assert {b["callback_data"] for m in messages for b in m.buttons} == {f"tp:{DEMO_PAIN_CHECK}"}
    await h.press(THEO, "7")
    assert h.callback_answers()[-1].params.get("text") == texts.admin_preview_only()
    assert snapshot(h.database) == before


async def test_the_one_line_form_lists_every_problem_and_how_to_write_it(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    before = snapshot(h.database)
    await h.command(THEO, "/addtask")
    assert last(h).startswith("Write the task in one message:")
    await h.command(
        THEO,
        "/addtask",
        "Knees | Bends | someday | daily | Pain? ; scale ; >= 12 | Side? ; choice",
    )
    reply = last(h)
    assert "There is no group “Knees”." in reply
    assert "when: Could not read" not in reply  # no group, so no zone to read the date in
    assert "question 1: The alert value must be between 0 and 10" in reply
    assert "question 2: A choice question needs its options" in reply
    assert "/addtask GROUP | TITLE | WHEN | REPEAT | QUESTION | QUESTION ..." in reply
    assert snapshot(h.database) == before


async def test_task_commands_explain_a_missing_or_unknown_id(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    for command in ("/task", "/edittask", "/deletetask", "/preview"):
        await h.command(THEO, command)
        assert last(h).startswith(f"Usage: {command} ID")
        await h.command(THEO, command, "99")
        assert last(h) == "There is no task 99. /tasks lists them with their numbers."
    await h.command(THEO, "/tasks", "Knees")
    assert last(h).startswith("There is no group “Knees”.")


async def alice_in_tokyo_and_bob_in_london(h: Harness) -> None:
    """Alice and Bob in Shoulder Therapy 1, Alice in Tokyo; then 10:30 in London, 19:30 in
    Tokyo."""
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    code = invite_code(last(h))
    await h.command(ALICE, "/start", code)
    await h.command(BOB, "/start", code)
    await h.command(ALICE, "/timezone", "Asia/Tokyo")
    h.advance(timedelta(hours=1, minutes=30))


async def test_a_once_task_whose_hour_has_passed_where_a_patient_lives_reaches_them_now(
    harness: Harness,
) -> None:
    """At 10:30 in London the therapist sets a once task for today 11:00. Alice lives in
    Tokyo, where 11:00 came eight and a half hours ago: she gets it with the next scan, late,
    not never. Bob, in London, gets his at 11:00."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)

    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 11:00 | once | Stretched? ; yes_no"
    )
    assert last(h).startswith("Saved task #1")
    await h.command(ALICE, "/tasks")
    assert "Your next check-in, Stretch, is due now." in h.last_text(ALICE.chat_id)
    await h.scan()

    assert "Stretch" in h.last_text(ALICE.chat_id)
    assert "Stretch" not in h.last_text(BOB.chat_id)
    h.advance(timedelta(minutes=30))
    await h.scan()
    assert "Stretch" in h.last_text(BOB.chat_id)
    assert sorted(status for _, _, status, _ in rows(h, 1)) == ["sent", "sent"]

    # An edit of its hour later that day sends neither of them a second one.
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "🕘 Due time")
    await h.text(THEO, "today 12:00")
    h.advance(timedelta(hours=1))
    await h.scan()
    assert sorted(status for _, _, status, _ in rows(h, 1)) == ["sent", "sent"]
    assert stretches(h, ALICE) == 1


async def test_a_once_task_a_patient_further_east_had_comes_no_second_time_on_their_next_day(
    harness: Harness,
) -> None:
    """Alice in Tokyo got the once task at 19:30 her time, late. At 15:30 in London it is
    already the next day in Tokyo when the therapist moves its hour: she had it, so nothing
    comes again; Bob, in London, gets his at the new hour."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 17:00 | once | Stretched? ; yes_no"
    )
    await h.scan()
    assert "Stretch" in h.last_text(ALICE.chat_id)

    h.advance(timedelta(hours=5))  # 15:30 in London, 00:30 the next day in Tokyo
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "🕘 Due time")
    await h.text(THEO, "today 16:00")
    await h.scan()
    h.advance(timedelta(minutes=30))
    await h.scan()

    assert stretches(h, ALICE) == 1
    assert "Stretch" in h.last_text(BOB.chat_id)


def stretch_of(h: Harness, user: Any) -> Delivery:
    """The patient's row of the once task "Stretch"."""
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Stretch")).one()
        person = session.exec(select(Person).where(Person.telegram_user_id == user.id)).one()
        return session.exec(
            select(Delivery).where(Delivery.task_id == task.id, Delivery.person_id == person.id)
        ).one()


def stretches(h: Harness, user: Any) -> int:
    """Prompts of "Stretch" on the patient's screen (its Start button still on them)."""
    return sum(
        "Stretch" in message.plain and "Start now" in str(message.reply_markup)
        for message in h.screen(user.chat_id)
    )


def stretch_seed(folder: Path, due: str, *, expiry_hours: int = 24) -> Path:
    """A seed file that gives Shoulder Therapy 1's once task "Stretch" the time ``due``."""
    path = folder / "stretch.toml"
    path.write_text(
        "[[groups]]\n"
        'name = "Shoulder Therapy 1"\n'
        'timezone = "Europe/London"\n\n'
        "[[tasks]]\n"
        'group = "Shoulder Therapy 1"\n'
        'title = "Stretch"\n'
        f'due = "{due}"\n'
        f"expiry_hours = {expiry_hours}\n\n"
        "  [[tasks.questions]]\n"
        '  text = "Stretched?"\n'
        '  type = "yes_no"\n'
    )
    return path


def eight_in_tokyo(now: datetime) -> datetime:
    """08:00 in Tokyo on the day it is there at ``now``, in UTC."""
    local = now.astimezone(TOKYO)
    return datetime.combine(local.date(), time(8), TOKYO).astimezone(UTC)


async def test_a_once_task_that_comes_late_where_a_patient_lives_waits_out_their_quiet_hours(
    harness: Harness, tmp_path: Path
) -> None:
    """At 15:30 in London the therapist sets a once task for today 16:00. In Tokyo it is 00:30,
    in the clinic's quiet hours (21:00 to 08:00), and 16:00 came there long ago: Alice gets it
    at 08:00 her time, with her whole time to answer from then, not in the night. Setting her
    zone again, the therapist moving its hour, or a seed changing its time to answer,
    meanwhile does not lose it. Bob, in London, gets his at 16:00."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)
    h.advance(timedelta(hours=5))  # 15:30 in London, 00:30 in Tokyo
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 16:00 | once | Stretched? ; yes_no"
    )
    report = await h.scan()
    morning = eight_in_tokyo(h.clock.now())
    waiting = stretch_of(h, ALICE)
    assert (waiting.status, waiting.due_at) == ("pending", morning)
    assert waiting.expires_at == morning + timedelta(minutes=1440)
    assert report.deferred == 1
    h.advance(timedelta(minutes=30))  # 16:00 in London
    await h.scan()
    assert stretches(h, BOB) == 1

    h.advance(timedelta(hours=2))  # 18:00 in London, 03:00 in Tokyo
    await h.command(ALICE, "/timezone", "Asia/Tokyo")
    await h.scan()
    assert stretch_of(h, ALICE).due_at == morning, "still owed after her zone was set again"
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "🕘 Due time")
    await h.text(THEO, "today 19:00")  # still to come in London, long past in Tokyo
    with h.database.session() as session:
        edited = session.exec(select(Task).where(Task.title == "Stretch")).one()
        assert edited.due_time == time(19), last(h)
    await h.scan()
    assert stretch_of(h, ALICE).due_at == morning, "still owed after the task was edited"
    h.advance(timedelta(hours=2))  # 20:00 in London: the task's hour is gone for the group
    report = h.seed_demo(stretch_seed(tmp_path, "today 19:00", expiry_hours=12))
    assert report.updated["tasks"] == 1
    await h.scan()
    assert stretch_of(h, ALICE).due_at == morning, "still owed after a seed changed its expiry"
    h.advance(timedelta(hours=2, minutes=59))  # 22:59 in London, 07:59 in Tokyo
    await h.scan()
    assert stretches(h, ALICE) == 0, "sent in the night"

    h.advance(timedelta(minutes=1))  # 08:00 in Tokyo
    await h.scan()
    assert stretches(h, ALICE) == 1
    assert sorted(status for _, _, status, _ in rows(h, 1)) == ["sent", "sent"], "one each"
    await h.press(ALICE, "▶️ Start now")
    assert "Stretched?" in h.last_text(ALICE.chat_id)


async def test_a_once_task_a_patient_moved_east_past_waits_out_their_quiet_hours(
    harness: Harness,
) -> None:
    """Alice and Bob, in London, have a once task at 16:00. At 15:45 Alice sets Tokyo, where
    16:00 came long ago and it is 00:45: her prompt is kept, late rather than lost, and comes
    at 08:00 her time, not at once in the night."""
    h = harness
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    code = invite_code(last(h))
    await h.command(ALICE, "/start", code)
    await h.command(BOB, "/start", code)
    h.advance(timedelta(hours=6, minutes=30))  # 15:30 in London
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 16:00 | once | Stretched? ; yes_no"
    )
    h.advance(timedelta(minutes=15))
    await h.command(ALICE, "/timezone", "Asia/Tokyo")
    told = h.last_text(ALICE.chat_id)
    assert "Your next check-in, Stretch, is due" in told and "08:00 (JST)" in told, told
    await h.scan()
    assert stretches(h, ALICE) == 0, "sent in the night"
    assert stretch_of(h, ALICE).due_at == eight_in_tokyo(h.clock.now())

    h.advance(timedelta(minutes=15))  # 16:00 in London
    await h.scan()
    assert stretches(h, BOB) == 1 and stretches(h, ALICE) == 0
    h.clock.set(eight_in_tokyo(h.clock.now()))
    await h.scan()
    assert stretches(h, ALICE) == 1


async def test_a_once_prompt_claimed_soon_after_its_hour_goes_out_in_the_quiet_hours(
    harness: Harness,
) -> None:
    """Bob's once task is at 20:45 in London; a long fan-out reaches him at 21:10, in the quiet
    hours. 25 minutes is the tail of a fan-out that began on time, not a late task: it goes
    out, at the hour the therapist chose, not the next morning."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 20:45 | once | Stretched? ; yes_no"
    )
    h.advance(timedelta(hours=10, minutes=40))  # 21:10 in London
    await h.scan()
    assert stretches(h, BOB) == 1


async def test_a_seed_moving_a_once_task_to_a_past_day_drops_a_prompt_days_ahead(
    harness: Harness,
) -> None:
    """Bob's once task is due in three days. A seed moves it to yesterday, a day gone for the
    whole group: his row stands for its own day, so it goes, and nothing is sent; only a row
    due within a day can be a late one still owed."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 16:00 | once | Stretched? ; yes_no"
    )
    now = h.clock.now()
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Stretch")).one()
        task.due_date = now.date() + timedelta(days=3)
        session.flush()
        replan_task(session, task, now, "Europe/London")
        session.commit()
    assert stretch_of(h, BOB).due_at > now + timedelta(days=2)

    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Stretch")).one()
        task.due_date = now.date() - timedelta(days=1)
        session.flush()
        replanned = replan_task(session, task, now, "Europe/London")
        session.commit()
    assert replanned.kept == 0
    await h.scan()
    assert stretches(h, BOB) == 0 and stretches(h, ALICE) == 0
    assert rows(h, 1) == []


def prompts_of_stretch(h: Harness, user: Any) -> int:
    """Prompts of "Stretch" the bot sent the patient, whatever became of them since."""
    return sum(
        "Time for your check-in" in (call.text or "") and "Stretch" in (call.text or "")
        for call in h.api.calls_of("sendMessage")
        if call.ok and call.chat_id == user.chat_id
    )


async def test_a_seed_run_again_on_a_later_day_does_not_send_a_once_task_again(
    harness: Harness, tmp_path: Path
) -> None:
    """A seed gives Bob a once task "today 11:00", and he has it. Run again the next day, the
    same file means the next day's 11:00: the task moves, but a once task comes once, so he
    gets no second one (running a seed twice changes nothing a patient sees)."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)
    seed = stretch_seed(tmp_path, "today 11:00")
    h.seed_demo(seed)
    await h.advance_and_scan(timedelta(minutes=30))
    assert prompts_of_stretch(h, BOB) == 1

    h.advance(timedelta(hours=23))  # 10:00 the next day: "today 11:00" is still to come
    report = h.seed_demo(seed)
    assert report.updated["tasks"] == 1  # the date moved on a day
    for _ in range(4):
        await h.advance_and_scan(timedelta(hours=6))
    assert prompts_of_stretch(h, BOB) == 1
    assert prompts_of_stretch(h, ALICE) == 1


async def test_a_seed_moving_a_once_task_into_the_past_sends_nothing_not_yet_due(
    harness: Harness, tmp_path: Path
) -> None:
    """At 10:30 in London Bob's once task is due at 16:00 today, within a day. A seed moves it
    to yesterday: the task is over for the whole group, as one seeded in the past would never
    be sent, so his row goes and nothing reaches him then or later. Alice, in Tokyo, where
    16:00 had come, was due her late prompt at once: a fan-out on its way, still owed."""
    h = harness
    await alice_in_tokyo_and_bob_in_london(h)
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Stretch | today 16:00 | once | Stretched? ; yes_no"
    )
    assert stretch_of(h, BOB).due_at - h.clock.now() == timedelta(hours=5, minutes=30)

    yesterday = h.clock.now().date() - timedelta(days=1)
    report = h.seed_demo(stretch_seed(tmp_path, f"{yesterday.isoformat()} 16:00"))
    assert report.updated["tasks"] == 1

    await h.scan()
    assert stretches(h, ALICE) == 1
    await h.advance_and_scan(timedelta(hours=6))  # past 16:00 in London
    assert stretches(h, BOB) == 0
    assert stretches(h, ALICE) == 1


async def test_a_patient_further_east_who_joins_after_a_once_tasks_hour_came_for_them_gets_it(
    harness: Harness,
) -> None:
    """Alice, in Tokyo, joins a second group at 10:40 in London: its once task is set for 11:00
    there, an hour that came in Tokyo long ago. She gets it with the next scan, as the group's
    patients further east did when it was set."""
    h = harness
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    await h.command(ALICE, "/start", invite_code(last(h)))
    await h.command(ALICE, "/timezone", "Asia/Tokyo")
    await h.command(THEO, "/newgroup", "Knee Therapy 1")
    await h.command(THEO, "/invite", "Knee Therapy 1")
    knee_code = invite_code(last(h))
    h.advance(timedelta(hours=1, minutes=30))  # 10:30 in London
    await h.command(
        THEO, "/addtask", "Knee Therapy 1 | Bend | today 11:00 | once | Bent? ; yes_no"
    )
    h.advance(timedelta(minutes=10))

    await h.command(ALICE, "/start", knee_code)
    await h.scan()

    assert "Bend" in h.last_text(ALICE.chat_id)


async def test_a_one_line_task_with_many_problems_gets_every_one_over_several_messages(
    harness: Harness,
) -> None:
    """Thirty faulty questions make a list longer than one Telegram message: the therapist
    still reads each problem, in order, rather than "too long to quote back"."""
    h = harness
    h.seed_demo()
    before = snapshot(h.database)
    sent_before = len(h.texts(THEO.chat_id))
    extras = [f"extra{n:02d} " + "x" * 92 for n in range(1, 31)]
    questions = " | ".join(f"P{n}? ; scale ; {extra}" for n, extra in enumerate(extras, 1))
    line = f"Shoulder Therapy 1 | Bends | tomorrow 09:00 | daily | {questions}"
    assert len(f"/addtask {line}") <= 4096  # one message, as Telegram takes it
    await h.command(THEO, "/addtask", line)
    replies = h.texts(THEO.chat_id)[sent_before:]
    assert len(replies) > 1
    assert texts.hardening_too_long_to_repeat() not in replies
    told = "\n".join(replies)
    for n, extra in enumerate(extras, 1):
        assert f"question {n}: “{extra}” is not a" in told
    assert told.index("question 9: ") < told.index("question 10: ") < told.index("question 30: ")
    assert "/addtask GROUP | TITLE | WHEN | REPEAT | QUESTION | QUESTION ..." in replies[-1]
    assert snapshot(h.database) == before
