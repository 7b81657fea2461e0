"""Serve a FakeBotApi over real HTTP, as a self-hosted Bot API server would.

The bot then runs unchanged with ``TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot``: used by
the benchmarks, the crash and shutdown tests and manual checks of a deployment without Telegram.
Listens on loopback only. Besides the Bot API it serves ``POST /_push`` (queue a raw update for
getUpdates) and ``GET /_calls`` (what the bot sent), for a person or a script driving it.

    python -m bot.fakeapi_http --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from bot.fakeapi import FakeBotApi

# Bot API parameters that are strings even when they look like numbers or JSON.
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "url", "secret_token",
        "file_id", "emoji", "action", "language_code", "description", "short_description",
        "name", "query", "switch_inline_query", "inline_message_id",
    }
)  # fmt: skip


def decode_params(arguments: dict[str, list[bytes]]) -> dict[str, Any]:
    """Form fields as PTB sends them: strings raw, everything else JSON-encoded."""
    params: dict[str, Any] = {}
    for key, values in arguments.items():
        raw = values[-1].decode("utf-8")
        if key in _STRING_PARAMS:
            params[key] = raw
            continue
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


class _MethodHandler(RequestHandler):
    def initialize(self, api: FakeBotApi) -> None:
        self.api = api

    async def post(self, _token: str, method: str) -> None:
        await self._answer(method)

    async def get(self, _token: str, method: str) -> None:
        await self._answer(method)

    async def _answer(self, method: str) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and self.request.body:
            params = json.loads(self.request.body)
        else:
            params = decode_params({**self.request.query_arguments, **self.request.body_arguments})
        files = {
            part: {"filename": f.filename, "content": f.body, "mimetype": f.content_type}
            for part, items in self.request.files.items()
            for f in items[-1:]
        }
        try:
            status, body = await self.api.handle(method, params, files)
        except NetworkError:
            # A timeout or reset the fake was told to inject: drop the connection unanswered.
            self.request.connection.close()  # type: ignore[union-attr]
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body)


class _FileHandler(RequestHandler):
    def initialize(self, api: FakeBotApi) -> None:
        self.api = api

    async def get(self, token: str, path: str) -> None:
        status, body = self.api.download(f"/file/bot{token}/{path}")
        self.set_status(status)
        self.finish(body)


class _PushHandler(RequestHandler):
    def initialize(self, api: FakeBotApi) -> None:
        self.api = api

    def post(self) -> None:
        self.write(self.api.push_update(json.loads(self.request.body)))


class _CallsHandler(RequestHandler):
    def initialize(self, api: FakeBotApi) -> None:
        self.api = api

    def get(self) -> None:
        calls = [
            {"method": c.method, "params": c.params, "status": c.status} for c in self.api.calls
        ]
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(calls, default=str))


def make_app(api: FakeBotApi) -> Application:
    shared = {"api": api}
    return Application(
        [
            (r"/file/bot([^/]+)/(.+)", _FileHandler, shared),
            (r"/bot([^/]+)/([A-Za-z]+)", _MethodHandler, shared),
            (r"/_push", _PushHandler, shared),
            (r"/_calls", _CallsHandler, shared),
        ]
    )


def serve(api: FakeBotApi, port: int = 0, host: str = "127.0.0.1") -> tuple[HTTPServer, int]:
    """Start serving on the running event loop; returns the server and the bound port."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the fake Bot API listens on loopback only")
    server = HTTPServer(make_app(api), max_body_size=60 * 1024 * 1024)
    sockets = bind_sockets(port, host)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


@dataclass
class RunningServer:
    api: FakeBotApi
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"


@contextmanager
def serve_in_thread(api: FakeBotApi | None = None) -> Iterator[RunningServer]:
    """Serve a FakeBotApi from a background thread, for tests whose own loop must stay free."""
    api = api or FakeBotApi(poll_wait_cap=0.2)
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def start() -> None:
            box["server"], box["port"] = serve(api)

        loop.run_until_complete(start())
        box["loop"] = loop
        ready.set()
        loop.run_forever()
        box["server"].stop()
        loop.run_until_complete(box["server"].close_all_connections())
        loop.close()

    thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake Bot API did not start within 10 s")
    try:
        yield RunningServer(api, int(box["port"]))
    finally:
        loop: asyncio.AbstractEventLoop = box["loop"]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


async def _main(port: int) -> None:
    api = FakeBotApi()
    _server, bound = serve(api, port)
    print(f"Fake Bot API: TELEGRAM_API_BASE_URL=http://127.0.0.1:{bound}/bot", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    asyncio.run(_main(parser.parse_args().port))
