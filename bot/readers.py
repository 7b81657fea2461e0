"""Whose language a message is written in, for handlers and for jobs.

Handlers: ``bot.handlers.language`` sets the reader's language once per update, from the
person behind it. Jobs that write to people outside an update (prompts, reminders, alerts,
digests) look up each recipient's language here and write inside ``texts.language.speaking``.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.context import Deps
from bot.services import language


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
