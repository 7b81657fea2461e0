"""Turn service views into message text and inline keyboards (the only place that does)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import keyboards, texts
from bot.services.views import PromptView


def render_prompt(view: PromptView) -> tuple[str, InlineKeyboardMarkup]:
    """The due prompt (or a reminder): task, local due time, number of questions, buttons."""
    local_due = view.due_at.astimezone(ZoneInfo(view.zone))
    local_expiry = view.expires_at.astimezone(ZoneInfo(view.zone))
    text = texts.prompt(
        view.task_title,
        local_due,
        local_expiry,
        view.question_count,
        view.reminder_number,
        view.started,
    )
    start_label = texts.button_resume() if view.started else texts.button_start()
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    start_label, callback_data=keyboards.encode("p", view.delivery_id, "start")
                )
            ],
            [
                InlineKeyboardButton(
                    texts.button_later(),
                    callback_data=keyboards.encode("p", view.delivery_id, "later"),
                ),
                InlineKeyboardButton(
                    texts.button_skip_task(),
                    callback_data=keyboards.encode("p", view.delivery_id, "skip"),
                ),
            ],
        ]
    )
    return text, markup
