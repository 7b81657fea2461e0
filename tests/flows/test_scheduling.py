"""Scheduling through the real Application and the fake Bot API, with a manual clock.

Time never really passes: the ManualClock says what is due, and the pacer (and the fake's own
flood control) run on virtual time, so a fan-out of hundreds of prompts takes milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import select

from bot import scheduler
from bot.clock import ManualClock
from bot.config import Settings
from bot.scheduler import ScanReport
from bot.sender import Pacer
from bot.services import delivery
from bot.services.planning import replan_task
from fakebotapi import FakeBotApi, ServerError
from storage.db import Database
from storage.models import Answer, Person, Question, Task
from tests.fakes.harness import Harness
from tests.fakes.revisions import revision_id
from tests.fakes.updates import User
from tests.flows.test_scheduling_support import VirtualTime, World, at, virtual_pacer

TODAY = date(2026, 11, 25)  # the clock starts on Wednesday at 09:00 UTC, 09:00 in London


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def h(
    settings: Settings, database: Database, clock: ManualClock, vt: VirtualTime
) -> AsyncIterator[Harness]:
    api = FakeBotApi(
        time_source=vt.time,
        wall_clock=lambda: clock.now().timestamp(),
        limit_per_second=30,
        per_chat_per_second=1,
    )
    harness = await Harness(settings, database, clock, api=api).start()
    scheduler.state(harness.app).pacer = virtual_pacer(settings, vt)
    try:
        yield harness
        assert not harness.api.violations, f"invalid Bot API requests: {harness.api.violations}"
    finally:
        await harness.stop()
        if harness.database is not database:  # restart() made its own; close its connections
            harness.database.dispose()


@pytest.fixture
def world(database: Database, clock: ManualClock) -> World:
    return World(database, clock)


async def scan(h: Harness, vt: VirtualTime) -> ScanReport:
    report: ScanReport = await vt.run(h.scan())
    return report


def messages(h: Harness, chat_id: int) -> list[str]:
    """Every text the patient received, as sent: prompts and reminders."""
    return h.api.texts(chat_id)


def prompts(h: Harness, chat_id: int) -> list[str]:
    """The prompts the patient received, reminders left out."""
    return [text for text in h.api.texts(chat_id) if "Reminder" not in text]


# --- due times across DST --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "change_day"),
    [
        ("Europe/London", date(2026, 3, 29)),  # clocks go forward
        ("Europe/London", date(2026, 10, 25)),  # clocks go back
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
    ],
)
async def test_a_daily_eleven_oclock_task_comes_at_eleven_local_on_both_sides_of_a_dst_change(
    h: Harness,
    vt: VirtualTime,
    world: World,
    clock: ManualClock,
    zone: str,
    change_day: date,
) -> None:
    days = [change_day - timedelta(days=1), change_day, change_day + timedelta(days=1)]
    clock.set(at(days[0], time(6, 0), zone))
    group = world.group(zone=zone)
    person = world.patient(group)
    world.task(group, (days[0], time(11, 0)), recurrence="FREQ=DAILY", expiry_minutes=60)
    chat = person.chat_id
    assert chat is not None

    for number, day in enumerate(days, start=1):
        due = at(day, time(11, 0), zone)
        clock.set(due - timedelta(seconds=1))
        await scan(h, vt)
        assert len(prompts(h, chat)) == number - 1, f"nothing before 11:00 on {day}"
        clock.set(due)
        await scan(h, vt)
        assert len(prompts(h, chat)) == number, f"the prompt at 11:00 on {day}"
        assert f"{day:%d %b}, 11:00" in prompts(h, chat)[-1]

    sent = [r.due_at for r in world.deliveries() if r.status in ("sent", "expired")]
    assert sent == [at(day, time(11, 0), zone) for day in days]
    # The UTC instants differ by 23 or 25 hours across the change: wall-clock time wins.
    assert {(b - a) for a, b in itertools.pairwise(sent)} != {timedelta(hours=24)}


async def test_yesterdays_check_in_is_over_when_todays_comes_on_the_day_the_clocks_go_forward(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    """A daily 10:00 task with the default 24 hours to answer, begun and left on Saturday.

    Sunday 29 March has 23 hours in London. Counted in UTC, Saturday's 24 hours ran to 11:00
    BST, and Sunday's prompt, held while Saturday's was open, came an hour late.
    """
    clock.set(datetime(2026, 3, 28, 6, 0, tzinfo=UTC))
    group = world.group(zone="Europe/London")
    person = world.patient(group)
    world.task(group, (date(2026, 3, 28), time(10, 0)), recurrence="FREQ=DAILY", questions=2)
    patient = User(person.telegram_user_id, "Patient")

    def on(at: datetime) -> None:
        vt.now += (at - clock.now()).total_seconds()  # the pacer's clock moves on too
        clock.set(at)

    on(datetime(2026, 3, 28, 10, 0, tzinfo=UTC))  # 10:00 GMT
    await scan(h, vt)
    on(datetime(2026, 3, 28, 10, 5, tzinfo=UTC))
    await h.press(patient, "▶️ Start now")  # and nothing more
    on(datetime(2026, 3, 29, 9, 0, tzinfo=UTC))  # 10:00 BST
    await scan(h, vt)
    saturday, sunday = world.deliveries()[:2]
    assert saturday.status == "expired"
    assert sunday.status == "sent", "Sunday's prompt came at 10:00, not held an hour"
    assert "29 Mar, 10:00" in prompts(h, patient.chat_id)[-1]


async def test_a_check_in_at_a_time_the_clocks_skip_ends_as_the_next_one_falls_due(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 3, 28, 2, 0, tzinfo=UTC))
    group = world.group(zone="Europe/London")
    world.patient(group)
    world.task(group, (date(2026, 3, 29), time(1, 30)), recurrence="FREQ=DAILY")
    clock.set(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 02:30 BST: 01:30 did not happen
    await scan(h, vt)
    sunday, monday = world.deliveries()
    assert monday.due_at == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert sunday.expires_at == monday.due_at


async def test_a_time_skipped_or_repeated_by_dst_follows_the_documented_policy(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    # 01:30 does not exist on 29 March (it is 02:30 BST then) and happens twice on 25 October.
    clock.set(datetime(2026, 3, 28, 2, 0, tzinfo=UTC))
    group = world.group(zone="Europe/London")
    world.patient(group)
    world.task(group, (date(2026, 3, 29), time(1, 30)), recurrence="FREQ=DAILY", expiry_minutes=30)
    (spring,) = world.deliveries()
    assert spring.due_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST, an hour on

    clock.set(datetime(2026, 10, 24, 2, 0, tzinfo=UTC))
    with h.database.session() as session:
        task = session.exec(select(Task)).one()
        task.due_date = date(2026, 10, 25)
        session.flush()
        replan_task(session, task, clock.now(), "Europe/London")
        session.commit()
    autumn = [r for r in world.deliveries() if r.status == "pending"]
    assert [r.due_at for r in autumn] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # BST one
    clock.set(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    await scan(h, vt)
    following = [r.due_at for r in world.deliveries() if r.status == "pending"]
    assert following == [datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]  # 01:30 GMT next day


# --- joining, editing, deleting --------------------------------------------------------------


async def test_a_patient_joining_mid_series_gets_only_future_occurrences(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    group = world.group()
    early = world.patient(group)
    world.task(group, (date(2026, 11, 22), time(9, 0)), recurrence="FREQ=DAILY;COUNT=10")
    for day in (22, 23, 24):
        clock.set(datetime(2026, 11, day, 9, 0, tzinfo=UTC))
        await scan(h, vt)
    clock.set(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))

    late = world.patient(group)
    await scan(h, vt)

    assert late.chat_id is not None and early.chat_id is not None
    assert prompts(h, late.chat_id) == [], "nothing from the days before they joined"
    assert [r.due_at for r in world.deliveries(person_id=late.id)] == [
        datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    ]
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    await scan(h, vt)
    assert len(prompts(h, late.chat_id)) == 1
    assert len(prompts(h, early.chat_id)) == 4


async def test_editing_a_tasks_time_moves_its_pending_prompts_without_duplicates(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    people = [world.patient(group) for _ in range(3)]
    task_id = world.task(group, (TODAY, time(12, 0)), recurrence="FREQ=DAILY")
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    await scan(h, vt)  # today's 12:00 prompts go out

    clock.set(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    with h.database.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.due_time = time(15, 0)
        session.flush()
        replanned = replan_task(session, task, clock.now(), "Europe/London")
        session.commit()
    assert (replanned.cancelled, replanned.added, replanned.kept) == (3, 3, 0)

    for hour in (15, 16):
        clock.set(datetime(2026, 11, 25, hour, 0, tzinfo=UTC))
        await scan(h, vt)
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await scan(h, vt)

    for person in people:
        assert person.chat_id is not None
        assert len(prompts(h, person.chat_id)) == 2, "12:00 today, 15:00 tomorrow; not 15:00 today"
        due = [r.due_at for r in world.deliveries(person_id=person.id) if r.status != "pending"]
        assert due == [
            datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
            datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        ]


async def test_deleting_a_task_cancels_its_pending_prompts(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    people = [world.patient(group) for _ in range(3)]
    task_id = world.task(group, (TODAY, time(12, 0)), recurrence="FREQ=DAILY")
    other = world.task(group, (TODAY, time(12, 0)), title="Hip mobility")
    with h.database.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.deleted_at = clock.now()
        session.flush()
        replanned = replan_task(session, task, clock.now(), "Europe/London")
        session.commit()
    assert (replanned.cancelled, replanned.added, replanned.kept) == (3, 0, 0)
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))

    report = await scan(h, vt)

    assert report.sent == 3
    for person in people:
        assert person.chat_id is not None
        (text,) = prompts(h, person.chat_id)
        assert "Hip mobility" in text
    assert world.deliveries(task_id=task_id) == []
    assert world.statuses(task_id=other) == {"sent": 3}


async def test_a_due_row_of_a_task_deleted_a_moment_ago_is_cancelled_not_sent(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    person = world.patient(group)
    task_id = world.task(group, (TODAY, time(12, 0)))
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    with h.database.session() as session:  # deleted without replanning, as in a race
        task = session.get(Task, task_id)
        assert task is not None
        task.deleted_at = clock.now()
        session.commit()

    report = await scan(h, vt)

    assert (report.sent, report.cancelled) == (0, 1)
    assert person.chat_id is not None and prompts(h, person.chat_id) == []
    assert world.statuses(task_id=task_id) == {"cancelled": 1}


# --- catch-up after downtime -----------------------------------------------------------------


async def test_after_downtime_what_is_still_open_is_sent_and_the_rest_expires_and_is_logged(
    h: Harness,
    vt: VirtualTime,
    world: World,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    group = world.group()
    person = world.patient(group)
    inside = world.task(group, (TODAY, time(10, 0)), title="Long window", expiry_minutes=24 * 60)
    outside = world.task(group, (TODAY, time(10, 0)), title="Short window", expiry_minutes=60)
    daily = world.task(
        group, (TODAY, time(10, 0)), title="Daily", recurrence="FREQ=DAILY", expiry_minutes=30
    )
    clock.set(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))  # the bot was down 09:00-13:00
    caplog.set_level(logging.INFO, logger="bot.scheduler")

    report = await scan(h, vt)

    assert person.chat_id is not None
    (text,) = prompts(h, person.chat_id)
    assert "Long window" in text
    assert (report.sent, report.late_sent, report.expired, report.expired_unsent) == (1, 1, 2, 2)
    assert world.statuses(task_id=inside) == {"sent": 1}
    assert world.statuses(task_id=outside) == {"expired": 1}
    # The daily series goes on from tomorrow: no row for each missed day.
    assert [(r.status, r.due_at) for r in world.deliveries(task_id=daily)] == [
        ("expired", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("pending", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
    ]
    assert "caught up after downtime: 1 sent, 2 expired" in caplog.text
    assert "1 claimed, 1 sent, 2 expired" in caplog.text


class FollowingClock(ManualClock):
    """The bot's wall clock moving with virtual time, as a real one moves while prompts go out."""

    def __init__(self, start: datetime, vt: VirtualTime) -> None:
        super().__init__(start)
        self.vt = vt
        self.origin = vt.now

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.vt.now - self.origin)


async def test_a_fan_out_over_several_scans_is_on_time_and_only_a_real_gap_is_downtime(
    settings: Settings, database: Database, vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    # 500 prompts at 5 a second take 100 s, in rounds of 20 and scans of at most 20 rounds:
    # the second scan claims rows due well over a minute before it began. That is a big group,
    # not downtime, and must not be logged as "caught up after downtime", which sends an
    # operator looking for an outage. A scan after two hours without one is a catch-up.
    busy = settings.model_copy(
        update={
            "scheduler": settings.scheduler.model_copy(
                update={"messages_per_second": 5.0, "scan_batch_size": 20}
            )
        }
    )
    clock = FollowingClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), vt)
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 500)
    world.task(group, (TODAY, time(10, 0)))
    small = world.group("Hip Therapy 1")
    world.patient(small)
    world.task(small, (TODAY, time(11, 0)), title="Hip check")
    due = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    clock.set(due)
    api = FakeBotApi(time_source=vt.time, limit_per_second=30, per_chat_per_second=1)
    h = await Harness(busy, database, clock, api=api).start()
    scheduler.state(h.app).pacer = virtual_pacer(busy, vt)
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    try:
        first = await scan(h, vt)
        second = await scan(h, vt)
        fan_out_ended = clock.now()
        clock.set(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))  # no scan from 10:02 to 13:00
        after_gap = await scan(h, vt)
    finally:
        await h.stop()

    assert fan_out_ended - due > timedelta(seconds=90)
    assert (first.sent, first.rounds, second.sent) == (400, 20, 100)
    assert all(prompts(h, p.chat_id or 0) for p in people)
    assert first.late_sent == second.late_sent == 0
    assert (after_gap.sent, after_gap.late_sent) == (1, 1)  # the 11:00 hip check
    downtime = [r.getMessage() for r in caplog.records if "downtime" in r.getMessage()]
    assert downtime == ["caught up after downtime: 1 sent, 0 expired"]


async def test_an_expired_prompt_says_it_closed_and_loses_its_buttons(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(10, 0)), title="Shoulder <pain> check", expiry_minutes=60)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    await scan(h, vt)
    assert person.chat_id is not None
    assert h.last_message(person.chat_id).buttons

    clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=UTC))
    report = await scan(h, vt)

    assert report.expired == 1
    closed = h.last_message(person.chat_id)
    assert closed.edited and not closed.buttons
    assert closed.plain is not None
    # The prompt as it was, and under it when it closed, in the patient's time.
    assert closed.plain.startswith("📋 Time for your check-in\n\nShoulder <pain> check\n")
    assert closed.plain.endswith(
        "Open until Wed 25 Nov, 11:00 (GMT).\n\n⌛ Closed at Wed 25 Nov, 11:00 (GMT)"
    )


# --- reminders and quiet hours ---------------------------------------------------------------


async def test_reminders_follow_unanswered_prompts_and_wait_out_quiet_hours(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    # Defaults: first after 60 minutes, then every 120, at most 2; quiet 21:00-08:00.
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(19, 30)), expiry_minutes=24 * 60)
    assert person.chat_id is not None
    steps = [
        (datetime(2026, 11, 25, 19, 30, tzinfo=UTC), 1),  # the prompt
        (datetime(2026, 11, 25, 20, 29, tzinfo=UTC), 1),
        (datetime(2026, 11, 25, 20, 30, tzinfo=UTC), 2),  # first reminder
        (datetime(2026, 11, 25, 22, 30, tzinfo=UTC), 2),  # second is due, but it is quiet
        (datetime(2026, 11, 26, 7, 59, tzinfo=UTC), 2),
        (datetime(2026, 11, 26, 8, 0, tzinfo=UTC), 3),  # quiet hours over
        (datetime(2026, 11, 26, 12, 0, tzinfo=UTC), 3),  # no third
    ]
    deferred = 0
    for instant, expected in steps:
        clock.set(instant)
        deferred += (await scan(h, vt)).deferred
        assert len(messages(h, person.chat_id)) == expected, instant
    texts = messages(h, person.chat_id)
    assert "Reminder" not in texts[0]
    assert all("Reminder" in text for text in texts[1:])
    assert deferred == 1
    (row,) = world.deliveries()
    assert (row.reminders_sent, row.remind_at) == (2, None)


async def test_a_patient_who_is_answering_is_reminded_only_a_full_wait_after_the_last_answer(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    # Defaults: the first reminder 60 minutes after the prompt, or after the patient's last step.
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(10, 0)), questions=3)
    patient = User(person.telegram_user_id, "Patient")

    def on(hour: int, minute: int) -> None:
        at = datetime(2026, 11, 25, hour, minute, tzinfo=UTC)
        vt.now += (at - clock.now()).total_seconds()  # the fake's flood control sees it too
        clock.set(at)

    on(10, 0)
    await scan(h, vt)
    on(10, 5)
    await h.press(patient, "▶️ Start now")  # a reminder would now come at 11:05
    on(10, 50)
    await h.text(patient, "yes")  # question 1 of 3: the patient is still at it
    shown = len(messages(h, patient.chat_id))
    assert "Question 2 of 3" in messages(h, patient.chat_id)[-1]

    on(11, 5)
    assert (await scan(h, vt)).reminded == 0
    on(11, 49)
    assert (await scan(h, vt)).reminded == 0
    assert len(messages(h, patient.chat_id)) == shown

    on(11, 50)  # a full hour after the last answer
    assert (await scan(h, vt)).reminded == 1
    (reminder,) = messages(h, patient.chat_id)[shown:]
    assert "Reminder" in reminder and "pick up where you left off" in reminder


async def test_a_patients_own_quiet_hours_win_over_the_default(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    person = world.patient(group, quiet=(time(20, 0), time(22, 0)))
    world.task(group, (TODAY, time(19, 30)))
    clock.set(datetime(2026, 11, 25, 19, 30, tzinfo=UTC))
    await scan(h, vt)
    clock.set(datetime(2026, 11, 25, 20, 30, tzinfo=UTC))
    report = await scan(h, vt)
    assert report.deferred == 1
    (row,) = world.deliveries()
    assert row.remind_at == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))  # default quiet, but not theirs
    assert (await scan(h, vt)).reminded == 1
    assert person.chat_id is not None and len(messages(h, person.chat_id)) == 2


async def test_no_reminder_once_the_task_is_completed_or_skipped(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    done, skipped, silent = (world.patient(group) for _ in range(3))
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    await scan(h, vt)
    rows = {r.person_id: r for r in world.deliveries()}
    world.update_delivery(rows[done.id].id, status="completed")  # type: ignore[index, arg-type]
    world.update_delivery(rows[skipped.id].id, status="skipped")  # type: ignore[index, arg-type]

    clock.set(datetime(2026, 11, 25, 11, 0, tzinfo=UTC))
    report = await scan(h, vt)

    assert report.reminded == 1
    counts = {p.id: len(messages(h, p.chat_id)) for p in (done, skipped, silent) if p.chat_id}
    assert counts == {done.id: 1, skipped.id: 1, silent.id: 2}


@dataclass
class TwoTasks:
    person: Person
    morning: int  # the delivery in progress
    morning_task: int
    second_task: int


async def morning_in_progress(
    h: Harness,
    vt: VirtualTime,
    world: World,
    clock: ManualClock,
    second_at: time,
    *,
    started: bool = True,
    remind_at: datetime | None = None,
    second_repeats: str | None = None,
) -> TwoTasks:
    """A patient whose 10:00 "Morning" check-in is in progress, and "Stretches" due later."""
    group = world.group()
    person = world.patient(group)
    first = world.task(group, (TODAY, time(10, 0)), title="Morning")
    second = world.task(group, (TODAY, second_at), title="Stretches", recurrence=second_repeats)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    await scan(h, vt)
    (morning,) = world.deliveries(task_id=first)
    assert morning.id is not None and person.chat_id is not None
    world.update_delivery(
        morning.id,
        status="in_progress",
        started_at=clock.now() if started else None,
        remind_at=remind_at,
    )
    return TwoTasks(person, morning.id, first, second)


def answer_first_question(world: World, tasks: TwoTasks, at: time) -> None:
    with world.database.session() as session:
        question = session.exec(
            select(Question).where(Question.task_id == tasks.morning_task)
        ).first()
        assert question is not None and question.id is not None
        answered_at = datetime.combine(TODAY, at, tzinfo=UTC)
        session.add(
            Answer(
                delivery_id=tasks.morning,
                question_id=question.id,
                question_revision_id=revision_id(session, question.id),
                answered_at=answered_at,
            )
        )
        session.commit()


async def test_a_prompt_due_while_the_patient_answers_another_waits_unsent(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    tasks = await morning_in_progress(h, vt, world, clock, time(10, 30), started=False)
    person, second = tasks.person, tasks.second_task

    clock.set(datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    report = await scan(h, vt)

    assert (report.held, report.sent) == (1, 0)
    assert person.chat_id is not None and len(prompts(h, person.chat_id)) == 1
    (waiting,) = world.deliveries(task_id=second)
    assert (waiting.status, waiting.prompt_message_id, waiting.remind_at) == ("sent", None, None)


@pytest.mark.parametrize("last_answer", [None, time(11, 0)], ids=["walked away", "answering"])
async def test_a_check_in_left_untouched_for_a_full_wait_holds_back_no_later_prompt(
    h: Harness,
    vt: VirtualTime,
    world: World,
    clock: ManualClock,
    last_answer: time | None,
) -> None:
    # The patient started the morning task at 10:00 and walked away. Holding the 11:30 prompt
    # behind it would hide it until the morning task expires, a day later. One who answered
    # at 11:00 is still at it: the prompt waits for them to finish.
    tasks = await morning_in_progress(h, vt, world, clock, time(11, 30))
    person, second = tasks.person, tasks.second_task
    if last_answer is not None:
        answer_first_question(world, tasks, last_answer)

    clock.set(datetime(2026, 11, 25, 11, 30, tzinfo=UTC))
    report = await scan(h, vt)

    if last_answer is not None:
        assert (report.held, report.sent) == (1, 0)
        return
    assert (report.held, report.sent) == (0, 1)
    assert person.chat_id is not None
    assert "Stretches" in prompts(h, person.chat_id)[-1]
    (stretches,) = world.deliveries(task_id=second)
    assert stretches.status == "sent" and stretches.prompt_message_id is not None
    assert world.delivery(tasks.morning).status == "in_progress"


async def test_a_prompt_held_while_the_patient_answered_goes_out_once_they_go_quiet(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    reminder_at = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    tasks = await morning_in_progress(h, vt, world, clock, time(11, 30), remind_at=reminder_at)
    answer_first_question(world, tasks, time(11, 0))
    person, second = tasks.person, tasks.second_task
    assert person.chat_id is not None
    clock.set(datetime(2026, 11, 25, 11, 30, tzinfo=UTC))
    assert (await scan(h, vt)).held == 1  # the patient answered half an hour ago

    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # an hour since that answer
    assert (await scan(h, vt)).reminded == 1
    clock.set(datetime(2026, 11, 25, 12, 1, tzinfo=UTC))
    assert (await scan(h, vt)).sent == 1

    texts = messages(h, person.chat_id)
    assert "Reminder" in texts[-2] and "Morning" in texts[-2]
    assert "Time for your check-in" in texts[-1] and "Stretches" in texts[-1]
    (stretches,) = world.deliveries(task_id=second)
    assert stretches.status == "sent" and stretches.prompt_message_id is not None
    assert stretches.remind_at is not None  # a prompt of its own now, with its reminders


async def test_a_held_prompt_let_go_after_its_task_moved_later_adds_no_second_that_day(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    """Daily Stretches at 11:30 is held while the patient answers the morning check-in. At
    11:40 the therapist moves it to 15:00: today had its prompt (held), so the edit plans
    tomorrow's 15:00. Let go at 12:01, the held prompt goes out; it must not plan a 15:00 of
    today as well, a second Stretches the same day."""
    tasks = await morning_in_progress(
        h, vt, world, clock, time(11, 30), remind_at=None, second_repeats="FREQ=DAILY"
    )
    answer_first_question(world, tasks, time(11, 0))
    person = tasks.person
    assert person.chat_id is not None
    clock.set(datetime(2026, 11, 25, 11, 30, tzinfo=UTC))
    assert (await scan(h, vt)).held == 1
    clock.set(datetime(2026, 11, 25, 11, 40, tzinfo=UTC))
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Stretches")).one()
        task.due_time = time(15, 0)
        session.flush()
        replan_task(session, task, clock.now(), "Europe/London")
        session.commit()
    clock.set(datetime(2026, 11, 25, 12, 1, tzinfo=UTC))  # an hour since the last answer
    assert (await scan(h, vt)).sent == 1

    def stretches_prompts() -> int:
        return sum("Stretches" in text for text in prompts(h, person.chat_id))

    assert stretches_prompts() == 1
    clock.set(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    await scan(h, vt)
    assert stretches_prompts() == 1, "a second Stretches the same day"
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await scan(h, vt)
    assert stretches_prompts() == 2  # tomorrow's, at its new hour
    due = sorted(d.due_at for d in world.deliveries(task_id=tasks.second_task))
    assert due[-1] == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


async def test_a_prompt_put_back_after_failed_sends_and_kept_by_an_edit_keeps_its_series(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    """Daily Stretches at 10:00; every try of the 10:00 send fails, and the prompt goes back to
    pending for a later scan. At 10:05 the therapist moves the task to 09:00: today's row is
    kept (its day's new hour has come) and its successor, tomorrow's 10:00, dropped. Sent at
    10:06, it must plan tomorrow's 09:00: the series goes on."""
    group = world.group()
    person = world.patient(group)
    assert person.chat_id is not None
    task_id = world.task(group, (TODAY, time(10, 0)), title="Stretches", recurrence="FREQ=DAILY")
    h.api.inject("sendMessage", ServerError(503), times=4)  # the sender's tries in one scan
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    await scan(h, vt)
    [today] = [d for d in world.deliveries(task_id=task_id) if d.due_at.day == 25]
    assert (today.status, today.send_attempts) == ("pending", 1)

    clock.set(datetime(2026, 11, 25, 10, 5, tzinfo=UTC))
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == "Stretches")).one()
        task.due_time = time(9, 0)
        session.flush()
        assert replan_task(session, task, clock.now(), "Europe/London").kept == 1
        session.commit()
    clock.set(datetime(2026, 11, 25, 10, 6, tzinfo=UTC))
    await scan(h, vt)
    assert len(prompts(h, person.chat_id)) == 1

    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    await scan(h, vt)
    assert len(prompts(h, person.chat_id)) == 2, "the series stopped"


async def test_a_prompt_held_behind_a_check_in_with_no_reminder_left_goes_out_once_they_go_quiet(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    """The morning check-in had its reminders, so nothing reminds the patient of it again;
    held behind it, Stretches went out only when the morning one expired, or never."""
    tasks = await morning_in_progress(h, vt, world, clock, time(11, 30), remind_at=None)
    answer_first_question(world, tasks, time(11, 0))
    person, second = tasks.person, tasks.second_task
    assert person.chat_id is not None
    clock.set(datetime(2026, 11, 25, 11, 30, tzinfo=UTC))
    assert (await scan(h, vt)).held == 1  # the patient answered half an hour ago
    clock.set(datetime(2026, 11, 25, 11, 59, tzinfo=UTC))
    assert (await scan(h, vt)).sent == 0, "still answering"

    clock.set(datetime(2026, 11, 25, 12, 1, tzinfo=UTC))  # an hour since that answer
    released = await scan(h, vt)
    assert released.sent == 1
    # Due at 11:30 and held on time: no downtime to warn the operator of.
    assert released.late_sent == 0

    assert "Time for your check-in" in messages(h, person.chat_id)[-1]
    (stretches,) = world.deliveries(task_id=second)
    assert stretches.status == "sent" and stretches.prompt_message_id is not None
    assert stretches.remind_at is not None


# --- crashes ---------------------------------------------------------------------------------


async def test_a_claim_left_by_a_crashed_process_is_sent_after_the_lease_exactly_once(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock, settings: Settings
) -> None:
    group = world.group()
    people = [world.patient(group) for _ in range(5)]
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    # A process on another host claims the rows, then dies before sending anything.
    policy = scheduler.scan_policy(h.app.bot_data["deps"])
    elsewhere = replace(policy, instance_id="other-host:4242:dead")
    crashed = delivery.scan(h.database, clock.now(), elsewhere)
    assert crashed.claimed == 5
    lease = settings.scheduler.claim_lease_seconds

    await h.restart()  # a new process on the same database
    scheduler.state(h.app).pacer = virtual_pacer(settings, vt)
    clock.advance(timedelta(seconds=lease - 5))
    assert (await scan(h, vt)).claimed == 0, "the lease still holds"
    clock.advance(timedelta(seconds=6))
    report = await scan(h, vt)

    assert (report.claimed, report.sent) == (5, 5)
    for person in people:
        assert person.chat_id is not None and len(prompts(h, person.chat_id)) == 1
    assert {r.send_attempts for r in world.deliveries()} == {2}


async def test_a_restart_on_the_same_host_takes_its_dead_predecessors_claims_back_at_once(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock, settings: Settings
) -> None:
    group = world.group()
    people = [world.patient(group) for _ in range(5)]
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    # This host's previous process (a pid no longer running) claimed the rows and was killed.
    policy = scheduler.scan_policy(h.app.bot_data["deps"])
    dead = replace(policy, instance_id=f"{socket.gethostname()}:{dead_pid()}:killed")
    assert delivery.scan(h.database, clock.now(), dead).claimed == 5

    await h.restart()
    scheduler.state(h.app).pacer = virtual_pacer(settings, vt)
    clock.advance(timedelta(seconds=1))  # well inside the lease
    report = await scan(h, vt)

    assert (report.claimed, report.sent) == (5, 5), "the fan-out resumes within one scan"
    for person in people:
        assert person.chat_id is not None and len(prompts(h, person.chat_id)) == 1


def dead_pid() -> int:
    """A process id that no process has now: a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_crash_after_sending_but_before_recording_costs_at_most_one_duplicate(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock, settings: Settings
) -> None:
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    (job,) = delivery.scan(
        h.database, clock.now(), scheduler.scan_policy(h.app.bot_data["deps"])
    ).jobs
    await h.app.bot.send_message(job.chat_id, "📋 the prompt, sent just before the crash")

    await h.restart()
    scheduler.state(h.app).pacer = virtual_pacer(settings, vt)
    clock.advance(timedelta(seconds=121))
    await scan(h, vt)
    clock.advance(timedelta(seconds=300))
    await scan(h, vt)

    assert person.chat_id is not None and len(h.api.sent_to(person.chat_id)) == 2
    assert world.statuses() == {"sent": 1}


async def test_a_clean_stop_releases_its_claims_for_the_next_process(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    world.patient(group)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    deps = h.app.bot_data["deps"]
    assert delivery.scan(h.database, clock.now(), scheduler.scan_policy(deps)).claimed == 1

    assert h.app.post_stop is not None
    await h.app.post_stop(h.app)

    assert world.statuses() == {"pending": 1}
    assert (await scan(h, vt)).sent == 1, "sent at once, without waiting for the lease"


# --- Telegram's answers ----------------------------------------------------------------------


async def test_a_patient_who_blocked_the_bot_is_marked_and_the_others_still_get_theirs(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    group = world.group()
    blocker, *others = (world.patient(group) for _ in range(4))
    world.task(group, (TODAY, time(10, 0)), title="Now")
    later = world.task(group, (TODAY, time(18, 0)), title="Later")
    assert blocker.chat_id is not None
    h.api.block(blocker.chat_id)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))

    report = await scan(h, vt)

    assert (report.sent, report.failed) == (3, 1)
    assert world.person(blocker.id).unreachable  # type: ignore[arg-type]
    assert {r.status for r in world.deliveries(person_id=blocker.id)} == {"failed"}
    for person in others:
        assert person.chat_id is not None and len(prompts(h, person.chat_id)) == 1
    clock.set(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    assert (await scan(h, vt)).sent == 3
    assert world.statuses(task_id=later)["sent"] == 3


async def test_flood_control_is_honoured_and_nothing_is_lost(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock
) -> None:
    h.api.limit_per_second = 10  # a stricter server than the configured 25 a second
    group = world.group()
    world.patients(group, 60)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))

    report = await scan(h, vt)
    for _ in range(10):
        if world.statuses().get("sent") == 60:
            break
        clock.advance(timedelta(seconds=5))
        report = await scan(h, vt)

    assert h.api.rate_limited > 0
    assert world.statuses() == {"sent": 60}
    assert all(
        len(h.api.sent_to(chat)) == 1
        for chat in {c.chat_id for c in h.api.calls_of("sendMessage")}
    )
    assert report is not None


async def test_two_prompts_for_one_chat_are_a_second_apart_and_the_rest_evenly_spaced(
    h: Harness, vt: VirtualTime, world: World, clock: ManualClock, settings: Settings
) -> None:
    rate = settings.scheduler.messages_per_second
    group = world.group()
    busy = world.patient(group)
    world.patients(group, 40)
    world.task(group, (TODAY, time(10, 0)), title="Morning")
    world.task(group, (TODAY, time(10, 0)), title="Stretches")
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))

    report = await scan(h, vt)

    assert report.sent == 82
    assert h.api.rate_limited == 0
    assert busy.chat_id is not None
    times = [c.at for c in h.api.sent_to(busy.chat_id)]
    assert len(times) == 2 and times[1] - times[0] >= 1.0
    every = sorted(c.at for c in h.api.calls_of("sendMessage"))
    gaps = [b - a for a, b in itertools.pairwise(every)]
    assert min(gaps) >= 1 / rate - 1e-9, "never faster than the configured rate"
    assert every[-1] - every[0] == pytest.approx(81 / rate), "and never slower: no idle slots"


# --- the job ---------------------------------------------------------------------------------


async def test_one_repeating_job_scans_from_the_moment_the_bot_starts(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    fast = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"scan_interval_seconds": 0.05})}
    )
    world = World(database, clock)
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))  # fell due while the bot was down
    h = await Harness(fast, database, clock).start()
    try:
        assert h.app.job_queue is not None
        jobs = h.app.job_queue.jobs()
        assert sorted(job.name for job in jobs) == ["due-scan", "due-scan-at-start"]
        st = scheduler.state(h.app)
        async with st.lock:  # a scan is still running: ticks are skipped, not stacked
            await h.app.start()
            await _wait(lambda: False, 0.2)
            assert person.chat_id is not None and h.api.sent_to(person.chat_id) == []
        await _wait(lambda: bool(h.api.sent_to(person.chat_id)), 3.0)
        assert len(h.api.sent_to(person.chat_id)) == 1
        await h.app.stop()
    finally:
        await h.stop()


async def test_prompts_that_fell_due_while_down_go_out_at_start_not_an_interval_later(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    slow = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"scan_interval_seconds": 60})}
    )
    world = World(database, clock)
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    h = await Harness(slow, database, clock).start()
    try:
        await h.app.start()
        assert person.chat_id is not None
        await _wait(lambda: bool(h.api.sent_to(person.chat_id)), 3.0)
        assert len(h.api.sent_to(person.chat_id)) == 1, "sent at start, not after 60 s"
        await h.app.stop()
    finally:
        await h.stop()


async def _wait(condition: Callable[[], bool], seconds: float) -> None:
    """Poll a condition on real time (only for the JobQueue, which runs on real time)."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


class Gate:
    """A pacer clock whose sleeps wait until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.now = 0.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await self.opened.wait()
        self.now += seconds


async def test_a_reply_to_a_person_does_not_wait_behind_a_fan_out(
    h: Harness, world: World, clock: ManualClock, settings: Settings
) -> None:
    group = world.group()
    people = world.patients(group, 100)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    gate = Gate()
    scheduler.state(h.app).pacer = Pacer(25, clock=gate.time, sleep=gate.sleep)
    h.api.time_source = gate.time
    patients = {p.chat_id for p in people}
    fan_out = asyncio.ensure_future(h.scan())
    await _wait(lambda: len(h.api.calls_of("sendMessage")) >= 1, 3.0)

    await h.command(User(5555, "Walk-in"), "/help")  # while 99 prompts wait for their slots

    replies = [c for c in h.api.calls_of("sendMessage") if c.chat_id == 5555]
    prompts_so_far = [c for c in h.api.calls_of("sendMessage") if c.chat_id in patients]
    assert len(replies) == 1 and len(prompts_so_far) == 1
    gate.opened.set()
    report = await fan_out
    assert report.sent == 100
