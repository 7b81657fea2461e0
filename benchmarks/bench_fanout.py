"""Fan-out: N prompts due at one instant, through the real scan, claims and sender.

The bot runs as it does in production: a real Application whose JobQueue runs the due scan
(``bot.scheduler``), claims rows (``bot.services.delivery.scan``), sends through the ``Pacer``
and ``Sender`` and records results (``mark_results``), all on real time. Telegram is the
in-process fake Bot API enforcing L messages a second overall and one a second per chat, with
429 and ``retry_after`` past either. Meanwhile a background task measures the event loop's lag
and another person's /help is processed, to show an interactive reply does not queue behind the
fan-out.

    python -m benchmarks.bench_fanout            # quick: 3,000 patients, L = 300 messages/s
    python -m benchmarks.bench_fanout --full     # 20,000 patients, L = 30/s (about 11 minutes)
    python -m benchmarks.bench_fanout --processes 3 [--kill-halfway]   # issue 22, PostgreSQL

With ``--processes N`` the bot is N real ``patientbot run`` processes in webhook mode on one
PostgreSQL database (``PATIENTBOT_TEST_POSTGRES_URL`` or the local default; a database of its
own, dropped after) behind a round-robin load balancer, against one fake Bot API over HTTP,
while 200 other patients answer a check-in of five questions throughout; see
``benchmarks/fanout_processes.py``. There the budget is raised past 30 with the bots' existing
``paid_broadcast`` switch (``paid_messages_per_second = 29/30 L``).

The pacer runs at the default's share of Telegram's limit, 29/30 L (29 at L = 30). The fake
counts every message in a sliding second, prompts and replies alike; the pacer keeps every
second, as the fake counts it, within its budget whatever the event loop's lateness (each
place is held until a second after its answer), so a reply fits under L. The goal, at least
0.95 L, stays within reach: the most the pacer sends is its budget less the requests' round
trips (``burst / (1 + round trip)``). ``[scheduler] messages_per_second`` is capped at
Telegram's 30, so for L = 300 the scheduler's pacer is replaced by ``Pacer(29/30 L)``; every
other setting is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import logging
import math
import statistics
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from telegram import Update

from benchmarks import fanout_processes
from benchmarks.common import BUDGET_SHARE, machine, percentile, summary, temp_dir
from benchmarks.rows import (
    DELIVERY_COLUMNS,
    Bulk,
    add_group,
    add_patients,
    add_task,
    delivery_row,
    postgres_admin_url,
    postgres_database,
    sqlite_database,
    utc_now,
)
from bot import scheduler
from bot.app import build_application, serving_runtime
from bot.config import Settings
from bot.sender import Pacer
from fakebotapi import FakeBotApi
from storage.db import Database
from storage.models import Delivery, DeliveryStatus

INTERACTIVE_USER = 99_000_000  # plus the probe's number: one chat each (1 message/s per chat)
PROBES = 5
FIRST_USER_ID = 10_000_000


@dataclass(frozen=True)
class Flood:
    """One 429: when, and what the fake's sliding second held just before it."""

    offset: float  # seconds after the scan began
    prompts: int
    replies: int  # interactive replies (unpaced) in that second
    stall: float  # the longest event loop stall in that second


@dataclass(frozen=True)
class FanoutResult:
    patients: int
    limit: float
    pacer_rate: float
    delivered: int
    lost: int
    duplicated: int
    rows_sent: int
    rate_limited: int
    violations: int
    first_send_delay: float  # seconds from the scan's start to the first prompt sent
    span: float  # seconds from the first prompt to the last
    achieved_rate: float
    loop_lag_p99: float
    loop_lag_max: float
    # /help from other people during the fan-out: (prompts sent by then, update in -> reply)
    replies: tuple[tuple[int, float], ...]
    flood: tuple[Flood, ...] = ()

    @property
    def ratio(self) -> float:
        return self.achieved_rate / self.limit

    @property
    def reply_median(self) -> float:
        return statistics.median([s for _, s in self.replies]) if self.replies else math.nan

    @property
    def reply_max(self) -> float:
        return max((s for _, s in self.replies), default=math.nan)


def build(database: Database, patients: int) -> None:
    """One group, one daily task with one question, ``patients`` prompts due now."""
    now = utc_now()
    group_id = add_group(database, "Fan-out", now)
    task_id, _questions = add_task(database, group_id, now)
    bulk = Bulk(database)
    people = add_patients(bulk, group_id, patients, now, first_user_id=FIRST_USER_ID)
    bulk.insert(
        "deliveries",
        DELIVERY_COLUMNS,
        (delivery_row(bulk, person, task_id, person, now) for person in people),
    )


def help_update(update_id: int, user_id: int) -> dict[str, object]:
    user = {"id": user_id, "is_bot": False, "first_name": "Ivy", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Ivy"},
            "from": user,
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def _ask_for_help(application: Any, api: FakeBotApi, probe: int) -> float:
    """Process another person's /help now; return the seconds until its reply was sent."""
    user_id = INTERACTIVE_USER + probe
    asked = time.monotonic()
    await application.process_update(Update.de_json(help_update(probe, user_id), application.bot))
    answered = [c.at for c in api.calls_of("sendMessage") if c.chat_id == user_id and c.ok]
    return (answered[0] if answered else math.inf) - asked


async def _watch_loop(
    lags: list[tuple[float, float]], stop: asyncio.Event, tick: float = 0.010
) -> None:
    """Sleep ``tick`` again and again; how late each wake-up comes is the loop's lag.

    Records (when it woke, monotonic; how late, seconds).
    """
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(tick)
        woke = time.monotonic()
        lags.append((woke, max(0.0, woke - started - tick)))


async def run_fanout(
    folder: Path, patients: int, limit: float, *, rate_fraction: float = BUDGET_SHARE
) -> FanoutResult:
    """Build the rows, run the real bot until every prompt is out, and count what happened."""
    url = sqlite_database(folder / "fanout.db")
    database = Database(url)
    build(database, patients)
    rate = limit * rate_fraction
    settings = Settings.model_validate(
        {"database": {"url": url}, "scheduler": {"messages_per_second": min(rate, 30.0)}}
    )
    api = FakeBotApi(limit_per_second=limit, per_chat_per_second=1)
    application = build_application(settings, request=api, database=database)
    if rate > 30.0:
        scheduler.state(application).pacer = Pacer(rate)
    # Frozen collector and a 1 ms GIL switch interval, as `patientbot run` has them.
    runtime = ExitStack()
    runtime.enter_context(serving_runtime())
    patient_chats = range(FIRST_USER_ID + 1, FIRST_USER_ID + patients + 1)

    ok_sends = 0
    seen = 0

    def count_new() -> int:
        nonlocal ok_sends, seen
        calls = api.calls
        for call in calls[seen:]:
            if call.method == "sendMessage" and call.ok and call.chat_id in patient_chats:
                ok_sends += 1
        seen = len(calls)
        return ok_sends

    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_loop(lags, stop))
    replies: list[tuple[int, float]] = []  # (prompts sent before, seconds to the reply)
    probes = iter(range(1, PROBES + 1))
    probe = next(probes)
    await application.initialize()
    started = time.monotonic()
    await application.start()  # the JobQueue's due scan fires at once (first=0)
    try:
        deadline = started + 3 * patients / rate + 60
        while count_new() < patients and time.monotonic() < deadline:
            if probe and ok_sends >= patients * probe // (PROBES + 1):
                # Someone else writes to the bot in the middle of the fan-out.
                replies.append((ok_sends, await _ask_for_help(application, api, probe)))
                probe = next(probes, 0)
            await asyncio.sleep(0.02)
        # Wait for the scan to record its last results (holding its lock, no tick starts).
        state = scheduler.state(application)
        await asyncio.wait_for(state.lock.acquire(), max(1.0, deadline - time.monotonic()))
        state.lock.release()
    finally:
        stop.set()
        await watcher
        await application.stop()
        await application.shutdown()
        runtime.close()  # a benchmark run inside pytest must not pin the rest of the session

    sends = [
        c for c in api.calls if c.method == "sendMessage" and c.ok and c.chat_id in patient_chats
    ]
    per_chat = Counter(c.chat_id for c in sends)
    with database.session() as session:
        rows_sent = session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(col(Delivery.status) == DeliveryStatus.SENT.value)
        ).one()
    database.dispose()
    first, last = (sends[0].at, sends[-1].at) if sends else (started, started)
    span = last - first
    return FanoutResult(
        patients=patients,
        limit=limit,
        pacer_rate=rate,
        delivered=len(per_chat),
        lost=patients - len(per_chat),
        duplicated=sum(n - 1 for n in per_chat.values()),
        rows_sent=int(rows_sent),
        rate_limited=api.rate_limited,
        violations=len(api.violations),
        first_send_delay=first - started,
        span=span,
        achieved_rate=(len(sends) - 1) / span if span > 0 else 0.0,
        loop_lag_p99=percentile([lag for _, lag in lags], 0.99),
        loop_lag_max=max((lag for _, lag in lags), default=0.0),
        flood=_floods(api, started, lags, patient_chats),
        replies=tuple(replies),
    )


def _floods(
    api: FakeBotApi, started: float, lags: list[tuple[float, float]], patient_chats: range
) -> tuple[Flood, ...]:
    """What the fake's second held before each 429, and how the event loop fared."""
    sends = [c for c in api.calls if c.ok and c.method == "sendMessage"]
    times = [c.at for c in sends]
    floods = []
    for call in api.calls:
        if call.status != 429:
            continue
        window = sends[
            bisect.bisect_right(times, call.at - 1.0) : bisect.bisect_right(times, call.at)
        ]
        prompts = sum(1 for c in window if c.chat_id in patient_chats)
        stall = max(
            (lag for woke, lag in lags if call.at - 1.0 <= woke <= call.at + 0.05), default=0
        )
        floods.append(Flood(call.at - started, prompts, len(window) - prompts, stall))
    return tuple(floods)


def report(result: FanoutResult) -> None:
    r = result
    ms = 1000
    print(f"patients with a prompt due now:   {r.patients:,}")
    print(f"fake Telegram limit L:            {r.limit:g} messages/s overall, 1/s per chat")
    print(f"pacer rate:                       {r.pacer_rate:g}/s ({BUDGET_SHARE:.3f} L)")
    if r.pacer_rate > 30:
        print("  (config caps messages_per_second at Telegram's 30: the scheduler's pacer was "
              "replaced, scheduler.state(app).pacer = Pacer(rate))")  # fmt: skip
    print(f"delivered (chats with a prompt):  {r.delivered:,}")
    print(f"lost:                             {r.lost}")
    print(f"duplicated:                       {r.duplicated}")
    print(f"rows marked sent in the database: {r.rows_sent:,}")
    print(f"429s received:                    {r.rate_limited}")
    for f in r.flood:
        print(f"  429 at +{f.offset:.1f} s: the second before held {f.prompts} prompts, "
              f"{f.replies} replies; loop stalls up to {f.stall * ms:.0f} ms")  # fmt: skip
    print(f"requests the fake refused as bad: {r.violations}")
    print(f"first send after the scan began:  {r.first_send_delay * ms:.0f} ms")
    print(f"first to last send:               {r.span:.2f} s")
    print(f"achieved rate:                    {r.achieved_rate:.1f}/s = {r.ratio:.3f} L")
    print(f"event loop lag (10 ms sleeps):    p99 {r.loop_lag_p99 * ms:.1f} ms, "
          f"max {r.loop_lag_max * ms:.1f} ms")  # fmt: skip
    answers = ", ".join(f"{s * ms:.0f} ms (after {n:,} prompts)" for n, s in r.replies)
    print(f"/help from {len(r.replies)} other people during the fan-out: answered in {answers}")
    goal = r.ratio >= 0.95 and r.rate_limited == 0 and r.lost == 0 and r.duplicated == 0
    print(f"goal (>= 0.95 L, no 429, none lost or duplicated): {'met' if goal else 'NOT met'}")
    summary(
        "fanout",
        f"{r.patients:,} prompts at L={r.limit:g}/s: {r.ratio:.3f} L achieved, "
        f"{r.rate_limited} 429s, {r.lost} lost, {r.duplicated} duplicated, first send "
        f"{r.first_send_delay * ms:.0f} ms after the scan began, loop lag p99 "
        f"{r.loop_lag_p99 * ms:.1f} ms, /help mid-fan-out answered in median "
        f"{r.reply_median * ms:.0f} ms (max {r.reply_max * ms:.0f} ms)",
    )


def report_processes(r: fanout_processes.Result) -> None:
    """One line per figure of issue 22's measurement, goal after each."""
    p, ms = r.plan, 1000
    print(f"processes: {p.processes} x patientbot run (webhook) on one PostgreSQL; "
          f"fake L = {p.limit:g}/s overall, 1/s per chat; bots' budget {p.rate:g}/s")  # fmt: skip
    print(f"prompts due at one instant: {p.prompts:,}; answering patients: {p.answering} x "
          f"{p.questions} questions, think time ~{p.think_seconds:.1f} s")  # fmt: skip
    print(f"prompt rate / (L - reply rate): {r.prompt_rate:.1f} / ({p.limit:g} - "
          f"{r.reply_rate:.1f}) = {r.ratio:.3f} (goal >= 0.95); replies counted by the fake "
          f"{r.reply_sends_rate:.1f}/s, over {r.span:.1f} s of fan-out")  # fmt: skip
    # The bots pace at ``rate``, below L: with replies taking their part first, no pacing can
    # give prompts more than this share of (L - replies), whatever the goal says.
    ceiling = (p.rate - r.reply_rate) / (p.limit - r.reply_rate)
    print(f"  the most the bots' budget allows: ({p.rate:g} - {r.reply_rate:.1f}) / "
          f"({p.limit:g} - {r.reply_rate:.1f}) = {ceiling:.3f}; prompts used "
          f"{r.ratio / ceiling:.3f} of that")  # fmt: skip
    print(f"429s: {r.rate_limited} ({r.rate_limited_chat} for a chat's limit; "
          f"{r.rate_limited_warmup} in the warm-up) (goal 0)")  # fmt: skip
    print(f"prompts lost: {r.lost}, duplicated: {r.duplicated} (goal 0, 0)")
    print(f"reply latency, update POSTed to the bot -> reply at the fake: "
          f"p50 {r.latency(0.5) * ms:.0f} ms, p99 {r.latency(0.99) * ms:.0f} ms over "
          f"{len(r.latencies)} answers (goal p99 <= 50 ms)")  # fmt: skip
    if r.kill is not None:
        k = r.kill
        went_on = "never" if k.continued_after is None else f"{k.continued_after:.2f} s"
        print(f"kill -9 of the sender (bot-{k.instance}) after {k.prompts_before:,} prompts: "
              f"another instance continued after {went_on}; duplicates {r.duplicated} "
              f"(goal <= 3), lost {r.lost} (goal 0)")  # fmt: skip
    print("details:")
    print(f"  first prompt {r.first_prompt_delay:.2f} s after the rows were made due "
          f"(scan interval {p.scan_interval:g} s)")  # fmt: skip
    print(f"  answers typed {r.answers_typed}, stored {r.answers_stored}, stored twice "
          f"{r.answers_duplicated}, next question missing {r.next_missing}")  # fmt: skip
    print(f"  instances that took the sender lock: {', '.join(f'bot-{i}' for i in r.senders)}")
    for name, values in sorted(r.latencies_by_instance.items()):
        p50, p99 = percentile(values, 0.5) * ms, percentile(values, 0.99) * ms
        print(f"  latency via {name} ({r.updates_by_instance.get(name, 0)} updates): "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms")  # fmt: skip
    stages = (("POST -> stored", r.to_store), ("stored -> picked up", r.in_inbox),
              ("picked up -> reply at the fake", r.handling))  # fmt: skip
    print("  latency in stages (p50 / p99): " + "; ".join(
        f"{name} {percentile(v, 0.5) * ms:.0f} / {percentile(v, 0.99) * ms:.0f} ms"
        for name, v in stages
    ) + f"; handled by another instance than the one POSTed to: {r.handled_elsewhere}"
        f" of {len(r.in_inbox)}")  # fmt: skip
    for name, values in sorted(r.in_inbox_by_worker.items()):
        p50, p99 = percentile(values, 0.5) * ms, percentile(values, 0.99) * ms
        print(f"  stored -> picked up by {name}'s worker ({len(values)} updates): "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms")  # fmt: skip
    print(f"  queued at the fake before the POST: p50 {percentile(r.queued, 0.5) * ms:.0f} ms, "
          f"p99 {percentile(r.queued, 0.99) * ms:.0f} ms; webhook POSTs failed "
          f"{r.webhook_failures}")  # fmt: skip
    lag50, lag99 = percentile(r.fake_lag, 0.5) * ms, percentile(r.fake_lag, 0.99) * ms
    print(f"  the fake's own event loop, late from 10 ms sleeps: p50 {lag50:.0f} ms, p99 "
          f"{lag99:.0f} ms, max {max(r.fake_lag, default=0) * ms:.0f} ms")  # fmt: skip
    cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(r.cpu.items()))
    print(f"  CPU during the {r.phase_seconds:.1f} s fan-out phase (2 cores = "
          f"{2 * r.phase_seconds:.0f} s): {cpu}")  # fmt: skip
    print(f"  requests the fake refused as bad: {r.violations} (closing edits repeated: "
          f"{r.edits_repeated}); run took {r.seconds:.0f} s")  # fmt: skip
    for example in r.examples[:12]:
        print(f"  ! {example}")
    kill = ""
    if r.kill is not None:
        went_on = r.kill.continued_after
        kill = f", kill -9 halfway: went on after {went_on or float('nan'):.2f} s"
    summary(
        "fanout_processes",
        f"{p.processes} processes, {p.prompts:,} prompts at L={p.limit:g}/s with "
        f"{p.answering} answering: {r.ratio:.3f} of (L - replies), {r.rate_limited} 429s, "
        f"{r.lost} lost, {r.duplicated} duplicated, reply p50 {r.latency(0.5) * ms:.0f} ms "
        f"p99 {r.latency(0.99) * ms:.0f} ms{kill}",
    )


def run_processes(args: argparse.Namespace, patients: int, limit: float) -> None:
    # The fake's HTTP server logs every 4xx (each 429) as a warning: the report counts them.
    logging.getLogger("tornado.access").setLevel(logging.ERROR)
    admin_url = postgres_admin_url()
    if admin_url is None:
        raise SystemExit("--processes needs PostgreSQL: set PATIENTBOT_TEST_POSTGRES_URL")
    with temp_dir() as folder, postgres_database(admin_url, "_fanout") as url:
        plan = fanout_processes.Plan(
            url,
            folder,
            processes=args.processes,
            prompts=patients,
            answering=args.answering,
            limit=limit,
            kill_halfway=args.kill_halfway,
            scan_interval=args.scan_interval,
            think=args.think,
        )
        result = fanout_processes.run(plan)
    report_processes(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="20,000 patients at L = 30/s")
    parser.add_argument("--patients", type=int, help="override the number of patients")
    parser.add_argument("--limit", type=float, help="override L, messages a second")
    parser.add_argument(
        "--processes", type=int, default=1, help="N >= 2: real bot processes on PostgreSQL"
    )
    parser.add_argument(
        "--kill-halfway", action="store_true", help="with --processes: kill -9 the sender"
    )
    parser.add_argument(
        "--answering", type=int, default=200, help="with --processes: patients answering"
    )
    parser.add_argument(
        "--think", type=float, help="with --processes: seconds per answer (default: spread)"
    )
    parser.add_argument(
        "--scan-interval", type=float, default=5.0, help="with --processes: the bots' scan"
    )
    args = parser.parse_args()
    patients = args.patients or (20_000 if args.full else 3_000)
    limit = args.limit or (30.0 if args.full else 300.0)
    print(f"$ python -m benchmarks.bench_fanout {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    if args.processes >= 2:
        run_processes(args, patients, limit)
        return
    if args.kill_halfway:
        parser.error("--kill-halfway needs --processes N (N >= 2)")
    with temp_dir() as folder:
        result = asyncio.run(run_fanout(folder, patients, limit))
    report(result)


if __name__ == "__main__":
    main()
