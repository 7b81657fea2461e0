"""A therapist's message outside a dialogue gets a therapist's answer, not a patient's."""

from __future__ import annotations

from bot import texts
from tests.fakes.harness import Harness, patient, therapist
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
ALICE = patient(0)


async def test_a_therapist_typing_outside_a_dialogue_is_pointed_at_the_commands(
    harness: Harness,
) -> None:
    h = harness
    await h.text(THEO, "hello?")
    assert h.last_text(THEO.chat_id) == texts.help_therapist_free_text()
    assert "/help" in h.last_text(THEO.chat_id)
    assert "To join your therapy group" not in h.last_text(THEO.chat_id)

    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.text(THEO, "what now?")
    assert h.last_text(THEO.chat_id) == texts.help_therapist_free_text()

    # A dialogue still takes the therapist's text as its answer.
    await h.command(THEO, "/newtask")
    await h.text(THEO, "Knees")
    assert h.last_text(THEO.chat_id) != texts.help_therapist_free_text()
    await h.command(THEO, "/cancel")

    # Patients keep their own answers.
    await h.text(ALICE, "hello?")
    assert "To join your therapy group" in h.last_text(ALICE.chat_id)
    await h.command(ALICE, "/start", code)
    await h.text(ALICE, "hello?")
    assert h.last_text(ALICE.chat_id) != texts.help_therapist_free_text()
