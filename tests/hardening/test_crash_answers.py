"""Patients answer while ``patientbot run`` is killed with SIGKILL: nothing is lost or misplaced.

The scenario is ``benchmarks/crash.py`` (its docstring says what happens and how it is
measured): 40 patients in a check-in answer at once, three times, and each time the bot is
killed at a point the seed picks, then started again on the same database. The first kill
comes as Telegram is told the answers arrived (polling: the ``getUpdates`` whose offset
confirms them; webhook: once the bot answered 200); the second once a next question reached
the patient, before the bot heard so; the third between an answer's commit and the next
question's send (that request is cut on its way). Patients who see no next question type
again.

After the restarts: every answer typed is stored exactly once, every patient has their next
question, and no answer is stored against a question that was not on the patient's screen when
they typed it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from benchmarks.crash import Outcome, Scenario, run_scenario

PATIENTS = 40


def failures(outcome: Outcome) -> dict[str, int]:
    return {
        "lost": outcome.lost,
        "duplicated": outcome.duplicated,
        "misplaced": outcome.misplaced,
        "without their next question": outcome.patients - outcome.next_delivered,
        "fake Bot API violations": outcome.violations,
    }


@pytest.mark.parametrize(
    ("mode", "seed"),
    [pytest.param("polling", 14, id="polling"), pytest.param("webhook", 3, id="webhook")],
)
def test_sigkill_while_patients_answer_loses_and_misplaces_no_answer(
    database_url: str, backend: str, tmp_path: Path, mode: str, seed: int
) -> None:
    scenario = Scenario(
        database_url,
        tmp_path,
        mode="webhook" if mode == "webhook" else "polling",
        patients=PATIENTS,
        seed=seed,
        kills=("received", "replied", "between"),
    )

    outcome = run_scenario(scenario, backend)

    print(f"\nSIGKILL while answering [{backend}, {mode}]: {outcome.figures()}")
    assert [(k.kind, k.reached, k.exit_code) for k in outcome.kills] == [
        ("received", True, -signal.SIGKILL),
        ("replied", True, -signal.SIGKILL),
        ("between", True, -signal.SIGKILL),
    ], "each kill came at its point"
    assert outcome.sent == 3 * PATIENTS, "\n".join([str(outcome.figures()), *outcome.examples])
    expected = dict.fromkeys(failures(outcome), 0)
    assert failures(outcome) == expected, "\n".join([str(outcome.figures()), *outcome.examples])
