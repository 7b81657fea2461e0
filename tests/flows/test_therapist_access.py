"""Who may administer: every admin command refuses everyone else; menus follow who is who."""

from __future__ import annotations

from typing import Any

from telegram.ext import BaseHandler, CommandHandler, ConversationHandler

from bot import texts
from bot.context import BotApplication
from bot.handlers.therapist import admin_menu, patient_menu, therapist_menu
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.snapshots import snapshot
from tests.fakes.updates import User

# Commands everyone may use: the patient menu, and /cancel (the patient's alias of /pause).
EVERYONE = {command for command, _ in patient_menu()} | {"cancel"}
REFUSAL = texts.admin_refused()
STRANGER = User(id=4242, first_name="Stranger", last_name="Danger")

# Arguments that would change something if the command ran; anything else gets "1".
ARGUMENTS = {
    "addtherapist": ["4242"],
    "removetherapist": ["9001"],
    "newgroup": ["Evil Group"],
    "patients": ["Shoulder Therapy 1"],
    "removepatient": ["Shoulder Therapy 1", "100"],
    "invite": ["Shoulder Therapy 1"],
    "revoke": ["SHOULDER1"],
    "addtask": [
        "Shoulder Therapy 1 | Evil | tomorrow 10:00 | daily | Ok? ; yes_no",
    ],
    "report": ["Shoulder Therapy 1"],
    "export": [],
}


def registered_commands(application: BotApplication) -> set[str]:
    """Every command a message can start: plain handlers and the dialogues' entry points."""
    found: set[str] = set()

    def visit(handler: BaseHandler[Any, Any, Any]) -> None:
        if isinstance(handler, CommandHandler):
            found.update(handler.commands)
        elif isinstance(handler, ConversationHandler):
            # States and fallbacks only run inside a dialogue an entry point opened.
            for entry in handler.entry_points:
                visit(entry)

    for handlers in application.handlers.values():
        for handler in handlers:
            visit(handler)
    return found


def admin_commands(application: BotApplication) -> list[str]:
    return sorted(registered_commands(application) - EVERYONE - {"help"})


def test_every_admin_command_is_in_the_therapist_menu(harness: Harness) -> None:
    admin = admin_commands(harness.app)
    assert len(admin) >= 16
    assert set(admin) == {command for command, _ in admin_menu()} - EVERYONE


async def test_every_admin_command_refuses_a_non_therapist_and_changes_nothing(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    alice = patient(0)
    await h.command(alice, "/start", "SHOULDER1")
    before = snapshot(h.database)
    for user in (alice, STRANGER):
        for command in admin_commands(h.app):
            sent = len(h.api.sent_to(user.chat_id))
            await h.command(user, f"/{command}", *ARGUMENTS.get(command, ["1"]))
            replies = h.api.sent_to(user.chat_id)[sent:]
            assert [c.params.get("text") for c in replies] == [REFUSAL], (user, command)
            assert snapshot(h.database) == before, (user, command)
    assert not h.api.calls_of("sendDocument")
    assert not h.api.calls_of("setMyCommands")


FORGED = [
    "td:1:yes",
    "tg:1",
    "tr:daily",
    "tv:save",
    "te:1:rm:1",
    "tm:done",
    "tp:1",
    "au:0:0:10",
    "pp:1:0",
    "po:1",
    "pm:1",
    "rp:g:1:0",
]


async def test_a_forged_admin_button_is_refused(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    alice = patient(0)
    await h.command(alice, "/start", "SHOULDER1")
    before = snapshot(h.database)
    for data in FORGED:
        await h.press_data(alice, data)
        assert h.callback_answers()[-1].params.get("text") == REFUSAL, data
        assert snapshot(h.database) == before, data
    assert len(h.callback_answers()) == len(FORGED)


async def test_a_patient_gets_their_own_tasks_and_a_therapist_the_programme(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    alice, theo = patient(0), therapist()
    await h.command(alice, "/start", "SHOULDER1")
    await h.command(alice, "/tasks")
    assert "Tasks of" not in h.last_text(alice.chat_id)
    assert "#1" not in h.last_text(alice.chat_id)
    await h.command(theo, "/tasks", "Hip Therapy 1")
    text = h.last_text(theo.chat_id)
    assert text.startswith("Tasks of Hip Therapy 1")
    assert "Hip mobility session" in text and "Perform 20 Press-Ups" not in text


async def test_admin_commands_in_a_group_chat_do_nothing(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    theo = therapist()
    before = snapshot(h.database)
    for command in ("/export", "/patients Shoulder Therapy 1", "/newgroup Chatty"):
        await h.feed(h.updates.group_message(theo, command))
    assert not h.api.calls_of("sendDocument")
    assert not [c for c in h.api.calls_of("sendMessage") if str(c.chat_id).startswith("-")]
    assert snapshot(h.database) == before


def commands_of(menu: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"command": c, "description": d} for c, d in menu]


def chat_scope(chat_id: int) -> dict[str, Any]:
    return {"type": "chat", "chat_id": chat_id}


async def test_menus_show_patients_their_commands_and_therapists_theirs_too(
    harness: Harness,
) -> None:
    h = harness
    assert h.app.post_init is not None
    await h.app.post_init(h.app)
    assert h.api.commands() == commands_of(patient_menu())
    assert h.api.commands(chat_scope(9001)) == commands_of(therapist_menu())
    assert len(therapist_menu()) <= 100  # Telegram's limit


async def test_adding_and_removing_a_therapist_changes_their_menu_and_rights(
    harness: Harness,
) -> None:
    h = harness
    theo, tess = therapist(), User(id=555, first_name="Tess", last_name="Therapist")
    await h.command(tess, "/groups")
    assert h.last_text(tess.chat_id) == REFUSAL

    await h.command(theo, "/addtherapist", "555")
    assert "555 is now a therapist" in h.last_text(theo.chat_id)
    assert h.api.commands(chat_scope(555)) == commands_of(therapist_menu())
    await h.command(tess, "/newgroup", "Knees")
    assert "Created the group Knees" in h.last_text(tess.chat_id)
    await h.command(theo, "/addtherapist", "555")
    assert h.last_text(theo.chat_id) == "555 is already a therapist."

    await h.command(theo, "/removetherapist", "555")
    assert "555 is no longer a therapist" in h.last_text(theo.chat_id)
    assert h.api.commands(chat_scope(555)) == []
    await h.command(tess, "/groups")
    assert h.last_text(tess.chat_id) == REFUSAL

    # Therapists named in the configuration stay, whatever a command says.
    await h.command(theo, "/removetherapist", "9001")
    assert "configuration file" in h.last_text(theo.chat_id)

    # A restarted bot shows every therapist, stored ones included, their menu again.
    await h.command(theo, "/addtherapist", "556")
    await h.restart()
    assert h.app.post_init is not None
    await h.app.post_init(h.app)
    assert h.api.commands(chat_scope(556)) == commands_of(therapist_menu())


async def test_a_bad_user_id_is_explained(harness: Harness) -> None:
    theo = therapist()
    await harness.command(theo, "/addtherapist", "@tess")
    assert harness.last_text(theo.chat_id).startswith("Usage: /addtherapist USER_ID")
