"""Claiming the next round while one is sent: nothing claimed ahead is ever stranded or doubled."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta

from bot.clock import ManualClock
from bot.config import Settings
from bot.sender import RetryPolicy
from fakebotapi import ServerError
from storage.db import Database
from tests.fakes.harness import Harness
from tests.flows.test_scheduling_support import World

TODAY = date(2026, 11, 25)  # the clock starts at 09:00 in London


def with_batches_of(settings: Settings, size: int) -> Settings:
    scheduler = settings.scheduler.model_copy(update={"scan_batch_size": size})
    return settings.model_copy(update={"scheduler": scheduler})


async def test_a_fan_out_in_many_rounds_reaches_everyone_once(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 70)
    task = world.task(group, (TODAY, time(10, 0)), questions=1)
    h = await Harness(with_batches_of(settings, 20), database, clock).start()
    try:
        h.advance(timedelta(hours=1))

        report = await h.scan()

        assert (report.rounds, report.sent, report.requeued) == (4, 70, 0)
        assert Counter(r.status for r in world.deliveries(task_id=task)) == {"sent": 70}
        assert all(len(h.api.sent_to(p.chat_id)) == 1 for p in people if p.chat_id)
    finally:
        await h.stop()


async def test_a_round_claimed_ahead_goes_back_to_pending_when_the_round_before_fails(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 50)
    task = world.task(group, (TODAY, time(10, 0)), questions=1)
    h = await Harness(with_batches_of(settings, 20), database, clock).start()
    try:
        # Telegram is down for exactly the first round: 20 sends, four tries each.
        h.api.inject("sendMessage", ServerError(502), times=20 * RetryPolicy().max_attempts)
        h.advance(timedelta(hours=1))

        failed = await h.scan()

        # The first round's 20 sends used up their tries; the 20 claimed ahead never went out.
        assert (failed.sent, failed.requeued) == (0, 40)
        rows = world.deliveries(task_id=task)
        assert Counter(r.status for r in rows) == {"pending": 50}
        assert all(r.lease_until is None and r.claimed_by is None for r in rows)

        assert h.api.pending_faults == 0  # Telegram is back
        h.advance(timedelta(seconds=5))
        recovered = await h.scan()

        assert recovered.sent == 50
        assert all(len(h.api.sent_to(p.chat_id)) == 1 for p in people if p.chat_id)
    finally:
        await h.stop()
