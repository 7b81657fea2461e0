"""The alert step of /newtask and /edittask offers the common rules as buttons: each makes the
same rule as its typed form, and the typed forms (short ones too) still work."""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import Question
from tests.fakes.harness import Harness, therapist

THEO = therapist()


def buttons(h: Harness) -> list[str]:
    return h.last_message(THEO.chat_id).button_texts


def rules(h: Harness) -> list[str | None]:
    with h.database.session() as session:
        return [
            q.alert_rule
            for q in session.exec(
                select(Question).order_by(col(Question.task_id), col(Question.position))
            )
        ]


async def once_task(h: Harness, title: str) -> None:
    await h.command(THEO, "/newtask")
    await h.press(THEO, "Knees")
    await h.text(THEO, title)
    await h.text(THEO, "2026-12-01 10:00")
    await h.press(THEO, "Once")


async def question(h: Harness, text: str, kind: str, *entries: str) -> None:
    await h.text(THEO, text)
    await h.press(THEO, "No link")
    await h.press(THEO, kind)
    for entry in entries:
        await h.text(THEO, entry)
    await h.press(THEO, "Required")


async def test_an_alert_button_makes_the_rule_its_typed_form_makes(harness: Harness) -> None:
    h = harness
    await h.command(THEO, "/newgroup", "Knees")

    # Pressed: one task with a button rule on each kind that has suggestions.
    await once_task(h, "Pressed")
    await question(h, "Did you do them?", "Yes / No")
    assert buttons(h) == ["🔔 Alert on No", "🔔 Alert on Yes", "No alert"]
    await h.press(THEO, "🔔 Alert on No")
    assert "alert on No" in h.last_text(THEO.chat_id)
    await h.press(THEO, "➕ Add another question")
    await question(h, "Pain now?", "Scale", "0-10")
    assert buttons(h) == ["🔔 Alert on 8 or more", "🔔 Alert on 2 or less", "No alert"]
    await h.press(THEO, "🔔 Alert on 8 or more")
    await h.press(THEO, "➕ Add another question")
    await question(h, "Which side?", "Choice", "Left, Right")
    assert buttons(h) == ["🔔 Alert on Left", "🔔 Alert on Right", "No alert"]
    await h.press(THEO, "🔔 Alert on Right")
    await h.press(THEO, "✅ Done – review the task")
    await h.press(THEO, "💾 Save")

    # Typed: the same questions with the rules written, long and short.
    await once_task(h, "Typed")
    await question(h, "Did you do them?", "Yes / No")
    await h.text(THEO, "no")
    await h.press(THEO, "➕ Add another question")
    await question(h, "Pain now?", "Scale", "0-10")
    await h.text(THEO, "8+")
    await h.press(THEO, "➕ Add another question")
    await question(h, "Which side?", "Choice", "Left, Right")
    await h.text(THEO, "== right")
    await h.press(THEO, "✅ Done – review the task")
    await h.press(THEO, "💾 Save")

    pressed, typed = rules(h)[:3], rules(h)[3:]
    assert pressed == ["== no", ">= 8", "== Right"]
    assert typed == pressed

    # /edittask's added question offers the same buttons.
    await h.command(THEO, "/edittask", "1")
    await h.press(THEO, "➕ Add a question")
    await question(h, "Sleep well?", "Yes / No")
    await h.press(THEO, "🔔 Alert on Yes")
    await h.press(THEO, "✅ Done – save")
    assert rules(h)[3] == "== yes"
    assert not h.api.violations


async def test_an_earlier_questions_alert_button_sets_nothing_on_the_next(
    harness: Harness,
) -> None:
    """Q1's rule was typed, so its buttons stayed on the screen. Pressed during Q2's alert
    step, Q1's "Alert on Yes" set "2 or less" on Q2 (the same place in Q2's list) and
    rewrote Q1's message to say so; now it does nothing, and Q2 gets the rule typed for it."""
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    await once_task(h, "Mixed")
    await question(h, "Did you do them?", "Yes / No")
    first = h.last_message(THEO.chat_id)
    await h.text(THEO, "no")
    await h.press(THEO, "➕ Add another question")
    await question(h, "Pain now?", "Scale", "0-10")

    await h.press_data(THEO, first.callback_data("🔔 Alert on Yes"), first.message_id)

    shown = {m.message_id: m for m in h.screen(THEO.chat_id)}
    assert shown[first.message_id].text == first.text, "Q1's message rewritten"
    await h.text(THEO, "8+")
    await h.press(THEO, "✅ Done – review the task")
    await h.press(THEO, "💾 Save")
    assert rules(h) == ["== no", ">= 8"]


async def test_a_photo_alert_reads_in_words_in_every_language(harness: Harness) -> None:
    """A photo or video question's one rule is stored as "== *": the review, /task and
    /edittask say it in words, in the therapist's language, never as that formula."""
    h = harness
    await h.command(THEO, "/newgroup", "Knees")
    await once_task(h, "Form")
    await question(h, "Your form", "Photo")
    await h.press(THEO, "🔔 Alert on every photo or video")
    assert "Photo · required · alert on every photo or video" in h.last_text(THEO.chat_id)
    await h.press(THEO, "✅ Done – review the task")
    review = h.texts(THEO.chat_id)[-2]
    assert "Photo · required · alert on every photo or video" in review
    await h.press(THEO, "💾 Save")
    assert rules(h) == ["== *"]

    await h.command(THEO, "/edittask", "1")
    details = h.texts(THEO.chat_id)[-2]
    assert "Photo · required · alert on every photo or video" in details
    for code, words in (
        ("de", "Foto · Pflicht · Alarm bei jedem Foto oder Video"),
        ("es", "Foto · obligatoria · alerta con cada foto o vídeo"),
    ):
        await h.command(THEO, "/language", code)
        await h.command(THEO, "/task", "1")
        assert words in h.last_text(THEO.chat_id)
    assert not any("*" in text for text in h.texts(THEO.chat_id)[-8:])
