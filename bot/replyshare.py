"""Several instances, one budget: each instance's replies counted by all the others.

Several webhook instances may share one PostgreSQL database (and one bot token): one of them,
the holder of ``storage.db.SenderLock``, sends every prompt; every instance answers the updates
it receives. Each reply takes its place in its own instance's pacer ahead of prompts
(``bot.floods.ReplyGate``), but no pacer would see the other instances' replies: a fan-out at
the full budget plus their replies, or a burst of replies spread over the instances (everyone
pressing Start after a prompt), is a 429. So every instance announces each reply it sent
(``ReplyChannel.announce``; replies sent while the last announcement is on its way go together
in the next one), as long as another instance listens (counted in ``pg_stat_activity`` every
few seconds: alone, it announces nothing), and hears the others' (``ReplyChannel.listen``,
from its first scan tick), which it notes in its pacer
(``Pacer.note_foreign``): they count in its window, each takes a prompt's slot on the holder,
and a few places stay free while they keep coming, for those not heard of yet.

The sending instance announces its paced messages (prompts and the like) the same way, and the
others count them in their windows (``Pacer.note_foreign_paced``): a reply there takes only the
room the prompts leave, which the sender keeps while another instance listens
(``Pacer.shared``), instead of going on top of a full window.

A reply never waits for an announcement: it is announced after it went out. On SQLite the bot
is one process and nothing here runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from bot.sender import Pacer
from storage.db import Database, ReplyChannel
from storage.errors import is_unavailable, unavailable_reason

log = logging.getLogger(__name__)

# After the connection it listens on is cut, an instance listens again this much later.
RELISTEN_SECONDS = 1.0
# At most one announcement this often (seconds): a busy instance pays a round trip per batch,
# not per reply.
ANNOUNCE_SPACING = 0.01
# How long a count of the other listening instances holds (seconds). An instance alone on its
# database announces nothing (the announcements cost a lone instance 14% of its answers a
# second, bench_answers on PostgreSQL); one that starts beside it is counted within this, plus
# its first scan tick, when it begins to listen.
RECOUNT_SECONDS = 2.0


class ReplyShare:
    """Announce this instance's replies to the others, and hear theirs."""

    def __init__(
        self, database: Database, pacer: Callable[[], Pacer], instance: Callable[[], str]
    ) -> None:
        self.enabled = not database.is_sqlite
        self.channel = ReplyChannel(database)
        self.pacer = pacer
        self.instance = instance
        self._unannounced = 0
        self._unannounced_paced = 0
        self._others_listening = 0
        self._recount_at = float("-inf")
        self._announcing: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._listener: threading.Thread | None = None
        self._stop_listening = threading.Event()
        self.heard = 0  # replies other instances announced (for tests and logs)
        self.heard_paced = 0  # the sending instance's prompts and other paced messages

    # --- telling ----------------------------------------------------------------------------

    def reply_sent(self) -> None:
        """One reply went out from this instance (``ReplyGate`` calls this)."""
        if not self.enabled:
            return
        self._unannounced += 1
        self._wake_announcer()

    def paced_sent(self) -> None:
        """One paced message (a prompt, a reminder, a digest, a closing edit) went out from
        this instance, the sending one (``ReplyGate`` calls this): the others' replies wait
        for room in a window it fills, instead of meeting a 429 there."""
        if not self.enabled:
            return
        self._unannounced_paced += 1
        self._wake_announcer()

    def _wake_announcer(self) -> None:
        self._wake.set()
        if self._announcing is None or self._announcing.done():
            self._announcing = asyncio.get_running_loop().create_task(
                self._announce(), name="announce-replies"
            )

    async def _announce(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            count, self._unannounced = self._unannounced, 0
            paced, self._unannounced_paced = self._unannounced_paced, 0
            if self._closing:
                return
            recount = time.monotonic() >= self._recount_at
            if not (count or paced) or not (recount or self._others_listening):
                continue  # nothing to tell, or nobody to tell it to as counted a moment ago
            began = loop.time()
            try:
                await asyncio.to_thread(self._tell, count, paced, recount)
            except Exception as error:
                # Only the budget's view is lost: at worst one 429, which the sender honours.
                log.warning(
                    "could not tell the other instances about %d messages: %s",
                    count + paced,
                    unavailable_reason(error) if is_unavailable(error) else error,
                )
            # One round trip per batch, not per reply: what comes meanwhile goes together.
            await asyncio.sleep(max(0.0, ANNOUNCE_SPACING - (loop.time() - began)))

    def _tell(self, count: int, paced: int, recount: bool) -> None:
        """In a thread: count the listeners when that count is stale, announce if any."""
        if recount:
            self._others_listening = self.channel.others_listening()
            self._recount_at = time.monotonic() + RECOUNT_SECONDS
            # A bool set from this thread: the event loop reads it at its next grant.
            self.pacer().shared = self._others_listening > 0
        if self._others_listening:
            self.channel.announce(self.instance(), count, paced)

    # --- hearing ----------------------------------------------------------------------------

    def listen(self) -> None:
        """Start hearing the other instances' replies (at the first scan tick; idempotent)."""
        if not self.enabled or (self._listener is not None and self._listener.is_alive()):
            return
        loop = asyncio.get_running_loop()
        self._stop_listening.clear()

        def heard(instance: str, count: int, paced: bool) -> None:
            if instance == self.instance():
                return  # our own, in our pacer already
            try:
                loop.call_soon_threadsafe(self._note, count, paced)
            except RuntimeError:  # the event loop is closed: nobody is left to tell
                self._stop_listening.set()

        self._listener = threading.Thread(
            target=self._listen_until_stopped, args=(heard,), name="hear-replies", daemon=True
        )
        self._listener.start()

    def _note(self, count: int, paced: bool) -> None:
        # Either note also shares the budget at once, before the next count of listeners.
        if paced:
            self.heard_paced += count
            self.pacer().note_foreign_paced(count)
        else:
            self.heard += count
            self.pacer().note_foreign(count)

    def _listen_until_stopped(self, heard: Callable[[str, int, bool], None]) -> None:
        def stopped() -> bool:
            return self._stop_listening.is_set() or self.channel.released

        said = False  # one line per outage, not one a second
        while not stopped():
            began = time.monotonic()
            try:
                self.channel.listen(heard, self._stop_listening.is_set)
            except Exception as error:
                if stopped():
                    return  # the database was disposed under it: a stop, not a fault
                if time.monotonic() - began > 5 * RELISTEN_SECONDS:
                    said = False  # it had been listening: this is a new cut
                (log.debug if said else log.warning)(
                    "stopped hearing the other instances' replies (%s); trying again every second",
                    unavailable_reason(error) if is_unavailable(error) else error,
                )
                said = True
                self._stop_listening.wait(RELISTEN_SECONDS)

    async def stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stop_listening.set()
        await asyncio.to_thread(listener.join)

    async def close(self) -> None:
        await self.stop_listening()
        announcing, self._announcing = self._announcing, None
        if announcing is not None:
            # Not cancelled: an announcement on its way finishes first, so its connection goes
            # back to the pool before the database is disposed (one returned to a disposed
            # pool is dropped unclosed).
            self._closing = True
            self._wake.set()
            await asyncio.gather(announcing, return_exceptions=True)
            self._closing = False
