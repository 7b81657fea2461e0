"""The patient's side through the real Application and the fake Bot API, with the demo data.

The demo clock starts on Wednesday 25 November 2026 at 09:00 in London (UTC). The demo has
"Perform 20 Press-Ups (day 1)" due at 11:00 and "Shoulder pain check" daily at 18:00 for
Shoulder Therapy 1 (invite SHOULDER1), and "Hip mobility session" at 10:00 for Hip Therapy 1
(invite HIP1).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot import scheduler, texts
from storage.models import Delivery, Invite, Membership, Person
from tests.fakes.harness import DEMO_SEED, Harness, patient, therapist
from tests.flows.test_checkin_support import (
    answers_of,
    at,
    deliveries_of,
    delivery_of,
    hold_sends,
    local,
    person_of,
)

ALICE = patient(0, "Alice")
BOB = patient(1, "Bob")
THEO = therapist()
DAY_1 = "Perform 20 Press-Ups (day 1)"
PAIN = "Shoulder pain check"
HIP = "Hip mobility session"
START = "▶️ Start now"
SKIP_QUESTION = "⏭ Skip this question"


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.seed_demo()
    return harness


async def joined(h: Harness, *codes: str) -> None:
    for code in codes:
        await h.command(ALICE, "/start", code)


def toasts(h: Harness) -> list[str | None]:
    return [call.params.get("text") for call in h.callback_answers()]


# --- joining ----------------------------------------------------------------------------------


async def test_start_alone_explains_how_to_join(h: Harness) -> None:
    await h.command(ALICE, "/start")

    assert "open the invite link your therapist gave you" in h.last_text(ALICE.chat_id)
    assert person_of(h, ALICE) is None


async def test_joining_names_the_group_and_the_next_task_in_local_time(h: Harness) -> None:
    await h.command(ALICE, "/start", "SHOULDER1")

    reply = h.last_text(ALICE.chat_id)
    assert reply.startswith("✅ Welcome! You have joined Shoulder Therapy 1.")
    assert f"Your next check-in, {DAY_1}, is due Wed 25 Nov, 11:00 (GMT)." in reply
    person = person_of(h, ALICE)
    assert person is not None and (person.display_name, person.chat_id) == ("Alice Test", ALICE.id)
    assert (person.first_name, person.last_name, person.language_code) == ("Alice", "Test", "en")


async def test_a_patient_in_two_groups_is_greeted_with_both(h: Harness) -> None:
    await joined(h, "SHOULDER1", "HIP1")

    await h.command(ALICE, "/start")

    reply = h.last_text(ALICE.chat_id)
    assert "You are in Shoulder Therapy 1, Hip Therapy 1." in reply
    assert f"Your next check-in, {HIP}, is due Wed 25 Nov, 10:00 (GMT)." in reply


@pytest.mark.parametrize(
    ("prepare", "sentence"),
    [
        (None, "I don't know that invite code."),
        ({"expires_at": datetime(2026, 11, 24, tzinfo=UTC)}, "That invite link has expired."),
        ({"max_uses": 1, "uses": 1}, "That invite link has already been used as often as it may"),
        (
            {"revoked_at": datetime(2026, 11, 24, tzinfo=UTC)},
            "That invite link has been withdrawn",
        ),
    ],
    ids=["unknown", "expired", "used-up", "revoked"],
)
async def test_a_bad_invite_gets_a_clear_sentence_and_changes_nothing(
    h: Harness, prepare: dict[str, object] | None, sentence: str
) -> None:
    code = "NO_SUCH_CODE" if prepare is None else "SHOULDER1"
    if prepare is not None:
        with h.database.session() as session:
            invite = session.exec(select(Invite).where(Invite.code == "SHOULDER1")).one()
            for key, value in prepare.items():
                setattr(invite, key, value)
            session.commit()

    await h.command(ALICE, "/start", code)

    reply = h.last_text(ALICE.chat_id)
    assert sentence in reply and "Nothing has changed." in reply
    assert person_of(h, ALICE) is None


async def test_the_last_use_of_an_invite_admits_one_patient(h: Harness) -> None:
    with h.database.session() as session:
        session.exec(select(Invite).where(Invite.code == "HIP1")).one().max_uses = 1
        session.commit()

    await h.command(ALICE, "/start", "HIP1")
    await h.command(BOB, "/start", "HIP1")

    assert h.last_text(ALICE.chat_id).startswith("✅ Welcome!")
    assert "already been used as often as it may be" in h.last_text(BOB.chat_id)


# --- the walk-through -------------------------------------------------------------------------


async def test_a_pressed_answer_replaces_the_keyboard_with_the_chosen_answer(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    question = h.last_message(ALICE.chat_id)
    assert question.button_texts == ["Yes", "No"]
    assert question.plain is not None and "Question 1 of 3" in question.plain
    assert any(e.get("url") for e in _entities(h, question.message_id))

    await h.press(ALICE, "Yes")

    answered = h.api.message(ALICE.chat_id, question.message_id)
    assert answered is not None and answered.edited and answered.button_texts == []
    assert answered.plain is not None and answered.plain.endswith("✔️ Your answer: Yes")
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)
    assert toasts(h) == [None, None]


async def test_a_stale_button_is_refused_politely_and_changes_nothing(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    question = h.last_message(ALICE.chat_id)
    old_no = question.callback_data("No")
    await h.press(ALICE, "Yes")
    sent_before = len(h.texts(ALICE.chat_id))

    # The client still showed the keyboard (a slow network): the press arrives afterwards.
    await h.press_data(ALICE, old_no, question.message_id)

    assert toasts(h)[-1] == "Your answer is already recorded."
    assert len(h.texts(ALICE.chat_id)) == sent_before
    day_1 = delivery_of(h, ALICE, DAY_1)
    assert [a.value_bool for a in answers_of(h, day_1.id)] == [True]


async def test_the_same_button_update_twice_is_handled_once(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    press = await h.press(ALICE, "No")
    messages_before = len(h.api.calls_of("sendMessage"))

    await h.again(press)

    assert len(h.api.calls_of("sendMessage")) == messages_before
    # The inbox knows the update_id: the repeat is not handled, so the query is not answered
    # a second time (Telegram would refuse that as too old).
    assert len(h.api.calls_of("answerCallbackQuery")) == 2  # start, the press
    day_1 = delivery_of(h, ALICE, DAY_1)
    assert [a.value_bool for a in answers_of(h, day_1.id)] == [False]
    # One alert for the one "No", to the configured therapist.
    assert len(h.texts(THEO.chat_id)) == 1


async def test_the_same_text_update_twice_stores_one_answer_and_replies_once(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)
    await h.text(ALICE, "4")
    minutes = await h.text(ALICE, "30")
    sent_before = len(h.texts(ALICE.chat_id))

    await h.again(minutes)

    assert len(h.texts(ALICE.chat_id)) == sent_before
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
    assert "Question 3 of 3" in h.texts(ALICE.chat_id)[-1]


async def both_at_the_first_question(h: Harness) -> None:
    """Alice and Bob each at question 1 of the pain check, this instance alone on its database
    (a listener an earlier test left on PostgreSQL would count as another instance)."""
    scheduler.state(h.app).replies.enabled = False
    await joined(h, "SHOULDER1")
    await h.command(BOB, "/start", "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)
    await h.press(BOB, START)


async def test_a_reply_slow_to_reach_one_patient_holds_up_no_other_patient(h: Harness) -> None:
    """The updates of one batch are handled side by side, each of another chat: while
    Telegram is slow to take Alice's next question, Bob's answer from the same batch is
    stored and his next question goes out."""
    await both_at_the_first_question(h)
    assert not scheduler.state(h.app).pacer.sharing()
    h.api.slow_down(ALICE.chat_id, 1.0)
    before = len(h.api.calls)

    await h.deliver(h.updates.message(ALICE, "4"), h.updates.message(BOB, "5"))
    h.api.slow_down(ALICE.chat_id, 0)

    questions = [c.chat_id for c in h.new_calls(before) if c.method == "sendMessage"]
    assert questions == [BOB.chat_id, ALICE.chat_id], "Bob's question waited for Alice's"
    for user, value in ((ALICE, 4.0), (BOB, 5.0)):
        assert [a.value_number for a in answers_of(h, delivery_of(h, user, PAIN).id)] == [value]
        assert "Question 2 of 3" in h.texts(user.chat_id)[-1]


async def test_while_another_instance_shares_the_budget_updates_go_one_at_a_time(
    h: Harness,
) -> None:
    """Beside another instance, a place freed in Telegram's window is seen by every instance
    at once: each hands it to one reply at a time, so the batch is handled in order."""
    await both_at_the_first_question(h)
    scheduler.state(h.app).pacer.shared = True  # as when another instance listens
    h.api.slow_down(ALICE.chat_id, 0.2)
    before = len(h.api.calls)

    await h.deliver(h.updates.message(ALICE, "4"), h.updates.message(BOB, "5"))
    h.api.slow_down(ALICE.chat_id, 0)

    questions = [c.chat_id for c in h.new_calls(before) if c.method == "sendMessage"]
    assert questions == [ALICE.chat_id, BOB.chat_id]
    for user in (ALICE, BOB):
        assert "Question 2 of 3" in h.texts(user.chat_id)[-1]


async def test_sharing_that_begins_during_a_batch_holds_the_rest_of_it_to_one_at_a_time(
    h: Harness,
) -> None:
    """Six answers in one batch: four are handled side by side, alone on the database; another
    instance begins to listen while Telegram holds their replies, and the two updates left
    then go one at a time (the worker asks before each update, not once a batch)."""
    scheduler.state(h.app).replies.enabled = False
    people = [patient(n) for n in range(6)]
    for person in people:
        await h.command(person, "/start", "SHOULDER1")
    await at(h, local(18))
    for person in people:
        await h.press(person, START)
    first_four, fifth, sixth = people[:4], people[4], people[5]
    for person in first_four:
        h.api.slow_down(person.chat_id, 0.4)
    h.api.slow_down(fifth.chat_id, 0.2)  # side by side, the sixth's question would pass it
    pacer = scheduler.state(h.app).pacer
    assert not pacer.sharing()
    before = len(h.api.calls)

    async def another_instance_begins_to_listen() -> None:
        await asyncio.sleep(0.1)  # the first four replies are held at Telegram until 0.4 s
        pacer.shared = True

    listening = asyncio.create_task(another_instance_begins_to_listen())
    await h.deliver(*(h.updates.message(person, "4") for person in people))
    await listening
    for person in people:
        h.api.slow_down(person.chat_id, 0)

    questions = [c.chat_id for c in h.new_calls(before) if c.method == "sendMessage"]
    assert questions[4:] == [fifth.chat_id, sixth.chat_id], "the sixth waited for the fifth"
    for person in people:
        assert "Question 2 of 3" in h.texts(person.chat_id)[-1], person.first_name


async def test_a_forged_callback_is_refused_and_changes_nothing(h: Harness) -> None:
    await h.command(ALICE, "/start", "SHOULDER1")
    await h.command(BOB, "/start", "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    alices = delivery_of(h, ALICE, DAY_1)
    question = h.last_message(ALICE.chat_id)
    forged = question.callback_data("No")

    # Bob crafts Alice's callback data under a message of his own chat.
    await h.press_data(BOB, forged, h.last_message(BOB.chat_id).message_id)
    await h.press_data(BOB, f"p:{alices.id}:skip", h.last_message(BOB.chat_id).message_id)
    await h.press_data(BOB, "a:not:a:number", h.last_message(BOB.chat_id).message_id)
    await h.press_data(BOB, "zz:1", h.last_message(BOB.chat_id).message_id)

    assert toasts(h)[-4:] == ["This button doesn't work any more."] * 4
    assert answers_of(h, alices.id) == []
    assert delivery_of(h, ALICE, DAY_1).status == "in_progress"


async def test_each_kind_of_wrong_message_gets_a_sensible_answer(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)

    await h.sticker(ALICE)
    assert h.last_text(ALICE.chat_id).startswith("That was a sticker. Please tap")
    await h.voice(ALICE)
    assert h.last_text(ALICE.chat_id).startswith("That was a voice message.")
    await h.photo(ALICE)
    assert h.last_text(ALICE.chat_id).startswith("That was a photo.")
    await h.text(ALICE, "12")
    assert h.last_text(ALICE.chat_id) == (
        "That is above 10; please tap or type a whole number from 0 to 10.\n"
        + texts.checkin_stuck()
    )
    await h.text(ALICE, "3")
    # Each re-ask names what was wrong with the number.
    await h.text(ALICE, "12.5")
    assert h.last_text(ALICE.chat_id) == (
        "Only whole numbers here, without decimals; please send a whole number from 0 to 240."
    )
    await h.text(ALICE, "twenty")
    assert h.last_text(ALICE.chat_id) == "Please type the number with digits, for example 20."
    await h.text(ALICE, "-5")
    assert h.last_text(ALICE.chat_id) == (
        "That is below 0; please send a whole number from 0 to 240.\n" + texts.checkin_stuck()
    )
    await h.text(ALICE, "300")
    assert h.last_text(ALICE.chat_id).startswith("That is above 240; please send a whole number")
    await h.document(ALICE)
    assert h.last_text(ALICE.chat_id).startswith("That was a document. Please type a")


async def test_an_optional_question_offers_skip_after_repeated_failures(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)
    await h.text(ALICE, "3")
    await h.text(ALICE, "15")
    for _ in range(h.settings.checkins.max_reasks):
        await h.sticker(ALICE)

    offer = h.last_message(ALICE.chat_id)
    assert offer.plain is not None
    assert offer.plain.endswith(texts.checkin_offer_skip())
    assert offer.button_texts == [SKIP_QUESTION]
    await h.press(ALICE, SKIP_QUESTION)

    assert any(text.startswith(f"✅ Done: {PAIN}") for text in h.texts(ALICE.chat_id))
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.skipped for a in answers_of(h, pain.id)] == [False, False, True]


async def test_a_restarted_bot_continues_at_the_same_question(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)
    await h.press(ALICE, "2")

    await h.restart()
    await h.text(ALICE, "45")

    assert "Question 3 of 3 (optional)" in h.last_text(ALICE.chat_id)
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [2.0, 45.0]


async def test_an_edited_message_changes_no_stored_answer(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)
    await h.press(ALICE, "5")
    minutes = await h.text(ALICE, "20")

    await h.edit(ALICE, "25", minutes["message"]["message_id"])

    assert h.last_text(ALICE.chat_id) == texts.checkin_edit_ignored()
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [5.0, 20.0]


async def test_an_expired_prompt_says_the_check_in_has_closed(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    prompt = h.last_message(ALICE.chat_id)
    h.clock.set(local(11, 30, day=26))

    await h.press_data(ALICE, prompt.callback_data(START), prompt.message_id)

    assert toasts(h)[-1] == "This check-in has closed."


async def test_an_answer_typed_after_the_check_in_expired_is_told_it_came_too_late(
    h: Harness,
) -> None:
    """The question still on the screen, the check-in expired: "No question is waiting for an
    answer right now" contradicted what the patient was looking at."""
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    await h.press(ALICE, "Yes")
    h.clock.set(local(11, 30, day=26))
    await h.scan()
    assert delivery_of(h, ALICE, DAY_1).status == "expired"

    await h.text(ALICE, "yes")

    assert h.last_text(ALICE.chat_id) == texts.checkin_closed()
    # A day on, the closed check-in is no longer what the patient is answering.
    h.clock.set(local(12, 0, day=27))
    await h.text(ALICE, "yes")
    assert h.last_text(ALICE.chat_id).startswith("No question is waiting for an answer right now")


async def test_messages_in_groups_and_channels_are_ignored(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    calls_before = len(h.api.calls)

    await h.feed(h.updates.group_message(ALICE, "/start SHOULDER1"))
    await h.feed(h.updates.group_message(ALICE, "yes"))
    await h.feed(h.updates.channel_post("hello"))

    assert h.api.calls[calls_before:] == []


async def test_text_with_no_question_open_points_to_tasks_and_help(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await h.text(ALICE, "hello")
    assert h.last_text(ALICE.chat_id) == texts.checkin_nothing_asked(0)

    await h.text(BOB, "hello")
    assert "open the invite link your therapist gave you" in h.last_text(BOB.chat_id)

    await h.command(ALICE, "/frobnicate")
    assert h.last_text(ALICE.chat_id) == texts.checkin_unknown_command()


# --- several tasks, later, skip, pause --------------------------------------------------------


async def test_a_task_due_while_inside_another_waits_and_is_offered_afterwards(
    h: Harness,
) -> None:
    await joined(h, "HIP1", "SHOULDER1")
    await at(h, local(10))
    h.clock.set(local(10, 30))
    await h.press(ALICE, START)
    await h.press(ALICE, "Yes")

    report = await at(h, local(11))

    assert report.held == 1
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)
    await h.press(ALICE, "Left")
    await h.press(ALICE, SKIP_QUESTION)
    chat = h.texts(ALICE.chat_id)
    assert chat[-2].startswith(f"✅ Done: {HIP}")
    assert chat[-1].startswith("📋 Time for your check-in") and DAY_1 in chat[-1]
    offered = delivery_of(h, ALICE, DAY_1)
    assert offered.prompt_message_id == h.last_message(ALICE.chat_id).message_id
    assert offered.remind_at == local(12)
    await h.press(ALICE, START)
    assert "Question 1 of 3" in h.last_text(ALICE.chat_id)


async def test_starting_another_task_puts_the_current_one_on_hold(h: Harness) -> None:
    await joined(h, "HIP1", "SHOULDER1")
    await at(h, local(10))
    hip_prompt = h.last_message(ALICE.chat_id)
    await at(h, local(11))
    day_1_prompt = next(
        m
        for m in h.screen(ALICE.chat_id)
        if (m.plain or "").startswith(f"📋 Time for your check-in\n\n{DAY_1}")
    )
    await h.press(ALICE, START, day_1_prompt.message_id)
    await h.press(ALICE, "Yes")

    await h.press(ALICE, START, hip_prompt.message_id)

    reply = h.last_text(ALICE.chat_id)
    assert reply.startswith(f"⏸ I've put {DAY_1} on hold; /tasks brings it back.")
    assert "Question 1 of 3" in reply
    await h.command(ALICE, "/tasks")
    listing = h.last_message(ALICE.chat_id)
    assert listing.button_texts == [
        f"▶️ Continue: {HIP}",
        "▶️ Continue: Perform 20 Press-Ups (day 1)",
    ]


async def test_pause_and_tasks_resume_at_the_same_question(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)
    await h.press(ALICE, "6")

    await h.command(ALICE, "/pause")
    assert h.last_text(ALICE.chat_id) == (
        f"⏸ Paused {PAIN} at question 2 of 3. Send /tasks when you want to continue."
    )
    await h.text(ALICE, "30")
    # Day 1's prompt went out at 18:00 as well, so two check-ins are open.
    assert h.last_text(ALICE.chat_id) == texts.checkin_nothing_asked(2)
    await h.command(ALICE, "/tasks")
    assert "1 of 3 answered" in h.last_text(ALICE.chat_id)
    await h.press(ALICE, f"▶️ Continue: {PAIN}")

    resumed = h.last_text(ALICE.chat_id)
    assert resumed.startswith(f"▶️ Continuing {PAIN} where you left off.")
    assert "Question 2 of 3" in resumed
    await h.text(ALICE, "30")
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)


async def test_cancel_pauses_like_pause(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, START)

    await h.command(ALICE, "/cancel")

    assert h.last_text(ALICE.chat_id).startswith(f"⏸ Paused {PAIN} at question 1 of 3.")
    assert delivery_of(h, ALICE, PAIN).status == "sent"


async def test_tasks_with_nothing_open_says_when_the_next_is_due(h: Harness) -> None:
    await joined(h, "SHOULDER1")

    await h.command(ALICE, "/tasks")

    assert h.last_text(ALICE.chat_id) == (
        "Nothing is open right now. 🎉\n\n"
        f"Your next check-in, {DAY_1}, is due Wed 25 Nov, 11:00 (GMT)."
    )


async def test_remind_me_later_edits_the_prompt_and_a_reminder_follows(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    prompt = h.last_message(ALICE.chat_id)

    await h.press(ALICE, "⏰ Remind me later")

    settled = h.api.message(ALICE.chat_id, prompt.message_id)
    assert settled is not None and settled.button_texts == []
    assert settled.plain is not None
    assert settled.plain.endswith("⏰ OK, I'll remind you around 12:00 (GMT).")
    report = await at(h, local(12))
    assert report.reminded == 1
    assert h.last_text(ALICE.chat_id).startswith("⏰ Reminder")


async def test_skipping_a_task_from_its_prompt_ends_it(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))

    await h.press(ALICE, "⏭ Skip this task")

    prompt = h.last_message(ALICE.chat_id)
    assert prompt.plain is not None and prompt.plain.endswith("⏭ You skipped this check-in.")
    assert prompt.button_texts == []
    day_1 = delivery_of(h, ALICE, DAY_1)
    assert (day_1.status, day_1.remind_at) == ("skipped", None)


async def test_skipping_a_check_in_with_answers_asks_first(h: Harness) -> None:
    """A tap on Skip under an old prompt ended a check-in half answered, for good."""
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    prompt = h.last_message(ALICE.chat_id)
    await h.press(ALICE, START)
    await h.press(ALICE, "Yes")

    await h.press(ALICE, "⏭ Skip this task", prompt.message_id)

    asked = h.last_message(ALICE.chat_id)
    assert asked.plain == (
        f"You have answered 1 of 3 questions of {DAY_1}. Skip the rest? Your answers so far "
        "stay saved; the rest cannot be answered afterwards."
    )
    assert asked.button_texts == ["⏭ Yes, skip the rest", "▶️ No, carry on"]
    assert delivery_of(h, ALICE, DAY_1).status == "in_progress"

    await h.press(ALICE, "▶️ No, carry on", asked.message_id)
    assert h.api.message(ALICE.chat_id, asked.message_id).button_texts == []
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)

    await h.press(ALICE, "⏭ Skip this task", prompt.message_id)
    await h.press(ALICE, "⏭ Yes, skip the rest")

    day_1 = delivery_of(h, ALICE, DAY_1)
    assert (day_1.status, day_1.remind_at) == ("skipped", None)
    for message_id in (prompt.message_id, h.last_message(ALICE.chat_id).message_id):
        settled = h.api.message(ALICE.chat_id, message_id)
        assert settled.plain is not None and settled.plain.endswith("⏭ You skipped this check-in.")
        assert settled.button_texts == []


async def test_the_summary_of_a_long_check_in_comes_in_parts_within_telegrams_limit(
    h: Harness, tmp_path: Path
) -> None:
    """Thirty long answers make a summary past Telegram's 4,096 characters: refused whole, it
    left the patient told that nothing was saved, with everything saved."""
    questions = "".join(
        f"""
  [[tasks.questions]]
  text = "Question {n}: how did the exercise of this part of the programme feel to you today?"
  type = "text"
"""
        for n in range(1, 31)
    )
    seed = tmp_path / "long.toml"
    seed.write_text(
        f"""
[[groups]]
name = "Long"
timezone = "Europe/London"
invite = "LONGCODE1"

[[tasks]]
group = "Long"
title = "Long review"
due = "today 10:00"
repeat = "once"
{questions}""",
        encoding="utf-8",
    )
    h.seed_demo(seed)
    await h.command(ALICE, "/start", "LONGCODE1")
    await at(h, local(10))
    await h.press(ALICE, "▶️ Start now")
    for n in range(1, 31):
        h.advance(timedelta(seconds=20))  # a patient's pace, not a flood
        await h.text(ALICE, f"Answer {n}: " + "it went well, a little stiff at first, " * 4)

    parts = h.texts(ALICE.chat_id)[-2:]
    assert parts[0].startswith("✅ Done")
    assert "Question 30" in parts[1] and "Question 1:" not in parts[1]
    assert all(len(part) <= 4096 for part in parts)
    assert delivery_of(h, ALICE, "Long review").status == "completed"
    assert [c.description for c in h.api.calls if c.status != 200] == []


async def test_a_check_in_offered_again_closes_every_message_of_it_when_done(h: Harness) -> None:
    """The pain check's 18:00 prompt is ignored while Alice does the press-ups; finishing them
    offers it again, and she does it from that offer: the offer kept its live buttons."""
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    first_prompt = h.last_message(ALICE.chat_id)
    assert PAIN in (first_prompt.plain or "")
    await h.press(ALICE, "▶️ Start now", first_prompt.message_id - 1)  # the press-ups' prompt
    for _ in range(3):
        await h.press(ALICE, "Yes")
    offer = h.last_message(ALICE.chat_id)
    assert PAIN in (offer.plain or "") and offer.message_id != first_prompt.message_id

    await h.press(ALICE, "▶️ Start now", offer.message_id)
    await h.press(ALICE, "3")
    await h.text(ALICE, "20")
    await h.text(ALICE, "Fine")
    assert delivery_of(h, ALICE, PAIN).status == "completed"

    for message_id in (first_prompt.message_id, offer.message_id):
        shown = h.api.message(ALICE.chat_id, message_id)
        assert shown is not None and shown.button_texts == [], shown.plain
        assert (shown.plain or "").endswith("✅ Completed")


async def test_a_reply_to_an_earlier_question_is_not_taken_for_the_current_one(
    h: Harness,
) -> None:
    """On the minutes question Alice swipes to reply to the pain question above it, "sorry,
    I meant 4": stored as her minutes, it was wrong without a word."""
    await joined(h, "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, "▶️ Start now")
    pain_question = h.last_message(ALICE.chat_id)
    await h.press(ALICE, "3")
    minutes_question = h.last_message(ALICE.chat_id)
    assert "How many minutes" in (minutes_question.plain or "")

    await h.text(ALICE, "sorry, I meant 4", reply_to=pain_question.message_id)

    assert h.last_text(ALICE.chat_id).startswith(
        "You replied to an earlier message, so I did not take that as the answer to this question."
    )
    pain_check = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain_check.id)] == [3.0]
    # A reply to the question itself is its answer, as a plain message is.
    await h.text(ALICE, "20", reply_to=minutes_question.message_id)
    assert [a.value_number for a in answers_of(h, pain_check.id)] == [3.0, 20.0]


async def test_a_held_prompt_offered_at_a_pause_is_not_sent_again_by_the_next_scan(
    h: Harness,
) -> None:
    """Alice starts the press-ups at 17:55; the 18:00 pain check waits behind them. She pauses
    at 18:01 and is offered it; the scan a minute later took it for a forgotten held prompt
    and sent it a second time."""
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    h.clock.set(local(17, 55))
    await h.press(ALICE, "▶️ Start now")
    await at(h, local(18))
    assert sum(PAIN in text for text in h.texts(ALICE.chat_id)) == 0, "held"

    # Telegram holds the offer's request while a scan runs: the offer is not recorded yet.
    offering, let_through = asyncio.Event(), asyncio.Event()
    plain = h.api.do_request

    async def holding_the_offer(url: str, method: str, *args: object, **kwargs: object) -> object:
        data = args[0] if args else kwargs.get("request_data")
        text = str(getattr(data, "parameters", {}).get("text", ""))
        if url.endswith("/sendMessage") and PAIN in text and not offering.is_set():
            offering.set()
            await let_through.wait()
        return await plain(url, method, *args, **kwargs)  # type: ignore[arg-type]

    h.api.do_request = holding_the_offer  # type: ignore[method-assign]
    h.clock.set(local(18, 1))
    pausing = asyncio.create_task(h.command(ALICE, "/pause"))
    await asyncio.wait_for(offering.wait(), 10)
    await at(h, local(18, 2))
    let_through.set()
    await asyncio.wait_for(pausing, 10)
    await at(h, local(18, 30))

    assert sum(PAIN in text for text in h.texts(ALICE.chat_id)) == 1


# --- time zone, stop, delete ------------------------------------------------------------------


async def test_timezone_shows_the_zone_and_a_button_sets_another(h: Harness) -> None:
    await joined(h, "SHOULDER1")

    await h.command(ALICE, "/timezone")
    shown = h.last_message(ALICE.chat_id)
    assert shown.plain is not None
    assert shown.plain.startswith(
        "🌍 Your time zone (your clinic's setting until you choose one): Europe/London; "
        "it is 09:00 there now."
    )
    assert shown.button_texts == ["Europe/Berlin", "America/New_York"]
    await h.press(ALICE, "Europe/Berlin")

    changed = h.api.message(ALICE.chat_id, shown.message_id)
    assert changed is not None and changed.button_texts == []
    assert changed.plain is not None
    assert changed.plain.startswith("🌍 Your time zone is now Europe/Berlin; it is 10:00 there.")
    # Day 1 is due at 11:00 in Berlin now: 10:00 UTC.
    assert f"{DAY_1}, is due Wed 25 Nov, 11:00 (CET)." in changed.plain
    assert [d.due_at for d in deliveries_of(h, ALICE, DAY_1)] == [local(10)]


async def test_timezone_with_a_name_sets_it_or_explains_the_mistake(h: Harness) -> None:
    await joined(h, "SHOULDER1")

    await h.command(ALICE, "/timezone", "Mars/Olympus")
    assert h.last_text(ALICE.chat_id).startswith("“Mars/Olympus” isn't a time zone name I know.")
    await h.command(ALICE, "/timezone", "america/new_york")

    assert "now America/New_York" in h.last_text(ALICE.chat_id)
    person = person_of(h, ALICE)
    assert person is not None and person.timezone == "America/New_York"


async def test_a_check_in_whose_hour_passed_in_the_new_zone_still_comes_that_day(
    h: Harness,
) -> None:
    await joined(h, "SHOULDER1")
    # 10:30 UTC: day 1 is due at 11:00 in London, and 11:00 in Berlin was 10:00 UTC.
    h.clock.set(local(10, 30))

    await h.command(ALICE, "/timezone", "europe/berlin")

    # Due as of 11:00 in Berlin, so it goes out with the next scan, not tomorrow.
    assert f"{DAY_1}, is due now." in h.last_text(ALICE.chat_id)  # 11:00 there has gone by
    await h.scan()
    assert DAY_1 in h.last_text(ALICE.chat_id)
    assert [(d.due_at, d.status) for d in deliveries_of(h, ALICE, DAY_1)] == [(local(10), "sent")]


async def test_a_seed_that_moves_a_group_to_another_zone_moves_its_patients_check_ins(
    h: Harness, tmp_path: Path
) -> None:
    """At 10:00 UTC the seed moves Shoulder Therapy 1 from London to New York. Alice, who has
    no zone of her own, gets the day's pain check at 18:00 in New York, and only then: not at
    18:00 in London as planned before, with New York's after it."""
    await joined(h, "SHOULDER1")
    h.clock.set(local(10))
    demo = DEMO_SEED.read_text(encoding="utf-8")
    london = 'name = "Shoulder Therapy 1"\ntimezone = "Europe/London"'
    assert london in demo
    moved = tmp_path / "moved.toml"
    moved.write_text(demo.replace(london, london.replace("Europe/London", "America/New_York")))

    h.seed_demo(moved)

    for hour in (11, 16, 18, 23):
        await at(h, local(hour, 5))
    assert [d.due_at for d in deliveries_of(h, ALICE, PAIN) if d.status != "pending"] == [
        local(23)  # 18:00 in New York
    ]
    assert [d.due_at for d in deliveries_of(h, ALICE, DAY_1)] == [local(16)]  # 11:00 there


async def test_stop_after_confirmation_ends_prompts_until_start(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await h.command(ALICE, "/stop")
    assert h.last_message(ALICE.chat_id).button_texts == ["Yes, stop", "No, keep them"]

    await h.press(ALICE, "Yes, stop")

    assert h.last_text(ALICE.chat_id) == texts.checkin_stopped()
    sent_before = len(h.texts(ALICE.chat_id))
    await at(h, local(11, 5))
    assert len(h.texts(ALICE.chat_id)) == sent_before
    await h.command(ALICE, "/start")
    reply = h.last_text(ALICE.chat_id)
    assert reply.startswith("🔔 Check-ins are on again.")
    assert f"{PAIN}, is due Wed 25 Nov, 18:00 (GMT)" in reply


async def test_stop_while_the_prompt_is_on_its_way_ends_that_check_in_too(h: Harness) -> None:
    """The scan has claimed Alice's 11:00 prompt and Telegram holds its request when she
    stops: the prompt arrives, but its check-in is over, and the scan's housekeeping edits
    it to say so at once."""
    await joined(h, "SHOULDER1")
    on_its_way, let_through = hold_sends(h, first_only=True)
    scanning = asyncio.create_task(at(h, local(11)))
    await asyncio.wait_for(on_its_way.wait(), 10)
    await h.command(ALICE, "/stop")
    await h.press(ALICE, "Yes, stop")
    assert h.last_text(ALICE.chat_id) == texts.checkin_stopped()
    let_through.set()
    await asyncio.wait_for(scanning, 10)

    assert delivery_of(h, ALICE, DAY_1).status == "cancelled"
    prompt = h.last_message(ALICE.chat_id)
    assert prompt.plain is not None and prompt.plain.startswith("📋 Time for your check-in")
    assert prompt.plain.endswith("✖️ Cancelled: no answer needed any more")
    assert prompt.button_texts == []


async def test_a_patient_who_blocked_the_bot_gets_prompts_again_after_start(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    h.api.block(ALICE.chat_id)
    await at(h, local(11))
    person = person_of(h, ALICE)
    assert person is not None and person.unreachable
    assert {d.status for d in deliveries_of(h, ALICE)} == {"failed"}, "the series stopped"

    h.api.unblock(ALICE.chat_id)
    await h.command(ALICE, "/start")

    person = person_of(h, ALICE)
    assert person is not None and not person.unreachable
    assert f"{PAIN}, is due Wed 25 Nov, 18:00 (GMT)" in h.last_text(ALICE.chat_id)
    await at(h, local(18))
    assert h.last_message(ALICE.chat_id).button_texts[0] == START


async def test_a_reminder_for_a_paused_check_in_offers_to_continue(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    await h.press(ALICE, "Yes")
    await h.command(ALICE, "/pause")

    await at(h, local(13))

    reminder = h.last_message(ALICE.chat_id)
    assert (reminder.plain or "").startswith("⏰ Reminder")
    assert reminder.button_texts[0] == "▶️ Continue"


async def test_stop_answered_no_changes_nothing(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await h.command(ALICE, "/stop")

    await h.press(ALICE, "No, keep them")

    assert h.last_text(ALICE.chat_id) == texts.checkin_stop_kept()
    person = person_of(h, ALICE)
    assert person is not None and not person.opted_out


async def test_deletemydata_after_confirmation_erases_the_patients_data(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    await h.press(ALICE, "Yes")
    await h.command(ALICE, "/deletemydata")

    await h.press(ALICE, "Yes, delete everything")

    assert h.last_text(ALICE.chat_id) == texts.checkin_deleted()
    assert person_of(h, ALICE) is None, "no row holds Alice's Telegram id any more"
    with h.database.session() as session:
        person = session.exec(select(Person).where(col(Person.data_deleted_at).is_not(None))).one()
    assert person.data_deleted_at == local(11)
    assert (person.first_name, person.last_name, person.chat_id) == ("", "", None)
    with h.database.session() as session:
        assert session.exec(select(Delivery).where(Delivery.person_id == person.id)).all() == []
        marks = session.exec(select(Membership).where(Membership.person_id == person.id)).all()
        assert [m.role for m in marks] == ["erased"], "only a content-free marker stays"
    await h.command(ALICE, "/tasks")
    assert "open the invite link your therapist gave you" in h.last_text(ALICE.chat_id)
    await h.command(THEO, "/patients", "Shoulder Therapy 1")
    assert "data deleted at the patient's request" in h.last_text(THEO.chat_id)
    await h.command(THEO, "/report", "Shoulder Therapy 1")
    assert "[deleted] = data deleted at the patient's request" in h.last_text(THEO.chat_id)

    await h.command(ALICE, "/start", "SHOULDER1")
    assert "You have joined Shoulder Therapy 1" in h.last_text(ALICE.chat_id)


async def test_an_old_question_button_after_deletemydata_is_refused(h: Harness) -> None:
    await joined(h, "SHOULDER1")
    await at(h, local(11))
    await h.press(ALICE, START)
    question = h.last_message(ALICE.chat_id)
    await h.command(ALICE, "/deletemydata")
    await h.press(ALICE, "Yes, delete everything")

    await h.press_data(ALICE, question.callback_data("Yes"), question.message_id)

    assert toasts(h)[-1] == texts.checkin_refused("erased")


def _entities(h: Harness, message_id: int) -> list[dict[str, object]]:
    message = h.api.message_json(ALICE.chat_id, message_id)
    assert message is not None
    return list(message.get("entities", []))
