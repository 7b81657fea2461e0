"""Serve a FakeBotApi over real HTTP, as a self-hosted Bot API server would.

The bot then runs unchanged with ``TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot``: used by
the benchmarks, the crash and shutdown tests and manual checks of a deployment without Telegram.
Listens on loopback only. Besides the Bot API it serves ``POST /_push`` (queue a raw update for
getUpdates or the webhook) and ``GET /_calls`` (what the bot sent), for a person or a script
driving it.

Webhooks work as Telegram's: once the bot called ``setWebhook``, ``WebhookPusher`` POSTs each
queued update to the URL with the ``X-Telegram-Bot-Api-Secret-Token`` header, one at a time per
chat and in update_id order (chats in parallel, up to ``max_connections``), and forgets it only
when the bot answered 2xx; anything else, or no answer, is retried after a short backoff.
``deleteWebhook`` stops it, and getUpdates meanwhile is a 409 Conflict. The bot's public URL
is usually not reachable from here (https on a name the fake cannot serve), so a test
``route`` s it to where the bot listens, as the TLS-terminating proxy in front of a real
deployment would; ``spread`` hands the POSTs round-robin to several instances, as a load
balancer would (one that got no answer is left out of the rotation for a while, then tried
again).

    python -m fakebotapi.server --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from telegram.error import NetworkError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from fakebotapi.core import FakeBotApi
from fakebotapi.records import JSON

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

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


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One POST of an update to the webhook and how it ended."""

    update_id: int
    at: float
    # The HTTP status the bot answered, or None when it did not answer (refused, reset, timeout).
    status: int | None
    error: str | None = None
    # When the POST began (monotonic), and where it went after routing.
    posted_at: float | None = None
    target: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookPusher:
    """Deliver a FakeBotApi's queued updates to the webhook it was given; see the module doc.

    Runs as a task on the serving event loop (``start``). ``attempts`` records every POST;
    ``on_attempt``, if set, is called with each as it ends (crash tests kill the bot there).
    """

    def __init__(
        self,
        api: FakeBotApi,
        *,
        first_retry: float = 0.05,
        max_retry: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self.api = api
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.timeout = timeout
        self.routes: dict[str, str] = {}
        # public URL -> instances taking turns (``spread``); and when each may be tried again
        # after it did not answer.
        self.spreads: dict[str, list[str]] = {}
        self.down_seconds = 5.0
        self._turn: dict[str, int] = {}
        self._down_until: dict[str, float] = {}
        self.attempts: list[WebhookAttempt] = []
        self.on_attempt: Callable[[WebhookAttempt], None] | None = None
        self._failures: dict[int | str, int] = {}
        self._retry_at: dict[int | str, float] = {}
        self._busy: set[int | str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def route(self, public_url: str, local_url: str) -> None:
        """POST what is meant for ``public_url`` to ``local_url`` instead (thread-safe)."""
        self.routes[public_url] = local_url
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def spread(self, public_url: str, local_urls: list[str]) -> None:
        """POST what is meant for ``public_url`` to each of ``local_urls`` in turn (thread-safe).

        As a load balancer in front of several bot instances: round-robin per update, and an
        instance that did not answer (refused, reset, timeout) is passed over for
        ``down_seconds``; when all are down, the next in turn is tried anyway.
        """
        if not local_urls:
            raise ValueError("spread needs at least one URL")
        self.spreads[public_url] = list(local_urls)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _target(self, url: str) -> str:
        """Where this POST goes: a ``spread`` instance in turn, a ``route``, or the URL."""
        targets = self.spreads.get(url)
        if not targets:
            return self.routes.get(url, url)
        now = time.monotonic()
        turn = self._turn.get(url, 0)
        for step in range(len(targets)):
            candidate = targets[(turn + step) % len(targets)]
            if self._down_until.get(candidate, 0.0) <= now:
                self._turn[url] = turn + step + 1
                return candidate
        self._turn[url] = turn + 1
        return targets[turn % len(targets)]

    def start(self) -> None:
        """Start delivering on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self.api.watch(self._loop, self._wake)
        self._task = asyncio.create_task(self._run(), name="fake-webhook-pusher")

    async def close(self) -> None:
        self.api.unwatch(self._wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            deliveries: set[asyncio.Task[None]] = set()
            try:
                while True:
                    self._wake.clear()
                    hook = self.api.webhook
                    wait: float | None = None
                    if hook:
                        limit = int(hook.get("max_connections") or 40)
                        now = time.monotonic()
                        for queue, update in self.api.webhook_heads(self._busy):
                            if len(self._busy) >= limit:
                                break
                            due = self._retry_at.get(queue, 0.0)
                            if due > now:
                                wait = due - now if wait is None else min(wait, due - now)
                                continue
                            self._busy.add(queue)
                            task = asyncio.create_task(self._deliver(client, hook, queue, update))
                            deliveries.add(task)
                            task.add_done_callback(deliveries.discard)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
            finally:
                for task in deliveries:
                    task.cancel()

    async def _deliver(
        self, client: httpx.AsyncClient, hook: dict[str, Any], queue: int | str, update: JSON
    ) -> None:
        url = str(hook["url"])
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers[SECRET_HEADER] = str(hook["secret_token"])
        update_id = int(update["update_id"])
        status: int | None = None
        error: str | None = None
        target = self._target(url)
        posted_at = time.monotonic()
        try:
            response = await client.post(target, content=json.dumps(update), headers=headers)
            status = response.status_code
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}".rstrip(": ")
            if url in self.spreads:
                self._down_until[target] = time.monotonic() + self.down_seconds
        attempt = WebhookAttempt(update_id, time.monotonic(), status, error, posted_at, target)
        self.attempts.append(attempt)
        try:
            if attempt.delivered:
                self.api.webhook_delivered(update_id)
                self._failures.pop(queue, None)
                self._retry_at.pop(queue, None)
            else:
                failures = self._failures[queue] = self._failures.get(queue, 0) + 1
                backoff = min(self.max_retry, self.first_retry * 2 ** (failures - 1))
                self._retry_at[queue] = time.monotonic() + backoff
                self.api.webhook_failed(
                    f"Wrong response from the webhook: {status}"
                    if status is not None
                    else f"Connection failed: {error}"
                )
            if self.on_attempt is not None:
                self.on_attempt(attempt)
        finally:
            self._busy.discard(queue)
            self._wake.set()


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


def serve(
    api: FakeBotApi,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    webhooks: WebhookPusher | None = None,
) -> tuple[HTTPServer, int]:
    """Start serving on the running event loop; returns the server and the bound port.

    Webhooks are delivered by ``webhooks`` (a new ``WebhookPusher`` when not given; pass your
    own to route, observe or stop it).
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the fake Bot API listens on loopback only")
    server = HTTPServer(make_app(api), max_body_size=60 * 1024 * 1024)
    sockets = bind_sockets(port, host)
    server.add_sockets(sockets)
    (webhooks or WebhookPusher(api)).start()
    return server, sockets[0].getsockname()[1]


@dataclass
class RunningServer:
    api: FakeBotApi
    port: int
    webhooks: WebhookPusher
    # The serving thread's event loop (to watch how busy the fake itself is).
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"


@contextmanager
def serve_in_thread(api: FakeBotApi | None = None) -> Iterator[RunningServer]:
    """Serve a FakeBotApi from a background thread, for tests whose own loop must stay free."""
    api = api or FakeBotApi(poll_wait_cap=0.2)
    webhooks = WebhookPusher(api)
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def start() -> None:
            box["server"], box["port"] = serve(api, webhooks=webhooks)

        loop.run_until_complete(start())
        box["loop"] = loop
        ready.set()
        loop.run_forever()
        box["server"].stop()
        loop.run_until_complete(webhooks.close())
        loop.run_until_complete(box["server"].close_all_connections())
        loop.close()

    thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake Bot API did not start within 10 s")
    try:
        yield RunningServer(api, int(box["port"]), webhooks, box["loop"])
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
