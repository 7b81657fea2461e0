"""Commands and fallbacks for everyone: /help, the error handler, unknown input."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CommandHandler

from bot import texts
from bot.app import BotApplication, BotContext

log = logging.getLogger(__name__)


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
    log.error("Unhandled error while handling update %s", update_id, exc_info=context.error)
    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == "private"
    ):
        try:
            await context.bot.send_message(update.effective_chat.id, texts.something_went_wrong())
        except Exception:  # the apology must never raise a second error
            log.warning("Could not tell the user about the error", exc_info=True)


def register_commands(application: BotApplication) -> None:
    application.add_handler(CommandHandler("help", help_command))
    application.add_error_handler(on_error)


def register_fallbacks(application: BotApplication) -> None:
    """Nothing to add yet: the patient module answers unknown private messages itself."""
