"""The pacer's promise holds on the instants it really grants, not only on its schedule."""

from __future__ import annotations

import asyncio
import bisect
import random

from bot.sender import Pacer
from tests.flows.test_scheduling_support import VirtualTime


async def test_senders_woken_late_never_crowd_more_than_the_rate_into_a_second() -> None:
    vt = VirtualTime()
    rng = random.Random(7)

    async def late_sleep(seconds: float) -> None:
        # An event loop busy elsewhere wakes a sleeper up to 40 ms after it asked.
        await vt.sleep(seconds + rng.uniform(0.0, 0.04))

    pacer = Pacer(28.8, clock=vt.time, sleep=late_sleep)
    granted: list[float] = []

    async def worker(first_chat: int) -> None:
        for chat in range(first_chat, first_chat + 60):
            await pacer.acquire(chat)
            granted.append(vt.time())

    await vt.run(asyncio.gather(*(worker(n * 1000) for n in range(8))))

    granted.sort()
    busiest = max(bisect.bisect_right(granted, t + 1.0) - i for i, t in enumerate(granted))
    assert busiest <= 29, "28.8 a second puts at most 29 sends in any one second"
    assert len(granted) / (granted[-1] - granted[0]) > 27.5, "and lateness costs little rate"
