"""A therapist's alert survives ``patientbot run`` killed with SIGKILL right after its answer.

The real process against the fake Bot API over HTTP (``benchmarks/crash.py``'s runner): a
patient answers "No" to a question that alerts on "No", and the bot is killed as it sends the
next question (the request is cut on its way), after the answer's commit and before the alert.
Started again, the bot sends the alert to the therapist once, and the next question to the
patient.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from benchmarks.crash import (
    FIRST_CHAT,
    STOP_TIMEOUT,
    BotRunner,
    KillPoint,
    Patients,
    Scenario,
    config_text,
    question_marker,
    seed_checkins,
    shown,
    start_checkins,
    stored_answers,
    wait_until,
)
from fakebotapi import FakeBotApi
from fakebotapi.server import serve_in_thread
from storage.db import Database
from storage.models import Answer, Question, QuestionRevision

THERAPIST = 900_001
ALERT = "🚨"


def alert_on_no_for_question_one(database: Database) -> None:
    """Question 1 of the crash scenario's task becomes a yes/no question alerting on "No"."""
    with database.session() as session:
        (question_id,) = session.execute(
            update(Question)
            .where(Question.position == 1)  # type: ignore[arg-type]
            .values(response_type="yes_no", alert_rule="== no")
            .returning(Question.id)  # type: ignore[arg-type]
        ).one()
        session.execute(
            update(QuestionRevision)
            .where(QuestionRevision.question_id == question_id)  # type: ignore[arg-type]
            .values(response_type="yes_no")
        )
        session.commit()


def press(api: FakeBotApi, chat: int, label: str) -> dict[str, Any]:
    """The patient presses ``label`` under the latest message that has it."""
    screen = next(m for m in reversed(api.messages(chat)) if label in m.button_texts)
    return {
        "callback_query": {
            "id": f"alert-{chat}-{screen.message_id}",
            "from": {"id": chat, "is_bot": False, "first_name": "Patient"},
            "chat_instance": str(chat),
            "message": api.message_json(chat, screen.message_id),
            "data": screen.callback_data(label),
        }
    }


def alerts_still_marked(database: Database) -> list[int]:
    with database.read_session() as session:
        return list(
            session.exec(select(Answer.id).where(col(Answer.alert_pending_since).is_not(None)))
        )


def alerts_to_the_therapist(api: FakeBotApi) -> list[str]:
    return [
        str(call.params.get("text"))
        for call in api.sent_to(THERAPIST)
        if ALERT in str(call.params.get("text"))
    ]


def test_an_alert_raised_just_before_a_sigkill_reaches_the_therapist_once(
    database_url: str, tmp_path: Path
) -> None:
    # One kill, so three text questions (``Scenario.questions``); the first then alerts.
    scenario = Scenario(database_url, tmp_path, patients=1, seed=1, kills=("between",))
    database = Database(database_url)
    api = FakeBotApi(poll_wait_cap=0.2)
    chat = FIRST_CHAT
    try:
        seed_checkins(database, scenario.patients, scenario.questions)
        alert_on_no_for_question_one(database)
        with serve_in_thread(api) as server:
            runner = BotRunner(scenario, server)
            (tmp_path / "config.toml").write_text(
                config_text() + f"\n[therapists]\nuser_ids = [{THERAPIST}]\n", encoding="utf-8"
            )
            point = KillPoint(runner, signal.SIGKILL)
            api.intercept = point.on_request
            patients = Patients(api, scenario)
            try:
                runner.start()
                start_checkins(api, patients)
                (answer,) = api.push_updates([press(api, chat, "No")])
                point.arm("between", 1, [answer["update_id"]])  # question 2's send is cut
                assert point.fired.wait(20), "the bot never sent question 2"
                assert runner.wait_exit(STOP_TIMEOUT) == -signal.SIGKILL
                assert [position for _, position, _ in stored_answers(database)] == [1]
                assert alerts_to_the_therapist(api) == [], "killed before the alert"

                runner.start()
                wait_until(lambda: alerts_to_the_therapist(api) != [], 30, "the alert")
                wait_until(lambda: shown(api, chat, scenario.questions)[2] != [], 30, "question 2")
                # Once its mark is cleared, no scan can send it again.
                wait_until(lambda: not alerts_still_marked(database), 30, "the mark cleared")
                (alert,) = alerts_to_the_therapist(api)
                assert question_marker(1) in alert and "No" in alert
                assert runner.stop() == 0
            finally:
                runner.kill_now()
    finally:
        database.dispose()
