"""/tasks always arrives, however many check-ins a patient has open.

A patient back after weeks away, in a group whose daily task stays open for a month, has one
open check-in a day. /tasks is the command every apology points to: it lists the oldest
(they close first) with a Start button each, and counts the rest, within one message.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from bot.rendering import MAX_MESSAGE, MAX_TASKS_LISTED, shown_length
from bot.services.authoring import MAX_TITLE
from tests.fakes.harness import Harness
from tests.fakes.updates import User
from tests.flows.test_scheduling_support import World

TODAY = date(2026, 11, 25)  # the clock starts on Wednesday at 09:00 UTC


# Titles as long as a task's may be: in letters, and in emoji, each two units of the
# message's length as Telegram counts it.
@pytest.mark.parametrize(
    "title", [("Knee bends, slowly, then hold " * 10)[: MAX_TITLE - 3] + " {}", "🦵" * 190 + " {}"]
)
async def test_tasks_lists_the_oldest_open_check_ins_and_counts_the_rest(
    harness: Harness, title: str
) -> None:
    h = harness
    world = World(h.database, h.clock)
    group = world.group()
    patient = world.patient(group, user_id=4242)
    for n in range(2):  # two long-open daily tasks: two check-ins a day
        world.task(
            group,
            (TODAY, time(10 + n, 0)),
            title=title.format(n + 1),
            recurrence="FREQ=DAILY",
            expiry_minutes=30 * 24 * 60,
        )
    for _ in range(12):
        await h.advance_and_scan(timedelta(days=1))
    alice = User(id=patient.telegram_user_id, first_name="Patient")

    await h.command(alice, "/tasks")

    listing = h.last_message(alice.chat_id)
    assert listing.plain is not None and shown_length(listing.plain) <= MAX_MESSAGE
    starts = [b for b in listing.button_texts if b.startswith("▶️ Start")]
    assert 0 < len(starts) <= MAX_TASKS_LISTED
    assert len(starts) == len(listing.button_texts)
    assert f"…and {24 - len(starts)} more check-ins." in listing.plain
    assert "send /tasks again for the rest" in listing.plain
    # The oldest first: Wednesday's are listed, the newest are among the rest.
    assert "due Wed 25 Nov" in listing.plain and "due Sun 6 Dec" not in listing.plain
