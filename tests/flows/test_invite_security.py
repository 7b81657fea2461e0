"""Invite codes that cannot be guessed: wrong codes are throttled, a burst alerts, removals hold.

Everything goes through the real Application on the fake Bot API, on both databases; time
moves only through the test's ManualClock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import func, select

from bot import keyboards
from bot.clock import ManualClock
from bot.config import Settings
from storage.db import Database
from storage.models import CodeAttempts, Delivery, Membership, Person, Question
from tests.conftest import THERAPIST_ID
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.updates import User
from tests.flows.test_therapist_support import invite_code

THEO = therapist(THERAPIST_ID)
UNKNOWN = "⚠️ I don't know that invite code. Nothing has changed."


def rows(database: Database, model: type) -> int:
    with database.read_session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def memberships(database: Database, user: User) -> list[str]:
    with database.read_session() as session:
        return list(
            session.exec(
                select(Membership.role)
                .join(Person, Person.id == Membership.person_id)  # type: ignore[arg-type]
                .where(Person.telegram_user_id == user.id)
            ).all()
        )


def first_line(h: Harness, user: User) -> str:
    return h.last_text(user.chat_id).splitlines()[0]


async def test_wrong_codes_are_throttled_a_right_code_waits_and_the_cool_down_ends(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    mallory = patient(5, "Mallory")
    # Five wrong codes in ten minutes: each is refused; the fifth starts a cool-down.
    for guess in ("hip2", "HIP3", "elbow1", "Shoulder2", "back1"):
        h.advance(timedelta(minutes=1))
        await h.command(mallory, "/start", guess)
        assert first_line(h, mallory) == UNKNOWN
    assert h.last_text(mallory.chat_id).endswith(
        "⏳ That was too many wrong codes: please wait 15 minutes before trying again."
    )

    # Even the right code is refused now, with when to try again.
    h.advance(timedelta(minutes=5))
    await h.command(mallory, "/start", "hip1")
    assert h.last_text(mallory.chat_id) == (
        "⏳ Too many wrong invite codes were sent from this account, so I am not checking "
        "codes for a while: please try again in 10 minutes."
    )
    assert memberships(h.database, mallory) == []

    # Once the cool-down is over, the right code works.
    h.advance(timedelta(minutes=10))
    await h.command(mallory, "/start", "hip1")
    assert first_line(h, mallory) == "✅ Welcome! You have joined Hip Therapy 1."
    assert memberships(h.database, mallory) == ["patient"]

    # The next cool-down is twice as long.
    for guess in ("a1b2", "c3d4", "e5f6", "g7h8", "i9j0"):
        await h.command(mallory, "/start", guess)
    assert h.last_text(mallory.chat_id).endswith("please wait 30 minutes before trying again.")
    h.advance(timedelta(minutes=29))
    await h.command(mallory, "/start", "SHOULDER1")
    assert h.last_text(mallory.chat_id).endswith("please try again in 1 minute.")
    # /start alone is never throttled: a member is greeted as always.
    await h.command(mallory, "/start")
    assert first_line(h, mallory) == "👋 Hello again! You are in Hip Therapy 1."
    print("\n" + h.transcript([mallory]))


async def test_wrong_codes_spread_out_in_time_are_not_throttled(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    alice = patient(0)
    for _ in range(12):
        await h.command(alice, "/start", "shoulder")
        assert h.last_text(alice.chat_id).splitlines() == [
            UNKNOWN,
            "Please ask your therapist for a new invite link, and check the code if you typed it.",
        ]
        h.advance(timedelta(minutes=3))  # four in any ten minutes
    await h.command(alice, "/start", "shoulder1")
    assert first_line(h, alice) == "✅ Welcome! You have joined Shoulder Therapy 1."


@pytest.fixture
def alert_at_20(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"invites": settings.invites.model_copy(update={"wrong_codes_alert_per_hour": 20})}
    )


async def test_many_strangers_leave_no_rows_behind_and_alert_the_administrators_once(
    alert_at_20: Settings,
    database: Database,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = await Harness(alert_at_20, database, clock).start()
    try:
        h.seed_demo()
        people_before = rows(database, Person)
        strangers = [patient(1000 + n, f"Stranger{n}") for n in range(45)]
        with caplog.at_level(logging.INFO):
            for n, stranger in enumerate(strangers):
                await h.command(stranger, "/start", f"GUESS{n:04d}")
                h.advance(timedelta(seconds=20))
        # No person, membership or row per attempt: one small counter per stranger.
        assert rows(database, Person) == people_before
        assert rows(database, CodeAttempts) == len(strangers) + 1  # and everyone's together
        alerts = h.texts(THEO.chat_id)
        assert len(alerts) == 1, alerts
        assert alerts[0].startswith(
            "⚠️ Someone may be guessing invite codes. 20 wrong codes have been sent to /start "
            "since 09:00 UTC, from all accounts together."
        )
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage() for r in warnings] == [
            "invite codes may be being guessed: 20 wrong codes since "
            "2026-11-25T09:00:00+00:00 from all accounts"
        ]
        logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
        assert "GUESS" not in logged

        # The counters expire and the due scan removes them.
        await h.advance_and_scan(timedelta(minutes=10))
        assert 0 < rows(database, CodeAttempts) < len(strangers)
        await h.advance_and_scan(timedelta(hours=1))
        assert rows(database, CodeAttempts) == 0

        # A new hour, a new burst: one more alert.
        for n, stranger in enumerate(strangers[:20]):
            await h.command(stranger, "/start", f"AGAIN{n:04d}")
        assert len(h.texts(THEO.chat_id)) == 2
        assert not h.api.violations
    finally:
        await h.stop()


async def test_a_removed_patient_stays_out_until_a_new_invite(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    alice = patient(0)
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    old_link = invite_code(h.last_text(THEO.chat_id))
    await h.command(alice, "/start", "SHOULDER1")
    h.advance(timedelta(minutes=1))

    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", "Alice", "Test")
    assert h.last_text(THEO.chat_id).endswith(
        "The invite links and codes they could use no longer let them back into the group; "
        "to take them back, make a new one with /invite Shoulder Therapy 1."
    )
    removed = "⚠️ You were taken out of that group, so this invite no longer works for you."
    for code in ("SHOULDER1", "shoulder1", old_link):
        await h.command(alice, "/start", code)
        assert first_line(h, alice) == removed + " Nothing has changed."
    assert memberships(h.database, alice) == ["removed"]
    # She may still join another group.
    await h.command(alice, "/start", "HIP1")
    assert first_line(h, alice) == "✅ Welcome! You have joined Hip Therapy 1."

    h.advance(timedelta(minutes=1))
    await h.command(THEO, "/invite", "Shoulder Therapy 1")
    await h.command(alice, "/start", invite_code(h.last_text(THEO.chat_id)))
    assert first_line(h, alice) == "✅ Welcome! You have joined Shoulder Therapy 1."
    assert sorted(memberships(h.database, alice)) == ["patient", "patient"]


async def test_a_button_of_a_later_question_says_to_answer_the_current_one_first(
    harness: Harness,
) -> None:
    h = harness
    h.seed_demo()
    alice = patient(0)
    await h.command(alice, "/start", "SHOULDER1")
    await h.advance_and_scan(timedelta(hours=2))  # the press-ups at 11:00: three yes/no
    await h.press(alice, "▶️ Start now")
    with h.database.read_session() as session:
        delivery = session.exec(select(Delivery).where(Delivery.status == "in_progress")).one()
        questions = session.exec(
            select(Question.id)
            .where(Question.task_id == delivery.task_id)
            .order_by(Question.position)  # type: ignore[arg-type]
        ).all()
    first, second = questions[0], questions[1]

    await h.press_data(alice, keyboards.encode("a", delivery.id, second, "y"))
    assert h.callback_answers()[-1].params["text"] == "Please answer the question above first."
    await h.press_data(alice, keyboards.encode("a", delivery.id, first, "7"))
    assert h.callback_answers()[-1].params["text"] == (
        "That isn't one of this question's answers: please use its buttons."
    )
    await h.press(alice, "Yes")
    await h.press_data(alice, keyboards.encode("a", delivery.id, first, "n"))
    assert h.callback_answers()[-1].params["text"] == "Your answer is already recorded."


async def test_two_instances_on_one_database_share_the_count(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    first = await Harness(settings, database, clock).start()
    second = await Harness(settings, database, clock, api=first.api).start()
    # One Telegram: update ids are unique across the instances it sends to.
    second.updates = first.updates
    try:
        first.seed_demo()
        mallory = patient(5, "Mallory")
        for n in range(5):
            await (first if n % 2 else second).command(mallory, "/start", f"nope{n}")
        await first.command(mallory, "/start", "HIP1")
        assert first.last_text(mallory.chat_id).startswith("⏳ Too many wrong invite codes")
        assert memberships(database, mallory) == []
    finally:
        await second.stop()
        await first.stop()


def changed(settings: Settings, **tables: dict[str, object]) -> Settings:
    return settings.model_copy(
        update={
            name: getattr(settings, name).model_copy(update=values)
            for name, values in tables.items()
        }
    )


async def test_demo_codes_are_listed_and_warned_about_at_start_in_webhook_mode(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = await Harness(changed(settings, telegram={"mode": "webhook"}), database, clock).start()
    try:
        h.seed_demo()
        with caplog.at_level(logging.WARNING):
            assert h.app.post_init is not None
            await h.app.post_init(h.app)
        warned = [r.getMessage() for r in caplog.records if "demo invite code" in r.getMessage()]
        assert warned == [
            "demo invite code HIP1 of group Hip Therapy 1 is active in production: anyone who "
            "guesses it joins the group; /revoke it, or seed the group with a code of 8 "
            "characters or more",
            "demo invite code KNEE1 of group Knee Therapy 1 is active in production: anyone who "
            "guesses it joins the group; /revoke it, or seed the group with a code of 8 "
            "characters or more",
            "demo invite code SHOULDER1 of group Shoulder Therapy 1 is active in production: "
            "anyone who guesses it joins the group; /revoke it, or seed the group with a code "
            "of 8 characters or more",
        ]
        await h.command(THEO, "/groups")
        assert (
            "⚠️ Demo invite code HIP1 still lets anyone who guesses it join: /revoke HIP1 when "
            "the demo is over."
        ) in h.last_text(THEO.chat_id).splitlines()

        await h.command(THEO, "/revoke", "hip1")
        await h.command(THEO, "/groups")
        listing = h.last_text(THEO.chat_id)
        assert "HIP1" not in listing and "Demo invite code SHOULDER1" in listing
        caplog.clear()
        await h.restart()
        assert h.app.post_init is not None
        await h.app.post_init(h.app)
        assert [r.getMessage()[:30] for r in caplog.records if "demo" in r.getMessage()] == [
            "demo invite code KNEE1 of grou",
            "demo invite code SHOULDER1 of ",
        ]
    finally:
        await h.stop()


async def test_in_polling_mode_demo_codes_are_only_listed(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.seed_demo()
    with caplog.at_level(logging.WARNING):
        assert h.app.post_init is not None
        await h.app.post_init(h.app)
    assert not [r for r in caplog.records if "demo invite code" in r.getMessage()]


async def test_a_therapist_taken_out_of_the_config_loses_their_groups_and_alerts(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    admin = therapist(9002)
    # Theo (configured) makes the group; the demo seed gives it its tasks and codes.
    await h.command(THEO, "/newgroup", "Shoulder Therapy 1")
    h.seed_demo()
    alice = patient(0)
    await h.command(alice, "/start", "SHOULDER1")
    await h.advance_and_scan(timedelta(hours=2))  # the press-ups at 11:00
    await h.press(alice, "▶️ Start now")
    await h.press(alice, "No")  # "Do 10 Push-Ups" alerts on "no"
    assert "Alice Test" in h.last_text(THEO.chat_id)
    theo_messages = len(h.texts(THEO.chat_id))

    # The clinic takes Theo out of [therapists] and names another administrator.
    h.settings = changed(h.settings, therapists={"user_ids": [admin.id]})
    await h.restart()
    with caplog.at_level(logging.WARNING):
        assert h.app.post_init is not None
        await h.app.post_init(h.app)
    assert [r.getMessage() for r in caplog.records if "no longer under" in r.getMessage()] == [
        f"therapist {THEO.id} is no longer under [therapists] user_ids: their place in "
        "Shoulder Therapy 1 ended (no more alerts from there)"
    ]
    await h.command(admin, "/groups")
    listing = h.last_text(admin.chat_id).splitlines()
    assert "1 patient · 0 therapists · 4 tasks" in listing
    assert (
        f"Therapist Theo Therapist (id {THEO.id}) left on Wed 25 Nov 2026: no longer under "
        "[therapists] in the configuration, so no more alerts."
    ) in listing
    # The next day's "no" alerts the administrator, not Theo.
    await h.advance_and_scan(timedelta(days=1, hours=1))
    await h.press(alice, "▶️ Start now")
    await h.press(alice, "No")
    assert "Alice Test" in h.last_text(admin.chat_id)
    assert len(h.texts(THEO.chat_id)) == theo_messages

    # Configured again, Theo has the group back.
    h.settings = changed(h.settings, therapists={"user_ids": [admin.id, THEO.id]})
    await h.restart()
    assert h.app.post_init is not None
    await h.app.post_init(h.app)
    await h.command(THEO, "/groups")
    assert "1 patient · 1 therapist · 4 tasks" in h.last_text(THEO.chat_id).splitlines()


async def test_a_configured_therapist_who_first_chose_a_language_is_still_taken_out_by_the_config(
    harness: Harness,
) -> None:
    """Theo's first act is /language: the row it made for him marked him a therapist as
    /addtherapist does, so taking him out of [therapists] ended nothing."""
    h = harness
    admin = therapist(9002)
    await h.command(THEO, "/language", "de")
    await h.command(THEO, "/newgroup", "Knees")

    h.settings = changed(h.settings, therapists={"user_ids": [admin.id]})
    await h.restart()
    assert h.app.post_init is not None
    await h.app.post_init(h.app)

    await h.command(THEO, "/patients", "Knees")
    assert h.last_text(THEO.chat_id) == "Dieser Befehl ist für Therapeuten."
    with h.database.session() as session:
        roles = session.exec(select(Membership.role)).all()
    assert roles == ["former_therapist"]


async def test_a_therapist_taken_out_of_the_config_gets_no_digest_planned_before(
    harness: Harness,
) -> None:
    h = harness
    admin = therapist(9002)
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/addtask", "Knees | Stretch | tomorrow 10:00 | daily | Done? ; yes_no")
    await h.scan()  # plans Theo's digest of Knees, for Monday 08:00

    h.settings = changed(h.settings, therapists={"user_ids": [admin.id]})
    await h.restart()
    assert h.app.post_init is not None
    await h.app.post_init(h.app)
    await h.advance_and_scan(timedelta(days=5, hours=1))  # Mon 30 Nov 10:00

    digests = [
        call
        for call in h.api.sent_to(THEO.chat_id)
        if call.method == "sendPhoto" and "Weekly digest" in call.params.get("caption", "")
    ]
    assert digests == []
