"""Two real ``patientbot run`` processes share one fan-out while patients answer (issue 22).

A small version of ``python -m benchmarks.bench_fanout --processes N`` (the scenario is
``benchmarks/fanout_processes.py``): two bot processes in webhook mode on one PostgreSQL
database, behind a round-robin load balancer, against one fake Bot API over HTTP that enforces
300 messages a second overall and one a second per chat. 200 prompts fall due at one instant
while 10 other patients answer a check-in of five questions, their updates spread over both
processes.

What a patient would notice: every patient got their prompt exactly once, and every answering
patient got each next question, whichever process took the answer. No timing is asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fanout_processes import Plan, run

PROMPTS = 200
ANSWERING = 10


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_processes_send_every_prompt_once_while_patients_get_each_next_question(
    database_url: str, tmp_path: Path, backend: str
) -> None:
    plan = Plan(
        database_url,
        tmp_path,
        processes=2,
        prompts=PROMPTS,
        answering=ANSWERING,
        limit=300.0,
        scan_interval=0.5,
    )

    result = run(plan)

    figures = {
        "lost": result.lost,
        "duplicated": result.duplicated,
        "answers typed": result.answers_typed,
        "answers stored": result.answers_stored,
        "answers stored twice": result.answers_duplicated,
        "answers not followed by the next question": result.next_missing,
        "fake Bot API violations": result.violations,
        "of which a closing edit repeated": result.edits_repeated,
        "429s": result.rate_limited,
        "updates per instance": result.updates_by_instance,
    }
    print(f"\ntwo processes, {PROMPTS} prompts, {ANSWERING} answering: {figures}")
    detail = "\n".join([str(figures), *result.examples])
    assert result.delivered == PROMPTS, detail
    assert (result.lost, result.duplicated) == (0, 0), detail
    assert result.answers_typed == ANSWERING * plan.questions, detail
    assert result.answers_stored == result.answers_typed, detail
    assert result.answers_duplicated == 0, detail
    assert result.next_missing == 0, detail
    # A closing edit sent twice changes nothing on the screen (see Result.edits_repeated);
    # anything else the fake refused would be a message the patient did not get.
    assert result.violations == result.edits_repeated, detail
    assert len(result.updates_by_instance) == 2, "both processes took answers"
