"""The check-in use cases, one transaction each, against a real database on both backends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.services import checkin, erasure, revisions
from bot.services.checkin import (
    Idle,
    InviteProblem,
    NoQuestion,
    Patient,
    Policy,
    Progress,
    Reask,
    Refusal,
    Refused,
    StartOutcome,
    answering,
)
from bot.services.responses import Accepted, Reply
from bot.services.revisions import current_revision
from bot.services.seeding import GroupSeed, QuestionSeed, SeedPlan, TaskSeed, apply_seed
from storage.db import Database
from storage.models import (
    Answer,
    CheckinMessage,
    Delivery,
    DeliveryStatus,
    GroupTherapist,
    Invite,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
)
from tests.fakes.revisions import revision_id
from tests.fakes.words import worded

ERASURE_KEY = b"unit test erasure key"
POLICY = Policy(
    default_zone="Europe/London",
    erasure_key=ERASURE_KEY,
    max_reasks=2,
    first_reminder_minutes=60,
    max_reminders=2,
    quiet_start=time(21, 0),
    quiet_end=time(8, 0),
    therapist_user_ids=(9001,),
)
ALICE = Patient(101, 101, "Alice", "Archer")
BOB = Patient(102, 102, "Bob", "Baker")
THERAPIST_ID = 7001


def question(position: int, text: str, kind: str, **extra: object) -> QuestionSeed:
    values: dict[str, object] = {
        "link": None,
        "required": True,
        "options": None,
        "min_value": None,
        "max_value": None,
        "integer_only": False,
        "max_length": None,
        "alert_rule": None,
    }
    values.update(extra)
    return QuestionSeed(position, text, kind, **values)  # type: ignore[arg-type]


KNEE_QUESTIONS = [
    question(1, "Did you do the knee bends?", "yes_no", alert_rule="== no"),
    question(2, "Pain today?", "scale", alert_rule=">= 8"),
    question(3, "Anything else?", "text", required=False, max_length=50),
    question(4, "Minutes of exercise?", "number", min_value=0, max_value=100, integer_only=True),
]


def plan(start: date) -> SeedPlan:
    return SeedPlan(
        groups=[
            GroupSeed("Knee Group", "Europe/London", "KNEE1", None),
            GroupSeed("Back Group", "Europe/Berlin", "BACK1", 1),
        ],
        tasks=[
            TaskSeed(
                "Knee Group", "Knee check", start, time(10, 0), None, 24 * 60, KNEE_QUESTIONS
            ),
            TaskSeed(
                "Knee Group",
                "Knee photo",
                start,
                time(11, 0),
                None,
                24 * 60,
                [question(1, "A photo of your knee", "photo")],
            ),
            TaskSeed(
                "Back Group",
                "Back stretch",
                start,
                time(12, 0),
                "FREQ=DAILY",
                6 * 60,
                [question(1, "Which side?", "choice", options=["Left", "Right"])],
            ),
        ],
    )


R = TypeVar("R")


@dataclass
class World:
    database: Database
    clock: ManualClock

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def join(self, who: Patient, code: str = "KNEE1") -> checkin.StartResult:
        return checkin.start(self.database, self.now, POLICY, who, code)

    def person_id(self, who: Patient) -> int:
        with self.database.session() as session:
            person = session.exec(
                select(Person).where(Person.telegram_user_id == who.telegram_user_id)
            ).one()
            assert person.id is not None
            return person.id

    def deliver(self, who: Patient, title: str) -> int:
        """Do what the due scan does when the task falls due: the prompt is out."""
        with self.database.session() as session:
            delivery = session.exec(
                select(Delivery)
                .join(Task, col(Task.id) == Delivery.task_id)
                .where(
                    Task.title == title,
                    Delivery.person_id == self.person_id(who),
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
            ).one()
            self.clock.set(max(self.now, delivery.due_at))
            delivery.status = DeliveryStatus.SENT.value
            delivery.sent_at = self.now
            delivery.prompt_message_id = 1
            delivery.remind_at = self.now + timedelta(hours=1)
            session.commit()
            assert delivery.id is not None
            return delivery.id

    def delivery(self, delivery_id: int) -> Delivery:
        with self.database.session() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            return row

    def answers(self, delivery_id: int) -> list[Answer]:
        with self.database.session() as session:
            return list(
                session.exec(
                    select(Answer)
                    .where(Answer.delivery_id == delivery_id)
                    .order_by(col(Answer.question_id))
                ).all()
            )

    def say(self, who: Patient, text: str, message_id: int, *, shown: bool = True) -> object:
        """Type a message; ``shown``: the question the bot asks next reaches the patient."""
        result = checkin.answer_message(
            self.database,
            self.now,
            POLICY,
            who.telegram_user_id,
            Reply(kind="text", text=text),
            message_id,
        ).outcome
        return self._shown(result) if shown else result

    def tap(
        self, who: Patient, delivery_id: int, question_id: int, token: str, *, shown: bool = True
    ) -> object:
        result = checkin.answer_button(
            self.database, self.now, POLICY, who.telegram_user_id, delivery_id, question_id, token
        ).outcome
        return self._shown(result) if shown else result

    def begin(self, who: Patient, delivery_id: int) -> Progress:
        result = checkin.begin(self.database, self.now, POLICY, who.telegram_user_id, delivery_id)
        assert isinstance(result, Progress), result
        return self._shown(result)

    # The question's message comes before any message the tests type (their ids start at 1).
    BOT_MESSAGE_ID = 0

    def _shown(self, result: R) -> R:
        """Record the question a result asks as sent, as the handler does after sending it."""
        question = None
        if isinstance(result, Progress | checkin.NotShown | checkin.Reask):
            question = result.question
        if question is not None:
            checkin.note_question_shown(
                self.database, self.now, checkin.Shown.of(question, self.BOT_MESSAGE_ID)
            )
        return result


@pytest.fixture
def world(database: Database, clock: ManualClock) -> World:
    now = clock.now()
    apply_seed(database, plan(now.date()), now, "Europe/London")
    with database.session() as session:
        therapist = Person(
            telegram_user_id=THERAPIST_ID,
            chat_id=THERAPIST_ID,
            first_name="Theo",
            role=Role.THERAPIST.value,
            created_at=now,
        )
        session.add(therapist)
        session.flush()
        group = session.exec(select(TherapyGroup).where(TherapyGroup.name == "Knee Group")).one()
        assert group.id is not None and therapist.id is not None
        session.add(
            Membership(
                group_id=group.id,
                person_id=therapist.id,
                role=Role.THERAPIST.value,
                joined_at=now,
            )
        )
        session.add(GroupTherapist(group_id=group.id, person_id=therapist.id, added_at=now))
        session.commit()
    return World(database, clock)


def walk(world: World, who: Patient, delivery_id: int) -> Progress:
    """Answer the knee check right, one step at a time."""
    first = world.begin(who, delivery_id)
    assert first.question is not None
    result = world.tap(who, delivery_id, first.question.question_id, "y")
    assert isinstance(result, Progress) and result.question is not None
    result = world.tap(who, delivery_id, result.question.question_id, "3")
    assert isinstance(result, Progress)
    result = world.say(who, "Felt fine", 10)
    assert isinstance(result, Progress)
    result = world.say(who, "25", 11)
    assert isinstance(result, Progress)
    return result


# --- joining ----------------------------------------------------------------------------------


def test_joining_registers_the_patient_and_names_the_group_and_next_task(world: World) -> None:
    result = world.join(ALICE)

    assert result.outcome == StartOutcome.JOINED
    assert result.group_name == "Knee Group"
    assert result.next_due is not None
    assert result.next_due.task_title == "Knee check"
    assert result.next_due.due_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert result.next_due.zone == "Europe/London"
    with world.database.session() as session:
        person = session.exec(select(Person).where(Person.telegram_user_id == 101)).one()
        assert (person.chat_id, person.first_name, person.last_name) == (101, "Alice", "Archer")
        assert (person.display_name, person.language_code) == ("Alice Archer", "en")
        invite = session.exec(select(Invite).where(Invite.code == "KNEE1")).one()
        assert invite.uses == 1
        pending = session.exec(select(Delivery).where(Delivery.person_id == person.id)).all()
        assert sorted(d.status for d in pending) == ["pending", "pending"]


def test_joining_after_a_task_fell_due_plans_only_future_occurrences(world: World) -> None:
    world.clock.advance(timedelta(hours=2, minutes=30))  # 11:30: both knee tasks are past

    result = world.join(ALICE)

    assert result.next_due is None
    with world.database.session() as session:
        assert not session.exec(select(Delivery)).all()


def test_joining_twice_keeps_one_membership_and_one_use(world: World) -> None:
    world.join(ALICE)
    again = world.join(ALICE)

    assert again.outcome == StartOutcome.ALREADY_MEMBER
    with world.database.session() as session:
        assert session.exec(select(Invite).where(Invite.code == "KNEE1")).one().uses == 1
        assert len(session.exec(select(Membership).where(Membership.role == "patient")).all()) == 1


def test_a_patient_can_belong_to_several_groups(world: World) -> None:
    world.join(ALICE, "KNEE1")
    result = world.join(ALICE, "BACK1")

    assert result.outcome == StartOutcome.JOINED
    assert result.group_name == "Back Group"
    greeting = checkin.start(world.database, world.now, POLICY, ALICE, None)
    assert greeting.outcome == StartOutcome.GREETING
    assert greeting.groups == ("Knee Group", "Back Group")


def test_a_code_typed_in_another_case_still_joins(world: World) -> None:
    assert world.join(ALICE, "knee1").outcome == StartOutcome.JOINED


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"code": "NOPE"}, InviteProblem.UNKNOWN),
        ({"expires_at": datetime(2026, 11, 25, 8, 0, tzinfo=UTC)}, InviteProblem.EXPIRED),
        ({"revoked_at": datetime(2026, 11, 24, 8, 0, tzinfo=UTC)}, InviteProblem.REVOKED),
        ({"max_uses": 2, "uses": 2}, InviteProblem.USED_UP),
    ],
)
def test_a_bad_invite_is_refused_with_its_reason_and_changes_nothing(
    world: World, change: dict[str, object], problem: InviteProblem
) -> None:
    with world.database.session() as session:
        invite = session.exec(select(Invite).where(Invite.code == "KNEE1")).one()
        for key, value in change.items():
            setattr(invite, key, value)
        session.commit()

    result = world.join(ALICE, "KNEE1")

    assert result.outcome == StartOutcome.BAD_CODE
    assert result.problem == problem
    with world.database.session() as session:
        assert session.exec(select(Person).where(Person.telegram_user_id == 101)).first() is None


def test_a_code_that_is_not_a_deep_link_payload_is_unknown(world: World) -> None:
    result = world.join(ALICE, "KNEE1; DROP TABLE people")
    assert (result.outcome, result.problem) == (StartOutcome.BAD_CODE, InviteProblem.UNKNOWN)


def test_the_last_use_of_an_invite_goes_to_one_patient_only(world: World) -> None:
    assert world.join(ALICE, "BACK1").outcome == StartOutcome.JOINED

    result = world.join(BOB, "BACK1")

    assert (result.outcome, result.problem) == (StartOutcome.BAD_CODE, InviteProblem.USED_UP)


def test_start_alone_greets_a_stranger_without_storing_anything(world: World) -> None:
    result = checkin.start(world.database, world.now, POLICY, ALICE, None)

    assert result.outcome == StartOutcome.NEWCOMER
    with world.database.session() as session:
        assert session.exec(select(Person).where(Person.telegram_user_id == 101)).first() is None


# --- the walk-through -------------------------------------------------------------------------


def test_answering_every_question_completes_the_task_with_a_summary(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")

    done = walk(world, ALICE, delivery_id)

    assert done.summary is not None
    assert [(line.description, line.display) for line in done.summary.lines] == [
        ("Did you do the knee bends?", "Yes"),
        ("Pain today?", "3"),
        ("Anything else?", "Felt fine"),
        ("Minutes of exercise?", "25"),
    ]
    row = world.delivery(delivery_id)
    assert row.status == DeliveryStatus.COMPLETED.value
    assert row.finished_at == world.now and row.remind_at is None
    stored = world.answers(delivery_id)
    assert [(a.value_bool, a.value_number, a.value_text) for a in stored] == [
        (True, None, "Yes"),
        (None, 3.0, "3"),
        (None, None, "Felt fine"),
        (None, 25.0, "25"),
    ]


def test_starting_marks_the_delivery_in_progress_at_its_first_question(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")

    progress = world.begin(ALICE, delivery_id)

    assert progress.question is not None
    assert (progress.question.number, progress.question.total) == (1, 4)
    assert progress.question.link is None and not progress.resumed
    row = world.delivery(delivery_id)
    assert (row.status, row.started_at) == ("in_progress", world.now)


def test_a_wrong_answer_counts_a_try_and_asks_the_same_question_again(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)

    result = world.say(ALICE, "perhaps", 5)

    assert isinstance(result, Reask)
    assert worded(result.hint) == "Please tap Yes or No, or type yes or no."
    assert (result.tries, result.offer_skip, result.stuck) == (1, False, False)
    assert world.delivery(delivery_id).current_tries == 1
    assert world.answers(delivery_id) == []


def test_repeated_failures_offer_skip_on_an_optional_question_only(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "nope", 5)
    world.say(ALICE, "huh", 6)
    stuck = world.say(ALICE, "what", 7)
    assert isinstance(stuck, Reask) and stuck.stuck and not stuck.offer_skip

    world.say(ALICE, "yes", 8)
    world.say(ALICE, "4", 9)
    checkin.answer_message(
        world.database, world.now, POLICY, 101, Reply(kind="other", other_label="sticker"), 10
    )
    optional = checkin.answer_message(
        world.database, world.now, POLICY, 101, Reply(kind="photo", file_id="ph"), 11
    ).outcome

    assert isinstance(optional, Reask)
    assert optional.offer_skip and not optional.stuck
    assert worded(optional.hint) == (
        "That was a photo. Please type your answer (at most 50 characters)."
    )


def test_skipping_an_optional_question_stores_it_as_skipped(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "yes", 5)
    third = world.say(ALICE, "2", 6)
    assert isinstance(third, Progress) and third.question is not None

    skipped = checkin.skip_question(
        world.database, world.now, POLICY, 101, delivery_id, third.question.question_id
    ).outcome

    assert isinstance(skipped, Progress)
    assert skipped.answered is not None and skipped.answered.skipped
    assert skipped.question is not None and skipped.question.number == 4
    assert [a.skipped for a in world.answers(delivery_id)] == [False, False, True]


def test_a_required_question_cannot_be_skipped(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None

    result = checkin.skip_question(
        world.database, world.now, POLICY, 101, delivery_id, first.question.question_id
    ).outcome

    assert result == Refused(Refusal.REQUIRED, "Knee check")
    assert world.answers(delivery_id) == []


def test_the_same_message_delivered_twice_stores_one_answer(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "yes", 5)
    first = world.say(ALICE, "7", 6)

    again = world.say(ALICE, "7", 6)

    assert isinstance(first, Progress)
    assert again == NoQuestion(Idle.DUPLICATE)
    assert len(world.answers(delivery_id)) == 2


def test_the_same_button_pressed_twice_stores_one_answer(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    question_id = first.question.question_id

    assert isinstance(world.tap(ALICE, delivery_id, question_id, "y"), Progress)
    again = world.tap(ALICE, delivery_id, question_id, "n")

    assert again == Refused(Refusal.ALREADY, "Knee check")
    assert [a.value_bool for a in world.answers(delivery_id)] == [True]


def test_the_unique_constraint_settles_a_race_between_two_presses(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    question_id = first.question.question_id
    # Another instance stored the answer after this press read the delivery: the insert loses.
    with world.database.session() as session:
        session.add(
            Answer(
                delivery_id=delivery_id,
                question_id=question_id,
                question_revision_id=revision_id(session, question_id),
                value_text="Yes",
                value_bool=True,
                answered_at=world.now,
            )
        )
        session.commit()
    person_id = world.person_id(ALICE)
    with world.database.session() as session:
        delivery = session.get(Delivery, delivery_id)
        person = session.get(Person, person_id)
        task = session.exec(select(Task).where(Task.title == "Knee check")).one()
        questions = list(
            session.exec(
                select(Question)
                .where(Question.task_id == task.id)
                .order_by(col(Question.position))
            ).all()
        )
        assert delivery is not None and person is not None
        asked = answering._Asked(
            person,
            delivery,
            task,
            questions,
            {},  # the answers this press read, before the other instance's answer
            questions[0],
            current_revision(session, questions[0]),
        )
        result = answering._store(
            session, world.now, POLICY, asked, Accepted(display="No", boolean=False)
        )

    assert result == Refused(Refusal.ALREADY, "Knee check")
    assert [a.value_bool for a in world.answers(delivery_id)] == [True]


def test_a_button_of_an_answered_question_is_refused_as_stale(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    second = world.tap(ALICE, delivery_id, first.question.question_id, "y")
    assert isinstance(second, Progress) and second.question is not None
    world.tap(ALICE, delivery_id, second.question.question_id, "5")

    # The scale's keyboard again, on a question already answered.
    again = world.tap(ALICE, delivery_id, second.question.question_id, "9")
    # A button for a question not asked yet.
    ahead = world.tap(ALICE, delivery_id, second.question.question_id + 2, "1")

    assert again == Refused(Refusal.ALREADY, "Knee check")
    assert ahead == Refused(Refusal.NOT_YET, "Knee check")
    assert len(world.answers(delivery_id)) == 2


def test_a_forged_button_for_another_patients_delivery_changes_nothing(world: World) -> None:
    world.join(ALICE)
    world.join(BOB)
    alices = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, alices)
    assert first.question is not None

    forged = world.tap(BOB, alices, first.question.question_id, "n")
    missing = world.tap(BOB, 999_999, 1, "n")
    pressed = checkin.answer_button(world.database, world.now, POLICY, 555, alices, 1, "n")
    stranger = pressed.outcome

    assert forged == Refused(Refusal.NOT_YOURS)
    assert missing == Refused(Refusal.NOT_YOURS)
    assert stranger == Refused(Refusal.UNKNOWN_PERSON)
    assert world.answers(alices) == []
    assert world.delivery(alices).status == "in_progress"


def test_a_token_that_is_not_one_of_the_questions_buttons_is_refused(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None

    result = world.tap(ALICE, delivery_id, first.question.question_id, "maybe")

    assert result == Refused(Refusal.NOT_AN_OPTION, "Knee check")


def test_an_expired_task_refuses_answers_even_before_the_scan_marks_it(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    world.clock.advance(timedelta(hours=24))

    typed = world.say(ALICE, "yes", 5)
    pressed = world.tap(ALICE, delivery_id, first.question.question_id, "y")
    restart = checkin.begin(world.database, world.now, POLICY, 101, delivery_id)

    assert typed == Refused(Refusal.CLOSED, "Knee check")
    assert pressed == Refused(Refusal.CLOSED, "Knee check")
    assert restart == Refused(Refusal.CLOSED, "Knee check")
    assert world.answers(delivery_id) == []


def test_a_message_with_no_question_asked_says_how_many_tasks_are_open(world: World) -> None:
    world.join(ALICE)
    world.deliver(ALICE, "Knee check")

    assert world.say(ALICE, "hello", 5) == NoQuestion(Idle.NOTHING_ASKED, 1)
    assert world.say(BOB, "hello", 5) == NoQuestion(Idle.UNKNOWN_PERSON)


def test_a_removed_question_is_neither_asked_nor_counted(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    with world.database.session() as session:
        scale = session.exec(select(Question).where(Question.description == "Pain today?")).one()
        scale.removed_at = world.now
        session.commit()
    world.begin(ALICE, delivery_id)

    second = world.say(ALICE, "yes", 5)

    assert isinstance(second, Progress) and second.question is not None
    assert second.question.description == "Anything else?"
    assert (second.question.number, second.question.total) == (2, 3)


# --- alerts -----------------------------------------------------------------------------------


def test_an_alerting_answer_notifies_the_groups_team_and_not_an_administrator_off_it(
    world: World,
) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)

    result = world.say(ALICE, "no", 5)

    assert isinstance(result, Progress)
    # 9001 is an administrator (POLICY), not on the Knee Group's team.
    assert [notice.chat_id for notice in result.alerts] == [THERAPIST_ID]
    notice = result.alerts[0]
    assert (notice.patient_name, notice.group_name, notice.task_title) == (
        "Alice Archer",
        "Knee Group",
        "Knee check",
    )
    assert (notice.question, notice.answer, notice.rule) == (
        "Did you do the knee bends?",
        "No",
        "== no",
    )


def test_a_group_with_nobody_on_its_team_alerts_the_administrators(world: World) -> None:
    with world.database.session() as session:
        for place in session.exec(select(GroupTherapist)).all():
            session.delete(place)
        session.commit()
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)

    result = world.say(ALICE, "no", 5)

    assert isinstance(result, Progress)
    assert [notice.chat_id for notice in result.alerts] == [9001]


def test_an_answer_outside_the_rule_or_a_skip_alerts_nobody(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)

    calm = world.say(ALICE, "yes", 5)
    low_pain = world.say(ALICE, "7", 6)

    assert isinstance(calm, Progress) and not calm.alerts
    assert isinstance(low_pain, Progress) and not low_pain.alerts


def test_a_config_therapist_who_is_also_a_group_member_gets_one_alert(world: World) -> None:
    policy = Policy(
        default_zone="Europe/London",
        erasure_key=ERASURE_KEY,
        therapist_user_ids=(THERAPIST_ID,),
    )
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)

    result = checkin.answer_message(
        world.database, world.now, policy, 101, Reply(kind="text", text="no"), 5
    ).outcome

    assert isinstance(result, Progress)
    assert [notice.chat_id for notice in result.alerts] == [THERAPIST_ID]


# --- several tasks, pause, later, skip --------------------------------------------------------


def test_starting_another_task_puts_the_first_on_hold(world: World) -> None:
    world.join(ALICE)
    check = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, check)
    world.say(ALICE, "yes", 5)
    photo = world.deliver(ALICE, "Knee photo")

    progress = world.begin(ALICE, photo)

    assert progress.paused_title == "Knee check"
    assert world.delivery(check).status == "sent"
    assert world.delivery(photo).status == "in_progress"
    # The patient's next message answers the photo task, the one asked last.
    result = checkin.answer_message(
        world.database, world.now, POLICY, 101, Reply(kind="photo", file_id="knee.jpg"), 6
    ).outcome
    assert isinstance(result, Progress) and result.summary is not None
    assert world.answers(photo)[0].file_id == "knee.jpg"
    # Finishing it offers the task on hold.
    assert result.offer is not None and result.offer.delivery_id == check
    assert result.offer.started


def test_pause_then_begin_continues_at_the_same_question(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "yes", 5)

    paused = checkin.pause(world.database, world.now, POLICY, 101)

    assert (paused.task_title, paused.number, paused.total) == ("Knee check", 2, 4)
    assert world.delivery(delivery_id).status == "sent"
    assert world.say(ALICE, "5", 6) == NoQuestion(Idle.NOTHING_ASKED, 1)
    resumed = world.begin(ALICE, delivery_id)
    assert resumed.resumed
    assert resumed.question is not None and resumed.question.number == 2


def test_pause_with_nothing_in_progress_says_so(world: World) -> None:
    world.join(ALICE)

    paused = checkin.pause(world.database, world.now, POLICY, 101)

    assert paused == checkin.Paused(known=True, open_count=0)
    assert checkin.pause(world.database, world.now, POLICY, 555) == checkin.Paused(known=False)


def test_a_task_held_while_busy_is_offered_after_finishing_and_noted_once_sent(
    world: World,
) -> None:
    world.join(ALICE)
    check = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, check)
    held = world.deliver(ALICE, "Knee photo")
    with world.database.session() as session:
        row = session.get(Delivery, held)
        assert row is not None
        row.prompt_message_id = None  # the scan held it: no prompt went out
        row.remind_at = None
        session.commit()

    paused = checkin.pause(world.database, world.now, POLICY, 101)
    assert paused.offer is not None and paused.offer.delivery_id == held

    assert checkin.note_offer(
        world.database, world.now, POLICY, held, 42, chat_id=1, text="Time for your check-in"
    )
    # Offered again later: the first stays its prompt (and its reminder as planned), and the
    # second is recorded too, so both are edited when the check-in closes.
    assert checkin.note_offer(
        world.database,
        world.now + timedelta(minutes=5),
        POLICY,
        held,
        43,
        chat_id=1,
        text="Time for your check-in",
    )
    row = world.delivery(held)
    assert row.prompt_message_id == 42
    assert row.remind_at == world.now + timedelta(minutes=60)
    with world.database.session() as session:
        recorded = session.exec(
            select(CheckinMessage.message_id).where(CheckinMessage.delivery_id == held)
        ).all()
    assert sorted(recorded) == [42, 43]
    # Seen now: a second pause does not push it again.
    world.begin(ALICE, check)
    assert checkin.pause(world.database, world.now, POLICY, 101).offer is None


def test_remind_later_sets_the_reminder_and_keeps_the_question_waiting(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)

    deferred = checkin.remind_later(world.database, world.now, POLICY, 101, delivery_id)

    assert isinstance(deferred, checkin.Deferred)
    assert deferred.remind_at == world.now + timedelta(minutes=60)
    assert (deferred.number, deferred.total, deferred.offer) == (1, 4, None)
    row = world.delivery(delivery_id)
    assert (row.status, row.remind_at) == ("in_progress", world.now + timedelta(minutes=60))


def test_remind_later_in_quiet_hours_says_when_the_reminder_really_comes(
    world: World,
) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.clock.set(datetime(2026, 11, 25, 20, 30, tzinfo=UTC))

    deferred = checkin.remind_later(world.database, world.now, POLICY, 101, delivery_id)

    assert isinstance(deferred, checkin.Deferred)
    assert deferred.remind_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_remind_later_after_the_last_reminder_still_promises_one(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    with world.database.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.reminders_sent = 2
        session.commit()

    deferred = checkin.remind_later(world.database, world.now, POLICY, 101, delivery_id)

    assert isinstance(deferred, checkin.Deferred)
    assert deferred.remind_at == world.now + timedelta(minutes=60)


def test_remind_later_with_reminders_off_promises_none(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    off = replace(POLICY, max_reminders=0)

    deferred = checkin.remind_later(world.database, world.now, off, 101, delivery_id)

    assert isinstance(deferred, checkin.Deferred)
    assert (deferred.remind_at, deferred.reminders_off) == (None, True)


def test_skipping_a_task_keeps_its_answers_and_ends_it(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "yes", 5)

    asked = checkin.skip_task(world.database, world.now, POLICY, 101, delivery_id)
    assert asked == checkin.SkipAsked(delivery_id, "Knee check", 1, 4)
    assert world.delivery(delivery_id).status == "in_progress"
    skipped = checkin.skip_task(world.database, world.now, POLICY, 101, delivery_id, sure=True)

    assert isinstance(skipped, checkin.TaskSkipped)
    row = world.delivery(delivery_id)
    assert (row.status, row.remind_at, row.finished_at) == ("skipped", None, world.now)
    assert len(world.answers(delivery_id)) == 1
    again = checkin.begin(world.database, world.now, POLICY, 101, delivery_id)
    assert again == Refused(Refusal.SKIPPED, "Knee check")


def test_a_completed_task_cannot_be_started_again(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    walk(world, ALICE, delivery_id)

    again = checkin.begin(world.database, world.now, POLICY, 101, delivery_id)

    assert again == Refused(Refusal.COMPLETED, "Knee check")


def test_a_pending_task_cannot_be_started_before_it_is_due(world: World) -> None:
    world.join(ALICE)
    with world.database.session() as session:
        pending = session.exec(select(Delivery.id)).first()
    assert pending is not None

    result = checkin.begin(world.database, world.now, POLICY, 101, pending)

    assert isinstance(result, Refused) and result.reason == Refusal.NOT_OPEN


def test_a_press_on_a_prompt_the_scan_has_not_marked_sent_yet_still_starts_it(
    world: World,
) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    with world.database.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.status = DeliveryStatus.SENDING.value
        row.lease_until = world.now + timedelta(minutes=2)
        row.claimed_by = "other-host:1"
        row.sent_at = row.remind_at = row.prompt_message_id = None
        session.commit()

    progress = world.begin(ALICE, delivery_id)

    assert progress.question is not None and progress.question.number == 1
    row = world.delivery(delivery_id)
    assert (row.status, row.lease_until, row.claimed_by) == ("in_progress", None, None)
    assert (row.sent_at, row.remind_at) == (world.now, world.now + timedelta(minutes=60))


def test_task_list_shows_open_tasks_or_the_next_due(world: World) -> None:
    world.join(ALICE)
    empty = checkin.list_tasks(world.database, world.now, POLICY, 101)
    assert empty.items == () and empty.next_due is not None
    assert empty.next_due.task_title == "Knee check"

    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "yes", 5)
    listed = checkin.list_tasks(world.database, world.now, POLICY, 101)

    assert [(i.task_title, i.answered, i.total, i.started, i.active) for i in listed.items] == [
        ("Knee check", 1, 4, True, True)
    ]
    assert checkin.list_tasks(world.database, world.now, POLICY, 555).known is False


# --- time zone, stop, delete ------------------------------------------------------------------


def test_setting_a_time_zone_replans_pending_tasks_in_it(world: World) -> None:
    world.join(ALICE)

    changed = checkin.set_timezone(world.database, world.now, POLICY, 101, "america/new_york")

    assert changed.zone == "America/New_York"
    assert changed.next_due is not None
    # 10:00 in New York on 25 November is 15:00 UTC.
    assert changed.next_due.due_at == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    view = checkin.timezone_of(world.database, POLICY, 101)
    assert (view.zone, view.own) == ("America/New_York", True)


def _pending(world: World, title: str) -> list[datetime]:
    with world.database.session() as session:
        return list(
            session.exec(
                select(Delivery.due_at)
                .join(Task, col(Task.id) == Delivery.task_id)
                .where(
                    Task.title == title,
                    Delivery.person_id == world.person_id(ALICE),
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
            ).all()
        )


@pytest.mark.parametrize(
    ("at", "zone", "due_after"),
    [
        # 10:00:30 UTC: the knee check fell due at 10:00 (London) and the fan-out has not
        # reached Alice yet when she sets her zone.
        # 10:00 in Berlin was 09:00 UTC: gone by. Replanned, the check-in of today was lost;
        # it goes out now, as of 09:00 UTC (its successor is tomorrow's, not another today).
        ((10, 0, 30), "europe/berlin", datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
        # 10:00 in New York is still to come today (15:00 UTC): the prompt moves there.
        ((10, 0, 30), "america/new_york", datetime(2026, 11, 25, 15, 0, tzinfo=UTC)),
        # 09:30 UTC, half an hour before it is due: Berlin's 10:00 has gone by all the same,
        # and so has Tokyo's (01:00 UTC). It goes out now, not tomorrow.
        ((9, 30, 0), "europe/berlin", datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
        ((9, 30, 0), "asia/tokyo", datetime(2026, 11, 25, 1, 0, tzinfo=UTC)),
        ((9, 30, 0), "america/new_york", datetime(2026, 11, 25, 15, 0, tzinfo=UTC)),
        # The day before, Tokyo's 10:00 of the 25th (01:00 UTC) is still to come: it moves.
        ((-14, 0, 0), "asia/tokyo", datetime(2026, 11, 25, 1, 0, tzinfo=UTC)),
    ],
)
def test_a_check_in_whose_time_passed_in_the_new_zone_is_not_lost(
    world: World, at: tuple[int, int, int], zone: str, due_after: datetime
) -> None:
    world.join(ALICE)
    hours, minutes, seconds = at
    midnight = datetime(2026, 11, 25, tzinfo=UTC)
    world.clock.set(midnight + timedelta(hours=hours, minutes=minutes, seconds=seconds))
    assert _pending(world, "Knee check") == [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)]

    changed = checkin.set_timezone(world.database, world.now, POLICY, 101, zone)

    assert _pending(world, "Knee check") == [due_after]
    assert changed.next_due is not None and changed.next_due.task_title == "Knee check"
    # The reply names when it goes out: a row kept at an hour gone by goes out now.
    assert changed.next_due.due_now == (due_after <= world.now)
    assert changed.next_due.due_at == max(due_after, world.now)


@pytest.mark.parametrize(
    ("title", "code", "due_in_los_angeles", "due_after"),
    [
        # Daily at 12:00: the 25th is over in Tokyo (04:30 on the 26th). Kept and moved to the
        # 25th's 12:00, it would go out now, at night, and again at 12:00 the same day.
        ("Back stretch", "BACK1", (25, 20, 0), datetime(2026, 11, 26, 3, 0, tzinfo=UTC)),
        # Once, at 10:00: nothing follows, so it goes out now, late rather than never.
        ("Knee check", "KNEE1", (25, 18, 0), datetime(2026, 11, 25, 1, 0, tzinfo=UTC)),
    ],
)
def test_a_zone_change_east_across_midnight_keeps_only_a_check_in_nothing_follows(
    world: World,
    title: str,
    code: str,
    due_in_los_angeles: tuple[int, int, int],
    due_after: datetime,
) -> None:
    world.join(ALICE, code)
    checkin.set_timezone(world.database, world.now, POLICY, 101, "america/los_angeles")
    assert _pending(world, title) == [datetime(2026, 11, *due_in_los_angeles, tzinfo=UTC)]
    world.clock.set(datetime(2026, 11, 25, 19, 30, tzinfo=UTC))  # 04:30 on the 26th in Tokyo

    checkin.set_timezone(world.database, world.now, POLICY, 101, "asia/tokyo")

    assert _pending(world, title) == [due_after]


def test_a_check_in_kept_in_the_new_zone_never_takes_an_instant_another_row_holds(
    world: World,
) -> None:
    world.join(ALICE, "BACK1")  # daily at 12:00, the group in Berlin (11:00 UTC)
    checkin.set_timezone(world.database, world.now, POLICY, 101, "america/new_york")
    [pending] = _pending(world, "Back stretch")
    assert pending == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    # Today's 12:00 in Berlin had been cancelled by the scan (awaiting consent, say).
    with world.database.session() as session:
        row = session.exec(
            select(Delivery).where(
                Delivery.person_id == world.person_id(ALICE), Delivery.due_at == pending
            )
        ).one()
        session.add(
            Delivery(
                task_id=row.task_id,
                person_id=row.person_id,
                due_at=datetime(2026, 11, 25, 11, 0, tzinfo=UTC),
                expires_at=datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
                status=DeliveryStatus.CANCELLED.value,
            )
        )
        session.commit()
    world.clock.set(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))

    changed = checkin.set_timezone(world.database, world.now, POLICY, 101, "europe/berlin")

    assert changed.zone == "Europe/Berlin"  # not a unique-key error
    assert _pending(world, "Back stretch") == [datetime(2026, 11, 26, 11, 0, tzinfo=UTC)]


def test_an_unknown_time_zone_name_changes_nothing(world: World) -> None:
    world.join(ALICE)

    changed = checkin.set_timezone(world.database, world.now, POLICY, 101, "Mars/Olympus")

    assert changed == checkin.ZoneChanged(known=True, zone=None)
    view = checkin.timezone_of(world.database, POLICY, 101)
    assert (view.zone, view.own) == ("Europe/London", False)


def test_stop_cancels_open_tasks_and_drops_pending_ones_until_start(world: World) -> None:
    world.join(ALICE)
    open_id = world.deliver(ALICE, "Knee check")

    stopped = checkin.stop(world.database, world.now, ERASURE_KEY, 101)

    assert stopped == checkin.Stopped(known=True, already=False, cancelled=1)
    with world.database.session() as session:
        statuses = sorted(d.status for d in session.exec(select(Delivery)).all())
    assert statuses == ["cancelled"]
    assert world.delivery(open_id).remind_at is None

    back = checkin.start(world.database, world.now, POLICY, ALICE, None)

    assert back.outcome == StartOutcome.OPTED_IN
    assert back.next_due is not None and back.next_due.task_title == "Knee photo"


def test_delete_my_data_erases_answers_deliveries_and_memberships(world: World) -> None:
    world.join(ALICE)
    world.join(ALICE, "BACK1")
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    world.say(ALICE, "yes", 5)

    deleted = checkin.delete_my_data(world.database, world.now, ERASURE_KEY, 101)

    assert deleted == checkin.Deleted(known=True, answers=1, deliveries=3, memberships=2)
    with world.database.session() as session:
        assert session.exec(select(Person).where(Person.telegram_user_id == 101)).first() is None
        person = session.exec(
            select(Person).where(Person.erased_user_mark == erasure.mark(ERASURE_KEY, 101))
        ).one()
        assert (person.display_name, person.data_deleted_at) == ("", world.now)
        assert (person.telegram_user_id, person.chat_id) == (None, None)
        assert not session.exec(select(Delivery).where(Delivery.person_id == person.id)).all()
        marks = session.exec(select(Membership).where(Membership.person_id == person.id)).all()
        assert [m.role for m in marks] == ["erased", "erased"]
        assert not session.exec(select(Answer)).all()
    assert checkin.start(world.database, world.now, POLICY, ALICE, None).outcome == (
        StartOutcome.NEWCOMER
    )
    again = checkin.delete_my_data(world.database, world.now, ERASURE_KEY, 101)
    assert again == checkin.Deleted(known=False, erased=True)
    other_key = checkin.delete_my_data(world.database, world.now, b"another key", 101)
    assert other_key == checkin.Deleted(known=False, erased=False)


# --- a question counts as asked once its message reached the patient ---------------------------


def test_a_message_written_before_the_question_arrived_is_not_its_answer(world: World) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    # The question's message is number 20 in the chat; Alice's 19 was typed before it.
    checkin.note_question_shown(world.database, world.now, checkin.Shown.of(first.question, 20))

    early = world.say(ALICE, "y", 19, shown=False)
    late = world.say(ALICE, "y", 21, shown=False)

    assert isinstance(early, checkin.NotShown)
    assert early.question.question_id == first.question.question_id
    assert isinstance(late, Progress)
    assert [a.question_id for a in world.answers(delivery_id)] == [first.question.question_id]


@pytest.mark.parametrize("message_id", [19, 21])
def test_a_question_reworded_while_its_message_was_on_its_way_is_asked_in_the_new_words(
    world: World, message_id: int
) -> None:
    """The words were read for message 20, then the therapist's edit was saved, then the send
    was recorded: whether Alice typed before the message arrived (19) or after (21), her
    text answered old words and is not stored."""
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    world.clock.advance(timedelta(minutes=1))
    with world.database.session() as session:
        question = session.get(Question, first.question.question_id)
        assert question is not None
        assert revisions.revise(session, question, {"description": "Any knee pain?"}, world.now)
        session.commit()
    checkin.note_question_shown(world.database, world.now, checkin.Shown.of(first.question, 20))

    typed = world.say(ALICE, "y", message_id, shown=False)

    assert isinstance(typed, checkin.NotShown) and typed.reworded, typed
    assert typed.question.description == "Any knee pain?"
    assert world.answers(delivery_id) == []


# Question 1 has an alert rule, which the general answer path takes; question 3 the fast one.
@pytest.mark.parametrize(("earlier_answers", "answer"), [((), "y"), (("y", "3"), "fine")])
def test_an_edit_committed_just_after_the_send_was_recorded_is_a_rewording_all_the_same(
    world: World, earlier_answers: tuple[str, ...], answer: str
) -> None:
    """Two instances on PostgreSQL: the therapist's edit took its instant before the send of
    message 20 was recorded and committed just after. The new revision is older than the
    record, yet Alice read the old words: her answer is not stored against the new ones."""
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    asked = world.begin(ALICE, delivery_id)
    for message_id, earlier in enumerate(earlier_answers, start=11):
        asked = world.say(ALICE, earlier, message_id)
        assert isinstance(asked, Progress)
    assert asked.question is not None
    edited_at = world.now + timedelta(seconds=30)
    world.clock.advance(timedelta(minutes=1))
    checkin.note_question_shown(world.database, world.now, checkin.Shown.of(asked.question, 20))
    with world.database.session() as session:
        question = session.get(Question, asked.question.question_id)
        assert question is not None
        assert revisions.revise(session, question, {"description": "Reworded"}, edited_at)
        session.commit()

    typed = world.say(ALICE, answer, 21, shown=False)

    assert isinstance(typed, checkin.NotShown) and typed.reworded, typed
    assert typed.question.description == "Reworded"
    assert len(world.answers(delivery_id)) == len(earlier_answers)


@pytest.mark.parametrize(
    ("answer_id", "second_send_id", "counts"),
    [
        # Question 2's first send (13) reached Alice unrecorded; she answered it (14) before
        # its second send (15) arrived: a message came between her 12 and 14, the first send.
        (14, 15, True),
        # The first send never arrived: her 13 came right after her 12, before any send.
        (13, 14, False),
    ],
)
def test_an_answer_between_a_questions_unrecorded_send_and_its_second_send(
    world: World, answer_id: int, second_send_id: int, counts: bool
) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    world.begin(ALICE, delivery_id)
    answered = world.say(ALICE, "y", 11, shown=False)
    assert isinstance(answered, Progress) and answered.question is not None
    pain = answered.question.question_id
    # Typed while question 2 was on its way; the bot stopped before recording its send.
    early = world.say(ALICE, "hello?", 12, shown=False)
    assert isinstance(early, checkin.NotShown) and early.maybe_shown_before
    checkin.note_question_shown(
        world.database,
        world.now,
        checkin.Shown.of(
            answered.question, second_send_id, maybe_shown_before=early.maybe_shown_before
        ),
    )

    result = world.say(ALICE, "5", answer_id, shown=False)

    stored = [a.question_id for a in world.answers(delivery_id)]
    assert (pain in stored) is counts
    assert isinstance(result, checkin.NotShown) is not counts


# The prompt is message 10. After Start (a press: no message of the patient's to count from)
# the bot sent question 1 as message 11 and was killed before recording it.
@pytest.mark.parametrize(
    ("answer_id", "sent_again_first", "counts"),
    [
        (12, False, True),  # 11 came between the prompt and her 12: the unrecorded send
        (12, True, True),  # the same, handled after the send again (13) was recorded
        (11, False, False),  # nothing came after the prompt: typed before any send
        (11, True, False),
    ],
)
def test_an_answer_to_an_unrecorded_question_after_a_press_counts_from_the_pressed_message(
    world: World, answer_id: int, sent_again_first: bool, counts: bool
) -> None:
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    started = checkin.begin(
        world.database, world.now, POLICY, ALICE.telegram_user_id, delivery_id, newest_known=10
    )
    assert isinstance(started, Progress) and started.question is not None
    knee_bends = started.question.question_id
    if sent_again_first:
        checkin.note_question_shown(
            world.database,
            world.now,
            checkin.Shown.of(started.question, 13, maybe_shown_before=True),
        )

    result = world.say(ALICE, "y", answer_id, shown=False)

    assert ([a.question_id for a in world.answers(delivery_id)] == [knee_bends]) is counts
    assert isinstance(result, checkin.NotShown) is not counts


@pytest.mark.parametrize(("answer_id", "counts"), [(22, True), (21, False)])
def test_an_answer_to_an_unrecorded_question_after_a_button_answer(
    world: World, answer_id: int, counts: bool
) -> None:
    """Question 1 answered by its button (message 20, the newest in the chat); question 2 went
    out as 21, unrecorded."""
    world.join(ALICE)
    delivery_id = world.deliver(ALICE, "Knee check")
    first = world.begin(ALICE, delivery_id)
    assert first.question is not None
    tapped = checkin.answer_button(
        world.database,
        world.now,
        POLICY,
        ALICE.telegram_user_id,
        delivery_id,
        first.question.question_id,
        "y",
        newest_known=20,
    ).outcome
    assert isinstance(tapped, Progress) and tapped.question is not None

    result = world.say(ALICE, "5", answer_id, shown=False)

    stored = [a.question_id for a in world.answers(delivery_id)]
    assert (tapped.question.question_id in stored) is counts
    assert isinstance(result, checkin.NotShown) is not counts


@pytest.mark.parametrize(
    ("asked_id", "message_id", "seconds_later", "counts"),
    [
        (None, 1, None, True),  # recorded before revision 0005: taken as seen
        (20, 21, None, True),  # written after the question, in one numbering
        (20, 19, 0.0, False),  # written before it
        (20, 20, None, False),
        (20, 3, 0.5, False),  # another numbering, same second: not proven later
        (20, 3, 1.0, True),  # another numbering, a second later by Telegram's clock
        (20, 3, None, False),  # no date to go by
    ],
)
def test_came_after(
    asked_id: int | None, message_id: int, seconds_later: float | None, counts: bool
) -> None:
    asked_at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    sent_at = None if seconds_later is None else asked_at + timedelta(seconds=seconds_later)
    assert checkin.came_after(asked_id, asked_at, message_id, sent_at) is counts
