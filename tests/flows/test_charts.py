"""Charts as photos (/progress, /chart, the report's button) and the weekly digest."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import timedelta

from PIL import Image
from sqlmodel import col, select

from bot import chart_figures
from bot.clock import ManualClock
from bot.config import DigestSettings, Settings
from bot.services import progress
from bot.services.audit import OPERATOR
from fakebotapi import ApiCall
from storage.db import Database
from storage.models import Answer, Delivery, Digest, DigestStatus, Person
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.updates import User
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
ALICE, BOB, CHLOE = patient(0), patient(1), patient(2)
DAYS = 28
TASK = f"Knees | Daily check | today 10:00 | daily x{DAYS} | Pain now? ; scale ; >= 8"
IGNORED = {5, 12}  # nothing answered: these expire
SKIPPED = {19}  # the patient says skip: missed


def pain(day: int) -> int:
    return (day * 3) % 11


async def group_with(h: Harness, *people: User, task: str | None = TASK) -> None:
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    if task:
        await h.command(THEO, "/addtask", task)
    for person in people:
        await h.command(person, "/start", code)


async def four_weeks_of_answers(h: Harness) -> None:
    """Alice answers the daily pain question for four weeks, but for three days."""
    await group_with(h, ALICE)
    await h.advance_and_scan(timedelta(hours=1))  # Wed 25 Nov 10:00, the first one is due
    for day in range(DAYS):
        if day in SKIPPED:
            await h.press(ALICE, "⏭ Skip this task")
        elif day not in IGNORED:
            await h.press(ALICE, "▶️ Start now")
            await h.press(ALICE, str(pain(day)))
        await h.advance_and_scan(timedelta(days=1))


def photos(h: Harness, chat_id: int) -> list[ApiCall]:
    return [c for c in h.api.sent_to(chat_id) if c.method == "sendPhoto"]


async def test_progress_shows_four_weeks_as_one_photo_with_the_numbers(harness: Harness) -> None:
    h = harness
    await four_weeks_of_answers(h)
    before = len(h.api.sent_to(ALICE.chat_id))
    await h.command(ALICE, "/progress")

    sent = h.api.sent_to(ALICE.chat_id)[before:]
    assert [c.method for c in sent] == ["sendPhoto"]
    caption = sent[0].params["caption"]
    answered = [pain(d) for d in range(DAYS) if d not in IGNORED | SKIPPED]
    assert caption.splitlines() == [
        "<b>Your progress · last 8 weeks</b>",
        f"✅ Done: {DAYS - 3} of {DAYS} check-ins.",
        # Completed since the skip on day 19: days 20 to 27.
        "🔥 8 completed in a row.",
        "Also: missed 3 (2 expired).",
        f"• Pain now? (Daily check): latest {pain(27)} (22 Dec), lowest {min(answered)}, "
        f"highest {max(answered)}, {len(answered)} answers; alert &gt;= 8",
    ]
    picture = Image.open(io.BytesIO(sent[0].files["photo"]["content"]))
    assert picture.format == "PNG"
    # 1080 px wide for a phone; the strip and one trend panel: 8 in at 150 dpi.
    assert picture.size == (1080, 1200)

    found = await asyncio.to_thread(
        progress.progress_for_user, h.database, h.clock.now(), "Europe/London", ALICE.id
    )
    figure = chart_figures.progress_figure(found, for_patient=True)
    line = figure.axes[1].lines[0]
    with h.database.read_session() as session:
        stored = session.exec(
            select(Answer.value_number)
            .join(Delivery, col(Delivery.id) == Answer.delivery_id)
            .join(Person, col(Person.id) == Delivery.person_id)
            .where(Person.telegram_user_id == ALICE.id)
            .order_by(col(Delivery.due_at))
        ).all()
    assert list(line.get_ydata()) == stored == answered
    # x is the day since the strip's first day (Monday 2 Nov); the first answer is on 25 Nov.
    assert list(line.get_xdata())[:2] == [23, 24]
    threshold = figure.axes[1].lines[1]
    assert list(threshold.get_ydata()) == [8, 8]


async def test_progress_with_nothing_done_does_not_begin_with_also(harness: Harness) -> None:
    """ "Also: missed 1." came first, with nothing before it to say "also" of."""
    h = harness
    await group_with(h, ALICE)
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "⏭ Skip this task")

    await h.command(ALICE, "/progress")

    [sent] = photos(h, ALICE.chat_id)
    assert sent.params["caption"].splitlines()[1:3] == [
        "Of 1 check-in: missed 1.",
        "Every check-in counts: the next one is a fresh start.",
    ]


async def test_a_therapist_charts_a_group_with_a_deleted_patient(harness: Harness) -> None:
    h = harness
    await group_with(h, ALICE, BOB, CHLOE)
    for _day in range(3):
        await h.advance_and_scan(timedelta(hours=1))
        await h.press(ALICE, "▶️ Start now")
        await h.press(ALICE, "2")
        await h.advance_and_scan(timedelta(hours=23))
    await h.command(BOB, "/deletemydata")
    await h.press(BOB, "Yes, delete everything")

    await h.command(THEO, "/chart", "knees")
    sent = photos(h, THEO.chat_id)
    assert len(sent) == 1
    caption = sent[0].params["caption"]
    assert "3 patients." in caption
    assert "Needs attention: Chloe Test (2 missed)." in caption
    assert "Bob" not in caption

    target = await asyncio.to_thread(
        progress.chart, h.database, h.clock.now(), "Europe/London", "Knees", actor=OPERATOR
    )
    assert target.group is not None
    names = [r.name if not r.data_deleted else "[deleted]" for r in target.group.rows]
    # Who missed most comes first; the deleted patient last.
    assert names == ["Chloe Test", "Alice Test", "[deleted]"]
    figure = chart_figures.heatmap_figure(target.group)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == names

    await h.command(THEO, "/chart", "Alice", "Test", "pain")
    assert len(photos(h, THEO.chat_id)) == 2
    assert "<b>Alice Test · last 8 weeks</b>" in h.api.sent_to(THEO.chat_id)[-1].params["caption"]
    await h.command(THEO, "/chart", "Alice", "Test", "sleep")
    assert h.last_text(THEO.chat_id) == (
        "No question of Alice Test's matches “sleep”. Their questions: Pain now?"
    )
    await h.command(THEO, "/chart", "Nobody")
    assert h.last_text(THEO.chat_id).startswith("There is no group or patient called “Nobody”.")


async def test_the_report_offers_its_chart(harness: Harness) -> None:
    h = harness
    await group_with(h, ALICE)
    await h.advance_and_scan(timedelta(hours=1))
    await h.command(THEO, "/report", "Knees")
    await h.press(THEO, "📈 Chart")
    sent = photos(h, THEO.chat_id)
    assert len(sent) == 1
    assert sent[0].params["caption"].startswith("<b>Knees · adherence, last 4 weeks</b>")
    # A button naming no group (forged, or its group since gone) draws nothing.
    await h.press_data(THEO, "chart:999")
    assert (
        h.callback_answers()[-1]
        .params["text"]
        .startswith("There is no group or patient called “999”.")
    )
    assert len(photos(h, THEO.chat_id)) == 1


async def test_chart_finds_a_patient_as_patient_does_and_offers_a_choice(harness: Harness) -> None:
    """/chart PATIENT finds a patient by a part of the name in any case, as /patient does;
    a part several patients share offers a button each, which draws the chosen one's chart
    with the question asked for."""
    h = harness
    task = "Knees | Daily check | today 10:00 | daily x3 | Pain now? ; scale | Minutes? ; number"
    await group_with(h, ALICE, BOB, task=task)
    await h.advance_and_scan(timedelta(hours=1))
    for person, pain_now in ((ALICE, "4"), (BOB, "6")):
        await h.press(person, "▶️ Start now")
        await h.press(person, pain_now)
        await h.text(person, "20")

    def last_chart() -> list[str]:
        return photos(h, THEO.chat_id)[-1].params["caption"].splitlines()

    await h.command(THEO, "/chart", "alice")
    assert len(photos(h, THEO.chat_id)) == 1, h.last_text(THEO.chat_id)
    caption = last_chart()
    assert caption[0] == "<b>Alice Test · last 8 weeks</b>"
    assert [line.split(":")[0] for line in caption if line.startswith("•")] == [
        "• Pain now? (Daily check)",
        "• Minutes? (Daily check)",
    ]
    await h.command(THEO, "/chart", "Ali", "pain")
    assert [line for line in last_chart() if line.startswith("•")] == [
        "• Pain now? (Daily check): latest 4 (25 Nov), lowest 4, highest 4, 1 answer"
    ]

    await h.command(THEO, "/chart", "TEST", "minutes")
    assert h.last_text(THEO.chat_id) == "Several patients match “TEST”; choose one:"
    choice = h.last_message(THEO.chat_id)
    assert choice.button_texts == ["Alice Test · Knees", "Bob Test · Knees"]
    await h.press(THEO, "Bob Test · Knees", choice.message_id)
    caption = last_chart()
    assert caption[0] == "<b>Bob Test · last 8 weeks</b>"
    assert [line for line in caption if line.startswith("•")] == [
        "• Minutes? (Daily check): latest 20 (25 Nov), lowest 20, highest 20, 1 answer"
    ]
    assert len(photos(h, THEO.chat_id)) == 3
    # A patient nobody of the therapist's groups matches is still unknown.
    await h.command(THEO, "/chart", "Zed")
    assert h.last_text(THEO.chat_id).startswith("There is no group or patient called “Zed”.")


async def test_a_stranger_and_a_patient_of_another_group_are_refused(harness: Harness) -> None:
    h = harness
    await group_with(h, ALICE)
    await h.command(THEO, "/newgroup", "Hips")
    await h.command(THEO, "/invite", "Hips")
    await h.command(BOB, "/start", invite_code(h.last_text(THEO.chat_id)))
    for person in (BOB, CHLOE):
        await h.command(person, "/chart", "Knees")
        assert h.last_text(person.chat_id) == "This command is for therapists."
        await h.command(person, "/chart", "Alice", "Test")
        assert h.last_text(person.chat_id) == "This command is for therapists."
        await h.press_data(person, "chart:1")
    assert photos(h, BOB.chat_id) == photos(h, CHLOE.chat_id) == []
    await h.command(CHLOE, "/progress")
    assert h.last_text(CHLOE.chat_id).startswith("Your progress shows once you are in a therapy")


def digests(h: Harness) -> list[str]:
    return [
        c.params["caption"]
        for c in h.api.sent_to(THEO.chat_id)
        if c.method == "sendPhoto" and "Weekly digest" in c.params.get("caption", "")
    ]


async def test_the_digest_goes_out_once_across_a_restart_and_two_schedulers(
    harness: Harness,
) -> None:
    h = harness
    await group_with(h, ALICE, BOB)
    await h.advance_and_scan(timedelta(hours=1))  # Wed 10:00: planned for Mon 30 Nov 08:00
    for day in range(5):  # Wed to Sun, Alice answers with an alert each time; Bob never
        await h.press(ALICE, "▶️ Start now")
        await h.press(ALICE, "9")
        if day < 4:
            await h.advance_and_scan(timedelta(days=1))
    await h.advance_and_scan(timedelta(hours=21, minutes=59))  # Mon 30 Nov 07:59
    assert digests(h) == []
    await h.advance_and_scan(timedelta(minutes=1))
    assert digests(h) == [
        "<b>🗓 Weekly digest: Knees</b>\n"
        "23 Nov – 29 Nov\n"
        "✅ Done this week: 50% (5 of 10)\n"
        "Last week: nothing due\n"
        "Missed 2 or more: Bob Test (4)\n"
        "🚨 Alerts fired: 5"
    ]
    await h.restart()
    await h.advance_and_scan(timedelta(hours=1))
    assert len(digests(h)) == 1

    # A second instance on the same database: both scan the next Monday at once.
    other = await Harness(h.settings, h.database, h.clock, api=h.api).start()
    try:
        h.clock.advance(timedelta(days=7))
        await asyncio.gather(h.scan(), other.scan())
        await asyncio.gather(h.scan(), other.scan())
    finally:
        await other.stop()
    assert len(digests(h)) == 2
    with h.database.read_session() as session:
        statuses = session.exec(select(Digest.status).order_by(col(Digest.due_at))).all()
    assert statuses == [DigestStatus.SENT, DigestStatus.SENT, DigestStatus.PENDING]


async def test_a_new_digest_time_moves_the_digests_already_planned(harness: Harness) -> None:
    """[digest] time moved from 08:00 to 18:00: the digest planned under 08:00 still came
    at 08:00, and a clinic waited a week for its change."""
    h = harness
    await group_with(h, ALICE)
    await h.advance_and_scan(timedelta(hours=1))  # Wed 10:00: planned for Mon 30 Nov 08:00
    h.settings = h.settings.model_copy(update={"digest": DigestSettings(time="18:00")})
    await h.restart()
    await h.scan()  # the new process's first scan
    await h.advance_and_scan(timedelta(days=4, hours=22))  # Mon 30 Nov 08:00
    assert digests(h) == []

    await h.advance_and_scan(timedelta(hours=10))  # 18:00

    assert len(digests(h)) == 1


async def test_the_digest_counts_an_alert_on_an_option_with_accents(harness: Harness) -> None:
    """SQLite's lower() folds ASCII only: "Übelkeit" never met its rule in the count, though
    each answer alerted the therapist."""
    h = harness
    task = (
        "Knees | Side effects | today 10:00 | daily x7 | "
        "Any? ; choice ; Keine, Übelkeit ; == übelkeit"
    )
    await group_with(h, ALICE, task=task)
    await h.advance_and_scan(timedelta(hours=1))  # Wed 10:00
    for _ in range(2):
        await h.press(ALICE, "▶️ Start now")
        await h.press(ALICE, "Übelkeit")
        await h.advance_and_scan(timedelta(days=1))
    await h.advance_and_scan(timedelta(days=3, hours=22))  # Mon 30 Nov 08:00
    (digest,) = digests(h)
    assert digest.endswith("🚨 Alerts fired: 2")


async def test_no_digest_for_a_group_without_tasks(harness: Harness) -> None:
    h = harness
    await group_with(h, ALICE, task=None)
    await h.advance_and_scan(timedelta(days=6))  # Tue 1 Dec: past Monday 08:00
    await h.advance_and_scan(timedelta(days=7))
    assert photos(h, THEO.chat_id) == []
    with h.database.read_session() as session:
        assert session.exec(select(Digest)).all() == []


async def test_no_digest_when_switched_off(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    off = settings.model_copy(update={"digest": DigestSettings(enabled=False)})
    h = await Harness(off, database, clock).start()
    try:
        await group_with(h, ALICE)
        await h.advance_and_scan(timedelta(days=6))  # Tue 1 Dec: past Monday 08:00
        assert photos(h, THEO.chat_id) == []
        with h.database.read_session() as session:
            assert session.exec(select(Digest)).all() == []
    finally:
        await h.stop()


async def test_emoji_in_a_task_title_chart_without_a_warning(harness: Harness) -> None:
    """A title with an emoji the charts' font lacks: each chart drew a box for it and wrote
    matplotlib's "Glyph ... missing from font(s)" warning to stderr (under the test run's
    warnings-as-errors, the chart failed)."""
    h = harness
    await h.command(THEO, "/newgroup", "Ankles 🦶")
    await h.command(THEO, "/invite", "Ankles 🦶")
    await h.command(ALICE, "/start", invite_code(h.last_text(THEO.chat_id)))
    task = "Ankles 🦶 | Ankle daily check 🦶 | today 10:00 | daily x3 | Pain now? ; scale ; >= 7"
    await h.command(THEO, "/addtask", task)
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "8")

    await h.command(ALICE, "/progress")
    await h.command(THEO, "/chart", "Alice", "Test")
    await h.command(THEO, "/chart", "Ankles 🦶")
    (mine,) = photos(h, ALICE.chat_id)
    theirs = photos(h, THEO.chat_id)
    assert len(theirs) == 2
    # Telegram draws the emoji in the caption: it keeps them.
    assert "• Pain now? (Ankle daily check 🦶): latest 8" in mine.params["caption"]
    assert theirs[1].params["caption"].startswith("<b>Ankles 🦶 · adherence, last 4 weeks</b>")


async def test_a_progress_picture_is_drawn_in_the_readers_language(harness: Harness) -> None:
    """Three patients with the same (empty) weeks: the two English ones get the same picture;
    the German one got it too, its caption German and every word drawn in it English."""
    h = harness
    anna = User(id=201, first_name="Anna", last_name="Berger", language_code="de")
    await group_with(h, ALICE, BOB, anna)

    pictures = []
    for person in (ALICE, BOB, anna):
        await h.command(person, "/progress")
        [sent] = photos(h, person.chat_id)
        pictures.append(hashlib.sha256(sent.files["photo"]["content"]).hexdigest())

    alice, bob, german = pictures
    assert alice == bob, "the same weeks in the same language draw the same picture"
    assert german != alice, "the German patient's picture is drawn in English"
