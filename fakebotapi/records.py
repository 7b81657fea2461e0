"""What the fake records and answers with: faults to inject, calls, screen messages."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

JSON = dict[str, Any]


# --- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryAfterFault:
    """Answer 429 Too Many Requests, as Telegram's flood control does."""

    seconds: int = 1
    kind: ClassVar[str] = "retry_after"


@dataclass(frozen=True, slots=True)
class ServerError:
    """Answer a 5xx status, as Telegram does during an outage."""

    status: int = 502
    kind: ClassVar[str] = "server_error"


@dataclass(frozen=True, slots=True)
class TimeoutFault:
    """Raise ``telegram.error.TimedOut``.

    ``delivered=True`` lets the request take effect before the answer is lost, which is the
    case that produces a duplicate message when the sender retries.
    """

    delivered: bool = False
    kind: ClassVar[str] = "timeout"


@dataclass(frozen=True, slots=True)
class NetworkFault:
    """Raise ``telegram.error.NetworkError("Connection reset by peer")``."""

    delivered: bool = False
    kind: ClassVar[str] = "network"


@dataclass(frozen=True, slots=True)
class ForbiddenFault:
    """Answer 403 as if the person had just blocked the bot."""

    kind: ClassVar[str] = "forbidden"


@dataclass(frozen=True, slots=True)
class BadRequestFault:
    """Answer 400 with ``description``: Telegram refusing a request it cannot take (a text
    its parser rejects, a message gone), which PTB raises as ``BadRequest``."""

    description: str = "Bad Request: can't parse entities"
    kind: ClassVar[str] = "bad_request"


Fault = (
    RetryAfterFault | ServerError | TimeoutFault | NetworkFault | ForbiddenFault | BadRequestFault
)

DEFAULT_RANDOM_FAULTS: tuple[Fault, ...] = (
    RetryAfterFault(1),
    ServerError(502),
    TimeoutFault(),
    NetworkFault(),
)


# --- records --------------------------------------------------------------------------------


@dataclass(slots=True)
class ApiCall:
    """One request as the server saw it, and how it was answered."""

    method: str
    params: dict[str, Any]
    files: dict[str, dict[str, Any]]
    at: float
    # None until answered, and stays None when a timeout or reset swallowed the answer.
    status: int | None = None
    description: str | None = None
    result: Any = None
    chat_id: int | str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def text(self) -> str | None:
        """The text or caption as the bot sent it (HTML source included)."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Violation:
    """A request the real server would have refused."""

    method: str
    description: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScreenMessage:
    """A bot message as it currently stands in the chat, after every edit."""

    message_id: int
    chat_id: int | str
    kind: str  # "text", "document", "photo" or "video"
    text: str | None  # text or caption as the bot sent it, markup included
    plain: str | None  # what the person reads: tags removed, entities decoded, trimmed
    parse_mode: str | None
    reply_markup: JSON | None
    edited: bool
    file_name: str | None = None

    @property
    def buttons(self) -> list[JSON]:
        """Inline buttons in reading order."""
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", ()) for b in row]

    @property
    def button_texts(self) -> list[str]:
        return [b["text"] for b in self.buttons]

    def button(self, label: str) -> JSON:
        for candidate in self.buttons:
            if candidate["text"] == label:
                return candidate
        raise LookupError(f"no button {label!r} on message {self.message_id}: {self.button_texts}")

    def callback_data(self, label: str) -> str:
        data = self.button(label).get("callback_data")
        if not isinstance(data, str):
            raise LookupError(f"button {label!r} carries no callback_data")
        return data


@dataclass(slots=True)
class _Stored:
    message_id: int
    chat_id: int | str
    kind: str
    date: int
    text: str | None
    plain: str | None
    entities: list[JSON]
    parse_mode: str | None
    reply_markup: JSON | None
    media: Any = None
    edit_date: int | None = None


@dataclass(slots=True)
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop = field(repr=False)


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        description: str,
        parameters: JSON | None = None,
        *,
        invalid: bool = True,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        # False for Telegram's answer to a valid request it cannot serve (a file it no longer
        # has): not the bot's mistake, so not a violation.
        self.invalid = invalid


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


_BLOCKED = "Forbidden: bot was blocked by the user"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

# Telegram's flood limits are about messages, so only these count towards the rate windows.
_SEND_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "sendVideo", "sendMediaGroup"}
)
# Telegram's answer for a file id it does not (or no longer) have.
_FILE_GONE = "Bad Request: wrong file identifier/HTTP URL specified"

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_PARSE_MODES = frozenset({"HTML", "MarkdownV2", "Markdown"})

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_NUMERIC_RE = re.compile(r"-?\d+")
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
