"""Flow-test fixtures: a Harness per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from storage.db import Database
from tests.fakes.harness import Harness


@pytest.fixture
async def harness(
    settings: Settings, database: Database, clock: ManualClock
) -> AsyncIterator[Harness]:
    h = await Harness(settings, database, clock).start()
    try:
        yield h
        assert not h.api.violations, f"invalid Bot API requests: {h.api.violations}"
    finally:
        await h.stop()
