"""A therapist builds the demo programme from an empty database using only chat commands."""

from __future__ import annotations

import csv
import io
import os
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.services.seeding import QuestionSeed, read_seed
from storage.models import ConsentVersion, Invite, Membership, Question, Task, TherapyGroup
from tests.fakes.harness import DEMO_SEED, Harness, patient, therapist
from tests.flows.test_therapist_support import Chat, invite_code

PRESS_UPS_VIDEO = "https://www.youtube.com/watch?v=IODxDxX7oi4"
HIP_VIDEO = "https://www.youtube.com/watch?v=wPM8icPu6H8"
SQUAT_VIDEO = "https://www.youtube.com/watch?v=YaXPRqUwItQ"

ONE_LINE_TASKS = {
    "Shoulder pain check": (
        "Shoulder Therapy 1 | Shoulder pain check | today 18:00 | daily x14 | "
        "How strong was your shoulder pain today? (0 = none, 10 = worst imaginable) ; scale ; "
        ">= 8 | How many minutes did you spend on your exercises? ; number ; 0-240 ; whole | "
        "Anything you want your therapist to know? ; text ; max 500 ; optional"
    ),
    "Hip mobility session": (
        "Hip Therapy 1 | Hip mobility session | today 10:00 | mon,wed,fri | "
        "Watch the video and do 3 sets of 10 hip bridges. Could you complete the exercise? ; "
        f"yes_no ; {HIP_VIDEO} ; == no | Which side felt harder? ; choice ; "
        "Left, Right, Both the same | How far did you walk today, in kilometres? ; number ; "
        "0-50 ; optional"
    ),
    # Line breaks instead of "|": the form a therapist may find easier on a phone.
    "Weekly form check": (
        "Hip Therapy 1\nWeekly form check\ntomorrow 17:00\nevery 7 days x4\n"
        "Send a photo of your standing position for the hip-flexor stretch ; photo\n"
        f"Send a short video of one squat, filmed from the side ; video ; {SQUAT_VIDEO} ; "
        "optional\n"
        "How confident do you feel doing the exercises alone? (0-10) ; scale ; <= 2"
    ),
}


async def build_press_ups_with_the_dialogue(chat: Chat) -> None:
    theo = therapist()
    await chat.command(theo, "/newtask")
    await chat.press(theo, "Shoulder Therapy 1")
    await chat.text(theo, "Perform 20 Press-Ups (day 1)")
    await chat.text(theo, "today 11:00")
    await chat.press(theo, "Once")
    for number, count in enumerate((10, 20, 30), 1):
        await chat.text(theo, f"Do {count} Push-Ups")
        await chat.text(theo, PRESS_UPS_VIDEO)
        await chat.press(theo, "Yes / No")
        await chat.press(theo, "Required")
        if number == 1:
            await chat.text(theo, "== no")
        else:
            await chat.press(theo, "No alert")
        await chat.press(
            theo, "➕ Add another question" if number < 3 else "✅ Done – review the task"
        )
    await chat.press(theo, "💾 Save")


def _question_definition(q: Question | QuestionSeed) -> tuple[object, ...]:
    options = tuple(q.options or ())
    return (
        q.position,
        q.description,
        q.response_type,
        q.link,
        q.required,
        options,
        q.min_value,
        q.max_value,
        q.integer_only,
        q.max_length,
        q.alert_rule,
    )


async def test_a_therapist_builds_the_demo_programme_from_an_empty_database(
    harness: Harness,
) -> None:
    h = harness
    chat = Chat(h)
    theo, alice, bob = therapist(), patient(0), patient(1)
    london = ZoneInfo("Europe/London")

    await chat.command(theo, "/newgroup", "Shoulder Therapy 1", "Europe/London")
    await chat.command(theo, "/newgroup", "Hip Therapy 1", "Europe/London")
    await chat.command(theo, "/newgroup", "Knee Therapy 1", "Europe/London")
    now = h.clock.now()
    plan = read_seed(DEMO_SEED, lambda zone: now.astimezone(zone).date(), "Europe/London")
    [knee] = [g for g in plan.groups if g.consent]
    await chat.command(theo, "/setconsent", knee.name)
    await chat.text(theo, knee.consent or "")
    await chat.press(theo, "Save")
    assert h.last_text(theo.chat_id) == f"✅ Saved: {knee.name} asks for consent, version 1."
    # Its German and Spanish text too: a clinic needs no seed file for them.
    for code, fields in sorted((knee.consent_translations or {}).items()):
        await chat.command(theo, "/setconsent", knee.name, code)
        await chat.text(theo, fields["text"])
        await chat.press(theo, "Save")
        assert h.last_text(theo.chat_id).startswith(f"✅ Saved: {knee.name} asks for consent")
    await chat.command(theo, "/invite", "Shoulder Therapy 1")
    shoulder_code = invite_code(h.last_text(theo.chat_id))
    await chat.command(theo, "/invite", "Hip Therapy 1", "14", "20")
    hip_code = invite_code(h.last_text(theo.chat_id))

    await build_press_ups_with_the_dialogue(chat)
    assert "Saved task #1" in h.last_text(theo.chat_id)
    for title, line in ONE_LINE_TASKS.items():
        await chat.command(theo, "/addtask", line)
        assert f"“{title}”" in h.last_text(theo.chat_id), h.last_text(theo.chat_id)
    await chat.command(theo, "/tasks")

    # The programme in the database is the demo's, question for question.
    wanted = {t.title: t for t in plan.tasks}
    with h.database.session() as session:
        groups = {g.id: g for g in session.exec(select(TherapyGroup)).all()}
        assert {(g.name, g.timezone) for g in groups.values()} == {
            (g.name, g.timezone) for g in plan.groups
        }
        consents = session.exec(
            select(ConsentVersion).order_by(col(ConsentVersion.version).desc())
        ).all()
        assert {groups[c.group_id].name for c in consents} == {knee.name}
        assert (consents[0].text, consents[0].translations) == (
            knee.consent,
            knee.consent_translations,
        )
        assert knee.consent_translations and set(knee.consent_translations) == {"de", "es"}
        tasks = session.exec(select(Task).order_by(col(Task.id))).all()
        assert [t.title for t in tasks] == [
            "Perform 20 Press-Ups (day 1)",
            *ONE_LINE_TASKS,
        ]
        for task in tasks:
            seed = wanted[task.title]
            assert groups[task.group_id].name == seed.group
            assert (task.due_date, task.due_time, task.recurrence) == (
                seed.due_date,
                seed.due_time,
                seed.recurrence,
            )
            questions = session.exec(
                select(Question)
                .where(Question.task_id == task.id)
                .order_by(col(Question.position))
            ).all()
            assert [_question_definition(q) for q in questions] == [
                _question_definition(q) for q in seed.questions
            ]
        invites = session.exec(select(Invite).order_by(col(Invite.id))).all()
        assert [(i.code, i.max_uses) for i in invites] == [(shoulder_code, None), (hip_code, 20)]
        assert all(i.expires_at == now + timedelta(days=14) for i in invites)

    # Patients join through the links and the programme runs.
    await chat.command(alice, "/start", shoulder_code)
    await chat.command(bob, "/start", hip_code)
    with h.database.session() as session:
        assert len(session.exec(select(Membership)).all()) == 5  # 3 therapists' + 2 patients'
    h.advance(timedelta(hours=2))  # 11:00 in London: the press-ups and the hip session are due
    await chat.scan("11:00, the due scan runs")
    await chat.press(alice, "▶️ Start now")
    await chat.press(alice, "No")
    alert = h.last_text(theo.chat_id)
    assert alert.startswith("🚨 Alice") and "Do 10 Push-Ups" in alert, alert
    await chat.press(alice, "Yes")
    await chat.press(alice, "Yes")
    await chat.command(theo, "/report", "Shoulder Therapy 1")
    report = h.last_text(theo.chat_id)
    assert "Alice Test" in report
    await chat.command(theo, "/export", "Shoulder Therapy 1")
    document = h.api.calls_of("sendDocument")[-1]
    rows = list(csv.DictReader(io.StringIO(document.files["document"]["content"].decode())))
    assert [(r["question"], r["value"]) for r in rows] == [
        ("Do 10 Push-Ups", "no"),
        ("Do 20 Push-Ups", "yes"),
        ("Do 30 Push-Ups", "yes"),
    ]
    assert now.astimezone(london).date() == date(2026, 11, 25)

    out = os.environ.get("PATIENTBOT_TRANSCRIPT")
    if out and h.database.is_sqlite:
        save(Path(out), chat.render([theo, alice, bob]))


def save(path: Path, text: str) -> None:
    """Keep the transcript for a person to read (PATIENTBOT_TRANSCRIPT=path)."""
    path.write_text(text, encoding="utf-8")
