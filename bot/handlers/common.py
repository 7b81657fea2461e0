"""Commands and fallbacks for everyone: /help, the error handler, unknown input."""

from __future__ import annotations

import logging
from collections import deque

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import CommandHandler, filters

from bot import texts
from bot.context import BotApplication, BotContext
from bot.floods import RepliesPaused
from bot.services import checkin
from bot.services.inbox import AlreadyHandled
from storage.errors import is_unavailable, unavailable_reason

log = logging.getLogger(__name__)
# Ids of the last updates whose sender got an apology (bounded: only duplicates matter).
APOLOGISED_KEY = "apologised_updates"


async def help_command(update: Update, context: BotContext) -> None:
    """Explain what this person can do: patients see theirs, therapists also the admin ones."""
    assert update.effective_message is not None and update.effective_user is not None
    from bot.services.authoring import is_therapist

    deps = context.deps
    therapist = await deps.run(
        is_therapist,
        deps.database,
        deps.settings.therapists.user_ids,
        update.effective_user.id,
    )
    text = texts.help_patient()
    if therapist:
        text = f"{text}\n\n{texts.help_therapist()}"
    await update.effective_message.reply_text(text, parse_mode="HTML")


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure without the update's content and tell the person something went wrong."""
    update_id = update.update_id if isinstance(update, Update) else None
    error = context.error
    apology = texts.something_went_wrong()
    if isinstance(error, RepliesPaused):
        # The update was handled; only its reply into a flooding chat was held back.
        log.debug("Reply to update %s held back: %s", update_id, error)
        return
    if isinstance(error, AlreadyHandled):
        # Another instance finished this update after our claim lapsed; ours rolled back.
        log.info("Update %s was handled elsewhere first; this attempt changed nothing", update_id)
        return
    if isinstance(error, Forbidden):
        # The person blocked the bot meanwhile: there is nobody to apologise to.
        log.warning("Could not answer update %s: %s", update_id, error)
        return
    if isinstance(error, RetryAfter | TimedOut) or (
        isinstance(error, NetworkError) and not isinstance(error, BadRequest)
    ):
        # The use case had committed; only Telegram lost the reply. PTB does not retry it, so
        # the person is told their answers are kept and how to go on.
        log.warning("Reply to update %s lost: %s: %s", update_id, type(error).__name__, error)
        apology = texts.hardening_reply_lost()
        await _apology_takes_a_number(update, context)
    elif error is not None and is_unavailable(error):
        # Nothing was stored (the transaction never committed); an outage needs no traceback.
        log.warning(
            "Update %s not handled: the database is unavailable (%s)",
            update_id,
            unavailable_reason(error),
        )
    else:
        log.error("Unhandled error while handling update %s", update_id, exc_info=error)
        # Telegram refusing the next question (a BadRequest) leaves it unsent, as a lost
        # reply does; the apology after it must not pass for that question in the numbering.
        await _apology_takes_a_number(update, context)
    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == "private"
        and _first_apology(context, update.update_id)
    ):
        try:
            await context.bot.send_message(update.effective_chat.id, apology)
        except Exception as failure:  # the apology must never raise a second error
            log.warning(
                "Could not tell the user about the error: %s: %s",
                type(failure).__name__,
                failure,
            )


async def _apology_takes_a_number(update: object, context: BotContext) -> None:
    """The apology is a message the patient's numbering counts: a jump no longer proves that
    a question waiting to be sent arrived (``checkin.reply_lost``)."""
    user = update.effective_user if isinstance(update, Update) else None
    if user is None:
        return
    deps = context.deps
    try:
        await deps.run(checkin.reply_lost, deps.database, user.id)
    except Exception as failure:  # the apology still goes out
        log.warning("Could not note the lost reply: %s", type(failure).__name__)


def _first_apology(context: BotContext, update_id: int) -> bool:
    """Whether this update has not had an apology yet.

    Handlers in two groups can both fail on one update (an outage fails the therapist check
    of /tasks and then the patient's /tasks); the person should read one apology, not two.
    """
    recent: deque[int] = context.application.bot_data.setdefault(APOLOGISED_KEY, deque(maxlen=256))
    if update_id in recent:
        return False
    recent.append(update_id)
    return True


def register_commands(application: BotApplication) -> None:
    # Private chats only, like every other command: a group chat gets no answer from the bot.
    application.add_handler(CommandHandler("help", help_command, filters=filters.ChatType.PRIVATE))
    application.add_error_handler(on_error)


def register_fallbacks(application: BotApplication) -> None:
    """Nothing to add yet: the patient module answers unknown private messages itself."""
