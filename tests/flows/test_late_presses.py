"""A press handled after Telegram stopped taking its answer still does what it asked.

Telegram takes ``answerCallbackQuery`` for a few seconds only; a press that waited in the inbox
longer (the bot was down, a restart handled its backlog) is refused as "too old". The fake
refuses it too (``PRESS_ANSWER_SECONDS`` after the press, on the harness's clock), so each test
builds the press, lets time pass, and only then hands it to the bot.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from fakebotapi.methods import PRESS_ANSWER_SECONDS
from tests.fakes.harness import Harness, therapist
from tests.fakes.updates import User

THEO = therapist()
ALICE = User(id=301, first_name="Alice", last_name="Archer", language_code="en")
LATE = timedelta(seconds=PRESS_ANSWER_SECONDS + 5)


async def press_late(h: Harness, user: User, label: str) -> None:
    """Press ``label`` now; the bot gets the press only after Telegram's answer window."""
    press = h.updates.press(user, label)
    h.advance(LATE)
    await h.feed(press)


def refused_answers(h: Harness) -> int:
    return sum(1 for call in h.api.calls_of("answerCallbackQuery") if not call.ok)


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.seed_demo()
    return harness


async def test_a_therapists_late_press_moves_the_dialogue_on(h: Harness) -> None:
    await h.command(THEO, "/newtask")

    await press_late(h, THEO, "Hip Therapy 1")

    assert refused_answers(h) == 1, "the press really came too late to answer"
    assert "What is the task's title?" in h.last_text(THEO.chat_id)


async def test_a_patients_late_language_choice_is_kept(h: Harness) -> None:
    await h.command(ALICE, "/start", "HIP1")
    await h.command(ALICE, "/language")

    await press_late(h, ALICE, "Deutsch")

    assert refused_answers(h) == 1
    await h.command(ALICE, "/help")
    assert h.last_text(ALICE.chat_id).startswith("Was Sie tun können")


async def test_a_late_presss_notice_comes_as_a_message(h: Harness) -> None:
    """The notice a press would have shown on the screen ("no longer active") is written
    into the chat instead, so the therapist learns what became of the press."""
    await h.command(THEO, "/newtask")
    group_buttons = h.last_message(THEO.chat_id)
    data = group_buttons.callback_data("Hip Therapy 1")
    await h.press(THEO, "Hip Therapy 1")
    assert "What is the task's title?" in h.last_text(THEO.chat_id)

    # Pressed twice in a hurry; the second press reaches the bot late.
    press = h.updates.callback(THEO, data, group_buttons.message_id)
    h.advance(LATE)
    await h.feed(press)

    assert refused_answers(h) == 1
    assert h.last_text(THEO.chat_id) == "This button is no longer active."
