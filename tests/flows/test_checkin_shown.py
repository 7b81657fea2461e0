"""An answer counts only for a question the patient saw; the inbox hands each update over once.

The demo's daily "Shoulder pain check" asks a 0-10 scale (buttons), the minutes exercised
(typed) and a note. Losing the next question's send stands in for a kill between an answer's
commit and that send: the answer is stored, the question never reached the patient.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from telegram import User

from bot import scheduler, texts
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import DEPS_KEY, Deps
from bot.policies import checkin_policy
from bot.receiver import receiver
from bot.services import checkin, delivery, inbox
from bot.services.checkin import shown as shown_module
from bot.services.responses import Reply
from fakebotapi import BadRequestFault, NetworkFault
from fakebotapi.methods import PRESS_ANSWER_SECONDS
from storage.db import Database
from storage.models import InboxState, InboxUpdate
from tests.fakes.harness import Harness, patient, two_instances
from tests.flows.test_checkin_support import (
    answers_of,
    at,
    deliveries_of,
    delivery_of,
    hold_sends,
    local,
)
from tests.hardening.test_database_outage import wait_until

ALICE = patient(0, "Alice")
PAIN = "Shoulder pain check"
START = "▶️ Start now"


@pytest.fixture
async def h(harness: Harness) -> Harness:
    harness.seed_demo()
    await harness.command(ALICE, "/start", "SHOULDER1")
    await at(harness, local(18))
    await harness.press(ALICE, START)
    return harness


async def lose_the_next_question(h: Harness) -> None:
    """Press 4 on the scale while the next question's send is lost."""
    h.api.inject("sendMessage", NetworkFault())
    await h.press(ALICE, "4")
    assert not any("Question 2 of 3" in t for t in h.texts(ALICE.chat_id))


async def typed_30_is_not_an_answer_and_question_2_comes(h: Harness) -> Any:
    """Alice types "30" with question 2 never shown: only her first answer (4) is stored, and
    the reply says so and brings question 2. Returns her pain check's row."""
    await h.text(ALICE, "30")

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0]
    reply = h.last_text(ALICE.chat_id)
    assert texts.checkin_question_not_shown().split(",")[0] in reply
    assert "Question 2 of 3" in reply
    return pain


async def test_a_message_for_a_question_never_shown_is_not_stored_and_the_question_comes(
    h: Harness,
) -> None:
    await lose_the_next_question(h)

    # A valid answer to question 2, which Alice never saw: not taken as its answer.
    pain = await typed_30_is_not_an_answer_and_question_2_comes(h)
    # Now that it was shown, her answer counts.
    await h.text(ALICE, "25")
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 25.0]
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)


async def test_a_lost_reply_then_a_typed_message_gets_the_question_not_a_guess(
    h: Harness,
) -> None:
    await h.press(ALICE, "4")
    # Question 3 is lost on its way; the bot apologises (another message in the chat).
    h.api.inject("sendMessage", NetworkFault())
    await h.text(ALICE, "25")
    assert not any("Question 3 of 3" in t for t in h.texts(ALICE.chat_id))

    await h.text(ALICE, "Felt fine")

    pain = delivery_of(h, ALICE, PAIN)
    assert len(answers_of(h, pain.id)) == 2, "not stored against a question never seen"
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)


async def test_an_answer_typed_after_the_question_counts_though_an_older_message_came_first(
    h: Harness,
) -> None:
    # Alice types a word while question 2 is on its way, then answers question 2 once it
    # is on her screen; the bot, behind (a restart's backlog), handles both after it.
    early = h.updates.message(ALICE, "hello?")
    await h.press(ALICE, "4")
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)
    answer = h.updates.message(ALICE, "30")
    await receiver(h.app).accept([early, answer])

    await h.deliver()

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
    replies = h.texts(ALICE.chat_id)
    assert any(texts.checkin_question_not_shown().split(",")[0] in t for t in replies), (
        "the word typed before question 2 arrived is not its answer"
    )
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)


@contextlib.contextmanager
def questions_shown_unrecorded(h: Harness) -> Iterator[None]:
    """Every record of a question shown is dropped: the process is killed after each send."""

    def drop(
        connection: Any, statement: Any, multiparams: Any, params: Any, options: Any
    ) -> tuple[Any, Any, Any]:
        if statement is shown_module._RECORD_SHOWN:
            return select(1), (), {}
        return statement, multiparams, params

    event.listen(h.database.engine, "before_execute", drop, retval=True)
    try:
        yield
    finally:
        event.remove(h.database.engine, "before_execute", drop)


async def test_an_answer_to_a_question_a_press_brought_counts_though_its_record_was_lost(
    h: Harness,
) -> None:
    """Question 2 (the press of 4 brought it) reached Alice; the bot was killed before it
    recorded so. Her answer to it, handled by the next process, is her answer: a message came
    between the one she pressed and hers, and only the bot's question can be that one."""
    with questions_shown_unrecorded(h):
        await h.press(ALICE, "4")
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)
    await h.restart()

    await h.text(ALICE, "30")

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)


async def test_a_press_on_a_question_whose_send_went_unrecorded_counts_in_the_words_it_showed(
    harness: Harness,
) -> None:
    """Question 1 reached Alice; the bot was killed before it recorded so. Her press on it,
    handled by the next process, is her answer: the button names the wording it showed, so
    it is not taken for an answer to words reworded since (before, with no record of the
    send, every such press was met with "your therapist has just changed this question")."""
    h = harness
    h.seed_demo()
    await h.command(ALICE, "/start", "SHOULDER1")
    await at(h, local(18))
    with questions_shown_unrecorded(h):
        await h.press(ALICE, START)
    assert "Question 1 of 3" in h.last_text(ALICE.chat_id)
    await h.restart()

    await h.press(ALICE, "4")

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0]
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)


async def test_after_telegram_refused_a_pressed_for_question_the_apology_is_not_taken_for_it(
    h: Harness,
) -> None:
    """Telegram refuses question 2 (a Bad Request); Alice gets the apology instead, a message
    of its own in the chat's numbering. What she types next came after a message of the bot's,
    but not after question 2: it is not its answer, and question 2 comes."""
    h.api.inject("sendMessage", BadRequestFault())
    await h.press(ALICE, "4")
    assert h.last_text(ALICE.chat_id) == texts.something_went_wrong()

    await typed_30_is_not_an_answer_and_question_2_comes(h)


async def test_a_late_presss_notice_in_the_chat_is_not_taken_for_the_next_question(
    h: Harness,
) -> None:
    """Alice's "25" answers question 2, and the bot stops before question 3 goes out. She
    presses an old button; handled too late for Telegram's notice on the screen, its notice
    ("already answered") comes as a message, a number in the chat's counting. Her "Felt fine"
    next came after a message of the bot's, but not after question 3: not its answer."""
    question_one = h.api.messages(ALICE.chat_id)[-1]
    four = question_one.callback_data("4")
    await h.press(ALICE, "4")
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)
    deps: Deps = h.app.bot_data[DEPS_KEY]
    await deps.run(  # the answer's transaction, and then the kill: question 3 never sent
        checkin.answer_message,
        h.database,
        h.clock.now(),
        checkin_policy(h.settings),
        ALICE.id,
        Reply(kind="text", text="25"),
        h.api.next_message_id(ALICE.chat_id),
    )
    await h.restart()
    press = h.updates.callback(ALICE, four, question_one.message_id)
    h.advance(timedelta(seconds=PRESS_ANSWER_SECONDS + 5))
    await h.feed(press)
    assert "already" in h.last_text(ALICE.chat_id)

    await h.text(ALICE, "Felt fine")

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 25.0]
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)


async def test_a_press_in_a_flooding_chat_counts_from_its_newest_message_not_the_pressed_one(
    h: Harness,
) -> None:
    """Alice floods the chat at question 1, then presses 4 on it: question 2 is held back, as
    every reply into a flooding chat is. Her "30" right after came before question 2 could
    reach her, so it is not its answer. Counted from the pressed message, her flood in
    between made the numbers jump as if question 2 had come, and it was stored."""
    limit = h.settings.checkins.flood_messages_per_minute
    question_one = h.api.messages(ALICE.chat_id)[-1].message_id
    for n in range(limit + 5):  # within one minute: no clock moves
        await h.text(ALICE, f"spam {n}")

    await h.press(ALICE, "4", message_id=question_one)
    assert not any("Question 2 of 3" in t for t in h.texts(ALICE.chat_id)), "held back"
    await h.text(ALICE, "30")

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0]
    # Calm again: question 2 comes, and the answer typed after it counts.
    await h.advance_and_scan(timedelta(minutes=2))
    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)
    await h.text(ALICE, "30")
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]


async def test_the_scan_sends_a_question_left_unsent_once_the_grace_has_passed(
    h: Harness,
) -> None:
    await lose_the_next_question(h)
    grace = h.settings.checkins.question_resend_seconds

    await h.advance_and_scan(timedelta(seconds=grace / 2))
    assert not any("Question 2 of 3" in t for t in h.texts(ALICE.chat_id)), "too early"

    await h.advance_and_scan(timedelta(seconds=grace))
    assert sum("Question 2 of 3" in t for t in h.texts(ALICE.chat_id)) == 1
    await h.text(ALICE, "30")
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
    # Sent once: the next scans leave it alone.
    await h.advance_and_scan(timedelta(seconds=grace * 2))
    assert sum("Question 2 of 3" in t for t in h.texts(ALICE.chat_id)) == 1


async def test_a_question_left_unsent_is_sent_after_a_restart(h: Harness) -> None:
    await lose_the_next_question(h)

    await h.restart()
    await h.advance_and_scan(timedelta(seconds=h.settings.checkins.question_resend_seconds))

    assert "Question 2 of 3" in h.last_text(ALICE.chat_id)


async def test_updates_stored_before_a_restart_are_handled_after_it_in_order(
    h: Harness,
) -> None:
    await h.press(ALICE, "4")
    # Stored, then the process died before its worker got to them. Alice typed both while
    # looking at question 2: the second was not written for question 3.
    first = h.updates.message(ALICE, "30")
    second = h.updates.message(ALICE, "Felt fine")
    await receiver(h.app).accept([first, second])

    await h.restart()
    handled = await h.deliver()

    assert handled == 2
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
    reply = h.last_text(ALICE.chat_id)
    assert texts.checkin_question_not_shown().split(",")[0] in reply
    assert "Question 3 of 3" in reply
    await h.text(ALICE, "Felt fine")
    assert answers_of(h, pain.id)[2].value_text == "Felt fine"
    assert texts.checkin_summary_thanks() in "\n".join(h.texts(ALICE.chat_id))


async def four_at_question_two(h: Harness) -> list[User]:
    """Alice and three others, each at question 2 of the pain check (4 pressed on the scale)."""
    h.seed_demo()
    patients = [ALICE, *(patient(n) for n in (1, 2, 3))]
    for person in patients:
        await h.command(person, "/start", "SHOULDER1")
    await at(h, local(18))
    for person in patients:
        await h.press(person, START)
        await h.press(person, "4")
    return patients


async def test_each_question_a_batch_shows_is_recorded_once(harness: Harness) -> None:
    """Four answers handled side by side show four questions: four rows recorded, one each,
    not one per update that wrote while they waited (3.3 per question once)."""
    h = harness
    patients = await four_at_question_two(h)
    recorded: list[int] = []

    def count(
        connection: Any, statement: Any, multiparams: Any, params: Any, options: Any
    ) -> None:
        if statement is shown_module._RECORD_SHOWN:
            # Several rows come as a list, one row as the parameters themselves.
            recorded.extend(row["d_id"] for row in multiparams or [params])

    event.listen(h.database.engine, "before_execute", count)
    try:
        await h.deliver(*(h.updates.message(person, "30") for person in patients))
    finally:
        event.remove(h.database.engine, "before_execute", count)

    pains = sorted(delivery_of(h, person, PAIN).id for person in patients)
    assert sorted(recorded) == pains
    for person in patients:
        assert "Question 3 of 3" in h.last_text(person.chat_id)


async def test_one_reply_failing_in_a_batch_leaves_the_others_and_none_is_handled_twice(
    harness: Harness,
) -> None:
    """Four patients answer at once, so the worker handles their updates side by side in one
    batch. The next question to one of them is lost on its way (that handler fails): the
    other three go on as if nothing happened, and none of the four is handled twice."""
    h = harness
    patients = await four_at_question_two(h)
    incoming = receiver(h.app)
    await incoming.accept([h.updates.message(person, "30") for person in patients])
    h.api.inject("sendMessage", NetworkFault())

    assert await incoming.drain() == 4

    for person in patients:
        pain = delivery_of(h, person, PAIN)
        assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0], person.first_name
    shown = {
        p.first_name: sum("Question 3 of 3" in t for t in h.texts(p.chat_id)) for p in patients
    }
    assert sorted(shown.values()) == [0, 1, 1, 1], shown
    with h.database.session() as session:
        states = session.execute(select(InboxUpdate.state)).scalars().all()  # type: ignore[call-overload]
    assert set(states) == {InboxState.DONE.value}
    assert await incoming.drain() == 0, "nothing is left to handle again"

    # The batch recorded the question each of the three saw: their answers to it count.
    for person in patients:
        if shown[person.first_name]:
            await h.text(person, "Felt fine")
            pain = delivery_of(h, person, PAIN)
            assert answers_of(h, pain.id)[2].value_text == "Felt fine", person.first_name
    # The one whose question was lost gets it once the grace has passed, and only once.
    lost = next(p for p in patients if not shown[p.first_name])
    await h.advance_and_scan(timedelta(seconds=h.settings.checkins.question_resend_seconds))
    assert sum("Question 3 of 3" in t for t in h.texts(lost.chat_id)) == 1


async def test_handled_updates_are_purged_by_the_scan_after_the_configured_days(
    h: Harness,
) -> None:
    keep = h.settings.inbox.keep_handled_days
    with h.database.session() as session:
        stored = session.execute(select(func.count()).select_from(InboxUpdate)).scalar()
    assert stored == 2  # /start and the press of Start

    await h.advance_and_scan(timedelta(days=keep - 1))
    await h.text(ALICE, "/tasks")
    with h.database.session() as session:
        assert session.execute(select(func.count()).select_from(InboxUpdate)).scalar() == 3

    await h.advance_and_scan(timedelta(days=1, minutes=1))
    with h.database.session() as session:
        left = session.execute(select(InboxUpdate.update_id)).scalars().all()  # type: ignore[call-overload]
    assert len(left) == 1, "only the update of the last days is kept"


async def test_polling_stores_each_batch_before_confirming_it_and_a_new_process_handles_it(
    h: Harness,
) -> None:
    await h.press(ALICE, "4")
    h.api.push_update(h.updates.message(ALICE, "30"))
    h.api.push_update(h.updates.command(ALICE, "/help"))
    incoming = receiver(h.app)

    # Only the fetch loop runs: the batch is stored, then the process "dies" before handling.
    poller = asyncio.create_task(incoming.poll())
    for _ in range(200):
        with h.database.session() as session:
            pending = session.execute(
                select(func.count())
                .select_from(InboxUpdate)
                .where(InboxUpdate.state == InboxState.PENDING.value)
            ).scalar()
        if pending == 2:
            break
        await asyncio.sleep(0.01)
    poller.cancel()
    await asyncio.gather(poller, return_exceptions=True)
    assert pending == 2

    await h.restart()
    assert await h.deliver() == 2

    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
    assert any("Question 3 of 3" in t for t in h.texts(ALICE.chat_id))
    assert "/tasks" in h.last_text(ALICE.chat_id), "then the help, in the order sent"


async def test_a_flooding_chat_is_told_once_then_kept_quiet_and_loses_nothing(
    h: Harness,
) -> None:
    limit = h.settings.checkins.flood_messages_per_minute
    await h.press(ALICE, "4")  # now at question 2, the minutes
    before = len(h.texts(ALICE.chat_id))

    for n in range(limit + 20):  # within one minute: no clock moves
        await h.text(ALICE, f"spam {n}")
    await h.text(ALICE, "30")  # a real answer in the middle of the flood

    replies = h.texts(ALICE.chat_id)[before:]
    assert sum(texts.flood_pausing() == r for r in replies) == 1, "told once"
    # Replies up to the limit (the two presses of the last minute count too), then the notice.
    assert len(replies) == limit - 2 + 1
    pain = delivery_of(h, ALICE, PAIN)
    assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0], "the answer is kept"
    with h.database.session() as session:
        stored = session.execute(select(func.count()).select_from(InboxUpdate)).scalar()
    assert stored == 3 + limit + 20 + 1, "every update stored"

    # Calm again: the question the flood held back comes with the next scan.
    await h.advance_and_scan(timedelta(minutes=2))
    assert "Question 3 of 3" in h.last_text(ALICE.chat_id)
    await h.text(ALICE, "Felt fine")
    assert answers_of(h, pain.id)[2].value_text == "Felt fine"


async def test_an_update_in_hand_keeps_its_short_lease_while_its_reply_waits(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """A lease of 1 s, renewed while the batch is handled: a reply Telegram holds for longer
    than several leases never lets another instance take the update and answer it again."""
    lease = 1.0
    short = settings.model_copy(
        update={"inbox": settings.inbox.model_copy(update={"claim_lease_seconds": lease})}
    )
    h = await Harness(short, database, clock).start()
    released = asyncio.Event()
    try:
        h.seed_demo()
        await h.command(ALICE, "/start", "SHOULDER1")
        replies_before = len(h.texts(ALICE.chat_id))
        # Telegram holds the /help reply (a slow network, a long RetryAfter) until released.
        holding, released = hold_sends(h)
        helping = asyncio.create_task(h.command(ALICE, "/help"))
        await asyncio.wait_for(holding.wait(), 10)
        (update_id,) = [u.update_id for u in states(h) if u.state == InboxState.PENDING.value]

        for _ in range(3):  # 2.4 s of the lease's clock in all, past the lease first taken
            h.advance(timedelta(seconds=0.8 * lease))
            # A renewal (every quarter of a lease, in real time) pushes it past the new time.
            renewed_until = h.clock.now() + timedelta(seconds=lease)
            await wait_until(
                lambda until=renewed_until: lease_of(h, update_id) >= until,
                10,
                "the lease to be renewed",
            )
            taken = inbox.claim(h.database, h.clock.now(), "elsewhere:1:x", lease, 100)
            assert taken == [], "another instance took an update still in hand"
            assert {u.update_id: u.state for u in states(h)}[update_id] == (
                InboxState.PENDING.value
            ), "a renewal's commit marked the update done before its handler finished"

        released.set()
        await asyncio.wait_for(helping, 10)
        replies = h.texts(ALICE.chat_id)[replies_before:]
        assert len(replies) == 1 and "/tasks" in replies[0], replies
        assert {u.update_id: u.state for u in states(h)}[update_id] == InboxState.DONE.value
    finally:
        released.set()
        await h.stop()


def lease_of(h: Harness, update_id: int) -> datetime:
    (row,) = [u for u in states(h) if u.update_id == update_id]
    return aware(row.lease_until)


def aware(until: datetime | None) -> datetime:
    """A lease as stored (SQLite keeps no zone: it is UTC)."""
    assert until is not None
    return until if until.tzinfo else until.replace(tzinfo=UTC)


def states(h: Harness) -> list[InboxUpdate]:
    with h.database.session() as session:
        return list(session.execute(select(InboxUpdate)).scalars())


async def test_a_prompt_being_sent_keeps_its_short_claim_while_telegram_holds_it(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """The due scan's claim, renewed while the round is sent (``bot.leases``): a prompt
    Telegram holds for longer than several leases is never claimed and sent again by another
    instance, and goes out once."""
    lease = 1
    short = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"claim_lease_seconds": lease})}
    )
    h = await Harness(short, database, clock).start()
    released = asyncio.Event()
    try:
        h.seed_demo()
        await h.command(ALICE, "/start", "SHOULDER1")
        holding, released = hold_sends(h)
        scanning = asyncio.create_task(at(h, local(11)))
        await asyncio.wait_for(holding.wait(), 10)
        (claimed,) = [d for d in deliveries_of(h, ALICE) if d.status == "sending"]
        deps: Deps = h.app.bot_data[DEPS_KEY]
        elsewhere = replace(scheduler.scan_policy(deps), instance_id="elsewhere:1:x")

        for _ in range(3):  # 2.4 s of the lease's clock in all, past the claim first taken
            h.advance(timedelta(seconds=0.8 * lease))
            renewed_until = h.clock.now() + timedelta(seconds=lease)
            await wait_until(
                lambda until=renewed_until: claim_of(h, claimed.id) >= until,
                10,
                "the claim to be renewed",
            )
            taken = delivery.scan(h.database, h.clock.now(), elsewhere)
            assert claimed.id not in [job.delivery_id for job in taken.jobs], (
                "another instance took a prompt still being sent"
            )

        released.set()
        await asyncio.wait_for(scanning, 10)
        prompts = [t for t in h.texts(ALICE.chat_id) if t.startswith("📋 Time for your check-in")]
        assert len(prompts) == 1, prompts
        assert delivery_of(h, ALICE, "Perform 20 Press-Ups (day 1)").status == "sent"
    finally:
        released.set()
        await h.stop()


def claim_of(h: Harness, delivery_id: int | None) -> datetime:
    (row,) = [d for d in deliveries_of(h, ALICE) if d.id == delivery_id]
    return aware(row.lease_until)


@contextlib.asynccontextmanager
async def two_instances_alice_at_question_one(
    settings: Settings, database: Database, clock: ManualClock, *, by_button: bool
) -> AsyncIterator[tuple[Harness, Harness]]:
    """Instances A and B on one database and one Telegram. Alice, at the pain check's first
    question, answers 4 (with its button, or typed) on A, whose batch then ends with its
    closing write still waiting for A's next claim."""
    async with two_instances(settings, database, clock) as (first, second):
        first.seed_demo()
        await first.command(ALICE, "/start", "SHOULDER1")
        await at(first, local(18))
        await first.press(ALICE, START)
        updates = first.updates
        answer = updates.press(ALICE, "4") if by_button else updates.message(ALICE, "4")
        await receiver(first.app).accept([answer])
        assert await receiver(first.app)._handle_batch() == 1
        assert "Question 2 of 3" in first.last_text(ALICE.chat_id)
        yield first, second


async def test_a_late_record_of_a_question_answered_on_another_instance_does_not_undo_it(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """Instance A shows Alice question 2 and records that only with its next claim (a batch's
    closing write rides on it). That claim comes after A's hold on her chat ran out (a slow
    database), and instance B has taken her answer to question 2 and shown question 3. A's
    late record must not move her check-in back: her answer to question 3 counts, and
    question 3 is not sent again."""
    async with two_instances_alice_at_question_one(settings, database, clock, by_button=False) as (
        h,
        second,
    ):
        h.advance(timedelta(seconds=settings.inbox.claim_lease_seconds + 1))

        await second.text(ALICE, "30")
        assert "Question 3 of 3" in h.last_text(ALICE.chat_id)
        assert await receiver(h.app).drain() == 0  # the next claim, and A's record with it

        await second.text(ALICE, "Felt fine")
        pain = delivery_of(h, ALICE, PAIN)
        answers = answers_of(h, pain.id)
        assert [a.value_number for a in answers[:2]] == [4.0, 30.0]
        assert [a.value_text for a in answers[2:]] == ["Felt fine"]
        assert sum("Question 3 of 3" in t for t in h.texts(ALICE.chat_id)) == 1
        assert texts.checkin_summary_thanks() in "\n".join(h.texts(ALICE.chat_id))


async def test_an_answer_typed_on_another_instance_waits_for_the_question_to_be_recorded(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """Alice presses 4 on the scale; instance A stores it, sends question 2 and has not yet
    written its batch's closing write, which records that question. Her typed answer reaches
    instance B meanwhile: B leaves her chat to A until then (after a button press nothing in
    the chat's numbering would tell B that question 2 reached her), and the answer counts,
    with no "not shown yet" and no second question 2."""
    async with two_instances_alice_at_question_one(settings, database, clock, by_button=True) as (
        h,
        second,
    ):
        assert await second.deliver(h.updates.message(ALICE, "30")) == 0, "A holds her chat"
        assert await receiver(h.app).drain() == 1  # A's closing write, then her answer

        pain = delivery_of(h, ALICE, PAIN)
        assert [a.value_number for a in answers_of(h, pain.id)] == [4.0, 30.0]
        replies = h.texts(ALICE.chat_id)
        assert sum("Question 2 of 3" in t for t in replies) == 1
        assert not any(texts.checkin_question_not_shown().split(",")[0] in t for t in replies)
        assert "Question 3 of 3" in replies[-1]
