"""Answering a button press: whatever Telegram says to the answer, the press still counts.

Telegram takes an answer to a press for a few seconds only. A press that waited in the inbox
longer (the bot was down or busy, a restart handled its backlog first) is refused with "query
is too old"; and a redelivered update's query was answered the first time. Neither may stop
the work the press asked for, so no handler awaits ``CallbackQuery.answer`` itself (but
``patient._guarded``'s toast, which the error handler's apology follows anyway).
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery
from telegram.error import BadRequest, TelegramError

from bot.context import BotContext
from bot.services import checkin

log = logging.getLogger(__name__)


async def acknowledge(context: BotContext, query: CallbackQuery, text: str | None = None) -> None:
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
            return
        await _notice_takes_a_number(context, query.from_user.id)


async def _notice_takes_a_number(context: BotContext, user_id: int) -> None:
    """The notice is a message the patient's numbering counts, not a question: a jump no
    longer proves that a question waiting to be sent arrived (``checkin.reply_lost``), as
    after the error handler's apology."""
    deps = context.deps
    try:
        await deps.run(checkin.reply_lost, deps.database, user_id)
    except Exception as failure:  # the press's own work is done; only the guess is at stake
        log.warning("Could not note the notice in the chat: %s", type(failure).__name__)
