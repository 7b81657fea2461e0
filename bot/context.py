"""What handlers, jobs, the scheduler and health share: the typed context and the dependencies.

It imports no handler, so every floor can import it without going through the composition
root (``bot.app``), which imports all of them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from storage.db import Database

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

DEPS_KEY = "deps"
# bot_data: the chats whose therapist's dialogue draft lives in this process, given the
# Application (set by the therapist handlers; the receiver keeps those chats here).
DIALOGUE_CHATS_KEY = "dialogue_chats"


@dataclass
class ScanMonitor:
    """When the due scan last started and finished; the scheduler records, health reads."""

    last_started: datetime | None = None
    last_finished: datetime | None = None
    # The latest renewal of a running scan's claims: a long fan-out is alive while it renews.
    last_renewed: datetime | None = None
    running: bool = False

    async def track(self, clock: Clock, scan: Awaitable[T]) -> T:
        """Await one scan, recording its start and, only when it succeeds, its end."""
        self.last_started = clock.now()
        self.last_renewed = None
        self.running = True
        try:
            result = await scan
        finally:
            self.running = False
        self.last_finished = clock.now()
        return result

    def renewed(self, clock: Clock) -> None:
        """The running scan renewed its claims: it is sending, however long the fan-out."""
        self.last_renewed = clock.now()

    def standing_by(self, clock: Clock) -> None:
        """Record a tick that found another instance sending: this one's scheduler is alive.

        Without it a standby instance would look lagging to /readyz and be taken out of a load
        balancer's rotation, though it answers webhooks as well as the sending one.
        """
        self.last_started = self.last_finished = clock.now()


@dataclass
class Deps:
    """What handlers and jobs need, reached as ``context.deps``."""

    settings: Settings
    database: Database
    clock: Clock
    # The random part keeps two containers apart that share a hostname and are both PID 1.
    instance_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    )
    scans: ScanMonitor = field(default_factory=ScanMonitor)
    # The bot runs behind the playground's page, not Telegram: how-to lines name its buttons.
    playground: bool = False

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a synchronous use case off the event loop (sessions are sync by design)."""
        return await asyncio.to_thread(function, *args, **kwargs)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def deps(self) -> Deps:
        deps: Deps = self.application.bot_data[DEPS_KEY]
        return deps


BotApplication = Application[
    ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]
