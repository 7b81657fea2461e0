"""Patient side: joining, the check-in walk-through and the patient's own commands."""

from __future__ import annotations

from bot.app import BotApplication


def register(application: BotApplication) -> None:
    """Add the patient handlers (filled in by the check-in work)."""
