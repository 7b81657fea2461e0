"""/edittask's "Change a question": each step shows what the question has now and can keep it,
so changing one part never drops another (the link, the bounds, the alert) unnoticed."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Question
from tests.fakes.harness import Harness, therapist
from tests.fakes.updates import User

THEO = therapist()
PRESS_UPS_DAY_2 = 2  # the demo's "Perform 20 Press-Ups (day 2)": three yes/no questions
PAIN_CHECK = 4  # the demo's "Shoulder pain check": scale (>= 8), number (0-240), text
PRESS_UPS_VIDEO = "https://www.youtube.com/watch?v=IODxDxX7oi4"
PAIN_TEXT = "How strong was your shoulder pain today? (0 = none, 10 = worst imaginable)"
PAIN_TEXT_DE = (
    "Wie stark waren Ihre Schulterschmerzen heute? (0 = keine, 10 = die stärksten vorstellbaren)"
)
KEEP = "↩️ Keep as it is"


def last(h: Harness) -> str:
    return h.last_text(THEO.chat_id)


def buttons(h: Harness) -> list[str]:
    return h.last_message(THEO.chat_id).button_texts


def question(h: Harness, task_id: int, position: int) -> Question:
    with h.database.session() as session:
        found = session.exec(
            select(Question).where(Question.task_id == task_id, Question.position == position)
        ).one()
        session.expunge(found)
        return found


async def change(h: Harness, task_id: int, button: str) -> None:
    await h.command(THEO, "/edittask", str(task_id))
    await h.press(THEO, "✏️ Change a question")
    await h.press(THEO, button)


async def test_changing_only_the_wording_keeps_the_video_link(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    await change(h, PRESS_UPS_DAY_2, "2. Do 20 Push-Ups")
    assert "Currently: Do 20 Push-Ups" in last(h)
    assert buttons(h) == [KEEP]
    await h.text(THEO, "Do 15 Push-Ups")

    # The link step shows the video the patients are shown, and keeps it at a tap; "No link"
    # is still there to remove it on purpose.
    assert f"Currently: {PRESS_UPS_VIDEO}" in last(h)
    assert buttons(h) == [KEEP, "No link"]
    await h.press(THEO, KEEP)
    assert "Currently: Yes / No" in last(h)
    assert KEEP in buttons(h)
    await h.press(THEO, KEEP)
    assert "Currently: Required" in last(h)
    await h.press(THEO, KEEP)
    # No alert now: nothing to keep, and "No alert" keeps that.
    assert buttons(h) == ["🔔 Alert on No", "🔔 Alert on Yes", "No alert"]
    await h.press(THEO, "No alert")
    assert "now reads “Do 15 Push-Ups” (version 2)" in last(h)

    changed = question(h, PRESS_UPS_DAY_2, 2)
    assert (changed.description, changed.link, changed.revision) == (
        "Do 15 Push-Ups",
        PRESS_UPS_VIDEO,
        2,
    )
    assert (changed.response_type, changed.required, changed.alert_rule) == ("yes_no", True, None)


async def test_no_link_still_removes_the_link(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    await change(h, PRESS_UPS_DAY_2, "1. Do 10 Push-Ups")
    await h.press(THEO, KEEP)
    await h.press(THEO, "No link")
    await h.press(THEO, KEEP)
    await h.press(THEO, KEEP)
    assert "Currently: alert on No" in last(h)
    await h.press(THEO, KEEP)
    assert "now reads “Do 10 Push-Ups” (version 2)" in last(h)
    changed = question(h, PRESS_UPS_DAY_2, 1)
    assert (changed.link, changed.revision, changed.alert_rule) == (None, 2, "== no")


async def test_keeping_every_step_changes_nothing(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    before = question(h, PAIN_CHECK, 1)
    await change(h, PAIN_CHECK, "1. How strong was your shoulder pain today…")
    await h.press(THEO, KEEP)  # the text
    assert buttons(h) == ["No link"]  # no link now: "No link" keeps that
    await h.press(THEO, "No link")
    await h.press(THEO, KEEP)  # the type: a scale
    assert "Currently: 0 to 10" in last(h)
    await h.press(THEO, KEEP)  # its ends
    await h.press(THEO, KEEP)  # required
    assert "Currently: alert on 8 or more" in last(h)
    await h.press(THEO, KEEP)  # the alert
    assert "nothing changed" in last(h)
    after = question(h, PAIN_CHECK, 1)
    assert after.revision == before.revision == 1
    assert (after.alert_rule, after.required, after.translations) == (
        ">= 8",
        True,
        before.translations,
    )


async def test_keeping_the_text_keeps_its_translations(harness: Harness) -> None:
    """A new scale makes a new version; the text kept as it was keeps its German and Spanish."""
    h = harness
    h.seed_demo()
    await change(h, PAIN_CHECK, "1. How strong was your shoulder pain today…")
    await h.press(THEO, KEEP)
    await h.press(THEO, "No link")
    await h.press(THEO, KEEP)
    await h.text(THEO, "1-5")
    await h.press(THEO, KEEP)
    # ">= 8" does not fit a 1 to 5 scale: no keeping it.
    assert KEEP not in buttons(h)
    await h.text(THEO, "4+")
    assert "(version 2)" in last(h)
    after = question(h, PAIN_CHECK, 1)
    assert (after.description, after.min_value, after.max_value, after.alert_rule) == (
        PAIN_TEXT,
        1,
        5,
        ">= 4",
    )
    assert after.translations is not None
    assert after.translations["de"]["text"] == PAIN_TEXT_DE


async def test_a_number_keeps_its_bounds_and_whole_numbers(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    await change(h, PAIN_CHECK, "2. How many minutes did you spend on your…")
    await h.text(THEO, "How many minutes did you exercise?")
    await h.press(THEO, "No link")
    await h.press(THEO, KEEP)
    assert "Currently: 0 to 240" in last(h)
    await h.press(THEO, KEEP)
    assert "Currently: Whole numbers" in last(h)
    await h.press(THEO, KEEP)
    await h.press(THEO, KEEP)
    await h.press(THEO, "No alert")
    assert "(version 2)" in last(h)
    after = question(h, PAIN_CHECK, 2)
    assert (after.min_value, after.max_value, after.integer_only, after.revision) == (
        0,
        240,
        True,
        2,
    )


async def test_another_type_starts_its_details_afresh(harness: Harness) -> None:
    """A type other than the current one has no current options or bounds to keep."""
    h = harness
    h.seed_demo()
    await change(h, PAIN_CHECK, "2. How many minutes did you spend on your…")
    await h.press(THEO, KEEP)
    await h.press(THEO, "No link")
    await h.press(THEO, "Scale")
    assert buttons(h) == ["0 to 10"]
    await h.press(THEO, "0 to 10")
    await h.press(THEO, KEEP)
    await h.press(THEO, "No alert")
    after = question(h, PAIN_CHECK, 2)
    assert (after.response_type, after.min_value, after.max_value, after.revision) == (
        "scale",
        None,
        None,
        2,
    )


async def test_a_colleagues_change_saved_meanwhile_is_not_undone_by_what_was_kept(
    harness: Harness,
) -> None:
    """Theo keeps "no alert" while Tess, in her own chat, sets an alert on the same question:
    his save used to write his kept "no alert" over hers, and the clinic lost the alert."""
    h = harness
    h.seed_demo()
    tess = User(id=555, first_name="Tess", last_name="Team")
    await h.command(THEO, "/addtherapist", str(tess.id))
    await h.command(THEO, "/addtoteam", "Shoulder Therapy 1", str(tess.id))
    await change(h, PRESS_UPS_DAY_2, "2. Do 20 Push-Ups")
    await h.text(THEO, "Do 15 Push-Ups")
    await h.press(THEO, KEEP)  # the link
    await h.press(THEO, KEEP)  # the type
    await h.press(THEO, KEEP)  # required

    await h.command(tess, "/edittask", str(PRESS_UPS_DAY_2))
    await h.press(tess, "✏️ Change a question")
    await h.press(tess, "2. Do 20 Push-Ups")
    for _step in range(4):  # text, link, type, required
        await h.press(tess, KEEP)
    await h.press(tess, "🔔 Alert on No")
    assert "now reads “Do 20 Push-Ups”" in h.last_text(tess.chat_id)

    await h.press(THEO, "No alert")

    assert last(h) == (
        "Question 2 was changed by someone else while you were changing it, so yours is not "
        f"saved over theirs. /edittask {PRESS_UPS_DAY_2} shows it as it is now.\n"
        "Nothing was saved."
    )
    kept = question(h, PRESS_UPS_DAY_2, 2)
    assert (kept.description, kept.alert_rule) == ("Do 20 Push-Ups", "== no")
