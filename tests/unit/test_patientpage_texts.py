"""The patient page always fits one Telegram message, however long the answers are."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from bot import texts
from bot.handlers.therapist.common import _fits
from bot.services.patientpage import AnswerLine, CheckinLine, GroupPlace, PatientPage
from bot.services.reports import CheckinOutcome, PatientAdherence
from bot.texts.language import speaking

AT = datetime(2026, 12, 3, 7, 18, tzinfo=UTC)


def page_with(questions: int, answer: str) -> PatientPage:
    answers = tuple(
        AnswerLine(n, f"Question {n} " + "why " * 200, "text", answer, False, False, AT)
        for n in range(1, questions + 1)
    )
    checkins = tuple(
        CheckinLine(1, "Task " * 60, 4, "Ankle Group", AT, CheckinOutcome.COMPLETED, answers)
        for _ in range(4)
    )
    return PatientPage(
        person_id=1,
        telegram_user_id=101,
        name="Alice <Test>",
        data_deleted=False,
        zone="Europe/Berlin",
        zone_is_own=True,
        groups=(GroupPlace("Ankle Group", date(2026, 12, 1), True),),
        joined=date(2026, 12, 1),
        last_seen=AT,
        adherence=PatientAdherence(101, "Alice", False, True, completed=4),
        checkins=checkins,
        offset=0,
        total=9,
    )


def test_long_answers_are_shortened_until_the_page_fits() -> None:
    text = texts.patient_page(page_with(5, "& long answer " * 300), 4096)
    assert _fits(text)
    assert "Alice &lt;Test&gt;" in text
    assert text.count("• Question") == 20  # every answer keeps its line


def test_a_task_of_very_many_questions_is_cut_at_a_line_and_still_fits() -> None:
    text = texts.patient_page(page_with(60, "x" * 1000), 4096, note="Buttons: see below.")
    assert _fits(text)
    # Cut where an answer's line ends; the closing lines stay: which check-ins these are,
    # where the buttons are.
    last_answer, *closing = text.splitlines()[-5:]
    assert last_answer.startswith("• Question")
    assert closing == ["…", "", "<i>Check-ins 1–4 of 9, newest first.</i>", "Buttons: see below."]


def test_stored_yes_no_and_decimals_are_worded_for_the_reader_and_typed_text_is_not() -> None:
    answers = (
        AnswerLine(1, "Done?", "yes_no", "Yes", False, False, AT),
        AnswerLine(2, "Minutes?", "number", "7.5", False, False, AT),
        AnswerLine(3, "Notes", "text", "Yes 7.5", False, False, AT),
        AnswerLine(4, "Note", "text", "Yes", False, False, AT),
    )
    checkin = CheckinLine(1, "Task", 4, "Ankle Group", AT, CheckinOutcome.COMPLETED, answers)
    page = replace(page_with(0, ""), checkins=(checkin,), total=1)
    with speaking("de"):
        lines = texts.patient_page(page, 4096).splitlines()
    assert [line.split(" · ")[0] for line in lines if line.startswith("• ")] == [
        "• Done? — <b>Ja</b>",
        "• Minutes? — <b>7,5</b>",
        "• Notes — <b>Yes 7.5</b>",
        "• Note — <b>Yes</b>",
    ]
