"""The FakeBotApi served over real HTTP, for running the real ``patientbot`` process against it.

The bot talks to it as to Telegram (``TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot``), so
a test can start ``patientbot run`` in a subprocess, push updates, read what the bot sent, and
stop it with SIGTERM. Run it by hand as ``python -m tests.deploy.fakeserver --port 8090``: it
prints each call and serves ``POST /_push`` (a raw update for getUpdates) and ``GET /_calls``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram.request import RequestData

from bot.fakeapi import FakeBotApi

# Parameters PTB sends as plain strings even when they look like JSON (a text of "7").
_STRING_PARAMETERS = {
    "text",
    "caption",
    "callback_query_id",
    "file_id",
    "secret_token",
    "url",
    "inline_message_id",
    "language_code",
    "description",
    "short_description",
    "name",
    "parse_mode",
    "ip_address",
}


@dataclass
class _Posted:
    """Just what ``FakeBotApi`` reads from PTB's RequestData, rebuilt from an HTTP body."""

    parameters: dict[str, Any]
    multipart_data: dict[str, tuple[str, bytes, str]]

    @property
    def contains_files(self) -> bool:
        return bool(self.multipart_data)


def _value(name: str, raw: str) -> Any:
    if name in _STRING_PARAMETERS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class _Method(tornado.web.RequestHandler):
    def initialize(self, api: FakeBotApi, echo: bool) -> None:
        self.api = api
        self.echo = echo

    async def post(self, _token: str, method: str) -> None:
        params = {
            name: _value(name, values[-1].decode())
            for name, values in self.request.body_arguments.items()
        }
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            params.update(json.loads(self.request.body or b"{}"))
        files = {
            part: (f[0].filename, f[0].body, f[0].content_type)
            for part, f in self.request.files.items()
        }
        posted = cast(RequestData, _Posted(params, files))
        status, body = await self.api.do_request(
            f"http://fake/bot/{method}", "POST", request_data=posted
        )
        if self.echo:
            print(f"{status} {method} {json.dumps(params, ensure_ascii=False)}", flush=True)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.write(body)

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)


class _Push(tornado.web.RequestHandler):
    def initialize(self, api: FakeBotApi, echo: bool) -> None:
        self.api = api

    def post(self) -> None:
        self.write(self.api.push_update(json.loads(self.request.body)))


class _Calls(tornado.web.RequestHandler):
    def initialize(self, api: FakeBotApi, echo: bool) -> None:
        self.api = api

    def get(self) -> None:
        calls = [
            {"method": c.method, "params": c.params, "status": c.status} for c in self.api.calls
        ]
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(calls, default=str))


def make_app(api: FakeBotApi, echo: bool = False) -> tornado.web.Application:
    shared = {"api": api, "echo": echo}
    return tornado.web.Application(
        [
            (r"/bot([^/]+)/(\w+)", _Method, shared),
            (r"/_push", _Push, shared),
            (r"/_calls", _Calls, shared),
        ]
    )


@dataclass
class RunningServer:
    api: FakeBotApi
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"


@contextmanager
def serve_in_thread(api: FakeBotApi | None = None) -> Iterator[RunningServer]:
    """Serve a FakeBotApi on 127.0.0.1 at a free port from a background thread."""
    api = api or FakeBotApi(poll_wait_cap=0.2)
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = tornado.httpserver.HTTPServer(make_app(api))
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        box.update(loop=loop, server=server, port=sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.stop()
        loop.run_until_complete(server.close_all_connections())
        loop.close()

    thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield RunningServer(api, int(box["port"]))
    finally:
        loop: asyncio.AbstractEventLoop = box["loop"]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake Telegram Bot API over HTTP.")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()

    async def run() -> None:
        app = make_app(FakeBotApi(poll_wait_cap=1.0), echo=True)
        app.listen(args.port, address="127.0.0.1")
        print(f"fake Bot API on http://127.0.0.1:{args.port}/bot", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
