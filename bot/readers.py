"""Whose language a message is written in, for handlers and for jobs.

Handlers: ``bot.handlers.language`` sets the reader's language once per update, from the
person behind it. Jobs that write to people outside an update (prompts, reminders, alerts,
digests) look up each recipient's language here and write inside ``texts.language.speaking``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from telegram import Update, User
from telegram.ext import Application

from bot.context import Deps
from bot.services import language
from bot.texts import language as speech

# Handlers whose use case reads the writer's stored choice of language along with its own
# rows: an update that only they take needs no read of its own for the language.
_LEARN_IT_THEMSELVES: set[Callable[..., Any]] = set()


def learns_reader_language(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a handler that calls ``speak_to`` with the choice its use case read."""
    _LEARN_IT_THEMSELVES.add(callback)
    return callback


def learns_it_itself(
    update: Update, application: Application[Any, Any, Any, Any, Any, Any], skip_group: int
) -> bool:
    """Whether every handler that will take this update learns its language itself.

    The same test PTB makes when it dispatches: in each group the first handler whose
    check passes takes the update.
    """
    takers = []
    for group, handlers in application.handlers.items():
        if group == skip_group:
            continue
        for handler in handlers:
            check = handler.check_update(update)
            if check is not None and check is not False:
                takers.append(getattr(handler, "callback", None))
                break
    return bool(takers) and all(taker in _LEARN_IT_THEMSELVES for taker in takers)


def speak_to(deps: Deps, chosen: str | None, telegram_code: str | None) -> None:
    """Write the rest of this update in the language of its writer."""
    speech.use(language.resolve(chosen, telegram_code, deps.settings.i18n.default_language))


async def read_and_speak_to(deps: Deps, user: User) -> bool:
    """Write the rest of this update in ``user``'s language, read on its own. True when the
    language this person is written to changed with this update (a new app language)."""
    default = deps.settings.i18n.default_language
    reader = await deps.run(
        language.language_of,
        deps.database,
        user.id,
        user.language_code,
        default,
        user.first_name,
    )
    speech.use(reader.language)
    if not reader.outdated:
        return False
    changed: bool = await deps.run(
        language.follow_telegram,
        deps.database,
        user.id,
        user.language_code,
        user.first_name,
        user.last_name or "",
    )
    return changed


async def chat_languages(deps: Deps, chat_ids: Collection[int]) -> dict[int, str]:
    """The language of each private chat (one query for the lot)."""
    return await deps.run(
        language.languages_of_chats,
        deps.database,
        list(chat_ids),
        deps.settings.i18n.default_language,
    )


async def chat_language(deps: Deps, chat_id: int) -> str:
    return (await chat_languages(deps, [chat_id]))[chat_id]
