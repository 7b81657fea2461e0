"""Serve updates in the configured mode, with the health endpoint and a clean stop.

Polling (one instance, no public address) or webhook (several instances behind one public
URL, sharing PostgreSQL). PTB does the bootstrapping either way: polling deletes any webhook
first, so switching from webhook back to polling just works; webhook mode sets the webhook
with the secret that Telegram then sends back in ``X-Telegram-Bot-Api-Secret-Token``, and PTB's
server answers 403 to any request without it.

On SIGTERM (or SIGINT) PTB stops fetching updates, finishes the updates in hand, then stops the
JobQueue, so the due scan claims nothing more and the scan in progress gives its unsent claims
back. The hooks installed here then run in this order: the scheduler's ``post_stop`` releases
whatever this instance still holds; ``post_shutdown`` closes the health endpoint and the
database's connections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import InvalidToken, NetworkError

from bot import texts
from bot.app import DEPS_KEY, BotApplication, Deps
from bot.config import Settings
from bot.health import HealthServer

log = logging.getLogger(__name__)

# The update kinds the handlers use; Telegram sends nothing else.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
HEALTH_KEY = "health_server"

Hook = Callable[[Any], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class WebhookOptions:
    """The arguments of PTB's ``run_webhook`` / ``Updater.start_webhook`` from the settings."""

    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "listen": self.listen,
            "port": self.port,
            "url_path": self.url_path,
            "webhook_url": self.webhook_url,
            "secret_token": self.secret_token,
            "allowed_updates": ALLOWED_UPDATES,
        }


class WebhookSettingsError(ValueError):
    """Webhook mode is asked for without what it needs; the message says what is missing."""


def webhook_options(settings: Settings) -> WebhookOptions:
    """Read the webhook settings, refusing to go on without a secret or a public https URL."""
    telegram = settings.telegram
    secret = telegram.webhook_secret.get_secret_value()
    # Settings already refuse these when a token is set; a second look costs nothing and an
    # open webhook would accept updates from anyone who finds the URL.
    if not secret:
        raise WebhookSettingsError(
            texts.deploy_webhook_needs(
                "[telegram] webhook_secret (or TELEGRAM_WEBHOOK_SECRET) is empty"
            )
        )
    if not telegram.webhook_url.startswith("https://"):
        raise WebhookSettingsError(
            texts.deploy_webhook_needs(
                "[telegram] webhook_url (or TELEGRAM_WEBHOOK_URL) must be the public https:// URL"
            )
        )
    return WebhookOptions(
        listen=telegram.webhook_listen,
        port=telegram.webhook_port,
        url_path="/" + telegram.webhook_path.lstrip("/"),
        webhook_url=telegram.webhook_url,
        secret_token=secret,
    )


def _deps(application: BotApplication) -> Deps:
    deps: Deps = application.bot_data[DEPS_KEY]
    return deps


def _chain(first: Hook, then: Hook | None) -> Hook:
    async def hook(app: Any) -> None:
        try:
            await first(app)
        finally:
            if then is not None:
                await then(app)

    return hook


def install_lifecycle(application: BotApplication) -> None:
    """Start the health endpoint with the bot; close it and the database when the bot stops.

    Hooks already set are kept: the health endpoint starts before any other ``post_init``
    work, and closes, with the database, after any other ``post_shutdown`` work. The
    scheduler's own ``post_stop`` (releasing claims) runs before both of those.
    """

    async def start_health(app: BotApplication) -> None:
        health = _deps(app).settings.health
        if not health.enabled:
            return
        server = HealthServer(_deps(app), health.listen, health.port)
        await server.start()
        app.bot_data[HEALTH_KEY] = server

    async def close_health_and_database(app: BotApplication) -> None:
        server = app.bot_data.pop(HEALTH_KEY, None)
        try:
            if isinstance(server, HealthServer):
                await server.close()
        finally:
            _deps(app).database.dispose()
            log.info("Stopped; database connections closed")

    application.post_init = _chain(start_health, application.post_init)
    previous_shutdown = application.post_shutdown
    application.post_shutdown = (
        close_health_and_database
        if previous_shutdown is None
        else _chain(previous_shutdown, close_health_and_database)
    )


class StartError(Exception):
    """The bot could not start for a reason the person at the terminal can fix."""


def serve(application: BotApplication, settings: Settings) -> None:
    """Run until SIGTERM or SIGINT in the configured mode; blocks, returns after a clean stop."""
    install_lifecycle(application)
    telegram = settings.telegram
    try:
        if telegram.mode == "webhook":
            options = webhook_options(settings)
            log.info(
                "Starting the bot in webhook mode",
                extra={
                    "listen": options.listen,
                    "port": options.port,
                    "path": options.url_path,
                    "public_url": options.webhook_url,
                },
            )
            application.run_webhook(**options.as_kwargs())
        else:
            log.info("Starting the bot in polling mode")
            # PTB deletes any webhook before the first getUpdates, so switching modes works.
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
    except WebhookSettingsError as error:
        raise StartError(str(error)) from None
    except InvalidToken:
        raise StartError(texts.deploy_token_refused(settings.source)) from None
    except NetworkError as error:
        raise StartError(texts.deploy_telegram_unreachable(telegram.api_base_url, error)) from None
    except OSError as error:
        # Binding the health or webhook port failed (in use, or an address not on this host).
        raise StartError(texts.deploy_cannot_listen(error)) from None
