"""Keeping a short lease while work holds it: the inbox's updates, the due scan's claims.

Leases are short so that a dead instance's rows pass on within seconds; a living one keeps
them by renewing. Renewals start every quarter of a lease, so two in a row can fail (the
database away for a moment) before the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from storage.errors import log_failure

log = logging.getLogger(__name__)

BEATS_PER_LEASE = 4


class LeaseKeeper:
    """Call ``renew`` every quarter of ``lease_seconds`` until ``stop``, or until it says
    there is nothing left to renew (it returns False).

    ``stop`` waits for a renewal being written: one still running would otherwise meet the
    work's closing transaction on the same rows, and PostgreSQL could abort either of them
    as a deadlock.
    """

    def __init__(
        self, renew: Callable[[], Awaitable[bool]], lease_seconds: float, *, what: str
    ) -> None:
        self._renew = renew
        self._beat = lease_seconds / BEATS_PER_LEASE
        self._what = what
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"renewing {what}")

    async def stop(self) -> None:
        """End the renewals, waiting for one being written."""
        self._stopping.set()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self._beat
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, due - loop.time()))
            if self._stopping.is_set():
                return
            # Counted from this renewal's start: one that fails slowly (a database that does
            # not answer) does not push the next one towards the lease's end.
            due = loop.time() + self._beat
            try:
                if not await self._renew():
                    return
            except Exception as error:  # tried again at the next beat
                log_failure(log, f"renewing {self._what}", error)
