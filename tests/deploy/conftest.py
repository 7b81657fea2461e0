"""Helpers for the deployment tests: free ports and settings for webhook mode."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from bot.config import Settings

WEBHOOK_SECRET = "s3cret_Webhook-token"
PUBLIC_URL = "https://bot.example.org/telegram"
TOKEN = "123456789:AAF-deploy-test-token_0123456789abcdef"


def free_port() -> int:
    """A port nothing listens on right now (bound and released; fine on loopback in tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_changes(settings: Settings, **tables: dict[str, Any]) -> Settings:
    """The same settings with some keys of some tables changed, validated again."""
    data = settings.model_dump(mode="python")
    data["telegram"]["token"] = settings.telegram.token.get_secret_value()
    data["telegram"]["webhook_secret"] = settings.telegram.webhook_secret.get_secret_value()
    for table, values in tables.items():
        data[table].update(values)
    return Settings.model_validate(data)


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return with_changes(
        settings,
        telegram={
            "token": TOKEN,
            "mode": "webhook",
            "webhook_listen": "127.0.0.1",
            "webhook_port": free_port(),
            "webhook_path": "/telegram",
            "webhook_url": PUBLIC_URL,
            "webhook_secret": WEBHOOK_SECRET,
        },
    )
