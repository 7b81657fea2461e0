"""Messages that stay true: a closed check-in's prompt and reminders say how it ended.

The due scan's housekeeping calls ``close_due`` (paced like every send of the scan, since
edits count against Telegram's budget); a handler whose use case just closed a check-in in the
patient's own chat (the last answer, Skip, /stop) calls ``close_chat_now`` so the patient sees
it at once; /deletemydata edits the messages its erasure took with it (``edit_once``). Each
message becomes its text as sent plus one closing line, without buttons, and is then
forgotten (``bot.services.closing``). Whatever the handler could not edit stays recorded, and
the next scan edits it: a kill between a close and its edits loses nothing. An edit repeated
after a kill gives the same text, which Telegram answers "message is not modified": the
patient sees nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import texts
from bot.context import Deps
from bot.floods import paced
from bot.readers import chat_languages
from bot.rendering import with_outcome
from bot.sender import Pacer, retry_after_seconds
from bot.services import closing
from bot.services.closing import ClosingMessage
from bot.texts.language import speaking

log = logging.getLogger(__name__)

# Telegram's answers that mean the message is as it should be, or beyond reach for good.
_DONE_ANSWERS = (
    "message is not modified",
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
    "chat not found",
)
# Messages edited by one scan at most; the rest wait for the next.
MOST_PER_SCAN = 100
# A check-in in one chat has a prompt and a few reminders; a /stop closes several check-ins.
MOST_PER_CHAT = 30


def closing_text(message: ClosingMessage) -> str | None:
    """The message's new text: as sent, plus how the check-in ended (None: text unknown)."""
    if message.text is None:
        return None
    local = (
        message.closed_at.astimezone(ZoneInfo(message.zone))
        if message.closed_at is not None
        else None
    )
    return with_outcome(message.text, texts.checkin_closing_line(message.ending.value, local))


async def close_due(bot: Bot, deps: Deps, pacer: Pacer) -> int:
    """Edit the messages of check-ins that have closed, paced; returns how many are done."""
    found = await deps.run(
        closing.closed_messages,
        deps.database,
        deps.settings.scheduler.default_timezone,
        MOST_PER_SCAN,
    )
    done: list[int] = []
    # Outside any update of theirs: each closing line in its patient's language.
    languages = await chat_languages(deps, {message.chat_id for message in found})
    try:
        for message in found:
            if pacer.paused:
                break  # Telegram asked us to wait; the next scan carries on
            await pacer.acquire(message.chat_id)
            with speaking(languages[message.chat_id]):
                edited = await _edit(bot, message, pacer)
            if not edited:
                break
            done.append(message.id)
    finally:
        if done:
            await deps.run(closing.forget, deps.database, done)
    if done:
        log.info("closed check-ins: %d of their messages edited", len(done))
    return len(done)


async def close_chat_now(bot: Bot, deps: Deps, chat_id: int) -> set[int]:
    """Edit this chat's messages of closed check-ins now; returns the message ids done.

    For a handler, after the patient's own act closed a check-in: not paced (a reply, like the
    handler's others). What fails here is left to the next scan.
    """
    try:
        found = await deps.run(
            closing.closed_messages,
            deps.database,
            deps.settings.scheduler.default_timezone,
            MOST_PER_CHAT,
            chat_id=chat_id,
        )
        done: list[ClosingMessage] = []
        for message in found:
            if not await _edit(bot, message, None):
                break
            done.append(message)
        if done:
            await deps.run(closing.forget, deps.database, [m.id for m in done])
        return {m.message_id for m in done}
    except Exception:
        # A courtesy on the way out of a check-in must never cost the patient the reply.
        log.exception("could not edit the messages of a closed check-in now; the scan will")
        return set()


async def edit_once(bot: Bot, messages: Sequence[ClosingMessage]) -> None:
    """Edit messages whose records are already gone (an erasure): one try each, no retry."""
    for message in messages:
        try:
            if not await _edit(bot, message, None):
                log.info("a message of an erased check-in was left as it is")
        except Exception:
            log.exception("could not edit a message of an erased check-in")


async def _edit(bot: Bot, message: ClosingMessage, pacer: Pacer | None) -> bool:
    """Edit one message; True when it is done (edited, or beyond editing), False to stop."""
    text = closing_text(message)
    # The scan's edits had their slot from its pacer; a handler's take theirs as replies do.
    slot = paced() if pacer is not None else nullcontext()
    try:
        with slot:
            if text is None:
                await bot.edit_message_reply_markup(
                    chat_id=message.chat_id, message_id=message.message_id, reply_markup=None
                )
            else:
                await bot.edit_message_text(
                    text,
                    chat_id=message.chat_id,
                    message_id=message.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=None,
                )
    except RetryAfter as error:
        if pacer is not None:
            pacer.pause(retry_after_seconds(error))
        return False
    except (BadRequest, Forbidden) as error:
        # Deleted by the patient, too old, the bot blocked, or edited before a kill: asking
        # again would get the same answer, so it is done.
        known = any(answer in str(error).lower() for answer in _DONE_ANSWERS)
        log.log(
            logging.INFO if known or isinstance(error, Forbidden) else logging.WARNING,
            "a closed check-in's message was left as it is: %s",
            error,
            extra={"chat_id": message.chat_id, "message_id": message.message_id},
        )
        return True
    except TelegramError as error:
        log.info(
            "could not edit a closed check-in's message; the next scan tries again: %s",
            error,
            extra={"chat_id": message.chat_id, "message_id": message.message_id},
        )
        return False
    return True
