"""/patient (one patient's page, its Older/Newer and media buttons), /media, the report's
patient buttons.

A page is edited in place when turned; a report's or an alert's button opens it as a new
message, so the report stays. A photo or video is sent on by the file id Telegram gave when the
patient sent it; a file Telegram no longer has is said in one line, never as an error.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    InputMediaVideo,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter

from bot import keyboards, texts
from bot.context import BotContext
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import (
    MAX_MESSAGE,
    MAX_RETRY_WAIT,
    _actor,
    _args,
    _attempt,
    _button,
    _markup,
    _now,
    _send,
    _zone,
    therapist_only,
)
from bot.sender import retry_after_seconds
from bot.services import patientpage, reports
from bot.services.authoring import AuthoringError
from bot.services.patientpage import MediaItem, PatientPage
from bot.services.patients import PatientChoices
from bot.services.reports import AdherenceReport
from bot.texts import charts as texts_charts

log = logging.getLogger(__name__)
T = TypeVar("T")

# Telegram's album holds 2 to 10 items.
ALBUM_SIZE = 10
# Patient buttons under a report, per page of buttons (two a row), below Telegram's 100.
REPORT_BUTTONS = 20
# Photo and video buttons under a page at a time, when they are more than fit: room is kept
# for Older and Newer and for the two buttons to the earlier and later ones.
MEDIA_WINDOW = keyboards.MAX_BUTTONS - 4
# What Telegram answers when it no longer has a file (or never had it, for this bot).
_FILE_GONE = re.compile(
    r"wrong file identifier|wrong remote file|file reference|file_id|MEDIA_EMPTY|"
    r"failed to get HTTP URL content|wrong type of the web page content",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    """A sentence for a button's answer: plain text, at most 200 characters."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))[:200]


# --- the page -------------------------------------------------------------------------------


def _page_view(page: PatientPage, media_from: int = 0) -> tuple[str, InlineKeyboardMarkup | None]:
    """The page's text and buttons; ``media_from``: the first photo or video with a button.

    A page of four check-ins of thirty photo questions has more photos than Telegram takes
    buttons under a message: it shows them a window at a time, and says so.
    """
    media = [a for c in page.checkins for a in c.answers if a.media]
    turn = []
    if page.has_older:
        older = page.offset + len(page.checkins)
        turn.append(_button(texts.page_older(), keyboards.PATIENT_PAGE, page.person_id, older))
    if page.has_newer:
        newer = max(page.offset - patientpage.PAGE_CHECKINS, 0)
        turn.append(_button(texts.page_newer(), keyboards.PATIENT_PAGE, page.person_id, newer))
    start, shown, note = 0, media, ""
    windows: list[tuple[str, int]] = []  # the buttons to other windows: label, first
    if len(media) + len(turn) > keyboards.MAX_BUTTONS:
        # A window's place is fixed by its number alone, so a press finds the same window
        # whichever of Older, Newer, earlier and later shares the keyboard with it.
        start = min(max(media_from, 0), len(media) - 1) // MEDIA_WINDOW * MEDIA_WINDOW
        shown = media[start : start + MEDIA_WINDOW]
        end = start + len(shown)
        if start:
            earlier = texts.page_media_earlier(start - MEDIA_WINDOW + 1, start)
            windows.append((earlier, start - MEDIA_WINDOW))
        if end < len(media):
            later = texts.page_media_later(end + 1, min(end + MEDIA_WINDOW, len(media)))
            windows.append((later, end))
        note = texts.page_media_note(
            start + 1, end, len(media), keyboards.MAX_BUTTONS, windows[-1][0]
        )
    rows = [
        [
            _button(texts.media_button(answer, number), keyboards.PATIENT_MEDIA, answer.answer_id)
            for number, answer in pair
        ]
        for pair in _pairs(list(enumerate(shown, start=start + 1)))
    ]
    other_windows = [
        _button(label, keyboards.PATIENT_PAGE, page.person_id, page.offset, first)
        for label, first in windows
    ]
    markup = _markup(*rows, other_windows, turn) if rows or turn else None
    return texts.patient_page(page, MAX_MESSAGE, note), markup


def _pairs(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[i : i + 2] for i in range(0, len(items), 2)]


def _choices_markup(found: PatientChoices) -> InlineKeyboardMarkup:
    return _markup(
        *(
            [_button(texts.patient_choice_label(c), keyboards.PATIENT_PAGE, c.person_id, 0)]
            for c in found.choices
        )
    )


@therapist_only
async def patient_command(update: Update, context: BotContext) -> None:
    """Show one patient's page, or buttons to choose when several match."""
    text = _args(update)
    if not text:
        await _send(update, texts.patient_usage())
        return
    deps = context.deps
    found = await _attempt(
        update,
        context,
        patientpage.find_patient,
        deps.database,
        _now(context),
        _zone(context),
        _actor(update, context),
        deps.settings.therapists.user_ids,
        text,
    )
    if found is None:
        return
    if isinstance(found, PatientChoices):
        await _send(update, texts.patient_choices(found), _choices_markup(found))
        return
    await _send(update, *_page_view(found))


@therapist_only
async def page_press(update: Update, context: BotContext) -> None:
    """Turn a page (or open a chosen patient) in place; a report's or alert's button sends it."""
    query = update.callback_query
    assert query is not None
    callback = keyboards.decode(query.data)
    person_id = callback.int_part(0) if callback else None
    in_place = callback is not None and callback.kind == keyboards.PATIENT_PAGE
    parts = callback.parts if callback else ()
    offset_part = parts[1] if len(parts) > 1 else "0"
    media_part = parts[2] if len(parts) > 2 else "0"
    if (
        callback is None
        or person_id is None
        or not offset_part.isdigit()
        or not media_part.isdigit()
    ):
        await acknowledge(context, query, texts.admin_stale_button())
        return
    deps = context.deps
    try:
        page = await deps.run(
            patientpage.patient_page,
            deps.database,
            _now(context),
            _zone(context),
            _actor(update, context),
            deps.settings.therapists.user_ids,
            person_id,
            int(offset_part[:9]) if in_place else 0,
        )
    except AuthoringError as error:
        await acknowledge(context, query, _plain(texts.words(error.problems[0])))
        return
    await acknowledge(context, query)
    text, markup = _page_view(page, int(media_part[:9]) if in_place else 0)
    if not in_place:
        await _send(update, text, markup)
        return
    try:
        await query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as error:
        # Pressed twice: the page shown is already this one.
        log.info("Patient page not changed: %s", error)


@therapist_only
async def media_press(update: Update, context: BotContext) -> None:
    """Send the photo or video of one answer, captioned, into the therapist's chat."""
    query = update.callback_query
    assert query is not None
    callback = keyboards.decode(query.data)
    answer_id = callback.int_part(0) if callback else None
    if answer_id is None:
        await acknowledge(context, query, texts.admin_stale_button())
        return
    deps = context.deps
    try:
        item = await deps.run(
            patientpage.media_answer,
            deps.database,
            _now(context),
            _zone(context),
            _actor(update, context),
            deps.settings.therapists.user_ids,
            answer_id,
        )
    except AuthoringError as error:
        await acknowledge(context, query, _plain(texts.words(error.problems[0])))
        return
    await acknowledge(context, query)
    chat = update.effective_chat
    assert chat is not None
    if not await _send_one(context, chat.id, item):
        await _send(update, texts.media_missing(item))


# --- sending media --------------------------------------------------------------------------


async def _paced(send: Callable[[], Awaitable[object]]) -> None:
    """Send, waiting once when Telegram asks for a short pause (ten albums are a burst)."""
    try:
        await send()
    except RetryAfter as error:
        wait = retry_after_seconds(error)
        if wait > MAX_RETRY_WAIT:
            raise
        await asyncio.sleep(wait)
        await send()


def _is_file_gone(error: BadRequest) -> bool:
    return _FILE_GONE.search(error.message) is not None


async def _send_one(context: BotContext, chat_id: int, item: MediaItem) -> bool:
    """Send one photo or video by its file id; False when Telegram no longer has the file."""
    caption = texts.media_caption(item)
    try:
        send = context.bot.send_video if item.kind == "video" else context.bot.send_photo
        await _paced(
            lambda: send(chat_id, item.file_id, caption=caption, parse_mode=ParseMode.HTML)
        )
    except BadRequest as error:
        if not _is_file_gone(error):
            raise
        log.info("Media answer %s no longer on Telegram: %s", item.answer_id, error.message)
        return False
    return True


def _album_item(item: MediaItem) -> InputMediaPhoto | InputMediaVideo:
    caption = texts.media_caption(item)
    if item.kind == "video":
        return InputMediaVideo(item.file_id, caption=caption, parse_mode=ParseMode.HTML)
    return InputMediaPhoto(item.file_id, caption=caption, parse_mode=ParseMode.HTML)


async def _send_album(context: BotContext, chat_id: int, items: Sequence[MediaItem]) -> list[str]:
    """Send up to ten items as one album; the lines for files Telegram no longer has.

    Telegram refuses a whole album for one missing file without saying which, so the album's
    items then go one by one to find it.
    """
    if len(items) > 1:
        try:
            album = [_album_item(i) for i in items]
            await _paced(lambda: context.bot.send_media_group(chat_id, album))
        except BadRequest as error:
            if not _is_file_gone(error):
                raise
            log.info("An album was refused (%s); sending its items one by one", error.message)
        else:
            return []
    return [texts.media_missing(i) for i in items if not await _send_one(context, chat_id, i)]


@therapist_only
async def media_command(update: Update, context: BotContext) -> None:
    """Send a group's recent photo and video answers as albums of ten, each item captioned."""
    text = _args(update)
    if not text:
        await _send(update, texts.media_usage())
        return
    group_ref, days = patientpage.parse_media_args(text)
    deps = context.deps
    found = await _attempt(
        update,
        context,
        patientpage.group_media,
        deps.database,
        _now(context),
        _zone(context),
        _actor(update, context),
        deps.settings.therapists.user_ids,
        group_ref,
        days,
    )
    if found is None:
        return
    if not found.items:
        await _send(update, texts.media_none(found.group_name, found.days))
        return
    await _send(update, texts.media_found(found))
    chat = update.effective_chat
    assert chat is not None
    missing: list[str] = []
    for start in range(0, len(found.items), ALBUM_SIZE):
        missing += await _send_album(context, chat.id, found.items[start : start + ALBUM_SIZE])
    if missing:
        await _send(update, "\n".join(missing))


# --- the report's patient buttons -----------------------------------------------------------


def report_markup(report: AdherenceReport, offset: int = 0) -> InlineKeyboardMarkup:
    """The report's 📈 Chart button, then a button per patient (REPORT_BUTTONS at a time)."""
    rows: list[list[InlineKeyboardButton]] = []
    if report.group_id:
        rows.append(
            [
                InlineKeyboardButton(
                    texts_charts.chart_button(),
                    callback_data=f"{keyboards.CHART_BUTTON_PREFIX}{report.group_id}",
                )
            ]
        )
    people = [r for r in report.rows if r.person_id]
    shown = people[offset : offset + REPORT_BUTTONS]
    for pair in _pairs(shown):
        rows.append(
            [
                _button(
                    texts.report_patient_button(r.name, r.data_deleted),
                    keyboards.PATIENT_OPEN,
                    r.person_id,
                )
                for r in pair
            ]
        )
    kind, ref = ("t", report.task_id) if report.kind == "task" else ("g", report.group_id)
    turn = []
    if offset:
        back = max(offset - REPORT_BUTTONS, 0)
        turn.append(
            _button(texts.report_patients_back(), keyboards.REPORT_PATIENTS, kind, ref, back)
        )
    if offset + REPORT_BUTTONS < len(people):
        more = offset + REPORT_BUTTONS
        turn.append(
            _button(texts.report_patients_more(), keyboards.REPORT_PATIENTS, kind, ref, more)
        )
    return _markup(*rows, turn)


@therapist_only
async def report_patients_press(update: Update, context: BotContext) -> None:
    """Show the report's next (or previous) patient buttons under the same report."""
    query = update.callback_query
    assert query is not None
    callback = keyboards.decode(query.data)
    parts = callback.parts if callback else ()
    if (
        len(parts) != 3
        or parts[0] not in ("g", "t")
        or not all(p.isascii() and p.isdigit() and len(p) < 10 for p in parts[1:])
    ):
        await acknowledge(context, query, texts.admin_stale_button())
        return
    kind = "task" if parts[0] == "t" else "group"
    deps = context.deps
    try:
        report = await deps.run(
            reports.adherence,
            deps.database,
            _now(context),
            _zone(context),
            kind,
            parts[1],
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        await acknowledge(context, query, _plain(texts.words(error.problems[0])))
        return
    await acknowledge(context, query)
    try:
        await query.edit_message_reply_markup(report_markup(report, int(parts[2])))
    except BadRequest as error:
        log.info("Report buttons not changed: %s", error)
