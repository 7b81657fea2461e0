"""What the page offers follows the demo as it is played: the README's walk, the suggestion
chips, the photo and video prompts that name the page's own buttons, and /newtask's example
date on the simulated clock."""

from __future__ import annotations

import re
from datetime import date, timedelta

from tests.playground.conftest import ALICE, BOB, THEO, Page


def suggestions(page: Page, user: int) -> list[str]:
    person = next(p for p in page.state["people"] if p["id"] == user)
    chips: list[str] = person["suggestions"]
    return chips


async def to_the_form_check(page: Page, user: int) -> None:
    """The README's walk: the hip group's weekly form check is due at 17:00 on the day after
    the playground's first start (09:00 here); one +1 day from the evening of step 3 (18:00)
    reaches it."""
    await page.advance("PT9H")
    await page.send(user, "/start HIP1")
    await page.advance("P1D")
    assert page.state["clock"]["time"] == "18:00"


async def test_the_readme_walk_reaches_the_form_check_with_one_day_from_the_evening(
    page: Page,
) -> None:
    await to_the_form_check(page, BOB)
    prompts = [text for text in page.bot_texts(BOB) if "Time for your check-in" in text]
    assert any("Weekly form check" in text for text in prompts), page.bot_texts(BOB)


async def test_photo_and_video_questions_name_the_pages_own_buttons(page: Page) -> None:
    await to_the_form_check(page, ALICE)
    # Alice is in the hip group only, and its mobility session is not due on a Thursday.
    await page.press(ALICE, "▶️ Start now")
    photo_question = page.last(ALICE)["text"]
    assert "standing position" in photo_question
    assert "camera button beside the message box" in photo_question
    assert "📎" not in photo_question

    # A typed word instead of the photo: the re-ask names the page's button too.
    await page.send(ALICE, "here it is")
    assert "camera button beside the message box" in page.last(ALICE)["text"]
    assert "📎" not in page.last(ALICE)["text"]

    await page.post("/api/photo", user=ALICE)
    video_question = page.last(ALICE)["text"]
    assert "one squat" in video_question
    assert "video camera button beside the message box" in video_question
    assert "📎" not in video_question
    await page.post("/api/video", user=ALICE)
    assert "How confident" in page.last(ALICE)["text"]


async def test_the_chips_follow_who_has_joined_what(page: Page) -> None:
    await page.refresh()
    assert suggestions(page, ALICE)[:2] == ["/start SHOULDER1", "/start HIP1"]
    theo = suggestions(page, THEO)
    assert "/patient Alice" in theo
    assert any(chip.startswith("/media") for chip in theo)

    await page.send(ALICE, "/start SHOULDER1")
    alice = suggestions(page, ALICE)
    assert "/start SHOULDER1" not in alice
    assert "/start HIP1" in alice
    assert "/tasks" in alice
    assert suggestions(page, BOB)[:2] == ["/start SHOULDER1", "/start HIP1"], "Bob has not"

    await page.send(ALICE, "/start HIP1")
    # Only the demo's third group (the one asking for consent) is left to join.
    assert [c for c in suggestions(page, ALICE) if c.startswith("/start")] == ["/start KNEE1"]

    # The therapist's chips name a patient who joined, and the group they joined.
    await page.send(BOB, "/start HIP1")
    theo = suggestions(page, THEO)
    assert "/patient Alice" in theo
    assert "/report Shoulder Therapy 1" in theo
    assert "/media Shoulder Therapy 1" in theo


async def test_the_newtask_example_date_is_ahead_of_the_simulated_clock(page: Page) -> None:
    for _ in range(3):
        await page.advance("P7D")
    today = date(2026, 11, 25) + timedelta(days=21)
    assert page.state["clock"]["local"] == f"{today:%a %d %b %Y}"

    await page.send(THEO, "/newtask")
    await page.press(THEO, "Shoulder Therapy 1")
    await page.send(THEO, "Evening stretch")
    asked = page.last(THEO)["text"]
    assert "When is it due?" in asked
    found = re.search(r"for example (\d{4}-\d{2}-\d{2}) ", asked)
    assert found, asked
    assert date.fromisoformat(found.group(1)) > today
