"""The playground's web server: a chat page and a small JSON API, on the loopback only.

Routes: ``GET /`` (the page), ``GET /static/...``, ``GET /api/state?since=N&wait=S``,
``POST /api/send {user, text}``, ``POST /api/press {user, message_id, callback_data}``,
``POST /api/photo {user}``, ``POST /api/video {user}``, ``POST /api/clock {advance}`` and
``GET /api/file?user=&message_id=``. Every POST answers with the new state.

The page has no login, so other web pages the browser visits must not be able to use it:
requests must name this server in ``Host`` (no DNS rebinding) and POSTs must carry JSON, which
a cross-site form cannot send without a CORS preflight that this server never grants.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import mimetypes
import socket
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler, StaticFileHandler

from bot.playground.session import STATIC_DIR, Playground, PlaygroundError, parse_advance

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 25.0
_PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def check_loopback(host: str) -> None:
    """Refuse any address but the loopback: the page has no login and controls the bot."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"the playground listens on the loopback only (127.0.0.1), not on {host!r}"
        )


class _Base(RequestHandler):
    playground: Playground
    allowed_hosts: frozenset[str]

    def initialize(self, playground: Playground, allowed_hosts: frozenset[str]) -> None:
        self.playground = playground
        self.allowed_hosts = allowed_hosts

    def prepare(self) -> None:
        if self.request.host.lower() not in self.allowed_hosts:
            raise HTTPError(421, reason="Misdirected Request")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(error, PlaygroundError):
            # A refused action is the page's mistake (a stale button, nobody by that id).
            self.set_status(400)
            message = str(error)
        self.set_header("Content-Type", "application/json")
        self.finish({"error": message})

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, PlaygroundError):
            super().log_exception(typ, value, tb)

    def body(self) -> dict[str, Any]:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise HTTPError(415, reason="send JSON with Content-Type: application/json")
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise HTTPError(400, reason="the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HTTPError(400, reason="the body must be a JSON object")
        return data

    def answer_state(self) -> None:
        self.finish(self.playground.state())


class PageHandler(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", _PAGE_POLICY)
        self.set_header("X-Frame-Options", "DENY")
        self.finish((STATIC_DIR / "index.html").read_bytes())


class StaticHandler(StaticFileHandler):
    allowed_hosts: frozenset[str]

    def initialize(  # type: ignore[override]
        self, path: str, allowed_hosts: frozenset[str]
    ) -> None:
        super().initialize(path=path)
        self.allowed_hosts = allowed_hosts

    def prepare(self) -> None:
        if self.request.host.lower() not in self.allowed_hosts:
            raise HTTPError(421, reason="Misdirected Request")
        self.set_header("X-Content-Type-Options", "nosniff")


class StateHandler(_Base):
    async def get(self) -> None:
        since = self.get_query_argument("since", None)
        wait = self.get_query_argument("wait", "0")
        try:
            seconds = min(max(float(wait), 0.0), LONG_POLL_SECONDS)
            if since is not None:
                await self.playground.wait_for_change(int(since), seconds)
        except ValueError:
            raise HTTPError(400, reason="since and wait must be numbers") from None
        self.answer_state()


class SendHandler(_Base):
    async def post(self) -> None:
        data = self.body()
        await self.playground.send_text(data.get("user"), data.get("text"))
        self.answer_state()


class PressHandler(_Base):
    async def post(self) -> None:
        data = self.body()
        await self.playground.press(
            data.get("user"), data.get("message_id"), data.get("callback_data")
        )
        self.answer_state()


class MediaHandler(_Base):
    def initialize(  # type: ignore[override]
        self, playground: Playground, allowed_hosts: frozenset[str], kind: str
    ) -> None:
        super().initialize(playground, allowed_hosts)
        self.kind = kind

    async def post(self) -> None:
        data = self.body()
        await self.playground.send_media(data.get("user"), self.kind)
        self.answer_state()


class LanguageHandler(_Base):
    async def post(self) -> None:
        data = self.body()
        self.playground.set_app_language(data.get("user"), data.get("language"))
        self.answer_state()


class ClockHandler(_Base):
    async def post(self) -> None:
        data = self.body()
        await self.playground.advance(parse_advance(data.get("advance")))
        self.answer_state()


class FileHandler(_Base):
    async def get(self) -> None:
        name, content = await self.playground.download(
            self.get_query_argument("user", None), self.get_query_argument("message_id", None)
        )
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind not in {"image/png", "image/jpeg", "image/gif", "image/webp"}:
            # A file the bot sent is data, never a page that could run in this origin.
            self.set_header("Content-Disposition", f'attachment; filename="{_safe_name(name)}"')
            self.set_header("Content-Security-Policy", "sandbox")
        self.set_header("Content-Type", kind)
        self.finish(content)


def _safe_name(name: str) -> str:
    return "".join(c for c in name if c.isalnum() or c in "._- ") or "file"


class PlaygroundServer:
    """Serve one Playground over HTTP on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, playground: Playground, host: str = "127.0.0.1", port: int = 8080) -> None:
        check_loopback(host)
        self.playground = playground
        self.host = host
        self.port = port
        self._server: HTTPServer | None = None
        self._sockets: list[socket.socket] = []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _application(self) -> Application:
        names = {self.host, "localhost", "127.0.0.1", "[::1]"}
        hosts = frozenset(f"{name}:{self.port}".lower() for name in names)
        common = {"playground": self.playground, "allowed_hosts": hosts}
        return Application(
            [
                (r"/", PageHandler, common),
                (
                    r"/static/(.*)",
                    StaticHandler,
                    {"path": str(STATIC_DIR), "allowed_hosts": hosts},
                ),
                (r"/api/state", StateHandler, common),
                (r"/api/send", SendHandler, common),
                (r"/api/press", PressHandler, common),
                (r"/api/photo", MediaHandler, {**common, "kind": "photo"}),
                (r"/api/video", MediaHandler, {**common, "kind": "video"}),
                (r"/api/clock", ClockHandler, common),
                (r"/api/language", LanguageHandler, common),
                (r"/api/file", FileHandler, common),
            ],
            log_function=_log_request,
        )

    async def start(self) -> None:
        """Bind and start serving; raises OSError when the port is taken."""
        self._sockets = bind_sockets(self.port, address=self.host)
        self.port = self._sockets[0].getsockname()[1]
        self._server = HTTPServer(self._application())
        self._server.add_sockets(self._sockets)

    async def stop(self) -> None:
        """Stop listening, answer the pages' waiting long polls, then close the connections."""
        if self._server is None:
            return
        self._server.stop()
        self.playground.end_long_polls()
        # A long poll cut off mid-wait would be cancelled at shutdown and logged as a 500.
        for _ in range(100):
            if not self.playground.long_polls:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # let the answered handlers finish writing
        await self._server.close_all_connections()
        self._server = None


def _log_request(handler: RequestHandler) -> None:
    # The page polls twice a second; only failures are worth a line in the terminal.
    status = handler.get_status()
    if status >= 500:
        log.error("playground: %s %s -> %s", handler.request.method, handler.request.uri, status)
    elif status >= 400:
        log.info("playground: %s %s -> %s", handler.request.method, handler.request.uri, status)
