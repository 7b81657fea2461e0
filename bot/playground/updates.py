"""Raw updates a person's Telegram client would cause, for the playground's fake transport.

A smaller sibling of the tests' ``UpdateFactory``: the product may not import ``tests/``, and
the playground needs only private-chat messages, photos, videos and button presses. Message ids
come from the FakeBotApi's per-chat counter, so the person's messages and the bot's never share
an id and sort into one conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import count
from typing import Any

from bot.frozen import frozen
from fakebotapi import FakeBotApi, sent

JSON = dict[str, Any]


@frozen
class Person:
    """Someone the playground lets you be. Their private chat with the bot has the same id."""

    id: int
    first_name: str
    last_name: str | None
    role: str  # "therapist" or "patient"
    # The language of the person's Telegram app, sent with every update as Telegram does; the
    # bot writes in it until the person chooses one with /language.
    language_code: str = "en"

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_user(self) -> JSON:
        user: JSON = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.last_name:
            user["last_name"] = self.last_name
        return user

    def private_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        return chat


class UpdateBuilder:
    """Build updates for ``FakeBotApi.push_update`` (which assigns the update id)."""

    def __init__(self, api: FakeBotApi, now: Callable[[], datetime]) -> None:
        self.api = api
        self.now = now
        self._seq = count(1)

    def text(self, person: Person, text: str) -> JSON:
        """A typed message; a leading ``/command`` gets the entity Telegram attaches to it."""
        content: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [sent.command_entity(command)]
        return self._message(person, content)

    def photo(self, person: Person, file_id: str) -> JSON:
        return self._message(person, {"photo": sent.photo_sizes(file_id)})

    def video(self, person: Person, file_id: str, duration: int = 12) -> JSON:
        return self._message(person, {"video": sent.video(file_id, duration)})

    def press(self, person: Person, message: JSON, data: str) -> JSON:
        """A press on an inline button carrying ``data`` under the bot's ``message``."""
        query = {
            "id": f"{person.id}{next(self._seq):06d}",
            "from": person.to_user(),
            "chat_instance": f"ci-{person.chat_id}",
            "data": data,
            "message": message,
        }
        return {"callback_query": query}

    def _message(self, person: Person, content: JSON) -> JSON:
        message = {
            "message_id": self.api.next_message_id(person.chat_id),
            "date": int(self.now().timestamp()),
            "chat": person.private_chat(),
            "from": person.to_user(),
            **content,
        }
        return {"message": message}
