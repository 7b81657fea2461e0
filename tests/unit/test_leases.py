"""LeaseKeeper: what the inbox and the due scan rely on to keep their rows while they work."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.leases import LeaseKeeper

LEASE = 0.08  # a beat of 20 ms
SLOW_LEASE = 0.4


async def test_stopping_waits_for_the_renewal_being_written() -> None:
    writing, release = asyncio.Event(), asyncio.Event()
    written: list[str] = []

    async def renew() -> bool:
        writing.set()
        await release.wait()
        written.append("renewed")
        return True

    keeper = LeaseKeeper(renew, LEASE, what="rows")
    await asyncio.wait_for(writing.wait(), 5)
    stopping = asyncio.create_task(keeper.stop())
    await asyncio.sleep(LEASE)
    assert not stopping.done(), "stop returned while a renewal was still being written"
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert written == ["renewed"]


async def test_renewals_come_every_quarter_of_the_lease_and_end_when_nothing_is_left() -> None:
    beats: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def renew() -> bool:
        beats.append(loop.time() - started)
        return len(beats) < 3

    keeper = LeaseKeeper(renew, SLOW_LEASE, what="rows")
    for _ in range(100):
        if len(beats) == 3:
            break
        await asyncio.sleep(SLOW_LEASE / 4)
    await asyncio.sleep(SLOW_LEASE)
    await keeper.stop()
    assert len(beats) == 3, "renewals went on after renew said nothing was left"
    # A quarter apart: never sooner (a renewal is a write), and the first before a third of
    # the lease (the beat before), with slack for a busy machine.
    gaps = [b - a for a, b in zip([0.0, *beats], beats, strict=False)]
    assert min(gaps) >= SLOW_LEASE / 4 * 0.95, gaps
    assert beats[0] < SLOW_LEASE / 3, beats


async def test_a_failed_renewal_is_logged_and_tried_again_at_the_next_beat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tries: list[int] = []

    async def renew() -> bool:
        tries.append(1)
        if len(tries) == 1:
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return False

    keeper = LeaseKeeper(renew, LEASE, what="the claims being sent")
    with caplog.at_level(logging.WARNING, logger="bot.leases"):
        for _ in range(100):
            if len(tries) == 2:
                break
            await asyncio.sleep(LEASE / 4)
        await keeper.stop()
    assert len(tries) == 2
    assert "renewing the claims being sent failed" in caplog.text
