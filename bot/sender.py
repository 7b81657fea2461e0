"""Paced sending for the scheduler: evenly spaced, one prompt a second per chat, nothing lost.

The scheduler's fan-out waits for its slots here. A patient's own conversation (handlers'
``reply_text`` and the like) passes ``bot.floods.ReplyGate``, which takes a place in the same
pacer ahead of every prompt (``acquire_reply``): a reply never waits behind a fan-out of
hundreds of prompts, and replies and prompts together stay within the one budget,
``[scheduler] messages_per_second`` (at most 30, Telegram's limit per bot).

The pacer hands out send slots at least ``1 / rate`` seconds apart (a schedule of reserved
instants, not a token bucket, so there is never a burst after a quiet spell) and at least one
second apart for the same chat. Time and sleeping are injected, so tests never really wait.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import logging
import math
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.frozen import frozen
from bot.services.delivery import Outcome, SendJob, SendResult
from storage.errors import is_unavailable, unavailable_reason

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# Telegram allows about one message a second into one chat; the margin absorbs the jitter
# between our clock and the server's.
PER_CHAT_INTERVAL = 1.05
TimeSource = Callable[[], float]
# Places in the window kept free while other instances' replies come (``note_foreign``): those
# not heard of yet. Measured with ``bench_fanout --processes 3 --patients 2000 --limit 30`` on
# this 2-core machine under load: one place left 46 x 429, three left 9 to 11. Again with
# sniffio (load 0.2): two places 24 x 429 (0.895 of L - replies, reply p99 1,029 ms), three
# 4 x 429 (0.856, p99 457 ms): each 429 pauses every send for a second. Once every instance
# heard the prompts (docs/scheduling.md): two places 0.861 and p99 1,042 ms, eight 0.63 and a
# p99 no better than three's; the p99 left is the host's.
FOREIGN_HEADROOM = 3
# Tries to record a batch of results, 0.5 s apart and doubling (about 15 s in all).
FLUSH_ATTEMPTS = 6
# Telegram counts the messages of the last second. A message arrived before its answer came
# back, so its place in the window is held until this long after the answer (and one not yet
# answered at least this long after its grant).
TELEGRAM_SECOND = 1.0
# A place whose answer never comes (a grant not used for a request) is let go this long after
# it was granted: longer than any request of the bot may take (PTB's defaults: 5 s to connect,
# 5 to write, 5 to read, 1 for the pool; 20 to write a photo).
IN_FLIGHT_LIMIT = 35.0
# While the place that limits the window is still waiting for its answer, look again this soon.
IN_FLIGHT_RECHECK = 0.005


class _Place:
    """One message's place in the window while its request waits for its answer."""

    __slots__ = ("granted", "pacer")

    def __init__(self, pacer: Pacer, granted: float) -> None:
        self.pacer = pacer  # the granting one, which holds it
        self.granted = granted


# The place the current task was granted last, until its request is answered (``answered``).
_current_place: ContextVar[_Place | None] = ContextVar("patientbot_current_place", default=None)


class Pacer:
    """Hand out send instants: ``1 / rate`` apart overall and ``per_chat_interval`` per chat.

    ``acquire`` reserves the earliest free instant and sleeps until it. Reservation happens
    without awaiting, so any number of concurrent senders get distinct, evenly spaced slots.
    ``pause`` (Telegram's RetryAfter) holds every sender until the pause is over.
    """

    def __init__(
        self,
        rate: float,
        *,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        clock: TimeSource = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self.per_chat_interval = per_chat_interval
        self.clock = clock
        self.sleep = sleep
        self.paused_until = -math.inf
        self._reserved: list[float] = []  # sorted instants handed out and not long past
        self._chat_next: dict[int | str, float] = {}
        # The slots keep the schedule even, but a sender the event loop wakes late can land
        # next to one woken on time. The instants really granted are kept too, and no second
        # ever holds more than ``burst`` of them: the budget itself, whole messages. Each place
        # is held until a second after its answer, and Telegram counted the message before
        # that, so the budget is kept at Telegram's end whatever the delays on the way.
        self.burst = max(1, math.floor(rate + 1e-9))
        # Every message granted, prompts and replies alike, whose place is still held: those
        # waiting for their answer (a set in the order granted, as many as requests in flight)
        # and, as a heap, the instants until which the answered ones are (``TELEGRAM_SECOND``
        # after the answer). A grant then looks at what is in flight and at the heap's top,
        # not at every place of the last second: 1,000 of them under paid broadcasts.
        self._in_flight: dict[_Place, None] = {}
        self._answered_until: list[float] = []
        self._replies_waiting = 0
        # Replies granted that no prompt has yet given its slot to. Each one takes the place of
        # the next prompt, so the two together keep the schedule's even spacing: without that,
        # a reply granted beside a prompt packs the window, and the next reply waits for the
        # pair to leave it (up to several intervals when replies keep coming).
        self._replies_owed_a_slot: deque[float] = deque()
        # Until when another instance's messages are expected: one was heard of within the last
        # window (``note_foreign``, ``note_foreign_paced``).
        self._heard_until = -math.inf
        # Whether another instance listens on the database and so shares the budget
        # (``bot.replyshare`` sets it from its count of listeners).
        self.shared = False

    def reserve(self, chat_id: int | str) -> float:
        """Book the earliest instant allowed for this chat; return it."""
        now = self.clock()
        self._forget_before(now - self.interval)
        t = max(now, self.paused_until, self._chat_next.get(chat_id, -math.inf))
        # Slide past every booked instant closer than one interval (they are sorted).
        start = bisect.bisect_left(self._reserved, t - self.interval + 1e-12)
        for booked in self._reserved[start:]:
            if booked >= t + self.interval - 1e-12:
                break
            t = max(t, booked + self.interval)
        bisect.insort(self._reserved, t)
        self._chat_next[chat_id] = t + self.per_chat_interval
        return t

    async def acquire(self, chat_id: int | str) -> float:
        """Wait for this chat's next slot; return the instant it was granted (pacer's clock).

        The place is held until a second after the request's answer (``answered``): a task
        that asks again has had its answer, so its previous place is answered here at the
        latest.
        """
        self.answered()
        while True:
            chat_was_free_at = self._chat_next.get(chat_id)
            slot = self.reserve(chat_id)
            delay = slot - self.clock()
            if delay > 0:
                await self.sleep(delay)
            while (wait := self._prompt_wait()) > 0 and not self.paused:
                await self.sleep(wait)
            # A RetryAfter that arrived while we slept holds us too.
            if self.clock() < self.paused_until:
                continue
            if self._gives_way_to_a_reply():
                # The slot went to the reply; this chat keeps its place for the next one.
                if chat_was_free_at is None:
                    self._chat_next.pop(chat_id, None)
                else:
                    self._chat_next[chat_id] = chat_was_free_at
                continue
            self._hold(self.clock())
            return slot

    async def acquire_reply(self, chat_id: int | str) -> None:
        """Let a reply go now, ahead of every prompt; wait only while the window is full.

        A reply never queues behind the fan-out's reserved slots: it takes the next place in
        the window (at once, or within one interval when prompts fill it), and no prompt is
        granted while a reply waits. Only a RetryAfter, or replies so many that they alone fill
        the window, hold one back longer.
        """
        self.answered()
        self._replies_waiting += 1
        try:
            while True:
                wait = max(self.paused_until - self.clock(), self._window_wait(self._reply_room()))
                if wait <= 0:
                    break
                await self.sleep(wait)
        finally:
            self._replies_waiting -= 1
        now = self.clock()
        self._hold(now)
        self._replies_owed_a_slot.append(now)
        # The same chat's next prompt keeps Telegram's one message a second per chat.
        self._chat_next[chat_id] = max(
            self._chat_next.get(chat_id, -math.inf), now + self.per_chat_interval
        )

    def note_foreign(self, count: int) -> None:
        """Another instance on this database just sent ``count`` replies.

        They count in the window and take prompts' slots, as this instance's own replies do.
        They went out before we heard of them, so while they keep coming a few places in the
        window stay free for those not heard of yet (``FOREIGN_HEADROOM``).
        """
        now = self._count_heard(count)
        self._replies_owed_a_slot.extend([now] * count)

    def answered(self) -> None:
        """The request for the place this task was granted last has its answer (or none is
        coming: the place was not used). Its place is held for ``TELEGRAM_SECOND`` from now.

        A request reaches Telegram some time after its grant (a busy event loop, a slow
        network) and Telegram counts it from then: held only for a second from the grant, a
        request that left late could meet the next second's requests there.
        """
        place = _current_place.get()
        if place is not None:
            place.pacer._settle(place)
        _current_place.set(None)

    def _settle(self, place: _Place) -> None:
        # Once only, and not for a place already let go as never answered.
        if self._in_flight.pop(place, False) is None:
            heapq.heappush(self._answered_until, self.clock() + TELEGRAM_SECOND)

    def _hold(self, now: float) -> None:
        place = _Place(self, now)
        self._in_flight[place] = None
        _current_place.set(place)

    def note_foreign_paced(self, count: int) -> None:
        """The sending instance just sent ``count`` paced messages (prompts and the like).

        They count in the window, so this instance's replies wait for room there instead of
        meeting a 429; they take no prompt's slot (they are the prompts).
        """
        self._count_heard(count)

    def _count_heard(self, count: int) -> float:
        """Hold a place for each of ``count`` messages another instance sent; return now."""
        now = self.clock()
        for _ in range(count):
            heapq.heappush(self._answered_until, now + TELEGRAM_SECOND)
        self._heard_until = now + TELEGRAM_SECOND
        return now

    def sharing(self) -> bool:
        """Whether another instance sends within this budget: it listens, or was just heard."""
        return self.shared or self.clock() < self._heard_until

    def _reply_room(self) -> int:
        """Places a reply may fill: the places prompts leave free are for replies, all but one
        while another instance shares the budget, kept for its messages not heard of yet."""
        return max(1, self.burst - 1) if self.sharing() else self.burst

    def pause(self, seconds: float) -> None:
        """Telegram said to wait: no slot is granted before ``seconds`` from now."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    @property
    def paused(self) -> bool:
        return self.clock() < self.paused_until

    def _prompt_wait(self) -> float:
        """How long a prompt waits for the window; replies waiting for it go first. While
        other instances share the budget, a few places stay free for the replies they may send:
        their replies are heard of only once they went out."""
        room = max(1, self.burst - FOREIGN_HEADROOM) if self.sharing() else self.burst
        wait = self._window_wait(room)
        return max(wait, self.interval) if self._replies_waiting else wait

    def _gives_way_to_a_reply(self) -> bool:
        """Whether a reply granted within about the last interval takes this prompt's slot.

        A reply from longer ago fell in a quiet spell, when there was no prompt to displace,
        or in a burst of replies that filled the window: the window already held the prompts
        back for those, and making them give way as well would leave slots empty. The half
        interval of slack keeps the reply that shares an instant with the previous prompt, and
        a prompt woken a little late, in the reckoning.
        """
        horizon = self.clock() - 1.5 * self.interval
        owed = self._replies_owed_a_slot
        while owed and owed[0] < horizon:
            owed.popleft()
        if not owed:
            return False
        owed.popleft()
        return True

    def _window_wait(self, room: int) -> float:
        """How long until one more grant keeps the places held within ``room``; <= 0: now."""
        now = self.clock()
        answered = self._answered_until
        while answered and answered[0] <= now:
            heapq.heappop(answered)
        in_flight: list[float] = []
        for place in list(self._in_flight):
            if now - place.granted > IN_FLIGHT_LIMIT:
                del self._in_flight[place]  # its answer is not coming: let go
            else:
                # On its way: held at least until it is answered, whenever that is.
                in_flight.append(max(place.granted + TELEGRAM_SECOND, now + IN_FLIGHT_RECHECK))
        held = len(answered) + len(in_flight)
        if held < room:
            return 0.0
        # The grant may come once all but ``room - 1`` of the held places are let go.
        return _kth_smallest(answered, in_flight, held - room) - now

    def _forget_before(self, horizon: float) -> None:
        cut = bisect.bisect_left(self._reserved, horizon)
        if cut:
            del self._reserved[:cut]
        if len(self._chat_next) > 10_000:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > horizon}


def _kth_smallest(heap: list[float], others: list[float], k: int) -> float:
    """The ``k``-th smallest (from 0) of a heap's values and ``others`` together.

    It is among the ``k + 1`` smallest of each, and a heap gives up its smallest ones in
    order without a look at the rest.
    """
    smallest: list[float] = []
    frontier = [(heap[0], 0)] if heap else []
    while frontier and len(smallest) <= k:
        value, index = heapq.heappop(frontier)
        smallest.append(value)
        for child in (2 * index + 1, 2 * index + 2):
            if child < len(heap):
                heapq.heappush(frontier, (heap[child], child))
    return sorted(smallest + others)[k]


class SteppingTime:
    """A clock whose sleep moves it on at once: pacing without waiting (tests, the playground).

    ``Pacer(rate, clock=t.time, sleep=t.sleep)`` keeps every spacing rule on this clock while
    nothing really waits. With concurrent sleepers it runs ahead, never behind, so the gaps it
    shows are never shorter than the pacer's.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass
class SendStats:
    """What one sender run did; ``retried`` counts every retry of a send, whatever the cause."""

    attempts: int = 0
    sent: int = 0
    retried: int = 0
    rate_limited: int = 0
    failed: int = 0
    forbidden: int = 0
    requeued: int = 0
    results: list[SendResult] = field(default_factory=list)


@frozen
class RetryPolicy:
    # Tries of one send against network errors, timeouts and 5xx before it goes back to pending.
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # RetryAfter answers one send may get before it goes back to pending.
    max_rate_limits: int = 5
    # A RetryAfter longer than this ends the run (the rest go back to pending) rather than
    # holding claimed rows while their leases run down.
    max_pause: float = 30.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))


def retry_after_seconds(error: RetryAfter) -> float:
    """RetryAfter's wait in seconds, without PTB's deprecation warning about its type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


SendFunction = Callable[[SendJob], Awaitable[int]]
FlushFunction = Callable[[list[SendResult]], Awaitable[None]]


class Sender:
    """Send jobs through a pacer with a few concurrent workers, and report every result.

    Each result is handed to ``flush`` as soon as the previous flush has finished: what
    arrived meanwhile goes in one transaction (``flush_every`` at most). A kill -9 thus re-sends
    only the messages sent while one small transaction was written, one or two at 30 a second,
    instead of a batch of 50; the price is a transaction every few sends, a few milliseconds
    each. Whatever is left when the run ends, is stopped or is cancelled is flushed too.
    """

    def __init__(
        self,
        pacer: Pacer,
        *,
        workers: int = 8,
        retry: RetryPolicy | None = None,
        flush_every: int = 50,
    ) -> None:
        self.pacer = pacer
        self.workers = workers
        self.retry = retry or RetryPolicy()
        self.flush_every = flush_every

    async def run(
        self,
        jobs: Sequence[SendJob],
        send: SendFunction,
        flush: FlushFunction,
        keep_going: Callable[[], bool] = lambda: True,
    ) -> SendStats:
        run = _Run(self, _interleave(jobs), send, flush, keep_going)
        return await run.go()


async def through_cancels(work: asyncio.Future[None]) -> None:
    """Wait for ``work`` to end however often this task is cancelled meanwhile; then pass the
    cancel on. (``asyncio.shield`` alone gives up waiting at the first cancel.)"""
    cancelled = False
    while not work.done():
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    work.result()


def _interleave(jobs: Sequence[SendJob]) -> deque[SendJob]:
    """Order so a chat's second message comes after everyone's first: no worker idles on it."""
    seen: dict[int, int] = {}
    ranked = []
    for index, job in enumerate(jobs):
        rank = seen.get(job.chat_id, 0)
        seen[job.chat_id] = rank + 1
        ranked.append((rank, index, job))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return deque(job for _, _, job in ranked)


class _Run:
    def __init__(
        self,
        sender: Sender,
        queue: deque[SendJob],
        send: SendFunction,
        flush: FlushFunction,
        keep_going: Callable[[], bool],
    ) -> None:
        self.sender = sender
        self.pacer = sender.pacer
        self.retry = sender.retry
        self.queue = queue
        self.send = send
        self.flush = flush
        self.keep_going = keep_going
        self.stats = SendStats()
        self.buffer: list[SendResult] = []
        self.flush_lock = asyncio.Lock()
        self.blocked_chats: set[int] = set()
        self.halted = False

    async def go(self) -> SendStats:
        try:
            count = max(1, min(self.sender.workers, len(self.queue)))
            await asyncio.gather(*(self._worker() for _ in range(count)))
        finally:
            # Even when cancelled (shutdown), what was sent must be recorded, or it would be
            # sent again after the lease.
            await through_cancels(asyncio.ensure_future(self._flush_all()))
        return self.stats

    async def _worker(self) -> None:
        while self.queue:
            if self.halted or not self.keep_going():
                self._requeue_rest("stopped before sending")
                return
            job = self.queue.popleft()
            result = await self._deliver(job)
            await self._record(result)

    def _requeue_rest(self, why: str) -> None:
        while self.queue:
            result = self._give_up(self.queue.popleft(), why)
            self.stats.results.append(result)
            self.buffer.append(result)

    async def _deliver(self, job: SendJob) -> SendResult:
        attempts = 0
        rate_limits = 0
        while True:
            await self.pacer.acquire(job.chat_id)
            if self.halted:
                self.pacer.answered()  # the place goes unused
                return self._give_up(job, "stopped by a long RetryAfter")
            if job.chat_id in self.blocked_chats:
                # Learnt while this job waited for the chat's next slot.
                self.pacer.answered()
                return SendResult(job.delivery_id, job.kind, Outcome.FORBIDDEN)
            self.stats.attempts += 1
            try:
                message_id = await self.send(job)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                self.pacer.pause(seconds)
                rate_limits += 1
                self.stats.rate_limited += 1
                if seconds > self.retry.max_pause:
                    self.halted = True
                if self.halted or rate_limits > self.retry.max_rate_limits:
                    return self._give_up(job, f"RetryAfter {seconds:g}s")
                self.stats.retried += 1
                continue
            except Forbidden as error:
                self.blocked_chats.add(job.chat_id)
                self._warn("patient blocked the bot", job, error)
                return SendResult(job.delivery_id, job.kind, Outcome.FORBIDDEN, error=str(error))
            except (BadRequest, ChatMigrated) as error:
                # BadRequest subclasses NetworkError but retrying the same request is futile.
                self.stats.failed += 1
                self._warn("Telegram refused the message", job, error, level=logging.ERROR)
                return SendResult(job.delivery_id, job.kind, Outcome.FAILED, error=str(error))
            except NetworkError as error:  # TimedOut, resets, 5xx
                attempts += 1
                if attempts >= self.retry.max_attempts:
                    self._warn("giving up for now, a later scan retries", job, error)
                    return self._give_up(job, str(error))
                self.stats.retried += 1
                await self.pacer.sleep(self.retry.backoff(attempts))
                continue
            except TelegramError as error:
                self._warn("unexpected Telegram error, a later scan retries", job, error)
                return self._give_up(job, str(error))
            except Exception as error:
                # Never lose a claimed delivery to a bug in rendering or elsewhere.
                log.exception(
                    "sending failed",
                    extra={"delivery_id": job.delivery_id, "task_id": job.view.task_id},
                )
                return self._give_up(job, type(error).__name__)
            self.stats.sent += 1
            return SendResult(job.delivery_id, job.kind, Outcome.SENT, message_id=message_id)

    def _give_up(self, job: SendJob, error: str) -> SendResult:
        self.stats.requeued += 1
        return SendResult(job.delivery_id, job.kind, Outcome.RETRY, error=error)

    def _warn(
        self, what: str, job: SendJob, error: Exception, *, level: int = logging.WARNING
    ) -> None:
        log.log(
            level,
            what,
            extra={
                "delivery_id": job.delivery_id,
                "task_id": job.view.task_id,
                "kind": job.kind,
                "error": f"{type(error).__name__}: {error}",
            },
        )

    async def _record(self, result: SendResult) -> None:
        self.stats.results.append(result)
        if result.outcome is Outcome.FORBIDDEN:
            self.stats.forbidden += 1
        self.buffer.append(result)
        # A flush under way takes this result too before it lets go of the lock (nothing
        # awaits between its last look at the buffer and the release).
        if not self.flush_lock.locked():
            await self._flush_all()

    async def _flush_all(self) -> None:
        async with self.flush_lock:
            while self.buffer:
                batch = self.buffer[: self.sender.flush_every]
                del self.buffer[: self.sender.flush_every]
                # The write goes on in its thread whatever happens here. Ending the run (and
                # letting go of the sender lock) before it commits would let another instance
                # reclaim these rows and send them again.
                await through_cancels(asyncio.ensure_future(self._flush(batch)))

    async def _flush(self, batch: list[SendResult]) -> None:
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                await self.flush(batch)
                return
            except Exception as error:
                if is_unavailable(error):
                    # These messages are out: waiting out a short outage to record them
                    # saves every one of them from being sent again after the lease.
                    log.warning(
                        "could not record send results: the database is unavailable (%s)",
                        unavailable_reason(error),
                        extra={"attempt": attempt, "results": len(batch)},
                    )
                else:
                    log.exception("could not record send results", extra={"attempt": attempt})
                if attempt < FLUSH_ATTEMPTS:
                    await self.pacer.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
        # The rows stay claimed: after the lease a scan sends them again (a duplicate at
        # most), which beats losing them.
        log.error(
            "send results not recorded; leases will expire and the rows be reclaimed",
            extra={"delivery_ids": [r.delivery_id for r in batch]},
        )
