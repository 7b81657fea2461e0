"""Replies of the instances that do not send the fan-out, in the budget of the one that does.

Several webhook instances may share one PostgreSQL database (and one bot token): one of them,
the holder of ``storage.db.SenderLock``, sends every prompt; every instance answers the updates
it receives. Each reply takes its place in its own instance's pacer ahead of prompts
(``bot.floods.ReplyGate``), but the holder's pacer would not see the others' replies, and a
fan-out at the full budget plus their replies is a 429. So an instance that does not hold the
lock announces each reply it sent (``ReplyChannel.announce``; replies sent while the last
announcement is on its way go together in the next one), and the holder listens
(``ReplyChannel.listen``) and notes them in its pacer (``Pacer.note_foreign``): they count in
its window, each takes a prompt's slot, and one place stays free while they keep coming.

The reply itself never waits for any of this: it is announced after it went out. On SQLite the
bot is one process and nothing here runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from bot.sender import Pacer
from storage.db import Database, ReplyChannel
from storage.errors import is_unavailable, unavailable_reason

log = logging.getLogger(__name__)

# After the connection it listens on is cut, the holder listens again this much later.
RELISTEN_SECONDS = 1.0


class ReplyShare:
    """Announce this instance's replies while another sends; hear theirs while this one does."""

    def __init__(
        self,
        database: Database,
        pacer: Callable[[], Pacer],
        sending: Callable[[], bool],
    ) -> None:
        self.enabled = not database.is_sqlite
        self.channel = ReplyChannel(database)
        self.pacer = pacer
        self.sending = sending
        self._unannounced = 0
        self._announcing: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._listener: threading.Thread | None = None
        self._stop_listening = threading.Event()
        self.heard = 0  # replies other instances announced (for tests and logs)

    # --- an instance that does not send the fan-out ------------------------------------------

    def reply_sent(self) -> None:
        """One reply went out from this instance (``ReplyGate`` calls this)."""
        if not self.enabled or self.sending():
            return
        self._unannounced += 1
        self._wake.set()
        if self._announcing is None or self._announcing.done():
            self._announcing = asyncio.get_running_loop().create_task(
                self._announce(), name="announce-replies"
            )

    async def _announce(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            count, self._unannounced = self._unannounced, 0
            if not count:
                continue
            try:
                await asyncio.to_thread(self.channel.announce, count)
            except Exception as error:
                # Only the budget's view is lost: at worst one 429, which the sender honours.
                log.warning(
                    "could not tell the sending instance about %d replies: %s",
                    count,
                    unavailable_reason(error) if is_unavailable(error) else error,
                )

    # --- the instance that sends the fan-out -------------------------------------------------

    def listen(self) -> None:
        """Start hearing the other instances' replies (this instance now sends)."""
        if not self.enabled or (self._listener is not None and self._listener.is_alive()):
            return
        loop = asyncio.get_running_loop()
        self._stop_listening.clear()

        def heard(count: int) -> None:
            try:
                loop.call_soon_threadsafe(self._note, count)
            except RuntimeError:  # the event loop is closed: nobody is left to tell
                self._stop_listening.set()

        self._listener = threading.Thread(
            target=self._listen_until_stopped, args=(heard,), name="hear-replies", daemon=True
        )
        self._listener.start()

    def _note(self, count: int) -> None:
        self.heard += count
        self.pacer().note_foreign(count)

    def _listen_until_stopped(self, heard: Callable[[int], None]) -> None:
        def stopped() -> bool:
            return self._stop_listening.is_set() or self.channel.released

        while not stopped():
            try:
                self.channel.listen(heard, self._stop_listening.is_set)
            except Exception as error:
                if stopped():
                    return  # the database was disposed under it: a stop, not a fault
                log.warning(
                    "stopped hearing the other instances' replies (%s); listening again",
                    unavailable_reason(error) if is_unavailable(error) else error,
                )
                self._stop_listening.wait(RELISTEN_SECONDS)

    async def stop_listening(self) -> None:
        """Another instance sends now, or this one stops."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stop_listening.set()
        await asyncio.to_thread(listener.join)

    async def close(self) -> None:
        await self.stop_listening()
        if self._announcing is not None:
            self._announcing.cancel()
            await asyncio.gather(self._announcing, return_exceptions=True)
            self._announcing = None
