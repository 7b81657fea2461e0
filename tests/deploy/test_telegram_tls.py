"""The bot checks the certificate of the Bot API server it talks to, on both its connections.

Its two HTTP clients (``getUpdates`` and everything else) share one TLS context built at start
(``bot.app``): this shows that context verifies, and that it trusts what the operator names in
``SSL_CERT_FILE`` (a self-hosted Bot API server with a clinic's own certificate authority).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from storage.db import Database

# A self-signed certificate for 127.0.0.1, made for these tests only (valid until 2126).
TLS = Path(__file__).resolve().parents[1] / "fakes" / "tls"
CERTIFICATE = TLS / "localhost-cert.pem"


class _BotApi(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        method = self.path.rsplit("/", 1)[-1]
        result: object = (
            [] if method == "getUpdates" else {"id": 1, "is_bot": True, "first_name": "Bot",
                                                "username": "tls_bot"}
        )  # fmt: skip
        body = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def https_bot_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Straight to it, never through a proxy the machine may name in its environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApi)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERTIFICATE, TLS / "localhost-key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _settings(base: str, database_url: str) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "telegram": {
                "token": "123:TLS",
                "api_base_url": f"{base}/bot",
                "file_base_url": f"{base}/file/bot",
            },
        }
    )


async def test_a_server_whose_certificate_nobody_vouches_for_is_refused_on_both_connections(
    https_bot_api: str, database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    application = build_application(_settings(https_bot_api, database_url), database=database)
    bot = application.bot
    try:
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            await bot.get_me()
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            await bot.get_updates(timeout=0)
    finally:
        await _close(application)


async def test_a_certificate_the_operator_trusts_through_ssl_cert_file_is_accepted(
    https_bot_api: str, database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(CERTIFICATE))
    application = build_application(_settings(https_bot_api, database_url), database=database)
    bot = application.bot
    try:
        assert (await bot.get_me()).username == "tls_bot"
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await _close(application)


async def _close(application: BotApplication) -> None:
    # Bot.shutdown does nothing for a bot never initialised: close both clients directly.
    for request in application.bot._request:
        await request.shutdown()
