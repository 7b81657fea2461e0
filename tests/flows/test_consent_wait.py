"""Check-ins that fall due before a member agrees to their group's consent text in force wait
for the agreement (held, not lost), and the consent question says whether the text changed
or is asked for the first time.

As in test_consent.py: Wednesday 25 November 2026 in London (UTC), the group "Knees" asks for
consent and has a daily "Knee check" at 11:00, open for two hours.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from storage.models import Delivery, Person
from tests.fakes.harness import Harness
from tests.flows.test_checkin_support import at, local
from tests.flows.test_consent import (
    AGREE,
    ALICE,
    BOB,
    CONSENT_V1,
    CONSENT_V2,
    DECLINE,
    SEED,
    THEO,
    agree_and_join,
    change_text,
    prompts_to,
)


def seeded(harness: Harness, tmp_path: Path, seed: str) -> Harness:
    path = tmp_path / "knees.toml"
    path.write_text(seed, encoding="utf-8")
    harness.seed_demo(path)
    return harness


@pytest.fixture
def h(harness: Harness, tmp_path: Path) -> Harness:
    return seeded(harness, tmp_path, SEED)


CHANGED_V2 = (
    "📝 The consent text of Knees has changed (version 2). Please read it and agree to it again:"
)


def checkins(h: Harness, user_id: int) -> list[tuple[datetime, str, bool]]:
    """Each of the patient's check-ins, oldest first: when it fell due, its status, and
    whether its prompt reached the chat."""
    with h.database.session() as session:
        found = session.exec(
            select(Delivery)
            .join(Person, col(Person.id) == Delivery.person_id)
            .where(Person.telegram_user_id == user_id)
            .order_by(col(Delivery.due_at))
        ).all()
        return [(d.due_at, d.status, d.prompt_message_id is not None) for d in found]


def consent_asks(h: Harness, user_id: int) -> list[str]:
    return [t for t in h.texts(user_id) if t.startswith("📝")]


async def test_a_check_in_due_before_the_agreement_waits_and_comes_once_agreed(
    h: Harness,
) -> None:
    """The text changes; Alice's 11:00 check-in falls due and the new text is asked in its
    place. She agrees at 11:05, after a restart: the check-in comes with the next scan, once,
    and tomorrow's follows as usual."""
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)

    await at(h, local(11, 1))

    assert consent_asks(h, ALICE.id)[-1].startswith(CHANGED_V2)
    assert prompts_to(h, ALICE.id) == []
    assert checkins(h, ALICE.id) == [
        (local(11, 0), "sent", False),  # held: no message yet
        (local(11, 0, day=26), "pending", False),
    ]
    await h.restart()  # the hold is in the database, not in the process
    h.clock.set(local(11, 5))
    await h.press(ALICE, AGREE)
    assert h.last_text(ALICE.chat_id).startswith("✅ Thank you: your consent to version 2")

    await at(h, local(11, 5))

    assert len(prompts_to(h, ALICE.id)) == 1, "the check-in that waited was not sent"
    assert checkins(h, ALICE.id)[0] == (local(11, 0), "sent", True)
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "Yes")
    assert h.last_text(ALICE.chat_id).startswith("✅ Done: Knee check")
    await at(h, local(11, 6))
    await at(h, local(11, 1, day=26))
    assert len(prompts_to(h, ALICE.id)) == 2
    assert [status for _, status, _ in checkins(h, ALICE.id)] == ["completed", "sent", "pending"]


async def test_a_check_in_whose_window_closed_before_the_agreement_is_not_sent(
    h: Harness,
) -> None:
    """Alice agrees at 13:30, after her 11:00 check-in's two hours: it is not sent, and it
    reads in /report as any check-in left unanswered."""
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1))
    await at(h, local(12, 0))  # a reminder's wait later: still waiting, and asked only once
    await at(h, local(13, 1))
    assert len(consent_asks(h, ALICE.id)) == 2  # joining, then in the check-in's place

    h.clock.set(local(13, 30))
    await h.press(ALICE, AGREE)
    await at(h, local(13, 31))

    assert prompts_to(h, ALICE.id) == []
    assert checkins(h, ALICE.id)[0] == (local(11, 0), "expired", False)
    await h.command(THEO, "/report", "Knees")
    assert (
        "Alice Test: 1 check-in: 1 not answered · consent: version 2 (current)"
        in h.last_text(THEO.chat_id).splitlines()
    )
    await at(h, local(11, 1, day=26))
    assert len(prompts_to(h, ALICE.id)) == 1


async def test_a_series_keeps_only_its_newest_check_in_waiting(
    harness: Harness, tmp_path: Path
) -> None:
    """A daily check-in open for two days: Alice does not agree for two days. Agreeing brings
    today's check-in, not yesterday's as well; each day's was asked for in its place."""
    h = seeded(harness, tmp_path, SEED.replace("expiry_hours = 2", "expiry_hours = 48"))
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1))
    await at(h, local(11, 1, day=26))

    assert len(consent_asks(h, ALICE.id)) == 3  # joining, then one a day
    assert checkins(h, ALICE.id) == [
        (local(11, 0), "cancelled", False),
        (local(11, 0, day=26), "sent", False),
        (local(11, 0, day=27), "pending", False),
    ]
    h.clock.set(local(11, 30, day=26))
    await h.press(ALICE, AGREE)
    await at(h, local(11, 30, day=26))

    assert len(prompts_to(h, ALICE.id)) == 1
    assert checkins(h, ALICE.id)[1] == (local(11, 0, day=26), "sent", True)


async def test_no_thanks_ends_the_check_in_that_waited(h: Harness) -> None:
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1))

    await h.press(ALICE, DECLINE)
    await at(h, local(11, 2))

    assert h.last_text(ALICE.chat_id).startswith(
        "You have left Knees: no more check-ins from it. 1 open check-in of it ended."
    )
    assert checkins(h, ALICE.id) == [(local(11, 0), "cancelled", False)]
    assert prompts_to(h, ALICE.id) == []


async def test_a_check_in_that_waited_comes_when_the_group_stops_asking(h: Harness) -> None:
    await agree_and_join(h)
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1))

    await h.command(THEO, "/setconsent", "Knees off")
    await at(h, local(11, 2))

    assert len(prompts_to(h, ALICE.id)) == 1


# --- a first request is not a change ----------------------------------------------------------

NOW_ASKS_V = "📝 Knees now asks for your consent (version {v}). Please read this and agree to it:"


async def test_consent_asked_of_members_who_never_gave_it_is_a_first_request(
    harness: Harness, tmp_path: Path
) -> None:
    """Knees asks for no consent when Alice joins. Its first text is asked of her as a first
    request (the scan's question, and a check-in's Start button alike), not as a change. Once
    she agreed, a text switched off and on again is a change for her; for Bob, who joined
    while it was off, it is a first request."""
    h = seeded(harness, tmp_path, SEED.replace(f'consent = """\n{CONSENT_V1}\n"""\n', ""))
    await h.command(ALICE, "/start", "KNEESCODE1")
    assert h.last_text(ALICE.chat_id).startswith("✅ Welcome! You have joined Knees.")
    await change_text(h, CONSENT_V1)

    await at(h, local(11, 1))

    asked = consent_asks(h, ALICE.id)[-1]
    assert asked.startswith(NOW_ASKS_V.format(v=1)), asked
    assert "changed" not in asked and "again" not in asked
    await h.command(ALICE, "/tasks")
    await h.press(ALICE, "▶️ Start: Knee check")
    assert consent_asks(h, ALICE.id)[-1].startswith(NOW_ASKS_V.format(v=1))
    assert h.callback_answers()[-1].params.get("text") == (
        "Your group now asks for your consent: please read its text and answer it first."
    )
    await h.press(ALICE, AGREE)

    await h.command(THEO, "/setconsent", "Knees off")
    await h.command(BOB, "/start", "KNEESCODE1")
    await change_text(h, CONSENT_V2)
    await at(h, local(11, 1, day=26))

    assert consent_asks(h, ALICE.id)[-1].startswith(
        "📝 The consent text of Knees has changed (version 3). Please read it and agree to it "
        "again:"
    )
    assert consent_asks(h, BOB.id)[-1].startswith(NOW_ASKS_V.format(v=3))
