"""Therapist side: the admin commands, the /newtask and /edittask dialogues, command menus.

Every admin handler is wrapped in :func:`therapist_only`, which asks the database whether the
sender is a therapist before anything else happens; everyone else gets one neutral sentence
and nothing changes. That includes button presses, since callback data can be forged.

Admin commands answer in private chats only: an export or a patient list must never land in a
group chat.

``/tasks`` is shared with patients. The therapist's ``/tasks`` runs in handler group -1: for a
therapist it answers and stops further handling (``ApplicationHandlerStop``); for anyone else
it returns without answering, so the patient's ``/tasks`` in group 0 does.

The dialogues keep their draft in ``user_data``: the one place in-memory state is allowed, as
a cache of a therapist's unfinished authoring. Nothing is stored until Save.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import RetryAfter, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import keyboards, rendering, texts, texts_charts
from bot.app import DEPS_KEY, BotApplication, BotContext, Deps
from bot.handlers import charts
from bot.sender import retry_after_seconds
from bot.services import authoring, checkin, reports
from bot.services.authoring import AuthoringError, GroupInfo, QuestionDraft
from bot.services.responses import (
    ALERT_TYPES,
    DEFAULT_SCALE_MAX,
    DEFAULT_SCALE_MIN,
    ResponseType,
)
from bot.services.schedule import Recurrence, next_due, recurrence_to_rule
from bot.services.views import PromptView

log = logging.getLogger(__name__)

DRAFT_KEY = "admin_draft"
# An abandoned dialogue must not swallow a message typed days later.
DRAFT_TTL = timedelta(hours=1)
MAX_MESSAGE = 4096
MAX_RETRY_WAIT = 5.0
PRIVATE = filters.ChatType.PRIVATE

# The command menus, in the order Telegram shows them. Descriptions live in texts.
PATIENT_MENU: list[tuple[str, str]] = [
    ("start", texts.admin_menu_start()),
    ("tasks", texts.admin_menu_tasks()),
    ("pause", texts.admin_menu_pause()),
    ("timezone", texts.admin_menu_timezone()),
    ("stop", texts.admin_menu_stop()),
    ("deletemydata", texts.admin_menu_deletemydata()),
    ("progress", texts_charts.menu_progress()),
    ("help", texts.admin_menu_help()),
]
ADMIN_MENU: list[tuple[str, str]] = [
    ("newtask", texts.admin_menu_newtask()),
    ("addtask", texts.admin_menu_addtask()),
    ("task", texts.admin_menu_task()),
    ("edittask", texts.admin_menu_edittask()),
    ("deletetask", texts.admin_menu_deletetask()),
    ("preview", texts.admin_menu_preview()),
    ("report", texts.admin_menu_report()),
    ("chart", texts_charts.menu_chart()),
    ("export", texts.admin_menu_export()),
    ("groups", texts.admin_menu_groups()),
    ("newgroup", texts.admin_menu_newgroup()),
    ("patients", texts.admin_menu_patients()),
    ("removepatient", texts.admin_menu_removepatient()),
    ("invite", texts.admin_menu_invite()),
    ("revoke", texts.admin_menu_revoke()),
    ("addtherapist", texts.admin_menu_addtherapist()),
    ("removetherapist", texts.admin_menu_removetherapist()),
    ("cancel", texts.admin_menu_cancel()),
]


def therapist_menu() -> list[tuple[str, str]]:
    """Patient commands plus admin ones; /tasks described as the therapist's version."""
    menu = [
        (c, texts.admin_menu_tasks_therapist() if c == "tasks" else d) for c, d in PATIENT_MENU
    ]
    return menu + ADMIN_MENU


# Dialogue states.
(
    GROUP,
    TITLE,
    DUE,
    REPEAT,
    EVERY_N,
    REPEAT_END,
    UNTIL,
    COUNT,
    Q_DESC,
    Q_LINK,
    Q_TYPE,
    Q_DETAIL,
    Q_INTEGER,
    Q_REQUIRED,
    Q_ALERT,
    Q_MORE,
    REVIEW,
    EDIT_MENU,
    REMOVE_PICK,
) = range(19)
END = ConversationHandler.END

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, Any]]


# --- plumbing -----------------------------------------------------------------------------


def therapist_only(handler: Handler) -> Handler:
    """Run ``handler`` only for therapists; refuse everyone else in one sentence."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> Any:
        user = update.effective_user
        deps = context.deps
        allowed = user is not None and await deps.run(
            authoring.is_therapist, deps.database, deps.settings.therapists.user_ids, user.id
        )
        if not allowed:
            if update.callback_query is not None:
                await update.callback_query.answer(texts.admin_refused())
            elif update.effective_message is not None:
                await update.effective_message.reply_text(texts.admin_refused())
            _drop(context)
            return END
        return await handler(update, context)

    wrapper.admin_only = True  # type: ignore[attr-defined]
    return wrapper


async def _send(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    if not _fits(text):
        # Only a quote of what was sent can make a reply this long (a pasted document given
        # as a group name or a link); Telegram would refuse the whole reply.
        text = texts.hardening_too_long_to_repeat()
    for attempt in range(2):
        try:
            return await message.reply_text(
                text,
                parse_mode="HTML",
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                do_quote=False,
            )
        except RetryAfter as error:
            # A preview or a long report is a burst into one chat. Updates are handled one
            # at a time, so only a short wait is worth it; a long one goes to the error handler.
            wait = retry_after_seconds(error)
            if attempt or wait > MAX_RETRY_WAIT:
                raise
            await asyncio.sleep(wait)
    return None


async def _send_long(update: Update, chunks: list[str]) -> None:
    for chunk in chunks:
        await _send(update, chunk)


async def _problems(update: Update, error: AuthoringError, hint: str | None = None) -> None:
    lines = list(error.problems)
    if hint:
        lines.append(hint)
    await _send(update, "\n".join(lines))


def _fits(text: str) -> bool:
    """Whether an HTML message stays within Telegram's limit once its markup is taken out."""
    shown = html.unescape(re.sub(r"<[^>]+>", "", text))
    return len(shown.encode("utf-16-le")) // 2 <= MAX_MESSAGE


def _args(update: Update) -> str:
    """The text after the command, line breaks kept (the one-line form may use them)."""
    message = update.effective_message
    parts = ((message.text or "") if message else "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _task_id(text: str) -> int | None:
    cleaned = text.strip().lstrip("#").strip()
    if cleaned.isascii() and cleaned.isdigit() and 0 < int(cleaned) < 2**31:
        return int(cleaned)
    return None


def _button(label: str, *parts: object) -> InlineKeyboardButton:
    kind, *rest = parts
    return InlineKeyboardButton(label, callback_data=keyboards.encode(str(kind), *rest))


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([row for row in rows if row])


def _now(context: BotContext) -> datetime:
    return context.deps.clock.now()


def _zone(context: BotContext) -> str:
    return context.deps.settings.scheduler.default_timezone


# --- command menus ------------------------------------------------------------------------


def _commands(menu: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(command, description) for command, description in menu]


async def set_therapist_menu(context_bot: Any, chat_id: int) -> bool:
    """Show the admin commands in one therapist's chat; False when Telegram refuses."""
    try:
        await context_bot.set_my_commands(
            _commands(therapist_menu()), scope=BotCommandScopeChat(chat_id)
        )
    except TelegramError as error:
        # A user who never opened the bot has no chat yet; /help still lists everything.
        log.warning("Could not set the therapist menu for chat %s: %s", chat_id, error)
        return False
    return True


async def publish_menus(application: BotApplication) -> None:
    """Patients see the patient commands; each therapist's chat also the admin ones."""
    deps = application.bot_data[DEPS_KEY]
    try:
        await application.bot.set_my_commands(
            _commands(PATIENT_MENU), scope=BotCommandScopeDefault()
        )
    except TelegramError as error:
        # Menus are a convenience: the bot must start even when Telegram refuses them.
        log.warning("Could not set the command menu: %s", error)
        return
    chats = await deps.run(
        authoring.therapist_chat_ids, deps.database, deps.settings.therapists.user_ids
    )
    for chat_id in chats:
        await set_therapist_menu(application.bot, chat_id)


async def check_at_start(application: BotApplication) -> None:
    """End therapists' group places no longer configured; warn of demo codes in production."""
    deps: Deps = application.bot_data[DEPS_KEY]
    settings = deps.settings
    now = deps.clock.now()
    places = await deps.run(
        authoring.reconcile_therapists, deps.database, now, settings.therapists.user_ids
    )
    for ended in places.ended:
        log.warning(
            "therapist %s is no longer under [therapists] user_ids: their place in %s ended "
            "(no more alerts from there)",
            ended.telegram_user_id,
            ", ".join(ended.groups),
        )
    for back in places.restored:
        log.info(
            "therapist %s is configured again: their place in %s is back",
            back.telegram_user_id,
            ", ".join(back.groups),
        )
    if settings.telegram.mode != "webhook":
        return
    for demo in await deps.run(authoring.active_demo_codes, deps.database, now):
        log.warning(
            "demo invite code %s of group %s is active in production: anyone who guesses it "
            "joins the group; /revoke it, or seed the group with a code of 8 characters or more",
            demo.code,
            demo.group,
        )


def install_menus(application: BotApplication) -> None:
    """Once the bot has started (after any post_init already set): the start checks, then the
    command menus."""
    previous = application.post_init

    async def post_init(app: BotApplication) -> None:
        if previous is not None:
            await previous(app)
        await check_at_start(app)
        await publish_menus(app)

    application.post_init = post_init


# --- therapists ---------------------------------------------------------------------------


def _user_id_arg(update: Update) -> int | None:
    text = _args(update)
    if text.isascii() and text.isdigit() and 0 < int(text) < 2**53:
        return int(text)
    return None


@therapist_only
async def add_therapist(update: Update, context: BotContext) -> None:
    """Make a Telegram user a therapist and show them the admin commands."""
    user_id = _user_id_arg(update)
    if user_id is None:
        await _send(update, texts.admin_usage_addtherapist())
        return
    deps = context.deps
    change = await deps.run(
        authoring.add_therapist,
        deps.database,
        _now(context),
        deps.settings.therapists.user_ids,
        user_id,
    )
    if not change.changed:
        await _send(update, texts.admin_already_therapist(user_id))
        return
    menu_set = await set_therapist_menu(context.bot, change.chat_id)
    await _send(update, texts.admin_therapist_added(user_id, menu_set))


@therapist_only
async def remove_therapist(update: Update, context: BotContext) -> None:
    """Take a stored therapist's admin rights (and admin menu) away."""
    user_id = _user_id_arg(update)
    if user_id is None:
        await _send(update, texts.admin_usage_removetherapist())
        return
    deps = context.deps
    try:
        change = await deps.run(
            authoring.remove_therapist, deps.database, deps.settings.therapists.user_ids, user_id
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(change.chat_id))
    except TelegramError as error:
        log.warning("Could not remove the therapist menu of chat %s: %s", change.chat_id, error)
    await _send(update, texts.admin_therapist_removed(user_id))


# --- groups -------------------------------------------------------------------------------


@therapist_only
async def new_group(update: Update, context: BotContext) -> None:
    """Create a group; its creator becomes the group's therapist."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_newgroup())
        return
    user = update.effective_user
    assert user is not None
    deps = context.deps
    try:
        group = await deps.run(
            authoring.create_group,
            deps.database,
            _now(context),
            _zone(context),
            user.id,
            user.full_name,
            text,
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await _send(update, texts.admin_group_created(group.name, group.id, group.zone))


@therapist_only
async def list_groups(update: Update, context: BotContext) -> None:
    """List every group with its members and deliveries."""
    deps = context.deps
    groups = await deps.run(authoring.list_groups, deps.database, _now(context), _zone(context))
    await _send_long(update, _chunks(texts.admin_groups(groups)))


@therapist_only
async def list_patients(update: Update, context: BotContext) -> None:
    """List a group's patients with when they joined and their open check-ins."""
    ref = _args(update)
    if not ref:
        await _send(update, texts.admin_usage_patients())
        return
    deps = context.deps
    try:
        result = await deps.run(authoring.group_patients, deps.database, _zone(context), ref)
    except AuthoringError as error:
        await _problems(update, error)
        return
    await _send_long(update, _chunks(texts.admin_patients(result)))


@therapist_only
async def remove_patient(update: Update, context: BotContext) -> None:
    """Take a patient out of a group and cancel what they still had to answer there."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_removepatient())
        return
    deps = context.deps
    try:
        removed = await deps.run(
            authoring.remove_patient, deps.database, _now(context), _zone(context), text
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await _send(update, texts.admin_patient_removed(removed))


# --- invites ------------------------------------------------------------------------------


@therapist_only
async def invite(update: Update, context: BotContext) -> None:
    """Make an invite deep link for a group."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_invite())
        return
    deps = context.deps
    try:
        info = await deps.run(
            authoring.create_invite,
            deps.database,
            _now(context),
            _zone(context),
            text,
            default_days=deps.settings.invites.expiry_days,
            default_uses=deps.settings.invites.max_uses,
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    link = f"https://t.me/{context.bot.username}?start={info.code}"
    await _send(update, texts.admin_invite_created(info, link))


@therapist_only
async def revoke(update: Update, context: BotContext) -> None:
    """Stop an invite code from working."""
    code = _args(update)
    if not code:
        await _send(update, texts.admin_usage_revoke())
        return
    deps = context.deps
    try:
        info = await deps.run(
            authoring.revoke_invite, deps.database, _now(context), _zone(context), code
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await _send(update, texts.admin_invite_revoked(info))


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
            authoring.list_tasks, deps.database, _now(context), _zone(context), ref
        )
    except AuthoringError as error:
        await _problems(update, error)
        raise ApplicationHandlerStop from None
    await _send_long(update, _chunks(texts.admin_tasks(group, tasks)))
    raise ApplicationHandlerStop


@therapist_only
async def show_task(update: Update, context: BotContext) -> None:
    """Show a task's schedule, its questions and how its check-ins stand."""
    task_id = _task_id(_args(update))
    if task_id is None:
        await _send(update, texts.admin_usage_task())
        return
    deps = context.deps
    try:
        details = await deps.run(
            authoring.task_details, deps.database, _now(context), _zone(context), task_id
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await _send_long(update, _chunks(texts.admin_task_details(details)))


@therapist_only
async def preview(update: Update, context: BotContext) -> None:
    """Send the task as a patient would see it, with buttons that do nothing."""
    task_id = _task_id(_args(update))
    if task_id is None:
        await _send(update, texts.admin_usage_preview())
        return
    deps = context.deps
    now = _now(context)
    try:
        details = await deps.run(
            authoring.task_details, deps.database, now, _zone(context), task_id
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    due = details.next_due or now
    questions = details.active_questions
    inert = keyboards.encode("tp", details.id)
    await _send(update, texts.admin_preview_intro(details.id, details.title))
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
            expires_at=due + timedelta(minutes=details.expiry_minutes),
        )
    )
    await _send(update, text, _inert(markup, inert))
    for number, question in enumerate(questions, 1):
        text, question_markup = rendering.render_question(
            checkin.QuestionView(
                delivery_id=0,
                question_id=question.id,
                task_title=details.title,
                number=number,
                total=len(questions),
                description=question.description,
                link=question.link,
                rules=question.rules,
            )
        )
        await _send(update, text, _inert(question_markup, inert))


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
    await update.callback_query.answer(texts.admin_preview_only())


# --- reports and exports ------------------------------------------------------------------


@therapist_only
async def report(update: Update, context: BotContext) -> None:
    """Send per-patient adherence for a group or a task."""
    text = _args(update)
    if not text:
        await _send(update, texts.admin_usage_report())
        return
    kind, ref = reports.parse_report_target(text)
    deps = context.deps
    try:
        result = await deps.run(
            reports.adherence, deps.database, _now(context), _zone(context), kind, ref
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    *chunks, last = texts.admin_report(result, MAX_MESSAGE)
    await _send_long(update, chunks)
    await _send(update, last, charts.chart_button(result.group_id))


@therapist_only
async def export(update: Update, context: BotContext) -> None:
    """Send every answer (of a group, or all) as a CSV file, or as FHIR with "fhir" last."""
    ref, as_fhir = reports.parse_export_args(_args(update))
    deps = context.deps
    message = update.effective_message
    assert message is not None
    try:
        if as_fhir:
            # Imported on first use: the FHIR models add about 0.4 s to every start otherwise.
            from bot.services import fhir

            bundle = await deps.run(
                fhir.export_fhir, deps.database, _now(context), _zone(context), ref
            )
            await message.reply_document(
                InputFile(bundle.content, filename=bundle.filename),
                caption=texts.admin_export_fhir_caption(bundle.responses, bundle.patients, ref),
                parse_mode="HTML",
                do_quote=False,
            )
            return
        result = await deps.run(
            reports.export_csv, deps.database, _now(context), _zone(context), ref
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    await message.reply_document(
        InputFile(result.content, filename=result.filename),
        caption=texts.admin_export_caption(result.rows, ref),
        parse_mode="HTML",
        do_quote=False,
    )


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
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_line_usage())
        return
    await _send(update, texts.admin_task_saved(saved))


@therapist_only
async def delete_task_command(update: Update, context: BotContext) -> None:
    """Ask to confirm deleting a task."""
    task_id = _task_id(_args(update))
    if task_id is None:
        await _send(update, texts.admin_usage_deletetask())
        return
    deps = context.deps
    try:
        details = await deps.run(
            authoring.task_details, deps.database, _now(context), _zone(context), task_id
        )
    except AuthoringError as error:
        await _problems(update, error)
        return
    if details.deleted:
        await _send(update, texts.admin_task_deleted(details.id, details.title))
        return
    await _send(
        update,
        texts.admin_confirm_delete(details),
        _markup(
            [
                _button(texts.admin_button_delete_yes(), "td", task_id, "yes"),
                _button(texts.admin_button_delete_no(), "td", task_id, "no"),
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
        await query.answer(texts.admin_stale_button())
        return
    await query.answer()
    if choice == "no":
        await _close_buttons(query.message, texts.admin_delete_kept())
        return
    deps = context.deps
    try:
        deleted = await deps.run(
            authoring.delete_task, deps.database, _now(context), _zone(context), task_id
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
    await update.callback_query.answer(texts.admin_stale_button())


# --- the /newtask and /edittask dialogues ---------------------------------------------------


@dataclass
class _Draft:
    """The therapist's unfinished task or edit: a cache, lost on restart by design."""

    mode: Literal["new", "edit"]
    touched: datetime
    group: GroupInfo | None = None
    task_id: int | None = None
    task_title: str = ""
    edit: str = ""  # "due", "repeat" or "questions"
    title: str = ""
    due_date: date | None = None
    due_time: time | None = None
    repeat_kind: str = "once"
    interval: int = 1
    recurrence: str | None = None
    questions: list[QuestionDraft] = field(default_factory=list)
    question: QuestionDraft | None = None


def _draft(context: BotContext) -> _Draft | None:
    data = context.user_data
    draft = data.get(DRAFT_KEY) if data is not None else None
    return draft if isinstance(draft, _Draft) else None


def _drop(context: BotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)


async def _live_draft(update: Update, context: BotContext) -> _Draft | None:
    """The therapist's draft, unless there is none or it was left for too long."""
    draft = _draft(context)
    now = _now(context)
    if draft is None or now - draft.touched > DRAFT_TTL:
        _drop(context)
        if update.callback_query is not None:
            await update.callback_query.answer(texts.admin_stale_button())
        else:
            await _send(update, texts.admin_dialogue_expired())
        return None
    draft.touched = now
    return draft


def step(handler: Callable[[Update, BotContext, _Draft], Awaitable[int]]) -> Handler:
    """Wrap a dialogue step: therapists only, a live draft, and its last-touched time."""

    @therapist_only
    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> int:
        draft = await _live_draft(update, context)
        if draft is None:
            return END
        if update.callback_query is not None:
            await update.callback_query.answer()
        return await handler(update, context, draft)

    return wrapper


def _choice(update: Update) -> tuple[str, ...]:
    callback = keyboards.decode(update.callback_query.data if update.callback_query else None)
    return callback.parts if callback else ()


def _typed(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


async def _picked(update: Update, label: str) -> None:
    """Show which button was pressed and take the keyboard away."""
    query = update.callback_query
    if query is not None:
        await _close_buttons(query.message, texts.admin_picked(label))


@therapist_only
async def newtask_start(update: Update, context: BotContext) -> int:
    """Start building a task: pick the group."""
    deps = context.deps
    groups = await deps.run(authoring.group_names, deps.database, _zone(context))
    if not groups:
        await _send(update, texts.admin_no_groups())
        return END
    assert context.user_data is not None
    context.user_data[DRAFT_KEY] = _Draft(mode="new", touched=_now(context))
    await _send(
        update,
        texts.admin_ask_group(),
        _markup(*[[_button(g.name, "tg", g.id)] for g in groups]),
    )
    return GROUP


@step
async def pick_group(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the group and ask for the title."""
    parts = _choice(update)
    group_id = parts[0] if parts else ""
    deps = context.deps
    try:
        group = await deps.run(authoring.get_group, deps.database, _zone(context), group_id)
    except AuthoringError as error:
        await _problems(update, error)
        return GROUP
    draft.group = group
    await _picked(update, group.name)
    await _send(update, texts.admin_ask_title(group.name))
    return TITLE


@step
async def type_title(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the title and ask for the due date and time."""
    try:
        draft.title = authoring.check_title(_typed(update))
    except AuthoringError as error:
        await _problems(update, error, texts.admin_ask_title_again())
        return TITLE
    assert draft.group is not None
    await _send(update, texts.admin_ask_due(draft.group.zone))
    return DUE


@step
async def type_due(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the due time, repeat it back, and ask how the task repeats (or save the edit)."""
    assert draft.group is not None
    try:
        draft.due_date, draft.due_time = authoring.parse_due(
            _typed(update), draft.group.zone, _now(context)
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_ask_due_again(draft.group.zone))
        return DUE
    understood = texts.admin_understood_due(draft.due_date, draft.due_time, draft.group.zone)
    if draft.mode == "edit":
        return await _apply_due(update, context, draft, understood)
    await _send(update, understood)
    return await _ask_repeat(update)


async def _ask_repeat(update: Update) -> int:
    await _send(
        update,
        texts.admin_ask_repeat(),
        _markup(
            [
                _button(texts.admin_button_once(), "tr", "once"),
                _button(texts.admin_button_daily(), "tr", "daily"),
            ],
            [
                _button(texts.admin_button_weekdays(), "tr", "weekdays"),
                _button(texts.admin_button_every(), "tr", "every"),
            ],
        ),
    )
    return REPEAT


@step
async def pick_repeat(update: Update, context: BotContext, draft: _Draft) -> int:
    """Take a repetition from the buttons; every N days asks for N, the rest for an end."""
    parts = _choice(update)
    kind = parts[0] if parts else ""
    labels = {
        "once": texts.admin_button_once(),
        "daily": texts.admin_button_daily(),
        "weekdays": texts.admin_button_weekdays(),
        "every": texts.admin_button_every(),
    }
    if kind not in labels:
        return REPEAT
    await _picked(update, labels[kind])
    draft.repeat_kind = kind
    draft.interval = 1
    if kind == "once":
        return await _repeat_chosen(update, context, draft, None)
    if kind == "every":
        await _send(update, texts.admin_ask_every_n())
        return EVERY_N
    return await _ask_repeat_end(update)


@step
async def type_repeat(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read a repetition typed out ("mon,wed,fri x6") instead of a button."""
    try:
        rule = authoring.parse_repeat(_typed(update))
    except AuthoringError as error:
        await _problems(update, error, texts.admin_ask_repeat_again())
        return REPEAT
    return await _repeat_chosen(update, context, draft, rule)


@step
async def type_every_n(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read N of "every N days" and ask how the series ends."""
    text = _typed(update).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 365):
        await _send(update, texts.admin_bad_every_n())
        return EVERY_N
    draft.interval = int(text)
    return await _ask_repeat_end(update)


async def _ask_repeat_end(update: Update) -> int:
    await _send(
        update,
        texts.admin_ask_repeat_end(),
        _markup(
            [_button(texts.admin_button_no_end(), "tn", "none")],
            [
                _button(texts.admin_button_until(), "tn", "until"),
                _button(texts.admin_button_count(), "tn", "count"),
            ],
        ),
    )
    return REPEAT_END


def _recurrence(draft: _Draft, until: date | None, count: int | None) -> str | None:
    if draft.repeat_kind == "weekdays":
        rec = Recurrence("weekly", weekdays=(0, 1, 2, 3, 4), until=until, count=count)
    elif draft.repeat_kind == "every" and draft.interval > 1:
        rec = Recurrence("interval", interval_days=draft.interval, until=until, count=count)
    else:
        rec = Recurrence("daily", until=until, count=count)
    return recurrence_to_rule(rec)


@step
async def pick_repeat_end(update: Update, context: BotContext, draft: _Draft) -> int:
    """No end, or ask for the last date, or for the number of times."""
    parts = _choice(update)
    choice = parts[0] if parts else ""
    if choice == "none":
        await _picked(update, texts.admin_button_no_end())
        return await _repeat_chosen(update, context, draft, _recurrence(draft, None, None))
    if choice == "until":
        await _picked(update, texts.admin_button_until())
        await _send(update, texts.admin_ask_until())
        return UNTIL
    if choice == "count":
        await _picked(update, texts.admin_button_count())
        await _send(update, texts.admin_ask_count())
        return COUNT
    return REPEAT_END


@step
async def type_until(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the last day of the series."""
    text = _typed(update).strip()
    try:
        until = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        until = None
    if until is None:
        await _send(update, texts.admin_bad_until(text))
        return UNTIL
    start = draft.due_date
    if start is not None and until < start:
        await _send(update, texts.admin_until_before_start(until, start))
        return UNTIL
    return await _repeat_chosen(update, context, draft, _recurrence(draft, until, None))


@step
async def type_count(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read how many times the task happens."""
    text = _typed(update).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 1000):
        await _send(update, texts.admin_bad_count())
        return COUNT
    return await _repeat_chosen(update, context, draft, _recurrence(draft, None, int(text)))


async def _repeat_chosen(
    update: Update, context: BotContext, draft: _Draft, rule: str | None
) -> int:
    draft.recurrence = rule
    if draft.mode == "edit":
        return await _apply_repeat(update, context, draft)
    await _send(update, texts.admin_understood_repeat(rule))
    return await _ask_description(update, draft)


async def _ask_description(update: Update, draft: _Draft) -> int:
    draft.question = None
    number = len(draft.questions) + 1
    await _send(update, texts.admin_ask_description(number))
    return Q_DESC


@step
async def type_description(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the question's text and ask for a link."""
    try:
        description = authoring.check_description(_typed(update))
    except AuthoringError as error:
        await _problems(update, error)
        return Q_DESC
    draft.question = QuestionDraft(description=description, response_type=ResponseType.TEXT)
    await _send(
        update,
        texts.admin_ask_link(),
        _markup([_button(texts.admin_button_no_link(), "tl", "skip")]),
    )
    return Q_LINK


@step
async def type_link(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the link and ask for the response type."""
    assert draft.question is not None
    try:
        link = authoring.parse_link(_typed(update))
    except AuthoringError as error:
        await _problems(update, error)
        return Q_LINK
    draft.question = replace(draft.question, link=link)
    return await _ask_type(update)


@step
async def skip_link(update: Update, context: BotContext, draft: _Draft) -> int:
    """No link: ask for the response type."""
    await _picked(update, texts.admin_button_no_link())
    return await _ask_type(update)


_TYPE_ORDER = (
    ResponseType.YES_NO,
    ResponseType.SCALE,
    ResponseType.NUMBER,
    ResponseType.CHOICE,
    ResponseType.TEXT,
    ResponseType.PHOTO,
    ResponseType.VIDEO,
)


async def _ask_type(update: Update) -> int:
    buttons = [_button(texts.admin_type_label(t.value), "tt", t.value) for t in _TYPE_ORDER]
    await _send(
        update,
        texts.admin_ask_type(),
        _markup(buttons[0:2], buttons[2:4], buttons[4:7]),
    )
    return Q_TYPE


@step
async def pick_type(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the response type and ask for what it needs."""
    assert draft.question is not None
    parts = _choice(update)
    try:
        kind = ResponseType(parts[0]) if parts else None
    except ValueError:
        kind = None
    if kind is None:
        return Q_TYPE
    await _picked(update, texts.admin_type_label(kind.value))
    draft.question = replace(
        draft.question,
        response_type=kind,
        options=(),
        min_value=None,
        max_value=None,
        integer_only=False,
        max_length=None,
        alert_rule=None,
    )
    if kind == ResponseType.CHOICE:
        await _send(update, texts.admin_ask_options())
        return Q_DETAIL
    if kind == ResponseType.NUMBER:
        await _send(
            update,
            texts.admin_ask_number_bounds(),
            _markup([_button(texts.admin_button_no_bounds(), "tb", "skip")]),
        )
        return Q_DETAIL
    if kind == ResponseType.SCALE:
        label = texts.admin_button_default_scale(DEFAULT_SCALE_MIN, DEFAULT_SCALE_MAX)
        await _send(
            update, texts.admin_ask_scale_bounds(), _markup([_button(label, "tb", "skip")])
        )
        return Q_DETAIL
    if kind == ResponseType.TEXT:
        await _send(
            update,
            texts.admin_ask_max_length(),
            _markup([_button(texts.admin_button_no_max_length(), "tb", "skip")]),
        )
        return Q_DETAIL
    return await _ask_required(update)


@step
async def type_detail(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the options, bounds or length limit the response type needs."""
    assert draft.question is not None
    kind = draft.question.response_type
    text = _typed(update)
    try:
        if kind == ResponseType.CHOICE:
            draft.question = replace(draft.question, options=authoring.parse_options(text))
        elif kind in (ResponseType.NUMBER, ResponseType.SCALE):
            lo, hi = authoring.parse_bounds(text, kind)
            draft.question = replace(draft.question, min_value=lo, max_value=hi)
        elif kind == ResponseType.TEXT:
            draft.question = replace(draft.question, max_length=authoring.parse_max_length(text))
    except AuthoringError as error:
        await _problems(update, error)
        return Q_DETAIL
    return await _after_detail(update, draft)


@step
async def skip_detail(update: Update, context: BotContext, draft: _Draft) -> int:
    """Keep the default bounds or length."""
    assert draft.question is not None
    kind = draft.question.response_type
    if kind == ResponseType.CHOICE:
        return Q_DETAIL
    labels = {
        ResponseType.NUMBER: texts.admin_button_no_bounds(),
        ResponseType.SCALE: texts.admin_button_default_scale(DEFAULT_SCALE_MIN, DEFAULT_SCALE_MAX),
        ResponseType.TEXT: texts.admin_button_no_max_length(),
    }
    await _picked(update, labels.get(kind, ""))
    return await _after_detail(update, draft)


async def _after_detail(update: Update, draft: _Draft) -> int:
    assert draft.question is not None
    if draft.question.response_type == ResponseType.NUMBER:
        await _send(
            update,
            texts.admin_ask_integer(),
            _markup(
                [
                    _button(texts.admin_button_whole(), "ti", "y"),
                    _button(texts.admin_button_decimals(), "ti", "n"),
                ]
            ),
        )
        return Q_INTEGER
    return await _ask_required(update)


@step
async def pick_integer(update: Update, context: BotContext, draft: _Draft) -> int:
    """Whole numbers only, or decimals too."""
    assert draft.question is not None
    parts = _choice(update)
    whole = bool(parts) and parts[0] == "y"
    candidate = replace(draft.question, integer_only=whole)
    problems = candidate.rules().validate()
    if problems:
        await _picked(update, texts.admin_button_whole())
        await _send(update, "\n".join([*problems, texts.admin_ask_number_bounds()]))
        draft.question = replace(draft.question, min_value=None, max_value=None)
        return Q_DETAIL
    await _picked(update, texts.admin_button_whole() if whole else texts.admin_button_decimals())
    draft.question = candidate
    return await _ask_required(update)


async def _ask_required(update: Update) -> int:
    await _send(
        update,
        texts.admin_ask_required(),
        _markup(
            [
                _button(texts.admin_button_required(), "tq", "y"),
                _button(texts.admin_button_optional(), "tq", "n"),
            ]
        ),
    )
    return Q_REQUIRED


@step
async def pick_required(update: Update, context: BotContext, draft: _Draft) -> int:
    """Required or optional; then the alert, for the types that can have one."""
    assert draft.question is not None
    parts = _choice(update)
    required = not (parts and parts[0] == "n")
    await _picked(
        update, texts.admin_button_required() if required else texts.admin_button_optional()
    )
    draft.question = replace(draft.question, required=required)
    if draft.question.response_type in ALERT_TYPES:
        await _send(
            update,
            texts.admin_ask_alert(draft.question.rules()),
            _markup([_button(texts.admin_button_no_alert(), "ta", "skip")]),
        )
        return Q_ALERT
    return await _question_done(update, draft)


@step
async def type_alert(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the alert rule."""
    assert draft.question is not None
    try:
        rule = authoring.parse_alert(_typed(update), draft.question)
    except AuthoringError as error:
        await _problems(update, error)
        return Q_ALERT
    draft.question = replace(draft.question, alert_rule=rule)
    return await _question_done(update, draft)


@step
async def skip_alert(update: Update, context: BotContext, draft: _Draft) -> int:
    """No alert for this question."""
    await _picked(update, texts.admin_button_no_alert())
    return await _question_done(update, draft)


async def _question_done(update: Update, draft: _Draft) -> int:
    assert draft.question is not None
    try:
        question = authoring.check_question(draft.question)
    except AuthoringError as error:
        # Every step validated its part, so this is a contradiction between steps.
        await _problems(update, error)
        return await _ask_description(update, draft)
    draft.questions.append(question)
    draft.question = None
    number = len(draft.questions)
    done = (
        texts.admin_button_done_review() if draft.mode == "new" else texts.admin_button_done_save()
    )
    await _send(
        update,
        texts.admin_question_added(number, question),
        _markup(
            [_button(texts.admin_button_add_question(), "tm", "add")],
            [_button(done, "tm", "done")],
        ),
    )
    return Q_MORE


@step
async def pick_more(update: Update, context: BotContext, draft: _Draft) -> int:
    """Another question, or on to the review (new task) or saving (edit)."""
    parts = _choice(update)
    if parts and parts[0] == "add":
        await _picked(update, texts.admin_button_add_question())
        return await _ask_description(update, draft)
    if draft.mode == "edit":
        await _picked(update, texts.admin_button_done_save())
        return await _apply_questions(update, context, draft)
    await _picked(update, texts.admin_button_done_review())
    assert draft.group is not None and draft.due_date and draft.due_time
    zone = ZoneInfo(draft.group.zone)
    upcoming = next_due(draft.due_date, draft.due_time, draft.recurrence, zone, _now(context))
    await _send_long(
        update,
        _chunks(
            texts.admin_review(
                draft.group.name,
                draft.title,
                draft.due_date,
                draft.due_time,
                draft.group.zone,
                draft.recurrence,
                upcoming,
                draft.questions,
            )
        ),
    )
    await _send(
        update,
        texts.admin_ask_save(),
        _markup(
            [
                _button(texts.admin_button_save(), "tv", "save"),
                _button(texts.admin_button_cancel(), "tv", "cancel"),
            ]
        ),
    )
    return REVIEW


@step
async def pick_review(update: Update, context: BotContext, draft: _Draft) -> int:
    """Save the task and plan its check-ins, or throw the draft away."""
    parts = _choice(update)
    if not parts or parts[0] != "save":
        await _picked(update, texts.admin_button_cancel())
        _drop(context)
        await _send(update, texts.admin_cancelled())
        return END
    await _picked(update, texts.admin_button_save())
    assert draft.group is not None and draft.due_date and draft.due_time
    deps = context.deps
    try:
        saved = await deps.run(
            authoring.create_task,
            deps.database,
            _now(context),
            _zone(context),
            deps.settings.checkins.expiry_minutes,
            authoring.TaskDraft(
                group_id=draft.group.id,
                title=draft.title,
                due_date=draft.due_date,
                due_time=draft.due_time,
                recurrence=draft.recurrence,
                questions=tuple(draft.questions),
            ),
        )
    except AuthoringError as error:
        _drop(context)
        await _problems(update, error, texts.admin_not_saved())
        return END
    _drop(context)
    await _send(update, texts.admin_task_saved(saved))
    return END


@therapist_only
async def cancel(update: Update, context: BotContext) -> int:
    """Leave the dialogue; nothing is stored."""
    _drop(context)
    await _send(update, texts.admin_cancelled())
    return END


@therapist_only
async def unexpected(update: Update, context: BotContext) -> int | None:
    """Something the current step cannot use: say what it needs, and stay on the step."""
    if update.callback_query is not None:
        await update.callback_query.answer(texts.admin_stale_button())
        return None
    if await _live_draft(update, context) is None:
        return END
    await _send(update, texts.admin_wrong_step())
    return None


# --- /edittask ----------------------------------------------------------------------------


@therapist_only
async def edittask_start(update: Update, context: BotContext) -> int:
    """Show what can be changed about a task."""
    task_id = _task_id(_args(update))
    if task_id is None:
        await _send(update, texts.admin_usage_edittask())
        return END
    deps = context.deps
    try:
        details = await deps.run(
            authoring.task_details, deps.database, _now(context), _zone(context), task_id
        )
    except AuthoringError as error:
        await _problems(update, error)
        return END
    if details.deleted:
        await _send(update, texts.admin_task_deleted(details.id, details.title))
        return END
    assert context.user_data is not None
    context.user_data[DRAFT_KEY] = _Draft(
        mode="edit",
        touched=_now(context),
        group=details.group,
        task_id=details.id,
        task_title=details.title,
        due_date=details.due_date,
        due_time=details.due_time,
        recurrence=details.recurrence,
    )
    await _send_long(update, _chunks(texts.admin_task_details(details)))
    await _send(
        update,
        texts.admin_ask_edit(details.id, details.title),
        _markup(
            [
                _button(texts.admin_button_edit_due(), "te", details.id, "due"),
                _button(texts.admin_button_edit_repeat(), "te", details.id, "repeat"),
            ],
            [
                _button(texts.admin_button_edit_add(), "te", details.id, "addq"),
                _button(texts.admin_button_edit_remove(), "te", details.id, "rmq"),
            ],
            [_button(texts.admin_button_cancel(), "te", details.id, "done")],
        ),
    )
    return EDIT_MENU


@step
async def pick_edit(update: Update, context: BotContext, draft: _Draft) -> int:
    """Go to the part of the task the therapist wants to change."""
    parts = _choice(update)
    action = parts[1] if len(parts) > 1 else ""
    assert draft.group is not None and draft.task_id is not None
    if action == "due":
        await _picked(update, texts.admin_button_edit_due())
        draft.edit = "due"
        await _send(update, texts.admin_ask_due(draft.group.zone))
        return DUE
    if action == "repeat":
        await _picked(update, texts.admin_button_edit_repeat())
        draft.edit = "repeat"
        return await _ask_repeat(update)
    if action == "addq":
        await _picked(update, texts.admin_button_edit_add())
        draft.edit = "questions"
        return await _ask_description(update, draft)
    if action == "rmq":
        await _picked(update, texts.admin_button_edit_remove())
        deps = context.deps
        details = await deps.run(
            authoring.task_details, deps.database, _now(context), _zone(context), draft.task_id
        )
        rows = [
            [
                _button(
                    texts.admin_question_button(q.position, q.description),
                    "te",
                    draft.task_id,
                    "rm",
                    q.position,
                )
            ]
            for q in details.active_questions
        ]
        await _send(update, texts.admin_ask_remove(), _markup(*rows))
        return REMOVE_PICK
    await _picked(update, texts.admin_button_cancel())
    _drop(context)
    await _send(update, texts.admin_cancelled())
    return END


@step
async def pick_remove(update: Update, context: BotContext, draft: _Draft) -> int:
    """Retire the chosen question; its answers stay."""
    parts = _choice(update)
    position = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    assert draft.task_id is not None
    deps = context.deps
    _drop(context)
    try:
        changed = await deps.run(
            authoring.remove_question, deps.database, _now(context), draft.task_id, position
        )
    except AuthoringError as error:
        await _close_buttons(
            update.callback_query.message if update.callback_query else None, None
        )
        await _problems(update, error)
        return END
    await _picked(update, texts.admin_question_removed_label(position))
    await _send(update, texts.admin_question_removed(changed))
    return END


async def _apply_due(update: Update, context: BotContext, draft: _Draft, understood: str) -> int:
    assert draft.task_id is not None and draft.due_date and draft.due_time
    deps = context.deps
    _drop(context)
    try:
        changed = await deps.run(
            authoring.change_due,
            deps.database,
            _now(context),
            _zone(context),
            draft.task_id,
            draft.due_date,
            draft.due_time,
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_not_saved())
        return END
    await _send(update, f"{understood}\n{texts.admin_task_changed(changed)}")
    return END


async def _apply_repeat(update: Update, context: BotContext, draft: _Draft) -> int:
    assert draft.task_id is not None
    deps = context.deps
    _drop(context)
    try:
        changed = await deps.run(
            authoring.change_repeat,
            deps.database,
            _now(context),
            _zone(context),
            draft.task_id,
            draft.recurrence,
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_not_saved())
        return END
    await _send(update, texts.admin_task_changed(changed))
    return END


async def _apply_questions(update: Update, context: BotContext, draft: _Draft) -> int:
    assert draft.task_id is not None
    deps = context.deps
    _drop(context)
    try:
        changed = await deps.run(
            authoring.add_questions, deps.database, draft.task_id, tuple(draft.questions)
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_not_saved())
        return END
    await _send(update, texts.admin_questions_added(changed))
    return END


# --- registration -------------------------------------------------------------------------


def _chunks(text: str) -> list[str]:
    """Split a long HTML message at line breaks so each part stays within Telegram's limit.

    Callers build messages from whole lines, each holding balanced tags, so a cut between lines
    never breaks the markup.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_MESSAGE - 96 and current:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return chunks


def _text_step(callback: Handler) -> MessageHandler[BotContext, Any]:
    return MessageHandler(filters.TEXT & ~filters.COMMAND & PRIVATE, callback)


def _press(callback: Handler, pattern: str) -> CallbackQueryHandler[BotContext, Any]:
    return CallbackQueryHandler(callback, pattern=pattern)


def _dialogue() -> ConversationHandler[BotContext]:
    states: dict[object, list[Any]] = {
        GROUP: [_press(pick_group, r"^tg:\d+$")],
        TITLE: [_text_step(type_title)],
        DUE: [_text_step(type_due)],
        REPEAT: [_press(pick_repeat, r"^tr:\w+$"), _text_step(type_repeat)],
        EVERY_N: [_text_step(type_every_n)],
        REPEAT_END: [_press(pick_repeat_end, r"^tn:\w+$")],
        UNTIL: [_text_step(type_until)],
        COUNT: [_text_step(type_count)],
        Q_DESC: [_text_step(type_description)],
        Q_LINK: [_press(skip_link, r"^tl:skip$"), _text_step(type_link)],
        Q_TYPE: [_press(pick_type, r"^tt:\w+$")],
        Q_DETAIL: [_press(skip_detail, r"^tb:skip$"), _text_step(type_detail)],
        Q_INTEGER: [_press(pick_integer, r"^ti:[yn]$")],
        Q_REQUIRED: [_press(pick_required, r"^tq:[yn]$")],
        Q_ALERT: [_press(skip_alert, r"^ta:skip$"), _text_step(type_alert)],
        Q_MORE: [_press(pick_more, r"^tm:(add|done)$")],
        REVIEW: [_press(pick_review, r"^tv:(save|cancel)$")],
        EDIT_MENU: [_press(pick_edit, r"^te:\d+:(due|repeat|addq|rmq|done)$")],
        REMOVE_PICK: [_press(pick_remove, r"^te:\d+:rm:\d+$")],
    }
    with warnings.catch_warnings():
        # per_message=False is what we want (the dialogue spans many messages); PTB warns that
        # button presses are then tracked per chat, which is exactly the intent.
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler("newtask", newtask_start, filters=PRIVATE),
                CommandHandler("edittask", edittask_start, filters=PRIVATE),
            ],
            states=states,
            fallbacks=[
                CommandHandler("cancel", cancel, filters=PRIVATE),
                _press(unexpected, DIALOGUE_PATTERN),
                MessageHandler(~filters.COMMAND & PRIVATE, unexpected),
            ],
            allow_reentry=True,
            per_chat=True,
            per_user=True,
            name="admin_dialogue",
        )


# Buttons of the dialogues (see keyboards.py): group, repeat, repeat end, type, link, bounds,
# integer, required, alert, more, review, edit.
DIALOGUE_PATTERN = r"^t[grntlbiqamve]:"

COMMANDS: list[tuple[str, Handler]] = [
    ("addtask", add_task_line),
    ("task", show_task),
    ("deletetask", delete_task_command),
    ("preview", preview),
    ("report", report),
    ("export", export),
    ("groups", list_groups),
    ("newgroup", new_group),
    ("patients", list_patients),
    ("removepatient", remove_patient),
    ("invite", invite),
    ("revoke", revoke),
    ("addtherapist", add_therapist),
    ("removetherapist", remove_therapist),
]


def register(application: BotApplication) -> None:
    """Add the admin handlers: the dialogue first, so it sees its own replies."""
    application.add_handler(CommandHandler("tasks", tasks_for_therapist, filters=PRIVATE), -1)
    application.add_handler(_dialogue())
    for command, callback in COMMANDS:
        application.add_handler(CommandHandler(command, callback, filters=PRIVATE))
    application.add_handler(CallbackQueryHandler(delete_task_press, pattern=r"^td:"))
    application.add_handler(CallbackQueryHandler(preview_press, pattern=r"^tp:"))
    application.add_handler(CallbackQueryHandler(stale_dialogue_press, pattern=DIALOGUE_PATTERN))
