"""The due scan's transactions: indexed reads, claims with leases, expiry, results, release."""

from __future__ import annotations

import threading
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlmodel import Session, col, select

from bot.clock import ManualClock
from bot.services import delivery
from bot.services.audit import Actor, ActorRole
from bot.services.closing import Ending, closed_messages, closed_messages_query, forget
from bot.services.consent import HELD_FOR_CONSENT, RELEASED_BY_CONSENT, in_force, record_agreement
from bot.services.delivery import (
    MarkPolicy,
    Outcome,
    ScanPolicy,
    SendResult,
    mark_results,
    release_claims,
    scan,
)
from storage.db import Database
from storage.models import ConsentVersion, Delivery, Membership, Person, TherapyGroup
from tests.flows.test_scheduling_support import World

POLICY = ScanPolicy(
    instance_id="scanner-a",
    lease_seconds=120,
    batch_size=500,
    default_zone="Europe/London",
    max_reminders=2,
    quiet_start=time(21, 0),
    quiet_end=time(8, 0),
    first_reminder_minutes=60,
)
MARKS = MarkPolicy(first_reminder_minutes=60, reminder_interval_minutes=120, max_reminders=2)
PATIENT = Actor(None, ActorRole.PATIENT)
TODAY = date(2026, 11, 25)  # the clock starts at 09:00 UTC, 09:00 in London


@pytest.fixture
def world(database: Database, clock: ManualClock) -> World:
    return World(database, clock)


# --- the reads use the indexes ---------------------------------------------------------------


def _plan(session: Session, database: Database, query: Any) -> str:
    sql = str(
        query.compile(
            dialect=database.engine.dialect,
            compile_kwargs={"literal_binds": True, "render_postcompile": True},
        )
    )
    connection = session.connection()
    if database.is_sqlite:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
        return "\n".join(str(row[-1]) for row in rows)
    # A handful of rows would make any planner scan the table; ask whether it *can* use one.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = connection.exec_driver_sql(f"EXPLAIN {sql}").all()
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("due_prompts_query", "ix_deliveries_status_due_at"),
        ("lapsed_claims_query", "ix_deliveries_status_lease_until"),
        ("abandoned_query", "ix_deliveries_status_lease_until"),
        ("expiring_query", "ix_deliveries_status_expires_at"),
        ("due_reminders_query", "ix_deliveries_status_remind_at"),
        ("held_query", "ix_deliveries_status_remind_at"),
    ],
)
def test_each_read_of_the_scan_goes_through_its_status_index(
    database: Database, clock: ManualClock, name: str, index: str
) -> None:
    builder = getattr(delivery, name)
    args: tuple[Any, ...] = (clock.now(), 500)
    if name == "held_query":
        args = (clock.now() - timedelta(hours=1), 500)
    with database.session() as session:
        plan = _plan(session, database, builder(*args))
    assert index in plan, plan


def test_the_read_of_closed_check_ins_messages_starts_from_the_messages_not_the_history(
    database: Database,
) -> None:
    with database.session() as session:
        every_chat = _plan(session, database, closed_messages_query(100))
        one_chat = _plan(session, database, closed_messages_query(30, chat_id=5))
    # Never through a status index: that would read the whole history of closed check-ins.
    assert "ix_deliveries_status" not in every_chat + one_chat
    assert "ix_checkin_messages_chat_id" in one_chat, one_chat
    by_key = (
        "SEARCH deliveries USING INTEGER PRIMARY KEY" if database.is_sqlite else "pk_deliveries"
    )
    assert by_key in one_chat, one_chat
    if database.is_sqlite:
        assert every_chat.startswith("SCAN checkin_messages"), every_chat
        assert by_key in every_chat, every_chat


# --- claims ----------------------------------------------------------------------------------


def test_a_due_row_is_claimed_with_a_lease_and_its_next_occurrence_planned_at_once(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    person = world.patient(group)
    task = world.task(group, (TODAY, time(9, 30)), recurrence="FREQ=DAILY")
    clock.advance(timedelta(minutes=31))

    batch = scan(database, clock.now(), POLICY)

    assert batch.claimed == 1 and [j.kind for j in batch.jobs] == ["prompt"]
    view = batch.jobs[0].view
    assert (view.chat_id, view.task_title, view.question_count) == (
        person.chat_id,
        "Perform 20 Press-Ups",
        2,
    )
    rows = world.deliveries(task_id=task)
    assert [r.status for r in rows] == ["sending", "pending"]
    claimed, following = rows
    assert claimed.lease_until == clock.now() + timedelta(seconds=120)
    assert claimed.claimed_by == "scanner-a" and claimed.send_attempts == 1
    assert following.due_at == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def test_a_claim_is_not_taken_again_until_its_lease_runs_out(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    world.patient(group)
    world.task(group, (TODAY, time(9, 30)))
    clock.advance(timedelta(minutes=30, seconds=5))
    assert scan(database, clock.now(), POLICY).claimed == 1

    clock.advance(timedelta(seconds=60))
    again = scan(database, clock.now(), POLICY)
    assert again.claimed == 0 and not again.jobs

    clock.advance(timedelta(seconds=61))
    other = ScanPolicy(**{**POLICY.__dict__, "instance_id": "scanner-b"})
    taken_over = scan(database, clock.now(), other)
    assert (taken_over.claimed, taken_over.reclaimed) == (1, 1)
    (row,) = world.deliveries()
    assert (row.claimed_by, row.send_attempts) == ("scanner-b", 2)


def test_rows_nobody_should_receive_are_cancelled_with_the_reason(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    stays, opted_out, erased, left = (world.patient(group) for _ in range(4))
    task = world.task(group, (TODAY, time(10, 0)))
    with database.session() as session:
        for person_id, change in (
            (opted_out.id, {"opted_out": True}),
            (erased.id, {"data_deleted_at": clock.now()}),
        ):
            person = session.get(Person, person_id)
            assert person is not None
            for key, value in change.items():
                setattr(person, key, value)
        membership = session.exec(select(Membership).where(Membership.person_id == left.id)).one()
        session.delete(membership)
        session.commit()
    clock.advance(timedelta(minutes=60))

    batch = scan(database, clock.now(), POLICY)

    assert [j.view.chat_id for j in batch.jobs] == [stays.chat_id]
    assert batch.cancelled == 3
    reasons = {r.person_id: r.last_error for r in world.deliveries(task_id=task)}
    assert reasons[opted_out.id] == "patient opted out"
    assert reasons[erased.id] == "patient data deleted"
    assert reasons[left.id] == "patient left the group"


def test_a_prompt_waits_while_the_patient_is_in_another_check_in(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    person = world.patient(group)
    first = world.task(group, (TODAY, time(9, 30)), title="Morning")
    second = world.task(group, (TODAY, time(10, 0)), title="Stretches")
    clock.advance(timedelta(minutes=31))
    scan(database, clock.now(), POLICY)
    (morning,) = world.deliveries(task_id=first)
    world.update_delivery(morning.id, status="in_progress", lease_until=None)
    clock.advance(timedelta(minutes=30))

    batch = scan(database, clock.now(), POLICY)

    assert (batch.claimed, batch.held, batch.jobs) == (1, 1, ())
    (held,) = world.deliveries(task_id=second, person_id=person.id)
    assert (held.status, held.prompt_message_id, held.remind_at) == ("sent", None, None)


# --- expiry ----------------------------------------------------------------------------------


def test_downtime_expires_what_was_missed_and_plans_from_now_not_a_trail_of_past_rows(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    world.patient(group)
    task = world.task(group, (TODAY, time(10, 0)), recurrence="FREQ=DAILY", expiry_minutes=60)
    clock.advance(timedelta(days=3, hours=3))  # down from Wednesday 09:00 to Saturday 12:00

    batch = scan(database, clock.now(), POLICY)

    assert (batch.expired, batch.expired_unsent, batch.claimed) == (1, 1, 0)
    rows = world.deliveries(task_id=task)
    assert [(r.status, r.due_at) for r in rows] == [
        ("expired", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("pending", datetime(2026, 11, 29, 10, 0, tzinfo=UTC)),
    ]


def test_an_expired_prompt_that_was_sent_is_offered_for_closing(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    person = world.patient(group)
    task = world.task(group, (TODAY, time(9, 30)), expiry_minutes=60)
    clock.advance(timedelta(minutes=31))
    (job,) = scan(database, clock.now(), POLICY).jobs
    sent = SendResult(
        job.delivery_id, "prompt", Outcome.SENT, 77, chat_id=person.chat_id, text="<b>Due</b>"
    )
    mark_results(database, clock.now(), [sent], MARKS)
    assert closed_messages(database, "Europe/London", 10) == ()  # still open
    clock.advance(timedelta(hours=1))

    batch = scan(database, clock.now(), POLICY)

    assert batch.expired == 1 and batch.expired_unsent == 0
    (closed,) = closed_messages(database, "Europe/London", 10)
    assert (closed.chat_id, closed.message_id, closed.text, closed.ending) == (
        person.chat_id,
        77,
        "<b>Due</b>",
        Ending.EXPIRED,
    )
    assert closed.closed_at == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert world.deliveries(task_id=task)[0].status == "expired"
    assert forget(database, [closed.id]) == 1
    assert closed_messages(database, "Europe/London", 10) == ()


# --- results ---------------------------------------------------------------------------------


def _claim_three(world: World, clock: ManualClock, database: Database) -> list[int]:
    group = world.group()
    for _ in range(3):
        world.patient(group)
    world.task(group, (TODAY, time(9, 30)))
    clock.advance(timedelta(minutes=31))
    return [job.delivery_id for job in scan(database, clock.now(), POLICY).jobs]


def test_results_record_sent_failed_and_retry_in_one_transaction(
    world: World, clock: ManualClock, database: Database
) -> None:
    sent, refused, flaky = _claim_three(world, clock, database)
    report = mark_results(
        database,
        clock.now(),
        [
            SendResult(sent, "prompt", Outcome.SENT, message_id=10),
            SendResult(refused, "prompt", Outcome.FAILED, error="Bad Request: chat not found"),
            SendResult(flaky, "prompt", Outcome.RETRY, error="Timed out"),
        ],
        MARKS,
    )
    assert (report.sent, report.failed, report.requeued) == (1, 1, 1)
    row = world.delivery(sent)
    assert (row.status, row.prompt_message_id, row.lease_until) == ("sent", 10, None)
    assert row.remind_at == clock.now() + timedelta(minutes=60)
    assert (world.delivery(refused).status, world.delivery(refused).last_error) == (
        "failed",
        "Bad Request: chat not found",
    )
    retry = world.delivery(flaky)
    assert (retry.status, retry.lease_until, retry.claimed_by) == ("pending", None, None)
    # Back to pending means the very next scan sends it.
    assert [j.delivery_id for j in scan(database, clock.now(), POLICY).jobs] == [flaky]


def test_reminder_results_count_up_to_the_last_and_let_go_of_every_claim(
    world: World, clock: ManualClock, database: Database
) -> None:
    """Reminders leave the check-in as it is: a sent one counts (the second, the last the
    policy allows, plans no third), a failed one stops the reminding, a retry waits for the
    next scan, and one for a check-in closed meanwhile changes nothing but its claim. Two
    results of one check-in in a batch count in order."""
    twice, refused, flaky = _claim_three(world, clock, database)
    mark_results(
        database,
        clock.now(),
        [SendResult(d, "prompt", Outcome.SENT, 10) for d in (twice, refused, flaky)],
        MARKS,
    )
    later = clock.now() + timedelta(hours=1)
    for delivery_id in (twice, refused, flaky):
        world.update_delivery(delivery_id, lease_until=later, claimed_by="scanner-a")

    report = mark_results(
        database,
        later,
        [
            SendResult(twice, "reminder", Outcome.SENT, 11),
            SendResult(refused, "reminder", Outcome.FAILED, error="Bad Request: chat not found"),
            SendResult(flaky, "reminder", Outcome.RETRY, error="Timed out"),
            SendResult(twice, "reminder", Outcome.SENT, 12),
        ],
        MARKS,
    )

    assert (report.reminded, report.failed, report.requeued, report.stale) == (2, 1, 1, 0)
    rows = {d: world.delivery(d) for d in (twice, refused, flaky)}
    assert all(
        (r.status, r.lease_until, r.claimed_by) == ("sent", None, None) for r in rows.values()
    )
    assert (rows[twice].reminders_sent, rows[twice].remind_at) == (2, None)
    assert (rows[refused].remind_at, rows[refused].last_error) == (
        None,
        "Bad Request: chat not found",
    )
    assert (rows[flaky].reminders_sent, rows[flaky].last_error) == (0, None)

    # The first check-in expires while one more reminder of it is on its way.
    world.update_delivery(twice, status="expired", lease_until=later, claimed_by="scanner-a")
    report = mark_results(
        database, later, [SendResult(twice, "reminder", Outcome.SENT, 13)], MARKS
    )
    assert (report.reminded, report.stale) == (0, 1)
    row = world.delivery(twice)
    assert (row.status, row.reminders_sent, row.lease_until, row.claimed_by) == (
        "expired",
        2,
        None,
        None,
    )


def test_a_result_for_a_row_that_changed_meanwhile_is_ignored(
    world: World, clock: ManualClock, database: Database
) -> None:
    (delivery_id, *_) = _claim_three(world, clock, database)
    world.update_delivery(delivery_id, status="cancelled")
    report = mark_results(
        database, clock.now(), [SendResult(delivery_id, "prompt", Outcome.SENT, 5)], MARKS
    )
    assert (report.sent, report.stale) == (0, 1)
    assert world.delivery(delivery_id).status == "cancelled"


def test_a_sent_prompt_a_press_took_over_before_its_result_keeps_its_message_id(
    world: World, clock: ManualClock, database: Database
) -> None:
    """The patient pressed Start on the prompt before the scan recorded its send: the check-in
    is theirs, and the record adds only the message's id, so the prompt counts as seen (a
    pause does not offer it as new) and is edited when the check-in ends."""
    (delivery_id, *_) = _claim_three(world, clock, database)
    world.update_delivery(delivery_id, status="in_progress", started_at=clock.now())

    report = mark_results(
        database, clock.now(), [SendResult(delivery_id, "prompt", Outcome.SENT, 77)], MARKS
    )

    assert (report.sent, report.stale) == (0, 1)
    row = world.delivery(delivery_id)
    assert (row.status, row.prompt_message_id) == ("in_progress", 77)


def test_a_patient_who_blocked_the_bot_is_unreachable_and_their_open_deliveries_fail(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    blocker = world.patient(group)
    other = world.patient(group)
    world.task(group, (TODAY, time(9, 30)), title="Now")
    later = world.task(group, (TODAY, time(18, 0)), title="Later")
    clock.advance(timedelta(minutes=31))
    jobs = {j.view.chat_id: j for j in scan(database, clock.now(), POLICY).jobs}

    report = mark_results(
        database,
        clock.now(),
        [
            SendResult(jobs[blocker.chat_id].delivery_id, "prompt", Outcome.FORBIDDEN),
            SendResult(jobs[other.chat_id].delivery_id, "prompt", Outcome.SENT, 3),
        ],
        MARKS,
    )

    assert (report.blocked_people, report.failed_by_block, report.sent) == (1, 1, 1)
    assert world.person(blocker.id).unreachable
    assert [r.status for r in world.deliveries(person_id=blocker.id)] == ["failed"]
    assert world.deliveries(task_id=later, person_id=blocker.id) == [], "plans are dropped"
    assert [r.status for r in world.deliveries(task_id=later, person_id=other.id)] == ["pending"]


def test_release_gives_back_only_this_instances_unsent_claims(
    world: World, clock: ManualClock, database: Database
) -> None:
    mine = _claim_three(world, clock, database)
    released = release_claims(database, clock.now(), "scanner-a")
    assert released == 3
    assert {world.delivery(d).status for d in mine} == {"pending"}
    assert release_claims(database, clock.now(), "scanner-a") == 0


# --- reminders -------------------------------------------------------------------------------


def test_a_reminder_due_in_quiet_hours_moves_to_their_end(
    world: World, clock: ManualClock, database: Database
) -> None:
    group = world.group()
    world.patient(group)
    world.task(group, (TODAY, time(20, 30)))
    clock.set(datetime(2026, 11, 25, 20, 30, tzinfo=UTC))
    (job,) = scan(database, clock.now(), POLICY).jobs
    mark_results(
        database, clock.now(), [SendResult(job.delivery_id, "prompt", Outcome.SENT, 1)], MARKS
    )
    clock.advance(timedelta(minutes=60))  # 21:30 in London: quiet

    batch = scan(database, clock.now(), POLICY)

    assert (batch.jobs, batch.deferred) == ((), 1)
    assert world.delivery(job.delivery_id).remind_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


# --- PostgreSQL: SKIP LOCKED -----------------------------------------------------------------


def test_postgres_scan_skips_rows_another_transaction_holds(
    world: World, clock: ManualClock, database: Database, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no row locks: a writer holds the whole database (BEGIN IMMEDIATE)")
    group = world.group()
    for _ in range(4):
        world.patient(group)
    world.task(group, (TODAY, time(9, 30)))
    clock.advance(timedelta(minutes=31))
    holding = threading.Event()
    release = threading.Event()

    def hold_two() -> None:
        with database.session() as session:
            session.exec(
                select(Delivery).order_by(col(Delivery.id)).limit(2).with_for_update()
            ).all()
            holding.set()
            release.wait(10)
            session.rollback()

    holder = threading.Thread(target=hold_two)
    holder.start()
    try:
        assert holding.wait(10)
        batch = scan(database, clock.now(), POLICY)  # would block without SKIP LOCKED
        assert batch.claimed == 2
    finally:
        release.set()
        holder.join()
    assert scan(database, clock.now(), POLICY).claimed == 2


def test_a_clash_while_planning_successors_keeps_the_claims_and_plans_each_once(
    world: World, clock: ManualClock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = world.group()
    for _ in range(3):
        world.patient(group)
    task = world.task(group, (TODAY, time(9, 30)), recurrence="FREQ=DAILY")
    clock.advance(timedelta(minutes=31))
    real = delivery.plan_following
    added: list[int] = []

    def racing(session: Session, series: Any, default_zone: str) -> int:
        """Another writer (an edit of the task) plans one of the same rows a moment before."""
        task_row, _group, person, after = series[0]
        tomorrow = after + timedelta(days=1)
        session.execute(
            insert(Delivery),
            [
                {
                    "task_id": task_row.id,
                    "person_id": person.id,
                    "due_at": tomorrow,
                    "expires_at": tomorrow + timedelta(days=1),
                    "status": "pending",
                    "current_tries": 0,
                    "reminders_sent": 0,
                    "send_attempts": 0,
                }
            ],
        )
        added.append(real(session, series, default_zone))
        return added[-1]

    monkeypatch.setattr(delivery, "plan_following", racing)

    batch = scan(database, clock.now(), POLICY)

    assert batch.claimed == 3 and len(batch.jobs) == 3
    assert added == [2], "the row planned by the other writer is kept, not added again"
    assert world.statuses(task_id=task) == {"sending": 3, "pending": 3}


def test_postgres_an_agreement_waits_for_a_scan_holding_the_check_in_it_lets_go(
    world: World, clock: ManualClock, database: Database, backend: str
) -> None:
    """A scan read "not agreed" and is holding the patient's due check-in for consent when
    their "I agree" commits: the agreement waits for that scan, then lets the check-in go. An
    UPDATE that saw the row still pending left it held until its window closed."""
    if backend == "sqlite":
        pytest.skip("SQLite has no row locks: a writer holds the whole database (BEGIN IMMEDIATE)")
    group = world.group()
    person = world.patient(group)
    world.task(group, (TODAY, time(9, 30)))
    with database.session() as session:
        session.add(ConsentVersion(group_id=group, version=1, text="Ok?", created_at=clock.now()))
        session.commit()
    clock.advance(timedelta(minutes=31))
    holding, agreeing = threading.Event(), threading.Event()

    def a_scan_holding_it() -> None:
        with database.session() as session:
            row = session.exec(
                select(Delivery).where(Delivery.status == "pending").with_for_update()
            ).one()
            holding.set()
            agreeing.wait(10)
            time_module.sleep(0.3)  # the agreement is waiting for this row by now
            row.status, row.sent_at, row.last_error = "sent", clock.now(), HELD_FOR_CONSENT
            session.commit()

    def agree() -> None:
        with database.session() as session:
            required = in_force(session, session.get(TherapyGroup, group))
            assert required is not None and person.id is not None
            agreeing.set()
            record_agreement(session, clock.now(), PATIENT, required, person.id, None)
            session.commit()

    scanner = threading.Thread(target=a_scan_holding_it)
    scanner.start()
    assert holding.wait(10)
    agree()
    scanner.join()

    with database.session() as session:
        [row] = session.exec(select(Delivery).where(Delivery.due_at <= clock.now())).all()
        assert (row.status, row.last_error) == ("pending", RELEASED_BY_CONSENT)
