"""The JobQueue adapter: one repeating due scan, its sends paced below Telegram's limits."""

from __future__ import annotations

from bot.app import BotApplication


def install(application: BotApplication) -> None:
    """Schedule the repeating due scan on the application's JobQueue (filled in by the
    scheduling work)."""
