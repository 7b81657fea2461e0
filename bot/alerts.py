"""Sending the care team's alerts: after the answer that raised them, or from the due scan.

Each alert goes in its therapist's language, as the photo or video the answer carried when
there is one. Once every alert of an answer was sent, or refused for good (a therapist who
blocked the bot), its answer's mark is cleared (``checkin.note_alerts_sent``); after a failure
that may pass (the network, a flood wait) the mark stays and the due scan sends them again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import rendering
from bot.context import Deps
from bot.floods import paced
from bot.readers import chat_language
from bot.sender import Pacer, retry_after_seconds
from bot.services import checkin
from bot.texts.language import speaking

log = logging.getLogger(__name__)
HTML = ParseMode.HTML


async def send(
    bot: Bot,
    deps: Deps,
    notices: Sequence[checkin.AlertNotice],
    pacer: Pacer | None = None,
    *,
    taken: bool = False,
) -> int:
    """Send the alerts and clear each answer's mark once its alerts are done; returns how
    many went out. ``pacer``: the scan's, each alert paced by it (a handler's replies are
    paced by ``ReplyGate``). ``taken``: the caller took the alerts already (the scan);
    otherwise (the handler) only those nobody took meanwhile are sent."""
    if not notices:
        return 0
    if not taken:
        mine = await deps.run(
            checkin.take_alerts, deps.database, deps.clock.now(), {n.answer_id for n in notices}
        )
        notices = [n for n in notices if n.answer_id in mine]
    sent = 0
    by_answer: dict[int, list[checkin.AlertNotice]] = {}
    for notice in notices:
        by_answer.setdefault(notice.answer_id, []).append(notice)
    for answer_id, its_notices in by_answer.items():
        retry = False
        for notice in its_notices:
            if pacer is not None:
                await pacer.acquire(notice.chat_id)
            try:
                with paced() if pacer is not None else contextlib.nullcontext():
                    await _send_one(bot, deps, notice)
                sent += 1
            except (BadRequest, Forbidden) as error:
                # A therapist who blocked the bot must not break the patient's check-in,
                # nor be tried again at every scan.
                log.warning("Could not deliver an alert to chat %s: %s", notice.chat_id, error)
            except TelegramError as error:
                if isinstance(error, RetryAfter) and pacer is not None:
                    pacer.pause(retry_after_seconds(error))
                log.warning(
                    "Could not deliver an alert to chat %s; the due scan tries again: %s",
                    notice.chat_id,
                    error,
                )
                retry = True
        # Each answer's at once: a stop midway sends again only the answers not done.
        if not retry:
            await deps.run(checkin.note_alerts_sent, deps.database, [answer_id])
    return sent


async def _send_one(bot: Bot, deps: Deps, notice: checkin.AlertNotice) -> None:
    # In the therapist's language, not the patient's whose answer raised it.
    with speaking(await chat_language(deps, notice.chat_id)):
        text = rendering.render_alert(notice)
        markup = rendering.alert_markup(notice)
    if notice.file_id:
        try:
            await _send_media(bot, notice, text, markup)
            return
        except BadRequest as error:
            # Telegram could not send the file on (it no longer has it): the words still go.
            log.info("Alert media not sent to chat %s: %s", notice.chat_id, error.message)
    await bot.send_message(notice.chat_id, text, parse_mode=HTML, reply_markup=markup)


async def _send_media(
    bot: Bot, notice: checkin.AlertNotice, caption: str, markup: InlineKeyboardMarkup | None
) -> None:
    assert notice.file_id is not None
    if notice.media_kind == "video":
        await bot.send_video(
            notice.chat_id, notice.file_id, caption=caption, parse_mode=HTML, reply_markup=markup
        )
    else:
        await bot.send_photo(
            notice.chat_id, notice.file_id, caption=caption, parse_mode=HTML, reply_markup=markup
        )
