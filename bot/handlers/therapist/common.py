"""What every therapist handler shares: the therapist check, sending, arguments, menus' lists."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import RetryAfter
from telegram.ext import ConversationHandler, filters

from bot import keyboards, texts
from bot.context import BotContext
from bot.handlers.presses import acknowledge
from bot.rendering import MAX_MESSAGE, shown_length, split_message
from bot.sender import retry_after_seconds
from bot.services import authoring
from bot.services.audit import Actor, ActorRole
from bot.services.authoring import AuthoringError, TaskDetails
from bot.texts import charts as texts_charts

log = logging.getLogger(__name__)


DRAFT_KEY = "admin_draft"
# An abandoned dialogue must not swallow a message typed days later.
DRAFT_TTL = timedelta(hours=1)
MAX_RETRY_WAIT = 5.0
PRIVATE = filters.ChatType.PRIVATE
P = ParamSpec("P")
R = TypeVar("R")


# The command menus, in the order Telegram shows them. Descriptions live in texts.
def patient_menu() -> list[tuple[str, str]]:
    """Everyone's commands, described in the reader's language."""
    return [
        ("start", texts.admin_menu_start()),
        ("tasks", texts.admin_menu_tasks()),
        ("pause", texts.admin_menu_pause()),
        ("timezone", texts.admin_menu_timezone()),
        ("language", texts.admin_menu_language()),
        ("stop", texts.admin_menu_stop()),
        ("deletemydata", texts.admin_menu_deletemydata()),
        ("mydata", texts.mydata_menu()),
        ("progress", texts_charts.menu_progress()),
        ("help", texts.admin_menu_help()),
    ]


def admin_menu() -> list[tuple[str, str]]:
    """The therapist's own commands, described in the reader's language."""
    return [
        ("newtask", texts.admin_menu_newtask()),
        ("addtask", texts.admin_menu_addtask()),
        ("task", texts.admin_menu_task()),
        ("edittask", texts.admin_menu_edittask()),
        ("deletetask", texts.admin_menu_deletetask()),
        ("preview", texts.admin_menu_preview()),
        ("report", texts.admin_menu_report()),
        ("patient", texts.menu_patient()),
        ("media", texts.menu_media()),
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
        ("audit", texts.audit_menu()),
        ("team", texts.team_menu()),
        ("addtoteam", texts.team_menu_add()),
        ("removefromteam", texts.team_menu_remove()),
        ("setconsent", texts.setconsent_menu()),
        ("cancel", texts.admin_menu_cancel()),
    ]


def therapist_menu() -> list[tuple[str, str]]:
    """Patient commands plus admin ones; /tasks described as the therapist's version."""
    menu = [
        (c, texts.admin_menu_tasks_therapist() if c == "tasks" else d) for c, d in patient_menu()
    ]
    return menu + admin_menu()


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
    CONSENT_TEXT,
    CONSENT_REVIEW,
) = range(21)
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
                await acknowledge(context, update.callback_query, texts.admin_refused())
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
            # A preview or a long report is a burst into one chat, and the therapist's next
            # update waits for this one: only a short wait is worth it; a long one goes to the
            # error handler.
            wait = retry_after_seconds(error)
            if attempt or wait > MAX_RETRY_WAIT:
                raise
            await asyncio.sleep(wait)
    return None


async def _send_long(update: Update, chunks: list[str]) -> None:
    for chunk in chunks:
        await _send(update, chunk)


async def _problems(update: Update, error: AuthoringError, hint: str | None = None) -> None:
    lines = [texts.words(problem) for problem in error.problems]
    if hint:
        lines.append(hint)
    # A problem a question (thirty in one /addtask) can outgrow one message: in parts, every
    # problem still reaches the therapist; only a single line too long to send is replaced.
    await _send_long(update, split_message("\n".join(lines)))


async def _named_task(
    update: Update, context: BotContext, usage: str, ref: str | None = None
) -> TaskDetails | None:
    """The task the command's argument (or ``ref``) names; None once the usage or the problem
    was sent."""
    task_id = _task_id(_args(update) if ref is None else ref)
    if task_id is None:
        await _send(update, usage)
        return None
    database = context.deps.database
    return await _attempt(
        update,
        context,
        authoring.task_details,
        database,
        _now(context),
        _zone(context),
        task_id,
        actor=_actor(update, context),
    )


async def _attempt(
    update: Update,
    context: BotContext,
    use_case: Callable[P, R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R | None:
    """Run a use case off the event loop; if the therapist can fix what it refused, say so.

    None means the problems were sent and the handler has nothing more to do.
    """
    try:
        return await context.deps.run(use_case, *args, **kwargs)
    except AuthoringError as error:
        await _problems(update, error)
        return None


_chunks = split_message


def _fits(text: str) -> bool:
    """Whether an HTML message stays within Telegram's limit once its markup is taken out."""
    return shown_length(text) <= MAX_MESSAGE


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


def _actor(update: Update, context: BotContext) -> Actor:
    """Who is acting, for the audit trail: configured ids are administrators."""
    user = update.effective_user
    assert user is not None
    admin = user.id in context.deps.settings.therapists.user_ids
    return Actor(user.id, ActorRole.ADMINISTRATOR if admin else ActorRole.THERAPIST)


def _now(context: BotContext) -> datetime:
    return context.deps.clock.now()


def _example_day(context: BotContext, zone: str) -> date:
    """A day a week ahead of the bot's clock in ``zone``, for a due time's example."""
    return _now(context).astimezone(ZoneInfo(zone)).date() + timedelta(days=7)


def _zone(context: BotContext) -> str:
    return context.deps.settings.scheduler.default_timezone


def _drop(context: BotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)


# --- registration -------------------------------------------------------------------------
