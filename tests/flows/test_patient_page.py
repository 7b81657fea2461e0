"""/patient: one patient's page with every answer and their photos and videos; /media; the
report's and the alert's buttons to the page."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.services.audit import AuditAction
from fakebotapi import RetryAfterFault
from storage.models import AuditEvent, Delivery, Person, Task, TherapyGroup
from tests.fakes.harness import Harness, patient, therapist
from tests.flows.test_therapist_support import invite_code

THEO = therapist()
ALICE, BOB = patient(0), patient(1)
EVERY_KIND = (
    "Knees | Every kind | today 10:00 | daily x3 | "
    "Pain now? ; scale ; >= 8 | Minutes? ; number ; 0-240 ; whole | Did you? ; yes_no | "
    "Side? ; choice ; Left, Right | Notes ; text ; max 500 | Photo of the stretch ; photo | "
    "Video of one squat ; video"
)


async def knees_group(h: Harness, task: str, *people: object) -> None:
    await h.command(THEO, "/newgroup", "Knees")
    await h.command(THEO, "/invite", "Knees")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(THEO, "/addtask", task)
    for person in people or (ALICE, BOB):
        await h.command(person, "/start", code)  # type: ignore[arg-type]


async def everyone_answers(h: Harness) -> None:
    """Alice answers every question of day 1; Bob answers one (an alert) and stops."""
    await knees_group(h, EVERY_KIND)
    await h.advance_and_scan(timedelta(hours=1))  # Wed 25 Nov 10:00
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.text(ALICE, "25")
    await h.press(ALICE, "Yes")
    await h.press(ALICE, "Right")
    await h.text(ALICE, "Stiff in the morning")
    await h.photo(ALICE, "AgAD-photo")
    await h.video(ALICE, "BAAD-video")
    await h.press(BOB, "▶️ Start now")
    await h.press(BOB, "9")


def buttons(h: Harness, chat_id: int) -> list[str]:
    markup = h.last_message(chat_id).reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_the_page_shows_every_answer_and_sends_the_photo_and_the_video(
    harness: Harness,
) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(THEO, "/patient", "alice")
    page = h.last_text(THEO.chat_id)
    lines = page.splitlines()
    assert lines[0] == f"👤 Alice Test · Telegram id {ALICE.id}"
    assert lines[1] == "Groups: Knees"
    assert lines[2].startswith("Time zone: ")
    assert lines[3].startswith("Joined: 25 Nov 2026 · Last seen: Wed 25 Nov ")
    assert lines[4] == "Adherence: 1 check-in: 1 done · last answer 25 Nov"
    assert "Every kind (Knees) · due Wed 25 Nov 10:00 · done" in lines
    for answer in (
        "• Pain now? — 3 · 10:00",
        "• Minutes? — 25 · 10:00",
        "• Did you? — Yes · 10:00",
        "• Side? — Right · 10:00",
        "• Notes — Stiff in the morning · 10:00",
        "• Photo of the stretch — 📷 photo (button 1) · 10:00",
        "• Video of one squat — 🎬 video (button 2) · 10:00",
    ):
        assert answer in lines, page
    assert buttons(h, THEO.chat_id) == ["📷 Photo 1", "🎬 Video 2"]

    await h.press(THEO, "📷 Photo 1")
    (photo,) = h.api.calls_of("sendPhoto")
    assert photo.params["photo"] == "AgAD-photo"
    assert photo.params["chat_id"] == THEO.chat_id
    caption = h.last_message(THEO.chat_id).plain
    assert caption == (
        "📷 Alice Test · Knees · Wed 25 Nov 10:00\nTask: Every kind\n“Photo of the stretch”"
    )
    await h.press(THEO, "🎬 Video 2")
    (video,) = h.api.calls_of("sendVideo")
    assert video.params["video"] == "BAAD-video"
    assert h.last_message(THEO.chat_id).plain == (
        "🎬 Alice Test · Knees · Wed 25 Nov 10:00\nTask: Every kind\n“Video of one squat”"
    )


def views(h: Harness) -> list[tuple[int | None, str, int | None, int | None, object]]:
    """The trail's record_viewed events: who, what kind of object, which, filed under which
    group, what was seen."""
    with h.database.session() as session:
        found = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.RECORD_VIEWED.value)
            .order_by(col(AuditEvent.id))
        ).all()
    return [(e.actor_telegram_id, e.object_kind, e.object_id, e.group_id, e.after) for e in found]


async def test_every_view_of_a_patients_answers_is_in_the_audit_trail(harness: Harness) -> None:
    """A clinic accounts for who looked at a record, not only who changed it: the page, each
    photo or video sent on, and /media each leave one event, written before they are shown.
    A refusal, a search that shows nobody's answers, or an empty /media leaves none."""
    h = harness
    await everyone_answers(h)
    with h.database.session() as session:
        alice, bob = (
            session.exec(select(Person).where(Person.telegram_user_id == who.id)).one().id
            for who in (ALICE, BOB)
        )
        (knees,) = session.exec(select(TherapyGroup.id)).all()
        checkin: dict[int | None, int | None] = {}  # each one's first check-in, the one due
        for delivery_id, person_id in session.exec(
            select(Delivery.id, Delivery.person_id).order_by(col(Delivery.id))
        ):
            checkin.setdefault(person_id, delivery_id)
    await h.command(BOB, "/patient", "Alice")  # not a therapist
    await h.command(THEO, "/patient", "Zed")  # nobody
    await h.command(THEO, "/patient", "Test")  # two match: names only
    assert views(h) == []

    await h.command(THEO, "/patient", "alice")
    await h.press(THEO, "📷 Photo 1")
    await h.command(THEO, "/patient", "Test")
    await h.press(THEO, "Bob Test · Knees")
    await h.command(THEO, "/media", "Knees")
    await h.command(THEO, "/chart", "Knees")  # the group's adherence: nobody's answers
    await h.command(THEO, "/chart", "Bob Test")
    assert views(h) == [
        (THEO.id, "person", alice, knees, {"seen": "patient page", "check_ins": [checkin[alice]]}),
        (THEO.id, "person", alice, knees, {"seen": "photo", "answer_id": 6}),
        (THEO.id, "person", bob, knees, {"seen": "patient page", "check_ins": [checkin[bob]]}),
        (
            THEO.id,
            "group",
            knees,
            knees,
            {"seen": "media", "days": 7, "answers": 2, "patients": [alice]},
        ),
        (
            THEO.id,
            "person",
            bob,
            knees,
            {"seen": "chart", "from": "2026-10-05", "to": "2026-11-25"},
        ),
    ]
    await h.command(THEO, "/audit", "Knees")
    assert "patient's answers viewed" in h.last_text(THEO.chat_id)


async def test_a_name_several_patients_share_offers_a_button_each(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(THEO, "/patient", "Test")
    assert h.last_text(THEO.chat_id) == "Several patients match “Test”; choose one:"
    assert buttons(h, THEO.chat_id) == ["Alice Test · Knees", "Bob Test · Knees"]
    await h.press(THEO, "Bob Test · Knees")
    # The choice becomes Bob's page in place.
    page = h.last_text(THEO.chat_id)
    assert page.startswith(f"👤 Bob Test · Telegram id {BOB.id}")
    assert "• Pain now? — 9 · 10:00" in page.splitlines()
    assert "Adherence: 1 check-in: 1 started" in page

    await h.command(THEO, "/patient", str(BOB.id))
    assert h.last_text(THEO.chat_id).startswith("👤 Bob Test")
    await h.command(THEO, "/patient", "Zed")
    assert h.last_text(THEO.chat_id) == (
        "No patient matches “Zed”. Try a part of the name, or the Telegram id "
        "(/patients GROUP lists them)."
    )


async def test_a_patient_is_refused_the_page_and_its_buttons(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(BOB, "/patient", "Alice")
    assert h.last_text(BOB.chat_id) == "This command is for therapists."
    await h.command(THEO, "/patient", "alice")
    page_message = h.last_message(THEO.chat_id).message_id
    for data in ("pm:1", "pp:1:0", "po:1"):
        await h.press_data(BOB, data, page_message)
        assert h.callback_answers()[-1].params["text"] == "This command is for therapists."
    assert not h.api.calls_of("sendPhoto")
    assert not [t for t in h.texts(BOB.chat_id) if "Alice" in t]


async def test_a_long_history_is_paged_older_and_newer_in_place(harness: Harness) -> None:
    h = harness
    await knees_group(h, "Knees | Daily | today 10:00 | daily x6 | Done? ; yes_no", ALICE)
    for day in range(6):
        await h.advance_and_scan(timedelta(hours=1) if day == 0 else timedelta(days=1))
        await h.press(ALICE, "▶️ Start now")
        await h.press(ALICE, "Yes" if day % 2 else "No")
    await h.command(THEO, "/patient", "Alice")
    first = h.last_message(THEO.chat_id)
    assert "Check-ins 1–4 of 6, newest first." in (first.plain or "")
    assert "due Mon 30 Nov 10:00" in (first.plain or "")
    assert buttons(h, THEO.chat_id) == ["◀ Older"]
    await h.press(THEO, "◀ Older")
    older = h.api.message(THEO.chat_id, first.message_id)
    assert older is not None and "Check-ins 5–6 of 6, newest first." in (older.plain or "")
    assert "due Wed 25 Nov 10:00" in (older.plain or "")
    assert len(h.screen(THEO.chat_id)) == len(h.api.messages(THEO.chat_id))
    assert buttons(h, THEO.chat_id) == ["Newer ▶"]
    await h.press(THEO, "Newer ▶")
    newer = h.api.message(THEO.chat_id, first.message_id)
    assert newer is not None and "Check-ins 1–4 of 6" in (newer.plain or "")


async def test_a_report_row_button_opens_the_patients_page(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(THEO, "/report", "Knees")
    report = h.last_text(THEO.chat_id)
    assert report.startswith("Adherence: Knees")
    assert buttons(h, THEO.chat_id) == ["📈 Chart", "👤 Alice Test", "👤 Bob Test"]
    await h.press(THEO, "👤 Bob Test")
    assert h.last_text(THEO.chat_id).startswith(f"👤 Bob Test · Telegram id {BOB.id}")
    # The report stays as it was.
    assert report in h.texts(THEO.chat_id)


async def test_the_alert_has_a_button_to_the_patients_page(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    (alert,) = [m for m in h.screen(THEO.chat_id) if (m.plain or "").startswith("🚨")]
    markup = alert.reply_markup or {}
    assert [b["text"] for row in markup["inline_keyboard"] for b in row] == ["👤 Bob Test's page"]
    await h.press(THEO, "👤 Bob Test's page", alert.message_id)
    assert h.last_text(THEO.chat_id).startswith(f"👤 Bob Test · Telegram id {BOB.id}")


async def test_a_deleted_patient_shows_as_deleted_without_media(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(ALICE, "/deletemydata")
    await h.press(ALICE, "Yes, delete everything")
    # Neither the name nor the Telegram id is kept: /patient finds nobody, the report's
    # button still opens what is left.
    for ref in ("Alice", str(ALICE.id)):
        await h.command(THEO, "/patient", ref)
        assert h.last_text(THEO.chat_id).startswith(f"No patient matches “{ref}”")
    await h.command(THEO, "/report", "Knees")
    await h.press(THEO, "👤 [deleted]")
    page = h.last_text(THEO.chat_id)
    assert page.splitlines()[:2] == ["👤 [deleted]", "Groups: Knees (left)"]
    assert "Data deleted at the patient's request" in page
    assert buttons(h, THEO.chat_id) == []


async def test_a_patient_who_stopped_or_blocked_the_bot_is_shown_so(harness: Harness) -> None:
    """Nothing on the page said Bob had sent /stop: it read like a patient who stopped
    answering, and a therapist would chase him for check-ins he had asked not to get."""
    h = harness
    await everyone_answers(h)
    await h.command(THEO, "/patient", "Bob")
    assert "/stop" not in h.last_text(THEO.chat_id)

    await h.command(BOB, "/stop")
    await h.press(BOB, "Yes, stop")
    await h.command(THEO, "/patient", "Bob")

    assert h.last_text(THEO.chat_id).splitlines()[2] == (
        "⏸ Stopped check-ins with /stop: none are sent until they send /start."
    )
    await h.command(BOB, "/start")
    await h.command(THEO, "/patient", "Bob")
    assert "/stop" not in h.last_text(THEO.chat_id)

    # Blocked: the next day's prompt comes back refused by Telegram.
    h.api.block(BOB.chat_id)
    await h.advance_and_scan(timedelta(days=1))
    await h.command(THEO, "/patient", "Bob")
    assert h.last_text(THEO.chat_id).splitlines()[2] == (
        "🚫 Blocked the bot: no message reaches them until they unblock it."
    )


async def test_media_sends_albums_of_ten_and_names_a_missing_file_in_one_line(
    harness: Harness,
) -> None:
    h = harness
    await knees_group(h, "Knees | Form | today 10:00 | daily x12 | Your form ; photo", ALICE)
    await h.command(THEO, "/media", "Knees")
    assert h.last_text(THEO.chat_id) == "No photo or video answers from Knees in the last 7 days."
    for day in range(12):
        await h.advance_and_scan(timedelta(hours=1) if day == 0 else timedelta(days=1))
        await h.press(ALICE, "▶️ Start now")
        await h.photo(ALICE, f"form-{day}")
    h.api.forget_file("form-9")
    await h.command(THEO, "/media", "Knees", "30")
    assert (
        "12 photo and video answers from Knees in the last 30 days" in (h.texts(THEO.chat_id)[-13])
    )
    first, second = h.api.calls_of("sendMediaGroup")
    assert len(first.params["media"]) == 10
    assert first.status == 400  # form-9 is gone: the album goes one by one
    assert [m["media"] for m in second.params["media"]] == ["form-10", "form-11"]
    assert second.status == 200
    # (The weekly digest's chart is a photo too, uploaded rather than sent by id.)
    singles = [c for c in h.api.calls_of("sendPhoto") if "photo" in c.params]
    assert [c.params["photo"] for c in singles] == [f"form-{d}" for d in range(10)]
    assert [c.status for c in singles].count(400) == 1
    item = second.params["media"][0]
    assert item["caption"].startswith("📷 <b>Alice Test</b> · Knees · ")
    assert h.last_text(THEO.chat_id).startswith("⚠️ Alice Test's photo for “Your form” (")
    assert h.last_text(THEO.chat_id).endswith(") is no longer on Telegram.")
    assert len(h.last_text(THEO.chat_id).splitlines()) == 1


async def test_a_photo_question_turned_into_text_keeps_its_photos_on_the_page_and_in_media(
    harness: Harness,
) -> None:
    h = harness
    await knees_group(h, "Knees | Form | today 10:00 | daily x3 | Your form ; photo", ALICE)
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.photo(ALICE, "form-1")
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "✏️ Change a question")
    await h.press(THEO, "1. Your form")
    await h.text(THEO, "Describe your form")
    await h.press(THEO, "No link")
    await h.press(THEO, "Text")
    await h.press(THEO, "No limit")
    await h.press(THEO, "Required")
    assert "(version 2)" in h.last_text(THEO.chat_id)

    await h.command(THEO, "/patient", "Alice Test")
    assert "• Your form — 📷 photo (button 1) · 10:00" in h.last_text(THEO.chat_id).splitlines()
    await h.press(THEO, "📷 Photo 1")
    assert [c.params["photo"] for c in h.api.calls_of("sendPhoto")] == ["form-1"]
    await h.command(THEO, "/media", "Knees")
    assert h.api.calls_of("sendPhoto")[-1].params["photo"] == "form-1"


async def test_an_alert_on_a_photo_question_carries_the_photo(harness: Harness) -> None:
    h = harness
    await knees_group(h, "Knees | Form | today 10:00 | daily x3 | Your form ; photo ; any")
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.photo(ALICE, "form-alice")
    (sent,) = [c for c in h.api.calls_of("sendPhoto") if c.params.get("photo") == "form-alice"]
    assert sent.params["chat_id"] == THEO.chat_id
    alert = h.last_message(THEO.chat_id)
    assert alert.kind == "photo"
    assert alert.plain == (
        "🚨 Alice Test answered photo to “Your form” (Knees, Wed 25 Nov 10:00)\n"
        "Task: Form · alert on every photo or video"
    )
    assert buttons(h, THEO.chat_id) == ["👤 Alice Test's page"]

    # A file Telegram can no longer send: the alert still arrives, in words.
    await h.press(BOB, "▶️ Start now")
    h.api.forget_file("form-bob")
    await h.photo(BOB, "form-bob")
    assert h.last_message(THEO.chat_id).kind == "text"
    assert h.last_text(THEO.chat_id).startswith("🚨 Bob Test answered photo to “Your form”")
    assert buttons(h, THEO.chat_id) == ["👤 Bob Test's page"]


async def test_a_report_of_many_patients_pages_its_buttons(harness: Harness) -> None:
    h = harness
    people = [patient(n, f"P{n:02d}") for n in range(22)]
    await knees_group(h, "Knees | Daily | today 10:00 | daily x3 | Done? ; yes_no", *people)
    await h.command(THEO, "/report", "Knees")
    report = h.last_message(THEO.chat_id)
    first = buttons(h, THEO.chat_id)
    assert first[0] == "📈 Chart"
    assert first[1:21] == [f"👤 P{n:02d} Test" for n in range(20)]
    assert first[21:] == ["More patients ▶"]
    await h.press(THEO, "More patients ▶")
    assert buttons(h, THEO.chat_id) == ["📈 Chart", "👤 P20 Test", "👤 P21 Test", "◀ Back"]
    # The report's words stay; only its buttons turned.
    assert h.last_message(THEO.chat_id).plain == report.plain
    await h.press(THEO, "◀ Back")
    assert buttons(h, THEO.chat_id) == first


async def test_media_refuses_in_words(harness: Harness) -> None:
    h = harness
    await everyone_answers(h)
    await h.command(BOB, "/media", "Knees")
    assert h.last_text(BOB.chat_id) == "This command is for therapists."
    await h.command(THEO, "/media")
    assert h.last_text(THEO.chat_id).startswith("Usage: /media GROUP [DAYS]")
    await h.command(THEO, "/media", "Knees", "0")
    assert h.last_text(THEO.chat_id) == "DAYS must be a whole number from 1 to 366, not 0."
    await h.command(THEO, "/media", "Elbows")
    assert "Elbows" in h.last_text(THEO.chat_id)
    await h.command(THEO, "/patient")
    assert h.last_text(THEO.chat_id).startswith("Usage: /patient NAME")
    assert not h.api.calls_of("sendMediaGroup")


async def test_media_waits_when_telegram_asks_for_a_pause_and_sends_the_album(
    harness: Harness,
) -> None:
    h = harness
    await everyone_answers(h)
    h.api.inject("sendMediaGroup", RetryAfterFault(1))  # a one-second pause, waited in real time
    await h.command(THEO, "/media", "Knees")
    refused, sent = h.api.calls_of("sendMediaGroup")
    assert refused.status == 429
    assert sent.status == 200
    assert [m["media"] for m in sent.params["media"]] == ["AgAD-photo", "BAAD-video"]


async def test_a_german_speaking_therapist_reads_the_alert_the_page_and_media_in_german(
    harness: Harness,
) -> None:
    """The alert is sent inside the patient's update, yet in the therapist's language."""
    h = harness
    await h.command(THEO, "/language", "de")
    await knees_group(h, "Knees | Form | today 10:00 | daily x3 | Your form ; photo ; any", ALICE)
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ALICE, "▶️ Start now")
    await h.photo(ALICE, "form-alice")
    assert h.last_text(ALICE.chat_id).startswith("✅ Done: Form")
    alert = h.last_message(THEO.chat_id)
    assert alert.kind == "photo"
    assert alert.plain == (
        "🚨 Alice Test hat Foto auf „Your form“ geantwortet (Knees, Mi., 25. Nov., 10:00)\n"
        "Aufgabe: Form · Alarm bei jedem Foto oder Video"
    )
    assert buttons(h, THEO.chat_id) == ["👤 Seite von Alice Test"]

    await h.command(THEO, "/patient", "alice")
    lines = h.last_text(THEO.chat_id).splitlines()
    assert lines[:2] == [f"👤 Alice Test · Telegram-ID {ALICE.id}", "Gruppen: Knees"]
    assert lines[2].startswith("Zeitzone: Europe/London (die der Gruppe oder die Voreinstellung)")
    assert lines[3] == "Beigetreten: 25. Nov. 2026 · Zuletzt aktiv: Mi., 25. Nov., 10:00"
    assert lines[4] == "Therapietreue: 1 Check-in: 1 erledigt · letzte Antwort 25. Nov."
    assert "• Your form — 📷 Foto (Schaltfläche 1) · 10:00" in lines
    assert lines[-1] == "Check-in 1 von 1, neueste zuerst."
    await h.press(THEO, "📷 Foto 1")
    caption = "📷 Alice Test · Knees · Mi., 25. Nov., 10:00\nAufgabe: Form\n“Your form”"
    assert h.last_message(THEO.chat_id).plain == caption

    await h.command(THEO, "/media", "Knees")
    assert h.texts(THEO.chat_id)[-2:] == [
        "1 Foto- oder Videoantwort von Knees in den letzten 7 Tagen, älteste zuerst:",
        caption,
    ]
    await h.command(THEO, "/media", "Knees", "0")
    assert h.last_text(THEO.chat_id) == "TAGE muss eine ganze Zahl von 1 bis 366 sein, nicht 0."


async def test_a_german_speaking_therapist_reads_a_yes_no_answer_on_the_page_in_german(
    harness: Harness,
) -> None:
    """Stored as "Yes", shown as the reader says it; typed text and options stay as written."""
    h = harness
    await h.command(THEO, "/language", "de")
    await everyone_answers(h)
    await h.command(THEO, "/patient", "alice")
    lines = h.last_text(THEO.chat_id).splitlines()
    for answer in (
        "• Pain now? — 3 · 10:00",
        "• Minutes? — 25 · 10:00",
        "• Did you? — Ja · 10:00",
        "• Side? — Right · 10:00",
        "• Notes — Stiff in the morning · 10:00",
    ):
        assert answer in lines, lines


async def test_a_german_speaking_therapist_gets_the_reports_chart_button_in_german(
    harness: Harness,
) -> None:
    h = harness
    await h.command(THEO, "/language", "de")
    await knees_group(h, EVERY_KIND, ALICE)
    await h.command(THEO, "/report", "Knees")
    assert buttons(h, THEO.chat_id) == ["📈 Diagramm", "👤 Alice Test"]
    await h.press(THEO, "📈 Diagramm")
    assert h.last_message(THEO.chat_id).kind == "photo"


# Telegram puts at most 100 buttons under a message and refuses a markup with more.
MOST_BUTTONS = 100
POSES = 30  # a task's most questions (authoring.MAX_QUESTIONS)


async def a_photo_diary(h: Harness) -> None:
    """Five daily check-ins of thirty photo questions; Alice sends every photo of days 2 to 5,
    so the newest page (four check-ins) has 120 photos and an older page follows."""
    poses = " | ".join(f"Pose {n} ; photo" for n in range(1, POSES + 1))
    await knees_group(h, f"Knees | Photo diary | today 10:00 | daily x5 | {poses}", ALICE)
    for day in range(5):
        await h.advance_and_scan(timedelta(hours=1) if day == 0 else timedelta(days=1))
        if day == 0:
            continue
        await h.press(ALICE, "▶️ Start now")
        for n in range(1, POSES + 1):
            h.advance(timedelta(seconds=5))  # a patient's pace, not a flood
            await h.photo(ALICE, f"day{day}-pose{n}")
        assert h.last_text(ALICE.chat_id).startswith("✅ Done: Photo diary")


async def test_a_page_of_more_photos_than_a_message_has_buttons_still_comes(
    harness: Harness,
) -> None:
    """120 photos on one page (Telegram refuses more than 100 buttons under a message): the
    page comes with as many photo buttons as fit beside Older, says where the others are,
    and a press there turns to them in place."""
    h = harness
    await a_photo_diary(h)
    await h.command(THEO, "/patient", "alice")
    refused = [(c.method, c.description) for c in h.api.calls if c.status == 400]
    assert refused == []
    page = h.last_message(THEO.chat_id)
    assert (page.plain or "").startswith("👤 Alice Test")
    first = buttons(h, THEO.chat_id)
    assert len(first) <= MOST_BUTTONS
    assert first == [
        *(f"📷 Photo {n}" for n in range(1, 97)),
        "Buttons 97–120 ▶",
        "◀ Older",
    ]
    # Whatever of the page's text is cut to fit a message, its last lines say it.
    assert (page.plain or "").splitlines()[-2:] == [
        "Check-ins 1–4 of 5, newest first.",
        "Photos and videos 1–96 of 120 have their buttons below (a message holds 100 at "
        "most); press “Buttons 97–120 ▶” for the others.",
    ]

    await h.press(THEO, "Buttons 97–120 ▶")
    turned = h.api.message(THEO.chat_id, page.message_id)
    assert turned is not None and turned.message_id == h.last_message(THEO.chat_id).message_id
    assert buttons(h, THEO.chat_id) == [
        *(f"📷 Photo {n}" for n in range(97, 121)),
        "◀ Buttons 1–96",
        "◀ Older",
    ]
    assert (turned.plain or "").splitlines()[-1] == (
        "Photos and videos 97–120 of 120 have their buttons below (a message holds 100 at "
        "most); press “◀ Buttons 1–96” for the others."
    )
    # Newest first: the 120th is the last pose of the oldest check-in on the page.
    await h.press(THEO, "📷 Photo 120", page.message_id)
    assert h.api.calls_of("sendPhoto")[-1].params["photo"] == "day1-pose30"

    await h.press(THEO, "◀ Buttons 1–96", page.message_id)
    assert buttons_of(h, page.message_id) == first
    await h.press(THEO, "📷 Photo 1", page.message_id)
    assert h.api.calls_of("sendPhoto")[-1].params["photo"] == "day4-pose1"
    await h.press(THEO, "◀ Older", page.message_id)
    older = h.api.message(THEO.chat_id, page.message_id)
    assert older is not None and "Check-in 5 of 5, newest first." in (older.plain or "")
    assert buttons_of(h, page.message_id) == ["Newer ▶"]

    # A press whose parts are not numbers is refused as an old button, not met as an error.
    person = page.reply_markup["inline_keyboard"][-1][-1]["callback_data"].split(":")[1]
    sent = len(h.api.messages(THEO.chat_id))
    for data in (f"pp:{person}::96", f"pp:{person}:0:x", f"pp:{person}:0:"):
        await h.press_data(THEO, data, page.message_id)
        answered = h.callback_answers()[-1].params.get("text")
        assert answered == "This button is no longer active.", data
    assert len(h.api.messages(THEO.chat_id)) == sent


def buttons_of(h: Harness, message_id: int) -> list[str]:
    """The labels under one of the therapist's messages, as it reads now."""
    message = h.api.message(THEO.chat_id, message_id)
    assert message is not None
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_a_view_is_filed_under_the_groups_whose_answers_it_showed(
    harness: Harness,
) -> None:
    """A patient of three groups answers in one: her page, its photo, her chart and the
    group's /media are that group's views, for its team to see in /audit GROUP, not the
    lowest-numbered group's nor the last-joined one's. A page or chart showing check-ins of
    two groups leaves one event in each, naming only that group's check-ins."""
    h = harness
    h.seed_demo()  # Shoulder Therapy 1, Hip Therapy 1 (its task due at 10:00), Knee Therapy 1
    await h.command(THEO, "/newgroup", "Ankle Clinic")
    await h.command(THEO, "/invite", "Ankle Clinic")
    code = invite_code(h.last_text(THEO.chat_id))
    await h.command(
        THEO,
        "/addtask",
        "Ankle Clinic | Ankle check | today 09:30 | daily x3 | Pain now? ; scale | "
        "Photo of the ankle ; photo",
    )
    for joins in (code, "SHOULDER1", "HIP1"):
        await h.command(ALICE, "/start", joins)
    with h.database.session() as session:
        group = {g.name: g.id for g in session.exec(select(TherapyGroup)).all()}
        alice = session.exec(select(Person).where(Person.telegram_user_id == ALICE.id)).one().id
    ankle, shoulder, hip = (
        group[n] for n in ("Ankle Clinic", "Shoulder Therapy 1", "Hip Therapy 1")
    )
    assert shoulder < hip < ankle, "the lowest id and the last joined are both another group"
    await h.advance_and_scan(timedelta(minutes=30))  # 09:30: the Ankle check-in
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "3")
    await h.photo(ALICE, "AgAD-ankle")

    await h.command(THEO, "/patient", "Alice")
    await h.press(THEO, "📷 Photo 1")
    await h.command(THEO, "/chart", "Alice Test", "pain")
    await h.command(THEO, "/media", "Ankle Clinic")
    assert [(group_id, after["seen"]) for _, _, _, group_id, after in views(h)] == [
        (ankle, "patient page"),
        (ankle, "photo"),
        (ankle, "chart"),
        (ankle, "media"),
    ]
    await h.command(THEO, "/audit", "Ankle Clinic")
    assert h.last_text(THEO.chat_id).count("patient's answers viewed") == 4
    for other in ("Shoulder Therapy 1", "Hip Therapy 1"):
        await h.command(THEO, "/audit", other)
        assert "patient's answers viewed" not in h.last_text(THEO.chat_id), other

    # 10:00: Hip Therapy 1's check-in reaches her too. Page and chart now show both groups'.
    await h.advance_and_scan(timedelta(minutes=30))
    with h.database.session() as session:
        checkins = {
            group_id: delivery_id
            for delivery_id, group_id in session.exec(
                select(Delivery.id, TherapyGroup.id)
                .join(Task, col(Task.id) == Delivery.task_id)
                .join(TherapyGroup, col(TherapyGroup.id) == Task.group_id)
                .where(Delivery.person_id == alice, col(Delivery.sent_at).is_not(None))
            ).all()
        }
    assert set(checkins) == {ankle, hip}
    before = len(views(h))
    await h.command(THEO, "/patient", "Alice")
    await h.command(THEO, "/chart", "Alice Test")
    filed = sorted(
        (group_id, after["seen"], after.get("check_ins"))
        for _, _, _, group_id, after in views(h)[before:]
    )
    assert filed == [
        (hip, "chart", None),
        (hip, "patient page", [checkins[hip]]),
        (ankle, "chart", None),
        (ankle, "patient page", [checkins[ankle]]),
    ]
