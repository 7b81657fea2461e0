"""The pacer spaces sends evenly and per chat; the sender retries and never loses a send."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.sender import Pacer, RetryPolicy, Sender, SteppingTime, retry_after_seconds
from bot.services.delivery import Outcome, SendJob, SendResult
from bot.services.views import PromptView
from tests.flows.test_scheduling_support import VirtualTime

DUE = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def job(delivery_id: int, chat_id: int | None = None) -> SendJob:
    view = PromptView(
        delivery_id=delivery_id,
        chat_id=chat_id if chat_id is not None else 10_000 + delivery_id,
        task_id=1,
        task_title="Perform 20 Press-Ups",
        due_at=DUE,
        zone="Europe/London",
        question_count=3,
        expires_at=DUE + timedelta(hours=24),
    )
    return SendJob("prompt", view)


class FakeTelegram:
    """Answers sends from a script of errors per delivery id; records when each send happened."""

    def __init__(self, vt: VirtualTime, script: dict[int, list[Exception]] | None = None) -> None:
        self.vt = vt
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.sends: list[tuple[float, int, int]] = []  # (time, chat, delivery)
        self.delivered: Counter[int] = Counter()

    async def send(self, job: SendJob) -> int:
        self.sends.append((self.vt.time(), job.chat_id, job.delivery_id))
        errors = self.script.get(job.delivery_id)
        if errors:
            raise errors.pop(0)
        self.delivered[job.delivery_id] += 1
        return 500 + job.delivery_id


class Flushes:
    def __init__(self) -> None:
        self.batches: list[list[SendResult]] = []

    async def __call__(self, results: list[SendResult]) -> None:
        self.batches.append(list(results))

    @property
    def results(self) -> dict[int, SendResult]:
        return {r.delivery_id: r for batch in self.batches for r in batch}


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def sequential_pacer(rate: float) -> tuple[Pacer, Callable[[], float]]:
    """A pacer whose sleep simply moves its clock: enough for one caller at a time."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    return Pacer(rate, clock=lambda: now[0], sleep=sleep), lambda: now[0]


# --- the pacer -------------------------------------------------------------------------------


async def test_slots_are_evenly_spaced_at_the_configured_rate() -> None:
    pacer, _ = sequential_pacer(25)
    slots = [await pacer.acquire(chat) for chat in range(100)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) == pytest.approx(0.04)
    assert max(gaps) == pytest.approx(0.04)


async def test_a_quiet_spell_earns_no_burst_afterwards() -> None:
    pacer, now = sequential_pacer(25)
    await pacer.acquire(1)
    await pacer.sleep(10.0)  # nothing to send for ten seconds
    slots = [await pacer.acquire(chat) for chat in range(2, 12)]
    assert slots[0] == pytest.approx(now() - 9 * 0.04)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) == pytest.approx(0.04), "a token bucket would let these out at once"


async def test_one_chat_gets_at_most_one_message_a_second_while_others_fill_the_gaps() -> None:
    pacer, _ = sequential_pacer(25)
    first = pacer.reserve(7)
    others = [pacer.reserve(chat) for chat in range(100, 110)]
    second = pacer.reserve(7)
    assert second - first == pytest.approx(1.05)
    assert others[0] - first == pytest.approx(0.04), "other chats do not wait for chat 7"


async def test_concurrent_callers_never_share_a_slot(vt: VirtualTime) -> None:
    pacer = Pacer(25, clock=vt.time, sleep=vt.sleep)

    async def caller(chat: int) -> tuple[float, float]:
        slot = await pacer.acquire(chat)
        granted = vt.time()
        # Its request had its answer: an unanswered place stays held (IN_FLIGHT_LIMIT), and
        # every caller past the window's 25 would be let go only when those run out.
        pacer.answered()
        return slot, granted

    taken = await vt.run(asyncio.gather(*(caller(c) for c in range(60))))
    for instants in (sorted(slot for slot, _ in taken), sorted(granted for _, granted in taken)):
        gaps = [b - a for a, b in itertools.pairwise(instants)]
        assert min(gaps) >= 0.04 - 1e-9
        assert instants[-1] - instants[0] == pytest.approx(59 * 0.04)


async def test_a_pause_holds_every_slot_until_it_is_over() -> None:
    pacer, now = sequential_pacer(25)
    start = now()
    await pacer.acquire(1)
    pacer.pause(3.0)
    assert pacer.paused
    slot = await pacer.acquire(2)
    assert slot >= start + 3.0
    assert not pacer.paused


def test_retry_after_is_read_without_a_deprecation_warning() -> None:
    assert retry_after_seconds(RetryAfter(7)) == 7.0
    assert retry_after_seconds(RetryAfter(timedelta(seconds=2))) == 2.0


# --- the sender ------------------------------------------------------------------------------


async def test_every_send_is_paced_evenly_even_with_eight_workers(vt: VirtualTime) -> None:
    telegram = FakeTelegram(vt)
    flushes = Flushes()
    sender = Sender(Pacer(25, clock=vt.time, sleep=vt.sleep))
    stats = await vt.run(sender.run([job(i) for i in range(1, 201)], telegram.send, flushes))
    times = sorted(t for t, _, _ in telegram.sends)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert stats.sent == 200
    assert min(gaps) >= 0.04 - 1e-9
    assert times[-1] - times[0] == pytest.approx(199 * 0.04)
    # No one-second window holds more than the rate.
    assert max(sum(1 for t in times if s <= t < s + 1.0 - 1e-9) for s in times) <= 25


async def test_two_prompts_for_one_chat_go_out_a_second_apart(vt: VirtualTime) -> None:
    telegram = FakeTelegram(vt)
    jobs = [job(1, chat_id=42), job(2, chat_id=42), *(job(i) for i in range(3, 40))]
    await vt.run(
        Sender(Pacer(25, clock=vt.time, sleep=vt.sleep)).run(jobs, telegram.send, Flushes())
    )
    chat_times = [t for t, chat, _ in telegram.sends if chat == 42]
    assert len(chat_times) == 2
    assert chat_times[1] - chat_times[0] >= 1.0
    # The rest did not queue behind the second one.
    assert max(t for t, _, _ in telegram.sends) == pytest.approx(chat_times[0] + 38 * 0.04)


async def test_retry_after_pauses_the_whole_pacer_and_the_send_is_retried(vt: VirtualTime) -> None:
    telegram = FakeTelegram(vt, {5: [RetryAfter(3)]})
    flushes = Flushes()
    stats = await vt.run(
        Sender(Pacer(25, clock=vt.time, sleep=vt.sleep)).run(
            [job(i) for i in range(1, 21)], telegram.send, flushes
        )
    )
    refused_at = next(t for t, _, d in telegram.sends if d == 5)
    after = [t for t, _, _ in telegram.sends if t > refused_at]
    assert min(after) >= refused_at + 3.0, "nobody sends during Telegram's wait"
    assert stats.sent == 20 and stats.retried == 1 and stats.rate_limited == 1
    assert telegram.delivered[5] == 1


async def test_network_errors_and_timeouts_are_retried_with_growing_backoff(
    vt: VirtualTime,
) -> None:
    errors: list[Exception] = [NetworkError("Bad Gateway (502)"), TimedOut(), TimedOut()]
    telegram = FakeTelegram(vt, {1: errors})
    stats = await vt.run(
        Sender(Pacer(25, clock=vt.time, sleep=vt.sleep)).run([job(1)], telegram.send, Flushes())
    )
    times = [t for t, _, _ in telegram.sends]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Backoff 0.5 s, 1 s, 2 s, but never sooner than the chat's next slot (1.05 s).
    assert gaps == pytest.approx([1.05, 1.05, 2.0])
    assert stats.sent == 1 and stats.retried == 3


async def test_a_send_that_keeps_failing_goes_back_to_pending_not_lost(vt: VirtualTime) -> None:
    telegram = FakeTelegram(vt, {1: [NetworkError("Internal Server Error (500)")] * 10})
    flushes = Flushes()
    stats = await vt.run(
        Sender(Pacer(25, clock=vt.time, sleep=vt.sleep), retry=RetryPolicy(max_attempts=3)).run(
            [job(1), job(2)], telegram.send, flushes
        )
    )
    assert flushes.results[1].outcome is Outcome.RETRY
    assert flushes.results[2].outcome is Outcome.SENT
    assert stats.requeued == 1 and len([s for s in telegram.sends if s[2] == 1]) == 3


async def test_bad_request_fails_at_once_and_forbidden_skips_the_chats_other_sends(
    vt: VirtualTime,
) -> None:
    telegram = FakeTelegram(
        vt,
        {
            1: [BadRequest("Bad Request: can't parse entities")],
            2: [Forbidden("Forbidden: bot was blocked by the user")],
        },
    )
    flushes = Flushes()
    jobs = [job(1), job(2, chat_id=77), job(3, chat_id=77), job(4)]
    await vt.run(
        Sender(Pacer(25, clock=vt.time, sleep=vt.sleep)).run(jobs, telegram.send, flushes)
    )
    results = flushes.results
    assert results[1].outcome is Outcome.FAILED and "parse entities" in (results[1].error or "")
    assert results[2].outcome is Outcome.FORBIDDEN
    assert results[3].outcome is Outcome.FORBIDDEN
    assert [d for _, _, d in telegram.sends].count(3) == 0, "no call into a chat that blocked us"
    assert results[4].outcome is Outcome.SENT
    assert len([s for s in telegram.sends if s[2] == 1]) == 1, "a BadRequest is not retried"


async def test_an_unexpected_exception_puts_the_delivery_back(vt: VirtualTime) -> None:
    async def broken(job: SendJob) -> int:
        raise KeyError("a bug")

    flushes = Flushes()
    await vt.run(Sender(Pacer(25, clock=vt.time, sleep=vt.sleep)).run([job(1)], broken, flushes))
    assert flushes.results[1].outcome is Outcome.RETRY


async def test_each_result_is_recorded_as_soon_as_the_previous_record_is_written(
    vt: VirtualTime,
) -> None:
    """A kill -9 re-sends only what was sent but not yet recorded: a few messages, not 50."""
    telegram = FakeTelegram(vt)
    written_at: dict[int, float] = {}
    batches: list[int] = []

    async def slow_flush(results: list[SendResult]) -> None:
        await vt.sleep(0.1)  # one transaction on a slow disk: three sends' time at 30/s
        batches.append(len(results))
        written_at.update((r.delivery_id, vt.time()) for r in results)

    sent_at: dict[int, float] = {}

    async def send(job: SendJob) -> int:
        sent_at[job.delivery_id] = vt.time()
        return await telegram.send(job)

    sender = Sender(Pacer(30, clock=vt.time, sleep=vt.sleep), flush_every=50)
    await vt.run(sender.run([job(i) for i in range(1, 131)], send, slow_flush))
    assert sorted(written_at) == list(range(1, 131))
    unrecorded_at_worst = max(
        sum(1 for other, out in sent_at.items() if out <= t < written_at[other])
        for t in sent_at.values()
    )
    assert unrecorded_at_worst <= 8, unrecorded_at_worst
    assert max(batches) <= 5 and len(batches) < 130, batches


async def test_a_failing_flush_is_retried(vt: VirtualTime) -> None:
    telegram = FakeTelegram(vt)
    seen: list[int] = []
    failures = [RuntimeError("database restarting")]

    async def flaky(results: list[SendResult]) -> None:
        if failures:
            raise failures.pop()
        seen.extend(r.delivery_id for r in results)

    await vt.run(
        Sender(Pacer(25, clock=vt.time, sleep=vt.sleep)).run([job(1)], telegram.send, flaky)
    )
    assert seen == [1]


async def test_stopping_hands_the_unsent_back_and_records_what_was_sent(vt: VirtualTime) -> None:
    telegram = FakeTelegram(vt)
    flushes = Flushes()
    sender = Sender(Pacer(25, clock=vt.time, sleep=vt.sleep), workers=1)
    stop_after = 5
    stats = await vt.run(
        sender.run(
            [job(i) for i in range(1, 21)],
            telegram.send,
            flushes,
            keep_going=lambda: len(telegram.sends) < stop_after,
        )
    )
    outcomes = Counter(r.outcome for r in flushes.results.values())
    assert outcomes == {Outcome.SENT: stop_after, Outcome.RETRY: 20 - stop_after}
    assert stats.requeued == 20 - stop_after


async def test_cancelling_a_run_still_records_what_was_sent(vt: VirtualTime) -> None:
    flushes = Flushes()
    sent = asyncio.Event()

    async def send_then_hang(job: SendJob) -> int:
        if job.delivery_id == 1:
            return 501
        sent.set()
        await asyncio.Event().wait()  # never answers
        return 0

    pacer = Pacer(1000)
    task = asyncio.ensure_future(
        Sender(pacer, workers=2).run([job(1), job(2)], send_then_hang, flushes)
    )
    await asyncio.wait_for(sent.wait(), 1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert flushes.results[1].outcome is Outcome.SENT
    assert 2 not in flushes.results, "unknown outcome: left claimed for release or the lease"


async def test_a_run_cancelled_while_recording_ends_only_once_the_record_is_written() -> None:
    """The record is written in a thread, which a cancel cannot stop: the run must not end
    before it, or the next instance reclaims those rows and sends them a second time."""
    recorded: list[int] = []
    writing = threading.Event()
    may_finish = threading.Event()

    def write(results: list[SendResult]) -> None:
        writing.set()
        may_finish.wait(5)
        recorded.extend(r.delivery_id for r in results)

    async def flush(results: list[SendResult]) -> None:
        await asyncio.to_thread(write, results)

    async def send(job: SendJob) -> int:
        return 500 + job.delivery_id

    task = asyncio.ensure_future(Sender(Pacer(1000), workers=1).run([job(1)], send, flush))
    await asyncio.to_thread(writing.wait, 5)
    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()  # a second one (a shutdown timing out, asyncio.run's teardown) as well
    await asyncio.sleep(0.05)
    ended_before_the_record = task.done()
    may_finish.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ended_before_the_record, "the run ended while its record was still being written"
    assert recorded == [1]


async def test_stepping_time_paces_without_waiting() -> None:
    stepping = SteppingTime()
    pacer = Pacer(25, clock=stepping.time, sleep=stepping.sleep)
    slots = [await pacer.acquire(7) for _ in range(3)]
    assert slots == pytest.approx([0.0, 1.05, 2.1])
    assert stepping.time() == pytest.approx(2.1)
