"""Build the updates a person's Telegram client would cause, as raw dicts or ``telegram.Update``.

Test data is never typed by hand: a test names a person (``User``) and what they do
(``factory.message(alice, "20")``, ``factory.press(alice, "Yes")``), and the factory fills in
update ids, message ids, dates and the fields PTB needs.

Given the ``FakeBotApi`` the bot talks to, the factory shares its per-chat message ids (so the
person's messages and the bot's never collide), names the person's chat there, and can press a
button on a message the bot really sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any

from telegram import Bot, Update

from fakebotapi import FakeBotApi, ScreenMessage, sent

JSON = dict[str, Any]

# A fixed instant, so updates built without a clock are identical from run to run.
DEFAULT_DATE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class User:
    """A test person. Their private chat with the bot has the same id."""

    id: int
    first_name: str
    last_name: str | None = None
    language_code: str | None = "en"
    username: str | None = None

    @property
    def chat_id(self) -> int:
        return self.id

    def to_dict(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def private_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


def as_update(data: JSON, bot: Bot | None = None) -> Update:
    """Turn a raw update into the ``telegram.Update`` PTB would build from it."""
    return Update.de_json(data, bot)


class UpdateFactory:
    """Raw updates with increasing ``update_id`` s; see the module docstring."""

    def __init__(
        self,
        api: FakeBotApi | None = None,
        *,
        first_update_id: int = 1,
        clock: Callable[[], datetime] | None = None,
        bot_id: int = 1000,
        bot_username: str = "patientbot_test_bot",
    ) -> None:
        self.api = api
        self.clock = clock
        self.bot_id = api.bot_id if api else bot_id
        self.bot_username = api.bot_username if api else bot_username
        self.bot_first_name = api.bot_first_name if api else "PatientBot"
        self._update_ids = count(first_update_id)
        self._seq = count(1)
        self._message_ids: dict[int, int] = {}

    # --- private chat -----------------------------------------------------------------------

    def message(self, user: User, text: str, reply_to: int | None = None) -> JSON:
        """A typed message; ``reply_to``: the bot's message it replies to (a swipe)."""
        replied = self.api.message_json(user.id, reply_to) if self.api and reply_to else None
        extra = {"reply_to_message": replied} if replied else {}
        return self._private(user, {"text": text, **extra})

    def command(self, user: User, command: str, *args: str) -> JSON:
        """``/start ABC`` with the bot_command entity Telegram attaches to it."""
        command = command if command.startswith("/") else f"/{command}"
        text = " ".join((command, *args))
        return self._private(user, {"text": text, "entities": [sent.command_entity(command)]})

    def photo(self, user: User, file_id: str | None = None, caption: str | None = None) -> JSON:
        file_id = file_id or f"photo-{next(self._seq)}"
        if self.api is not None:
            self.api.sent_file(file_id, "photo")
        return self._private(user, {"photo": sent.photo_sizes(file_id), **_caption(caption)})

    def video(
        self,
        user: User,
        file_id: str | None = None,
        duration: int = 12,
        caption: str | None = None,
    ) -> JSON:
        file_id = file_id or f"video-{next(self._seq)}"
        if self.api is not None:
            self.api.sent_file(file_id, "video")
        return self._private(user, {"video": sent.video(file_id, duration), **_caption(caption)})

    def sticker(self, user: User, emoji: str = "👍") -> JSON:
        file_id = f"sticker-{next(self._seq)}"
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._private(user, {"sticker": sticker})

    def voice(self, user: User, duration: int = 4) -> JSON:
        file_id = f"voice-{next(self._seq)}"
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 8_192,
        }
        return self._private(user, {"voice": voice})

    def document(
        self,
        user: User,
        file_name: str = "notes.pdf",
        mime_type: str = "application/pdf",
        file_id: str | None = None,
    ) -> JSON:
        file_id = file_id or f"document-{next(self._seq)}"
        document = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 16_384,
        }
        return self._private(user, {"document": document})

    def edited_message(self, user: User, text: str, message_id: int) -> JSON:
        message = {
            "message_id": message_id,
            "date": self._date(),
            "edit_date": self._date(),
            "chat": user.private_chat(),
            "from": user.to_dict(),
            "text": text,
        }
        return self._update("edited_message", message)

    def callback(self, user: User, data: str, message_id: int | None = None) -> JSON:
        """A press on an inline button carrying ``data``, under the bot's message.

        Without ``message_id`` the bot's latest message in the chat is used (needs ``api``).
        """
        chat_id = user.chat_id
        if message_id is None:
            message_id = self._latest_bot_message(user).message_id
        message = self.api.message_json(chat_id, message_id) if self.api else None
        if message is None:
            message = {
                "message_id": message_id,
                "date": self._date(),
                "chat": user.private_chat(),
                "from": self._bot_user(),
                "text": "",
            }
        query = {
            "id": f"{user.id}{next(self._seq):06d}",
            "from": user.to_dict(),
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": message,
        }
        if self.api is not None:
            self.api.press_made(query["id"])
        return self._update("callback_query", query)

    def press(self, user: User, label: str, message_id: int | None = None) -> JSON:
        """Press the inline button labelled ``label`` on a message the bot sent (needs ``api``).

        Without ``message_id`` it is the bot's latest message carrying such a button, the one
        a person scrolling up would find first.
        """
        api = self._require_api()
        if message_id is not None:
            screen = api.message(user.chat_id, message_id)
            if screen is None:
                raise LookupError(f"the bot has no message {message_id} in chat {user.chat_id}")
            return self.callback(user, screen.callback_data(label), message_id)
        for screen in reversed(api.messages(user.chat_id)):
            if label in screen.button_texts:
                return self.callback(user, screen.callback_data(label), screen.message_id)
        raise LookupError(f"no message in chat {user.chat_id} has a button {label!r}")

    # --- groups and channels ----------------------------------------------------------------

    def group_message(
        self,
        user: User,
        text: str,
        chat_id: int = -1001234567890,
        title: str = "Shoulder Therapy 1",
    ) -> JSON:
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        message = {
            "message_id": self._next_message_id(chat_id),
            "date": self._date(),
            "chat": {"id": chat_id, "type": kind, "title": title},
            "from": user.to_dict(),
            "text": text,
        }
        return self._update("message", message)

    def channel_post(
        self,
        text: str,
        chat_id: int = -1009876543210,
        title: str = "Clinic News",
    ) -> JSON:
        chat = {"id": chat_id, "type": "channel", "title": title}
        message = {
            "message_id": self._next_message_id(chat_id),
            "date": self._date(),
            "chat": chat,
            "sender_chat": chat,
            "text": text,
        }
        return self._update("channel_post", message)

    # --- plumbing ---------------------------------------------------------------------------

    def _private(self, user: User, content: JSON) -> JSON:
        if self.api is not None:
            self.api.name_chat(user.chat_id, user.first_name, user.last_name)
        message = {
            "message_id": self._next_message_id(user.chat_id),
            "date": self._date(),
            "chat": user.private_chat(),
            "from": user.to_dict(),
            **content,
        }
        return self._update("message", message)

    def _update(self, kind: str, payload: JSON) -> JSON:
        return {"update_id": next(self._update_ids), kind: payload}

    def _next_message_id(self, chat_id: int) -> int:
        if self.api is not None:
            return self.api.next_message_id(chat_id)
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _date(self) -> int:
        now = self.clock() if self.clock else DEFAULT_DATE
        return int(now.timestamp())

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _require_api(self) -> FakeBotApi:
        if self.api is None:
            raise RuntimeError(
                "pass the FakeBotApi to UpdateFactory to look at the bot's messages"
            )
        return self.api

    def _latest_bot_message(self, user: User) -> ScreenMessage:
        messages = self._require_api().messages(user.chat_id)
        if not messages:
            raise LookupError(f"the bot has sent nothing to chat {user.chat_id}")
        return messages[-1]


def _caption(caption: str | None) -> JSON:
    return {"caption": caption} if caption is not None else {}
