"""The patient's language, end to end: German and Spanish patients, an English therapist.

The demo's "Hip mobility session" (Hip Therapy 1, invite HIP1, due Wednesday 25 November 2026
at 10:00 London time) asks yes/no (alert on "no"), a choice, and kilometres walked (decimals
allowed). The seed gives its title, questions and options in German and Spanish too
(``title_de``, ``text_de``, ``options_de``): patients read those, the database and the
therapist keep the English. The transcripts are printed, as a translator would want to read
them.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.handlers.therapist import menus_published
from storage.models import Answer, AuditEvent, Delivery, Person, Task
from tests.fakes.harness import Harness, therapist
from tests.fakes.updates import User

ANNA = User(id=201, first_name="Anna", last_name="Berger", language_code="de-AT")
BEA = User(id=202, first_name="Bea", last_name="Ruiz", language_code="es")
THEO = therapist()
HIP = "Hip mobility session"
HIP_DE = "Übungseinheit Hüftbeweglichkeit"
HIP_ES = "Sesión de movilidad de cadera"


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.seed_demo()
    return harness


def stored_answers(h: Harness, user: User) -> list[tuple[str, float | None, bool | None]]:
    with h.database.session() as session:
        person = session.exec(select(Person).where(Person.telegram_user_id == user.id)).one()
        rows = session.exec(
            select(Answer)
            .join(Delivery, Delivery.id == Answer.delivery_id)  # type: ignore[arg-type]
            .where(Delivery.person_id == person.id)
        ).all()
        return sorted((a.value_text, a.value_number, a.value_bool) for a in rows)


def language_of(h: Harness, user: User) -> str | None:
    with h.database.session() as session:
        person = session.exec(select(Person).where(Person.telegram_user_id == user.id)).one()
        return person.language


async def test_a_german_patient_checks_in_in_german_and_the_therapist_reads_english(
    h: Harness,
) -> None:
    await h.command(ANNA, "/start", "HIP1")
    joined = h.last_text(ANNA.chat_id)
    assert joined.startswith("✅ Willkommen! Sie sind Hip Therapy 1 beigetreten.")
    assert f"Ihr nächster Check-in, {HIP_DE}, ist fällig am Mi., 25. Nov., 10:00 (GMT)." in joined

    await h.advance_and_scan(timedelta(hours=1))
    prompt = h.last_text(ANNA.chat_id)
    assert prompt.startswith("📋 Zeit für Ihren Check-in")
    assert HIP_DE in prompt and HIP not in prompt
    assert "Fällig Mi., 25. Nov., 10:00 (GMT) · 3 Fragen" in prompt

    await h.press(ANNA, "▶️ Jetzt beginnen")
    first = h.last_text(ANNA.chat_id)
    assert "Frage 1 von 3" in first
    assert "Sehen Sie sich das Video an und machen Sie 3 Sätze" in first
    # No German video in the seed: the link stays the one written.
    assert "https://www.youtube.com/watch?v=wPM8icPu6H8" in first
    await h.press(ANNA, "Nein")
    # The therapist set up the group in English: the alert reaches them in English, quoting
    # the question as they wrote it.
    alert = h.last_text(THEO.chat_id)
    assert alert.startswith("🚨 Anna Berger answered No to “Watch the video")
    assert "Task: Hip mobility session · alert on No" in alert

    choice = h.last_message(ANNA.chat_id)
    assert "Welche Seite ist Ihnen schwerer gefallen?" in (choice.plain or "")
    assert choice.button_texts == ["Links", "Rechts", "Beide gleich"]
    await h.press(ANNA, "Links")
    assert "✔️ Ihre Antwort: Links" in h.texts(ANNA.chat_id)[-2]
    assert "Frage 3 von 3 (optional)" in h.last_text(ANNA.chat_id)
    await h.text(ANNA, "sieben")
    assert h.last_text(ANNA.chat_id).startswith("Bitte schreiben Sie die Zahl in Ziffern")
    await h.text(ANNA, "1,234.5")
    assert h.last_text(ANNA.chat_id).startswith("Bitte senden Sie eine Zahl von 0 bis 50")
    await h.text(ANNA, "7,5")

    texts = h.texts(ANNA.chat_id)
    assert "✔️ Ihre Antwort: Nein" in texts[2]
    summary = texts[-1]
    assert summary.startswith(f"✅ Erledigt: {HIP_DE}")
    assert "• Welche Seite ist Ihnen schwerer gefallen? — Links" in summary
    assert "• Wie weit sind Sie heute zu Fuß gegangen, in Kilometern? — 7,5" in summary
    assert summary.endswith("Vielen Dank! Ihr Therapieteam kann Ihre Antworten sehen.")
    # Stored canonical, whatever the patient read.
    assert stored_answers(h, ANNA) == [
        ("7.5", 7.5, None),
        ("Left", None, None),
        ("No", None, False),
    ]
    print(h.transcript([ANNA, THEO]))


async def test_a_german_patients_progress_names_the_task_in_german_with_german_numbers(
    h: Harness,
) -> None:
    """The caption quoted the question and the task as written (English) under German words,
    and wrote 7.5 where the German summary had said 7,5."""
    await h.command(ANNA, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ANNA, "▶️ Jetzt beginnen")
    await h.press(ANNA, "Nein")
    await h.press(ANNA, "Links")
    await h.text(ANNA, "7,5")

    await h.command(ANNA, "/progress")

    [photo] = [c for c in h.api.sent_to(ANNA.chat_id) if c.method == "sendPhoto"]
    caption = photo.params["caption"]
    assert (
        f"• Wie weit sind Sie heute zu Fuß gegangen, in Kilometern? ({HIP_DE}): zuletzt 7,5 "
        in caption
    ), caption
    assert "niedrigster 7,5, höchster 7,5" in caption


async def test_a_german_hint_writes_a_decimal_bound_the_german_way(h: Harness) -> None:
    await h.command(THEO, "/addtask", "Hip Therapy 1 | Walk | today 10:00 | once | "
                    "How far did you walk, in km? ; number ; 0.5-50")  # fmt: skip
    await h.command(ANNA, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ANNA, "▶️ Jetzt beginnen", h.screen(ANNA.chat_id)[-1].message_id)
    asked = h.last_text(ANNA.chat_id)
    assert "Bitte senden Sie eine Zahl von 0,5 bis 50." in asked, asked

    await h.text(ANNA, "0,2")

    assert h.last_text(ANNA.chat_id).startswith(
        "Das ist weniger als 0,5; bitte senden Sie eine Zahl von 0,5 bis 50."
    )


async def test_a_spanish_patient_checks_in_in_spanish(h: Harness) -> None:
    await h.command(BEA, "/start", "HIP1")
    assert h.last_text(BEA.chat_id).startswith("✅ ¡Bienvenido/a! Se ha unido a Hip Therapy 1.")
    await h.advance_and_scan(timedelta(hours=1))
    assert "Para el mié, 25 nov, 10:00 (GMT) · 3 preguntas" in h.last_text(BEA.chat_id)
    await h.press(BEA, "▶️ Empezar ahora")
    await h.text(BEA, "sí")
    assert "Pregunta 2 de 3" in h.last_text(BEA.chat_id)
    assert "¿Qué lado le ha costado más?" in h.last_text(BEA.chat_id)
    await h.text(BEA, "La izquierda")
    assert h.last_text(BEA.chat_id).startswith(
        "Toque una de las opciones o escriba su nombre o número: 1 = Izquierdo, 2 = Derecho, "
        "3 = Los dos por igual"
    )
    # Typed in her language, stored as the option was written.
    await h.text(BEA, "izquierdo")
    await h.text(BEA, "dos")
    assert h.last_text(BEA.chat_id).startswith("Escriba el número con cifras")
    await h.text(BEA, "2,5")
    summary = h.last_text(BEA.chat_id)
    assert summary.startswith(f"✅ Hecho: {HIP_ES}")
    assert "• ¿Qué lado le ha costado más? — Izquierdo" in summary
    assert summary.endswith("¡Gracias! Su terapeuta puede ver sus respuestas.")
    assert stored_answers(h, BEA) == [
        ("2.5", 2.5, None),
        ("Left", None, None),
        ("Yes", None, True),
    ]
    print(h.transcript([BEA, THEO]))


async def test_a_therapist_previews_a_task_in_a_patients_language(h: Harness) -> None:
    with h.database.session() as session:
        task = session.exec(select(Task).where(Task.title == HIP)).one()
    await h.command(THEO, "/preview", str(task.id), "de")
    texts = h.texts(THEO.chat_id)
    assert texts[-5].startswith(f"Preview of #{task.id} “{HIP}” as a patient sees it")
    assert texts[-4].startswith("📋 Zeit für Ihren Check-in")
    assert HIP_DE in texts[-4]
    assert "Frage 1 von 3" in texts[-3]
    assert "Konnten Sie die Übung vollständig ausführen?" in texts[-3]
    assert "Welche Seite ist Ihnen schwerer gefallen?" in texts[-2]
    choice = h.screen(THEO.chat_id)[-2]
    assert choice.button_texts == ["Links", "Rechts", "Beide gleich"]
    await h.command(THEO, "/preview", str(task.id))
    assert h.screen(THEO.chat_id)[-2].button_texts == ["Left", "Right", "Both the same"]
    await h.command(THEO, "/preview", str(task.id), "fr")
    assert h.last_text(THEO.chat_id).startswith("Usage: /preview ID [LANGUAGE]")


async def test_a_spanish_patient_reads_help_in_spanish(h: Harness) -> None:
    await h.command(BEA, "/help")
    help_text = h.last_text(BEA.chat_id)
    assert help_text.startswith("Qué puede hacer\n/start CÓDIGO – unirse a su grupo de terapia")
    assert "/language – cambiar el idioma" in help_text


async def test_switching_language_mid_check_in_continues_at_the_same_question(
    h: Harness,
) -> None:
    await h.command(BEA, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))
    assert h.last_text(BEA.chat_id).startswith("📋 Es hora de su control")
    await h.press(BEA, "▶️ Empezar ahora")
    await h.press(BEA, "Sí")
    assert "Pregunta 2 de 3" in h.last_text(BEA.chat_id)

    await h.command(BEA, "/language")
    assert h.last_text(BEA.chat_id) == ("🌐 Le escribo en Español. ¿En qué idioma prefiere?")
    await h.press(BEA, "Deutsch")
    *_, done, asked_again = h.texts(BEA.chat_id)
    assert done == "🌐 Erledigt: Ab jetzt schreibe ich Ihnen auf Deutsch."
    assert language_of(h, BEA) == "de"
    # The question on her screen was Spanish: it comes again in German, where she was.
    assert asked_again.startswith(f"▶️ Weiter mit {HIP_DE}, wo Sie aufgehört haben.")
    assert "Frage 2 von 3" in asked_again
    assert "Welche Seite ist Ihnen schwerer gefallen?" in asked_again

    # Her Telegram app still says "es"; the choice sticks, and the check-in goes on.
    await h.press(BEA, "Beide gleich")
    assert "Frage 3 von 3 (optional)" in h.last_text(BEA.chat_id)
    await h.text(BEA, "2")
    assert h.last_text(BEA.chat_id).startswith(f"✅ Erledigt: {HIP_DE}")
    assert stored_answers(h, BEA) == [
        ("2", 2.0, None),
        ("Both the same", None, None),
        ("Yes", None, True),
    ]

    with h.database.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "language_chosen")
        ).one()
    # Her own act, recorded without her Telegram id as all of a patient's are (an erasure
    # cannot take an audit row back).
    assert (event.actor_telegram_id, event.after) == (None, {"language": "de"})
    # Her own chat's / menu follows her choice.
    menu = {c["command"]: c["description"] for c in h.api.commands(_chat(BEA.chat_id))}
    assert menu["language"] == "Sprache ändern"
    print(h.transcript([BEA, THEO]))


async def test_language_needs_a_person_who_joined_and_a_language_the_bot_speaks(
    h: Harness,
) -> None:
    stranger = User(id=299, first_name="Sam", language_code="fr")
    await h.command(stranger, "/language", "de")
    # French is not spoken here, so the clinic's default (English) answers.
    assert h.last_text(stranger.chat_id).startswith("Please join your therapy group first")

    await h.command(ANNA, "/start", "HIP1")
    await h.command(ANNA, "/language", "fr")
    assert h.last_text(ANNA.chat_id) == (
        "„fr“ spreche ich nicht. Bitte tippen Sie auf eine der Sprachen."
    )
    await h.command(ANNA, "/language", "es")
    assert h.last_text(ANNA.chat_id) == "🌐 Hecho: a partir de ahora le escribo en Español."


async def test_the_menu_is_published_in_every_language(h: Harness) -> None:
    assert h.app.post_init is not None
    await h.app.post_init(h.app)
    await menus_published(h.app)
    calls = h.api.calls_of("setMyCommands")
    assert {call.params.get("language_code") for call in calls} >= {None, "de", "en", "es"}

    def menu(language_code: str = "") -> dict[str, str]:
        return {c["command"]: c["description"] for c in h.api.commands(None, language_code)}

    assert menu()["language"] == "Change the language"
    assert menu("en")["language"] == "Change the language"
    assert menu("de")["language"] == "Sprache ändern"
    assert menu("es")["language"] == "Cambiar el idioma"
    # The therapist's chat has their own menu in their language (English here).
    therapist_menu = {c["command"]: c["description"] for c in h.api.commands(_chat(THEO.chat_id))}
    assert therapist_menu["language"] == "Change the language"


async def test_the_export_is_the_same_whatever_language_the_therapist_reads(
    h: Harness,
) -> None:
    await h.command(ANNA, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ANNA, "▶️ Jetzt beginnen")
    await h.press(ANNA, "Ja")
    await h.press(ANNA, "Rechts")
    await h.text(ANNA, "3,25")

    await h.command(THEO, "/export", "Hip Therapy 1")
    english = h.api.calls_of("sendDocument")[-1].files["document"]["content"]
    await h.command(THEO, "/language", "de")
    await h.command(THEO, "/export", "Hip Therapy 1")
    assert (
        h.last_text(THEO.chat_id) == "3 Antworten aus Hip Therapy 1, eine pro Zeile (CSV, UTF-8)."
    )
    german = h.api.calls_of("sendDocument")[-1].files["document"]["content"]
    assert german == english
    assert b"3.25" in english and b"3,25" not in english


def _chat(chat_id: int) -> dict[str, object]:
    return {"type": "chat", "chat_id": chat_id}


async def test_a_typed_answer_is_answered_in_the_chosen_language_not_the_apps(
    h: Harness,
) -> None:
    """The answer's reply learns the language in the answer's own read: the stored choice
    (German) wins over the app's English there too, on the commonest path (a typed answer to
    a question with another after it)."""
    erik = User(id=203, first_name="Erik", last_name="Lund", language_code="en")
    await h.command(erik, "/start", "SHOULDER1")
    await h.command(erik, "/language", "de")
    await h.advance_and_scan(timedelta(hours=9))
    prompt = next(
        m
        for m in h.screen(erik.chat_id)
        if "Schulterschmerzen: tägliche Abfrage" in (m.plain or "")
    )
    assert (prompt.plain or "").startswith("📋 Zeit für Ihren Check-in")
    await h.press(erik, "▶️ Jetzt beginnen", prompt.message_id)
    assert "Frage 1 von 3" in h.last_text(erik.chat_id)
    assert "Wie stark waren Ihre Schulterschmerzen heute?" in h.last_text(erik.chat_id)
    await h.press(erik, "3")
    assert "Frage 2 von 3" in h.last_text(erik.chat_id)

    await h.text(erik, "zwanzig")
    assert h.last_text(erik.chat_id).startswith("Bitte schreiben Sie die Zahl in Ziffern")
    # What else was sent is named in German too, not in the app's English.
    await h.voice(erik)
    assert h.last_text(erik.chat_id).startswith("Erhalten: Sprachnachricht.")
    await h.text(erik, "20")

    # The fast answer path reads the translations too.
    third = h.last_text(erik.chat_id)
    assert third.startswith("Schulterschmerzen: tägliche Abfrage\nFrage 3 von 3 (optional)")
    assert "Möchten Sie Ihrem Therapeuten oder Ihrer Therapeutin noch etwas mitteilen?" in third
    assert ("20", 20.0, None) in stored_answers(h, erik)


async def test_presses_are_answered_in_the_chosen_language_not_the_apps(h: Harness) -> None:
    """Answer and Skip buttons learn the language in their use case's own read too, and so
    do their refusals: a stale button, and a forged one refused before any row is read."""
    erik = User(id=204, first_name="Erik", last_name="Lund", language_code="en")
    await h.command(erik, "/start", "SHOULDER1")
    await h.command(erik, "/language", "de")
    await h.advance_and_scan(timedelta(hours=9))
    await h.press(erik, "▶️ Jetzt beginnen")
    question = h.last_message(erik.chat_id)
    old_press = question.callback_data("3")
    await h.press(erik, "3")
    assert "Frage 2 von 3" in h.last_text(erik.chat_id)

    await h.press_data(erik, old_press, question.message_id)
    assert h.callback_answers()[-1].params["text"] == "Ihre Antwort ist bereits gespeichert."
    await h.press_data(erik, "a:forged", question.message_id)
    assert h.callback_answers()[-1].params["text"] == "Diese Schaltfläche funktioniert nicht mehr."
    await h.press_data(erik, "s:forged", question.message_id)
    assert h.callback_answers()[-1].params["text"] == "Diese Schaltfläche funktioniert nicht mehr."

    await h.text(erik, "20")
    await h.press(erik, "⏭ Frage überspringen")
    assert any("⏭ Übersprungen" in text for text in h.texts(erik.chat_id))
    done = "✅ Erledigt: Schulterschmerzen: tägliche Abfrage"
    assert any(text.startswith(done) for text in h.texts(erik.chat_id))


async def test_a_therapist_who_chose_german_is_led_through_newtask_in_german(
    h: Harness,
) -> None:
    """A therapist's typed step in a dialogue is not an answer: it is written in their choice."""
    await h.command(THEO, "/language", "de")
    await h.command(THEO, "/newtask")
    await h.press(THEO, "Shoulder Therapy 1")
    await h.text(THEO, "x" * 201)
    assert "Dieser Titel hat 201 Zeichen; höchstens 200." in h.last_text(THEO.chat_id)
    await h.text(THEO, "Knee bends")
    assert h.last_text(THEO.chat_id).startswith("Wann ist sie fällig?")


async def test_a_spanish_therapist_reads_counts_in_the_form_the_count_needs(h: Harness) -> None:
    """ "1 paciente programados", "1 próximos", "1 abiertos": a word after a count agrees with
    it in Spanish, and the sentences put the plural after every count."""
    await h.command(THEO, "/language", "es")
    await h.command(BEA, "/start", "SHOULDER1")
    await h.advance_and_scan(timedelta(hours=2))  # 11:00: day 1's check-in is sent to Bea

    await h.command(THEO, "/task", "1")
    assert "1 enviado, sin empezar" in h.last_text(THEO.chat_id)
    await h.command(THEO, "/groups")
    assert "Controles: 1 abierto · 0 completados" in h.last_text(THEO.chat_id)
    await h.command(
        THEO, "/addtask", "Shoulder Therapy 1 | Extra | tomorrow 10:00 | once | ¿Bien? ; yes_no"
    )
    assert "programada para 1 paciente." in h.last_text(THEO.chat_id)


async def test_a_german_audit_trail_names_what_changed_in_german(h: Harness) -> None:
    """ "Einladung revoked … · invite 4 in Hip Therapy 1": the kind of object stayed English."""
    await h.command(THEO, "/language", "de")
    await h.command(THEO, "/invite", "Hip Therapy 1")

    await h.command(THEO, "/audit", "Hip Therapy 1")

    trail = h.last_text(THEO.chat_id)
    assert " · Einladung " in trail and "invite " not in trail, trail


async def test_a_german_therapist_reads_a_tasks_alert_rule_in_german_words(h: Harness) -> None:
    """/task and the review showed the rule as stored, "Alarm bei == no", where the alert
    itself and the rule's buttons say "Nein"."""
    await h.command(THEO, "/language", "de")
    await h.command(THEO, "/task", "1")  # the demo's day 1: its "== no" rules

    details = h.last_text(THEO.chat_id)
    assert "Alarm bei Nein" in details and "== no" not in details, details


async def test_what_a_german_patient_answers_is_stored_and_exported_as_an_english_ones(
    h: Harness,
) -> None:
    """The same answers given in German (buttons and typing in German) and in English: the
    database, the therapist's CSV and each patient's /mydata hold the same canonical values."""
    eve = User(id=204, first_name="Eve", last_name="Hart", language_code="en")
    for patient in (ANNA, eve):
        await h.command(patient, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))
    await h.press(ANNA, "▶️ Jetzt beginnen")
    await h.press(ANNA, "Ja")
    await h.text(ANNA, "beide GLEICH")  # typed, in German, in any case
    await h.text(ANNA, "4,5")
    await h.press(eve, "▶️ Start now")
    await h.press(eve, "Yes")
    await h.press(eve, "Both the same")
    await h.text(eve, "4.5")
    assert (
        stored_answers(h, ANNA)
        == stored_answers(h, eve)
        == [
            ("4.5", 4.5, None),
            ("Both the same", None, None),
            ("Yes", None, True),
        ]
    )

    await h.command(THEO, "/export", "Hip Therapy 1")
    exported = h.api.calls_of("sendDocument")[-1].files["document"]["content"].decode()
    header, *rows = list(csv.reader(io.StringIO(exported)))
    person_columns = {header.index("patient_telegram_id"), header.index("patient_name")}

    def without_person(user: User) -> list[list[str]]:
        return [
            [value for index, value in enumerate(row) if index not in person_columns]
            for row in rows
            if row[header.index("patient_telegram_id")] == str(user.id)
        ]

    assert len(without_person(ANNA)) == 3
    assert without_person(ANNA) == without_person(eve)
    assert "Which side felt harder?" in exported and "Welche Seite" not in exported

    check_ins = []
    for patient in (ANNA, eve):
        await h.command(patient, "/mydata")
        mine = json.loads(h.api.calls_of("sendDocument")[-1].files["document"]["content"])
        check_ins.append(json.dumps(mine["check_ins"], sort_keys=True).encode())
    assert check_ins[0] == check_ins[1]
    assert b"Links" not in check_ins[0] and b"Beide gleich" not in check_ins[0]


async def test_a_reminder_and_tasks_name_the_task_in_the_patients_language(h: Harness) -> None:
    await h.command(ANNA, "/start", "HIP1")
    await h.advance_and_scan(timedelta(hours=1))
    prompts = len(h.texts(ANNA.chat_id))
    await h.advance_and_scan(timedelta(hours=1, minutes=1))
    assert len(h.texts(ANNA.chat_id)) == prompts + 1
    reminder = h.last_text(ANNA.chat_id)
    assert HIP_DE in reminder and HIP not in reminder

    await h.command(ANNA, "/tasks")
    listing = h.last_message(ANNA.chat_id)
    assert HIP_DE in (listing.plain or "") and HIP not in (listing.plain or "")
    assert [label for label in listing.button_texts if HIP_DE in label]
    print(h.transcript([ANNA]))
