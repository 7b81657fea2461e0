"""Stopping the bot lets a job that is running finish, and starts no new one.

PTB's ``JobQueue.stop`` awaits the jobs running when it is called, then shuts APScheduler down,
which cancels whatever started in between: a due scan cut off, and an ERROR with a traceback
in the log at such a stop. ``scheduler.FinishingJobQueue`` pauses the scheduler first.
"""

from __future__ import annotations

import asyncio

from bot.app import build_application
from bot.config import Settings
from bot.context import BotContext
from bot.scheduler import SCAN_JOB_KWARGS, FinishingJobQueue
from fakebotapi import FakeBotApi
from storage.db import Database
from tests.fakes.logs import recording_errors

STOPS = 20


async def test_a_job_running_at_stop_finishes_and_none_starts_after(
    settings: Settings, database: Database
) -> None:
    started = finished = 0

    async def job(context: BotContext) -> None:
        nonlocal started, finished
        started += 1
        await asyncio.sleep(0.004)
        finished += 1

    # On APScheduler's logger itself: whatever logging set up elsewhere does not hide them.
    with recording_errors("apscheduler") as errors:
        for _ in range(STOPS):
            app = build_application(settings, request=FakeBotApi(), database=database)
            assert isinstance(app.job_queue, FinishingJobQueue)
            # As the due scan is scheduled (``scheduler.install``), every 5 ms.
            app.job_queue.run_repeating(
                job,
                interval=0.005,
                job_kwargs=SCAN_JOB_KWARGS,
            )
            await app.initialize()
            await app.start()
            await asyncio.sleep(0.05)
            await app.stop()
            after_stop = started
            await asyncio.sleep(0.02)
            await app.shutdown()

            assert started == after_stop, "a job started after the stop"
            assert finished == started, f"{started - finished} job(s) cut off by the stop"
    # Without the pause: 26 to 32 stops of 40 logged a job cancelled (measured with this job).
    assert not errors.records, [record.getMessage() for record in errors.records]
