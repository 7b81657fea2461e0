"""Consent: a group's text to agree to before joining, and again whenever it changes.

The clock starts on Wednesday 25 November 2026 at 09:00 in London (UTC). The group "Knees"
asks for consent and has a daily "Knee check" at 11:00.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.texts import help_therapist_free_text
from storage.models import (
    AuditEvent,
    Consent,
    ConsentRequest,
    ConsentVersion,
    Delivery,
    Membership,
    Person,
    Task,
)
from tests.fakes.harness import DEMO_SEED, Harness, patient, therapist
from tests.fakes.updates import User
from tests.flows.test_checkin_support import Transcript, at, local
from tests.flows.test_therapist_support import invite_code

ALICE = patient(0, "Alice")
BOB = patient(1, "Bob")
THEO = therapist()
AGREE, DECLINE = "I agree", "No, thanks"
CONSENT_V1 = "Your answers are stored for your therapist & read only by them."
CONSENT_V2 = "Your answers and photos are stored for your therapists in this group."
PROMPT_TITLE = "Knee check"

SEED = f'''
[[groups]]
name = "Knees"
timezone = "Europe/London"
invite = "KNEESCODE1"
consent = """
{CONSENT_V1}
"""

[[tasks]]
group = "Knees"
title = "{PROMPT_TITLE}"
due = "today 11:00"
repeat = "daily"
expiry_hours = 2

  [[tasks.questions]]
  text = "Did you do your knee bends?"
  type = "yes_no"
'''


@pytest.fixture
def h(harness: Harness, tmp_path: Path) -> Harness:
    path = tmp_path / "knees.toml"
    path.write_text(SEED, encoding="utf-8")
    harness.seed_demo(path)
    return harness


def rows(h: Harness, model: Any) -> list[Any]:
    """Oldest first: without an order PostgreSQL returns rows as they lie in the table."""
    with h.database.session() as session:
        return list(session.exec(select(model).order_by(model.id)).all())


def person_id(h: Harness, user_id: int) -> int | None:
    with h.database.session() as session:
        return session.exec(select(Person.id).where(Person.telegram_user_id == user_id)).first()


def membership_role(h: Harness, user_id: int) -> str | None:
    with h.database.session() as session:
        return session.exec(
            select(Membership.role)
            .join(Person, col(Person.id) == Membership.person_id)
            .where(Person.telegram_user_id == user_id)
        ).first()


def actions(h: Harness) -> list[str]:
    """The audit trail after the seed's own events (the group, its first consent text, its
    invite and its task, by the operator)."""
    with h.database.session() as session:
        found = session.exec(
            select(AuditEvent.action, AuditEvent.actor_role).order_by(col(AuditEvent.id))
        ).all()
    seeded = [action for action, role in found if role == "operator"]
    assert seeded == ["group_created", "consent_changed", "invite_created", "task_created"]
    return [action for action, role in found[len(seeded) :]]


def prompts_to(h: Harness, user_id: int) -> list[str]:
    return [t for t in h.texts(user_id) if "Time for your check-in" in t and PROMPT_TITLE in t]


async def agree_and_join(h: Harness, user: Any = ALICE) -> None:
    await h.command(user, "/start", "KNEESCODE1")
    await h.press(user, AGREE)


async def change_text(h: Harness, text: str) -> None:
    await h.command(THEO, "/setconsent", "Knees")
    await h.text(THEO, text)
    await h.press(THEO, "Save")


# --- joining ----------------------------------------------------------------------------------


async def test_joining_shows_the_text_and_nothing_is_joined_or_prompted_until_agreed(
    h: Harness,
) -> None:
    await h.command(ALICE, "/start", "KNEESCODE1")

    shown = h.last_message(ALICE.chat_id)
    assert "Before you join Knees, please read this and agree to it:" in (shown.plain or "")
    assert CONSENT_V1 in (shown.plain or "")
    assert shown.button_texts == [AGREE, DECLINE]
    # The invite code never travels in a button.
    assert all("KNEESCODE1" not in b["callback_data"] for b in shown.buttons)
    # Only the Telegram id and the invite it came with are stored.
    assert person_id(h, ALICE.id) is None
    assert rows(h, Membership) == []
    [request] = rows(h, ConsentRequest)
    assert request.telegram_user_id == ALICE.id and request.version == 1

    await at(h, local(11, 1))
    assert prompts_to(h, ALICE.id) == []
    assert rows(h, Delivery) == []


async def test_agreeing_joins_with_the_agreement_stored_and_prompts_follow(h: Harness) -> None:
    await h.command(ALICE, "/start", "KNEESCODE1")
    await h.press(ALICE, AGREE)

    texts = h.texts(ALICE.chat_id)
    assert texts[-2].endswith(
        f"{CONSENT_V1}\n\nPress “I agree” to join, or “No, thanks” to leave it; you are not "
        "in the group until you agree.\n\n→ I agree"
    )
    assert texts[-1].startswith(
        "Thank you: your consent (version 1) is recorded.\n\n✅ Welcome! You have joined Knees."
    )
    assert h.last_message(ALICE.chat_id).buttons == []
    assert membership_role(h, ALICE.id) == "patient"
    [consent] = rows(h, Consent)
    assert (consent.person_id, consent.version, consent.agreed_at) == (
        person_id(h, ALICE.id),
        1,
        h.clock.now(),
    )
    assert rows(h, ConsentRequest) == []
    assert actions(h) == ["consent_given"]
    given = rows(h, AuditEvent)[-1]
    # The patient's own act names the person row, never the Telegram id (as an erasure does).
    assert (
        given.actor_telegram_id,
        given.actor_role,
        given.object_kind,
        given.object_id,
        given.group_id,
        given.after,
    ) == (
        None,
        "patient",
        "person",
        consent.person_id,
        consent.group_id,
        {"version": 1, "read_in": "as written"},
    )

    await at(h, local(11, 1))
    assert len(prompts_to(h, ALICE.id)) == 1


async def test_no_thanks_joins_nothing_and_stores_nothing(h: Harness) -> None:
    await h.command(ALICE, "/start", "KNEESCODE1")
    await h.press(ALICE, DECLINE)

    assert h.last_text(ALICE.chat_id) == (
        "You have not joined Knees, and nothing about you was stored. "
        "If you change your mind, open the invite link again."
    )
    assert person_id(h, ALICE.id) is None
    for model in (Membership, Consent, ConsentRequest):
        assert rows(h, model) == []
    assert actions(h) == []
    await at(h, local(11, 1))
    assert prompts_to(h, ALICE.id) == []


async def test_no_thanks_from_a_patient_of_another_group_does_not_say_nothing_was_stored(
    h: Harness,
) -> None:
    """Alice, a patient of Hips with answers stored, declines Knees: "nothing about you was
    stored" was not true of her."""
    await h.command(THEO, "/newgroup", "Hips")
    await h.command(THEO, "/invite", "Hips")
    await h.command(ALICE, "/start", invite_code(h.last_text(THEO.chat_id)))
    await h.command(ALICE, "/start", "KNEESCODE1")

    await h.press(ALICE, DECLINE)

    assert h.last_text(ALICE.chat_id) == (
        "You have not joined Knees. If you change your mind, open the invite link again."
    )
    assert membership_role(h, ALICE.id) == "patient"  # of Hips


async def test_i_agree_pressed_twice_says_it_was_answered(h: Harness) -> None:
    """The second press of a double tap told the patient who had just joined to open the
    invite link again, as if the join had failed."""
    await h.command(ALICE, "/start", "KNEESCODE1")
    data = h.last_message(ALICE.chat_id).button(AGREE)["callback_data"]
    await h.press(ALICE, AGREE)

    await h.press_data(ALICE, data)

    assert h.callback_answers()[-1].params["text"] == (
        "You answered this already. /tasks shows your check-ins."
    )
    assert [c.version for c in rows(h, Consent)] == [1]


async def test_a_press_on_someone_elses_consent_message_joins_nobody(h: Harness) -> None:
    await h.command(ALICE, "/start", "KNEESCODE1")
    data = h.last_message(ALICE.chat_id).button(AGREE)["callback_data"]
    await h.command(BOB, "/start")

    await h.press_data(BOB, data)

    assert person_id(h, BOB.id) is None and person_id(h, ALICE.id) is None
    assert h.callback_answers()[-1].params["text"] == (
        "This button no longer works. To join a group, open its invite link again."
    )


async def test_a_members_old_join_button_after_the_text_changed_shows_the_new_text(
    h: Harness,
) -> None:
    """Alice joined under version 1; the text changed. Her join's old "I agree" (a second
    device still showing it) agrees to nothing and, instead of sending a member to the invite
    link, shows the text in force, to agree to there."""
    await h.command(ALICE, "/start", "KNEESCODE1")
    data = h.last_message(ALICE.chat_id).button(AGREE)["callback_data"]
    await h.press(ALICE, AGREE)
    await change_text(h, CONSENT_V2)

    await h.press_data(ALICE, data)

    assert [c.version for c in rows(h, Consent)] == [1]
    assert membership_role(h, ALICE.id) == "patient"
    asked = h.last_message(ALICE.chat_id)
    assert CONSENT_V2 in (asked.plain or "")
    assert asked.button_texts == [AGREE, DECLINE]
    await h.press(ALICE, AGREE)
    assert [c.version for c in rows(h, Consent)] == [1, 2]
    assert membership_role(h, ALICE.id) == "patient"


async def test_a_join_left_unanswered_for_a_week_is_forgotten(h: Harness) -> None:
    await h.command(ALICE, "/start", "KNEESCODE1")

    await h.advance_and_scan(timedelta(days=7, minutes=1))
    assert rows(h, ConsentRequest) == []
    await h.press(ALICE, AGREE)

    assert membership_role(h, ALICE.id) is None
    assert h.callback_answers()[-1].params["text"] == (
        "This button no longer works. To join a group, open its invite link again."
    )


async def test_an_old_i_agree_after_the_text_changed_does_not_agree_to_the_new_text(
    h: Harness,
) -> None:
    await h.command(ALICE, "/start", "KNEESCODE1")
    old = h.last_message(ALICE.chat_id)
    await change_text(h, CONSENT_V2)

    await h.press(ALICE, AGREE, old.message_id)

    assert membership_role(h, ALICE.id) is None
    assert rows(h, Consent) == []
    texts = h.texts(ALICE.chat_id)
    assert texts[-2].endswith(
        "⚠️ This text changed after that message was sent; nothing was agreed. Here it is now."
    )
    assert CONSENT_V2 in texts[-1]
    assert h.last_message(ALICE.chat_id).button_texts == [AGREE, DECLINE]

    await h.press(ALICE, AGREE)
    assert membership_role(h, ALICE.id) == "patient"
    assert [c.version for c in rows(h, Consent)] == [2]


async def test_i_agree_pressed_after_a_removal_does_not_bring_the_patient_back(
    h: Harness,
) -> None:
    """Asked again by the invite after the text changed, Alice is removed before she answers;
    her "I agree" then undid the removal. As a member she is asked the member's question,
    whose buttons name no invite: after the removal they agree to nothing."""
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)
    await h.command(ALICE, "/start", "KNEESCODE1")
    h.advance(timedelta(minutes=1))
    await h.command(THEO, "/removepatient", "Knees", "Alice", "Test")

    await h.press(ALICE, AGREE)

    assert h.callback_answers()[-1].params.get("text") == (
        "This button no longer works. To join a group, open its invite link again."
    )
    assert membership_role(h, ALICE.id) == "removed"
    assert sorted(c.version for c in rows(h, Consent)) == [1]
    assert rows(h, ConsentRequest) == []
    await at(h, local(11, 1))
    assert prompts_to(h, ALICE.id) == []


async def test_an_erasure_leaves_no_pending_join_with_the_telegram_id(h: Harness) -> None:
    await agree_and_join(h)
    await h.command(ALICE, "/stop")
    await h.press(ALICE, "Yes, stop")
    await change_text(h, CONSENT_V2)
    await h.command(ALICE, "/start", "KNEESCODE1")  # stopped, joining again by the invite
    assert [r.telegram_user_id for r in rows(h, ConsentRequest)] == [ALICE.id]

    await h.command(ALICE, "/deletemydata")
    await h.press(ALICE, "Yes, delete everything")

    assert rows(h, ConsentRequest) == []
    # The agreement stays, naming only the person row, which keeps no Telegram id.
    [consent] = rows(h, Consent)
    with h.database.session() as session:
        erased = session.get(Person, consent.person_id)
    assert erased is not None and erased.telegram_user_id is None


# --- the text changes -------------------------------------------------------------------------


async def test_a_changed_text_is_asked_at_the_next_check_in_and_prompts_wait_for_it(
    h: Harness,
) -> None:
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)

    await at(h, local(11, 1))

    asked = h.last_message(ALICE.chat_id)
    assert (asked.plain or "").startswith(
        "📝 The consent text of Knees has changed (version 2). Please read it and agree to it "
        "again:"
    )
    assert CONSENT_V2 in (asked.plain or "")
    assert prompts_to(h, ALICE.id) == []

    await h.press(ALICE, AGREE)
    assert h.last_text(ALICE.chat_id) == (
        "✅ Thank you: your consent to version 2 is recorded. Check-ins of Knees come as "
        "planned; any that waited for your consent come in a moment."
    )
    assert sorted(c.version for c in rows(h, Consent)) == [1, 2]
    await at(h, local(11, 1, day=26))
    assert len(prompts_to(h, ALICE.id)) == 1
    assert actions(h) == ["consent_given", "consent_changed", "consent_given"]


async def test_a_check_in_sent_before_the_change_gets_no_reminder_until_agreed(
    h: Harness,
) -> None:
    await agree_and_join(h)
    await at(h, local(11, 1))
    assert len(prompts_to(h, ALICE.id)) == 1
    await change_text(h, CONSENT_V2)
    seen = len(h.texts(ALICE.chat_id))

    await at(h, local(12, 30))  # past the first reminder's time, before the window closes

    assert len(h.texts(ALICE.chat_id)) == seen


async def test_declining_a_changed_text_leaves_the_group_like_stop(h: Harness) -> None:
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1))

    await h.press(ALICE, DECLINE)

    assert h.last_text(ALICE.chat_id).startswith("You have left Knees: no more check-ins from it.")
    assert membership_role(h, ALICE.id) == "declined"
    # Her answers until then stay within the therapists' reach, as a removed patient's do.
    await h.command(THEO, "/patient", "Alice Test")
    assert h.last_text(THEO.chat_id).startswith(f"👤 Alice Test · Telegram id {ALICE.id}")
    with h.database.session() as session:
        pending = session.exec(select(Delivery).where(Delivery.status == "pending")).all()
    assert pending == []
    await at(h, local(11, 1, day=26))
    await at(h, local(11, 1, day=27))
    assert prompts_to(h, ALICE.id) == []
    # Then the therapist's look at her page (record_viewed), nothing since.
    assert actions(h)[-2:] == ["consent_withdrawn", "record_viewed"]
    withdrawn = rows(h, AuditEvent)[-2]
    assert (
        withdrawn.actor_telegram_id,
        withdrawn.actor_role,
        withdrawn.object_kind,
        withdrawn.object_id,
        withdrawn.before,
        withdrawn.after,
    ) == (None, "patient", "person", person_id(h, ALICE.id), None, {"version": 2})

    # The invite brings them back, with the text in force agreed to.
    await agree_and_join(h)
    assert membership_role(h, ALICE.id) == "patient"


async def test_setconsent_shows_the_text_back_before_saving(h: Harness) -> None:
    await h.command(THEO, "/setconsent", "Knees")
    assert h.last_text(THEO.chat_id).startswith(
        "Send the consent text for Knees as one message (it becomes version 2)."
    )
    await h.text(THEO, f"  {CONSENT_V2}  ")

    review = h.last_message(THEO.chat_id)
    assert (review.plain or "").startswith(f"Consent text for Knees, version 2:\n\n{CONSENT_V2}")
    assert "Members will be asked to agree again at their next check-in" in (review.plain or "")
    assert review.button_texts == ["Save", "Cancel"]
    assert [v.version for v in rows(h, ConsentVersion)] == [1]

    await h.press(THEO, "Save")
    assert h.last_text(THEO.chat_id) == "✅ Saved: Knees asks for consent, version 2."
    versions = sorted((v.version, v.text) for v in rows(h, ConsentVersion))
    assert versions == [(1, CONSENT_V1), (2, CONSENT_V2)]
    [_seeded, changed] = [e for e in rows(h, AuditEvent) if e.action == "consent_changed"]
    assert (changed.actor_telegram_id, changed.before, changed.after) == (
        THEO.id,
        {"version": 1, "required": True},
        {"version": 2, "required": True},
    )


async def test_setconsent_cancel_and_the_same_text_change_nothing(h: Harness) -> None:
    await h.command(THEO, "/setconsent", "Knees")
    await h.text(THEO, CONSENT_V2)
    await h.press(THEO, "Cancel")
    assert h.last_text(THEO.chat_id) == "Cancelled: the consent text was not changed."

    await h.command(THEO, "/setconsent", "Knees")
    await h.text(THEO, CONSENT_V1)
    assert h.last_text(THEO.chat_id) == (
        "That is already the consent text of Knees (version 1); nothing changed."
    )
    assert [v.version for v in rows(h, ConsentVersion)] == [1]
    assert "consent_changed" not in actions(h)


async def test_setconsent_off_lifts_the_requirement_as_its_own_version(h: Harness) -> None:
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)

    await h.command(THEO, "/setconsent", "Knees off")

    assert h.last_text(THEO.chat_id).startswith(
        "✅ Knees asks for no consent any more (version 3)"
    )
    await at(h, local(11, 1))
    assert len(prompts_to(h, ALICE.id)) == 1
    await h.command(BOB, "/start", "KNEESCODE1")
    assert h.last_text(BOB.chat_id).startswith("✅ Welcome! You have joined Knees.")


async def test_a_text_saved_by_a_colleague_meanwhile_is_not_replaced_by_an_older_review(
    h: Harness,
) -> None:
    """Tess reviewed her text against version 1; Theo saved his as version 2 meanwhile. Her
    Save used to make version 3 over his words without a word, and ask every member twice."""
    tess = therapist(555)
    await h.command(THEO, "/addtherapist", str(tess.id))
    await h.command(THEO, "/addtoteam", "Knees", str(tess.id))
    await agree_and_join(h)
    await h.command(tess, "/setconsent", "Knees")
    await h.text(tess, CONSENT_V2)
    await change_text(h, "Theo's words: your answers are read by the Knees team.")

    await h.press(tess, "Save")

    assert h.last_text(tess.chat_id) == (
        "Someone saved version 2 of the consent text of Knees while you were writing yours, so "
        "yours was not saved and does not replace theirs. /audit Knees shows who; to write "
        "yours over it, send /setconsent Knees again."
    )
    assert newest_version(h)[:2] == (2, "Theo's words: your answers are read by the Knees team.")
    await h.command(tess, "/setconsent", "Knees")
    await h.text(tess, CONSENT_V2)
    await h.press(tess, "Save")
    assert h.last_text(tess.chat_id) == "✅ Saved: Knees asks for consent, version 3."
    assert newest_version(h)[:2] == (3, CONSENT_V2)

    # Saved before her text came: said at once, not after a review whose Save must fail.
    await h.command(tess, "/setconsent", "Knees")
    await change_text(h, CONSENT_V1)
    await h.text(tess, "Tess's second thoughts.")
    assert h.last_text(tess.chat_id).startswith("Someone saved version 4 of the consent text")
    await h.text(tess, "Tess's second thoughts.")
    assert h.last_text(tess.chat_id) == help_therapist_free_text()
    assert newest_version(h)[:2] == (4, CONSENT_V1)


async def test_a_patient_cannot_set_the_consent_text(h: Harness) -> None:
    await agree_and_join(h)

    await h.command(ALICE, "/setconsent", "Knees")
    await h.text(ALICE, "I consent to nothing")

    assert h.texts(ALICE.chat_id)[-2] == "This command is for therapists."
    # The text that followed is no consent text either: no dialogue was started for her.
    assert [v.version for v in rows(h, ConsentVersion)] == [1]
    assert actions(h) == ["consent_given"]


async def test_setconsent_without_a_group_explains_itself(h: Harness) -> None:
    await h.command(THEO, "/setconsent")
    usage = h.last_text(THEO.chat_id)
    assert usage.startswith("Usage: /setconsent GROUP")
    assert (
        "/setconsent GROUP LANGUAGE (en, de, es), then send the same text in that language: "
        "patients who read it agree to it in their own language. A new text from /setconsent "
        "GROUP drops the translations of the old one."
    ) in usage
    await h.command(THEO, "/help")
    assert (
        "/setconsent GROUP LANGUAGE – the same text in another language (en, de, es), for the "
        "patients who read it"
    ) in h.last_text(THEO.chat_id)
    await h.command(THEO, "/setconsent", "Elbows")
    assert h.last_text(THEO.chat_id) == "There is no group “Elbows”. Groups: Knees."


# --- what therapists and patients read back -----------------------------------------------------


async def test_report_shows_who_agreed_to_which_version(h: Harness) -> None:
    await agree_and_join(h, ALICE)
    await agree_and_join(h, BOB)
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1))
    await h.press(BOB, AGREE)

    await h.command(THEO, "/report", "Knees")

    report = h.last_text(THEO.chat_id).splitlines()
    # Alice's 11:00 check-in waits for her consent, Bob's, let go by his agreement, for the
    # next scan: both open, as ones not started.
    assert report[1:3] == [
        "Alice Test: 1 check-in: 1 not started yet · consent: version 1, not yet version 2",
        "Bob Test: 1 check-in: 1 not started yet · consent: version 2 (current)",
    ]


async def test_mydata_lists_the_consents_with_their_words(h: Harness) -> None:
    await agree_and_join(h)

    await h.command(ALICE, "/mydata")

    sent = json.loads(h.api.calls_of("sendDocument")[-1].files["document"]["content"])
    assert sent["consents"] == [
        {
            "group": "Knees",
            "version": 1,
            "text": CONSENT_V1,
            "text_in": {},
            "read_in": "as written",
            "agreed_at": h.clock.now().isoformat(),
        }
    ]


async def test_the_demo_seed_gives_knee_therapy_a_consent_text(harness: Harness) -> None:
    h = harness
    first = h.seed_demo(DEMO_SEED)
    again = h.seed_demo(DEMO_SEED)

    assert first.created["consent texts"] == 1
    assert again.unchanged["consent texts"] == 1
    [version] = rows(h, ConsentVersion)
    assert version.version == 1 and "/deletemydata" in (version.text or "")
    await h.command(ALICE, "/start", "KNEE1")
    assert h.last_message(ALICE.chat_id).button_texts == [AGREE, DECLINE]
    await h.command(BOB, "/start", "SHOULDER1")
    assert h.last_text(BOB.chat_id).startswith("✅ Welcome! You have joined Shoulder Therapy 1.")


# --- in the patient's language ----------------------------------------------------------------

ANNA = User(id=301, first_name="Anna", last_name="Berger", language_code="de")
BEA = User(id=302, first_name="Bea", last_name="Ruiz", language_code="es")


async def test_each_patient_reads_and_agrees_to_the_demo_consent_in_their_language(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo(DEMO_SEED)

    await h.command(ANNA, "/start", "KNEE1")
    await h.command(BEA, "/start", "KNEE1")
    await h.command(ALICE, "/start", "KNEE1")

    anna, bea, alice = (h.last_message(u.chat_id) for u in (ANNA, BEA, ALICE))
    assert "Ihre Check-in-Antworten (Schmerzwerte, Fotos und Videos" in (anna.plain or "")
    assert "Sus respuestas a los controles (puntuaciones de dolor" in (bea.plain or "")
    assert "Your check-in answers (pain scores, photos and videos" in (alice.plain or "")
    assert anna.button_texts == ["Ich stimme zu", "Nein, danke"]
    await h.press(ANNA, "Ich stimme zu")
    [agreed] = rows(h, Consent)
    assert agreed.version == 1
    await h.command(ANNA, "/mydata")
    [consent] = json.loads(h.api.calls_of("sendDocument")[-1].files["document"]["content"])[
        "consents"
    ]
    assert consent["text_in"]["de"].startswith("Ihre Check-in-Antworten (Schmerzwerte")
    assert consent["read_in"] == "de"


async def test_an_agreement_records_the_words_read_whatever_the_language_is_by_the_press(
    harness: Harness,
) -> None:
    """Informed consent is to the words on the screen: the German text, for a patient who
    read it and switched the bot to English before pressing; the text as written, for one
    whose language has no translation."""
    h = harness
    h.seed_demo(DEMO_SEED)
    nuno = User(id=303, first_name="Nuno", last_name="Silva", language_code="pt")
    await h.command(ANNA, "/start", "KNEE1")
    await h.command(nuno, "/start", "KNEE1")
    await h.command(ANNA, "/language")
    await h.press(ANNA, "English")

    await h.press(ANNA, "Ich stimme zu")
    await h.press(nuno, AGREE)

    read = {c.person_id: c.read_in for c in rows(h, Consent)}
    assert read == {person_id(h, ANNA.id): "de", person_id(h, nuno.id): ""}
    given = [e for e in rows(h, AuditEvent) if e.action == "consent_given"]
    assert sorted((e.after or {}).get("read_in") for e in given) == ["as written", "de"]


async def test_a_joiner_chooses_a_language_before_agreeing_and_keeps_it_once_joined(
    harness: Harness,
) -> None:
    """Someone whose Telegram speaks French reads the consent text in English; /language
    while the join waits gives them the text again in German, and agreeing keeps German."""
    h = harness
    h.seed_demo(DEMO_SEED)
    marie = User(id=304, first_name="Marie", last_name="Dubois", language_code="fr")
    await h.command(marie, "/start", "KNEE1")
    assert "Your check-in answers (pain scores" in h.last_text(marie.chat_id)
    await h.command(marie, "/language")
    await h.press(marie, "Deutsch")

    again = h.last_message(marie.chat_id)
    assert "Ihre Check-in-Antworten (Schmerzwerte" in (again.plain or "")
    assert again.button_texts == ["Ich stimme zu", "Nein, danke"]
    assert rows(h, Person) == [], "nothing of theirs is stored before they agree"
    await h.press(marie, "Ich stimme zu")

    assert h.last_text(marie.chat_id).startswith(
        "Vielen Dank: Ihre Einwilligung (Version 1) ist gespeichert.\n\n✅ Willkommen! Sie sind "
        "Knee Therapy 1 beigetreten."
    )
    [person] = rows(h, Person)
    assert person.language == "de"
    assert [c.read_in for c in rows(h, Consent)] == ["de"]


async def test_a_changed_translation_is_the_next_version_asked_in_the_members_language(
    harness: Harness, tmp_path: Path
) -> None:
    """A patient agrees to the words they read: a seed that changes only the German text asks
    the German member again, in German, at the next check-in."""
    h = harness
    path = tmp_path / "knees.toml"

    def seed(german: str) -> Any:
        path.write_text(
            SEED.replace('"""\n\n[[tasks]]', f'"""\nconsent_de = "{german}"\n\n[[tasks]]')
        )
        return h.seed_demo(path)

    seed("Ihre Antworten werden für Ihre Therapeutin gespeichert.")
    await h.command(ANNA, "/start", "KNEESCODE1")
    assert "Ihre Antworten werden für Ihre Therapeutin gespeichert." in h.last_text(ANNA.chat_id)
    await h.press(ANNA, "Ich stimme zu")

    report = seed("Ihre Antworten und Fotos werden für Ihre Therapeutin gespeichert.")
    assert report.updated["consent texts"] == 1
    await at(h, local(11, 1))

    asked = h.last_message(ANNA.chat_id)
    assert "Ihre Antworten und Fotos werden für Ihre Therapeutin gespeichert." in (
        asked.plain or ""
    )
    assert asked.button_texts == ["Ich stimme zu", "Nein, danke"]
    assert prompts_to(h, ANNA.id) == []
    await h.press(ANNA, "Ich stimme zu")
    assert sorted((c.version, c.read_in) for c in rows(h, Consent)) == [(1, "de"), (2, "de")]


async def test_setconsent_says_when_the_new_text_leaves_readers_of_a_translation_behind(
    harness: Harness,
) -> None:
    """The translations translated the old words: a new text as written has none, and the
    review says so and how to give them again."""
    h = harness
    h.seed_demo(DEMO_SEED)

    await h.command(THEO, "/setconsent", "Knee Therapy 1")
    await h.text(THEO, "Your answers are stored for your therapists.")

    review = h.last_text(THEO.chat_id)
    assert (
        "The text in force has a version in Deutsch, Español; this one will not (those "
        "translate the old text). Patients reading them will be asked to agree to it as you "
        "wrote it, until you give its translations: /setconsent Knee Therapy 1 LANGUAGE after "
        "saving."
    ) in review
    await h.press(THEO, "Save")
    latest = rows(h, ConsentVersion)[-1]
    assert (latest.version, latest.text, latest.translations) == (
        2,
        "Your answers are stored for your therapists.",
        None,
    )


# --- translations given in chat ----------------------------------------------------------------

CONSENT_DE = "Ihre Antworten werden für Ihre Therapeutin gespeichert & nur von ihr gelesen."
CONSENT_DE_2 = "Ihre Antworten werden für Ihre Therapeutin gespeichert und nur von ihr gelesen."
CONSENT_ES = "Sus respuestas se guardan para su terapeuta y solo ella las lee."
GRETA = User(id=304, first_name="Greta", last_name="Huber", language_code="de")


def seed_knees(h: Harness, path: Path, text: str = CONSENT_V1, **translations: str) -> Any:
    """Seed the group again with this consent text and its ``consent_<lang>`` translations."""
    keys = "".join(f'consent_{code} = "{value}"\n' for code, value in translations.items())
    path.write_text(
        SEED.replace(CONSENT_V1, text).replace('"""\n\n[[tasks]]', f'"""\n{keys}\n[[tasks]]'),
        encoding="utf-8",
    )
    return h.seed_demo(path)


async def translate(h: Harness, language: str, text: str) -> None:
    await h.command(THEO, "/setconsent", "Knees", language)
    await h.text(THEO, text)
    await h.press(THEO, "Save")


def newest_version(h: Harness) -> tuple[int, str | None, Any]:
    latest = rows(h, ConsentVersion)[-1]
    return latest.version, latest.text, latest.translations


async def test_a_german_translation_set_in_chat_is_read_and_agreed_to_in_german(
    h: Harness,
) -> None:
    await h.command(THEO, "/setconsent", "Knees", "de")
    ask = h.last_text(THEO.chat_id)
    assert ask == (
        "Send the consent text of Knees in Deutsch as one message, translating the text below "
        "(version 1, as written). It will be version 2, with the text as written and the "
        "other translations kept. I will show it back before saving. /cancel stops.\n\n"
        f"{CONSENT_V1}"
    )
    await h.text(THEO, f"  {CONSENT_DE}  ")

    review = h.last_message(THEO.chat_id)
    assert review.plain == (
        "Consent text for Knees, version 2:\n\n"
        f"As written (unchanged):\n{CONSENT_V1}\n\n"
        f"Deutsch (new):\n{CONSENT_DE}\n\n"
        "Members will be asked to agree again at their next check-in, and get no check-in of "
        "this group until they do.\n\nSave it?"
    )
    assert review.button_texts == ["Save", "Cancel"]
    assert [v.version for v in rows(h, ConsentVersion)] == [1]

    await h.press(THEO, "Save")
    assert h.last_text(THEO.chat_id) == (
        "✅ Saved: Knees asks for consent, version 2, with its text in Deutsch."
    )
    assert newest_version(h) == (2, CONSENT_V1, {"de": {"text": CONSENT_DE}})
    [_seeded, changed] = [e for e in rows(h, AuditEvent) if e.action == "consent_changed"]
    assert (changed.actor_telegram_id, changed.group_id, changed.before, changed.after) == (
        THEO.id,
        rows(h, ConsentVersion)[-1].group_id,
        {"version": 1, "required": True},
        {"version": 2, "required": True, "translation": "de"},
    )

    # A German patient joining now reads the German text and agrees to it; an English one
    # reads it as written.
    await h.command(GRETA, "/start", "KNEESCODE1")
    await h.command(ALICE, "/start", "KNEESCODE1")
    assert CONSENT_DE in h.last_text(GRETA.chat_id)
    assert CONSENT_V1 in h.last_text(ALICE.chat_id)
    await h.press(GRETA, "Ich stimme zu")
    await h.press(ALICE, AGREE)
    read = {c.person_id: (c.version, c.read_in) for c in rows(h, Consent)}
    assert read == {person_id(h, GRETA.id): (2, "de"), person_id(h, ALICE.id): (2, "")}


async def test_a_translation_set_in_chat_asks_the_members_again_in_their_language(
    h: Harness,
) -> None:
    """As a seed's changed translation does: the next version, asked at the next check-in,
    and the German member reads it in German."""
    await h.command(ANNA, "/start", "KNEESCODE1")
    await h.press(ANNA, "Ich stimme zu")
    await agree_and_join(h, ALICE)

    await translate(h, "de", CONSENT_DE)
    await at(h, local(11, 1))

    asked = h.last_message(ANNA.chat_id)
    assert (asked.plain or "").startswith(
        "📝 Der Einwilligungstext von Knees hat sich geändert (Version 2)."
    )
    assert CONSENT_DE in (asked.plain or "")
    assert asked.button_texts == ["Ich stimme zu", "Nein, danke"]
    assert prompts_to(h, ANNA.id) == []
    # A version is the text with its translations: every member agrees to it again.
    assert CONSENT_V1 in h.last_text(ALICE.chat_id)
    assert prompts_to(h, ALICE.id) == []
    await h.press(ANNA, "Ich stimme zu")
    anna = person_id(h, ANNA.id)
    assert sorted((c.version, c.read_in) for c in rows(h, Consent) if c.person_id == anna) == [
        (1, ""),
        (2, "de"),
    ]


async def test_a_translation_set_in_chat_keeps_the_other_translations(
    h: Harness, tmp_path: Path
) -> None:
    seed_knees(h, tmp_path / "knees-es.toml", es=CONSENT_ES)
    assert newest_version(h) == (2, CONSENT_V1, {"es": {"text": CONSENT_ES}})

    await h.command(THEO, "/setconsent", "Knees", "de")
    await h.text(THEO, CONSENT_DE)
    assert h.last_text(THEO.chat_id).startswith(
        "Consent text for Knees, version 3:\n\n"
        f"As written (unchanged):\n{CONSENT_V1}\n\n"
        f"Deutsch (new):\n{CONSENT_DE}\n\n"
        f"Español (unchanged):\n{CONSENT_ES}\n\n"
    )
    await h.press(THEO, "Save")
    assert newest_version(h) == (
        3,
        CONSENT_V1,
        {"de": {"text": CONSENT_DE}, "es": {"text": CONSENT_ES}},
    )

    # Changing it again shows the German text in force, and marks it changed.
    await h.command(THEO, "/setconsent", "Knees", "DE")
    assert h.last_text(THEO.chat_id).endswith(
        f"{CONSENT_V1}\n\nIts Deutsch text now:\n{CONSENT_DE}"
    )
    await h.text(THEO, CONSENT_DE_2)
    assert f"Deutsch (changed):\n{CONSENT_DE_2}\n\nEspañol (unchanged):" in h.last_text(
        THEO.chat_id
    )
    await h.press(THEO, "Save")
    assert newest_version(h) == (
        4,
        CONSENT_V1,
        {"de": {"text": CONSENT_DE_2}, "es": {"text": CONSENT_ES}},
    )
    await h.command(BEA, "/start", "KNEESCODE1")
    assert CONSENT_ES in h.last_text(BEA.chat_id)


async def test_setconsent_refuses_a_translation_it_cannot_make(h: Harness) -> None:
    await h.command(THEO, "/setconsent", "Knees", "fr")
    assert h.last_text(THEO.chat_id) == (
        "“fr” is not a language the bot speaks. A consent text can be given in en (English), "
        "de (Deutsch), es (Español): /setconsent Knees LANGUAGE."
    )
    await h.command(THEO, "/setconsent", "Elbows", "de")
    assert h.last_text(THEO.chat_id) == "There is no group “Elbows”. Groups: Knees."

    await translate(h, "de", CONSENT_DE)
    await h.command(THEO, "/setconsent", "Knees", "de")
    await h.text(THEO, CONSENT_DE)
    assert h.last_text(THEO.chat_id) == (
        "That is already the Deutsch consent text of Knees (version 2); nothing changed."
    )

    await h.command(THEO, "/setconsent", "Knees", "off")
    await h.command(THEO, "/setconsent", "Knees", "de")
    assert h.last_text(THEO.chat_id) == (
        "Knees asks for no consent, so there is no text to give in Deutsch. Set the text "
        "first with /setconsent Knees, then its translation with /setconsent Knees de."
    )
    # No dialogue was begun: the next message is no translation.
    await h.text(THEO, CONSENT_DE)
    assert [v.version for v in rows(h, ConsentVersion)] == [1, 2, 3]
    assert actions(h) == ["consent_changed", "consent_changed"]


async def test_a_translation_cancelled_stores_nothing(h: Harness) -> None:
    await h.command(THEO, "/setconsent", "Knees", "de")
    await h.text(THEO, CONSENT_DE)
    await h.press(THEO, "Cancel")

    assert h.last_text(THEO.chat_id) == "Cancelled: the consent text was not changed."
    assert newest_version(h) == (1, CONSENT_V1, None)
    assert actions(h) == []


async def test_a_translation_of_a_text_changed_meanwhile_is_not_saved(
    h: Harness, tmp_path: Path
) -> None:
    """The German words translate version 1: once the text as written has changed, they
    would be agreed to as a translation of words they do not say."""
    await h.command(THEO, "/setconsent", "Knees", "de")
    await h.text(THEO, CONSENT_DE)
    seed_knees(h, tmp_path / "knees-v2.toml", CONSENT_V2)

    await h.press(THEO, "Save")

    assert h.last_text(THEO.chat_id) == (
        "The consent text of Knees has changed since you were shown version 1, so this "
        "translation may not fit it; nothing was saved. To translate the text in force: "
        "/setconsent Knees de."
    )
    assert newest_version(h) == (2, CONSENT_V2, None)

    # The same when the text changes before the translation is sent; the dialogue ends.
    await h.command(THEO, "/setconsent", "Knees", "de")
    seed_knees(h, tmp_path / "knees-v3.toml", CONSENT_V1)
    await h.text(THEO, CONSENT_DE)
    assert h.last_text(THEO.chat_id).startswith(
        "The consent text of Knees has changed since you were shown version 2"
    )
    await h.text(THEO, CONSENT_DE)
    assert h.last_text(THEO.chat_id) == help_therapist_free_text()
    assert newest_version(h) == (3, CONSENT_V1, None)


async def test_a_whole_version_too_long_for_one_message_is_shown_in_several(
    h: Harness, tmp_path: Path
) -> None:
    """Each text is up to 3500 characters: the review shows them all, Save under the last."""
    long_en, long_es, long_de = ("A" * 3400, "E" * 3400, "D" * 3400)
    seed_knees(h, tmp_path / "knees-long.toml", long_en, es=long_es)
    await h.command(THEO, "/setconsent", "Knees", "de")
    asked = len(h.texts(THEO.chat_id))

    await h.text(THEO, long_de)

    review = h.api.messages(THEO.chat_id)[asked:]
    assert len(review) == 3
    assert [m.button_texts for m in review] == [[], [], ["Save", "Cancel"]]
    shown = "\n\n".join(m.plain or "" for m in review)
    assert f"As written (unchanged):\n{long_en}" in shown
    assert f"Deutsch (new):\n{long_de}" in shown
    assert f"Español (unchanged):\n{long_es}" in shown
    await h.press(THEO, "Save")
    assert newest_version(h) == (
        3,
        long_en,
        {"de": {"text": long_de}, "es": {"text": long_es}},
    )

    # Asked again, the text as written and the German text in force: two messages.
    sent = len(h.texts(THEO.chat_id))
    await h.command(THEO, "/setconsent", "Knees", "de")
    asked = h.texts(THEO.chat_id)[sent:]
    assert len(asked) == 2
    assert asked[0].endswith(
        f"(version 3, as written). It will be version 4, with the text "
        "as written and the other translations kept. I will show it back "
        f"before saving. /cancel stops.\n\n{long_en}"
    )
    assert asked[1] == f"Its Deutsch text now:\n{long_de}"


async def test_transcript_of_a_consented_join(h: Harness, tmp_path: Path) -> None:
    t = Transcript(h, [ALICE])
    await t.command(ALICE, "/start", "KNEESCODE1")
    await t.press(ALICE, AGREE)
    await t.at(local(11, 1))

    text = t.text_of()
    t.save("consented-join.txt", tmp_path)
    assert "Alice: [presses I agree]" in text
    assert "Thank you: your consent (version 1) is recorded." in text


async def test_a_spanish_patient_agrees_in_spanish_and_the_scan_asks_again_in_spanish(
    h: Harness,
) -> None:
    """The changed text is sent by the due scan, outside any update of hers: still in Spanish."""
    bea = User(id=150, first_name="Bea", last_name="Ruiz", language_code="es")
    await h.command(bea, "/start", "KNEESCODE1")
    asked = h.last_message(bea.chat_id)
    assert (asked.plain or "").startswith("📝 Antes de unirse a Knees, lea esto y acéptelo:")
    await h.press(bea, "Acepto")
    await change_text(h, CONSENT_V2)

    await at(h, local(11, 1))
    asked = h.last_message(bea.chat_id)
    assert (asked.plain or "").startswith(
        "📝 El texto de consentimiento de Knees ha cambiado (versión 2). "
        "Léalo y acéptelo de nuevo:"
    )
    assert (asked.plain or "").endswith(
        "Los controles de este grupo esperan hasta que pulse «Acepto». «No, gracias» le saca "
        "del grupo."
    )
    await h.press(bea, "Acepto")
    assert h.last_text(bea.chat_id) == (
        "✅ Gracias: su consentimiento a la versión 2 ha quedado registrado. Los controles de "
        "Knees llegan según lo previsto; los que esperaban su consentimiento llegarán en un "
        "momento."
    )


def stretch_started(h: Harness) -> Any:
    with h.database.session() as session:
        return session.exec(
            select(Delivery.started_at)
            .join(Task, col(Task.id) == Delivery.task_id)
            .where(Task.title == "Stretch")
        ).one()


async def test_a_check_in_held_before_the_text_changed_is_neither_offered_nor_begun_until_agreed(
    h: Harness,
) -> None:
    """Alice is answering the knee check when "Stretch" falls due: it is held for her. The
    text changes before she finishes. Finishing offers no Stretch, and its Start button (from
    /tasks) shows the new text instead of a question; once she agrees, it begins."""
    await h.command(THEO, "/addtask", "Knees | Stretch | today 11:30 | once | Stretched? ; yes_no")
    await agree_and_join(h)
    await at(h, local(11, 1))
    await h.press(ALICE, "▶️ Start now")
    h.clock.set(local(11, 25))
    await h.text(ALICE, "hello")  # still at it: the Stretch prompt waits for her
    await at(h, local(11, 31))
    assert [t for t in h.texts(ALICE.chat_id) if "Stretch" in t] == []
    await change_text(h, CONSENT_V2)

    await h.press(ALICE, "Yes")

    assert h.last_text(ALICE.chat_id).startswith("✅ Done: Knee check")
    assert [t for t in h.texts(ALICE.chat_id) if "Stretch" in t] == [], "offered"
    await h.command(ALICE, "/tasks")
    await h.press(ALICE, "▶️ Start: Stretch")
    assert "Stretched?" not in h.last_text(ALICE.chat_id)
    asked = h.last_message(ALICE.chat_id)
    assert (asked.plain or "").startswith("📝 The consent text of Knees has changed (version 2).")
    assert h.callback_answers()[-1].params.get("text") == (
        "Your group's consent text has changed: please read it and answer it first."
    )
    assert stretch_started(h) is None

    await h.press(ALICE, AGREE)
    await h.command(ALICE, "/tasks")
    await h.press(ALICE, "▶️ Start: Stretch")
    assert "Stretched?" in h.last_text(ALICE.chat_id)
    assert stretch_started(h) is not None


async def test_a_member_back_by_the_link_after_the_text_changed_is_asked_as_a_member(
    h: Harness,
) -> None:
    """Alice, a member, opens the invite link again after the text changed: she is asked as
    the member she is (not "before you join"), and "No, thanks" takes her out of the group,
    with the withdrawal in the trail, as under the text the scan sends."""
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)

    await h.command(ALICE, "/start", "KNEESCODE1")

    asked = h.last_message(ALICE.chat_id)
    assert (asked.plain or "").startswith("📝 The consent text of Knees has changed (version 2).")
    assert "Before you join" not in (asked.plain or "")
    await h.press(ALICE, DECLINE)
    assert h.last_text(ALICE.chat_id).startswith("You have left Knees: no more check-ins from it.")
    assert membership_role(h, ALICE.id) == "declined"
    assert actions(h)[-1] == "consent_withdrawn"


async def test_a_member_who_stopped_and_declines_the_changed_text_by_the_link_leaves(
    h: Harness,
) -> None:
    """After /stop, the link asks Alice as one joining again; "No, thanks" then does not say
    "nothing about you was stored": she leaves the group, and the trail says so."""
    await agree_and_join(h)
    await h.command(ALICE, "/stop")
    await h.press(ALICE, "Yes, stop")
    await change_text(h, CONSENT_V2)

    await h.command(ALICE, "/start", "KNEESCODE1")
    assert "Before you join Knees" in h.last_text(ALICE.chat_id)
    await h.press(ALICE, DECLINE)

    assert h.last_text(ALICE.chat_id).startswith("You have left Knees: no more check-ins from it.")
    assert membership_role(h, ALICE.id) == "declined"
    assert actions(h)[-1] == "consent_withdrawn"
    assert rows(h, ConsentRequest) == []


async def test_someone_whose_join_waits_erases_it_with_deletemydata(h: Harness) -> None:
    """Alice opened the invite and left the consent question unanswered: her Telegram id and
    the invite wait in a pending join, which /mydata shows. /deletemydata erases it (it was
    refused as from a stranger), and she is told what went."""
    await h.command(ALICE, "/start", "KNEESCODE1")
    assert [r.telegram_user_id for r in rows(h, ConsentRequest)] == [ALICE.id]

    await h.command(ALICE, "/deletemydata")
    assert h.last_text(ALICE.chat_id) == (
        "⚠️ Erase your data? This deletes your request to join, waiting for your agreement, "
        "and your Telegram id. This cannot be undone."
    )
    await h.press(ALICE, "Yes, delete everything")

    assert rows(h, ConsentRequest) == []
    assert h.last_text(ALICE.chat_id).startswith(
        "🗑 Your request to join, waiting for your agreement, and your Telegram id have been "
        "deleted"
    )
    await h.press(ALICE, AGREE)  # the old question's button joins nobody now
    assert rows(h, Membership) == []


async def test_someone_whose_join_waits_is_shown_the_consent_text_again_not_how_to_join(
    h: Harness,
) -> None:
    """Alice opened the invite and typed instead of pressing a button: whatever she sends
    gets the consent text again with its buttons, never "open the invite link"."""

    def consent_shown_again() -> None:
        shown = h.last_message(ALICE.chat_id)
        assert "Before you join Knees, please read this and agree to it:" in (shown.plain or "")
        assert CONSENT_V1 in (shown.plain or "")
        assert shown.button_texts == [AGREE, DECLINE]
        assert "invite link" not in (shown.plain or "")

    await h.command(ALICE, "/start", "KNEESCODE1")
    await h.text(ALICE, "hallo")
    consent_shown_again()
    for command, *args in (
        ["/stop"],
        ["/tasks"],
        ["/pause"],
        ["/timezone"],
        ["/timezone", "Europe/Berlin"],
        ["/start"],
    ):
        await h.command(ALICE, command, *args)
        consent_shown_again()
    assert person_id(h, ALICE.id) is None

    await h.press(ALICE, AGREE)  # the newest copy's button joins her
    assert membership_role(h, ALICE.id) == "patient"
    assert rows(h, ConsentRequest) == []

    # Once the invite stops working, "I agree" would join nobody: how to join, as before.
    await h.command(BOB, "/start", "KNEESCODE1")
    await h.command(THEO, "/revoke", "KNEESCODE1")
    await h.text(BOB, "hallo")
    assert "open the invite link" in h.last_text(BOB.chat_id)
