"""Who may administer: every admin command refuses everyone else; menus follow who is who."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from telegram.ext import BaseHandler, CommandHandler, ConversationHandler

from bot import texts
from bot.context import BotApplication
from bot.handlers.therapist import admin_menu, menus_published, patient_menu, therapist_menu
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
    "ct:1:9001",
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
    await menus_published(h.app)
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
    await menus_published(h.app)
    assert h.api.commands(chat_scope(556)) == commands_of(therapist_menu())


async def test_a_therapist_removed_while_the_start_publishes_menus_keeps_no_admin_menu(
    harness: Harness,
) -> None:
    h = harness
    theo = therapist()
    await h.command(theo, "/addtherapist", "556")
    await h.restart()

    # Telegram is slow to take Theo's menu, the first of the chats; meanwhile 556 is removed.
    theo_menu_sent, released = asyncio.Event(), asyncio.Event()
    plain = h.api.do_request

    async def slow_for_theo(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        data = args[0] if args else kwargs.get("request_data")
        scope = data.json_parameters.get("scope", "") if data is not None else ""
        if url.endswith("/setMyCommands") and str(theo.chat_id) in scope:
            theo_menu_sent.set()
            await released.wait()
        return await plain(url, method, *args, **kwargs)

    h.api.do_request = slow_for_theo  # type: ignore[method-assign]
    try:
        assert h.app.post_init is not None
        await h.app.post_init(h.app)
        await asyncio.wait_for(theo_menu_sent.wait(), 10)
        await h.command(theo, "/removetherapist", "556")
        assert "556 is no longer a therapist" in h.last_text(theo.chat_id)
    finally:
        released.set()
    await menus_published(h.app)

    assert h.api.commands(chat_scope(theo.chat_id)) == commands_of(therapist_menu())
    assert h.api.commands(chat_scope(556)) == [], "the start's older list gave it back"


async def test_a_bad_user_id_is_explained(harness: Harness) -> None:
    theo = therapist()
    await harness.command(theo, "/addtherapist", "@tess")
    assert harness.last_text(theo.chat_id).startswith("Usage: /addtherapist USER_ID")


# --- care teams: therapist of this group / of another group / administrator ------------------

THEO = therapist()  # configured: an administrator, on no team
SAM = User(id=556, first_name="Sam", last_name="Shoulder")  # on the team of Shoulder Therapy 1
TESS = User(id=555, first_name="Tess", last_name="Hip")  # on the team of Hip Therapy 1
SHOULDER = "Shoulder Therapy 1"
NOT_YOURS = "That group is not one of yours"
NOT_YOUR_TASK = "is not a task of your groups"
ADMINS_ONLY = texts.team_admins_only()
NO_SUCH_CODE = "There is no invite code"
NO_SUCH_CHART = "There is no group or patient called"
# Another team's patient reads like no patient at all, as another team's group does.
NO_MATCHING_PATIENT = "No patient matches"


async def with_teams(h: Harness) -> User:
    """The demo, Alice in Shoulder Therapy 1, Sam on its team and Tess on Hip Therapy 1's."""
    h.seed_demo()
    alice = patient(0)
    await h.command(alice, "/start", "SHOULDER1")
    for user, group in ((SAM, SHOULDER), (TESS, "Hip Therapy 1")):
        await h.command(THEO, "/addtherapist", str(user.id))
        await h.command(THEO, "/addtoteam", group, str(user.id))
        assert "is now on the team of" in h.last_text(THEO.chat_id)
        # A first message: the bot learns their name and app language then, as it does of
        # anyone it knows (``language.follow_telegram``), before any refusal is judged by
        # what it changed.
        await h.command(user, "/help")
    return alice


# command, arguments naming Shoulder Therapy 1 or its task 1, and what each role reads:
# None means the command runs (no refusal), a text is the refusal it must contain.
MATRIX: list[tuple[str, list[str], str | None, str | None, str | None]] = [
    # command, args, therapist of this group, of another group, administrator
    ("patients", [SHOULDER], None, NOT_YOURS, None),
    ("invite", [SHOULDER], None, NOT_YOURS, None),
    (
        "addtask",
        [f"{SHOULDER} | Extra | tomorrow 10:00 | daily | Ok? ; yes_no"],
        None,
        NOT_YOURS,
        None,
    ),
    ("tasks", [SHOULDER], None, NOT_YOURS, None),
    ("task", ["1"], None, NOT_YOUR_TASK, None),
    ("preview", ["1"], None, NOT_YOUR_TASK, None),
    ("deletetask", ["1"], None, NOT_YOUR_TASK, None),
    ("edittask", ["1"], None, NOT_YOUR_TASK, None),
    ("report", [SHOULDER], None, NOT_YOURS, None),
    ("report", ["#1"], None, NOT_YOUR_TASK, None),
    ("export", [SHOULDER], None, NOT_YOURS, None),
    ("export", [SHOULDER, "fhir"], None, NOT_YOURS, None),
    ("chart", [SHOULDER], None, NO_SUCH_CHART, None),
    ("chart", ["Alice", "Test"], None, NO_SUCH_CHART, None),
    ("audit", [SHOULDER], None, NOT_YOURS, None),
    ("removepatient", [SHOULDER, "Nobody"], None, NOT_YOURS, None),
    ("revoke", ["SHOULDER1"], None, NO_SUCH_CODE, None),
    ("patient", ["Alice"], None, NO_MATCHING_PATIENT, None),
    ("media", [SHOULDER], None, NOT_YOURS, None),
    ("setconsent", [SHOULDER], None, NOT_YOURS, None),
    ("setconsent", [SHOULDER, "de"], None, NOT_YOURS, None),
    ("team", [SHOULDER], ADMINS_ONLY, ADMINS_ONLY, None),
    ("addtoteam", [SHOULDER, "555"], ADMINS_ONLY, ADMINS_ONLY, None),
    ("removefromteam", [SHOULDER, "555"], ADMINS_ONLY, ADMINS_ONLY, None),
    ("addtherapist", ["4242"], ADMINS_ONLY, ADMINS_ONLY, None),
    ("removetherapist", ["4242"], ADMINS_ONLY, ADMINS_ONLY, None),
]
REFUSALS = (
    NOT_YOURS,
    NOT_YOUR_TASK,
    ADMINS_ONLY,
    NO_SUCH_CODE,
    NO_SUCH_CHART,
    NO_MATCHING_PATIENT,
    REFUSAL,
)


async def test_every_admin_command_answers_by_team_this_group_another_group_administrator(
    harness: Harness,
) -> None:
    h = harness
    await with_teams(h)
    covered = {command for command, *_ in MATRIX}
    # Every command that names a group, task, patient or code is in the table; the lists
    # (/groups, /tasks, /export, /audit without a group) and /newgroup have their own test.
    lists = {"groups", "newgroup"}
    assert set(admin_commands(h.app)) - {"newtask"} == (covered | lists) - EVERYONE
    for command, args, own, other, admin in MATRIX:
        for user, expected in ((TESS, other), (SAM, own), (THEO, admin)):
            before = snapshot(h.database)
            documents, photos = (
                len(h.api.calls_of("sendDocument")),
                len(h.api.calls_of("sendPhoto")),
            )
            sent = len(h.api.sent_to(user.chat_id))
            await h.command(user, f"/{command}", *args)
            replies = [c.params.get("text") or "" for c in h.api.sent_to(user.chat_id)[sent:]]
            said = "\n".join(replies)
            case = (user.first_name, command, args, said)
            if expected is None:
                assert not any(refusal in said for refusal in REFUSALS), case
            else:
                assert expected in said, case
                assert snapshot(h.database) == before, case
                assert len(h.api.calls_of("sendDocument")) == documents, case
                assert len(h.api.calls_of("sendPhoto")) == photos, case
            await h.command(user, "/cancel")
            # Two commands a case: stay under the flood limit (30 a minute) of each chat.
            h.advance(timedelta(seconds=10))


async def test_another_teams_group_reads_like_one_that_does_not_exist(harness: Harness) -> None:
    h = harness
    await with_teams(h)
    await h.command(TESS, "/patients", SHOULDER)
    foreign = h.last_text(TESS.chat_id)
    await h.command(TESS, "/patients", "Elbow Therapy 9")
    missing = h.last_text(TESS.chat_id)
    assert foreign == f"{NOT_YOURS}: “{SHOULDER}”. Your groups: Hip Therapy 1."
    assert missing == f"{NOT_YOURS}: “Elbow Therapy 9”. Your groups: Hip Therapy 1."
    await h.command(TESS, "/task", "1")
    foreign_task = h.last_text(TESS.chat_id)
    await h.command(TESS, "/task", "999")
    assert foreign_task == h.last_text(TESS.chat_id).replace("999", "1")
    # An administrator is told plainly what exists.
    await h.command(THEO, "/patients", "Elbow Therapy 9")
    assert h.last_text(THEO.chat_id).startswith("There is no group “Elbow Therapy 9”. Groups:")


async def test_lists_show_a_therapist_only_their_own_groups(harness: Harness) -> None:
    h = harness
    alice = await with_teams(h)
    await h.command(TESS, "/groups")
    groups = h.last_text(TESS.chat_id)
    assert "Hip Therapy 1" in groups and SHOULDER not in groups
    await h.command(THEO, "/groups")
    assert "Hip Therapy 1" in h.last_text(THEO.chat_id)
    assert SHOULDER in h.last_text(THEO.chat_id)

    await h.command(TESS, "/tasks")
    tasks = h.last_text(TESS.chat_id)
    assert "Hip mobility session" in tasks and "Press-Ups" not in tasks

    await h.command(TESS, "/newtask")
    assert h.last_message(TESS.chat_id).button_texts == ["Hip Therapy 1"]
    await h.command(TESS, "/cancel")

    await h.command(TESS, "/export")
    [document] = h.api.calls_of("sendDocument")[-1:]
    assert "Press-Ups" not in str(document.params)
    # The file itself: no task and no patient of another team's group.
    await h.command(TESS, "/export", "fhir")
    bundle = h.api.calls_of("sendDocument")[-1].files["document"]["content"].decode()
    assert "Hip mobility session" in bundle and "Press-Ups" not in bundle
    assert "Alice" not in bundle and str(alice.id) not in bundle
    await h.command(SAM, "/export", "fhir")
    assert "Alice" in h.api.calls_of("sendDocument")[-1].files["document"]["content"].decode()

    await h.command(TESS, "/audit")
    audit = h.last_text(TESS.chat_id)
    assert "in Hip Therapy 1" in audit and f"in {SHOULDER}" not in audit
    assert "therapist added" not in audit, "an event of no group is the administrators' only"


async def test_an_export_says_which_groups_it_holds(harness: Harness) -> None:
    """A therapist's /export holds only her groups, and its caption and file name say so:
    her one group by name, or how many of hers; "all groups" is an administrator's."""
    h = harness
    alice = await with_teams(h)  # Alice in Shoulder Therapy 1; Tess on Hip Therapy 1's team
    await h.command(alice, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))  # 10:00: the hip session reaches Alice
    await h.press(alice, "▶️ Start now")
    await h.press(alice, "Yes")

    def sent() -> tuple[str | None, str]:
        document = h.api.calls_of("sendDocument")[-1]
        return h.last_message(document.params["chat_id"]).file_name, document.params["caption"]

    await h.command(TESS, "/export")
    assert sent() == (
        "patientbot-export-hip-therapy-1-2026-11-25.csv",
        "1 answer from Hip Therapy 1, one per row (CSV, UTF-8).",
    )
    await h.command(TESS, "/export", "fhir")
    assert sent() == (
        "patientbot-fhir-hip-therapy-1-2026-11-25.json",
        "1 check-in of 1 patient from Hip Therapy 1 as one FHIR R4B Bundle (JSON).",
    )
    await h.command(THEO, "/addtoteam", "Knee Therapy 1", str(TESS.id))
    await h.command(TESS, "/export")
    assert sent() == (
        "patientbot-export-2-groups-2026-11-25.csv",
        "1 answer from your 2 groups, one per row (CSV, UTF-8).",
    )
    await h.command(TESS, "/export", "fhir")
    assert sent() == (
        "patientbot-fhir-2-groups-2026-11-25.json",
        "1 check-in of 1 patient from your 2 groups as one FHIR R4B Bundle (JSON).",
    )
    await h.command(THEO, "/export")
    file_name, caption = sent()
    assert file_name == "patientbot-export-all-2026-11-25.csv"
    assert caption.endswith(" from all groups, one per row (CSV, UTF-8).")


async def test_a_search_names_only_the_groups_of_the_therapists_own_teams(
    harness: Harness,
) -> None:
    h = harness
    alice = await with_teams(h)
    await h.command(alice, "/start", "HIP1")
    await h.command(patient(1), "/start", "HIP1")

    await h.command(TESS, "/patient", "Test")

    buttons = h.last_message(TESS.chat_id).button_texts
    assert buttons == ["Alice Test · Hip Therapy 1", "Bob Test · Hip Therapy 1"]


async def test_a_button_from_an_old_message_is_checked_again_when_pressed(
    harness: Harness,
) -> None:
    h = harness
    await with_teams(h)
    # Sam, still on the team, opens a deletion, a report and an audit page...
    await h.command(SAM, "/deletetask", "1")
    confirm = h.last_message(SAM.chat_id)
    await h.command(SAM, "/report", SHOULDER)
    report = h.last_message(SAM.chat_id)
    await h.command(THEO, "/team", SHOULDER)
    team = h.last_message(THEO.chat_id)
    # ...then leaves the team: every old button of his is refused, nothing changes.
    await h.command(THEO, "/removefromteam", SHOULDER, str(SAM.id))
    assert "is no longer on the team of Shoulder Therapy 1" in h.last_text(THEO.chat_id)
    before = snapshot(h.database)
    await h.press(SAM, "🗑 Yes, delete", confirm.message_id)
    assert NOT_YOUR_TASK in h.last_text(SAM.chat_id)
    photos = len(h.api.calls_of("sendPhoto"))
    await h.press(SAM, "📈 Chart", report.message_id)
    assert NO_SUCH_CHART in h.callback_answers()[-1].params["text"]
    assert len(h.api.calls_of("sendPhoto")) == photos
    await h.press_data(SAM, "au:1:0:0")
    assert NOT_YOURS in h.callback_answers()[-1].params["text"]
    # A group button of the /newtask dialogue, forged or from before: the group is checked.
    await h.command(TESS, "/newtask")
    await h.press_data(TESS, "tg:1")
    assert h.last_text(TESS.chat_id).startswith(NOT_YOURS)
    await h.command(TESS, "/cancel")
    # Another group's therapist presses the team's buttons: administrators only.
    await h.press_data(TESS, team.buttons[0]["callback_data"], team.message_id)
    assert h.last_text(TESS.chat_id) == ADMINS_ONLY
    assert snapshot(h.database) == before
