"""Conversations under fire: patients answer questionnaires while Telegram fails at random.

The fan-out itself under injected faults is tested in ``tests/flows/test_scheduling_fanout.py``;
here the prompts go out under faults too (retried by the sender), and then every reply the bot
gives in a conversation (``sendMessage``, ``editMessageText``, ``answerCallbackQuery``) fails at
a configurable rate with 429 + retry_after, 5xx, timeouts (before and after delivery),
connection resets and Forbidden.

What a patient experiences, as decided here: PTB does not retry a reply, so a failed reply is
lost, but the answer behind it was stored in the use case's one transaction first. When the
apology gets through it says so and points at /tasks; /tasks lists the check-in with a
Continue button that asks the current question again. So nothing answered is stored twice,
nothing stored is ever lost, and the patient can always carry on.

Each simulated patient acts only on what is on their screen: they answer the newest question
they can see, press Start/Continue when offered, and send /tasks when the bot seems silent.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import col, select

from bot import texts
from bot.clock import ManualClock
from bot.config import Settings
from fakebotapi import (
    ApiCall,
    FakeBotApi,
    Fault,
    ForbiddenFault,
    NetworkFault,
    RetryAfterFault,
    ScreenMessage,
    ServerError,
    TimeoutFault,
)
from storage.db import Database
from storage.models import Answer, Delivery, Question, Task
from tests.fakes.harness import Harness
from tests.fakes.revisions import with_first_revisions
from tests.fakes.updates import User
from tests.flows.test_scheduling_support import World

FAULT_RATE = 0.2
# Telegram hands some updates over twice (after a crash, or a webhook retry).
REDELIVERY_RATE = 0.1
PATIENTS = 20
DUE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TITLE = "Shoulder routine"
# (response type, options, min, max): one question of every kind a patient answers by hand.
QUESTIONS = (
    ("yes_no", None, None, None),
    ("number", None, 0.0, 200.0),
    ("scale", None, 0.0, 10.0),
    ("choice", ["Easy", "OK", "Hard"], None, None),
    ("text", None, None, None),
    ("photo", None, None, None),
)
FAN_OUT_FAULTS: tuple[Fault, ...] = (
    RetryAfterFault(1),
    ServerError(502),
    ServerError(500),
    TimeoutFault(),
    NetworkFault(),
)
CONVERSATION_FAULTS: tuple[Fault, ...] = (
    *FAN_OUT_FAULTS,
    TimeoutFault(delivered=True),
    NetworkFault(delivered=True),
    ForbiddenFault(),
)
QUESTION_RE = re.compile(r"Question (\d+) of (\d+)")


class FaultyEverywhere(FakeBotApi):
    """The fake, with its random faults on every reply method, not only on ``sendMessage``."""

    REPLY_METHODS = frozenset({"editMessageText", "answerCallbackQuery", "sendPhoto"})

    def _take_fault(self, method: str) -> Fault | None:
        fault = super()._take_fault(method)
        if (
            fault is None
            and method in self.REPLY_METHODS
            and self.fault_rate > 0
            and self.rng.random() < self.fault_rate
        ):
            fault = self.rng.choice(self.random_faults)
        return fault


@pytest.fixture
async def faulty(
    settings: Settings, database: Database, clock: ManualClock
) -> AsyncIterator[Harness]:
    api = FaultyEverywhere(
        wall_clock=lambda: clock.now().timestamp(),
        seed=6,
        fault_rate=FAULT_RATE,
        random_faults=FAN_OUT_FAULTS,
    )
    harness = await Harness(settings, database, clock, api=api).start()
    try:
        yield harness
        # A redelivered press is answered a second time, and refused, harmlessly: the bot
        # cannot tell it from the first delivery. Nothing else may be an invalid request.
        invalid = [
            v
            for v in harness.api.violations
            if not (v.method == "answerCallbackQuery" and "query is too old" in v.description)
        ]
        assert not invalid, invalid
    finally:
        await harness.stop()


def make_task(database: Database, group_id: int, clock: ManualClock) -> tuple[int, list[int]]:
    """A task with one question of every kind, planned for every patient of the group."""
    from bot.services.planning import plan_task

    with database.session() as session:
        task = Task(
            group_id=group_id,
            title=TITLE,
            due_date=date(2026, 11, 25),
            due_time=time(10, 0),
            created_at=clock.now(),
        )
        session.add(task)
        session.flush()
        assert task.id is not None
        rows = [
            Question(
                task_id=task.id,
                position=position,
                description=f"About your {kind} today",
                response_type=kind,
                options=options,
                min_value=low,
                max_value=high,
            )
            for position, (kind, options, low, high) in enumerate(QUESTIONS, 1)
        ]
        session.add_all(rows)
        with_first_revisions(session, rows)
        plan_task(session, task, clock.now(), "Europe/London")
        session.commit()
        return task.id, [q.id for q in rows if q.id is not None]


def intended(user: User, position: int) -> str:
    """What this patient answers to the question at ``position``, every time it is asked."""
    kind = QUESTIONS[position - 1][0]
    n = user.id
    return {
        "yes_no": ("Yes", "No")[n % 2],
        "number": str(20 + n % 50),
        "scale": str(n % 11),
        "choice": ("Easy", "OK", "Hard")[n % 3],
        "text": f"Did {n % 7 + 1} sets <easy> & no pain",
        "photo": f"photo-of-{n}",
    }[kind]


def stored_value(answer: Answer, kind: str) -> str:
    if kind == "number" or kind == "scale":
        assert answer.value_number is not None
        return str(int(answer.value_number))
    if kind == "photo":
        return answer.file_id or ""
    return answer.value_text


@dataclass
class Walk:
    """One patient working through their check-in from what they see."""

    user: User
    delivery_id: int
    actions: int = 0
    answers_given: int = 0
    asked_again: int = 0  # /tasks sent because the bot seemed silent
    pressed_again: int = 0  # the same answer button pressed twice: "did it work?"
    redelivered: int = 0  # an update Telegram handed over a second time
    done: bool = False
    last_press: tuple[str, int] | None = None
    rng: random.Random = field(default_factory=random.Random)
    snapshots: list[dict[int, str]] = field(default_factory=list)


def answers_of(database: Database, delivery_id: int) -> dict[int, Answer]:
    with database.session() as session:
        rows = session.exec(select(Answer).where(Answer.delivery_id == delivery_id)).all()
        return {a.question_id: a for a in rows}


async def walk(h: Harness, w: Walk, question_ids: list[int], max_actions: int = 120) -> None:
    """Act like a patient until the check-in is done; check after each step that no answer
    stored so far has changed or gone."""
    user = w.user
    seen = 0
    kept: dict[int, str] = {}
    while w.actions < max_actions:
        fresh = [m for m in h.api.messages(user.chat_id) if m.message_id > seen]
        seen = max([seen, *(m.message_id for m in fresh)])
        await act(h, w, fresh)
        if w.done:
            return
        w.actions += 1
        await asyncio.sleep(0)  # let the other patients take a turn
        now_stored = {
            qid: stored_value(a, QUESTIONS[question_ids.index(qid)][0])
            for qid, a in answers_of(h.database, w.delivery_id).items()
        }
        lost = {q: v for q, v in kept.items() if now_stored.get(q) != v}
        assert not lost, f"answers changed or vanished after their use case committed: {lost}"
        kept = now_stored
    raise AssertionError(f"{user.first_name} could not finish in {max_actions} actions")


async def act(h: Harness, w: Walk, fresh: list[ScreenMessage]) -> None:
    user = w.user
    questions = [
        m
        for m in fresh
        if m.plain and QUESTION_RE.search(m.plain) and "Your answer" not in m.plain
    ]
    if questions:
        message = questions[-1]
        match = QUESTION_RE.search(message.plain or "")
        assert match is not None
        position = int(match.group(1))
        kind = QUESTIONS[position - 1][0]
        value = intended(user, position)
        w.answers_given += 1
        w.last_press = None
        if kind in ("yes_no", "scale", "choice"):
            update = await h.press(user, value, message.message_id)
            w.last_press = (value, message.message_id)
        elif kind == "photo":
            update = await h.photo(user, value)
        else:
            update = await h.text(user, value)
        if w.rng.random() < REDELIVERY_RATE:
            w.redelivered += 1
            await h.again(update)
        return
    plains = [m.plain or "" for m in fresh]
    if any(texts.checkin_summary_thanks() in p for p in plains) or any(
        p.startswith("Nothing is open right now") for p in plains
    ):
        w.done = True
        return
    for message in reversed(fresh):
        label = next(
            (b for b in message.button_texts if b.startswith(("▶️ Start", "▶️ Continue"))), None
        )
        if label is not None:
            await h.press(user, label, message.message_id)
            return
    if w.last_press is not None:
        # The bot seems silent: an impatient patient presses the same answer again first,
        # if the button is still there (the edit that removes it may have been lost too).
        label, message_id = w.last_press
        w.last_press = None
        screen = h.api.message(user.chat_id, message_id)
        if screen is not None and label in screen.button_texts:
            w.pressed_again += 1
            await h.press(user, label, message_id)
            return
    # Still silent (the reply was lost): ask where we are.
    w.asked_again += 1
    await h.command(user, "/tasks")


async def fan_out(h: Harness, clock: ManualClock, world: World, task_id: int) -> int:
    """Scan every 5 seconds, as the job does, until every prompt is out; return the scans."""
    for scans in range(1, 40):
        await h.scan()
        statuses = world.statuses(task_id=task_id)
        if set(statuses) == {"sent"}:
            return scans
        clock.advance(timedelta(seconds=5))
    raise AssertionError(f"prompts still not out: {world.statuses(task_id=task_id)}")


def user_visible(calls: list[ApiCall]) -> list[str]:
    return [
        str(c.params.get("text") or c.params.get("caption") or "")
        for c in calls
        if c.method in ("sendMessage", "editMessageText", "answerCallbackQuery", "sendPhoto")
    ]


async def test_patients_finish_their_check_ins_while_a_fifth_of_telegram_calls_fail(
    faulty: Harness,
    clock: ManualClock,
    database: Database,
    backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = faulty
    caplog.set_level(logging.INFO)
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, PATIENTS)
    task_id, question_ids = make_task(database, group, clock)
    clock.set(DUE)

    scans = await fan_out(h, clock, world, task_id)
    fan_out_faults = dict(h.api.fault_counts)

    h.api.random_faults = CONVERSATION_FAULTS
    h.api.fault_counts.clear()
    updates_before = len(h.processed)
    walks = []
    for person in people:
        assert person.chat_id is not None and person.id is not None
        (row,) = world.deliveries(task_id=task_id, person_id=person.id)[:1]
        assert row.id is not None
        user = User(id=person.chat_id, first_name="Patient", last_name=str(person.chat_id))
        walks.append(Walk(user, row.id, rng=random.Random(person.chat_id)))
    await asyncio.gather(*(walk(h, w, question_ids) for w in walks))

    with database.session() as session:
        answers = session.exec(
            select(Answer).where(col(Answer.delivery_id).in_([w.delivery_id for w in walks]))
        ).all()
        statuses = Counter(
            d.status
            for d in session.exec(select(Delivery).where(Delivery.task_id == task_id)).all()
        )
    per_key = Counter((a.delivery_id, a.question_id) for a in answers)
    duplicates = sum(n - 1 for n in per_key.values())
    wrong = [
        (w.user.id, position)
        for w in walks
        for position, qid in enumerate(question_ids, 1)
        if stored_value(
            next(a for a in answers if (a.delivery_id, a.question_id) == (w.delivery_id, qid)),
            QUESTIONS[position - 1][0],
        )
        != intended(w.user, position)
    ]
    calls = h.api.calls
    shown = user_visible(calls)
    apologies = sum(texts.hardening_reply_lost() in text for text in shown)
    apologies_delivered = sum(
        1
        for c in calls
        if c.ok
        and c.method == "sendMessage"
        and c.params.get("text") == texts.hardening_reply_lost()
    )
    figures = {
        "patients": PATIENTS,
        "fan_out_scans": scans,
        "fan_out_faults": fan_out_faults,
        "updates": len(h.processed) - updates_before + sum(w.redelivered for w in walks),
        "api_calls": len(calls),
        "faults": dict(h.api.fault_counts),
        "answers_given": sum(w.answers_given for w in walks),
        "answers_stored": len(answers),
        "duplicates": duplicates,
        "lost": PATIENTS * len(QUESTIONS) - len(per_key),
        "wrong": len(wrong),
        "pressed_again": sum(w.pressed_again for w in walks),
        "redelivered": sum(w.redelivered for w in walks),
        "tasks_resent": sum(w.asked_again for w in walks),
        "apologies_tried": apologies,
        "apologies_delivered": apologies_delivered,
    }
    print(f"\nconversations under {FAULT_RATE:.0%} faults [{backend}]: {figures}")

    assert statuses == {"completed": PATIENTS}
    assert duplicates == 0 and figures["lost"] == 0 and not wrong
    assert len(answers) == PATIENTS * len(QUESTIONS)
    assert sum(h.api.fault_counts.values()) > 30, "the faults must really have hit"
    assert set(h.api.fault_counts) >= {"retry_after", "server_error", "timeout", "network"}
    assert h.api.fault_counts["forbidden"] > 0
    assert apologies_delivered > 0, "the error handler's apology path must have been used"
    # A person never reads a traceback or an exception's name, whatever failed.
    for text in shown:
        for leak in ("Traceback", 'File "', "Error:", "Exception", "TimedOut", "RetryAfter"):
            assert leak not in text, text
    # Transient failures are one warning line each, never an unhandled error with a traceback.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not [r for r in caplog.records if r.name == "bot.handlers.common" and r.exc_info]
