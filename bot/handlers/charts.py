"""Charts as photos: the patient's /progress, the therapist's /chart and the report's button.

The data comes from one read-only use case (``bot.services.progress``), the picture is drawn
in the chart threads (``bot.charts.render``), and the caption carries the numbers.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote, unquote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import charts, keyboards, texts
from bot.context import BotApplication, BotContext
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import _actor
from bot.services import authoring, progress
from bot.services.patients import PatientChoices
from bot.services.progress import (
    ChartError,
    ChartTarget,
    NotAPatient,
    PatientNotShown,
    UnknownChartTarget,
    UnknownQuestion,
)
from bot.texts import charts as texts_charts

PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
CHART_BUTTON_PREFIX = keyboards.CHART_BUTTON_PREFIX
PATIENT_CHART = keyboards.PATIENT_CHART


def _refusal(error: ChartError) -> str:
    if isinstance(error, NotAPatient):
        return texts_charts.progress_not_a_patient()
    if isinstance(error, UnknownChartTarget):
        return texts_charts.chart_unknown_target(error.ref, error.groups)
    if isinstance(error, PatientNotShown):
        return texts.patient_page_not_yours()
    if isinstance(error, UnknownQuestion):
        return texts_charts.chart_unknown_question(error.ref, error.patient, error.questions)
    raise TypeError(f"no sentence for {type(error).__name__}")


async def _send_photo(
    update: Update, context: BotContext, content: bytes, caption: str, filename: str
) -> None:
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_photo(
        chat.id,
        InputFile(content, filename=filename),
        caption=caption,
        parse_mode=ParseMode.HTML,
    )


async def progress_command(update: Update, context: BotContext) -> None:
    """Send the patient their last eight weeks as a chart, with the numbers beside it."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None:
        return
    deps = context.deps
    try:
        found = await deps.run(
            progress.progress_for_user,
            deps.database,
            deps.clock.now(),
            deps.settings.scheduler.default_timezone,
            user.id,
        )
    except ChartError as error:
        await message.reply_text(_refusal(error), parse_mode=ParseMode.HTML, do_quote=False)
        return
    picture = await charts.render(charts.progress_png, found, True)
    await _send_photo(
        update, context, picture, texts_charts.progress_caption(found, True), "progress.png"
    )


async def _is_therapist(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    deps = context.deps
    return user is not None and await deps.run(
        authoring.is_therapist, deps.database, deps.settings.therapists.user_ids, user.id
    )


def _choice_data(person_id: int, question: str | None) -> str:
    """A choice's button: the patient and, percent-encoded (callback data is ASCII), as much
    of the question as fits: a question cut short matches the lines the whole one did, and
    perhaps more, never fewer."""
    data = keyboards.encode(PATIENT_CHART, person_id)
    if not question:
        return data
    room = keyboards.MAX_CALLBACK_BYTES - len(data) - 1
    encoded = quote(question, safe="")
    if len(encoded) > room:
        # Never into the middle of a %XX escape.
        encoded = encoded[:room]
        encoded = encoded[: encoded.rfind("%")] if "%" in encoded[-2:] else encoded
    return f"{data}:{encoded}" if encoded else data


def _choices_markup(choices: PatientChoices, question: str | None) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.patient_choice_label(choice),
                    callback_data=_choice_data(choice.person_id, question),
                )
            ]
            for choice in choices.choices
        ]
    )


async def _send_chart(update: Update, context: BotContext, target: ChartTarget) -> None:
    if target.choices is not None:
        message = update.effective_message
        assert message is not None
        await message.reply_text(
            texts.patient_choices(target.choices),
            parse_mode=ParseMode.HTML,
            reply_markup=_choices_markup(target.choices, target.question),
            do_quote=False,
        )
        return
    if target.group is not None:
        heatmap = target.group
        picture = await charts.render(charts.heatmap_png, heatmap)
        shown = min(len(heatmap.rows), progress.MAX_HEATMAP_ROWS)
        caption = texts_charts.heatmap_caption(heatmap, shown)
        await _send_photo(update, context, picture, caption, "adherence.png")
        return
    assert target.patient is not None
    picture = await charts.render(charts.progress_png, target.patient, False)
    caption = texts_charts.progress_caption(target.patient, False)
    await _send_photo(update, context, picture, caption, "patient.png")


async def _chart(update: Update, context: BotContext, ref: str) -> ChartTarget:
    deps = context.deps
    return await deps.run(
        progress.chart,
        deps.database,
        deps.clock.now(),
        deps.settings.scheduler.default_timezone,
        ref,
        actor=_actor(update, context),
    )


async def chart_command(update: Update, context: BotContext) -> None:
    """Send a group's adherence heatmap, or one patient's check-ins and answers."""
    message = update.effective_message
    if message is None:
        return
    if not await _is_therapist(update, context):
        await message.reply_text(texts.admin_refused(), do_quote=False)
        return
    words = (message.text or "").split(maxsplit=1)
    ref = words[1].strip() if len(words) > 1 else ""
    if not ref:
        await message.reply_text(texts_charts.chart_usage(), do_quote=False)
        return
    try:
        target = await _chart(update, context, ref)
    except ChartError as error:
        await message.reply_text(_refusal(error), parse_mode=ParseMode.HTML, do_quote=False)
        return
    await _send_chart(update, context, target)


async def chart_pressed(update: Update, context: BotContext) -> None:
    """The report's "📈 Chart" button: the group's heatmap."""
    query = update.callback_query
    assert query is not None
    if not await _is_therapist(update, context):
        await acknowledge(context, query, texts.admin_refused())
        return
    match = re.fullmatch(rf"{CHART_BUTTON_PREFIX}([0-9]{{1,9}})", query.data or "")
    if match is None:
        await acknowledge(context, query, texts.admin_refused())
        return
    try:
        target = await _chart(update, context, match[1])
    except ChartError as error:
        # A button's answer is plain text, at most 200 characters.
        await acknowledge(context, query, html.unescape(_refusal(error))[:200])
        return
    await acknowledge(context, query)
    await _send_chart(update, context, target)


async def choice_pressed(update: Update, context: BotContext) -> None:
    """A choice under "/chart NAME": the chosen patient's chart (checked again now)."""
    query = update.callback_query
    assert query is not None
    if not await _is_therapist(update, context):
        await acknowledge(context, query, texts.admin_refused())
        return
    callback = keyboards.decode(query.data)
    person_id = callback.int_part(0) if callback else None
    if callback is None or person_id is None or len(callback.parts) > 2:
        await acknowledge(context, query, texts.admin_refused())
        return
    question = unquote(callback.parts[1], errors="ignore") if len(callback.parts) > 1 else ""
    deps = context.deps
    try:
        target = await deps.run(
            progress.chart_patient,
            deps.database,
            deps.clock.now(),
            deps.settings.scheduler.default_timezone,
            person_id,
            " ".join(question.split()) or None,
            actor=_actor(update, context),
        )
    except ChartError as error:
        await acknowledge(context, query, html.unescape(_refusal(error))[:200])
        return
    await acknowledge(context, query)
    await _send_chart(update, context, target)


def register(application: BotApplication) -> None:
    """Add /progress, /chart, its choices' buttons and the report's chart button (before the
    patient's catch-alls)."""
    handlers: list[Any] = [
        CommandHandler("progress", progress_command, filters=PRIVATE_MESSAGE),
        CommandHandler("chart", chart_command, filters=PRIVATE_MESSAGE),
        CallbackQueryHandler(chart_pressed, pattern=rf"^{CHART_BUTTON_PREFIX}"),
        CallbackQueryHandler(choice_pressed, pattern=rf"^{PATIENT_CHART}:"),
    ]
    for handler in handlers:
        application.add_handler(handler)
