"""A NUL character, which Telegram allows and PostgreSQL refuses in text, breaks nothing.

It is taken out once, where a stored update becomes an ``Update`` (``bot.receiver``), so every
command, answer and button is covered; this walks each entry point on both databases.
"""

from __future__ import annotations

import logging

import pytest

from bot import texts
from bot.clock import ManualClock
from bot.config import Settings
from storage.db import Database
from tests.conftest import THERAPIST_ID
from tests.fakes.harness import Harness, patient, therapist
from tests.flows.test_checkin_support import answers_of, at, delivery_of, local
from tests.hardening.test_fuzz import command_names

ALICE = patient(0, "Alice")
THEO = therapist(THERAPIST_ID)
NUL = "\x00"


async def test_every_command_with_a_nul_is_answered_without_an_error(
    harness: Harness,
    settings: Settings,
    database: Database,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = harness
    h.seed_demo()
    await h.command(ALICE, "/start", f"SHOULDER{NUL}1")
    assert "Shoulder Therapy 1" in h.last_text(ALICE.chat_id), "the code, NUL taken out"
    commands = command_names(settings, database, clock)
    assert len(commands) >= 20

    for command in commands:
        for person in (THEO, ALICE):
            before = len(h.api.calls)
            await h.command(person, f"/{command}", f"Shoulder{NUL} Therapy 1", NUL)
            replies = [c.params.get("text") for c in h.new_calls(before)]
            assert texts.something_went_wrong() not in replies, f"/{command} as {person.id}"
            await h.command(person, "/cancel")  # leave any dialogue the command opened

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_answer_with_a_nul_is_stored_without_it(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    await h.command(ALICE, "/start", "SHOULDER1")
    await at(h, local(18))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "4")
    await h.text(ALICE, f"3{NUL}0")
    await h.text(ALICE, f"Felt{NUL} fine")

    pain = delivery_of(h, ALICE, "Shoulder pain check")
    answers = answers_of(h, pain.id)
    assert answers[1].value_number == 30.0
    assert answers[2].value_text == "Felt fine"
