"""The newest message this process has seen in each chat it sent into, the bot's or the
patient's.

A button press says which message was pressed, not what the chat holds since. After a press
the bot stores the next question as to be sent and counts from the chat's newest message: a
patient's message more than one number above it was typed after some message of the bot's
it did not record, the question itself, whose record a kill cut off
(``bot.services.checkin.shown``). Every message the bot sends passes ``ReplyGate``, and every
patient's message the worker handles passes the receiver; both note their ids here.

Only a chat this process has sent into has a mark: that message is newer than anything from
before the process started, so from there on what it notes is the whole chat. Without a mark
(after a restart, or once a send failed, when Telegram may have taken it all the same) and
while another instance shares the bot (it answers some of the chat's updates), there is
nothing certain to count from: the press stores none, and a message typed before the question
is sent is never taken for its answer; the question is sent again instead.

Kept in memory and bounded: the chats seen longest ago are forgotten first (20,000 chats hold
2.6 MB by tracemalloc; 100,000 held 11.6 MB, 16.9 in an OrderedDict).
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

    def note_received(self, chat_id: object, message_id: object) -> None:
        """A patient's message, handled: raises the mark of a chat this process sent into."""
        if isinstance(chat_id, int) and isinstance(message_id, int) and chat_id in self._newest:
            self._set(chat_id, max(self._newest[chat_id], message_id))

    def note_sent(self, chat_id: object, result: object) -> None:
        """Note the messages a Bot API call returned (one, or an album's list)."""
        for message in result if isinstance(result, list) else [result]:
            if isinstance(message, Mapping):
                chat, message_id = _chat_of(message, chat_id), message.get("message_id")
                if isinstance(chat, int) and isinstance(message_id, int):
                    self._set(chat, max(self._newest.get(chat, 0), message_id))

    def forget(self, chat_id: object) -> None:
        """A send that failed may have reached the chat all the same: no mark until the next."""
        if isinstance(chat_id, int):
            self._newest.pop(chat_id, None)

    def newest(self, chat_id: int, *also: int | None) -> int | None:
        """The newest message id known in the chat (counting ``also``, a pressed message), or
        None when this process does not know the chat's newest."""
        mark = self._newest.get(chat_id)
        if mark is None:
            return None
        return max([mark, *(m for m in also if m is not None)])

    def _set(self, chat_id: int, message_id: int) -> None:
        self._newest.pop(chat_id, None)
        self._newest[chat_id] = message_id
        if len(self._newest) > self.capacity:
            del self._newest[next(iter(self._newest))]


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
    """The chat's newest message, or None where this process cannot know it (see above)."""
    gate = getattr(bot, "rate_limiter", None)
    marks = marks_of(bot)
    budget = getattr(gate, "budget", None)
    if marks is None or (budget is not None and budget().sharing()):
        return None
    return marks.newest(chat_id, *also)
