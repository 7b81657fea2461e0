"""The playground's HTTP API, as the page uses it: act as a person, read back the state."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from bot.clock import ManualClock
from bot.playground import PlaygroundServer
from bot.playground.server import check_loopback
from bot.playground.session import PlaygroundError, parse_advance
from tests.conftest import START
from tests.playground.conftest import ALICE, BOB, THEO, Page, running_playground


async def test_the_page_and_its_script_are_served_with_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert '<script src="/static/app.js"></script>' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = await client.get("/static/app.js")
    assert script.status_code == 200
    assert "renderText" in script.text


async def test_the_state_lists_the_therapist_and_three_patients_at_the_simulated_time(
    page: Page,
) -> None:
    state = await page.refresh()
    assert [(p["name"], p["role"]) for p in state["people"]] == [
        ("Theo", "therapist"),
        ("Alice", "patient"),
        ("Bob", "patient"),
        ("Chloe", "patient"),
    ]
    assert state["clock"]["time"] == "09:00"
    assert state["clock"]["local"] == "Wed 25 Nov 2026"
    assert all(chat == [] for chat in state["chats"].values())


async def test_a_patient_who_sends_help_sees_it_and_the_bots_answer(page: Page) -> None:
    await page.send(ALICE, "/help")
    mine, answer = page.chat(ALICE)
    assert (mine["from"], mine["text"]) == ("person", "/help")
    assert answer["from"] == "bot"
    assert "/tasks" in answer["text"]
    assert {"type": "bold", "offset": 0, "length": len("What you can do")} in answer["entities"]
    assert page.chat(BOB) == [], "other people's chats stay untouched"


async def test_the_playground_therapist_gets_the_admin_commands(page: Page) -> None:
    await page.send(THEO, "/help")
    assert "/report" in page.last(THEO)["text"]
    therapist = page.state["people"][0]
    assert "/report Shoulder Therapy 1" in therapist["suggestions"]
    assert any(c["command"] == "report" for c in therapist["commands"])


async def test_joining_then_advancing_the_clock_brings_the_due_prompt(page: Page) -> None:
    await page.send(ALICE, "/start SHOULDER1")
    assert "Shoulder Therapy 1" in page.last(ALICE)["text"]
    state = await page.advance("PT1H")
    assert state["clock"]["time"] == "10:00"
    assert "Time for your check-in" not in page.last(ALICE)["text"]
    state = await page.advance(3600)
    assert state["clock"]["time"] == "11:00"
    prompt = page.last(ALICE)
    assert "Perform 20 Press-Ups (day 1)" in prompt["text"]
    assert prompt["buttons"][0][0]["text"] == "▶️ Start now"


async def test_pressing_buttons_walks_through_the_questions(page: Page) -> None:
    await page.send(ALICE, "/start SHOULDER1")
    await page.advance("PT2H")
    await page.press(ALICE, "▶️ Start now")
    assert "Do 10 Push-Ups" in page.last(ALICE)["text"]
    await page.press(ALICE, "Yes")
    assert "Do 20 Push-Ups" in page.last(ALICE)["text"]
    await page.press(ALICE, "Yes")
    await page.press(ALICE, "No")
    assert "Done" in page.last(ALICE)["text"]


async def test_a_stale_button_answers_with_a_notice_for_the_page_to_show(page: Page) -> None:
    await page.send(ALICE, "/start SHOULDER1")
    await page.advance("PT2H")
    # The list of open check-ins keeps its Start buttons (the prompt loses its own once the
    # check-in is done); starting the finished check-in from it again is refused politely.
    await page.send(ALICE, "/tasks")
    listing = page.last(ALICE)
    await page.press(ALICE, "▶️ Start now")
    for answer in ("Yes", "Yes", "Yes"):
        await page.press(ALICE, answer)
    start = listing["buttons"][0][0]["data"]
    await page.post("/api/press", user=ALICE, message_id=listing["id"], callback_data=start)
    notice = page.state["notices"][-1]
    assert notice["person"] == ALICE
    assert "already completed" in notice["text"]


async def test_a_jump_of_a_day_shows_the_evening_prompt_on_the_way(page: Page) -> None:
    await page.send(ALICE, "/start SHOULDER1")
    state = await page.advance("P1D")
    assert state["clock"]["time"] == "09:00"
    assert state["clock"]["local"] == "Thu 26 Nov 2026"
    texts = "\n".join(page.bot_texts(ALICE))
    assert "Perform 20 Press-Ups (day 1)" in texts
    # Due at 18:00 and closed by 06:00: only a clock that walks through the evening shows it.
    assert "Shoulder pain check" in texts


async def test_a_button_that_is_not_on_the_message_is_refused(
    page: Page, client: httpx.AsyncClient
) -> None:
    await page.send(ALICE, "/start SHOULDER1")
    message = page.last(ALICE)
    response = await client.post(
        "/api/press", json={"user": ALICE, "message_id": message["id"], "callback_data": "p:1:x"}
    )
    assert response.status_code == 400
    assert "no such button" in response.json()["error"]


async def test_a_photo_shows_in_the_chat_and_its_picture_is_served(
    page: Page, client: httpx.AsyncClient
) -> None:
    await page.post("/api/photo", user=BOB)
    photo = page.chat(BOB)[0]
    assert (photo["from"], photo["kind"]) == ("person", "photo")
    picture = await client.get(photo["file_url"])
    assert picture.status_code == 200
    assert picture.headers["Content-Type"].startswith("image/svg+xml")
    await page.post("/api/video", user=BOB)
    assert page.chat(BOB)[-1]["kind"] in {"video", "text"}
    assert any(m["kind"] == "video" and m["from"] == "person" for m in page.chat(BOB))


async def test_a_file_the_bot_sends_downloads_as_an_attachment(
    page: Page, client: httpx.AsyncClient
) -> None:
    await page.send(THEO, "/export")
    document = next(m for m in page.chat(THEO) if m["kind"] == "document")
    response = await client.get(document["file_url"])
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.text.startswith("group,task")


async def test_the_state_long_poll_returns_as_soon_as_something_changes(
    page: Page, client: httpx.AsyncClient
) -> None:
    version = (await page.refresh())["version"]
    waiting = asyncio.create_task(client.get(f"/api/state?since={version}&wait=20"))
    await asyncio.sleep(0)  # let the long poll reach the server first
    await page.send(ALICE, "/help")
    async with asyncio.timeout(5):
        response = await waiting
    assert response.json()["version"] > version


async def test_an_unchanged_state_long_poll_gives_up_after_its_wait(
    client: httpx.AsyncClient, page: Page
) -> None:
    version = (await page.refresh())["version"]
    response = await client.get(f"/api/state?since={version}&wait=0.2")
    assert response.json()["version"] == version


async def test_requests_naming_another_host_are_refused(server: PlaygroundServer) -> None:
    # A page on another site that rebinds its own name to 127.0.0.1 still sends its name.
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/api/state", headers={"Host": "attacker.example:80"})
    assert response.status_code == 421


async def test_a_post_that_is_not_json_is_refused(client: httpx.AsyncClient) -> None:
    # A cross-site form can only send form encodings; JSON needs a preflight we never grant.
    response = await client.post("/api/send", data={"user": str(ALICE), "text": "/help"})
    assert response.status_code == 415


async def test_unknown_people_and_bad_clock_moves_get_a_plain_error(
    client: httpx.AsyncClient,
) -> None:
    nobody = await client.post("/api/send", json={"user": 1, "text": "/help"})
    assert nobody.status_code == 400
    assert "nobody" in nobody.json()["error"]
    backwards = await client.post("/api/clock", json={"advance": "-PT1H"})
    assert backwards.status_code == 400


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("pt90s", timedelta(seconds=90)),
        (3600, timedelta(hours=1)),
        (0.5, timedelta(seconds=0.5)),
    ],
)
def test_clock_moves_read_iso_durations_and_seconds(given: object, expected: timedelta) -> None:
    assert parse_advance(given) == expected


@pytest.mark.parametrize("given", ["P", "PT", "1H", "yesterday", 0, -5, True, None, "P40D"])
def test_clock_moves_refuse_nonsense_and_going_back(given: object) -> None:
    with pytest.raises(PlaygroundError):
        parse_advance(given)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_the_server_refuses_to_listen_beyond_the_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        check_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_the_loopback_is_fine(host: str) -> None:
    check_loopback(host)


async def test_a_restarted_playground_answers_the_first_message_and_takes_a_typed_answer(
    database_url: str,
) -> None:
    """The database keeps the last run's update and message ids; the new run's never
    repeat them, or the inbox drops the update and the answer counts as a redelivery. Its
    clock does not go back to before the last run's evening either, though it starts from
    that morning's real time: an answer would be dated before its question."""
    async with (
        running_playground(database_url, ManualClock(START)) as first,
        httpx.AsyncClient(base_url=first.url, timeout=30) as http,
    ):
        before = Page(http)
        await before.send(ALICE, "/start SHOULDER1")
        await before.advance("PT9H")
        await before.press(ALICE, "▶️ Start now")
        await before.press(ALICE, "3")
        assert "How many minutes" in before.last(ALICE)["text"]

    async with (
        running_playground(database_url, ManualClock(START)) as second,
        httpx.AsyncClient(base_url=second.url, timeout=30) as http,
    ):
        after = Page(http)
        assert (await after.refresh())["clock"]["time"] == "18:00"
        await after.send(ALICE, "/help")
        assert after.last(ALICE)["from"] == "bot", "the first message after a restart is answered"
        await after.send(ALICE, "25")
        assert "Anything you want your therapist to know?" in after.last(ALICE)["text"]
        first_id = after.chat(ALICE)[0]["id"]
        assert first_id > max(m["id"] for m in before.chat(ALICE)), "ids carry on"


async def test_a_person_whose_app_speaks_german_is_answered_in_german(page: Page) -> None:
    """The page's "App language" selector: the person's next updates carry that language,
    as Telegram's do, and the bot writes in it, menu included, until they choose one."""
    state = await page.post("/api/language", user=BOB, language="de")
    bob = next(p for p in state["people"] if p["id"] == BOB)
    assert bob["language"] == "de"
    assert {"code": "de", "name": "Deutsch"} in state["languages"]
    menu = {c["command"]: c["description"] for c in bob["commands"]}
    assert menu["language"] == "Sprache ändern"

    await page.send(BOB, "/start HIP1")
    assert page.last(BOB)["text"].startswith("✅ Willkommen! Sie sind Hip Therapy 1 beigetreten.")
    await page.send(ALICE, "/start HIP1")
    assert page.last(ALICE)["text"].startswith("✅ Welcome! You have joined Hip Therapy 1.")

    # His own choice outranks his app's language from then on.
    await page.send(BOB, "/language es")
    await page.post("/api/language", user=BOB, language="en")
    await page.send(BOB, "/help")
    assert "Qué puede hacer" in page.last(BOB)["text"]


async def test_a_language_the_bot_does_not_speak_is_refused_plainly(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/language", json={"user": BOB, "language": "fr"})
    assert response.status_code == 400
    assert response.json()["error"] == "the bot speaks en, de, es, not 'fr'"
