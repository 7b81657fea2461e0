"""Therapist side: the admin commands."""

from __future__ import annotations

from bot.app import BotApplication


def register(application: BotApplication) -> None:
    """Add the admin handlers (filled in by the therapist work)."""
