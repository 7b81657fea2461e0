"""One whole conversation with the demo data: join by invite, then answer every kind of question.

The transcript it writes is what a patient and their therapist would read; set
PATIENTBOT_TRANSCRIPT_DIR to keep it.
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.harness import Harness, patient, therapist
from tests.flows.test_checkin_support import Transcript, answers_of, delivery_of, local

ALICE = patient(0, "Alice")
THEO = therapist()


async def test_a_patient_joins_by_invite_and_completes_the_shoulder_programme(
    harness: Harness, tmp_path: Path
) -> None:
    harness.seed_demo()
    t = Transcript(harness, [ALICE, THEO])

    await t.command(ALICE, "/start", "SHOULDER1")
    await t.at(local(11, 0))
    await t.press(ALICE, "▶️ Start now")
    await t.press(ALICE, "No")
    await t.text(ALICE, "yes please")
    await t.press(ALICE, "Yes")
    await t.at(local(18, 0))
    await t.press(ALICE, "▶️ Start now")
    await t.text(ALICE, "8/10")
    await t.text(ALICE, "about twenty")
    await t.text(ALICE, "20")
    await t.press(ALICE, "⏭ Skip this question")

    transcript = t.text_of()
    t.save("checkin_shoulder.txt", tmp_path)
    print(transcript)
    chat = harness.texts(ALICE.chat_id)
    assert chat[0].startswith("✅ Welcome! You have joined Shoulder Therapy 1.")
    assert "due Wed 25 Nov, 11:00 (GMT)" in chat[0]
    summaries = [text for text in chat if text.startswith("✅ Done")]
    assert summaries == [
        "✅ Done: Perform 20 Press-Ups (day 1)\n\n"
        "• Do 10 Push-Ups — No\n• Do 20 Push-Ups — Yes\n• Do 30 Push-Ups — Yes\n\n"
        "Thank you! Your therapist can see your answers.",
        "✅ Done: Shoulder pain check\n\n"
        "• How strong was your shoulder pain today? (0 = none, 10 = worst imaginable) — 8\n"
        "• How many minutes did you spend on your exercises? — 20\n"
        "• Anything you want your therapist to know? — skipped\n\n"
        "Thank you! Your therapist can see your answers.",
    ]
    alerts = harness.texts(THEO.chat_id)
    assert [text.splitlines()[0] for text in alerts] == [
        "🚨 Alice Test answered No to “Do 10 Push-Ups” (Shoulder Therapy 1, Wed 25 Nov 11:00)",
        "🚨 Alice Test answered 8 to “How strong was your shoulder pain today? (0 = none, "
        "10 = worst imaginable)” (Shoulder Therapy 1, Wed 25 Nov 18:00)",
    ]
    assert alerts[0].endswith("· alert on No")
    assert alerts[1].endswith("· alert on 8 or more")
    assert "Please send a whole number from 0 to 240." in transcript
    assert "Please type the number with digits, for example 20." in transcript
    pain = delivery_of(harness, ALICE, "Shoulder pain check")
    assert pain.status == "completed"
    assert [(a.value_number, a.skipped) for a in answers_of(harness, pain.id)] == [
        (8.0, False),
        (20.0, False),
        (None, True),
    ]


async def test_a_patient_answers_every_hip_question_type_right_after_trying_wrong(
    harness: Harness, tmp_path: Path
) -> None:
    harness.seed_demo()
    t = Transcript(harness, [ALICE, THEO])

    await t.command(ALICE, "/start", "HIP1")
    await t.at(local(10, 0))
    await t.press(ALICE, "▶️ Start now")
    await t.text(ALICE, "I think so")
    await t.press(ALICE, "Yes")
    await t.text(ALICE, "the middle one")
    await t.text(ALICE, "2")
    await t.text(ALICE, "far")
    await t.text(ALICE, "3,5")
    await t.at(local(17, 0, day=26))
    await t.press(ALICE, "▶️ Start now")
    t.note("a photo sent as a file, then text, then a real photo")
    await harness.document(ALICE)
    await t.text(ALICE, "here it is")
    await t.photo(ALICE)
    t.note("a voice note where a video is expected")
    await harness.voice(ALICE)
    await t.video(ALICE)
    await t.text(ALICE, "11")
    await t.press(ALICE, "1")

    transcript = t.text_of()
    t.save("checkin_hip.txt", tmp_path)
    print(transcript)
    for hint in (
        "Please tap Yes or No, or type yes or no.",
        "Please tap one of the options, or type its name or number: "
        "1 = Left, 2 = Right, 3 = Both the same.",
        "Please send a number from 0 to 50.",
        "That arrived as a file. Please send it as a photo instead, not as a file.",
        "Please send a photo (tap 📎, then choose or take a picture).",
        "That was a voice message. Please send a video (tap 📎, then choose or record a video).",
        "That is above 10; please tap or type a whole number from 0 to 10.",
    ):
        assert hint in transcript, hint
    mobility = delivery_of(harness, ALICE, "Hip mobility session")
    assert [
        (a.value_text, a.value_bool, a.value_number) for a in answers_of(harness, mobility.id)
    ] == [
        ("Yes", True, None),
        ("Right", None, None),
        ("3.5", None, 3.5),
    ]
    form = delivery_of(harness, ALICE, "Weekly form check")
    stored = answers_of(harness, form.id)
    assert [a.file_id is not None for a in stored] == [True, True, False]
    assert stored[2].value_number == 1.0
    assert form.status == "completed"
    assert harness.texts(THEO.chat_id)[-1].startswith("🚨 Alice Test answered 1 to")
