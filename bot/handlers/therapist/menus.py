"""Command menus: the therapist's menu per chat, published at start and on change."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.context import DEPS_KEY, BotApplication, Deps
from bot.handlers.therapist.common import PATIENT_MENU, therapist_menu
from bot.services import authoring

log = logging.getLogger(__name__)


# --- command menus ------------------------------------------------------------------------


def _commands(menu: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(command, description) for command, description in menu]


async def set_therapist_menu(context_bot: Any, chat_id: int) -> bool:
    """Show the admin commands in one therapist's chat; False when Telegram refuses."""
    try:
        await context_bot.set_my_commands(
            _commands(therapist_menu()), scope=BotCommandScopeChat(chat_id)
        )
    except TelegramError as error:
        # A user who never opened the bot has no chat yet; /help still lists everything.
        log.warning("Could not set the therapist menu for chat %s: %s", chat_id, error)
        return False
    return True


async def publish_menus(application: BotApplication) -> None:
    """Patients see the patient commands; each therapist's chat also the admin ones."""
    deps = application.bot_data[DEPS_KEY]
    try:
        await application.bot.set_my_commands(
            _commands(PATIENT_MENU), scope=BotCommandScopeDefault()
        )
    except TelegramError as error:
        # Menus are a convenience: the bot must start even when Telegram refuses them.
        log.warning("Could not set the command menu: %s", error)
        return
    chats = await deps.run(
        authoring.therapist_chat_ids, deps.database, deps.settings.therapists.user_ids
    )
    for chat_id in chats:
        await set_therapist_menu(application.bot, chat_id)


async def check_at_start(application: BotApplication) -> None:
    """End therapists' group places no longer configured; warn of demo codes in production."""
    deps: Deps = application.bot_data[DEPS_KEY]
    settings = deps.settings
    now = deps.clock.now()
    places = await deps.run(
        authoring.reconcile_therapists, deps.database, now, settings.therapists.user_ids
    )
    for ended in places.ended:
        log.warning(
            "therapist %s is no longer under [therapists] user_ids: their place in %s ended "
            "(no more alerts from there)",
            ended.telegram_user_id,
            ", ".join(ended.groups),
        )
    for back in places.restored:
        log.info(
            "therapist %s is configured again: their place in %s is back",
            back.telegram_user_id,
            ", ".join(back.groups),
        )
    if settings.telegram.mode != "webhook":
        return
    for demo in await deps.run(authoring.active_demo_codes, deps.database, now):
        log.warning(
            "demo invite code %s of group %s is active in production: anyone who guesses it "
            "joins the group; /revoke it, or seed the group with a code of 8 characters or more",
            demo.code,
            demo.group,
        )


def install_menus(application: BotApplication) -> None:
    """Once the bot has started (after any post_init already set): the start checks, then the
    command menus."""
    previous = application.post_init

    async def post_init(app: BotApplication) -> None:
        if previous is not None:
            await previous(app)
        await check_at_start(app)
        await publish_menus(app)

    application.post_init = post_init
