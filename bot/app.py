"""The composition root: the one place where settings, database, clock and Telegram meet.

Nothing is built at import time; tests build a fresh Application per test with a fake
Bot API (``request=``) and a manual clock (``clock=``).
"""

from __future__ import annotations

import gc
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from telegram.ext import ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest, HTTPXRequest

from bot import receiver, scheduler
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import DEPS_KEY, BotApplication, BotContext, Deps
from bot.floods import ReplyGate
from bot.handlers import charts, common, consent, datarights, language, patient, therapist
from storage.db import Database

# PTB wants a token even when the transport is a fake that never checks it.
PLACEHOLDER_TOKEN = "123456:PLACEHOLDER-TOKEN-FOR-A-FAKE-BOT-API"


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
    playground: bool = False,
    tls_context: ssl.SSLContext | None = None,
) -> BotApplication:
    """Wire the bot: the database must already be at the migration head (see ``bot.cli``).

    ``playground``: people read the bot on the playground's page (``bot.playground``).
    ``tls_context``: for the connections to the Bot API when no ``request`` is given; made
    here when not given (``bot.tls`` makes it during start-up's imports).
    """
    deps = Deps(
        settings=settings,
        database=database or Database(settings.database.url),
        clock=clock or SystemClock(),
        playground=playground,
    )
    token = settings.telegram.token.get_secret_value().strip() or PLACEHOLDER_TOKEN
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram.api_base_url)
        .base_file_url(settings.telegram.file_base_url)
        .context_types(ContextTypes(context=BotContext))
        # Every Bot API call passes it: messages into a flooding chat are held back.
        .rate_limiter(ReplyGate())
        # Its stop lets a running due scan finish instead of cancelling it.
        .job_queue(scheduler.FinishingJobQueue())
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        # httpx loads the certificate store into a TLS context of its own for every client,
        # ~27 ms each at start; PTB's two clients (getUpdates and everything else) share one.
        # Pool sizes are PTB's defaults for each.
        tls = httpx.create_ssl_context() if tls_context is None else tls_context
        builder = builder.request(
            HTTPXRequest(connection_pool_size=256, httpx_kwargs={"verify": tls})
        ).get_updates_request(HTTPXRequest(connection_pool_size=1, httpx_kwargs={"verify": tls}))
    application: BotApplication = builder.build()
    application.bot_data[DEPS_KEY] = deps

    # Order matters inside group 0: the therapist's authoring dialogue must see its own
    # messages before the patient's answer handler does.
    common.register_commands(application)
    # Also the reader's language, set before any other handler sees the update.
    language.register(application)
    therapist.register(application)
    charts.register(application)
    datarights.register(application)
    consent.register(application)
    patient.register(application)
    common.register_fallbacks(application)
    scheduler.install(application)
    receiver.install(application)
    # Last, so it chains after any post_init set above: command menus once the bot is up.
    therapist.install_menus(application)
    return application


# Use cases run in threads (Deps.run). One busy there, the due scan claiming 500 rows, holds
# the GIL for up to 5 ms at a time by default, and every turn of the event loop waits for it;
# at 1 ms the loop, and with it the pacer's send instants, stay on time.
GIL_SWITCH_SECONDS = 0.001


@contextmanager
def serving_runtime() -> Iterator[None]:
    """The interpreter as ``patientbot run`` tunes it once the application is built.

    What is imported and built by now lives as long as the process: frozen, it stays out of
    the collector's full passes, each of which would stall the event loop for ~0.1 s.
    Benchmarks measure under the same settings; leaving puts both back.
    """
    previous = sys.getswitchinterval()
    gc.freeze()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
        gc.unfreeze()
