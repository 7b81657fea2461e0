"""Floods from one chat: past a per-chat rate the bot says once that it pauses, then is quiet.

One person sending hundreds of messages would otherwise get a reply to each and spend the
bot's message budget, which Telegram counts per bot, on everyone else's behalf. Every update
is still stored and handled (an answer in the middle of a flood is kept); only the messages
the bot would send *into that chat* are held back, by ``ReplyGate``, PTB's rate-limiter hook
that every Bot API call passes through. The next question, not sent, stays pending: the due
scan sends it once the chat is calm again (``question_resend_seconds``), or the patient's next
message brings it.

The rate is counted over the last minute of the inbox, which every instance shares
(``FloodWatch``): behind a load balancer a chat meets the same limit as with one instance.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from bot.chatmarks import ChatMarks
from bot.sender import Pacer, retry_after_seconds

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]
# Chats kept quiet at once that this process remembers telling so.
QUIET_CAPACITY = 10_000

# What a paused chat does not get; answering a button press is not a message and still goes.
_SENDING = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "sendPhoto",
        "sendVideo",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
# Chats whose replies are held back while the current update is handled.
_quiet_chat: ContextVar[int | None] = ContextVar("patientbot_quiet_chat", default=None)
# Set while the scheduler sends: its messages have had their slot from the pacer already.
_paced: ContextVar[bool] = ContextVar("patientbot_paced", default=False)
# A reply waits out RetryAfter answers up to this long in all, then fails as before.
REPLY_MAX_WAIT = 30.0


class RepliesPaused(TelegramError):
    """A reply into a flooding chat was held back (the update itself was handled)."""

    def __init__(self, chat_id: int) -> None:
        super().__init__(f"replies to chat {chat_id} are paused: it sends too fast")
        self.chat_id = chat_id


class ReplyGate(BaseRateLimiter[None]):
    """Refuse messages into the chat being kept quiet; count every other message in the budget.

    ``budget`` gives the scheduler's pacer (set when the scheduler is installed): a reply takes
    its place there ahead of every prompt, so replies and prompts together stay within
    ``messages_per_second``. A RetryAfter holds the pacer (prompts wait too) and the reply is
    sent once the wait is over, instead of failing the update.
    """

    def __init__(self) -> None:
        self.budget: Callable[[], Pacer] | None = None
        # Told of each reply that went out (``bot.replyshare``: other instances count it too).
        self.reply_sent: Callable[[], None] | None = None
        # Told of each paced message that went out (the scheduler's: prompts and the like).
        self.paced_sent: Callable[[], None] | None = None
        # Run when the bot shuts down: ``Application.shutdown`` reaches here (through
        # ``Bot.shutdown``) also where nothing calls ``post_shutdown`` (tools, tests).
        self.closing: Callable[[], Awaitable[None]] | None = None
        # Every message sent passes here: the newest one of each chat (``bot.chatmarks``).
        self.marks = ChatMarks()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        if self.closing is not None:
            await self.closing()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> ApiResult:
        try:
            result = await self._send(callback, args, kwargs, endpoint, data)
        except RepliesPaused:
            raise  # nothing went out
        except BaseException:
            if endpoint in _SENDING:
                self.marks.forget(data.get("chat_id"))  # it may have reached the chat
            raise
        if endpoint in _SENDING:
            self.marks.note_sent(data.get("chat_id"), result)
        return result

    async def _send(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
    ) -> ApiResult:
        quiet = _quiet_chat.get()
        if quiet is not None and endpoint in _SENDING and str(data.get("chat_id")) == str(quiet):
            raise RepliesPaused(quiet)
        if self.budget is None:
            return await callback(*args, **kwargs)
        budget = self.budget()
        if _paced.get():
            # Its place came from the pacer before (an edit of a keyboard too): held there until
            # a second after this, and counted by the other instances. Told also when it
            # failed: a request that timed out may have reached Telegram all the same.
            try:
                return await callback(*args, **kwargs)
            finally:
                budget.answered()
                if self.paced_sent is not None:
                    self.paced_sent()
        if endpoint not in _SENDING:
            return await callback(*args, **kwargs)
        chat = data.get("chat_id")
        waited = 0.0
        while True:
            await budget.acquire_reply(chat if isinstance(chat, int | str) else 0)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                budget.pause(seconds)
                waited += seconds
                if waited > REPLY_MAX_WAIT:
                    raise
                continue
            finally:
                budget.answered()
            if self.reply_sent is not None:
                self.reply_sent()
            return result


class Flow(enum.Enum):
    CALM = "calm"
    STARTED = "started"  # this update crossed the limit: say so once
    FLOODING = "flooding"


class FloodWatch:
    """Which chats send more updates a minute than a person types, and are kept quiet.

    The count is the inbox's (``inbox.Item.arrivals``, counted by the claim over what every
    instance stored), not this process's: behind a load balancer each instance is given a
    share of a chat's updates, and counted alone the limit grew with their number. Which
    chats this process told that their replies pause is its own, so a chat hears it once from
    each instance that handles its updates while it floods.
    """

    def __init__(self, per_minute: int, exempt: Iterable[int] = ()) -> None:
        self.per_minute = per_minute
        self.exempt = frozenset(exempt)
        self._quiet: set[int] = set()

    def note(self, chat_id: int | None, arrivals: int) -> Flow:
        """``arrivals``: the chat's updates of the last minute, up to this one."""
        if chat_id is None or chat_id in self.exempt:
            return Flow.CALM
        if arrivals <= self.per_minute:
            self._quiet.discard(chat_id)
            return Flow.CALM
        if chat_id in self._quiet:
            return Flow.FLOODING
        if len(self._quiet) >= QUIET_CAPACITY:
            self._quiet.clear()  # bounded: each chat still flooding is told once more
        self._quiet.add(chat_id)
        return Flow.STARTED


@contextmanager
def paced() -> Iterator[None]:
    """Messages sent inside the block have had their slot from the pacer (the scheduler's)."""
    token = _paced.set(True)
    try:
        yield
    finally:
        _paced.reset(token)


@contextmanager
def quiet(chat_id: int | None) -> Iterator[None]:
    """Hold back every message into ``chat_id`` sent inside the block."""
    token = _quiet_chat.set(chat_id)
    try:
        yield
    finally:
        _quiet_chat.reset(token)
