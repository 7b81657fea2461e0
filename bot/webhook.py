"""Serve updates in the configured mode, with the health endpoint and a clean stop.

Polling (one instance, no public address) or webhook (several instances behind one public
URL, sharing PostgreSQL). Either way updates come in through ``bot.receiver``, which stores
each one before Telegram is told it arrived: PTB's own ``Updater`` and webhook server confirm
updates before handling them, so neither is used. Polling deletes any webhook first, so
switching from webhook back to polling just works; webhook mode sets the webhook with the
secret that Telegram then sends back in ``X-Telegram-Bot-Api-Secret-Token``.

On SIGTERM (or SIGINT) the bot stops taking updates (the webhook server closes, polling ends
without confirming a batch it has not stored), the update in hand is finished, the leases of
updates claimed but not begun are given back, and the JobQueue stops, so the due scan claims
nothing more and the scan in progress gives its unsent claims back. The hooks installed here
then run in this order: the scheduler's ``post_stop`` releases whatever this instance still
holds; ``post_shutdown`` closes the health endpoint and the database's connections. After a
SIGKILL nothing is lost either: what was stored is handled after the restart.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from telegram.error import InvalidToken, NetworkError

from bot import texts
from bot.config import Settings, webhook_url_problem
from bot.context import DEPS_KEY, BotApplication, Deps
from bot.frozen import frozen
from bot.handlers.therapist import stop_publishing_menus
from bot.health import HealthServer
from bot.receiver import ALLOWED_UPDATES, HANDLING_AT_ONCE, receiver

log = logging.getLogger(__name__)

HEALTH_KEY = "health_server"
# How ``running`` starts the health endpoint ahead of the rest of ``post_init`` (polling).
HEALTH_STARTER_KEY = "health_starter"
# Threads for the use cases (``Deps.run``): the updates handled side by side, the due scan and
# the recording of its results, lease renewals, announcements to other instances and health
# probes. Python's default, CPU count + 4, is 6 on two cores: handlers waiting for SQLite's
# write lock could hold them all while a lease renewal queued behind them.
USE_CASE_THREADS = 4 * HANDLING_AT_ONCE

Hook = Callable[[Any], Coroutine[Any, Any, None]]


@frozen
class WebhookOptions:
    """Where our webhook server listens and what Telegram is told, from the settings."""

    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str


class WebhookSettingsError(ValueError):
    """Webhook mode is asked for without what it needs; the message says what is missing."""


def webhook_options(settings: Settings) -> WebhookOptions:
    """Read the webhook settings, refusing to go on without a secret or a usable URL."""
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
    problem = webhook_url_problem(telegram)
    if problem is not None:
        raise WebhookSettingsError(
            texts.deploy_webhook_needs(
                f"[telegram] webhook_url (or TELEGRAM_WEBHOOK_URL): {problem}"
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
        if not health.enabled or HEALTH_KEY in app.bot_data:
            return  # off, or started already (``running``, polling)
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
    application.bot_data[HEALTH_STARTER_KEY] = start_health
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
        asyncio.run(_serve(application, settings))
    except WebhookSettingsError as error:
        raise StartError(str(error)) from None
    except InvalidToken:
        raise StartError(texts.deploy_token_refused(settings.source)) from None
    except NetworkError as error:
        raise StartError(texts.deploy_telegram_unreachable(telegram.api_base_url, error)) from None
    except OSError as error:
        # Binding the health or webhook port failed (in use, or an address not on this host).
        raise StartError(texts.deploy_cannot_listen(error)) from None


async def _serve(application: BotApplication, settings: Settings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopping.set)
    try:
        async with running(application, settings):
            failure = asyncio.create_task(receiver(application).failed())
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait([failure, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            if failure.done():
                raise failure.result()
            failure.cancel()
            log.info("Stopping: no more updates are taken")
    finally:
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signal_number)


@asynccontextmanager
async def running(application: BotApplication, settings: Settings) -> AsyncIterator[Any]:
    """The bot taking updates in the configured mode inside the block; a clean stop after.

    Yields the webhook server in webhook mode (its ``port`` is the bound one), else None.
    """
    telegram = settings.telegram
    incoming = receiver(application)
    webhook: Any = None
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(USE_CASE_THREADS, thread_name_prefix="use-case")
    )
    try:
        await application.initialize()  # getMe: a refused token or no Telegram stops here
        if telegram.mode == "webhook":
            await _post_init(application)
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
            webhook = await _start_webhook(application, settings, options)
        else:
            log.info("Starting the bot in polling mode")
            # The health endpoint first: a start that cannot listen (a second one on this
            # host) stops before it tells Telegram anything.
            starter = application.bot_data.get(HEALTH_STARTER_KEY)
            if starter is not None:
                await starter(application)
            await application.bot.delete_webhook()
            # Updates are fetched and stored from here on, while the rest of the start's own
            # work (the therapists' places, 14 ms) goes on; handling them waits for it below.
            incoming.start_fetching()
            await _post_init(application)
        await application.start()
        incoming.start_handling()
        yield webhook
    finally:
        if webhook is not None:
            await webhook.close()
        await incoming.close()
        if application.running:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        # Before the bot shuts down, on every path (a start that failed after post_init
        # too): the menus' requests must not meet a closed connection pool.
        await stop_publishing_menus(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def _post_init(application: BotApplication) -> None:
    if application.post_init is not None:
        await application.post_init(application)


async def _start_webhook(
    application: BotApplication, settings: Settings, options: WebhookOptions
) -> Any:
    """Listen first, then tell Telegram where to send: nothing arrives before we can store it."""
    from bot.webhook_server import WebhookServer

    incoming = receiver(application)

    async def accept(update: dict[str, Any]) -> None:
        await incoming.accept([update])

    server = WebhookServer(
        listen=options.listen,
        port=options.port,
        path=options.url_path,
        secret=options.secret_token,
        max_body_bytes=settings.telegram.webhook_max_body_bytes,
        accept=accept,
    )
    await server.start()
    try:
        await application.bot.set_webhook(
            url=options.webhook_url,
            secret_token=options.secret_token,
            allowed_updates=ALLOWED_UPDATES,
        )
    except BaseException:
        await server.close()
        raise
    return server
