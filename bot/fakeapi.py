"""A strict, in-memory fake of the Telegram Bot API at python-telegram-bot's request layer.

``FakeBotApi`` is a ``telegram.request.BaseRequest``: hand it to
``ApplicationBuilder().request(fake).get_updates_request(fake)`` and every Bot API call the
bot makes lands here instead of on the network. It answers the way the real server does
(``{"ok": true, "result": ...}`` or an error body with the real HTTP status), keeps each chat's
messages so edits are checked against what is really on the screen, records every call, and
can inject the failures a sender must survive (429, 5xx, timeouts, resets, blocked users).

It is stricter than convenient on purpose: whatever Telegram would refuse (malformed HTML,
64-byte callback data, captions too long, editing a message to the same content) is refused
here too and also written to ``violations``, so a test can assert the bot never leaned on it.

Only telegram's request layer, its error classes and the standard library are imported: the
playground reuses this module outside of pytest.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = [
    "ApiCall",
    "FakeBotApi",
    "Fault",
    "ForbiddenFault",
    "NetworkFault",
    "RetryAfterFault",
    "ScreenMessage",
    "ServerError",
    "TimeoutFault",
    "Violation",
    "parse_html",
]

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


Fault = RetryAfterFault | ServerError | TimeoutFault | NetworkFault | ForbiddenFault

DEFAULT_RANDOM_FAULTS: tuple[Fault, ...] = (
    RetryAfterFault(1),
    ServerError(502),
    TimeoutFault(),
    NetworkFault(),
)


def _photo_size(content: bytes) -> tuple[int, int]:
    """A photo's size as Telegram reports it: an uploaded PNG's own, at most 1280 a side.

    Other uploads (and sent file ids) keep the fixed 1280 x 960 of a phone camera.
    """
    if content[:8] != b"\x89PNG\r\n\x1a\n" or len(content) < 24:
        return 1280, 960
    width, height = int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    scale = min(1.0, 1280 / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


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
    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


_BLOCKED = "Forbidden: bot was blocked by the user"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

# Telegram's flood limits are about messages, so only these count towards the rate windows.
_SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendVideo"})

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


# --- text parsing ---------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Text that Telegram answers with "can't parse entities"."""


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,8})|#([0-9]{1,10})|(lt|gt|amp|quot));")
# Telegram reads a tag name up to whitespace or '>', so "<br/>" is the unknown tag "br/".
_TAG_NAME_RE = re.compile(r"[^\s>]*")
_ATTR_RE = re.compile(r"""\s*([^\s=>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_SPACE_RE = re.compile(r"\s*")
_SPECIAL_RE = re.compile(r"[<&]")


def _utf16_len(text: str) -> int:
    # Entity offsets are in UTF-16 code units; most texts are ASCII and skip the encode.
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_entity(match: re.Match[str]) -> str | None:
    hex_code, dec_code, name = match.groups()
    if name:
        return _NAMED_ENTITIES[name]
    code = int(hex_code, 16) if hex_code else int(dec_code)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _unescape(value: str) -> str:
    return _ENTITY_RE.sub(lambda m: _decode_entity(m) or m.group(), value)


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram-flavoured HTML into plain text and message entities.

    Follows the server's parser: only its tags, only ``&lt; &gt; &amp; &quot;`` and numeric
    entities, a bare ``&`` stays text, a bare ``<`` starts a tag. Raises ``EntityParseError``
    with Telegram's wording for what the server would refuse.
    """
    if "<" not in text and "&" not in text:
        return text, []
    out: list[str] = []
    pos = 0  # UTF-16 length of `out`
    stack: list[tuple[str, int, JSON]] = []
    entities: list[JSON] = []
    i, n = 0, len(text)
    while i < n:
        special = _SPECIAL_RE.search(text, i)
        nxt = special.start() if special else n
        if nxt > i:
            chunk = text[i:nxt]
            out.append(chunk)
            pos += _utf16_len(chunk)
            i = nxt
            continue
        if text[i] == "&":
            match = _ENTITY_RE.match(text, i)
            char = _decode_entity(match) if match else None
            if match and char is not None:
                out.append(char)
                pos += _utf16_len(char)
                i = match.end()
            else:
                out.append("&")
                pos += 1
                i += 1
            continue
        if text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, i)}"
                )
            open_name, start, opened = stack.pop()
            if name != open_name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if pos > start and opened.get("type"):
                entities.append({**opened, "offset": start, "length": pos - start})
            i = end + 1
            continue
        name_match = _TAG_NAME_RE.match(text, i + 1)
        assert name_match is not None  # the pattern matches the empty string
        name = name_match.group().lower()
        k = name_match.end()
        if k >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
            )
        attrs: dict[str, str] = {}
        while True:
            space = _SPACE_RE.match(text, k)
            k = space.end() if space else k
            if k >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, i)}"
                )
            if text[k] == ">":
                k += 1
                break
            attr = _ATTR_RE.match(text, k)
            if attr is None or attr.end() == k:
                raise EntityParseError(
                    f'Malformed attribute in the tag "{name}" at byte offset '
                    f"{_byte_offset(text, k)}"
                )
            value = next((g for g in attr.groups()[1:] if g is not None), "")
            attrs[attr.group(1).lower()] = _unescape(value)
            k = attr.end()
        extra: JSON = {"type": _HTML_TAGS[name]}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, i)}'
            )
        if name == "a":
            href = attrs.get("href", "")
            # The server keeps the text but drops a link it cannot use.
            extra = {"type": "text_link", "url": href} if href else {}
        elif name == "blockquote" and "expandable" in attrs:
            extra = {"type": "expandable_blockquote"}
        elif name == "code" and stack and stack[-1][0] == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-"):
                stack[-1][2]["language"] = language.removeprefix("language-")
        stack.append((name, pos, extra))
        i = k
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MDV2_TOGGLES = ("||", "__", "*", "_", "~")
_MDV2_RESERVED = frozenset("#+-={}.!()>")


def _parse_markdown_v2(text: str) -> str:
    """Return the plain text of a MarkdownV2 message, refusing what the server refuses.

    Deliberately smaller than Telegram's parser: it checks reserved characters are escaped and
    that markers and links are closed, which is where real bots go wrong.
    """
    out: list[str] = []
    open_markers: dict[str, int] = {}
    link_start: int | None = None
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            line_start = False
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                body = body.split("\n", 1)[1]  # the first line names the language
            out.append(re.sub(r"\\(.)", r"\1", body))
            i = end + len(fence)
            line_start = False
            continue
        marker = next((m for m in _MDV2_TOGGLES if text.startswith(m, i)), None)
        if marker is not None:
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = i
            i += len(marker)
            continue
        if c == "[":
            if link_start is not None:
                raise EntityParseError(
                    "Character '[' is reserved and must be escaped with the preceding '\\'"
                )
            link_start = i
            i += 1
            continue
        if c == "]" and link_start is not None:
            link_start = None
            if text.startswith("(", i + 1):
                end = text.find(")", i + 2)
                while end > 0 and text[end - 1] == "\\":
                    end = text.find(")", end + 1)
                if end < 0:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
                    )
                i = end + 1
            else:
                i += 1
            continue
        if c == ">" and line_start:
            i += 1
            continue
        if c in _MDV2_RESERVED or c == "]":
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(c)
        line_start = c == "\n"
        i += 1
    if link_start is not None:
        raise EntityParseError(
            f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, link_start)}"
        )
    if open_markers:
        marker, at = min(open_markers.items(), key=lambda item: item[1])
        raise EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(text, at)}"
        )
    return "".join(out)


def _trim(plain: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace as the server does, keeping entities on their text."""
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    lead = _utf16_len(plain[: len(plain) - len(plain.lstrip())])
    size = _utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# --- the fake -------------------------------------------------------------------------------


class FakeBotApi(BaseRequest):
    """An in-memory Telegram Bot API; see the module docstring.

    Safe to call from many asyncio tasks at once: every request is handled in one synchronous
    step under a lock, so no other task can observe or change state halfway through it.
    """

    def __init__(
        self,
        *,
        bot_id: int = 1000,
        bot_username: str = "patientbot_test_bot",
        bot_first_name: str = "PatientBot",
        seed: int = 0,
        fault_rate: float = 0.0,
        random_faults: Sequence[Fault] = DEFAULT_RANDOM_FAULTS,
        limit_per_second: float | None = None,
        per_chat_per_second: float | None = None,
        time_source: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        poll_wait_cap: float = 0.05,
        latency: float = 0.0,
        read_timeout: float | None = 5.0,
        local_mode: bool = False,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.random_faults: tuple[Fault, ...] = tuple(random_faults)
        self.limit_per_second = limit_per_second
        self.per_chat_per_second = per_chat_per_second
        self.time_source = time_source
        self.wall_clock = wall_clock
        # getUpdates waits at most this long for a push, whatever timeout the bot asked for,
        # so a polling Application under test never sits in a real 10-second long poll.
        self.poll_wait_cap = poll_wait_cap
        # Every request yields to the event loop (sleep(0) when zero), as a real network would,
        # so tests see the interleavings that concurrent senders really produce.
        self.latency = latency
        self._read_timeout = read_timeout
        # A self-hosted Bot API server (``telegram-bot-api --local``) accepts webhooks on plain
        # http://, any port and local addresses; api.telegram.org refuses all three.
        self.local_mode = local_mode

        self.calls: list[ApiCall] = []
        self.violations: list[Violation] = []
        self.fault_counts: Counter[str] = Counter()
        self.rate_limited = 0
        self.blocked: set[int | str] = set()
        self.answered_callbacks: dict[str, dict[str, Any]] = {}
        self.webhook: JSON | None = None
        self.webhook_last_error: tuple[int, str] | None = None  # (unix time, message)
        # The highest update_id a getUpdates offset confirmed (Telegram then forgets it).
        self.confirmed_update_id = 0
        # Called with each request as it arrives, before it takes effect (crash tests kill
        # the bot from here at an exact point); returning True cuts the request in flight: it
        # takes no effect and gets no answer, as when the connection dies on the way.
        self.intercept: Callable[[ApiCall], bool] | None = None
        self.initialized = False

        self._lock = threading.Lock()
        self._faults: deque[list[Any]] = deque()  # [method | None, fault, remaining]
        self._sent_by_chat: dict[int | str, list[ApiCall]] = {}
        self._chats: dict[int | str, dict[int, _Stored]] = {}
        self._last_message_id: dict[int | str, int] = {}
        self._chat_names: dict[int | str, JSON] = {}
        self._files_by_id: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._file_seq = 0
        self._commands: dict[str, list[JSON]] = {}
        self._updates: deque[JSON] = deque()
        self._last_update_id = 0
        self._allowed_updates: frozenset[str] | None = None
        self._waiters: list[_Waiter] = []
        # Whoever delivers to a webhook (the HTTP front end) waits on these for news.
        self._watchers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[int | str, deque[float]] = {}

        self._handlers: dict[str, Callable[[ApiCall], Any]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendVideo": self._send_video,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getFile": self._get_file,
            "close": self._true,
            "logOut": self._true,
        }
        # The server matches method names case-insensitively.
        self._canonical = {name.lower(): name for name in self._handlers}
        self._validators: dict[str, Callable[[JSON, JSON], None]] = {
            "sendMessage": self._validate_send_message,
            "sendDocument": lambda p, f: self._validate_media("document", p, f),
            "sendPhoto": lambda p, f: self._validate_media("photo", p, f),
            "sendVideo": lambda p, f: self._validate_media("video", p, f),
            "editMessageText": self._validate_edit_text,
            "editMessageReplyMarkup": self._validate_edit_markup,
            "deleteMessage": self._validate_delete,
            "answerCallbackQuery": self._validate_answer_callback,
            "sendChatAction": self._validate_chat_action,
            "setMyCommands": self._validate_set_commands,
            "getMyCommands": self._validate_commands_scope,
            "deleteMyCommands": self._validate_commands_scope,
            "setWebhook": self._validate_set_webhook,
            "getFile": self._validate_get_file,
        }
        # Rendered texts of the request being handled, so validation and the handler parse
        # HTML once; only touched under the lock.
        self._rendered: dict[str, tuple[str, list[JSON]]] = {}

    # --- BaseRequest ------------------------------------------------------------------------

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self.initialized = True

    async def shutdown(self) -> None:
        self.initialized = False

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await asyncio.sleep(self.latency)
        if method == "GET":
            return self.download(url)
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        params, files = self._decode(request_data)
        return await self.handle(name, params, files)

    async def handle(
        self, name: str, params: JSON, files: dict[str, dict[str, Any]] | None = None
    ) -> tuple[int, bytes]:
        """Answer one Bot API method call already decoded (also used by the HTTP front end)."""
        files = files or {}
        name = self._canonical.get(name.lower(), name)
        call = ApiCall(
            method=name,
            params=params,
            files=files,
            at=self.time_source(),
            chat_id=self._chat_key(params.get("chat_id")),
        )
        if self.intercept is not None and self.intercept(call):
            with self._lock:
                self.calls.append(call)
            call.description = "cut in flight by the test's intercept"
            raise NetworkError("Connection reset by peer")
        if name != "getUpdates":
            try:
                with self._lock:
                    self.calls.append(call)
                    return self._answer(call, self._take_fault(name))
            finally:
                if name in ("setWebhook", "deleteWebhook"):
                    self._notify_watchers()
        with self._lock:
            # Telegram forgets what an offset confirms as the request arrives, not when it
            # answers: a poller that dies during the long poll has still confirmed the batch.
            fault = self._take_fault(name)
            if not (isinstance(fault, TimeoutFault | NetworkFault) and not fault.delivered):
                self._confirm_offset(params)
        if fault is None:
            await self._wait_for_updates(params)
        with self._lock:
            self.calls.append(call)
            return self._answer(call, fault)

    def _answer(self, call: ApiCall, fault: Fault | None) -> tuple[int, bytes]:
        """Execute the call, or answer it with ``fault``; the lock is held."""
        if fault is None:
            return self._execute(call)
        self.fault_counts[fault.kind] += 1
        if isinstance(fault, TimeoutFault | NetworkFault):
            if fault.delivered:
                self._execute(call)
            error: NetworkError = (
                TimedOut()
                if isinstance(fault, TimeoutFault)
                else NetworkError("Connection reset by peer")
            )
            call.status, call.description = None, str(error)
            raise error
        if isinstance(fault, RetryAfterFault):
            return self._answer_error(
                call,
                _ApiError(
                    429,
                    f"Too Many Requests: retry after {fault.seconds}",
                    {"retry_after": fault.seconds},
                ),
            )
        if isinstance(fault, ServerError):
            return self._answer_error(call, _ApiError(fault.status, _phrase(fault.status)))
        return self._answer_error(call, _ApiError(403, _BLOCKED))

    # --- configuration ----------------------------------------------------------------------

    def inject(self, method: str | None, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` (any method when None) fail with ``fault``.

        Queued faults are used in the order they were injected.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        if method is not None:
            if method.lower() not in self._canonical:
                raise ValueError(f"the fake does not serve {method!r}")
            method = self._canonical[method.lower()]
        with self._lock:
            self._faults.append([method, fault, times])

    @property
    def pending_faults(self) -> int:
        return sum(entry[2] for entry in self._faults)

    def block(self, chat_id: int | str) -> None:
        """Behave as if this person blocked the bot: every call into the chat gets 403."""
        self.blocked.add(self._chat_key(chat_id) or chat_id)

    def unblock(self, chat_id: int | str) -> None:
        self.blocked.discard(self._chat_key(chat_id) or chat_id)

    def name_chat(self, chat_id: int, first_name: str, last_name: str | None = None) -> None:
        """Give a private chat the person's name, as it appears in returned messages."""
        chat: JSON = {"id": chat_id, "type": "private", "first_name": first_name}
        if last_name:
            chat["last_name"] = last_name
        self._chat_names[chat_id] = chat

    def add_file(
        self,
        file_id: str,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> None:
        """Make a file a person sent known to ``getFile`` and to downloads."""
        with self._lock:
            self._store_file(content, file_name, mime_type, "documents", file_id=file_id)

    def push_update(self, update: JSON) -> JSON:
        """Queue a raw update for getUpdates (or the webhook); an update_id is assigned when
        missing."""
        (pushed,) = self.push_updates([update])
        return pushed

    def push_updates(self, updates: Sequence[JSON]) -> list[JSON]:
        """Queue several updates at once, as they pile up while nobody fetches: the next
        getUpdates sees them all (``push_update`` one by one may wake a poll in between)."""
        pushed = []
        with self._lock:
            for update in updates:
                if "update_id" not in update:
                    update = {"update_id": self._last_update_id + 1, **update}
                self._last_update_id = max(self._last_update_id, int(update["update_id"]))
                self._updates.append(update)
                pushed.append(update)
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            # push_update may come from another thread than the polling loop.
            waiter.loop.call_soon_threadsafe(_wake, waiter.future)
        self._notify_watchers()
        return pushed

    def next_message_id(self, chat_id: int | str) -> int:
        """Reserve the chat's next message id, as a message from the person would use it.

        Sharing the counter keeps ids in a chat unique across both sides, so an edit aimed at
        the person's message can never hit one of the bot's by accident.
        """
        key = self._chat_key(chat_id) or chat_id
        with self._lock:
            return self._new_message_id(key)

    # --- webhook delivery (driven by the HTTP front end) -----------------------------------

    def watch(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        """Set ``event`` (on ``loop``) whenever an update is queued or the webhook changes."""
        with self._lock:
            self._watchers.append((loop, event))

    def unwatch(self, event: asyncio.Event) -> None:
        with self._lock:
            self._watchers = [w for w in self._watchers if w[1] is not event]

    def webhook_heads(self, busy: set[int | str]) -> list[tuple[int | str, JSON]]:
        """The next update of every chat (by update_id) whose queue is not in ``busy``.

        Telegram's server sends a chat's updates to the webhook one at a time and in order;
        different chats' go out in parallel, up to ``max_connections``.
        """
        with self._lock:
            if not self.webhook:
                return []
            allowed = self._allowed_updates
            seen: set[int | str] = set()
            heads: list[tuple[int | str, JSON]] = []
            for update in self._updates:
                if allowed is not None and _update_type(update) not in allowed:
                    continue
                queue = _update_queue(update)
                if queue in seen:
                    continue
                seen.add(queue)
                if queue not in busy:
                    heads.append((queue, update))
            return heads

    def webhook_delivered(self, update_id: int) -> None:
        """The webhook answered 2xx: Telegram forgets the update."""
        with self._lock:
            self._updates = deque(u for u in self._updates if u["update_id"] != update_id)

    def webhook_failed(self, message: str) -> None:
        """Remember a failed delivery for ``getWebhookInfo``, as Telegram does."""
        with self._lock:
            self.webhook_last_error = (int(self.wall_clock()), message)

    def _notify_watchers(self) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for loop, event in watchers:
            loop.call_soon_threadsafe(event.set)

    # --- reading what happened --------------------------------------------------------------

    def calls_of(self, method: str) -> list[ApiCall]:
        method = self._canonical.get(method.lower(), method)
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int | str) -> list[ApiCall]:
        """sendMessage/sendDocument/sendPhoto/sendVideo calls that delivered into the chat.

        A timeout injected with ``delivered=True`` is included: the person got the message.
        """
        return list(self._sent_by_chat.get(self._chat_key(chat_id) or chat_id, ()))

    def texts(self, chat_id: int | str) -> list[str]:
        """Texts of the messages sent into the chat, as sent (captions are not included)."""
        return [c.params["text"] for c in self.sent_to(chat_id) if c.method == "sendMessage"]

    def last_text(self, chat_id: int | str) -> str | None:
        texts = self.texts(chat_id)
        return texts[-1] if texts else None

    def messages(self, chat_id: int | str) -> list[ScreenMessage]:
        """The bot's messages in the chat as they stand now: edits applied, deletions gone."""
        key = self._chat_key(chat_id) or chat_id
        with self._lock:
            stored = list(self._chats.get(key, {}).values())
        return [_screen(s) for s in stored]

    def message(self, chat_id: int | str, message_id: int) -> ScreenMessage | None:
        key = self._chat_key(chat_id) or chat_id
        with self._lock:
            stored = self._chats.get(key, {}).get(message_id)
            return _screen(stored) if stored else None

    def message_json(self, chat_id: int | str, message_id: int) -> JSON | None:
        """The message as the server would return it, for building callback updates."""
        key = self._chat_key(chat_id) or chat_id
        with self._lock:
            stored = self._chats.get(key, {}).get(message_id)
            return self._message_json(stored) if stored else None

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        return list(self._commands.get(_commands_key(scope, language_code), ()))

    @property
    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    def clear(self) -> None:
        """Forget what was recorded (calls, violations, counters); keep the chats' state."""
        with self._lock:
            self.calls.clear()
            self.violations.clear()
            self.fault_counts.clear()
            self.rate_limited = 0
            self._sent_by_chat.clear()

    # --- request plumbing -------------------------------------------------------------------

    @staticmethod
    def _decode(request_data: RequestData | None) -> tuple[JSON, dict[str, dict[str, Any]]]:
        if request_data is None:
            return {}, {}
        params = request_data.parameters
        files: dict[str, dict[str, Any]] = {}
        if request_data.contains_files:
            for part, (filename, content, mimetype) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                files[part] = {"filename": filename, "content": data, "mimetype": mimetype}
        return params, files

    @staticmethod
    def _chat_key(value: Any) -> int | str | None:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        text = str(value)
        return int(text) if _NUMERIC_RE.fullmatch(text) else text

    def _take_fault(self, method: str) -> Fault | None:
        for entry in self._faults:
            if entry[0] is None or entry[0] == method:
                entry[2] -= 1
                if entry[2] == 0:
                    self._faults.remove(entry)
                fault: Fault = entry[1]
                return fault
        if (
            method == "sendMessage"
            and self.fault_rate > 0
            and self.random_faults
            and self.rng.random() < self.fault_rate
        ):
            return self.rng.choice(self.random_faults)
        return None

    def _execute(self, call: ApiCall) -> tuple[int, bytes]:
        handler = self._handlers.get(call.method)
        self._rendered.clear()
        try:
            if handler is None:
                raise _ApiError(404, "Not Found")
            # A malformed request is a 400 whoever it is for, so validation comes before
            # the blocked check and flood control.
            validator = self._validators.get(call.method)
            if validator is not None:
                validator(call.params, call.files)
            if call.chat_id is not None and call.chat_id in self.blocked:
                raise _ApiError(403, _BLOCKED)
            if call.method in _SEND_METHODS:
                self._check_rate(call.chat_id)
            result = handler(call)
        except _ApiError as error:
            return self._answer_error(call, error)
        call.status, call.result = 200, result
        if call.method in _SEND_METHODS and call.chat_id is not None:
            self._sent_by_chat.setdefault(call.chat_id, []).append(call)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer_error(self, call: ApiCall, error: _ApiError) -> tuple[int, bytes]:
        call.status, call.description = error.status, error.description
        if error.status in (400, 404):
            self.violations.append(Violation(call.method, error.description, call.params))
        body: JSON = {"ok": False, "error_code": error.status, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return error.status, json.dumps(body).encode()

    def _check_rate(self, chat_key: int | str | None) -> None:
        if self.limit_per_second is None and self.per_chat_per_second is None:
            return
        now = self.time_source()
        horizon = now - 1.0
        windows: list[tuple[deque[float], float]] = []
        if self.limit_per_second is not None:
            windows.append((self._global_window, self.limit_per_second))
        if self.per_chat_per_second is not None and chat_key is not None:
            windows.append(
                (self._chat_windows.setdefault(chat_key, deque()), self.per_chat_per_second)
            )
        for window, limit in windows:
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) >= limit:
                self.rate_limited += 1
                raise _ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        for window, _ in windows:
            window.append(now)

    # --- getUpdates -------------------------------------------------------------------------

    async def _wait_for_updates(self, params: JSON) -> None:
        try:
            wait = min(float(params.get("timeout", 0)), self.poll_wait_cap)
        except (TypeError, ValueError):
            return
        if wait <= 0:
            return
        offset = _int_or(params.get("offset"), 0)
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.webhook or any(u["update_id"] >= offset for u in self._updates):
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(future, loop)
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, wait)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _get_updates(self, call: ApiCall) -> list[JSON]:
        params = call.params
        if self.webhook:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        limit = min(max(_int_or(params.get("limit"), 100), 1), 100)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            # Like the server, a given list is remembered for later calls; empty means default.
            self._allowed_updates = frozenset(allowed) or None
        self._confirm_offset(params)
        if self._allowed_updates is not None:
            allowed_set = self._allowed_updates
            self._updates = deque(u for u in self._updates if _update_type(u) in allowed_set)
        result: list[JSON] = []
        for update in self._updates:
            if len(result) == limit:
                break
            result.append(update)
        return result

    def _confirm_offset(self, params: JSON) -> None:
        """Forget the updates a getUpdates offset confirms; the lock is held."""
        if self.webhook:
            return  # the request is refused with 409 and confirms nothing
        offset = _int_or(params.get("offset"), 0)
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
            self.confirmed_update_id = max(self.confirmed_update_id, offset - 1)
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    # --- methods ----------------------------------------------------------------------------

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _get_me(self, call: ApiCall) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _true(call: ApiCall) -> bool:
        return True

    def _send_message(self, call: ApiCall) -> JSON:
        p = call.params
        plain, entities = self._render(p, "text")
        markup = _echo_markup(p.get("reply_markup"))
        stored = self._new_message(call.chat_id, "text", p["text"], plain, entities, p, markup)
        return self._message_json(stored)

    def _send_document(self, call: ApiCall) -> JSON:
        return self._send_media(call, "document", "documents")

    def _send_photo(self, call: ApiCall) -> JSON:
        return self._send_media(call, "photo", "photos")

    def _send_video(self, call: ApiCall) -> JSON:
        return self._send_media(call, "video", "videos")

    def _send_media(self, call: ApiCall, kind: str, folder: str) -> JSON:
        p = call.params
        caption = p.get("caption")
        plain, entities = self._render(p, "caption") if caption is not None else (None, [])
        upload = call.files.get(kind)
        if upload is not None:
            file = self._store_file(
                upload["content"], upload["filename"], upload["mimetype"], folder
            )
        else:
            reference = str(p[kind])
            known = self._files_by_id.get(reference)
            file = known or self._store_file(b"", reference.rsplit("/", 1)[-1], None, folder)
        media: Any
        base = {"file_id": file.file_id, "file_unique_id": file.file_unique_id}
        size = len(file.content)
        if kind == "document":
            media = {**base, "file_name": file.file_name, "file_size": size}
            if file.mime_type:
                media["mime_type"] = file.mime_type
        elif kind == "photo":
            width, height = _photo_size(file.content)
            thumb = 90 / max(width, height)
            media = [
                {
                    "file_id": file.file_id + "-thumb",
                    "file_unique_id": file.file_unique_id + "-thumb",
                    "width": max(1, round(width * thumb)),
                    "height": max(1, round(height * thumb)),
                },
                {**base, "width": width, "height": height, "file_size": size},
            ]
        else:
            media = {
                **base,
                "width": 1280,
                "height": 720,
                "duration": _int_or(p.get("duration"), 1),
                "file_size": size,
            }
            if file.mime_type:
                media["mime_type"] = file.mime_type
        markup = _echo_markup(p.get("reply_markup"))
        stored = self._new_message(call.chat_id, kind, caption, plain, entities, p, markup)
        stored.media = media
        return self._message_json(stored)

    def _edit_message_text(self, call: ApiCall) -> JSON:
        p = call.params
        stored = self._find_message(p, "message to edit not found")
        if stored.kind != "text":
            raise _bad("there is no text in the message to edit")
        plain, entities = self._render(p, "text")
        markup = _echo_markup(p.get("reply_markup"))
        if (plain, entities, markup) == (stored.plain, stored.entities, stored.reply_markup):
            raise _bad(_NOT_MODIFIED)
        stored.text, stored.plain, stored.entities = p["text"], plain, entities
        stored.parse_mode = p.get("parse_mode")
        # Leaving reply_markup out of an edit removes the keyboard, as on the real server.
        stored.reply_markup = markup
        stored.edit_date = int(self.wall_clock())
        return self._message_json(stored)

    def _edit_message_reply_markup(self, call: ApiCall) -> JSON:
        p = call.params
        stored = self._find_message(p, "message to edit not found")
        markup = _echo_markup(p.get("reply_markup"))
        if markup == stored.reply_markup:
            raise _bad(_NOT_MODIFIED)
        stored.reply_markup = markup
        stored.edit_date = int(self.wall_clock())
        return self._message_json(stored)

    def _delete_message(self, call: ApiCall) -> bool:
        stored = self._find_message(call.params, "message to delete not found")
        del self._chats[stored.chat_id][stored.message_id]
        return True

    def _answer_callback_query(self, call: ApiCall) -> bool:
        query_id = str(call.params["callback_query_id"])
        if query_id in self.answered_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self.answered_callbacks[query_id] = call.params
        return True

    def _send_chat_action(self, call: ApiCall) -> bool:
        return True

    def _set_my_commands(self, call: ApiCall) -> bool:
        p = call.params
        self._commands[_commands_key(p.get("scope"), p.get("language_code", ""))] = list(
            p["commands"]
        )
        return True

    def _get_my_commands(self, call: ApiCall) -> list[JSON]:
        p = call.params
        return self._commands.get(_commands_key(p.get("scope"), p.get("language_code", "")), [])

    def _delete_my_commands(self, call: ApiCall) -> bool:
        p = call.params
        self._commands.pop(_commands_key(p.get("scope"), p.get("language_code", "")), None)
        return True

    def _set_webhook(self, call: ApiCall) -> bool:
        p = call.params
        if p.get("drop_pending_updates"):
            self._updates.clear()
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or None
        self.webhook = dict(p) if p["url"] else None
        self.webhook_last_error = None
        return True

    def _delete_webhook(self, call: ApiCall) -> bool:
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    def _get_webhook_info(self, call: ApiCall) -> JSON:
        hook = self.webhook or {}
        info: JSON = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook:
            info["max_connections"] = int(hook.get("max_connections") or 40)
        for key in ("allowed_updates", "ip_address"):
            if key in hook:
                info[key] = hook[key]
        if hook and self.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    def _get_file(self, call: ApiCall) -> JSON:
        file = self._files_by_id.get(str(call.params["file_id"]))
        if file is None:
            raise _bad("invalid file_id")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": len(file.content),
            "file_path": file.file_path,
        }

    def download(self, url: str) -> tuple[int, bytes]:
        """Serve a file the bot asks for at ``<file_base_url><token>/<file_path>``."""
        path = urlsplit(url).path
        _, _, rest = path.partition("/file/bot")
        file_path = rest.partition("/")[2]
        with self._lock:
            call = ApiCall("download", {"file_path": file_path}, {}, self.time_source())
            self.calls.append(call)
            file = self._files_by_path.get(file_path)
            if file is None:
                return self._answer_error(call, _ApiError(404, "Not Found"))
            call.status = 200
            return 200, file.content

    # --- state helpers ----------------------------------------------------------------------

    def _new_message_id(self, key: int | str) -> int:
        message_id = self._last_message_id.get(key, 0) + 1
        self._last_message_id[key] = message_id
        return message_id

    def _new_message(
        self,
        chat_id: int | str | None,
        kind: str,
        text: str | None,
        plain: str | None,
        entities: list[JSON],
        params: JSON,
        markup: JSON | None,
    ) -> _Stored:
        assert chat_id is not None  # validated before any handler runs
        stored = _Stored(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            date=int(self.wall_clock()),
            text=text,
            plain=plain,
            entities=entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
        )
        self._chats.setdefault(chat_id, {})[stored.message_id] = stored
        return stored

    def _find_message(self, params: JSON, not_found: str) -> _Stored:
        if "inline_message_id" in params:
            # The bot sends no inline messages, so none can be found.
            raise _bad(not_found)
        key = self._chat_key(params.get("chat_id"))
        message_id = params.get("message_id")
        if key is None or not isinstance(message_id, int):
            raise _bad(not_found)
        stored = self._chats.get(key, {}).get(message_id)
        if stored is None:
            raise _bad(not_found)
        return stored

    def _chat_json(self, chat_id: int | str) -> JSON:
        named = self._chat_names.get(chat_id)
        if named is not None:
            return named
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Patient"}
        if isinstance(chat_id, int):
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": "Group"}
        return {"id": chat_id, "type": "channel", "title": "Channel"}

    def _message_json(self, stored: _Stored) -> JSON:
        message: JSON = {
            "message_id": stored.message_id,
            "date": stored.date,
            "chat": self._chat_json(stored.chat_id),
            "from": self._bot_user(),
        }
        if stored.kind == "text":
            message["text"] = stored.plain
            if stored.entities:
                message["entities"] = stored.entities
        else:
            message[stored.kind] = stored.media
            if stored.plain is not None:
                message["caption"] = stored.plain
                if stored.entities:
                    message["caption_entities"] = stored.entities
        if stored.reply_markup is not None:
            message["reply_markup"] = stored.reply_markup
        if stored.edit_date is not None:
            message["edit_date"] = stored.edit_date
        return message

    def _store_file(
        self,
        content: bytes,
        file_name: str | None,
        mime_type: str | None,
        folder: str,
        *,
        file_id: str | None = None,
    ) -> _File:
        self._file_seq += 1
        seq = self._file_seq
        suffix = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        file = _File(
            file_id=file_id or f"fake-file-{seq}",
            file_unique_id=f"fake-unique-{seq}",
            file_path=f"{folder}/file_{seq}.{suffix}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files_by_id[file.file_id] = file
        self._files_by_path[file.file_path] = file
        return file

    # --- validation -------------------------------------------------------------------------

    def _render(self, params: JSON, key: str) -> tuple[str, list[JSON]]:
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = _render_text(params, key)
        return rendered

    def _validate_send_message(self, params: JSON, files: JSON) -> None:
        _require_chat(params)
        self._render(params, "text")
        _check_markup(params.get("reply_markup"), inline_only=False)

    def _validate_media(self, kind: str, params: JSON, files: JSON) -> None:
        _require_chat(params)
        upload = files.get(kind)
        if upload is None:
            reference = params.get(kind)
            if not isinstance(reference, str) or not reference:
                raise _bad(f"there is no {kind} in the request")
            is_url = reference.startswith(("http://", "https://"))
            if not is_url and reference not in self._files_by_id:
                raise _bad("wrong file identifier/HTTP URL specified")
        elif kind == "document" and _is_placeholder_name(upload):
            # PTB invents "<type>.<subtype>" when the bot gave no name; the person would get
            # a file called "application.octet-stream".
            raise _bad("document filename is missing")
        if params.get("caption") is not None:
            self._render(params, "caption")
        _check_markup(params.get("reply_markup"), inline_only=False)

    def _validate_edit_text(self, params: JSON, files: JSON) -> None:
        _require_edit_target(params)
        self._render(params, "text")
        _check_markup(params.get("reply_markup"), inline_only=True)

    def _validate_edit_markup(self, params: JSON, files: JSON) -> None:
        _require_edit_target(params)
        _check_markup(params.get("reply_markup"), inline_only=True)

    def _validate_delete(self, params: JSON, files: JSON) -> None:
        _require_chat(params)
        if not isinstance(params.get("message_id"), int):
            raise _bad("message identifier is not specified")

    def _validate_answer_callback(self, params: JSON, files: JSON) -> None:
        if not params.get("callback_query_id"):
            raise _bad("callback_query_id is empty")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG: callback query answer text is longer than 200")
        url = params.get("url")
        if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
            raise _bad("URL_INVALID")

    def _validate_chat_action(self, params: JSON, files: JSON) -> None:
        _require_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")

    def _validate_set_commands(self, params: JSON, files: JSON) -> None:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand")
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        _check_scope(params.get("scope"))

    def _validate_commands_scope(self, params: JSON, files: JSON) -> None:
        _check_scope(params.get("scope"))

    def _validate_set_webhook(self, params: JSON, files: JSON) -> None:
        url = params.get("url")
        if not isinstance(url, str):
            raise _bad('parameter "url" is required')
        if url:
            _check_webhook_url(url, local=self.local_mode)
        connections = params.get("max_connections")
        if connections is not None and not 1 <= _int_or(connections, 0) <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")

    def _validate_get_file(self, params: JSON, files: JSON) -> None:
        if not params.get("file_id"):
            raise _bad("file_id is empty")


# --- module helpers -------------------------------------------------------------------------


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _update_type(update: JSON) -> str:
    return next((key for key in update if key != "update_id"), "")


def _update_queue(update: JSON) -> int | str:
    """The queue Telegram keeps an update in for a webhook: its chat, else its sender."""
    payload = update.get(_update_type(update))
    if isinstance(payload, dict):
        for holder in (payload, payload.get("message")):
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return int(chat["id"])
        sender = payload.get("from") or payload.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return f"update:{update.get('update_id')}"


def _check_webhook_url(url: str, *, local: bool) -> None:
    """Refuse what api.telegram.org refuses; a self-hosted server (``local``) takes any."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad("bad webhook: Failed to parse the URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("bad webhook: Failed to parse the URL")
    if local:
        return
    if parts.scheme != "https":
        raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
    if port is not None and port not in _WEBHOOK_PORTS:
        raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not address.is_global:
        raise _bad(f"bad webhook: IP address {address} is reserved")


def _commands_key(scope: Any, language_code: Any) -> str:
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + str(language_code or "")


def _screen(stored: _Stored) -> ScreenMessage:
    file_name = None
    if stored.kind == "document" and isinstance(stored.media, dict):
        file_name = stored.media.get("file_name")
    return ScreenMessage(
        message_id=stored.message_id,
        chat_id=stored.chat_id,
        kind=stored.kind,
        text=stored.text,
        plain=stored.plain,
        parse_mode=stored.parse_mode,
        reply_markup=stored.reply_markup,
        edited=stored.edit_date is not None,
        file_name=file_name,
    )


def _is_placeholder_name(upload: JSON) -> bool:
    filename = upload.get("filename")
    if not filename:
        return True
    mimetype = str(upload.get("mimetype") or "")
    return bool(mimetype) and filename == mimetype.replace("/", ".")


def _require_chat(params: JSON) -> None:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise _bad("chat_id is empty")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int | str):
        raise _bad("chat not found")
    if isinstance(chat_id, str) and not _NUMERIC_RE.fullmatch(chat_id):
        # "@channelname" addresses a public chat this fake does not know.
        raise _bad("chat not found")


def _require_edit_target(params: JSON) -> None:
    if "inline_message_id" in params:
        return
    _require_chat(params)
    if not isinstance(params.get("message_id"), int):
        raise _bad("message identifier is not specified")


def _render_text(params: JSON, key: str) -> tuple[str, list[JSON]]:
    """Validate the text or caption in ``params`` and return what the person will read."""
    text = params.get(key)
    is_caption = key == "caption"
    if text is None and not is_caption:
        raise _bad("message text is empty")
    if not isinstance(text, str):
        raise _bad(f'parameter "{key}" must be a string')
    parse_mode = params.get("parse_mode")
    entities: list[JSON] = []
    try:
        if parse_mode is None:
            plain = text
            given = params.get("caption_entities" if is_caption else "entities")
            entities = list(given) if isinstance(given, list) else []
        elif parse_mode not in _PARSE_MODES:
            raise _bad("unsupported parse_mode")
        elif parse_mode == "HTML":
            plain, entities = parse_html(text)
        elif parse_mode == "MarkdownV2":
            plain = _parse_markdown_v2(text)
        else:
            plain = text  # legacy Markdown: no bot here should use it; length is checked raw
    except EntityParseError as error:
        raise _bad(f"can't parse entities: {error}") from None
    plain, entities = _trim(plain, entities)
    if is_caption:
        if len(plain) > 1024:
            raise _bad("message caption is too long")
    elif not plain:
        raise _bad("message text is empty")
    elif len(plain) > 4096:
        raise _bad("message is too long")
    return plain, entities


def _echo_markup(markup: Any) -> JSON | None:
    # Only inline keyboards belong to a message; reply keyboards live on the person's client.
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


def _check_markup(markup: Any, *, inline_only: bool) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
        return
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                label = button if isinstance(button, str) else button.get("text")
                if not isinstance(label, str) or not label.strip():
                    raise _bad("keyboard button text must be non-empty")
        return
    if "remove_keyboard" in markup or "force_reply" in markup:
        return
    raise _bad("can't parse reply keyboard markup JSON object")


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    if sum(len(r) for r in rows) > 100:
        raise _bad("reply markup is too long")
    for row in rows:
        if len(row) > 8:
            raise _bad("reply markup is too long")
        for button in row:
            if not isinstance(button, dict):
                raise _bad("can't parse inline keyboard button: object expected")
            label = button.get("text")
            if not isinstance(label, str) or not label.strip():
                raise _bad("can't parse inline keyboard button: Text must be non-empty")
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if not actions:
                raise _bad(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                raise _bad(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, found {', '.join(actions)}"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
            if "url" in button:
                _check_button_url(str(button["url"]))


def _check_button_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "tg"):
        raise _bad(f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol")
    if parts.scheme != "tg" and not parts.hostname:
        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _check_scope(scope: Any) -> None:
    if scope is None:
        return
    kinds = {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
    if not isinstance(scope, dict) or scope.get("type") not in kinds:
        raise _bad("can't parse BotCommandScope JSON object")
    if scope["type"].startswith("chat") and "chat_id" not in scope:
        raise _bad("chat_id is empty")
