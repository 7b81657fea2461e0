"""Groups and invites: /newgroup, /groups, /patients, /removepatient, /invite, /revoke."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from storage.models import Delivery, Invite, Membership, TherapyGroup
from tests.fakes.harness import Harness, patient, therapist
from tests.fakes.snapshots import snapshot
from tests.fakes.updates import User
from tests.flows.test_therapist_support import invite_code

THEO = therapist()


def last(h: Harness) -> str:
    return h.last_text(THEO.chat_id)


async def new_invite(h: Harness, *args: str) -> str:
    await h.command(THEO, "/invite", *args)
    return invite_code(last(h))


async def test_groups_are_created_listed_and_named_without_clashes(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup")
    assert last(h).startswith("Usage: /newgroup NAME")
    await h.command(THEO, "/newgroup", "Knees", "Europe/Berlin")
    assert last(h).startswith("Created the group Knees (number 1, due times in Europe/Berlin).")
    await h.command(THEO, "/newgroup", "KNEES")
    assert last(h) == "There is already a group called “KNEES”."
    await h.command(THEO, "/newgroup", "42")
    assert "can't be a group name" in last(h)
    await h.command(THEO, "/newgroup", "Hips", "&", "<Backs>")
    assert "Created the group Hips & <Backs>" in last(h)

    alice = patient(0)
    await h.command(alice, "/start", await new_invite(h, "Knees"))
    await h.command(THEO, "/groups")
    assert last(h).splitlines() == [
        "Groups",
        "",
        "Hips & <Backs> (number 2, Europe/London)",
        "0 patients · 1 therapist · 0 tasks",
        "Check-ins: 0 open · 0 completed · 0 upcoming",
        "",
        "Knees (number 1, Europe/Berlin)",
        "1 patient · 1 therapist · 0 tasks",
        "Check-ins: 0 open · 0 completed · 0 upcoming",
    ]

    # A second therapist on Knees' team counts, as /team lists him.
    await h.command(THEO, "/addtherapist", "556")
    await h.command(THEO, "/addtoteam", "Knees", "556")
    await h.command(THEO, "/groups")
    assert "1 patient · 2 therapists · 0 tasks" in last(h).splitlines()


async def test_patients_are_listed_and_removed_keeping_their_answers(harness: Harness) -> None:
    h = harness
    h.seed_demo()
    alice, bob = patient(0), patient(1)
    await h.command(alice, "/start", "SHOULDER1")
    await h.command(bob, "/start", "SHOULDER1")
    await h.advance_and_scan(timedelta(hours=2))  # the press-ups at 11:00
    await h.press(alice, "▶️ Start now")
    await h.press(alice, "Yes")  # one answer, then she stops
    await h.command(THEO, "/patients", "shoulder therapy 1")
    assert last(h).splitlines() == [
        "Patients of Shoulder Therapy 1 (2)",
        "1. Alice Test (id 100) – joined Wed 25 Nov 2026 – 1 open check-in",
        "2. Bob Test (id 101) – joined Wed 25 Nov 2026 – 1 open check-in",
    ]
    answers = snapshot(h.database)["answers"]
    assert len(answers) == 1

    await h.command(THEO, "/removepatient", "Shoulder Therapy 1")
    assert last(h).startswith("Usage: /removepatient GROUP PATIENT")
    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", "Zed")
    assert last(h).startswith("No patient “Zed” in Shoulder Therapy 1.")
    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", "Alice", "Test")
    assert "Removed Alice Test from Shoulder Therapy 1." in last(h)
    assert "were cancelled; their answers are kept." in last(h)
    # She is told, not left with prompts that read "Cancelled: no answer needed any more".
    assert h.last_text(alice.chat_id) == (
        "Your therapist has taken you out of Shoulder Therapy 1, so no more check-ins will "
        "come from it. The answers you gave stay with your care team; /deletemydata erases them."
    )
    assert snapshot(h.database)["answers"] == answers
    with h.database.session() as session:
        statuses = {
            d.status for d in session.exec(select(Delivery).where(Delivery.person_id == 1)).all()
        }
    assert statuses == {"cancelled"}

    # She gets nothing more from the group, while Bob's check-ins carry on.
    sent, bob_sent = len(h.api.sent_to(alice.chat_id)), len(h.api.sent_to(bob.chat_id))
    await h.advance_and_scan(timedelta(days=1, hours=2))
    assert h.api.sent_to(alice.chat_id)[sent:] == []
    assert h.api.sent_to(bob.chat_id)[bob_sent:] != []
    await h.command(THEO, "/patients", "1")
    assert [line.split(" – ")[0] for line in last(h).splitlines()] == [
        "Patients of Shoulder Therapy 1 (1)",
        "1. Bob Test (id 101)",
    ]


async def test_an_invite_link_expires(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    code = await new_invite(h, "Knees", "2")
    assert "valid until Fri 27 Nov 2026, 09:00 (Europe/London)" in last(h)
    assert f"https://t.me/patientbot_test_bot?start={code}" in last(h)
    h.advance(timedelta(days=2))
    alice = patient(0)
    await h.command(alice, "/start", code)
    assert "That invite link has expired." in h.last_text(alice.chat_id)
    with h.database.session() as session:
        assert session.exec(select(Membership).where(Membership.role == "patient")).all() == []


async def test_an_invite_link_can_be_limited_in_uses(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    code = await new_invite(h, "Knees", "7", "2")
    assert "for 2 patients" in last(h)
    for n in range(3):
        await h.command(patient(n), "/start", code)
    for n in (0, 1):
        assert "You have joined Knees" in h.last_text(patient(n).chat_id)
    assert "already been used as often as it may be" in h.last_text(patient(2).chat_id)
    with h.database.session() as session:
        invite = session.exec(select(Invite)).one()
        members = session.exec(select(Membership).where(Membership.role == "patient")).all()
    assert (invite.uses, len(members)) == (2, 2)


async def test_a_revoked_invite_no_longer_works_and_its_patients_stay(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    code = await new_invite(h, "Knees")
    alice, bob = patient(0), patient(1)
    await h.command(alice, "/start", code)
    await h.command(THEO, "/revoke", code)
    assert last(h) == (
        f"The invite code {code} for Knees no longer works. It was used once; that patient "
        "stays in the group."
    )
    await h.command(THEO, "/revoke", code)
    assert last(h) == (
        f"The invite code {code} for Knees was withdrawn before; nothing changed. It was used "
        "once; that patient stays in the group."
    )
    unused = await new_invite(h, "Knees")
    await h.command(THEO, "/revoke", unused)
    assert last(h) == f"The invite code {unused} for Knees no longer works. Nobody joined with it."
    await h.command(bob, "/start", code)
    assert "That invite link has been withdrawn." in h.last_text(bob.chat_id)
    await h.command(THEO, "/revoke", "NOT-A-CODE")
    assert last(h) == "There is no invite code “NOT-A-CODE”."
    with h.database.session() as session:
        group = session.exec(select(TherapyGroup)).one()
        members = session.exec(
            select(Membership).where(Membership.group_id == group.id, Membership.role == "patient")
        ).all()
    assert len(members) == 1


async def test_a_member_tapping_a_dead_link_again_is_told_they_are_in_the_group(
    harness: Harness,
) -> None:
    """A used-up, expired or withdrawn link, opened again by someone it let in: they need no
    new link, and were told to ask their therapist for one. Someone who stopped is not let
    back in by a dead link."""
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    alice, bob, chloe = patient(0), patient(1), patient(2)
    used_up = await new_invite(h, "Knees", "7", "1")
    await h.command(alice, "/start", used_up)
    withdrawn = await new_invite(h, "Knees")
    await h.command(bob, "/start", withdrawn)
    await h.command(THEO, "/revoke", withdrawn)
    expiring = await new_invite(h, "Knees", "1")
    await h.command(chloe, "/start", expiring)
    await h.command(chloe, "/stop")
    await h.press(chloe, "Yes, stop")
    h.advance(timedelta(days=2))

    await h.command(alice, "/start", used_up)
    await h.command(bob, "/start", withdrawn)
    await h.command(chloe, "/start", expiring)

    assert h.last_text(alice.chat_id).startswith("You are already in Knees")
    assert h.last_text(bob.chat_id).startswith("You are already in Knees")
    assert "That invite link has expired." in h.last_text(chloe.chat_id)
    with h.database.session() as session:
        uses = sorted(invite.uses for invite in session.exec(select(Invite)).all())
    assert uses == [1, 1, 1]


async def test_an_invite_for_an_unknown_group_names_the_groups(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/invite", "Knees")
    assert last(h) == (
        "There is no group “Knees”; there are no groups yet. Create one with /newgroup NAME."
    )
    await h.command(THEO, "/newgroup", "Hips")
    await h.command(THEO, "/invite", "Knees", "3")
    assert last(h) == "There is no group “Knees 3”. Groups: Hips."
    await h.command(THEO, "/invite", "Hips", "soon")
    assert last(h).startswith("Usage: /invite GROUP [DAYS] [USES]")


async def test_a_patient_removed_and_invited_back_gets_the_groups_check_ins_again(
    harness: Harness,
) -> None:
    """Removed before the press-ups at 11:00 and invited back: that check-in comes at 11:00."""
    h = harness
    h.seed_demo()
    alice = patient(0)
    await h.command(alice, "/start", "SHOULDER1")
    h.advance(timedelta(minutes=1))
    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", "Alice", "Test")
    h.advance(timedelta(minutes=1))
    await h.command(alice, "/start", await new_invite(h, "Shoulder Therapy 1"))
    assert "You have joined Shoulder Therapy 1" in h.last_text(alice.chat_id)
    sent = len(h.texts(alice.chat_id))

    await h.advance_and_scan(timedelta(hours=2))

    prompts = h.texts(alice.chat_id)[sent:]
    assert len(prompts) == 1 and "Press-Ups" in prompts[0], prompts


async def test_a_patient_named_by_a_unicode_digit_is_found_by_name(harness: Harness) -> None:
    """A superscript two passes str.isdigit() but is no Telegram id: it is read as a name."""
    h = harness
    h.seed_demo()
    await h.command(patient(0), "/start", "SHOULDER1")
    await h.command(User(id=150, first_name="²"), "/start", "SHOULDER1")
    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", "²")
    assert last(h).startswith("Removed ² from Shoulder Therapy 1.")
    await h.command(THEO, "/removepatient", "Shoulder Therapy 1", "--150")
    assert last(h).startswith("No patient “--150” in Shoulder Therapy 1.")


async def test_a_group_zone_is_read_in_any_case_and_a_mistyped_one_is_refused(
    harness: Harness,
) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Knees", "europe/berlin")
    assert last(h).startswith("Created the group Knees (number 1, due times in Europe/Berlin).")
    await h.command(THEO, "/newgroup", "Hips", "utc")
    assert last(h).startswith("Created the group Hips (number 2, due times in UTC).")
    await h.command(THEO, "/newgroup", "Backs", "Europe/Nowhere")
    assert last(h).startswith(
        "No group was created: “Europe/Nowhere” isn't a time zone name I know. "
        "Write the zone last, as a name such as Europe/Berlin"
    )
    await h.command(THEO, "/newgroup", '"Knee', 'A/B"')
    assert last(h).startswith("Created the group Knee A/B (number 3, due times in Europe/London).")
    with h.database.session() as session:
        groups = session.exec(select(TherapyGroup).order_by(col(TherapyGroup.id))).all()
    assert [(g.name, g.timezone) for g in groups] == [
        ("Knees", "Europe/Berlin"),
        ("Hips", "UTC"),
        ("Knee A/B", None),
    ]


async def test_a_group_name_of_only_invisible_characters_is_refused(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "\u200b")
    assert last(h) == "Please give the group a name, for example /newgroup Shoulder Therapy 2"
    await h.command(THEO, "/newgroup", "\u200b\u200b", "\u2060")
    assert last(h) == "Please give the group a name, for example /newgroup Shoulder Therapy 2"
    with h.database.session() as session:
        assert session.exec(select(TherapyGroup)).all() == []
