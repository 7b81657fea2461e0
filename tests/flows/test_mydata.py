"""/mydata: a patient gets one file of everything stored about them, read back against the DB."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import col, select

from storage.models import Answer, AuditEvent, Delivery, Membership, Person, Question, Task
from tests.fakes.harness import Harness, patient

ALICE, STRANGER = patient(0), patient(7)


async def test_mydata_sends_everything_stored_and_it_matches_the_database(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    await h.command(ALICE, "/start", "SHOULDER1")
    await h.command(ALICE, "/timezone", "Europe/Berlin")
    await h.advance_and_scan(timedelta(hours=2))  # the press-ups at 11:00
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "Yes")

    await h.command(ALICE, "/mydata")

    document = h.last_message(ALICE.chat_id)
    assert document.kind == "document"
    assert document.file_name == "my-data-2026-11-25.json"
    assert document.plain == (
        "Everything stored about you: 1 group membership, 4 check-ins and 1 answer."
    )
    sent = json.loads(h.api.calls_of("sendDocument")[-1].files["document"]["content"])
    assert sent["about"].startswith("Everything this check-in bot stores about you")
    assert sent["exported_at"] == h.clock.now().isoformat()
    with h.database.session() as session:
        person = session.exec(select(Person).where(Person.telegram_user_id == ALICE.id)).one()
        memberships = session.exec(
            select(Membership).where(Membership.person_id == person.id)
        ).all()
        deliveries = session.exec(
            select(Delivery, Task)
            .join(Task, col(Task.id) == Delivery.task_id)
            .where(Delivery.person_id == person.id)
            .order_by(col(Delivery.due_at), col(Delivery.id))
        ).all()
        answers = session.exec(
            select(Answer, Question)
            .join(Question, col(Question.id) == Answer.question_id)
            .join(Delivery, col(Delivery.id) == Answer.delivery_id)
            .where(Delivery.person_id == person.id)
        ).all()
    profile = sent["profile"]
    assert (profile["telegram_user_id"], profile["first_name"], profile["last_name"]) == (
        person.telegram_user_id,
        person.first_name,
        person.last_name,
    )
    assert (profile["chat_id"], profile["timezone"]) == (person.chat_id, "Europe/Berlin")
    assert profile["language"] is None and sent["pending_joins"] == []
    assert [(m["group"], m["role"]) for m in sent["memberships"]] == [
        ("Shoulder Therapy 1", memberships[0].role)
    ]
    assert [(c["task"], c["status"], c["due_at"]) for c in sent["check_ins"]] == [
        (task.title, delivery.status, delivery.due_at.isoformat()) for delivery, task in deliveries
    ]
    given = [a for c in sent["check_ins"] for a in c["answers"]]
    assert [(a["question"], a["yes_no"], a["answered_at"]) for a in given] == [
        (question.description, answer.value_bool, answer.answered_at.isoformat())
        for answer, question in answers
    ]
    assert len(given) == 1

    with h.database.session() as session:
        # The seed's own event (the demo's consent text) comes first.
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "data_exported")
        ).all()
    assert (event.action, event.actor_role, event.actor_telegram_id) == (
        "data_exported",
        "patient",
        None,
    )
    assert (event.object_id, event.after) == (
        person.id,
        {"format": "mydata", "memberships": 1, "check_ins": 4, "answers": 1},
    )


async def test_mydata_for_someone_unknown_says_nothing_is_stored(harness: Harness) -> None:
    h = harness
    await h.command(STRANGER, "/mydata")
    assert h.last_text(STRANGER.chat_id) == (
        "Nothing is stored about you: you have not joined a group."
    )
    assert not h.api.calls_of("sendDocument")
    with h.database.session() as session:
        assert session.exec(select(Person)).all() == []
        assert session.exec(select(AuditEvent)).all() == []


async def test_mydata_of_someone_waiting_to_agree_names_the_join_kept_for_them(
    harness: Harness,
) -> None:
    """Asked to agree before joining Knee Therapy 1, nobody has a person row yet, but their
    Telegram id is kept with the invite for a week: "Nothing is stored" was not true."""
    h = harness
    h.seed_demo()
    await h.command(STRANGER, "/start", "KNEE1")

    await h.command(STRANGER, "/mydata")

    sent = json.loads(h.api.calls_of("sendDocument")[-1].files["document"]["content"])
    assert sent["profile"] == {"telegram_user_id": STRANGER.id}
    assert [(j["group"], j["consent_version"]) for j in sent["pending_joins"]] == [
        ("Knee Therapy 1", 1)
    ]
    assert sent["memberships"] == [] and sent["check_ins"] == []
