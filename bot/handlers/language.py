"""The reader's language: chosen once per update, and /language to change it.

``set_reader_language`` runs before every other handler (group -10, ahead of the therapist's
group -1) and sets the language every sentence of this update is written in: the person's
choice, else their Telegram app's language when the bot speaks it, else the clinic's default.
An update that only handlers marked ``learns_reader_language`` take (a typed answer, an
answer or Skip button) skips that read: their use case reads the choice with its own rows, in
the same transaction.
"""

from __future__ import annotations

import re

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, TypeHandler, filters

from bot import texts
from bot.context import BotApplication, BotContext
from bot.handlers.patient import ask_again, consent_again
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import patient_menu, therapist_menu
from bot.handlers.therapist.menus import menu_changes, set_therapist_menu
from bot.readers import learns_it_itself, read_and_speak_to, speak_to
from bot.services import language
from bot.services.audit import Actor, ActorRole
from bot.services.authoring import is_therapist
from bot.texts import language as speech

LANGUAGE_BUTTON_PREFIX = "lang:"
READER_GROUP = -10


async def set_reader_language(update: Update, context: BotContext) -> None:
    """Write this update's answers in its sender's language."""
    user = update.effective_user
    deps = context.deps
    if user is None:
        speech.use(deps.settings.i18n.default_language)
        return
    if learns_it_itself(update, context.application, READER_GROUP):
        # An answer, typed or pressed, the commonest update: its use case reads the choice
        # with its own rows (one transaction instead of two); until then, the app's language.
        speak_to(deps, None, user.language_code)
        return
    if await read_and_speak_to(deps, user) and await deps.run(
        is_therapist, deps.database, deps.settings.therapists.user_ids, user.id
    ):
        # Their app's language changed (or was first heard): the chat's admin menu follows,
        # as it was published in the language known then.
        async with menu_changes(context.application, user.id):
            await set_therapist_menu(context.bot, user.id, speech.current())


def _buttons() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(name, callback_data=f"{LANGUAGE_BUTTON_PREFIX}{code}")
                for code, name in speech.LANGUAGES.items()
            ]
        ]
    )


async def language_command(update: Update, context: BotContext) -> None:
    """Show the language in use and a button for each language, named in itself."""
    assert update.effective_message is not None
    if context.args:
        chosen = language.supported(context.args[0])
        await _choose(update, context, chosen or context.args[0])
        return
    await update.effective_message.reply_text(
        texts.language_choose(speech.LANGUAGES[speech.current()]),
        parse_mode=ParseMode.HTML,
        reply_markup=_buttons(),
    )


async def language_pressed(update: Update, context: BotContext) -> None:
    """Store the language of the pressed button."""
    query = update.callback_query
    assert query is not None
    match = re.fullmatch(rf"{LANGUAGE_BUTTON_PREFIX}([a-z]{{2,8}})", query.data or "")
    await acknowledge(context, query)
    await _choose(update, context, match.group(1) if match else "?")


async def _choose(update: Update, context: BotContext, code: str) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    deps = context.deps
    therapist = await deps.run(
        is_therapist, deps.database, deps.settings.therapists.user_ids, user.id
    )
    role = ActorRole.THERAPIST if therapist else ActorRole.PATIENT
    try:
        chosen = await deps.run(
            language.choose_language,
            deps.database,
            deps.clock.now(),
            user.id,
            code,
            # A patient's own act is recorded without their Telegram id, as all of theirs
            # are: an erasure could not take it out of the audit trail.
            actor=Actor(user.id if therapist else None, role),
            therapist=therapist,
            erasure_key=deps.settings.erasure_key,
        )
    except language.LanguageRefused as refused:
        await context.bot.send_message(chat.id, texts.words(refused.said), parse_mode="HTML")
        return
    # The rest of this update, and every later one, is in the new language.
    speech.use(chosen.language)
    await context.bot.send_message(
        chat.id,
        texts.language_set(speech.LANGUAGES[chosen.language]),
        parse_mode=ParseMode.HTML,
    )
    await _menu_in_chat(context, chat.id, therapist=therapist)
    if chosen.joining:
        # Waiting to agree: the consent text comes again, to be read in the chosen language.
        await consent_again(context, chat.id, user.id)
    elif chosen.changed:
        # The question on the screen is in the old language: it comes again in the new one.
        await ask_again(context, chat.id, user.id)


async def _menu_in_chat(context: BotContext, chat_id: int, *, therapist: bool) -> None:
    """The / menu of this chat in the chosen language (a chat's menu outranks the default's)."""
    menu = therapist_menu() if therapist else patient_menu()
    try:
        async with menu_changes(context.application, chat_id):
            await context.bot.set_my_commands(
                [BotCommand(command, description) for command, description in menu],
                scope=BotCommandScopeChat(chat_id),
            )
    except TelegramError:
        # The menu is a convenience; the choice itself is stored.
        return


def register(application: BotApplication) -> None:
    application.add_handler(TypeHandler(Update, set_reader_language), group=READER_GROUP)
    application.add_handler(
        CommandHandler("language", language_command, filters=filters.ChatType.PRIVATE)
    )
    application.add_handler(
        CallbackQueryHandler(language_pressed, pattern=rf"^{LANGUAGE_BUTTON_PREFIX}")
    )
