"""The newest message this process has seen in each chat: the patient's, or the bot's own.

A button press says which message was pressed, not what the chat holds since. After a press
the bot stores the next question as to be sent and counts from the chat's newest message: a
patient's message more than one number above it was typed after some message of the bot's
it did not record, the question itself, whose record a kill cut off
(``bot.services.checkin.shown``). Every message the bot sends passes ``ReplyGate``, and every
update the worker handles passes the receiver; both note their ids here.

Kept in memory, per process: after a restart, or where another instance handled the chat's
last update, the pressed message is all there is to count from; too low a number there can take
a message typed before the question arrived as its answer, but only after a kill between
storing the question and sending it. Bounded: the chats seen longest ago are forgotten first
(20,000 chats hold 2.6 MB by tracemalloc; 100,000 held 11.6 MB, 16.9 in an OrderedDict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telegram import Bot

CAPACITY = 20_000


class ChatMarks:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        # A dict keeps insertion order: a chat noted again goes to the end (pop, then set).
        self._newest: dict[int, int] = {}

    def note(self, chat_id: object, message_id: object) -> None:
        if not isinstance(chat_id, int) or not isinstance(message_id, int):
            return
        known = self._newest.pop(chat_id, 0)
        self._newest[chat_id] = max(known, message_id)
        if len(self._newest) > self.capacity:
            del self._newest[next(iter(self._newest))]

    def note_sent(self, chat_id: object, result: object) -> None:
        """Note the messages a Bot API call returned (one, or an album's list)."""
        for message in result if isinstance(result, list) else [result]:
            if isinstance(message, Mapping):
                self.note(_chat_of(message, chat_id), message.get("message_id"))

    def newest(self, chat_id: int, *also: int | None) -> int | None:
        """The newest message id known in the chat, counting ``also`` (a pressed message)."""
        known = [m for m in (self._newest.get(chat_id), *also) if m is not None]
        return max(known) if known else None


def _chat_of(message: Mapping[str, Any], chat_id: object) -> object:
    chat = message.get("chat")
    # copyMessage answers with the new message's id alone: the chat is the one asked for.
    return chat.get("id") if isinstance(chat, Mapping) else chat_id


def marks_of(bot: Bot) -> ChatMarks | None:
    """The marks kept by the bot's ``ReplyGate`` (None for a bot built without it)."""
    gate = getattr(bot, "rate_limiter", None)
    marks = getattr(gate, "marks", None)
    return marks if isinstance(marks, ChatMarks) else None


def newest_known(bot: Bot, chat_id: int, *also: int | None) -> int | None:
    marks = marks_of(bot)
    if marks is None:
        known = [m for m in also if m is not None]
        return max(known) if known else None
    return marks.newest(chat_id, *also)
