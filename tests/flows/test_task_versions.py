"""Task versions: changing a question's wording keeps what past answers answered.

Each answer points at the revision of its question the patient was shown, so the CSV and FHIR
exports, /mydata and the patient's own summary show the words the patient actually read.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from typing import Any

from sqlmodel import col, func, select

from bot.config import Settings
from bot.services import progress
from storage.db import Database
from storage.models import Answer, AuditEvent, QuestionRevision, Task
from tests.fakes.harness import Harness
from tests.flows.test_therapist_tasks import ALICE, BOB, PAIN_CHECK, THEO, last, pain_check_at_six

OLD_TEXT = "Anything you want your therapist to know?"
NEW_TEXT = "Anything else about your shoulder?"
OLD_MINUTES = "How many minutes did you spend on your exercises?"
NEW_MINUTES = "How many minutes of exercises did you do?"


def revisions(h: Harness) -> list[tuple[int, int, str]]:
    with h.database.session() as session:
        found = session.exec(
            select(QuestionRevision).order_by(
                col(QuestionRevision.question_id), col(QuestionRevision.revision)
            )
        ).all()
        return [(r.question_id, r.revision, r.description) for r in found]


def answer_count(h: Harness) -> int:
    with h.database.session() as session:
        return int(session.exec(select(func.count()).select_from(Answer)).one())


def sent_file(h: Harness) -> bytes:
    content: bytes = h.api.calls_of("sendDocument")[-1].files["document"]["content"]
    return content


async def minutes_on_alices_screen(h: Harness) -> int:
    """Day 2 of the pain check: Alice answered question 1 and has question 2 on her screen.
    Returns how many answers are stored."""
    await pain_check_at_six(h)
    h.advance(timedelta(days=1))
    await h.scan()
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "2")
    assert OLD_MINUTES in h.last_text(ALICE.chat_id)
    return answer_count(h)


async def reword(h: Harness, button: str, text: str, *steps: str) -> None:
    """/edittask PAIN_CHECK, change the question on ``button`` to ``text`` and ``steps``."""
    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "✏️ Change a question")
    await h.press(THEO, button)
    await h.text(THEO, text)
    await h.press(THEO, "No link")
    for step in steps:
        if step.startswith("type:"):
            await h.text(THEO, step.removeprefix("type:"))
        else:
            await h.press(THEO, step)


async def test_an_edit_after_answers_keeps_the_old_wording_with_the_old_answers(
    harness: Harness,
) -> None:
    h = harness
    await pain_check_at_six(h)  # Alice answered day 1 with "Fine" to OLD_TEXT
    await reword(h, "3. Anything you want your therapist to kno…", NEW_TEXT, "Text", "No limit")
    await h.press(THEO, "Optional")
    assert f"now reads “{NEW_TEXT}” (version 2)" in last(h)
    assert "Answers already given keep the wording they answered" in last(h)

    h.advance(timedelta(days=1))
    await h.scan()
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "4")
    await h.text(ALICE, "25")
    assert NEW_TEXT in h.last_text(ALICE.chat_id)  # asked in the new words
    await h.text(ALICE, "Better")
    assert NEW_TEXT in h.last_text(ALICE.chat_id)  # and summed up in them

    await h.command(THEO, "/export", "Shoulder Therapy 1")
    rows = list(csv.DictReader(io.StringIO(sent_file(h).decode("utf-8"), newline="")))
    thirds = [
        (r["due_utc"], r["question"], r["question_revision"], r["value"])
        for r in rows
        if r["question_position"] == "3"
    ]
    assert thirds == [
        ("2026-11-25T18:00:00Z", OLD_TEXT, "1", "Fine"),
        ("2026-11-26T18:00:00Z", NEW_TEXT, "2", "Better"),
    ]

    await h.command(THEO, "/export", "Shoulder Therapy 1", "fhir")
    bundle: dict[str, Any] = json.loads(sent_file(h))
    resources = [e["resource"] for e in bundle["entry"]]
    # Two versions of the questionnaire: today's, and the one day 1 was answered in.
    (today,) = [
        r for r in resources if r["resourceType"] == "Questionnaire" and r["status"] == "active"
    ]
    (before,) = [
        r for r in resources if r["resourceType"] == "Questionnaire" and r["status"] == "retired"
    ]
    assert (today["id"], today["version"]) == (f"task-{PAIN_CHECK}-v1-1-2", "1-1-2")
    assert (today["item"][2]["text"], today["item"][2].get("maxLength")) == (NEW_TEXT, None)
    assert (before["id"], before["version"]) == (f"task-{PAIN_CHECK}-v1-1-1", "1-1-1")
    assert (before["item"][2]["text"], before["item"][2]["maxLength"]) == (OLD_TEXT, 500)
    assert before["url"] == today["url"]
    responses = sorted(
        (r for r in resources if r["resourceType"] == "QuestionnaireResponse"),
        key=lambda r: r["authored"],
    )
    assert [[i["text"] for i in r["item"] if i["linkId"] == "3"] for r in responses] == [
        [OLD_TEXT],
        [NEW_TEXT],
    ]
    assert [r["questionnaire"] for r in responses] == [
        f"{before['url']}|1-1-1",
        f"{today['url']}|1-1-2",
    ]

    await h.command(ALICE, "/mydata")
    mine = json.loads(sent_file(h))
    given = [
        (c["due_at"][:10], a["question"], a["question_revision"], a["text"])
        for c in mine["check_ins"]
        for a in c["answers"]
        if a["question_position"] == 3
    ]
    assert given == [("2026-11-25", OLD_TEXT, 1, "Fine"), ("2026-11-26", NEW_TEXT, 2, "Better")]

    # The patient page too: each answer under the words it answered.
    await h.command(THEO, "/patient", "Alice Test")
    page = last(h)
    assert f"{OLD_TEXT}" in page and f"{NEW_TEXT}" in page, page
    assert page.index(NEW_TEXT) < page.index("Better") < page.index(OLD_TEXT) < page.index("Fine")

    # /report counts check-ins, never wording: both of Alice's days are completed.
    await h.command(THEO, "/report", "Shoulder Therapy 1")
    assert "Alice Test: 2 check-ins: 2 done" in last(h)

    # The audit trail names the revision before and after.
    with h.database.session() as session:
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "question_edited")
        ).all()
    assert (event.object_kind, event.before, event.after) == (
        "question",
        {"description": OLD_TEXT, "max_length": 500, "revision": 1},
        {"description": NEW_TEXT, "max_length": None, "revision": 2},
    )


async def test_a_question_on_screen_when_reworded_is_asked_again_in_its_new_words(
    harness: Harness,
) -> None:
    h = harness
    stored = await minutes_on_alices_screen(h)

    h.advance(timedelta(minutes=1))
    await reword(
        h, "2. How many minutes did you spend on your…", NEW_MINUTES, "Number", "type:0-120"
    )
    await h.press(THEO, "Whole numbers")
    await h.press(THEO, "Required")
    await h.press(THEO, "No alert")
    assert "(version 2)" in last(h)

    # Her reply was typed against the old words: not stored, the question comes again.
    h.advance(timedelta(minutes=1))
    await h.text(ALICE, "200")
    reply = h.last_text(ALICE.chat_id)
    assert reply.startswith("✏️ Your therapist has just changed this question")
    assert NEW_MINUTES in reply
    assert answer_count(h) == stored
    # The new bounds apply from here on.
    await h.text(ALICE, "200")
    assert "0" in h.last_text(ALICE.chat_id) and "120" in h.last_text(ALICE.chat_id)
    await h.text(ALICE, "30")
    await h.text(ALICE, "ok")
    summary = h.last_text(ALICE.chat_id)
    assert NEW_MINUTES in summary and "30" in summary

    with h.database.session() as session:
        day_two = session.exec(
            select(Answer.value_text, QuestionRevision.description, QuestionRevision.revision)
            .join(QuestionRevision, col(QuestionRevision.id) == Answer.question_revision_id)
            .where(col(Answer.answered_at) > h.clock.now() - timedelta(hours=1))
            .order_by(col(Answer.id))
        ).all()
    assert [(text, revision) for text, _, revision in day_two] == [
        ("2", 1),
        ("30", 2),
        ("ok", 1),
    ]


async def test_a_rewording_while_the_old_words_are_on_their_way_asks_the_question_again(
    harness: Harness, settings: Settings, database_url: str
) -> None:
    """The therapist's edit lands after the bot read question 2 for Alice and before its
    message reached her (another instance took the therapist's chat): she reads the old words,
    so her answer is not stored against the new ones."""
    h = harness
    await pain_check_at_six(h)
    h.advance(timedelta(days=1))
    await h.scan()
    await h.press(ALICE, "▶️ Start now")
    stored = answer_count(h)
    other_database = Database(database_url)
    other = await Harness(settings, other_database, h.clock, api=h.api).start()
    other.updates = h.updates  # one Telegram numbers the updates of both
    try:
        stalled = h.api.hold(ALICE.chat_id)
        pressing = asyncio.create_task(h.press(ALICE, "2"))
        try:
            async with asyncio.timeout(30):
                await stalled.arrived.wait()  # her "2" is stored, question 2 read in old words
            h.advance(timedelta(minutes=1))
            await reword(
                other,
                "2. How many minutes did you spend on your…",
                NEW_MINUTES,
                "Number",
                "type:0-120",
            )
            await other.press(THEO, "Whole numbers")
            await other.press(THEO, "Required")
            await other.press(THEO, "No alert")
            assert "(version 2)" in last(h)
        finally:
            stalled.release()
            async with asyncio.timeout(30):
                await pressing
        assert OLD_MINUTES in h.last_text(ALICE.chat_id)

        h.advance(timedelta(minutes=1))
        await h.text(ALICE, "30")
        reply = h.last_text(ALICE.chat_id)
        assert reply.startswith("✏️ Your therapist has just changed this question"), reply
        assert NEW_MINUTES in reply
        assert answer_count(h) == stored + 1  # her "2" only
    finally:
        await other.stop()
        other_database.dispose()


async def test_a_button_from_before_the_rewording_asks_the_question_again(
    harness: Harness,
) -> None:
    h = harness
    await pain_check_at_six(h)
    h.advance(timedelta(days=1))
    await h.scan()
    await h.press(BOB, "▶️ Start now")  # Bob starts day 2: the pain scale is on his screen
    old_scale = h.last_message(BOB.chat_id).message_id
    h.advance(timedelta(minutes=1))
    await reword(h, "1. How strong was your shoulder pain today?", "Pain right now?", "Yes / No")
    await h.press(THEO, "Required")
    await h.press(THEO, "No alert")
    stored = answer_count(h)

    h.advance(timedelta(minutes=1))
    await h.press(BOB, "7", message_id=old_scale)
    reply = h.last_message(BOB.chat_id)
    assert reply.plain.startswith("✏️ Your therapist has just changed this question")
    assert "Pain right now?" in reply.plain and "Yes" in reply.button_texts
    assert answer_count(h) == stored


async def test_changing_the_due_time_makes_no_revision(harness: Harness) -> None:
    h = harness
    await pain_check_at_six(h)
    before = revisions(h)
    assert [r for _, r, _ in before] == [1, 1, 1]
    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "🕘 Due time")
    await h.text(THEO, "tomorrow 19:30")
    assert revisions(h) == before


async def test_a_rewording_that_changes_nothing_makes_no_revision(harness: Harness) -> None:
    h = harness
    await pain_check_at_six(h)
    before = revisions(h)
    await reword(h, "3. Anything you want your therapist to kno…", OLD_TEXT, "Text", "type:500")
    await h.press(THEO, "Optional")
    assert "nothing changed" in last(h)
    assert revisions(h) == before
    with h.database.session() as session:
        assert not session.exec(
            select(AuditEvent).where(AuditEvent.action == "question_edited")
        ).all()
        task = session.get(Task, PAIN_CHECK)
        assert task is not None and task.title == "Shoulder pain check"


async def the_pain_scale_answered_then_changed(h: Harness, text: str, *steps: str) -> None:
    """Alice answers 3 on the 0-10 pain scale; five minutes later the therapist changes it to
    ``text`` and ``steps``, a required question, and is asked for its alert."""
    await pain_check_at_six(h)
    h.advance(timedelta(minutes=5))
    await reword(h, "1. How strong was your shoulder pain today?", text, *steps, "Required")


async def test_a_chart_keeps_answers_given_before_a_question_changed_its_kind(
    harness: Harness,
) -> None:
    """Alice answered the 0-10 pain scale; the therapist then turns it into a yes/no question.
    /progress drew the scale's answers under today's question, so a question no longer a
    number dropped them (her pain line gone); now they keep their line, in the words she
    read, without today's alert, and her minutes keep theirs."""
    h = harness
    await the_pain_scale_answered_then_changed(h, "Pain right now?", "Yes / No")
    await h.press(THEO, "🔔 Alert on Yes")

    await h.command(ALICE, "/progress")

    caption = h.api.calls_of("sendPhoto")[-1].params["caption"]
    lines = [line for line in caption.splitlines() if line.startswith("• ")]
    assert lines[0].startswith("• How strong was your shoulder pain today? (Shoulder pain check):")
    assert "latest 3" in lines[0] and "alert" not in lines[0]
    assert lines[1].startswith(f"• {OLD_MINUTES}")


async def test_the_digests_alert_count_reads_old_answers_by_the_rule_they_were_given_under(
    harness: Harness,
) -> None:
    """Alice's 3 on the 0-10 pain scale met no rule (alert at 8 or more). Rescaled to 1-5 with
    an alert at 3 or less, the digest counted her old 3 as an alert fired."""
    h = harness
    await the_pain_scale_answered_then_changed(h, "Pain, 1 to 5?", "Scale", "type:1-5")
    await h.text(THEO, "<= 3")
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.id == PAIN_CHECK)).one()
        week = h.clock.now() - timedelta(days=7), h.clock.now()
        assert progress.alerts_fired(session, task.group_id, *week) == 0


async def test_an_alert_given_before_a_scale_was_set_to_its_own_default_bounds_still_counts(
    harness: Harness,
) -> None:
    """Bob's 9 on the pain scale (0 to 10 by default) met its rule, alert at 8 or more. The
    therapist then sets the same scale's bounds to 0-10 in words: the same scale, so the
    digest counts his alert as the chart draws it, on today's line with today's rule."""
    h = harness
    await pain_check_at_six(h)
    await h.press(BOB, "▶️ Start now")
    await h.press(BOB, "9")
    await h.text(BOB, "20")
    await h.text(BOB, "Fine")
    h.advance(timedelta(minutes=5))
    await reword(
        h,
        "1. How strong was your shoulder pain today?",
        "How strong was your shoulder pain today?",
        "Scale",
        "type:0-10",
        "Required",
    )
    await h.text(THEO, ">= 8")
    with h.database.session() as session:
        bounds = session.exec(
            select(
                QuestionRevision.revision, QuestionRevision.min_value, QuestionRevision.max_value
            )
            .join(Answer, col(Answer.question_revision_id) == QuestionRevision.id)
            .where(Answer.value_number == 9)
        ).one()
        task = session.exec(select(Task).where(Task.id == PAIN_CHECK)).one()
        week = h.clock.now() - timedelta(days=7), h.clock.now()
        fired = progress.alerts_fired(session, task.group_id, *week)
    assert bounds == (1, None, None), "Bob answered the scale as it was, without bounds"

    await h.command(BOB, "/progress")

    caption = h.api.calls_of("sendPhoto")[-1].params["caption"]
    pain = [line for line in caption.splitlines() if "shoulder pain" in line]
    assert len(pain) == 1 and "latest 9" in pain[0] and "alert" in pain[0], pain
    assert fired == 1


async def test_an_answer_to_a_question_removed_meanwhile_says_it_was_removed(
    harness: Harness,
) -> None:
    """Alice typed her minutes; Theo had just removed that question. She was told her message
    "came before this question", which was not true: she answered what she was shown."""
    h = harness
    stored = await minutes_on_alices_screen(h)
    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "➖ Remove a question")
    await h.press(THEO, "2. How many minutes did you spend on your…")

    await h.text(ALICE, "30")

    reply = h.last_text(ALICE.chat_id)
    assert reply.startswith(
        "✏️ Your therapist has just removed the question you were answering, so I haven't "
        "saved that. Here is the next one:"
    )
    assert OLD_TEXT in reply
    # Its limit is said with it, not only once a longer answer was refused.
    assert "Please type your answer (at most 500 characters)." in reply
    assert answer_count(h) == stored


async def test_an_answer_to_the_last_question_removed_meanwhile_says_so_before_the_summary(
    harness: Harness,
) -> None:
    """Only the summary came: the note Alice typed was dropped without a word."""
    h = harness
    await minutes_on_alices_screen(h)
    await h.text(ALICE, "30")
    assert OLD_TEXT in h.last_text(ALICE.chat_id)
    stored = answer_count(h)
    await h.command(THEO, "/edittask", str(PAIN_CHECK))
    await h.press(THEO, "➖ Remove a question")
    [label] = [b for b in h.last_message(THEO.chat_id).button_texts if b.startswith("3.")]
    await h.press(THEO, label)

    await h.text(ALICE, "My shoulder felt better today")

    *_, notice, summary = h.texts(ALICE.chat_id)
    assert notice == (
        "✏️ Your therapist has just removed the question you were answering, so I haven't "
        "saved that. It was the last one: this check-in is done."
    )
    assert summary.startswith("✅ Done")
    assert answer_count(h) == stored
