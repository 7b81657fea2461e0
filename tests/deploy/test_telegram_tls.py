"""The bot checks the certificate of the Bot API server it talks to, on both its connections.

Its two HTTP clients (``getUpdates`` and everything else) share one TLS context, which
``patientbot run`` makes on a thread while it imports (``bot.tls``) and ``build_application``
makes itself otherwise: this shows that context verifies, and that it trusts what the operator
names in ``SSL_CERT_FILE`` (a self-hosted Bot API server with a clinic's own certificate
authority), whichever made it; and that a file there that cannot be loaded stops the start with
a sentence, not a traceback.
"""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot.app import build_application
from bot.config import Settings
from bot.context import BotApplication
from bot.tls import tls_context_ahead
from storage.db import Database
from tests.conftest import clean_environment

# A self-signed certificate for 127.0.0.1, made for these tests only (valid until 2126).
TLS = Path(__file__).resolve().parents[1] / "fakes" / "tls"
CERTIFICATE = TLS / "localhost-cert.pem"
ROOT = Path(__file__).resolve().parents[2]

# Made by build_application, or ahead on a thread as `patientbot run` does.
MADE_BY = pytest.mark.parametrize("ahead", [False, True], ids=["built", "ahead"])


def _made(ahead: bool) -> ssl.SSLContext | None:
    return tls_context_ahead().result(timeout=30) if ahead else None


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


@MADE_BY
async def test_a_server_whose_certificate_nobody_vouches_for_is_refused_on_both_connections(
    https_bot_api: str,
    database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    ahead: bool,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    application = build_application(
        _settings(https_bot_api, database_url), database=database, tls_context=_made(ahead)
    )
    bot = application.bot
    try:
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            await bot.get_me()
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            await bot.get_updates(timeout=0)
    finally:
        await _close(application)


@MADE_BY
async def test_a_certificate_the_operator_trusts_through_ssl_cert_file_is_accepted(
    https_bot_api: str,
    database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    ahead: bool,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(CERTIFICATE))
    made_ahead = _made(ahead)
    if ahead:
        # Only the context made ahead still trusts the server: built here, it would not.
        monkeypatch.delenv("SSL_CERT_FILE")
    application = build_application(
        _settings(https_bot_api, database_url), database=database, tls_context=made_ahead
    )
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


def test_a_certificate_file_that_cannot_be_loaded_stops_the_start_with_a_sentence(
    tmp_path: Path,
) -> None:
    not_certificates = tmp_path / "clinic-ca.pem"
    not_certificates.write_text("this is not a certificate\n", encoding="utf-8")
    missing = tmp_path / "missing-ca.pem"
    environment = {
        **clean_environment(),
        "PATIENTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "TELEGRAM_BOT_TOKEN": "123:TLS",
        # Never reached: the start stops before its first request.
        "TELEGRAM_API_BASE_URL": "https://127.0.0.1:9/bot",
        "PYTHONPATH": str(ROOT),
    }
    for unloadable, reason in (
        (not_certificates, "no certificate or crl found"),
        (missing, "No such file or directory"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env={**environment, "SSL_CERT_FILE": str(unloadable)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output
        assert (
            "Cannot load the certificate authorities that vouch for the Bot API server from "
            f"SSL_CERT_FILE={unloadable}: "
        ) in output
        assert reason in output
        assert "_ssl.c" not in output


def test_a_built_in_store_that_cannot_be_loaded_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import certifi

    from bot.cli import main

    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATIENTBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:TLS")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "https://127.0.0.1:9/bot")
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    # A damaged installation: certifi's bundle is gone.
    monkeypatch.setattr(certifi, "where", lambda: str(tmp_path / "cacert.pem"))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        assert main(["--config", str(tmp_path / "empty.toml"), "run"]) == 1
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    printed = capsys.readouterr().err
    assert "Cannot load the built-in certificate authorities" in printed
    assert "No such file or directory" in printed
    assert "Traceback" not in printed
