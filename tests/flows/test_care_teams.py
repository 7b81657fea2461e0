"""Care teams: /team, /addtoteam, /removefromteam, and alerts and digests for the team only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot import texts
from bot.clock import ManualClock
from bot.config import I18nSettings, Settings
from bot.handlers.therapist.common import therapist_menu
from bot.texts.language import speaking
from storage.db import Database
from storage.models import AuditEvent, GroupTherapist
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.updates import User
from tests.flows.test_charts import TASK
from tests.flows.test_therapist_support import invite_code

THEO = therapist()  # configured: an administrator
TESS = User(id=555, first_name="Tess", last_name="Team")
SAM = User(id=556, first_name="Sam", last_name="Solo")
ALICE, BOB = patient(0), patient(1)


def alerts_to(h: Harness, user: User) -> list[str]:
    return [t for t in h.texts(user.chat_id) if "answered" in t and "Pain now?" in t]


def digests_to(h: Harness, user: User) -> list[str]:
    return [
        c.params["caption"]
        for c in h.api.sent_to(user.chat_id)
        if c.method == "sendPhoto" and "Weekly digest" in c.params.get("caption", "")
    ]


async def knees(h: Harness) -> None:
    """Theo makes Knees (so he is on its team), Tess joins the team, Sam is on none."""
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", TASK)
    await h.command(THEO, "/addtherapist", str(TESS.id))
    await h.command(THEO, "/addtherapist", str(SAM.id))
    await h.command(TESS, "/start")  # Tess writes to the bot once, so it knows her name
    await h.command(THEO, "/addtoteam", "Knees", str(TESS.id))
    await h.command(ALICE, "/start", code)


async def test_team_lists_members_and_its_buttons_take_one_off(harness: Harness) -> None:
    h = harness
    await knees(h)
    assert h.last_text(THEO.chat_id) != texts.admin_refused()

    await h.command(THEO, "/team", "Knees")
    listing = h.last_message(THEO.chat_id)
    lines = h.last_text(THEO.chat_id).splitlines()
    assert lines[0] == "<b>Team of Knees</b>" or lines[0] == "Team of Knees"
    assert lines[1].startswith("• Theo Therapist – 9001, administrator, since ")
    assert lines[2].startswith("• Tess Team – 555, since ")
    assert listing.button_texts == ["Remove Theo Therapist", "Remove Tess Team"]

    await h.press(THEO, "Remove Tess Team", listing.message_id)
    assert h.last_text(THEO.chat_id) == (
        "Tess Team (555) is no longer on the team of Knees: they no longer see it or get its "
        "alerts."
    )
    # The same old button again: nothing left to do, said so.
    await h.press(THEO, "Remove Tess Team", listing.message_id)
    assert (
        h.last_text(THEO.chat_id)
        == "Tess Team (555) is not on the team of Knees; nothing changed."
    )
    await h.command(TESS, "/patients", "Knees")
    assert h.last_text(TESS.chat_id).startswith("That group is not one of yours: “Knees”.")

    await h.command(THEO, "/addtoteam", "Knees", "555")
    assert h.last_text(THEO.chat_id) == (
        "Tess Team (555) is now on the team of Knees: they see its patients, tasks and reports "
        "and get its alerts and digests."
    )
    await h.command(THEO, "/addtoteam", "Knees", "555")
    assert "already on the team of Knees; nothing changed" in h.last_text(THEO.chat_id)
    await h.command(TESS, "/patients", "Knees")
    assert "Alice" in h.last_text(TESS.chat_id)

    with h.database.read_session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert actions.count("team_member_added") == 2
    assert actions.count("team_member_removed") == 1


async def test_a_team_too_large_for_one_message_or_keyboard_is_listed_whole_in_parts(
    harness: Harness,
) -> None:
    """110 therapists: the list is past Telegram's 4096 characters and the buttons past its
    100, so the one message with a button each was refused and /team answered nothing."""
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    colleagues = range(10_000, 10_110)
    for user_id in colleagues:
        await h.command(THEO, "/addtherapist", str(user_id))
        await h.command(THEO, "/addtoteam", "Knees", str(user_id))
    before = len(h.api.sent_to(THEO.chat_id))

    await h.command(THEO, "/team", "Knees")

    parts = h.api.sent_to(THEO.chat_id)[before:]
    assert len(parts) >= 2
    assert all(c.ok and "reply_markup" not in c.params for c in parts)
    listed = "\n".join(c.params["text"] for c in parts)
    assert [line.split(" – ")[1].split(",")[0] for line in listed.splitlines() if "•" in line] == [
        str(user_id) for user_id in (THEO.id, *colleagues)
    ]
    assert listed.splitlines()[-1] == "To take someone off the team: /removefromteam 1 USER_ID"


async def test_team_commands_explain_bad_input(harness: Harness) -> None:
    h = harness
    await knees(h)
    await h.command(THEO, "/team")
    assert h.last_text(THEO.chat_id) == texts.team_usage()
    await h.command(THEO, "/addtoteam", "Knees")
    assert h.last_text(THEO.chat_id) == (
        "Which therapist? Put their numeric Telegram user id after the group: "
        "/addtoteam Knees USER_ID"
    )
    await h.command(THEO, "/addtoteam", "Elbows")
    assert h.last_text(THEO.chat_id) == texts.team_usage()
    await h.command(THEO, "/addtoteam", "Knees", "@tess")
    assert h.last_text(THEO.chat_id) == texts.admin_bad_user_id("@tess")
    await h.command(THEO, "/addtoteam", "Elbows", "555")
    assert h.last_text(THEO.chat_id).startswith("There is no group “Elbows”. Groups: Knees")
    await h.command(THEO, "/addtoteam", "Knees", "4242")
    assert (
        h.last_text(THEO.chat_id)
        == "4242 is not a therapist. Add them with /addtherapist 4242 first."
    )
    await h.command(THEO, "/removefromteam", "Knees", "4242")
    assert h.last_text(THEO.chat_id) == "4242 is not on the team of Knees; nothing changed."


async def test_a_group_made_by_a_therapist_is_theirs_and_nobody_elses(harness: Harness) -> None:
    h = harness
    await knees(h)
    await h.command(SAM, "/newgroup", "Elbows")
    assert "Created the group Elbows" in h.last_text(SAM.chat_id)
    await h.command(SAM, "/groups")
    assert "Elbows" in h.last_text(SAM.chat_id) and "Knees" not in h.last_text(SAM.chat_id)
    await h.command(TESS, "/patients", "Elbows")
    assert (
        h.last_text(TESS.chat_id)
        == "That group is not one of yours: “Elbows”. Your groups: Knees."
    )


async def test_alerts_and_digests_go_to_the_team_only(harness: Harness) -> None:
    h = harness
    await knees(h)  # Wed 25 Nov 09:00
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "9")
    assert len(alerts_to(h, THEO)) == 1, "Theo made the group: he is on its team"
    assert len(alerts_to(h, TESS)) == 1
    assert alerts_to(h, SAM) == [], "a therapist of no team gets no alert"

    # Theo leaves the team: an administrator gets a group's alerts only as one of its team.
    await h.command(THEO, "/removefromteam", "Knees", str(THEO.id))
    await h.advance_and_scan(timedelta(days=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "9")
    assert len(alerts_to(h, THEO)) == 1
    assert len(alerts_to(h, TESS)) == 2

    await h.advance_and_scan(timedelta(days=5))  # Mon 30 Nov 10:00, past the digest's 08:00
    assert len(digests_to(h, TESS)) == 1
    assert digests_to(h, THEO) == [] and digests_to(h, SAM) == []

    # Nobody left on the team: alerts fall back to the administrators, none is lost.
    await h.command(THEO, "/removefromteam", "Knees", str(TESS.id))
    await h.advance_and_scan(timedelta(days=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "9")
    assert len(alerts_to(h, THEO)) == 2
    assert len(alerts_to(h, TESS)) == 2


async def test_removing_a_therapist_ends_their_team_places(harness: Harness) -> None:
    h = harness
    await knees(h)
    await h.command(THEO, "/removetherapist", str(TESS.id))
    with h.database.read_session() as session:
        places = session.exec(select(GroupTherapist)).all()
    assert len(places) == 1, "only Theo, the group's creator, is left on its team"


async def test_a_patient_of_two_groups_is_charted_with_only_the_therapists_groups(
    harness: Harness,
) -> None:
    h = harness
    await knees(h)  # Wed 25 Nov 09:00; Alice is in Knees (Theo and Tess)
    await h.command(SAM, "/newgroup", "Elbows")
    await h.command(SAM, "/invite", "Elbows")
    code = invite_code(h.last_text(SAM.chat_id))
    await h.command(ALICE, "/start", code)
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "9")

    await h.command(THEO, "/chart", "Alice", "Test")
    theo_caption = h.api.calls_of("sendPhoto")[-1].params["caption"]
    await h.command(SAM, "/chart", "Alice", "Test")
    sam_caption = h.api.calls_of("sendPhoto")[-1].params["caption"]
    assert "Done: 1 of 1" in theo_caption and "Pain now?" in theo_caption
    # Sam's Elbows has no task yet: Knees' check-in and its answers are not his to see.
    assert "Done: 1" not in sam_caption and "Pain now?" not in sam_caption


async def test_chart_finds_by_a_part_of_the_name_only_the_therapists_patients(
    harness: Harness,
) -> None:
    """/chart finds a patient as /patient does, among the patients of the therapist's own
    groups only; a choice's button carries the question (any alphabet) and is checked again
    when pressed."""
    h = harness
    await knees(h)  # Alice in Knees (Theo and Tess); Sam on no team
    await h.command(THEO, "/invite", "Knees")
    await h.command(BOB, "/start", invite_code(h.last_text(THEO.chat_id)))
    await h.command(SAM, "/newgroup", "Elbows")
    await h.command(SAM, "/invite", "Elbows")
    await h.command(BOB, "/start", invite_code(h.last_text(SAM.chat_id)))

    await h.command(SAM, "/chart", "alice")
    assert h.last_text(SAM.chat_id).startswith(
        "There is no group or patient called “alice”. Groups: Elbows."
    )
    await h.command(SAM, "/chart", "test")  # only Bob is Sam's
    assert h.api.calls_of("sendPhoto")[-1].params["caption"].startswith("<b>Bob Test · ")

    await h.command(TESS, "/chart", "test", "Übelkeit")
    choice = h.last_message(TESS.chat_id)
    assert choice.button_texts == ["Alice Test · Knees", "Bob Test · Knees"]
    await h.press(TESS, "Bob Test · Knees", choice.message_id)
    assert "“Übelkeit”" in h.callback_answers()[-1].params["text"]
    photos = len(h.api.calls_of("sendPhoto"))
    await h.command(THEO, "/removefromteam", "Knees", str(TESS.id))
    await h.press(TESS, "Alice Test · Knees", choice.message_id)
    assert h.callback_answers()[-1].params["text"] == "That patient is not in one of your groups."
    assert len(h.api.calls_of("sendPhoto")) == photos


async def test_a_therapist_on_no_team_is_told_so_not_that_there_are_no_groups(
    harness: Harness,
) -> None:
    h = harness
    await knees(h)
    expected = (
        "You are on no group's team yet: an administrator can add you with /addtoteam, or "
        "create a group of your own with /newgroup NAME."
    )
    await h.command(SAM, "/groups")
    assert h.last_text(SAM.chat_id) == expected
    await h.command(SAM, "/newtask")
    assert h.last_text(SAM.chat_id) == expected
    assert not any("There are no groups yet" in t for t in h.texts(SAM.chat_id))

    # With a group of his own he sees it, and only it.
    await h.command(SAM, "/newgroup", "Hips")
    await h.command(SAM, "/groups")
    assert "Hips" in h.last_text(SAM.chat_id) and "Knees" not in h.last_text(SAM.chat_id)


async def test_a_group_name_ending_in_a_number_is_not_cut_into_group_and_argument(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()  # "Shoulder Therapy 1", on nobody's team
    await knees(h)

    # The "1" ends the group's name: what is missing is the user id.
    await h.command(THEO, "/addtoteam", "Shoulder Therapy 1")
    assert h.last_text(THEO.chat_id) == (
        "Which therapist? Put their numeric Telegram user id after the group: "
        "/addtoteam Shoulder Therapy 1 USER_ID"
    )
    await h.command(THEO, "/removefromteam", "Shoulder", "Therapy", "1")
    assert h.last_text(THEO.chat_id) == (
        "Which therapist? Put their numeric Telegram user id after the group: "
        "/removefromteam Shoulder Therapy 1 USER_ID"
    )
    await h.command(THEO, "/addtoteam", "Shoulder Therapy 1", str(TESS.id))
    assert h.last_text(THEO.chat_id).startswith(
        "Tess Team (555) is now on the team of Shoulder Therapy 1"
    )
    await h.command(THEO, "/removefromteam", "Shoulder Therapy 1", str(TESS.id))
    assert "no longer on the team of Shoulder Therapy 1" in h.last_text(THEO.chat_id)

    # Another team's therapist is refused with the name as typed, as for any group not hers.
    await h.command(TESS, "/media", "Shoulder Therapy 1")
    assert h.last_text(TESS.chat_id) == (
        "That group is not one of yours: “Shoulder Therapy 1”. Your groups: Knees."
    )
    await h.command(TESS, "/media", "Nowhere 3")
    assert h.last_text(TESS.chat_id) == (
        "That group is not one of yours: “Nowhere 3”. Your groups: Knees."
    )


async def test_an_unknown_group_in_a_clinic_of_many_groups_is_answered_in_one_message(
    harness: Harness, tmp_path: Path
) -> None:
    """88 groups: the reply listed every name, past Telegram's 4096 characters, and the
    therapist read "What you sent is too long for me to quote back" for an 11-letter typo."""
    h = harness
    names = [f"Clinic Group {n} – Shoulder and Neck Rehabilitation Wing" for n in range(88)]
    seed = tmp_path / "many.toml"
    seed.write_text("".join(f'[[groups]]\nname = "{name}"\n' for name in names), encoding="utf-8")
    h.seed_demo(seed)

    for command in ("/report", "/invite", "/audit"):
        await h.command(THEO, command, "Nonexistent")
        said = h.last_text(THEO.chat_id)
        assert said.startswith(f"There is no group “Nonexistent”. Groups: {names[0]}, "), command
        assert said.endswith(", and 68 more."), command


async def test_a_therapist_who_never_wrote_gets_alerts_in_the_clinics_language(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """A clinic speaking German adds Nina with /addtherapist; she has not written to the bot.
    Her alerts came in English: the row's language said "en" without Telegram saying so."""
    german = settings.model_copy(update={"i18n": I18nSettings(default_language="de")})
    h = await Harness(german, database, clock).start()
    try:
        nina = User(id=557, first_name="Nina", last_name="Neu", language_code="de")
        await knees(h)
        await h.command(THEO, "/addtherapist", str(nina.id))
        await h.command(THEO, "/addtoteam", "Knees", str(nina.id))
        await h.advance_and_scan(timedelta(hours=1))
        await h.press(ALICE, "▶️ Start now")
        await h.press(ALICE, "9")

        [alert] = [t for t in h.texts(nina.chat_id) if t.startswith("🚨")]
        assert "Alice Test hat 9 auf „Pain now?“ geantwortet" in alert, alert
        assert len(alerts_to(h, TESS)) == 1, "Tess wrote to the bot in English: hers stay so"
    finally:
        await h.stop()


async def test_a_new_group_named_as_another_teams_does_not_say_that_group_exists(
    harness: Harness,
) -> None:
    """ "There is already a group called “knees”" told Sam, on no team, of another team's group
    (a name can say what its patients are treated for). Theo, on its team, is told plainly."""
    h = harness
    await knees(h)

    await h.command(SAM, "/newgroup", "knees")

    assert h.last_text(SAM.chat_id) == texts.admin_group_name_taken()
    await h.command(THEO, "/newgroup", "knees")
    assert h.last_text(THEO.chat_id) == "There is already a group called “knees”."


async def test_a_therapist_on_no_team_is_told_so_by_tasks_and_export(harness: Harness) -> None:
    """/tasks said "no tasks yet, create one with /newtask" (which refused), and /export sent
    an empty file of "your 0 groups", recorded in the trail as data that left."""
    h = harness
    await knees(h)
    nina = User(id=557, first_name="Nina", last_name="Neu", language_code="en")
    await h.command(THEO, "/addtherapist", str(nina.id))

    for command in ("/tasks", "/export", "/export fhir"):
        await h.command(nina, *command.split())
        assert h.last_text(nina.chat_id) == texts.team_none_yet(), command
    assert h.api.calls_of("sendDocument") == []
    with h.database.read_session() as session:
        exports = session.exec(
            select(AuditEvent).where(AuditEvent.action == "data_exported")
        ).all()
    assert exports == []


async def test_a_therapist_who_writes_in_german_gets_alerts_in_german(harness: Harness) -> None:
    """Nina, added by id to an English clinic's team, writes from a German Telegram: every
    reply was German, her alerts English, since her row kept no app language until /language.
    /team listed her as "(no name yet)" however often she wrote."""
    h = harness
    nina = User(id=557, first_name="Nina", last_name="Neu", language_code="de")
    await knees(h)
    await h.command(THEO, "/addtherapist", str(nina.id))
    await h.command(THEO, "/addtoteam", "Knees", str(nina.id))
    await h.command(nina, "/help")
    # Her chat's admin menu, published in English when she was added, is German now.
    with speaking("de"):
        german_menu = [{"command": c, "description": d} for c, d in therapist_menu()]
    assert h.api.commands({"type": "chat", "chat_id": nina.chat_id}) == german_menu

    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "9")

    [alert] = [t for t in h.texts(nina.chat_id) if t.startswith("🚨")]
    assert "Alice Test hat 9 auf „Pain now?“ geantwortet" in alert, alert
    await h.command(THEO, "/team", "Knees")
    assert "Nina Neu" in h.last_text(THEO.chat_id)


async def test_a_teams_trail_shows_a_members_erasure_and_the_therapists_own_export(
    harness: Harness,
) -> None:
    """Both are recorded under no group (an erasure spans the patient's groups; an export of
    "your groups" names none), so Tess's /audit left them out: her team never saw that a
    member's data was erased, nor she her own export."""
    h = harness
    await knees(h)
    await h.command(ALICE, "/deletemydata")
    await h.press(ALICE, "Yes, delete everything")
    await h.command(TESS, "/export")

    await h.command(TESS, "/audit")
    tess_sees = h.last_text(TESS.chat_id)
    await h.command(SAM, "/audit")
    sam_sees = h.last_text(SAM.chat_id)

    assert "data erased at the patient's request" in tess_sees
    assert "therapist 555 · data exported" in tess_sees
    assert "data erased" not in sam_sees and "data exported" not in sam_sees
