"""The playground: the whole bot in a local web page, with no Telegram account needed.

``patientbot run`` starts it when no token is configured. Behind the page runs the production
Application (handlers, scheduler, database); only Telegram is replaced, by ``fakebotapi``, and
time moves when the page says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot import texts
from bot.clock import ManualClock, SystemClock
from bot.config import Settings
from bot.playground.server import PlaygroundServer, check_loopback
from bot.playground.session import Playground, find_demo_seed
from storage.db import Database

__all__ = ["Playground", "PlaygroundServer", "run_playground"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


def run_playground(settings: Settings, database: Database, host: str = HOST) -> int:
    """Serve the playground until Ctrl+C; the database must already be at the head revision."""
    check_loopback(host)
    try:
        return asyncio.run(_serve(settings, database, host))
    except KeyboardInterrupt:
        return 0


async def _serve(settings: Settings, database: Database, host: str) -> int:
    # Simulated time starts at the real time (or later: see Playground.start) and moves only
    # when the page moves it.
    clock = ManualClock(SystemClock().now())
    playground = Playground(settings, database, clock, seed=find_demo_seed())
    server = PlaygroundServer(playground, host, settings.playground.port)
    try:
        await server.start()
    except OSError as error:
        print(texts.playground_port_taken(host, settings.playground.port, error), file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await playground.start()
        print(texts.cli_no_token(settings.source), flush=True)
        print(texts.playground_started(server.url), flush=True)
        await stop.wait()
    finally:
        await server.stop()
        await playground.stop()
        print(texts.playground_stopped(), flush=True)
    return 0
