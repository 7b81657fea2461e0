"""/mydata: the patient's own data, as one file."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import CommandHandler, filters

from bot import texts
from bot.context import BotApplication, BotContext
from bot.services import datarights

PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


def register(application: BotApplication) -> None:
    """Add /mydata (before the patient's handlers, whose last one answers unknown commands)."""
    application.add_handler(CommandHandler("mydata", my_data, filters=PRIVATE_MESSAGE))


async def my_data(update: Update, context: BotContext) -> None:
    """Send everything stored about the sender as one JSON file."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    deps = context.deps
    now = deps.clock.now()
    data = await deps.run(datarights.my_data, deps.database, now, user.id)
    if data is None:
        await message.reply_text(texts.mydata_nothing())
        return
    await message.reply_document(
        InputFile(texts.mydata_file(data, now), filename=texts.mydata_filename(now)),
        caption=texts.mydata_caption(data),
    )
