"""The authoring use cases: groups, invites, therapists, tasks, questions, edits, deletions."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import col, select

from bot import texts
from bot.clock import ManualClock
from bot.services import authoring, checkin, planning
from bot.services.audit import OPERATOR
from bot.services.authoring import AuthoringError, QuestionDraft, TaskDraft
from bot.services.responses import ResponseType
from storage.db import Database
from storage.models import (
    Answer,
    Delivery,
    DeliveryStatus,
    Invite,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
)
from tests.fakes.revisions import revision_id
from tests.fakes.words import raises_saying, worded

ZONE = "Europe/London"
CONFIG_THERAPISTS = (9001,)
THEO = 9001


def group(database: Database, now: datetime, text: str = "Shoulder Therapy 1") -> int:
    return authoring.create_group(
        database, now, ZONE, THEO, "Theo Therapist", text, actor=OPERATOR
    ).id


def invite(database: Database, now: datetime, text: str = "Shoulder Therapy 1") -> str:
    return authoring.create_invite(
        database, now, ZONE, text, default_days=14, default_uses=0, actor=OPERATOR
    ).code


def join(database: Database, now: datetime, user_id: int, name: str, code: str) -> None:
    result = checkin.start(
        database,
        now,
        checkin.Policy(default_zone=ZONE, erasure_key=b"unit test erasure key"),
        checkin.Patient(user_id, user_id, name),
        code,
    )
    assert result.outcome == checkin.StartOutcome.JOINED, result


def alice_and_bob(database: Database, now: datetime) -> int:
    """The group, with Alice (101) and Bob (102) joined by invite; returns its id."""
    group_id = group(database, now)
    code = invite(database, now)
    join(database, now, 101, "Alice", code)
    join(database, now, 102, "Bob", code)
    return group_id


def yes_no(text: str, alert: str | None = None) -> QuestionDraft:
    return QuestionDraft(description=text, response_type=ResponseType.YES_NO, alert_rule=alert)


def task(
    database: Database,
    now: datetime,
    group_id: int,
    *,
    title: str = "Press-ups",
    due: tuple[date, time] = (date(2026, 11, 26), time(11, 0)),
    recurrence: str | None = "FREQ=DAILY;COUNT=5",
    questions: int = 2,
) -> authoring.TaskSaved:
    return authoring.create_task(
        database,
        now,
        ZONE,
        24 * 60,
        TaskDraft(
            group_id=group_id,
            title=title,
            due_date=due[0],
            due_time=due[1],
            recurrence=recurrence,
            questions=tuple(yes_no(f"Do {10 * n} push-ups") for n in range(1, questions + 1)),
        ),
        actor=OPERATOR,
    )


def deliveries(database: Database, task_id: int) -> list[Delivery]:
    with database.session() as session:
        return list(
            session.exec(
                select(Delivery).where(Delivery.task_id == task_id).order_by(col(Delivery.id))
            ).all()
        )


def mark(database: Database, delivery_id: int, status: DeliveryStatus) -> None:
    with database.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.status = status.value
        session.commit()


def answer(database: Database, delivery_id: int, question_id: int, now: datetime) -> None:
    with database.session() as session:
        session.add(
            Answer(
                delivery_id=delivery_id,
                question_id=question_id,
                question_revision_id=revision_id(session, question_id),
                value_text="Yes",
                value_bool=True,
                answered_at=now,
            )
        )
        session.commit()


def question_ids(database: Database, task_id: int) -> list[int]:
    with database.session() as session:
        rows = session.exec(
            select(Question.id).where(Question.task_id == task_id).order_by(col(Question.position))
        ).all()
        return [r for r in rows if r is not None]


# --- groups -------------------------------------------------------------------------------


def test_a_new_group_makes_its_creator_the_groups_therapist(
    database: Database, clock: ManualClock
) -> None:
    info = authoring.create_group(
        database, clock.now(), ZONE, THEO, "Theo", "Hip Therapy 1", actor=OPERATOR
    )
    with database.session() as session:
        person = session.exec(select(Person).where(Person.telegram_user_id == THEO)).one()
        membership = session.exec(select(Membership)).one()
    assert (info.name, info.zone) == ("Hip Therapy 1", ZONE)
    assert (membership.group_id, membership.person_id, membership.role) == (
        info.id,
        person.id,
        Role.THERAPIST.value,
    )
    # A config therapist is one by configuration: the stored role stays the default.
    assert (person.chat_id, person.role) == (THEO, Role.PATIENT.value)


def test_group_names_are_unique_ignoring_case_and_spacing(
    database: Database, clock: ManualClock
) -> None:
    group(database, clock.now())
    with raises_saying(AuthoringError, "already a group"):
        group(database, clock.now(), "  shoulder   THERAPY 1 ")


@pytest.mark.parametrize("name", ["12", "#3", "task 3", "Task #4", "A | B", "   "])
def test_a_name_that_reads_as_a_number_or_a_task_is_refused(
    database: Database, clock: ManualClock, name: str
) -> None:
    with pytest.raises(AuthoringError):
        group(database, clock.now(), name)


def test_a_trailing_time_zone_becomes_the_groups_zone(
    database: Database, clock: ManualClock
) -> None:
    berlin = authoring.create_group(
        database, clock.now(), ZONE, THEO, "", "Knees Europe/Berlin", actor=OPERATOR
    )
    with raises_saying(AuthoringError, "“Mars/Olympus” isn't a time zone name I know"):
        authoring.create_group(
            database, clock.now(), ZONE, THEO, "", "Knees Mars/Olympus", actor=OPERATOR
        )
    quoted = authoring.create_group(
        database, clock.now(), ZONE, THEO, "", '"Knees Mars/Olympus"', actor=OPERATOR
    )
    assert (berlin.name, berlin.zone) == ("Knees", "Europe/Berlin")
    assert (quoted.name, quoted.zone) == ("Knees Mars/Olympus", ZONE)


def test_a_group_is_found_by_number_or_by_name_in_any_case(
    database: Database, clock: ManualClock
) -> None:
    group_id = group(database, clock.now())
    assert authoring.get_group(database, ZONE, str(group_id), actor=OPERATOR).id == group_id
    assert authoring.get_group(database, ZONE, "shoulder therapy 1", actor=OPERATOR).id == group_id
    assert (
        authoring.get_group(database, ZONE, "“Shoulder Therapy 1”", actor=OPERATOR).id == group_id
    )
    with raises_saying(AuthoringError, "Groups: Shoulder Therapy 1"):
        authoring.get_group(database, ZONE, "Knee Therapy", actor=OPERATOR)


def test_groups_count_members_tasks_and_checkins(database: Database, clock: ManualClock) -> None:
    now = clock.now()
    group_id = alice_and_bob(database, now)
    saved = task(database, now, group_id)
    first, second = deliveries(database, saved.task_id)
    mark(database, first.id or 0, DeliveryStatus.SENT)
    mark(database, second.id or 0, DeliveryStatus.COMPLETED)
    [summary] = authoring.list_groups(database, now, ZONE, [THEO], actor=OPERATOR)
    assert (summary.patients, summary.therapists, summary.tasks) == (2, 1, 1)
    assert (summary.open, summary.completed, summary.upcoming) == (1, 1, 0)


def test_a_patient_who_deleted_their_data_is_listed_as_such(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    alice_and_bob(database, now)
    with database.session() as session:
        bob = session.exec(select(Person).where(Person.telegram_user_id == 102)).one()
        bob.first_name, bob.last_name, bob.data_deleted_at = "", "", now
        session.commit()
    result = authoring.group_patients(database, ZONE, "Shoulder Therapy 1", actor=OPERATOR)
    assert [(p.name, p.data_deleted) for p in result.patients] == [
        ("Alice", False),
        ("", True),
    ]


# --- removing a patient --------------------------------------------------------------------


def test_removing_a_patient_cancels_what_they_had_open_and_keeps_their_answers(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group_id = group(database, now)
    code = invite(database, now)
    join(database, now, 101, "Alice Test", code)
    join(database, now, 102, "Bob Test", code)
    once = task(database, now, group_id, title="Once", recurrence=None)
    daily = task(database, now, group_id, title="Daily")
    alice_once = deliveries(database, once.task_id)[0]
    mark(database, alice_once.id or 0, DeliveryStatus.IN_PROGRESS)
    answer(database, alice_once.id or 0, question_ids(database, once.task_id)[0], now)

    removed = authoring.remove_patient(
        database, now, ZONE, "shoulder therapy 1 alice test", actor=OPERATOR
    )

    assert (removed.name, removed.telegram_user_id, removed.cancelled) == ("Alice Test", 101, 2)
    statuses = {
        (d.task_id, d.person_id): d.status
        for d in deliveries(database, once.task_id) + deliveries(database, daily.task_id)
    }
    with database.session() as session:
        alice = session.exec(select(Person).where(Person.telegram_user_id == 101)).one()
        assert session.exec(select(Answer)).one().delivery_id == alice_once.id
        memberships = dict(session.exec(select(Membership.person_id, Membership.role)).all())
    # Her row stays, ended: it keeps the invites made before the removal shut to her.
    assert memberships[alice.id] == "removed"
    alice_id = alice.id or 0
    assert statuses[(once.task_id, alice_id)] == DeliveryStatus.CANCELLED.value
    # Never sent, so gone: a cancelled row would keep her from being planned if invited back.
    assert (daily.task_id, alice_id) not in statuses
    assert sorted(s for (_, p), s in statuses.items() if p != alice.id) == ["pending", "pending"]


def test_removing_a_patient_by_telegram_id_or_after_a_bar(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    alice_and_bob(database, now)
    assert (
        authoring.remove_patient(
            database, now, ZONE, "Shoulder Therapy 1 101", actor=OPERATOR
        ).name
        == "Alice"
    )
    assert authoring.remove_patient(database, now, ZONE, "1 | Bob", actor=OPERATOR).name == "Bob"


def test_removing_a_patient_by_a_shared_name_asks_for_the_id(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group(database, now)
    code = invite(database, now)
    join(database, now, 101, "Sam", code)
    join(database, now, 102, "Sam", code)
    with raises_saying(AuthoringError, r"ids 101, 102"):
        authoring.remove_patient(database, now, ZONE, "Shoulder Therapy 1 Sam", actor=OPERATOR)
    with raises_saying(AuthoringError, "No patient"):
        authoring.remove_patient(database, now, ZONE, "Shoulder Therapy 1 Kim", actor=OPERATOR)


# --- invites --------------------------------------------------------------------------------


def test_invite_codes_are_random_url_safe_and_carry_at_least_96_bits() -> None:
    codes = {authoring.new_invite_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        # 22 base64url characters carry 132 bits, of which token_urlsafe(16) fills 128.
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", code), code
    assert authoring.INVITE_TOKEN_BYTES * 8 >= 96


def test_an_invite_reads_days_and_uses_after_a_group_name_ending_in_a_digit(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group(database, now)
    info = authoring.create_invite(
        database,
        now,
        ZONE,
        "Shoulder Therapy 1 7 10",
        default_days=14,
        default_uses=0,
        actor=OPERATOR,
    )
    assert info.group.name == "Shoulder Therapy 1"
    assert (info.expires_at, info.max_uses) == (now + timedelta(days=7), 10)
    plain = authoring.create_invite(
        database,
        now,
        ZONE,
        "Shoulder Therapy 1",
        default_days=14,
        default_uses=0,
        actor=OPERATOR,
    )
    assert (plain.expires_at, plain.max_uses) == (now + timedelta(days=14), None)
    limited = authoring.create_invite(
        database,
        now,
        ZONE,
        "Shoulder Therapy 1",
        default_days=3,
        default_uses=5,
        actor=OPERATOR,
    )
    assert (limited.expires_at, limited.max_uses) == (now + timedelta(days=3), 5)
    unlimited = authoring.create_invite(
        database,
        now,
        ZONE,
        "Shoulder Therapy 1 3 0",
        default_days=14,
        default_uses=5,
        actor=OPERATOR,
    )
    assert unlimited.max_uses is None


@pytest.mark.parametrize("text", ["Shoulder Therapy 1 0", "Shoulder Therapy 1 400"])
def test_an_invite_lasts_one_to_365_days(
    database: Database, clock: ManualClock, text: str
) -> None:
    group(database, clock.now())
    with raises_saying(AuthoringError, "1 to 365 days"):
        authoring.create_invite(
            database, clock.now(), ZONE, text, default_days=14, default_uses=0, actor=OPERATOR
        )


def test_revoking_keeps_the_first_time_and_accepts_the_whole_link(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group(database, now)
    code = invite(database, now)
    first = authoring.revoke_invite(database, now, ZONE, code, actor=OPERATOR)
    clock.advance(timedelta(hours=1))
    again = authoring.revoke_invite(
        database,
        clock.now(),
        ZONE,
        f"https://t.me/patientbot_test_bot?start={code}",
        actor=OPERATOR,
    )
    assert first.revoked_at == again.revoked_at == now
    with raises_saying(AuthoringError, "no invite code"):
        authoring.revoke_invite(database, now, ZONE, "NOPE", actor=OPERATOR)


# --- therapists ---------------------------------------------------------------------------


def test_a_therapist_added_by_command_is_one_until_removed(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    assert not authoring.is_therapist(database, CONFIG_THERAPISTS, 555)
    added = authoring.add_therapist(database, now, CONFIG_THERAPISTS, 555, actor=OPERATOR)
    assert (added.changed, added.chat_id) == (True, 555)
    assert authoring.is_therapist(database, CONFIG_THERAPISTS, 555)
    assert not authoring.add_therapist(
        database, now, CONFIG_THERAPISTS, 555, actor=OPERATOR
    ).changed
    assert authoring.therapist_chat_ids(database, CONFIG_THERAPISTS) == [9001, 555]
    authoring.remove_therapist(database, CONFIG_THERAPISTS, 555, now=now, actor=OPERATOR)
    assert not authoring.is_therapist(database, CONFIG_THERAPISTS, 555)
    with raises_saying(AuthoringError, "not a therapist"):
        authoring.remove_therapist(database, CONFIG_THERAPISTS, 555, now=now, actor=OPERATOR)


def test_a_configured_therapist_cannot_be_removed_by_command(
    database: Database, clock: ManualClock
) -> None:
    with raises_saying(AuthoringError, "configuration"):
        authoring.remove_therapist(
            database, CONFIG_THERAPISTS, THEO, now=clock.now(), actor=OPERATOR
        )
    assert authoring.is_therapist(database, CONFIG_THERAPISTS, THEO)


def test_a_removed_therapist_stops_being_a_groups_therapist(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    authoring.add_therapist(database, now, CONFIG_THERAPISTS, 555, actor=OPERATOR)
    authoring.create_group(database, now, ZONE, 555, "Tess", "Knees", actor=OPERATOR)
    authoring.remove_therapist(database, CONFIG_THERAPISTS, 555, now=now, actor=OPERATOR)
    with database.session() as session:
        assert session.exec(select(Membership)).all() == []


# --- the one-line form ----------------------------------------------------------------------


def test_a_question_line_reads_its_extras_in_any_order() -> None:
    q = authoring.parse_question_line(
        "Pain today? ; scale ; >= 4 ; 1-5 ; optional ; https://example.org/v"
    )
    assert (q.response_type, q.min_value, q.max_value) == (ResponseType.SCALE, 1.0, 5.0)
    assert (q.alert_rule, q.required, q.link) == (">= 4", False, "https://example.org/v")
    n = authoring.parse_question_line("Minutes? ; number ; whole ; 0 to 240")
    assert (n.integer_only, n.min_value, n.max_value) == (True, 0.0, 240.0)
    c = authoring.parse_question_line("Side? ; choice ; Left, Right ,Both ; == left")
    assert (c.options, c.alert_rule) == (("Left", "Right", "Both"), "== Left")
    t = authoring.parse_question_line("Notes ; text ; max 500")
    assert t.max_length == 500
    y = authoring.parse_question_line("Done? ; yes/no ; = no")
    assert (y.response_type, y.alert_rule) == (ResponseType.YES_NO, "== no")


@pytest.mark.parametrize(
    ("typed", "link"),
    [
        ("www.example.org/bends", "https://www.example.org/bends"),
        ("WWW.Example.org", "https://WWW.Example.org"),
        ("http://example.org/x", "http://example.org/x"),
    ],
)
def test_a_link_typed_without_https_is_read_as_https(typed: str, link: str) -> None:
    assert authoring.parse_link(typed) == link
    assert authoring.parse_question_line(f"Watch ; yes_no ; {typed}").link == link


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Pain ; scale ; >= 11", "between 0 and 10"),
        ("Pain ; scale ; 0-100", "at most 21 points"),
        ("Side ; choice", "needs its options"),
        ("Side ; choice ; Left", "at least 2 options"),
        ("Minutes ; number ; whole ; 0.5-2", "whole too"),
        ("Done? ; yesno ; 1-5", "doesn't fit"),
        ("Done? ; maybe", "not a response type"),
        ("Photo please", "TEXT ; TYPE"),
        ("Watch ; yes_no ; www.exam ple.org", "not a web address"),
        ("Watch ; yes_no ; https://", "not a web address"),
    ],
)
def test_a_wrong_question_line_says_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(AuthoringError) as caught:
        authoring.parse_question_line(line)
    assert problem in worded(caught.value.problems)


def line_problems(database: Database, clock: ManualClock, line: str) -> list[str]:
    """The problems the one-line form finds in ``line``, worded, in order."""
    group(database, clock.now())
    with pytest.raises(AuthoringError) as caught:
        authoring.parse_task_line(database, clock.now(), ZONE, line, actor=OPERATOR)
    return [worded(p) for p in caught.value.problems]


def test_the_one_line_form_reports_every_problem_with_its_field(
    database: Database, clock: ManualClock
) -> None:
    problems = line_problems(
        database,
        clock,
        "Shoulder Therapy 1 | Title | someday | fortnightly | Ok? ; yes_no | Pain ; scale ; x",
    )
    assert [p.split(":", 1)[0] for p in problems] == [
        "<b>when</b>",
        "<b>repeat</b>",
        "<b>question 2</b>",
    ]


def test_the_one_line_form_takes_line_breaks_for_bars(
    database: Database, clock: ManualClock
) -> None:
    group_id = group(database, clock.now())
    draft = authoring.parse_task_line(
        database,
        clock.now(),
        ZONE,
        "shoulder therapy 1\nStretch\ntomorrow 9:30\nweekdays x10\nDone? ; yes_no ; == no",
        actor=OPERATOR,
    )
    assert (draft.group_id, draft.title, draft.due_date, draft.due_time) == (
        group_id,
        "Stretch",
        date(2026, 11, 26),
        time(9, 30),
    )
    assert draft.recurrence == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    assert draft.questions == (yes_no("Done?", "== no"),)


def test_an_empty_field_of_the_one_line_form_is_named_where_it_is(
    database: Database, clock: ManualClock
) -> None:
    """Empty fields were dropped, so an empty title read "Could not read 'once' as a due
    time", and a question after an empty one was numbered one too low."""
    problems = line_problems(
        database,
        clock,
        "Shoulder Therapy 1 |  | tomorrow 10:00 | once | Q1 ; yes_no | | Q3 ; scale ; 5-1 |",
    )
    assert problems == [
        "<b>title</b>: Please type a title for the task.",
        "<b>question 2</b>: Write a question as TEXT ; TYPE, for example: Pain today? ; scale",
        "<b>question 3</b>: The minimum (5) is greater than the maximum (1).",
    ]


def test_the_one_line_form_needs_every_field(database: Database, clock: ManualClock) -> None:
    group(database, clock.now())
    with raises_saying(AuthoringError, "at least a group"):
        authoring.parse_task_line(
            database, clock.now(), ZONE, "Shoulder Therapy 1 | Title", actor=OPERATOR
        )


# --- tasks --------------------------------------------------------------------------------


def test_a_new_task_plans_every_patients_first_checkin(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group_id = alice_and_bob(database, now)
    saved = task(database, now, group_id)
    assert saved.planned == 2
    assert saved.next_due == datetime.fromisoformat("2026-11-26T11:00:00+00:00")
    rows = deliveries(database, saved.task_id)
    assert [(d.status, d.due_at) for d in rows] == [("pending", saved.next_due)] * 2


def test_a_task_never_due_again_is_refused(database: Database, clock: ManualClock) -> None:
    group_id = group(database, clock.now())
    with raises_saying(AuthoringError, "never be due"):
        task(database, clock.now(), group_id, due=(date(2026, 11, 1), time(9, 0)), recurrence=None)
    with database.session() as session:
        assert session.exec(select(Task)).all() == []


@pytest.mark.parametrize("change", ["due", "repeat"])
def test_a_task_moved_to_never_being_due_again_is_refused_and_left_as_it_was(
    database: Database, clock: ManualClock, change: str
) -> None:
    now = clock.now()
    group_id = group(database, now)
    join(database, now, 101, "Alice", invite(database, now))
    saved = task(database, now, group_id, recurrence=None)
    with raises_saying(AuthoringError, "never be due"):
        if change == "due":
            authoring.change_due(
                database, now, ZONE, saved.task_id, date(2026, 11, 1), time(9, 0), actor=OPERATOR
            )
        else:
            # A daily series that ended before today.
            authoring.change_repeat(
                database, now, ZONE, saved.task_id, "FREQ=DAILY;UNTIL=20261120", actor=OPERATOR
            )
    with database.session() as session:
        stored = session.get(Task, saved.task_id)
        assert stored is not None
        assert (stored.due_date, stored.due_time, stored.recurrence) == (
            date(2026, 11, 26),
            time(11, 0),
            None,
        )
    rows = deliveries(database, saved.task_id)
    assert [d.status for d in rows] == ["pending"], "its planned check-in stays"


def test_a_due_time_in_the_past_is_refused_with_the_time_understood(clock: ManualClock) -> None:
    with raises_saying(AuthoringError, r"in the past \(Wed 25 Nov 2026, 08:00"):
        authoring.parse_due("today 8:00", ZONE, clock.now())
    assert authoring.parse_due("mon 09:30", ZONE, clock.now()) == (date(2026, 11, 30), time(9, 30))


@pytest.mark.parametrize(
    ("text", "bounds"),
    [("0-50", (0.0, 50.0)), ("0 to 50", (0.0, 50.0)), ("-5 - 5", (-5.0, 5.0)), ("1..3", (1, 3))],
)
def test_bounds_are_read_in_the_ways_people_write_them(
    text: str, bounds: tuple[float, float]
) -> None:
    assert authoring.parse_bounds(text, ResponseType.NUMBER) == bounds


def test_changing_the_due_time_moves_pending_checkins_and_leaves_sent_ones(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group_id = alice_and_bob(database, now)
    saved = task(database, now, group_id)
    alice_first = deliveries(database, saved.task_id)[0]
    mark(database, alice_first.id or 0, DeliveryStatus.SENT)

    changed = authoring.change_due(
        database,
        now,
        ZONE,
        saved.task_id,
        date(2026, 11, 27),
        time(18, 30),
        actor=OPERATOR,
    )

    # Bob's pending row moves; Alice keeps the prompt she has and gets the next one planned.
    moved = datetime.fromisoformat("2026-11-27T18:30:00+00:00")
    assert (changed.cancelled, changed.added, changed.next_due) == (1, 2, moved)
    rows = deliveries(database, saved.task_id)
    assert sorted((r.person_id, r.status, r.due_at) for r in rows) == [
        (alice_first.person_id, "pending", moved),
        (alice_first.person_id, "sent", alice_first.due_at),
        (alice_first.person_id + 1, "pending", moved),
    ]


def _in_the_middle_of_the_fan_out(
    database: Database, clock: ManualClock, at: time
) -> tuple[int, int]:
    """Alice and Bob; ``at`` on the day of the first check-in (11:00): the fan-out reached
    Alice, not Bob yet (a big group's takes minutes). Returns the task and Bob's person id."""
    now = clock.now()
    group_id = alice_and_bob(database, now)
    saved = task(database, now, group_id)
    alice, bob = deliveries(database, saved.task_id)
    mark(database, alice.id or 0, DeliveryStatus.SENT)
    clock.set(datetime.combine(date(2026, 11, 26), at, tzinfo=UTC))
    return saved.task_id, bob.person_id


def _successor_of(database: Database, delivery: Delivery) -> datetime:
    """What the due scan plans after sending ``delivery`` (``plan_following``)."""
    with database.session() as session:
        task_row = session.get(Task, delivery.task_id)
        person = session.get(Person, delivery.person_id)
        assert task_row is not None and person is not None
        group_row = session.get(TherapyGroup, task_row.group_id)
        assert group_row is not None
        series = [(task_row, group_row, person, delivery.due_at)]
        assert planning.plan_following(session, series, ZONE) == 1
        session.commit()
    [following] = [
        d.due_at
        for d in deliveries(database, delivery.task_id)
        if d.person_id == delivery.person_id and d.due_at > delivery.due_at
    ]
    return following


def _edit(database: Database, now: datetime, task_id: int, edit: str) -> authoring.TaskChanged:
    if edit.startswith("FREQ="):
        return authoring.change_repeat(database, now, ZONE, task_id, edit, actor=OPERATOR)
    hours, minutes = map(int, edit.split(":"))
    return authoring.change_due(
        database, now, ZONE, task_id, date(2026, 11, 26), time(hours, minutes), actor=OPERATOR
    )


@pytest.mark.parametrize(
    ("at", "edit", "bob_due", "alice_due", "kept"),
    [
        # Today's 11:00 stays in the schedule: Bob gets it, as Alice did, not tomorrow.
        (time(11, 0, 30), "FREQ=DAILY;COUNT=10", (26, 11, 0), (27, 11, 0), 1),
        # 10:00 from today: gone by, so Bob's goes out now, as of 10:00.
        (time(11, 0, 30), "10:00", (26, 10, 0), (27, 10, 0), 1),
        # 11:20, set at 11:30: Bob's goes out now, as of 11:20, and the next is tomorrow's
        # (kept as of 11:00, the scan would plan another for 11:20 today).
        (time(11, 30), "11:20", (26, 11, 20), (27, 11, 20), 1),
        # Today's new time is still to come: Bob's check-in moves there (Alice had hers).
        (time(11, 0, 30), "15:00", (26, 15, 0), (27, 15, 0), 0),
        # No check-in on a Thursday any more: Bob's goes to Monday's.
        (time(11, 0, 30), "FREQ=WEEKLY;BYDAY=MO", (30, 11, 0), (30, 11, 0), 0),
    ],
)
def test_an_edit_during_the_fan_out_leaves_nobody_without_the_days_check_in_nor_with_two(
    database: Database,
    clock: ManualClock,
    at: time,
    edit: str,
    bob_due: tuple[int, int, int],
    alice_due: tuple[int, int, int],
    kept: int,
) -> None:
    task_id, bob = _in_the_middle_of_the_fan_out(database, clock, at)

    changed = _edit(database, clock.now(), task_id, edit)

    def instant(day: int, hour: int, minute: int) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)  # London is on UTC

    pending = [d for d in deliveries(database, task_id) if d.status == "pending"]
    assert sorted(("Bob" if d.person_id == bob else "Alice", d.due_at) for d in pending) == [
        ("Alice", instant(*alice_due)),
        ("Bob", instant(*bob_due)),
    ]
    assert changed.kept == kept
    told = texts.admin_task_changed(changed)
    assert ("1 check-in already due today still goes out." in told) == bool(kept)
    [bobs] = [d for d in pending if d.person_id == bob]
    assert _successor_of(database, bobs).date() > bobs.due_at.date(), "one a day"


def test_changing_the_repetition_plans_again(database: Database, clock: ManualClock) -> None:
    now = clock.now()
    group_id = group(database, now)
    join(database, now, 101, "Alice", invite(database, now))
    saved = task(database, now, group_id, recurrence=None)
    changed = authoring.change_repeat(
        database,
        now,
        ZONE,
        saved.task_id,
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        actor=OPERATOR,
    )
    assert changed.recurrence == "FREQ=WEEKLY;BYDAY=MO;COUNT=3"
    assert changed.next_due == datetime.fromisoformat("2026-11-30T11:00:00+00:00")
    assert [d.due_at for d in deliveries(database, saved.task_id)] == [changed.next_due]


def test_added_questions_come_after_removed_ones_and_answers_stay(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group_id = group(database, now)
    join(database, now, 101, "Alice", invite(database, now))
    saved = task(database, now, group_id, questions=3)
    [delivery] = deliveries(database, saved.task_id)
    mark(database, delivery.id or 0, DeliveryStatus.IN_PROGRESS)
    second = question_ids(database, saved.task_id)[1]
    answer(database, delivery.id or 0, second, now)

    removed = authoring.remove_question(database, now, saved.task_id, 2, actor=OPERATOR)
    added = authoring.add_questions(
        database, saved.task_id, [yes_no("Stretch?")], now=now, actor=OPERATOR
    )

    assert (removed.positions, removed.active) == ((2,), 2)
    assert (added.positions, added.active) == ((4,), 3)
    details = authoring.task_details(database, now, ZONE, saved.task_id, actor=OPERATOR)
    assert [(q.position, q.removed) for q in details.questions] == [
        (1, False),
        (2, True),
        (3, False),
        (4, False),
    ]
    with database.session() as session:
        assert session.exec(select(Answer.question_id)).all() == [second]


def test_the_last_question_cannot_be_removed(database: Database, clock: ManualClock) -> None:
    now = clock.now()
    saved = task(database, now, group(database, now), questions=1)
    with raises_saying(AuthoringError, "only question"):
        authoring.remove_question(database, now, saved.task_id, 1, actor=OPERATOR)
    with raises_saying(AuthoringError, "no question 7"):
        authoring.remove_question(database, now, saved.task_id, 7, actor=OPERATOR)


def test_deleting_a_task_cancels_its_checkins_and_keeps_its_answers(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    group_id = group(database, now)
    code = invite(database, now)
    join(database, now, 101, "Alice", code)
    join(database, now, 102, "Bob", code)
    join(database, now, 103, "Chloe", code)
    saved = task(database, now, group_id)
    alice, bob, _chloe = deliveries(database, saved.task_id)
    mark(database, alice.id or 0, DeliveryStatus.COMPLETED)
    answer(database, alice.id or 0, question_ids(database, saved.task_id)[0], now)
    mark(database, bob.id or 0, DeliveryStatus.SENT)

    deleted = authoring.delete_task(database, now, ZONE, saved.task_id, actor=OPERATOR)

    assert (deleted.cancelled_pending, deleted.cancelled_open) == (1, 1)
    assert [d.status for d in deliveries(database, saved.task_id)] == ["completed", "cancelled"]
    with database.session() as session:
        stored = session.get(Task, saved.task_id)
        assert stored is not None and stored.deleted_at == now
        assert len(session.exec(select(Answer)).all()) == 1
    with raises_saying(AuthoringError, "was deleted"):
        authoring.change_repeat(database, now, ZONE, saved.task_id, None, actor=OPERATOR)
    assert authoring.list_tasks(database, now, ZONE, None, actor=OPERATOR)[1] == []


def test_a_deleted_invite_group_task_or_question_is_never_a_surprise(
    database: Database, clock: ManualClock
) -> None:
    now = clock.now()
    with raises_saying(AuthoringError, "no task 42"):
        authoring.task_details(database, now, ZONE, 42, actor=OPERATOR)
    with raises_saying(AuthoringError, "no groups yet"):
        authoring.group_patients(database, ZONE, "Anything", actor=OPERATOR)
    with database.session() as session:
        assert session.exec(select(Invite)).all() == []
