"""The webhook server over real HTTP: what it refuses, refused before the body is read."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.webhook import WebhookSettingsError, webhook_options
from bot.webhook_server import WebhookServer
from tests.deploy.conftest import PUBLIC_URL, WEBHOOK_SECRET, with_changes

PATH = "/telegram"
LIMIT = 64 * 1024
UPDATE = {"update_id": 7, "message": {"message_id": 1, "text": "pain 4"}}


class Store:
    """Stands in for the inbox: what was accepted, and whether accepting fails or waits."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.fail = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.on_enter: Callable[[], None] = lambda: None

    async def __call__(self, update: dict[str, Any]) -> None:
        self.on_enter()
        self.entered.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError(f"database is away while storing {update}")
        self.accepted.append(update)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Store]]:
    store = Store()
    server = WebhookServer(
        listen="127.0.0.1",
        port=0,
        path=PATH,
        secret=WEBHOOK_SECRET,
        max_body_bytes=LIMIT,
        accept=store,
    )
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", store
    finally:
        await server.close()


def headers(**extra: str) -> dict[str, str]:
    return {
        "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
        "Content-Type": "application/json",
        **extra,
    }


async def raw_request(base: str, request: bytes) -> bytes:
    """Send bytes as they are (no client tidies them) and read the whole answer."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def post_request(body: bytes, **extra: str) -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers(**extra).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_an_update_is_answered_200_only_after_it_was_stored(
    served: tuple[str, Store],
) -> None:
    base, store = served
    host, port = base.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    with socket.create_connection((host, int(port))) as client:
        client.setblocking(False)

        def nothing_answered_yet() -> None:
            # On loopback a written answer is in our receive buffer at once: peek at it.
            with pytest.raises(BlockingIOError):
                client.recv(1, socket.MSG_PEEK)

        store.on_enter = nothing_answered_yet
        store.release.clear()
        await loop.sock_sendall(client, post_request(json.dumps(UPDATE).encode()))
        await store.entered.wait()
        nothing_answered_yet()  # the store is still at work
        store.release.set()
        answer = await loop.sock_recv(client, 4096)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert store.accepted == [UPDATE]


async def test_a_store_that_fails_gets_500_and_one_warning_without_the_update(
    served: tuple[str, Store], caplog: pytest.LogCaptureFixture
) -> None:
    base, store = served
    store.fail = True
    with caplog.at_level(logging.DEBUG, logger="bot.webhook_server"):
        async with httpx.AsyncClient() as client:
            response = await client.post(base + PATH, json=UPDATE, headers=headers())
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "bot.webhook_server"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "webhook update 7 not stored, Telegram will send it again: RuntimeError"
    )
    assert "pain 4" not in caplog.text, "the body never reaches the log"
    store.fail = False
    async with httpx.AsyncClient() as client:
        again = await client.post(base + PATH, json=UPDATE, headers=headers())
    assert again.status_code == 200
    assert store.accepted == [UPDATE], "stored once, when Telegram sent it again"


async def test_one_connection_carries_many_updates(served: tuple[str, Store]) -> None:
    base, store = served
    async with httpx.AsyncClient() as client:
        for update_id in range(1, 6):
            response = await client.post(
                base + PATH, json={"update_id": update_id}, headers=headers()
            )
            assert response.status_code == 200
    assert [u["update_id"] for u in store.accepted] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "an empty body"),
        (b"{not json", "malformed JSON"),
        (b'{"update_id": "\xff\xfe"}', "invalid UTF-8"),
        (b"[1, 2]", "JSON that is not an object"),
        (b'{"message": {}}', "no update_id"),
        (b'{"update_id": true}', "an update_id that is not a number"),
        (b'{"update_id": 1.5}', "an update_id that is not an integer"),
        (b"[" * 50_000, "JSON nested deeper than the parser goes"),
        (b"\x00\x00", "NUL bytes"),
    ],
)
async def test_a_malformed_body_gets_400_never_500(
    served: tuple[str, Store], body: bytes, why: str
) -> None:
    base, store = served
    async with httpx.AsyncClient() as client:
        response = await client.post(base + PATH, content=body, headers=headers())
    assert response.status_code == 400, why
    assert store.accepted == [], why


async def test_a_content_type_with_a_charset_is_accepted(served: tuple[str, Store]) -> None:
    base, store = served
    async with httpx.AsyncClient() as client:
        response = await client.post(
            base + PATH,
            content=json.dumps(UPDATE).encode(),
            headers=headers(**{"Content-Type": "application/json; charset=utf-8"}),
        )
    assert response.status_code == 200
    assert store.accepted == [UPDATE]


async def test_refusals_before_the_body_say_why(served: tuple[str, Store]) -> None:
    base, store = served
    async with httpx.AsyncClient() as client:
        wrong_path = await client.post(base + "/other", json=UPDATE, headers=headers())
        wrong_method = await client.get(base + PATH, headers=headers())
        wrong_type = await client.post(
            base + PATH, content=b"update_id=7", headers=headers(**{"Content-Type": "text/plain"})
        )
        no_secret = await client.post(base + PATH, json=UPDATE)
    assert (wrong_path.status_code, wrong_method.status_code) == (404, 405)
    assert (wrong_type.status_code, no_secret.status_code) == (415, 403)
    chunked = await raw_request(
        base,
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}"
        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\n\r\n".encode(),
    )
    assert chunked.startswith(b"HTTP/1.1 411 ")
    assert store.accepted == []


@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("", b"411"),
        ("12abc", b"411"),
        ("\u00b2", b"411"),  # "²": str.isdigit() says yes, int() says no
        ("-1", b"411"),
        ("9" * 5000, b"413"),  # more digits than int() converts
        ("0" * 30 + "12", b"400"),  # a 12-byte body that is not an update, however written
    ],
)
async def test_a_content_length_that_is_not_a_small_number_is_refused_not_crashed_on(
    served: tuple[str, Store], length: str, status: bytes
) -> None:
    base, store = served
    answer = await raw_request(
        base,
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
        'Connection: close\r\n\r\n{"a": 12345}'.encode("latin-1"),
    )
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer
    assert store.accepted == []


async def test_an_oversized_body_is_refused_from_its_length_without_being_sent(
    served: tuple[str, Store],
) -> None:
    base, store = served
    # Only the head goes out: the server must answer 413 without waiting for the body.
    answer = await raw_request(
        base,
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {LIMIT + 1}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert store.accepted == []


def test_a_plain_http_webhook_url_is_allowed_only_with_a_self_hosted_bot_api(
    webhook_settings: Settings,
) -> None:
    local_url = "http://127.0.0.1:8444/telegram"
    self_hosted = with_changes(
        webhook_settings,
        telegram={"webhook_url": local_url, "api_base_url": "http://127.0.0.1:8081/bot"},
    )
    assert webhook_options(self_hosted).webhook_url == local_url

    # With Telegram's own Bot API the settings refuse it (and say what would allow it)...
    with pytest.raises(ValueError, match="self-hosted Bot API server"):
        with_changes(webhook_settings, telegram={"webhook_url": local_url})
    # ... and so does the run path, which looks again even without a token.
    tokenless = with_changes(webhook_settings, telegram={"token": ""})
    with pytest.raises(WebhookSettingsError, match="self-hosted Bot API server"):
        webhook_options(with_changes(tokenless, telegram={"webhook_url": local_url}))
    assert webhook_options(webhook_settings).webhook_url == PUBLIC_URL


# --- memory: oversized and unauthenticated bodies are never buffered --------------------------

SERVER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from bot.webhook_server import WebhookServer

    async def main():
        async def accept(update):
            pass
        server = WebhookServer(listen="127.0.0.1", port=0, path="/telegram",
                               secret=sys.argv[1], max_body_bytes=1024 * 1024, accept=accept)
        await server.start()
        print(server.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)
BIG = 90 * 1024 * 1024


def memory_mb(pid: int, field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (the most it ever was) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


async def post_big(port: int, extra_headers: str) -> bytes:
    """Announce 90 MB and pour it in while reading what the server answers.

    Reading only after pouring would lose the answer here: asyncio drops what the socket
    still held once a write fails with the reset that closing over an unread body causes
    (a blocking client on Linux still reads it).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {BIG}\r\n{extra_headers}\r\n".encode()
    )
    chunk = b"x" * (1024 * 1024)

    async def pour() -> None:
        try:
            for _ in range(BIG // len(chunk)):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass  # the server stopped listening after answering: what it should do

    pouring = asyncio.create_task(pour())
    try:
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    except (ConnectionError, asyncio.IncompleteReadError):
        answer = b""
    finally:
        await pouring
        writer.close()
    return answer


async def test_eight_concurrent_90_mb_posts_leave_the_server_small(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER_SCRIPT,
        WEBHOOK_SECRET,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        port = int(await server.stdout.readline())
        before = memory_mb(server.pid, "VmRSS")
        started = time.monotonic()
        answers = await asyncio.gather(
            *(post_big(port, "") for _ in range(8)),
            *(
                post_big(port, f"X-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}\r\n")
                for _ in range(8)
            ),
        )
        took = time.monotonic() - started
        after = memory_mb(server.pid, "VmRSS")
        peak = memory_mb(server.pid, "VmHWM")
    finally:
        server.kill()
        await server.wait()
    with capsys.disabled():
        print(
            f"\nwebhook server RSS: {before:.1f} MB before, {after:.1f} MB after, peak "
            f"{peak:.1f} MB, 16 posts of 90 MB (8 without the secret, 8 over the limit) "
            f"in {took:.1f} s"
        )
    statuses = sorted(answer[:13] for answer in answers)
    assert statuses == [b"HTTP/1.1 403 "] * 8 + [b"HTTP/1.1 413 "] * 8, answers
    assert peak - before < 30, (before, peak)
