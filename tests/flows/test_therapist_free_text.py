"""A therapist's message outside a dialogue gets a therapist's answer, not a patient's."""

from __future__ import annotations

from bot import texts
from tests.fakes.harness import DEMO_SEED, Harness, patient, therapist
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
ALICE = patient(0)
PATIENT_COMMANDS = (
    ("/timezone", "Show or set your time zone"),
    ("/stop", "Stop receiving check-ins"),
    ("/pause", "Stop for now; continue later with /tasks"),
    ("/deletemydata", "Erase your answers and leave your groups"),
)


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


async def test_an_administrator_only_in_the_configuration_gets_a_therapists_answer(
    harness: Harness,
) -> None:
    """Theo is under [therapists] user_ids and has not yet written anything that stores him:
    /cancel outside a dialogue and the patients' commands are explained to him as a
    therapist, never with the patients' greeting."""
    h = harness
    await h.command(THEO, "/cancel")
    assert h.last_text(THEO.chat_id) == (
        "Nothing to cancel: /cancel leaves /newtask, /edittask or /setconsent while you are in "
        "one. /help lists all commands."
    )
    for command, purpose in PATIENT_COMMANDS:
        await h.command(THEO, command)
        assert h.last_text(THEO.chat_id) == (
            f"{command} is a patients' command (“{purpose}”). You are a therapist here: "
            "/help lists your commands."
        )
    await h.command(THEO, "/timezone", "Europe/Berlin")
    assert h.last_text(THEO.chat_id).startswith("/timezone is a patients' command")
    assert not any("To join your therapy group" in t for t in h.texts(THEO.chat_id))

    # Once stored (his first group), /cancel outside a dialogue still cancels nothing, and the
    # patients' commands are still explained: he has nothing they act on.
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/cancel")
    assert h.last_text(THEO.chat_id).startswith("Nothing to cancel")
    for command, purpose in PATIENT_COMMANDS:
        await h.command(THEO, command)
        assert h.last_message(THEO.chat_id).buttons == []
        assert h.last_text(THEO.chat_id) == (
            f"{command} is a patients' command (“{purpose}”). You are a therapist here: "
            "/help lists your commands."
        )
    await h.command(THEO, "/timezone", "Europe/Berlin")
    assert h.last_text(THEO.chat_id).startswith("/timezone is a patients' command")

    # A stranger's /cancel still says how to join.
    await h.command(ALICE, "/cancel")
    assert "To join your therapy group" in h.last_text(ALICE.chat_id)


async def test_start_alone_greets_a_therapist_as_a_therapist(harness: Harness) -> None:
    """/start is the first thing anyone sends a bot: a therapist, stored or only in the
    configuration, is told what a therapist does here, never how to join a group."""
    h = harness
    await h.command(THEO, "/start")
    first = h.last_text(THEO.chat_id)
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/start")
    stored = h.last_text(THEO.chat_id)

    for greeting in (first, stored):
        assert greeting == texts.help_therapist_start()
        assert "To join your therapy group" not in greeting
    await h.command(ALICE, "/start")
    assert "To join your therapy group" in h.last_text(ALICE.chat_id)


async def test_a_therapist_who_is_also_a_patient_gets_the_patients_commands(
    harness: Harness,
) -> None:
    """Theo also joined a group by its invite link, as a patient: /stop and /deletemydata act
    on his place there, as for any patient."""
    h = harness
    h.seed_demo(DEMO_SEED)
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/start", "SHOULDER1")
    assert h.last_text(THEO.chat_id).startswith("✅ Welcome! You have joined Shoulder Therapy 1.")

    await h.command(THEO, "/stop")
    assert h.last_message(THEO.chat_id).button_texts == ["Yes, stop", "No, keep them"]
    await h.command(THEO, "/deletemydata")
    assert "Yes, delete everything" in h.last_message(THEO.chat_id).button_texts


async def test_an_edited_command_is_said_not_to_run(harness: Harness) -> None:
    """A therapist fixing a typo in /addtask the Telegram way heard nothing, and nothing was
    saved; a patient editing a command with no question waiting heard nothing either."""
    h = harness
    h.seed_demo(DEMO_SEED)
    typed = await h.command(THEO, "/newgroup", "Kness")
    before = h.texts(THEO.chat_id)

    await h.edit(THEO, "/newgroup Knees", typed["message"]["message_id"])

    assert h.texts(THEO.chat_id)[len(before) :] == [texts.edited_command_not_run()]
    alice = patient(0)
    hello = await h.command(alice, "/hlep")
    await h.edit(alice, "/help", hello["message"]["message_id"])
    assert h.last_text(alice.chat_id) == texts.edited_command_not_run()
