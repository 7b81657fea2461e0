"""Fan-outs under fire: injected 429s, 5xx, timeouts and blocked patients; two schedulers at once.

The figures each test prints (run with ``-s``) are the ones quoted in issue #4's closing note.
"""

from __future__ import annotations

import asyncio
import threading
import time as time_module
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from telegram.ext import Application

from bot import replyshare, scheduler
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import DEPS_KEY, BotApplication, BotContext
from bot.scheduler import ScanReport, run_scan
from bot.sender import Pacer
from fakebotapi import (
    FakeBotApi,
    NetworkFault,
    RetryAfterFault,
    ServerError,
    TimeoutFault,
)
from storage.db import FANOUT_LOCK_KEY, REPLIES_CHANNEL, Database, ReplyChannel
from tests.fakes.harness import Harness
from tests.fakes.updates import User
from tests.flows.test_scheduling_support import VirtualTime, World, running_app, virtual_pacer

TODAY = date(2026, 11, 25)
DUE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def telegram(vt: VirtualTime, clock: ManualClock, **faults: object) -> FakeBotApi:
    """The fake with Telegram's own limits: 30 messages a second, one a second per chat."""
    return FakeBotApi(
        time_source=vt.time,
        wall_clock=lambda: clock.now().timestamp(),
        limit_per_second=30,
        per_chat_per_second=1,
        **faults,  # type: ignore[arg-type]
    )


@pytest.fixture
async def faulty(
    settings: Settings, database: Database, clock: ManualClock, vt: VirtualTime
) -> AsyncIterator[Harness]:
    api = telegram(
        vt,
        clock,
        seed=4,
        fault_rate=0.12,
        random_faults=(
            RetryAfterFault(1),
            ServerError(502),
            ServerError(500),
            TimeoutFault(),
            NetworkFault(),
        ),
    )
    harness = await Harness(settings, database, clock, api=api).start()
    scheduler.state(harness.app).pacer = virtual_pacer(settings, vt)
    try:
        yield harness
        assert not harness.api.violations, harness.api.violations
    finally:
        await harness.stop()


async def scan_until_settled(h: Harness, vt: VirtualTime, clock: ManualClock) -> list[ScanReport]:
    """Scan as the job would, every 5 seconds, until nothing is left to send (bounded)."""
    reports: list[ScanReport] = []
    for _ in range(30):
        reports.append(await vt.run(h.scan()))
        statuses = World(h.database, clock).statuses()
        if not statuses.get("pending") and not statuses.get("sending"):
            break
        clock.advance(timedelta(seconds=5))
    return reports


def duplicates(api: FakeBotApi, chats: set[int]) -> int:
    return sum(max(0, len(api.sent_to(chat)) - 1) for chat in chats)


async def test_a_fan_out_with_injected_faults_loses_nothing_and_duplicates_nothing(
    faulty: Harness, vt: VirtualTime, clock: ManualClock, database: Database, backend: str
) -> None:
    h = faulty
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 300)
    blocked = {p.chat_id for p in people[::25] if p.chat_id is not None}  # 12 patients
    for chat in blocked:
        h.api.block(chat)
    # On top of the random 12% faults: an outage at the very start, long enough that some
    # sends use up their tries and go back to pending for the next scan, then flood control.
    h.api.inject("sendMessage", ServerError(503), times=40)
    h.api.inject("sendMessage", RetryAfterFault(2), times=2)
    h.api.inject("sendMessage", TimeoutFault(), times=4)
    task = world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    started = vt.time()

    reports = await scan_until_settled(h, vt, clock)

    rows = world.deliveries(task_id=task)
    statuses = Counter(r.status for r in rows)
    chats = {p.chat_id for p in people if p.chat_id is not None}
    figures = {
        "patients": len(people),
        "blocked": len(blocked),
        "scans": len(reports),
        "claimed": sum(r.claimed for r in reports),
        "sent": statuses["sent"],
        "retried": sum(r.retried for r in reports),
        "requeued": sum(r.requeued for r in reports),
        "failed": statuses["failed"],
        "duplicated": duplicates(h.api, chats),
        "lost": len(rows) - statuses["sent"] - statuses["failed"],
        "faults": dict(h.api.fault_counts),
        "flood_429": h.api.rate_limited,
        "virtual_seconds": round(vt.time() - started, 1),
    }
    print(f"\nfan-out with injected faults [{backend}]: {figures}")

    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["sent"] == len(people) - len(blocked)
    assert figures["failed"] == len(blocked)
    assert figures["retried"] > 0 and figures["requeued"] > 0 and figures["scans"] > 1
    assert all(world.person(p.id).unreachable for p in people if p.chat_id in blocked)  # type: ignore[arg-type]
    assert all(len(h.api.sent_to(chat)) == 1 for chat in chats - blocked)
    assert all(h.api.sent_to(chat) == [] for chat in blocked)


async def test_a_timeout_after_telegram_delivered_costs_one_duplicate_at_most(
    faulty: Harness, vt: VirtualTime, clock: ManualClock, database: Database, backend: str
) -> None:
    """The one duplicate no sender can avoid: the message arrived but the answer was lost."""
    h = faulty
    h.api.fault_rate = 0.0
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 40)
    h.api.inject("sendMessage", TimeoutFault(delivered=True), times=3)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)

    await scan_until_settled(h, vt, clock)

    chats = {p.chat_id for p in people if p.chat_id is not None}
    extra = duplicates(h.api, chats)
    print(f"\ndelivered-then-timed-out sends [{backend}]: 3, duplicate prompts: {extra}")
    assert extra == 3
    assert world.statuses() == {"sent": 40}


async def test_two_schedulers_on_one_database_send_each_prompt_exactly_once(
    settings: Settings,
    database: Database,
    database_url: str,
    clock: ManualClock,
    vt: VirtualTime,
    backend: str,
) -> None:
    # Two processes share one bot, so each takes half of the rate; small batches make their
    # rounds interleave many times.
    shared = settings.model_copy(
        update={
            "scheduler": settings.scheduler.model_copy(
                update={"messages_per_second": 12.0, "scan_batch_size": 20}
            )
        }
    )
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 200)
    task = world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    # Sends that take real time, as Telegram's do: on SQLite a scheduler sending nothing but
    # instant virtual sends would claim its next round at once, again and again, and the
    # other one's busy handler (sleeping up to 100 ms between tries) could miss every gap.
    api = telegram(vt, clock, latency=0.005)
    second = Database(database_url)
    try:
        async with (
            running_app(shared, database, clock, api, vt, instance_id="instance-a") as a,
            running_app(shared, second, clock, api, vt, instance_id="instance-b") as b,
        ):
            report_a, report_b = await vt.run(asyncio.gather(run_scan(a), run_scan(b)))
    finally:
        second.dispose()

    per_chat = Counter(call.chat_id for call in api.calls_of("sendMessage") if call.ok)
    chats = {p.chat_id for p in people}
    figures = {
        "claimed_a": report_a.claimed,
        "claimed_b": report_b.claimed,
        "sent": report_a.sent + report_b.sent,
        "duplicated": sum(n - 1 for n in per_chat.values() if n > 1),
        "lost": len(chats - set(per_chat)),
        "flood_429": api.rate_limited,
    }
    print(f"\ntwo schedulers, one {backend} database: {figures}")
    assert figures["duplicated"] == 0 and figures["lost"] == 0
    # Who claimed how many is the database's race to settle: in service one instance sends at
    # a time (SenderLock; these scans bypass it, as a sender that lost its lock mid-scan
    # would), so what counts is that two at once still send each prompt exactly once.
    assert report_a.claimed + report_b.claimed == 200
    assert world.statuses(task_id=task) == {"sent": 200}
    assert not api.violations


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is one process by design
async def test_two_instances_send_within_one_budget_and_the_survivor_takes_over_the_fan_out(
    settings: Settings,
    database: Database,
    database_url: str,
    clock: ManualClock,
    vt: VirtualTime,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #22: instances on one database share one budget; a dead sender's work passes on."""
    rate = settings.scheduler.send_rate
    lease = settings.scheduler.claim_lease_seconds
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 300)
    task = world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    # No real latency here: on virtual time it would bunch the sends the pacer spread.
    api = telegram(vt, clock)
    second = Database(database_url)

    def kill_the_sender() -> None:
        """What a kill -9 does to the lock: the server sees its connection end.

        pg_terminate_backend only signals the session; on virtual time B's next tick comes
        milliseconds later, so wait until the server has let the lock go, as it has long done
        by the next tick when the scan interval passes for real (a loaded CI machine once
        let B ask first, and B stood by).
        """
        held = text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key"
        )
        with second.engine.connect() as connection:
            connection.execute(
                text(f"SELECT pg_terminate_backend(pid) FROM ({held.text}) AS holder"),
                {"key": FANOUT_LOCK_KEY},
            )
            connection.commit()
            deadline = time_module.monotonic() + 10
            while connection.execute(held, {"key": FANOUT_LOCK_KEY}).first() is not None:
                assert time_module.monotonic() < deadline, "the killed session kept the lock"
                connection.commit()
                time_module.sleep(0.01)

    try:
        async with (
            running_app(settings, database, clock, api, vt, instance_id="instance-a") as a,
            running_app(settings, second, clock, api, vt, instance_id="instance-b") as b,
        ):

            def prompts_sent() -> int:
                return sum(1 for call in api.calls_of("sendMessage") if call.ok)

            async def one_tick(app: BotApplication) -> int:
                before = prompts_sent()
                await scheduler._tick(BotContext(app))  # the JobQueue's repeating tick
                return prompts_sent() - before

            async def until_sent(count: int) -> None:
                while prompts_sent() < count:
                    await vt.sleep(0.05)

            async def b_ticks_while_a_sends() -> bool:
                await until_sent(30)
                await one_tick(b)
                return scheduler.state(b).sender_lock.held

            async def b_ticks_after(seconds: float) -> int:
                await vt.sleep(seconds)  # the lease, on the pacer's clock too
                return await one_tick(b)

            async def a_dies_halfway() -> None:
                sending = asyncio.ensure_future(one_tick(a))
                await until_sent(len(people) // 2)
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)

            # The JobQueue's tick sends only while the Application runs; these are only
            # initialised (and one that runs cannot be shut down).
            with monkeypatch.context() as patched:
                patched.setattr(Application, "running", property(lambda _app: True))
                _, b_took_the_lock = await vt.run(
                    asyncio.gather(a_dies_halfway(), b_ticks_while_a_sends())
                )
                sent_by_a = prompts_sent()
                kill_the_sender()
                clock.advance(timedelta(seconds=lease + 1))  # what a claimed and never sent
                taken_over = await vt.run(b_ticks_after(lease + 1))
    finally:
        second.dispose()

    busiest_second, per_chat = messages_sent(api)
    figures = {
        "sent_by_a_before_it_died": sent_by_a,
        "b_sent_while_a_sent": b_took_the_lock,
        "sent_by_b_after": taken_over,
        "busiest_second": busiest_second,
        "duplicated": sum(n - 1 for n in per_chat.values() if n > 1),
        "lost": len({p.chat_id for p in people} - set(per_chat)),
    }
    print(f"\ntwo instances, one budget [{backend}]: {figures}")
    assert not b_took_the_lock, "one instance sends at a time"
    assert 0 < sent_by_a < len(people), "a died halfway through the fan-out"
    assert taken_over == len(people) - sent_by_a, "b sent the rest, and only the rest"
    assert figures["duplicated"] == 0 and figures["lost"] == 0
    assert busiest_second <= int(rate) + 1, "the instances together stay within the budget"
    assert world.statuses(task_id=task) == {"sent": 300}
    assert api.rate_limited == 0 and not api.violations


async def test_replies_go_out_at_once_during_a_fan_out_and_share_its_budget(
    settings: Settings, database: Database, clock: ManualClock, vt: VirtualTime
) -> None:
    """Issue #22: replies first, prompts take the rest, and the two together stay in budget."""
    h = await Harness(settings, database, clock, api=telegram(vt, clock)).start()
    rate = settings.scheduler.messages_per_second
    waits: list[float] = []

    class WatchedPacer(Pacer):
        """The real pacer; it notes how long each reply waited in it for its place."""

        async def acquire_reply(self, chat_id: int | str) -> None:
            asked = self.clock()
            await super().acquire_reply(chat_id)
            waits.append(self.clock() - asked)

    scheduler.state(h.app).pacer = WatchedPacer(rate, clock=vt.time, sleep=vt.sleep)
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 300)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    askers = [User(900_000 + n, "Walk-in") for n in range(40)]

    async def patients_write_meanwhile() -> None:
        await vt.sleep(1.0)  # the fan-out is under way
        for user in askers:
            await h.command(user, "/help")
            await vt.sleep(0.2)  # five replies a second on top of the fan-out

    try:
        report, _ = await vt.run(asyncio.gather(h.scan(), patients_write_meanwhile()))
    finally:
        await h.stop()

    sends = sorted(c.at for c in h.api.calls_of("sendMessage"))
    busiest_second = max(sum(1 for t in sends if start <= t < start + 1.0) for start in sends)
    print(
        f"\nreplies during a fan-out: {report.sent} prompts, {len(waits)} replies, busiest second "
        f"{busiest_second} messages, reply wait max {max(waits) * 1000:.0f} ms (virtual)"
    )
    assert report.sent == len(people)
    assert all(len(h.api.sent_to(user.id)) == 1 for user in askers)
    assert h.api.rate_limited == 0 and not h.api.violations
    assert busiest_second <= int(rate) + 1, "replies and prompts share one budget"
    # A reply waits at most for the one place the window frees next, never behind the queue
    # of prompts (300 of them at this rate would be ten seconds).
    assert len(waits) == len(askers)
    assert max(waits) <= 2 / rate, waits


async def test_paid_broadcasts_flag_the_prompts_and_raise_their_budget_only_when_turned_on(
    settings: Settings, database: Database, clock: ManualClock, vt: VirtualTime
) -> None:
    paid = settings.model_copy(
        update={
            "scheduler": settings.scheduler.model_copy(
                update={"paid_broadcast": True, "paid_messages_per_second": 200.0}
            )
        }
    )
    api = FakeBotApi(time_source=vt.time, wall_clock=lambda: clock.now().timestamp())
    h = await Harness(paid, database, clock, api=api).start()
    assert scheduler.state(h.app).pacer.rate == 200.0
    scheduler.state(h.app).pacer = virtual_pacer(paid, vt)
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 400)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    walk_in = User(910_000, "Walk-in")
    try:
        started = vt.time()
        report = await vt.run(h.scan())
        took = vt.time() - started
        await vt.run(h.command(walk_in, "/help"))
    finally:
        await h.stop()

    prompts = [c for c in h.api.calls_of("sendMessage") if c.chat_id != walk_in.id]
    assert report.sent == len(people) == len(prompts)
    assert all(c.params.get("allow_paid_broadcast") is True for c in prompts)
    (reply,) = h.api.sent_to(walk_in.id)
    assert "allow_paid_broadcast" not in reply.params, "a reply is free: never paid for"
    assert took < len(people) / 30, "faster than Telegram's free 30 a second"


async def test_prompts_are_not_paid_broadcasts_by_default(
    settings: Settings, database: Database, clock: ManualClock, vt: VirtualTime
) -> None:
    h = await Harness(settings, database, clock, api=telegram(vt, clock)).start()
    assert not settings.scheduler.paid_broadcast
    assert scheduler.state(h.app).pacer.rate == settings.scheduler.messages_per_second <= 30
    scheduler.state(h.app).pacer = virtual_pacer(settings, vt)
    world = World(database, clock)
    world.patients(group := world.group(), 5)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    try:
        assert (await vt.run(h.scan())).sent == 5
    finally:
        await h.stop()
    assert all("allow_paid_broadcast" not in c.params for c in h.api.calls_of("sendMessage"))


async def a_fan_out_beside_another_instance(
    settings: Settings, database: Database, database_url: str, clock: ManualClock
) -> tuple[FakeBotApi, list[Any], Database, Harness, Harness]:
    """90 prompts due; instances A and B on one database (B on a second engine), on real time
    against one fake Bot API that answers 429 past 30 messages a second and 1 a chat."""
    api = FakeBotApi(
        wall_clock=lambda: clock.now().timestamp(), limit_per_second=30, per_chat_per_second=1
    )
    world = World(database, clock)
    group = world.group()
    people = world.patients(group, 90)
    world.task(group, (TODAY, time(10, 0)))
    clock.set(DUE)
    second = Database(database_url)
    a = await Harness(settings, database, clock, api=api).start()
    b = await Harness(settings, second, clock, api=api).start()
    for h in (a, b):
        scheduler.state(h.app).pacer = Pacer(settings.scheduler.send_rate)  # as in production
    return api, people, second, a, b


def messages_sent(api: FakeBotApi) -> tuple[int, Counter[Any]]:
    """The most messages the fake accepted within one second, and how many went to each chat."""
    sends = sorted(c.at for c in api.calls_of("sendMessage") if c.ok)
    busiest_second = max(sum(1 for t in sends if start <= t < start + 1.0) for start in sends)
    return busiest_second, Counter(c.chat_id for c in api.calls_of("sendMessage") if c.ok)


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is one process by design
async def test_the_sending_instance_hears_the_other_instances_replies_and_makes_room_for_them(
    settings: Settings,
    database: Database,
    database_url: str,
    clock: ManualClock,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #22: B's replies count in A's budget while A sends the fan-out.

    On real time: the announcement travels through PostgreSQL's NOTIFY. Without it A would
    send prompts at the full budget and B's replies on top (35 a second): 429s.
    """
    api, people, second, a, b = await a_fan_out_beside_another_instance(
        settings, database, database_url, clock
    )
    askers = [User(900_000 + n, "Walk-in") for n in range(15)]

    async def patients_write_to_b() -> None:
        await asyncio.sleep(0.5)  # the fan-out is under way, and A listens
        for user in askers:
            await b.command(user, "/help")
            await asyncio.sleep(0.15)

    try:
        with monkeypatch.context() as patched:
            # The JobQueue's tick sends only while the Application runs.
            patched.setattr(Application, "running", property(lambda _app: True))
            await asyncio.gather(scheduler._tick(BotContext(a.app)), patients_write_to_b())
        heard = scheduler.state(a.app).replies.heard
        b_announced_while_sending = scheduler.state(b.app).sender_lock.held
    finally:
        await b.stop()
        await a.stop()
        listening_after_shutdown = [t for t in threading.enumerate() if t.name == "hear-replies"]
        second.dispose()

    busiest_second, per_chat = messages_sent(api)
    print(
        f"\nA's fan-out with B's replies: {sum(per_chat.values())} messages, {heard} replies"
        f" heard, busiest second {busiest_second}, {api.rate_limited} x 429"
    )
    assert not b_announced_while_sending
    assert not listening_after_shutdown, "shutting A down stops its listening thread"
    assert heard == len(askers), "A heard of every reply B sent"
    assert all(per_chat[user.id] == 1 for user in askers), "each walk-in got their answer"
    assert all(per_chat[p.chat_id] == 1 for p in people), "each patient got one prompt"
    assert api.rate_limited == 0 and not api.violations
    assert busiest_second <= 30, "the two instances together stay within Telegram's limit"


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is one process by design
async def test_a_standby_hears_the_prompts_and_its_burst_of_replies_waits_for_room(
    settings: Settings,
    database: Database,
    database_url: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #22: everyone pressing Start at once on B while A sends the fan-out.

    A leaves a few places free for replies it has not heard of yet, not fifteen. B hears A's
    prompts (announced as A's replies are) and its replies wait for room in the window instead
    of going on top of A's: before, that burst met 429s at the fake.
    """
    monkeypatch.setattr(replyshare, "RECOUNT_SECONDS", 0.0)  # A counts B at once
    api, people, second, a, b = await a_fan_out_beside_another_instance(
        settings, database, database_url, clock
    )
    askers = [User(920_000 + n, "Walk-in") for n in range(15)]

    async def until(condition: Callable[[], bool]) -> None:
        deadline = time_module.monotonic() + 10
        while not condition():
            assert time_module.monotonic() < deadline, "waited 10 s in vain"
            await asyncio.sleep(0.01)

    async def b_stands_by_then_everyone_writes() -> None:
        await until(lambda: scheduler.state(a.app).sender_lock.held)  # A sends
        await scheduler._tick(BotContext(b.app))  # B stands by, and listens from now on
        await until(lambda: scheduler.state(b.app).replies.heard_paced >= 29)  # a full window
        await asyncio.gather(*(b.command(user, "/help") for user in askers))

    try:
        with monkeypatch.context() as patched:
            patched.setattr(Application, "running", property(lambda _app: True))
            await asyncio.gather(
                scheduler._tick(BotContext(a.app)), b_stands_by_then_everyone_writes()
            )
        heard_prompts = scheduler.state(b.app).replies.heard_paced
        heard_replies = scheduler.state(a.app).replies.heard
    finally:
        await b.stop()
        await a.stop()
        second.dispose()

    busiest_second, per_chat = messages_sent(api)
    print(
        f"\nB heard {heard_prompts} of A's prompts, A heard {heard_replies} of B's replies;"
        f" busiest second {busiest_second}, {api.rate_limited} x 429"
    )
    assert heard_prompts >= 30, "B heard of A's prompts while they went out"
    assert all(per_chat[user.id] == 1 for user in askers), "each walk-in got their answer"
    assert all(per_chat[p.chat_id] == 1 for p in people), "each patient got one prompt"
    assert api.rate_limited == 0 and not api.violations
    assert busiest_second <= 30, "the two instances together stay within Telegram's limit"


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is one process by design
async def test_an_instance_announces_its_replies_only_while_another_listens(
    settings: Settings,
    database: Database,
    database_url: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Alone on its database an instance pays no round trip per reply; beside another it does."""
    monkeypatch.setattr(replyshare, "RECOUNT_SECONDS", 0.0)  # count before every announcement

    def nobody_listens_yet() -> bool:
        # The per-worker database is shared by the tests in turn: a listener of an earlier
        # test may take a moment to leave pg_stat_activity.
        deadline = time_module.monotonic() + 5
        while ReplyChannel(database).others_listening():
            if time_module.monotonic() > deadline:
                return False
            time_module.sleep(0.05)
        return True

    assert await asyncio.to_thread(nobody_listens_yet), "another listener is left on the database"
    # An observer without the listeners' name: it hears every announcement and counts as none.
    observer = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"))
    observer.autocommit = True
    observer.execute(f"LISTEN {REPLIES_CHANNEL}")

    def announced(replies: int, seconds: float) -> list[str]:
        """What the observer hears in ``seconds``, or until ``replies`` were announced (in a
        thread: the bot's event loop goes on announcing meanwhile)."""
        heard: list[str] = []
        deadline = time_module.monotonic() + seconds
        while (left := deadline - time_module.monotonic()) > 0:
            heard += [notice.payload for notice in observer.notifies(timeout=left, stop_after=1)]
            if replies and sum(int(p.split()[0]) for p in heard) >= replies:
                break
        return heard

    h = await Harness(settings, database, clock).start()
    second = Database(database_url)
    other = ReplyChannel(second)
    stop = threading.Event()
    started = threading.Event()

    def listen() -> None:
        other.listen(lambda *_: None, lambda: started.set() or stop.is_set())

    listening = threading.Thread(target=listen)
    try:
        for n in range(3):
            await h.command(User(910_000 + n, "Walk-in"), "/help")
        alone = await asyncio.to_thread(announced, 0, 0.5)
        listening.start()
        # Asked first once it listens under its name.
        assert await asyncio.to_thread(started.wait, 5)
        for n in range(3, 6):
            await h.command(User(910_000 + n, "Walk-in"), "/help")
        beside = await asyncio.to_thread(announced, 3, 5.0)
    finally:
        stop.set()
        if listening.is_alive():
            await asyncio.to_thread(listening.join)
        await h.stop()
        second.dispose()
        observer.close()
    assert alone == [], "alone, it announced its replies to nobody"
    instance = h.app.bot_data[DEPS_KEY].instance_id
    assert beside and all(p.endswith(f" {instance}") for p in beside), beside
    assert sum(int(p.split()[0]) for p in beside) == 3, "the three replies sent beside another"
