"""'Remind me later' as the patient meets it: on a check-in they are answering, and once the
bot's own reminders are spent. Demo data as in test_checkin.py: "Perform 20 Press-Ups (day 1)"
due at 11:00 for a day, "Shoulder pain check" at 18:00 for 12 hours; reminders an hour after
the prompt, then two hours on, two at most.
"""

from __future__ import annotations

import pytest

from tests.fakes.harness import Harness, patient
from tests.flows.test_checkin_support import answers_of, at, delivery_of, local

ALICE = patient(0, "Alice")
DAY_1 = "Perform 20 Press-Ups (day 1)"
PAIN = "Shoulder pain check"
LATER = "⏰ Remind me later"


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.seed_demo()
    return harness


def message_starting(h: Harness, start: str) -> int:
    return next(m.message_id for m in h.screen(ALICE.chat_id) if (m.plain or "").startswith(start))


async def test_remind_me_later_on_a_check_in_under_way_keeps_its_question_answerable(
    h: Harness,
) -> None:
    """Started from its reminder, the check-in's first prompt still had its buttons; "Remind
    me later" there put the check-in back to sent, and the answer typed next to the question
    on screen got "No question is waiting ... send /tasks to start", thrown away."""
    await h.command(ALICE, "/start", "SHOULDER1")
    await at(h, local(18))
    prompt = message_starting(h, f"📋 Time for your check-in\n\n{PAIN}")
    await at(h, local(19))
    reminder = next(
        m.message_id
        for m in h.screen(ALICE.chat_id)
        if (m.plain or "").startswith("⏰ Reminder") and PAIN in (m.plain or "")
    )
    await h.press(ALICE, "▶️ Start now", reminder)
    await h.press(ALICE, "6")
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)

    await h.press(ALICE, LATER, prompt)

    settled = h.api.message(ALICE.chat_id, prompt)
    assert settled is not None and settled.button_texts == []
    assert (settled.plain or "").endswith(
        "⏰ OK, I'll remind you around 20:00 (GMT). You can still answer question 2 of 3 now."
    )

    await h.text(ALICE, "30")

    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [6, 30]
    assert (pain.status, pain.remind_at) == ("in_progress", local(20))
    # The reminder asked for comes at its time, to pick up where they left off.
    report = await at(h, local(20))
    assert report.reminded == 1
    assert "pick up where you left off" in h.last_text(ALICE.chat_id)


async def test_remind_me_later_on_the_last_reminder_brings_one_more(h: Harness) -> None:
    """After both reminders the last one still offers "Remind me later"; pressed, it answered
    "No more reminders will come for this one", refusing what the button offered."""
    await h.command(ALICE, "/start", "SHOULDER1")
    await at(h, local(11))
    await at(h, local(12))
    await at(h, local(14))
    day_1 = delivery_of(h, ALICE, DAY_1)
    assert (day_1.reminders_sent, day_1.remind_at) == (2, None)
    last_reminder = h.last_message(ALICE.chat_id)
    assert LATER in last_reminder.button_texts

    await h.press(ALICE, LATER, last_reminder.message_id)

    settled = h.api.message(ALICE.chat_id, last_reminder.message_id)
    assert settled is not None
    assert (settled.plain or "").endswith("⏰ OK, I'll remind you around 15:00 (GMT).")
    assert delivery_of(h, ALICE, DAY_1).remind_at == local(15)
    report = await at(h, local(15))
    assert report.reminded == 1
    assert h.last_text(ALICE.chat_id).startswith("⏰ Reminder")
    day_1 = delivery_of(h, ALICE, DAY_1)
    assert (day_1.reminders_sent, day_1.remind_at) == (3, None)
    # Only the one asked for: the bot does not start nagging again.
    assert (await at(h, local(17))).reminded == 0


async def test_remind_me_later_too_close_to_the_end_says_the_check_in_closes_first(
    h: Harness,
) -> None:
    await h.command(ALICE, "/start", "SHOULDER1")
    await at(h, local(11))
    prompt = h.last_message(ALICE.chat_id).message_id
    # Half an hour before the day's window ends: a reminder an hour on would come too late.
    h.clock.set(local(10, 30, day=26))

    await h.press(ALICE, LATER, prompt)

    settled = h.api.message(ALICE.chat_id, prompt)
    assert settled is not None
    assert (settled.plain or "").endswith(
        "⏰ OK. This check-in closes at Thu 26 Nov, 11:00 (GMT), before a reminder could "
        "come. Send /tasks when you are ready."
    )
