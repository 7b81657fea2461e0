"""Serve a FakeBotApi over real HTTP, as a self-hosted Bot API server would.

The bot then runs unchanged with ``TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot``: used by
the benchmarks, the crash tests and manual checks of a deployment without Telegram. Listens on
loopback only.

    python -m bot.fakeapi_http --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


def make_app(api: FakeBotApi) -> Application:
    return Application(
        [
            (r"/file/bot([^/]+)/(.+)", _FileHandler, {"api": api}),
            (r"/bot([^/]+)/([A-Za-z]+)", _MethodHandler, {"api": api}),
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


async def _main(port: int) -> None:
    api = FakeBotApi()
    _server, bound = serve(api, port)
    print(f"Fake Bot API: TELEGRAM_API_BASE_URL=http://127.0.0.1:{bound}/bot", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    asyncio.run(_main(parser.parse_args().port))
