"""Tasks outside the dialogue: /tasks, /task, /preview, the one-line /addtask, /deletetask."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import keyboards, rendering, texts
from bot.context import BotContext
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import (
    _actor,
    _args,
    _button,
    _chunks,
    _markup,
    _named_task,
    _now,
    _problems,
    _send,
    _send_long,
    _zone,
    therapist_only,
)
from bot.services import authoring, checkin
from bot.services.authoring import AuthoringError, TaskDetails
from bot.services.schedule import window_end
from bot.services.views import PromptView
from bot.texts.language import LANGUAGES, current, speaking

log = logging.getLogger(__name__)


# --- tasks: reading -----------------------------------------------------------------------


async def tasks_for_therapist(update: Update, context: BotContext) -> None:
    """Show a therapist the tasks; leave /tasks to the patient handler for everyone else."""
    user = update.effective_user
    deps = context.deps
    if user is None or not await deps.run(
        authoring.is_therapist, deps.database, deps.settings.therapists.user_ids, user.id
    ):
        return
    ref = _args(update) or None
    try:
        group, tasks = await deps.run(
            authoring.list_tasks,
            deps.database,
            _now(context),
            _zone(context),
            ref,
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _problems(update, error)
        raise ApplicationHandlerStop from None
    await _send_long(update, _chunks(texts.admin_tasks(group, tasks)))
    raise ApplicationHandlerStop


@therapist_only
async def show_task(update: Update, context: BotContext) -> None:
    """Show a task's schedule, its questions and how its check-ins stand."""
    details = await _named_task(update, context, texts.admin_usage_task())
    if details is None:
        return
    await _send_long(update, _chunks(texts.admin_task_details(details)))


@therapist_only
async def preview(update: Update, context: BotContext) -> None:
    """Send the task as a patient would see it, with buttons that do nothing; a language code
    after the number (/preview 3 de) shows it as a patient reading that language does."""
    ref, _space, code = _args(update).partition(" ")
    language = code.strip().lower() or None
    if language is not None and language not in LANGUAGES:
        await _send(update, texts.admin_usage_preview())
        return
    details = await _named_task(update, context, texts.admin_usage_preview(), ref)
    if details is None:
        return
    with speaking(language or current()):
        messages = _preview_messages(details, _now(context), playground=context.deps.playground)
    await _send(update, texts.admin_preview_intro(details.id, details.title))
    for text, markup in messages:
        await _send(update, text, markup)


def _preview_messages(
    details: TaskDetails, now: datetime, *, playground: bool
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The prompt and each question as a patient sees them, buttons made inert."""
    messages: list[tuple[str, InlineKeyboardMarkup | None]] = []
    due = details.next_due or now
    questions = details.active_questions
    inert = keyboards.encode("tp", details.id)
    # The patient's own rendering, so the preview cannot drift from what patients see; only
    # the buttons' data is swapped for one that does nothing.
    text, markup = rendering.render_prompt(
        PromptView(
            delivery_id=0,
            chat_id=0,
            task_id=details.id,
            task_title=details.title,
            due_at=due,
            zone=details.group.zone,
            question_count=len(questions),
            expires_at=window_end(
                due,
                details.expiry_minutes,
                ZoneInfo(details.group.zone),
                details.due_time if details.next_due else None,
            ),
        )
    )
    messages.append((text, _inert(markup, inert)))
    for number, question in enumerate(questions, 1):
        text, question_markup = rendering.render_question(
            checkin.QuestionView(
                delivery_id=0,
                question_id=question.id,
                revision=question.revision,
                task_title=details.title,
                number=number,
                total=len(questions),
                description=question.description,
                link=question.link,
                rules=question.rules,
            ),
            playground=playground,
        )
        messages.append((text, _inert(question_markup, inert)))
    return messages


def _inert(markup: InlineKeyboardMarkup | None, data: str) -> InlineKeyboardMarkup | None:
    """The same buttons, each carrying ``data`` instead of what it would do for a patient."""
    if markup is None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.text, url=button.url)
                if button.url
                else InlineKeyboardButton(button.text, callback_data=data)
                for button in row
            ]
            for row in markup.inline_keyboard
        ]
    )


@therapist_only
async def preview_press(update: Update, context: BotContext) -> None:
    """A button of a preview does nothing but say so."""
    assert update.callback_query is not None
    await acknowledge(context, update.callback_query, texts.admin_preview_only())


# --- tasks: one-line form and deletion ----------------------------------------------------


@therapist_only
async def add_task_line(update: Update, context: BotContext) -> None:
    """Create a task from the one-line form."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_line_usage())
        return
    deps = context.deps
    try:
        saved = await deps.run(
            authoring.add_task_from_line,
            deps.database,
            _now(context),
            _zone(context),
            deps.settings.checkins.expiry_minutes,
            text,
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_line_usage())
        return
    await _send(update, texts.admin_task_saved(saved))


@therapist_only
async def delete_task_command(update: Update, context: BotContext) -> None:
    """Ask to confirm deleting a task."""
    details = await _named_task(update, context, texts.admin_usage_deletetask())
    if details is None:
        return
    if details.deleted:
        await _send(update, texts.admin_task_deleted(details.id, details.title))
        return
    await _send(
        update,
        texts.admin_confirm_delete(details),
        _markup(
            [
                _button(texts.admin_button_delete_yes(), "td", details.id, "yes"),
                _button(texts.admin_button_delete_no(), "td", details.id, "no"),
            ]
        ),
    )


@therapist_only
async def delete_task_press(update: Update, context: BotContext) -> None:
    """Delete the task (Yes) or leave it (No)."""
    query = update.callback_query
    assert query is not None
    callback = keyboards.decode(query.data)
    task_id = callback.int_part(0) if callback else None
    choice = callback.parts[1] if callback and len(callback.parts) > 1 else ""
    if task_id is None or choice not in ("yes", "no"):
        await acknowledge(context, query, texts.admin_stale_button())
        return
    await acknowledge(context, query)
    if choice == "no":
        await _close_buttons(query.message, texts.admin_delete_kept())
        return
    deps = context.deps
    try:
        deleted = await deps.run(
            authoring.delete_task,
            deps.database,
            _now(context),
            _zone(context),
            task_id,
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await _close_buttons(query.message, None)
        await _problems(update, error)
        return
    await _close_buttons(query.message, None)
    await _send(update, texts.admin_task_deleted_done(deleted))


async def _close_buttons(message: object, note: str | None) -> None:
    """Take the buttons off a message (so they cannot be pressed twice), noting the choice."""
    if not isinstance(message, Message) or message.reply_markup is None:
        # Already closed (a second tap on a stale copy): editing it again would be refused.
        return
    try:
        if note is None:
            await message.edit_reply_markup(reply_markup=None)
        else:
            await message.edit_text(
                f"{message.text_html}\n\n{note}",
                parse_mode="HTML",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
    except TelegramError as error:
        log.info("Could not close the buttons of message %s: %s", message.message_id, error)


@therapist_only
async def stale_dialogue_press(update: Update, context: BotContext) -> None:
    """A dialogue button pressed after its dialogue ended or moved on."""
    assert update.callback_query is not None
    await acknowledge(context, update.callback_query, texts.admin_stale_button())
