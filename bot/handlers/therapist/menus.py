"""Command menus: everyone's menu in each language, the therapist's per chat, published at
start and on change.

Telegram shows a user the most specific menu it has: their chat's own, else the default scope
in their app's language, else the default scope. So the default scope gets one menu per
language the bot speaks (``language_code``) plus the clinic's default language without one,
and each therapist's chat gets the therapist menu in that therapist's language.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import DEPS_KEY, BotApplication, Deps
from bot.handlers.therapist.common import patient_menu, therapist_menu
from bot.readers import chat_language
from bot.services import authoring
from bot.texts.language import LANGUAGES, speaking

log = logging.getLogger(__name__)

MENUS_KEY = "menus_publishing"
MENU_LOCK_KEY = "menu_changes"


# --- command menus ------------------------------------------------------------------------


def _commands(menu: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(command, description) for command, description in menu]


async def set_therapist_menu(
    context_bot: Any, chat_id: int, language: str | None = None, deps: Deps | None = None
) -> bool:
    """Show the admin commands in one therapist's chat, in their language; False when
    Telegram refuses. The language is looked up when not given."""
    if language is None:
        assert deps is not None
        language = await chat_language(deps, chat_id)
    with speaking(language):
        menu = _commands(therapist_menu())
    try:
        await context_bot.set_my_commands(menu, scope=BotCommandScopeChat(chat_id))
    except TelegramError as error:
        # A user who never opened the bot has no chat yet; /help still lists everything.
        log.warning("Could not set the therapist menu for chat %s: %s", chat_id, error)
        return False
    return True


async def publish_menus(application: BotApplication) -> None:
    """Patients see the patient commands; each therapist's chat also the admin ones."""
    deps: Deps = application.bot_data[DEPS_KEY]
    default = deps.settings.i18n.default_language
    try:
        with speaking(default):
            menu = _commands(patient_menu())
        await application.bot.set_my_commands(menu, scope=BotCommandScopeDefault())
        for code in LANGUAGES:
            with speaking(code):
                menu = _commands(patient_menu())
            await application.bot.set_my_commands(
                menu, scope=BotCommandScopeDefault(), language_code=code
            )
    except TelegramError as error:
        # Menus are a convenience: the bot must start even when Telegram refuses them.
        log.warning("Could not set the command menu: %s", error)
        return
    chats = await deps.run(
        authoring.therapist_chat_ids, deps.database, deps.settings.therapists.user_ids
    )
    for chat_id in chats:
        # Updates are handled meanwhile: under the lock, and read again, so a /removetherapist
        # or a therapist's /language since the list was read is not undone by an older menu.
        # (A private chat's id is its user's.)
        async with menu_changes(application, chat_id):
            still = await deps.run(
                authoring.is_therapist, deps.database, deps.settings.therapists.user_ids, chat_id
            )
            if still:
                await set_therapist_menu(application.bot, chat_id, deps=deps)


def menu_changes(
    application: Application[Any, Any, Any, Any, Any, Any], chat_id: int
) -> asyncio.Lock:
    """Held while one chat's menu is read and set: one change of it at a time in this process.

    One lock per chat, not one for all: a handler (and so the inbox worker) never waits for
    Telegram to take another chat's menu. Kept only while someone holds or waits for it.
    """
    locks: weakref.WeakValueDictionary[int, asyncio.Lock] = application.bot_data.setdefault(
        MENU_LOCK_KEY, weakref.WeakValueDictionary()
    )
    lock = locks.get(chat_id)
    if lock is None:
        lock = locks[chat_id] = asyncio.Lock()
    return lock


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
    command menus, published beside the first updates (``menus_published``; whoever runs the
    bot ends them with ``stop_publishing_menus`` before it shuts the bot down)."""
    previous = application.post_init

    async def post_init(app: BotApplication) -> None:
        if previous is not None:
            await previous(app)
        await check_at_start(app)
        # Four requests, and one per therapist with a lookup of their language each: a clinic
        # with many therapists would otherwise hold back the handling of the first updates.
        app.bot_data[MENUS_KEY] = asyncio.create_task(_publish_logged(app), name="menus")

    application.post_init = post_init


async def stop_publishing_menus(application: BotApplication) -> None:
    """Cancel the start's publishing if it is still on its way (the next start does it all)."""
    publishing: asyncio.Task[None] | None = application.bot_data.pop(MENUS_KEY, None)
    if publishing is not None and not publishing.done():
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)


async def menus_published(application: BotApplication) -> None:
    """Wait until the menus the start began publishing are out (at once if none are due)."""
    publishing: asyncio.Task[None] | None = application.bot_data.get(MENUS_KEY)
    if publishing is not None:
        await asyncio.shield(publishing)


async def _publish_logged(application: BotApplication) -> None:
    try:
        await publish_menus(application)
    except Exception as error:  # the database away at start: the menus wait for a restart
        log.warning("Could not publish the command menus: %s: %s", type(error).__name__, error)
