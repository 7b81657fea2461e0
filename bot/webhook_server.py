"""Our own webhook endpoint: 200 only once the update is stored, nothing read it need not read.

PTB's webhook server answers 200 before its handlers run, so a kill in between loses the
update (Telegram never sends it again). This one hands each update to ``accept``, which returns
once the update is committed to the inbox, and answers 200 only then; if storing fails it
answers 500 and Telegram sends the update again.

It is written on asyncio streams, because what it must refuse it must refuse before reading:
the method, the path and the secret (compared in constant time) are checked from the request
line and headers, and a body larger than ``max_body_bytes`` (or of unknown length) is refused
from its ``Content-Length`` without a byte of it being read. Only then is the body read, and
malformed JSON, invalid UTF-8, an empty body or JSON that is not an update get 400, never 500.
Connections are kept alive between requests, as Telegram reuses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

log = logging.getLogger(__name__)

Accept = Callable[[dict[str, Any]], Awaitable[None]]

SECRET_HEADER = "x-telegram-bot-api-secret-token"
# The request line and headers together; Telegram's are a few hundred bytes.
MAX_HEAD_BYTES = 16 * 1024
# A client that sends nothing for this long is disconnected (a keep-alive connection waits).
IDLE_SECONDS = 75.0
# A body must arrive within this once its headers did.
BODY_SECONDS = 30.0


class _Refusal(Exception):
    def __init__(self, status: HTTPStatus, reason: str, *, close: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close


class WebhookServer:
    """Receive Telegram's webhook calls on ``listen:port`` at ``path``."""

    def __init__(
        self,
        *,
        listen: str,
        port: int,
        path: str,
        secret: str,
        max_body_bytes: int,
        accept: Accept,
    ) -> None:
        self.listen = listen
        self._port = port
        self.path = "/" + path.lstrip("/")
        self._secret = secret.encode()
        self.max_body_bytes = max_body_bytes
        self._accept = accept
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        """Listen (an OSError says why it cannot)."""
        self._server = await asyncio.start_server(
            self._serve_connection, self.listen, self._port, limit=MAX_HEAD_BYTES
        )

    async def close(self) -> None:
        """Stop listening and drop open connections.

        A request cut off while its update was being stored gets no answer, so Telegram sends
        it again; the inbox stores it once either way.
        """
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._serve_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            # A request this code did not foresee: one line and a closed connection, not
            # asyncio's "Unhandled exception in client_connected_cb".
            log.exception("webhook request failed; connection closed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; whether the connection stays open for another."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_SECONDS)
        except asyncio.IncompleteReadError as error:
            if error.partial.strip():
                await _respond(writer, HTTPStatus.BAD_REQUEST, "incomplete request", close=True)
            return False
        except asyncio.LimitOverrunError:
            await _respond(
                writer, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers too large", close=True
            )
            return False
        try:
            method, target, headers = _parse_head(head)
            keep_alive = headers.get("connection", "").lower() != "close"
            length = self._check(method, target, headers)
        except _Refusal as refusal:
            # The body was not read: the connection cannot carry another request after it.
            await _respond(writer, refusal.status, refusal.reason, close=True)
            return False
        try:
            body = await asyncio.wait_for(reader.readexactly(length), BODY_SECONDS)
        except TimeoutError:
            await _respond(writer, HTTPStatus.REQUEST_TIMEOUT, "body too slow", close=True)
            return False
        try:
            update = _parse_update(body)
        except _Refusal as refusal:
            await _respond(writer, refusal.status, refusal.reason, close=not keep_alive)
            return keep_alive
        try:
            await self._accept(update)
        except Exception as error:
            # Never the body: it holds what a patient typed.
            log.warning(
                "webhook update %s not stored, Telegram will send it again: %s",
                update.get("update_id"),
                type(error).__name__,
            )
            await _respond(
                writer, HTTPStatus.INTERNAL_SERVER_ERROR, "not stored", close=not keep_alive
            )
            return keep_alive
        await _respond(writer, HTTPStatus.OK, "", close=not keep_alive)
        return keep_alive

    def _check(self, method: str, target: str, headers: dict[str, str]) -> int:
        """Everything decided before the body: returns the body's length."""
        if target.split("?", 1)[0] != self.path:
            raise _Refusal(HTTPStatus.NOT_FOUND, "not found")
        if method != "POST":
            raise _Refusal(HTTPStatus.METHOD_NOT_ALLOWED, "use POST")
        given = headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            raise _Refusal(HTTPStatus.FORBIDDEN, "wrong or missing secret token")
        if "transfer-encoding" in headers:
            raise _Refusal(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
        raw_length = headers.get("content-length")
        # ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
        if raw_length is None or not (raw_length.isascii() and raw_length.isdigit()):
            raise _Refusal(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        # More digits than the limit has is over it (and int() of 5,000 digits would raise).
        digits = raw_length.lstrip("0") or "0"
        length = int(digits) if len(digits) <= len(str(self.max_body_bytes)) else None
        if length is None or length > self.max_body_bytes:
            raise _Refusal(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body over {self.max_body_bytes} bytes",
            )
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise _Refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        return length


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise _Refusal(HTTPStatus.BAD_REQUEST, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise _Refusal(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP/1.1 only")
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _Refusal(HTTPStatus.BAD_REQUEST, "malformed header")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers


def _parse_update(body: bytes) -> dict[str, Any]:
    if not body:
        raise _Refusal(HTTPStatus.BAD_REQUEST, "empty body")
    try:
        update = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Refusal(HTTPStatus.BAD_REQUEST, "body is not UTF-8") from None
    except (ValueError, RecursionError):
        # RecursionError: brackets nested a few thousand deep, which json gives up on.
        raise _Refusal(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
    update_id = update.get("update_id") if isinstance(update, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise _Refusal(HTTPStatus.BAD_REQUEST, "not an update: no integer update_id")
    return update


async def _respond(
    writer: asyncio.StreamWriter, status: HTTPStatus, reason: str, *, close: bool
) -> None:
    body = json.dumps({"ok": status == HTTPStatus.OK, "description": reason}).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)
    await writer.drain()
