"""Answering a button press: whatever Telegram says to the answer, the press still counts.

Telegram takes an answer to a press only for a few seconds. A press that waited in the inbox
longer (the bot was down or busy, a restart handled its backlog first) is refused with "query
is too old"; and a redelivered update's query was answered the first time. Neither may stop
the work the press asked for, so no handler awaits ``CallbackQuery.answer`` itself.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery
from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)


async def acknowledge(query: CallbackQuery, text: str | None = None) -> None:
    """Answer the press, with ``text`` as its notice; never raises.

    Only the button's spinner depends on a bare answer (it stops by itself). A notice Telegram
    no longer takes, such as "this button is out of date" on a press handled late, is sent to
    the chat instead, so the person still learns what became of their press.
    """
    try:
        await query.answer(text)
    except TelegramError as error:
        log.info("Callback query %s not answered: %s", query.id, error)
        if text is None or not isinstance(error, BadRequest) or query.message is None:
            return
        try:
            await query.get_bot().send_message(query.message.chat.id, text)
        except TelegramError:
            log.warning("Could not tell chat about press %s either", query.id, exc_info=True)
