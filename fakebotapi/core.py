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

This module is the fake's state and request handling; the methods' bodies are in ``methods``,
the stateless checks in ``checks``, HTML parsing in ``entities``, the records in ``records``.
Only telegram's request layer, its error classes and the standard library are imported: the
playground reuses this package outside of pytest.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from fakebotapi.checks import (
    _chat_key,
    _commands_key,
    _int_or,
    _phrase,
    _screen,
    _update_queue,
    _update_type,
    _wake,
)
from fakebotapi.methods import (
    BotApiMethods,
)
from fakebotapi.records import (
    _BLOCKED,
    _SEND_METHODS,
    DEFAULT_RANDOM_FAULTS,
    JSON,
    ApiCall,
    BadRequestFault,
    Fault,
    NetworkFault,
    RetryAfterFault,
    ScreenMessage,
    ServerError,
    TimeoutFault,
    Violation,
    _ApiError,
    _File,
    _Stored,
    _Waiter,
)

__all__ = ["FakeBotApi"]


# --- the fake -------------------------------------------------------------------------------


class ChatHold:
    """Requests into one chat, held (``FakeBotApi.hold``): ``arrived`` is set once the first
    of them waits; ``release`` lets them all go on."""

    def __init__(self, holds: dict[int | str, ChatHold], chat: int | str) -> None:
        self.arrived = asyncio.Event()
        self._released = asyncio.Event()
        self._holds = holds
        self._chat = chat

    async def wait(self) -> None:
        self.arrived.set()
        await self._released.wait()

    def release(self) -> None:
        self._holds.pop(self._chat, None)
        self._released.set()


class FakeBotApi(BotApiMethods, BaseRequest):
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
        max_upload_bytes: int | None = None,
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
        # Telegram takes files up to 50 MB from a bot, a --local server up to 2,000 MB; a test
        # may lower it to try an export past it without building one that large.
        self.max_upload_bytes = max_upload_bytes or (2_000_000_000 if local_mode else 50_000_000)

        self.calls: list[ApiCall] = []
        self.violations: list[Violation] = []
        self.fault_counts: Counter[str] = Counter()
        self.rate_limited = 0
        self.blocked: set[int | str] = set()
        # chat -> seconds: Telegram takes a request into that chat only after this long.
        self.slow_chats: dict[int | str, float] = {}
        self.held_chats: dict[int | str, ChatHold] = {}
        self.answered_callbacks: dict[str, dict[str, Any]] = {}
        # When each press the fake heard of was made (``press_made``), on ``wall_clock``.
        self._presses_made: dict[str, float] = {}
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
        # Every chat's message ids start above this (see ``continue_after``).
        self._message_id_floor = 0
        self._chat_names: dict[int | str, JSON] = {}
        self._files_by_id: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._file_seq = 0
        self._gone_files: set[str] = set()
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
            "sendMediaGroup": self._send_media_group,
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
            "sendMediaGroup": self._validate_media_group,
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
        chat = _chat_key(params.get("chat_id"))
        if chat is not None and (slow := self.slow_chats.get(chat)):
            await asyncio.sleep(slow)
        if chat is not None and (hold := self.held_chats.get(chat)):
            await hold.wait()
        call = ApiCall(
            method=name,
            params=params,
            files=files,
            at=self.time_source(),
            chat_id=chat,
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
        if isinstance(fault, BadRequestFault):
            # Injected by a test: the request itself was valid.
            return self._answer_error(call, _ApiError(400, fault.description, invalid=False))
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

    def slow_down(self, chat_id: int | str, seconds: float) -> None:
        """Take every request into this chat only ``seconds`` after it came (a busy server)."""
        key = _chat_key(chat_id)
        if key is not None:
            self.slow_chats[key] = seconds

    def hold(self, chat_id: int | str) -> ChatHold:
        """Keep every request into this chat waiting until the hold's ``release`` (a stalled
        network): a test acts while the bot is between deciding what to send and sending it."""
        key = _chat_key(chat_id) or chat_id
        hold = self.held_chats[key] = ChatHold(self.held_chats, key)
        return hold

    def block(self, chat_id: int | str) -> None:
        """Behave as if this person blocked the bot: every call into the chat gets 403."""
        self.blocked.add(_chat_key(chat_id) or chat_id)

    def unblock(self, chat_id: int | str) -> None:
        self.blocked.discard(_chat_key(chat_id) or chat_id)

    def delete_by_person(self, chat_id: int | str, message_id: int) -> None:
        """The person deleted one of the bot's messages from the chat (for everyone).

        Editing or deleting it afterwards is answered as Telegram does: "message to edit not
        found" / "message to delete not found".
        """
        with self._lock:
            self._chats.get(_chat_key(chat_id) or chat_id, {}).pop(message_id, None)

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

    def sent_file(self, file_id: str, kind: str) -> None:
        """Know a photo or video a person sent (by its id), as Telegram does, so the bot can
        send it on by that id."""
        with self._lock:
            if file_id not in self._files_by_id:
                mime = "video/mp4" if kind == "video" else "image/jpeg"
                file = _File(file_id, f"u-{file_id}", f"{kind}s/{file_id}", b"", None, mime)
                self._files_by_id[file_id] = file
                self._files_by_path[file.file_path] = file

    def forget_file(self, file_id: str) -> None:
        """Behave as if Telegram no longer has this file: sending it by id answers 400."""
        with self._lock:
            self._gone_files.add(file_id)

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
                if "callback_query" in update:
                    self._presses_made[str(update["callback_query"]["id"])] = self.wall_clock()
                self._updates.append(update)
                pushed.append(update)
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            # push_update may come from another thread than the polling loop.
            waiter.loop.call_soon_threadsafe(_wake, waiter.future)
        self._notify_watchers()
        return pushed

    def continue_after(self, *, update_id: int, message_id: int) -> None:
        """Hand out update ids above ``update_id`` and message ids above ``message_id``.

        Telegram never gives an id twice: a bot restarted on a database that stored earlier
        updates or message ids (its inbox keeps update ids, its check-ins message ids) must
        not meet them again, or a new update is dropped as a redelivery.
        """
        with self._lock:
            self._last_update_id = max(self._last_update_id, update_id)
            self._message_id_floor = max(self._message_id_floor, message_id)

    def press_made(self, query_id: str) -> None:
        """A person pressed a button now: its answer is taken for ``methods.PRESS_ANSWER_SECONDS``.

        Presses the fake never heard of (built elsewhere) are answered whenever they come.
        """
        with self._lock:
            self._presses_made[query_id] = self.wall_clock()

    def next_message_id(self, chat_id: int | str) -> int:
        """Reserve the chat's next message id, as a message from the person would use it.

        Sharing the counter keeps ids in a chat unique across both sides, so an edit aimed at
        the person's message can never hit one of the bot's by accident.
        """
        key = _chat_key(chat_id) or chat_id
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
        return list(self._sent_by_chat.get(_chat_key(chat_id) or chat_id, ()))

    def texts(self, chat_id: int | str) -> list[str]:
        """Texts of the messages sent into the chat, as sent (captions are not included)."""
        return [c.params["text"] for c in self.sent_to(chat_id) if c.method == "sendMessage"]

    def last_text(self, chat_id: int | str) -> str | None:
        texts = self.texts(chat_id)
        return texts[-1] if texts else None

    def messages(self, chat_id: int | str) -> list[ScreenMessage]:
        """The bot's messages in the chat as they stand now: edits applied, deletions gone."""
        key = _chat_key(chat_id) or chat_id
        with self._lock:
            stored = list(self._chats.get(key, {}).values())
        return [_screen(s) for s in stored]

    def message(self, chat_id: int | str, message_id: int) -> ScreenMessage | None:
        key = _chat_key(chat_id) or chat_id
        with self._lock:
            stored = self._chats.get(key, {}).get(message_id)
            return _screen(stored) if stored else None

    def message_json(self, chat_id: int | str, message_id: int) -> JSON | None:
        """The message as the server would return it, for building callback updates."""
        key = _chat_key(chat_id) or chat_id
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
        if error.status in (400, 404, 413) and error.invalid:
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
