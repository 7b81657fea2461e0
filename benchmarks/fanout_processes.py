"""Fan-out across several real ``patientbot run`` processes on one PostgreSQL (issue 22).

Shared by ``python -m benchmarks.bench_fanout --processes N`` (which prints the figures) and
``tests/hardening/test_fanout_processes.py`` (which asserts what a patient would notice).

The set-up is a deployment's: N bot processes in webhook mode on one database, behind one load
balancer (the fake's ``WebhookPusher.spread``: round-robin per update, an instance that does not
answer is left out for a while), against one fake Bot API over HTTP (``fakebotapi.server``) that
answers 429 with ``retry_after`` past L messages in any sliding second, summed over every
process, and past one a second into one chat.

1. Warm-up: A answering patients each get a check-in prompt of Q text questions from the bots'
   own due scan, wait a second (the chat's limit), press Start, and have question 1 on screen.
2. Fan-out: P prompts are inserted, all due at one instant; the next scan of whichever
   instance holds the sender lock sends them. Meanwhile the A patients answer throughout: each
   types the answer to the question on their screen a think time after it arrived (spread so
   the answering lasts about as long as the fan-out), and waits for the next question.
3. Optionally, once half the prompts went out, the instance whose claims are being sent (the
   one whose sends dominate) is killed with SIGKILL; the others carry on.
4. Once every prompt is out and every patient has answered every question (or a deadline), the
   run settles until no prompt is pending or being sent and every answer typed is stored
   (after a kill, updates the dead worker had claimed wait out the inbox lease, 10 s), and
   the living bots are stopped.

Measured from the fake's record (one clock: the fake serves from a thread of this process):
prompts per chat (lost, duplicated), the prompt rate and the replies' rate over the fan-out,
429s, and each answer's latency from the POST of its update to the bot until the bot's reply
reached the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, text
from sqlmodel import col, select

from benchmarks.common import BUDGET_SHARE, percentile
from benchmarks.crash import (
    FIRST_CHAT,
    PUBLIC_URL,
    BotRunner,
    Patients,
    Scenario,
    answer_text,
    question_marker,
    seed_checkins,
    start_checkins,
    stored_answers,
    wait_until,
)
from benchmarks.rows import Bulk, add_group, add_patients, add_task, utc_now
from fakebotapi import ApiCall, FakeBotApi
from fakebotapi.server import RunningServer, serve_in_thread
from storage.db import Database
from storage.models import Delivery, DeliveryStatus, InboxUpdate, Membership, Person

FANOUT_FIRST_USER = 10_000_000  # fan-out patients' chats are FANOUT_FIRST_USER + 1, + 2, ...
# Messages the bot sends into a chat (the fake counts the first group against its limits;
# edits it does not, but the bot's pacer gives them a slot all the same).
_COUNTED = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendVideo", "sendMediaGroup"})
_REPLIES = _COUNTED | {"editMessageText", "editMessageReplyMarkup"}
# Telegram's limit per chat is one message a second: a patient answers no sooner after the
# question arrived, or the reply itself would meet the chat's limit.
MIN_THINK = 1.2
# [inbox] claim_lease_seconds in the default config.
INBOX_LEASE = 10.0


@dataclass(frozen=True)
class Plan:
    database_url: str
    workdir: Path
    processes: int = 3
    prompts: int = 3_000
    answering: int = 200
    limit: float = 300.0
    kill_halfway: bool = False
    scan_interval: float = 5.0
    # Seconds from a question arriving to its answer (on average); None: the answering
    # lasts about as long as the fan-out is expected to.
    think: float | None = None
    seed: int = 0
    # Two kills' worth of questions in benchmarks.crash's reckoning: 5 text questions.
    kills_for_questions: tuple[str, ...] = ("received", "replied")

    @property
    def rate(self) -> float:
        return self.limit * BUDGET_SHARE

    @property
    def questions(self) -> int:
        return 2 * len(self.kills_for_questions) + 1

    @property
    def think_seconds(self) -> float:
        if self.think is not None:
            return max(MIN_THINK, self.think)
        return max(MIN_THINK, self.prompts / self.rate / self.questions)

    def config(self) -> str:
        """The bots' config: the defaults, with the budget at ``BUDGET_SHARE`` of L (the default
        at L = 30).

        ``messages_per_second`` is capped at Telegram's 30; above it the bots' existing switch
        for Telegram's paid broadcasts raises the budget (prompts then carry
        ``allow_paid_broadcast``, which the fake ignores; replies share the same budget).
        """
        lines = ["[scheduler]", f"scan_interval_seconds = {self.scan_interval}"]
        if self.rate <= 30:
            lines.append(f"messages_per_second = {self.rate}")
        else:
            lines += ["paid_broadcast = true", f"paid_messages_per_second = {self.rate}"]
        lines += ["", "[logging]", 'format = "json"', ""]
        return "\n".join(lines)


@dataclass(frozen=True)
class Kill:
    pid: int
    instance: int  # index among the processes
    at: float  # monotonic, once the process was gone
    prompts_before: int
    continued_after: float | None  # seconds from the kill to the next prompt sent


@dataclass
class Result:
    plan: Plan
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    first_prompt_delay: float = 0.0  # from the insert of the due rows to the first prompt
    span: float = 0.0  # first prompt to last
    prompt_rate: float = 0.0
    reply_rate: float = 0.0  # messages into the answering chats during the span
    reply_sends_rate: float = 0.0  # of which counted by the fake (sendMessage)
    rate_limited: int = 0  # 429s in the fan-out phase
    rate_limited_chat: int = 0  # of which for a chat's limit (a message into it < 1 s before)
    rate_limited_warmup: int = 0
    violations: int = 0
    # Of which editMessageText to the text already shown ("message is not modified"): the
    # screen does not change. The scan's housekeeping (bot.closing.close_due) and the handler
    # of a check-in's last answer (close_chat_now) read the same closed check-in's messages
    # without a claim, so both may edit them; more often with several processes.
    edits_repeated: int = 0
    # Seconds from the POST of an answer's update to the bot's reply reaching the fake.
    latencies: list[float] = field(default_factory=list)
    # Seconds from the answer being queued at the fake to its POST (the fake's own queue).
    queued: list[float] = field(default_factory=list)
    # The latency in stages, from the bots' inbox rows (bot clock = this host's): POST -> the
    # webhook began storing it (received_at); -> a worker began handling it (handled_at);
    # -> its reply reached the fake. And how many were handled by another instance than the
    # one the load balancer gave them to (any worker claims any chat's oldest update).
    to_store: list[float] = field(default_factory=list)
    in_inbox: list[float] = field(default_factory=list)
    handling: list[float] = field(default_factory=list)
    handled_elsewhere: int = 0
    # stored -> picked up, by the instance whose worker picked the update up.
    in_inbox_by_worker: dict[str, list[float]] = field(default_factory=dict)
    pids: list[int | None] = field(default_factory=list)
    answers_typed: int = 0
    answers_stored: int = 0
    answers_duplicated: int = 0
    # Answers to question q < Q after which question q + 1 never arrived.
    next_missing: int = 0
    updates_by_instance: dict[str, int] = field(default_factory=dict)
    webhook_failures: int = 0
    # Latencies by the instance that was handed the update ("bot-0" ...), and the instances
    # that logged taking the sender lock.
    latencies_by_instance: dict[str, list[float]] = field(default_factory=dict)
    senders: list[int] = field(default_factory=list)
    # CPU seconds spent during the fan-out phase, by process ("bot-0" ..., "postgres", and
    # "fake+patients": this process, which serves the fake and plays the patients), and the
    # phase's wall seconds.
    cpu: dict[str, float] = field(default_factory=dict)
    phase_seconds: float = 0.0
    # How late the fake's own event loop woke from 10 ms sleeps during the fan-out: its
    # requests and webhook POSTs wait as long (the harness's share of every latency).
    fake_lag: list[float] = field(default_factory=list)
    kill: Kill | None = None
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        spare = self.plan.limit - self.reply_rate
        return self.prompt_rate / spare if spare > 0 else float("nan")

    def latency(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)


class _Reader:
    """Reads the fake's calls as they are answered, once each (the fake appends a call before
    answering it, so reading stops at the first still unanswered)."""

    def __init__(self, api: FakeBotApi, plan: Plan) -> None:
        self.api = api
        self.plan = plan
        self.seen = 0
        self.prompt_chats = range(FANOUT_FIRST_USER + 1, FANOUT_FIRST_USER + plan.prompts + 1)
        self.prompts: list[float] = []  # when each fan-out prompt went out
        self.prompted: set[int] = set()
        # chat -> (position, arrived at, message id) of the latest question shown
        self.question: dict[int, tuple[int, float, int]] = {}

    def read(self) -> None:
        calls = self.api.calls
        end = len(calls)
        index = self.seen
        while index < end:
            call = calls[index]
            if call.status is None:
                break
            index += 1
            if not call.ok or call.method != "sendMessage" or not isinstance(call.chat_id, int):
                continue
            if call.chat_id in self.prompt_chats:
                self.prompts.append(call.at)
                self.prompted.add(call.chat_id)
            elif call.chat_id >= FIRST_CHAT and isinstance(call.text, str):
                for position in range(self.plan.questions, 0, -1):
                    if question_marker(position) in call.text:
                        self.question[call.chat_id] = (
                            position,
                            call.at,
                            int(call.result["message_id"]),
                        )
                        break
        self.seen = index


async def _watch_loop(lags: list[float], stop: threading.Event, tick: float = 0.010) -> None:
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(tick)
        lags.append(max(0.0, time.monotonic() - started - tick))


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if stat.read_text().strip() == "postgres":
                pids.append(int(stat.parent.name))
    return pids


def _cpu_snapshot(runners: list[BotRunner]) -> dict[str, float]:
    snapshot = {
        f"bot-{index}": _cpu_seconds(runner.pid)
        for index, runner in enumerate(runners)
        if runner.process is not None
    }
    snapshot["postgres"] = sum(_cpu_seconds(pid) for pid in _postgres_pids())
    times = os.times()
    snapshot["fake+patients"] = times.user + times.system
    return snapshot


def _build_fanout_group(database: Database, prompts: int) -> tuple[int, list[int]]:
    """The fan-out's group, daily task and patients (no prompt due yet): task id, person ids."""
    now = utc_now()
    group_id = add_group(database, "Fan-out", now)
    task_id, _questions = add_task(database, group_id, now)
    with database.read_session() as session:
        after = max(
            int(session.exec(select(func.coalesce(func.max(Person.id), 0))).one()),
            int(session.exec(select(func.coalesce(func.max(Membership.id), 0))).one()),
        )
    people = add_patients(
        Bulk(database), group_id, prompts, now, first_user_id=FANOUT_FIRST_USER, after_id=after
    )
    return task_id, people


def _make_due(database: Database, task_id: int, people: list[int]) -> None:
    """Every fan-out patient's prompt due now (ids from the sequence: the bots insert too)."""
    now = utc_now()
    with database.session() as session:
        session.execute(
            insert(Delivery),
            [
                {
                    "task_id": task_id,
                    "person_id": person,
                    "due_at": now,
                    "expires_at": now + timedelta(days=1),
                    "status": DeliveryStatus.PENDING.value,
                    "current_tries": 0,
                    "reminders_sent": 0,
                    "send_attempts": 0,
                }
                for person in people
            ],
        )
        session.commit()
        if not database.is_sqlite:
            session.execute(text("ANALYZE deliveries"))
            session.commit()


def _open_prompts(database: Database, task_id: int) -> int:
    """Fan-out rows due now that are not sent yet (pending, or claimed and being sent)."""
    open_states = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)
    with database.read_session() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Delivery)
                .where(
                    col(Delivery.task_id) == task_id,
                    col(Delivery.status).in_(open_states),
                    col(Delivery.due_at) <= utc_now(),
                )
            ).one()
        )


def _sender_pid(database: Database) -> int | None:
    """The process whose claims are being sent now (``claimed_by`` is host:pid:random)."""
    with database.read_session() as session:
        rows = session.exec(
            select(Delivery.claimed_by, func.count())
            .where(col(Delivery.status) == DeliveryStatus.SENDING.value)
            .group_by(col(Delivery.claimed_by))
            .order_by(func.count().desc())
        ).all()
    for claimed_by, _count in rows:
        parts = str(claimed_by or "").split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            return int(parts[1])
    return None


def _warm_up(api: FakeBotApi, patients: Patients) -> None:
    """Every answering patient has their prompt, pressed Start, and sees question 1."""
    # The chat's limit: the press's reply comes a second after the prompt.
    start_checkins(api, patients, pause_before_pressing=1.1)
    time.sleep(MIN_THINK)  # no answer comes sooner after its question than a later one does


def run(plan: Plan) -> Result:
    """Run the plan end to end; every bot is stopped or killed when this returns."""
    if plan.processes < 1:
        raise ValueError("at least one process")
    started = time.monotonic()
    rng = random.Random(plan.seed)
    database = Database(plan.database_url)
    result = Result(plan)
    api = FakeBotApi(limit_per_second=plan.limit, per_chat_per_second=1, poll_wait_cap=0.2)
    runners: list[BotRunner] = []
    try:
        if plan.answering:
            seed_checkins(database, plan.answering, plan.questions)
        task_id, people = _build_fanout_group(database, plan.prompts)
        with serve_in_thread(api) as server:
            runners = _runners(plan, server)
            with ThreadPoolExecutor(max_workers=len(runners)) as pool:
                list(pool.map(lambda runner: runner.start(), runners))
            scenario = Scenario(
                plan.database_url,
                plan.workdir,
                mode="webhook",
                patients=plan.answering,
                kills=plan.kills_for_questions,
            )
            result.pids = [r.process.pid if r.process else None for r in runners]
            patients = Patients(api, scenario)
            _warm_up(api, patients)
            warm_calls = len(api.calls)
            result.rate_limited_warmup = api.rate_limited
            watching = threading.Event()
            lag = None
            if server.loop is not None:
                lag = asyncio.run_coroutine_threadsafe(
                    _watch_loop(result.fake_lag, watching), server.loop
                )
            try:
                pushed = _fan_out(
                    plan, api, database, task_id, people, patients, runners, rng, result
                )
            finally:
                watching.set()
                if lag is not None:
                    lag.result(5)
            _measure(plan, api, server, database, patients, pushed, warm_calls, result)
            result.senders = [
                index
                for index, runner in enumerate(runners)
                if any(
                    "now sends the due prompts" in log.read_text("utf-8", errors="replace")
                    for log in runner.workdir.glob("bot-*.log")
                )
            ]
            for index, runner in enumerate(runners):
                if result.kill is not None and result.kill.instance == index:
                    continue
                code = runner.stop()
                if code != 0:
                    result.examples.append(f"instance {index} stopped with exit code {code}")
    finally:
        for runner in runners:
            runner.kill_now()
        database.dispose()
    result.seconds = time.monotonic() - started
    return result


def _runners(plan: Plan, server: RunningServer) -> list[BotRunner]:
    runners = []
    for index in range(plan.processes):
        workdir = plan.workdir / f"bot-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        runner = BotRunner(Scenario(plan.database_url, workdir, mode="webhook"), server)
        (workdir / "config.toml").write_text(plan.config(), encoding="utf-8")
        runners.append(runner)
    server.webhooks.spread(
        PUBLIC_URL,
        [f"http://127.0.0.1:{r.env['TELEGRAM_WEBHOOK_PORT']}/telegram" for r in runners],
    )
    return runners


def _fan_out(
    plan: Plan,
    api: FakeBotApi,
    database: Database,
    task_id: int,
    people: list[int],
    patients: Patients,
    runners: list[BotRunner],
    rng: random.Random,
    result: Result,
) -> dict[int, tuple[int, float]]:
    """Make the prompts due, answer throughout, kill halfway if asked; update id -> (chat,
    queued at) of every answer pushed."""
    reader = _Reader(api, plan)
    reader.seen = len(api.calls)
    think = plan.think_seconds
    answered: dict[int, int] = dict.fromkeys(patients.chats, 0)  # chat -> last position answered
    due_at: dict[int, float] = {}  # chat -> when to type the answer to the question on screen
    pushed: dict[int, tuple[int, float]] = {}
    cpu_before = _cpu_snapshot(runners)
    inserted = time.monotonic()
    _make_due(database, task_id, people)
    for chat in patients.chats:  # question 1 is on every screen: spread the first answers
        due_at[chat] = inserted + rng.uniform(0, think)
    expected = plan.prompts / plan.rate
    deadline = inserted + 3 * expected + plan.scan_interval + 90
    killed_at_half = not plan.kill_halfway
    while time.monotonic() < deadline:
        time.sleep(0.005)
        reader.read()
        now = time.monotonic()
        batch = []
        for chat in patients.chats:
            shown = reader.question.get(chat)
            if chat not in due_at and shown is not None and shown[0] > answered[chat]:
                # The next question arrived: the answer comes a think time later.
                due_at[chat] = shown[1] + max(MIN_THINK, rng.uniform(0.5, 1.5) * think)
            when = due_at.get(chat)
            if when is None or when > now:
                continue
            position = answered[chat] + 1
            del due_at[chat]
            answered[chat] = position
            batch.append(patients.message(chat, answer_text(chat, position), position))
        if batch:
            queued = time.monotonic()
            for update in api.push_updates(batch):
                pushed[int(update["update_id"])] = (int(update["message"]["chat"]["id"]), queued)
        if not killed_at_half and len(reader.prompted) >= plan.prompts // 2:
            killed_at_half = True
            result.kill = _kill_sender(database, runners, reader, result)
        if len(reader.prompted) >= plan.prompts and _all_answered(answered, plan):
            break
    cpu_after = _cpu_snapshot(runners)
    result.phase_seconds = time.monotonic() - inserted
    result.cpu = {
        name: cpu_after.get(name, 0.0) - before
        for name, before in cpu_before.items()
        if cpu_after.get(name, 0.0) >= before
    }
    # Settle: what is still claimed (a killed sender's rows after their lease) goes out.
    _settle(
        lambda: _open_prompts(database, task_id) == 0,
        max(1.0, deadline - time.monotonic()),
        "every prompt sent",
        result,
    )
    # Updates a killed instance's worker had claimed wait out the inbox lease (10 s by
    # default) unless it restarts on the same host; nobody restarts it here.
    typed = {t.text for t in patients.typed if t.position is not None}
    _settle(
        lambda: typed <= {text for _, _, text in stored_answers(database)},
        INBOX_LEASE + 15.0 if result.kill is not None else 15.0,
        "every answer stored",
        result,
    )
    time.sleep(1.0)
    reader.read()
    if result.kill is not None:
        after = [at for at in reader.prompts if at > result.kill.at]
        result.kill = Kill(
            result.kill.pid,
            result.kill.instance,
            result.kill.at,
            result.kill.prompts_before,
            (min(after) - result.kill.at) if after else None,
        )
    result.first_prompt_delay = (min(reader.prompts) - inserted) if reader.prompts else 0.0
    return pushed


def _settle(done: Callable[[], bool], timeout: float, what: str, result: Result) -> None:
    try:
        wait_until(done, timeout, what)
    except TimeoutError as error:
        result.examples.append(str(error))


def _all_answered(answered: dict[int, int], plan: Plan) -> bool:
    """Every patient typed the answer to the last question."""
    return all(position >= plan.questions for position in answered.values())


def _kill_sender(
    database: Database, runners: list[BotRunner], reader: _Reader, result: Result
) -> Kill | None:
    pids = {runner.pid: index for index, runner in enumerate(runners)}
    pid = None
    for _ in range(100):  # between rounds nothing is claimed for a moment
        pid = _sender_pid(database)
        if pid in pids:
            break
        time.sleep(0.01)
    if pid not in pids:
        result.examples.append("kill: no instance was sending claims at half-way")
        return None
    assert pid is not None
    runner = runners[pids[pid]]
    assert runner.process is not None
    runner.process.send_signal(signal.SIGKILL)
    runner.process.wait()
    return Kill(pid, pids[pid], time.monotonic(), len(reader.prompted), None)


def _measure(
    plan: Plan,
    api: FakeBotApi,
    server: RunningServer,
    database: Database,
    patients: Patients,
    pushed: dict[int, tuple[int, float]],
    warm_calls: int,
    result: Result,
) -> None:
    every = list(api.calls)
    calls = [c for c in every[warm_calls:] if c.status is not None]
    prompt_chats = range(FANOUT_FIRST_USER + 1, FANOUT_FIRST_USER + plan.prompts + 1)
    answering = set(patients.chats)
    prompts = [
        c for c in calls if c.ok and c.method == "sendMessage" and c.chat_id in prompt_chats
    ]
    per_chat = Counter(c.chat_id for c in prompts)
    result.delivered = len(per_chat)
    result.lost = plan.prompts - len(per_chat)
    result.duplicated = sum(n - 1 for n in per_chat.values())
    if len(prompts) >= 2:
        first, last = prompts[0].at, prompts[-1].at
        result.span = last - first
        result.prompt_rate = (len(prompts) - 1) / result.span
        replies = [
            c
            for c in calls
            if c.ok and c.method in _REPLIES and c.chat_id in answering and first <= c.at <= last
        ]
        result.reply_rate = len(replies) / result.span
        result.reply_sends_rate = sum(1 for c in replies if c.method in _COUNTED) / result.span
    # 429s: for a chat's limit when a message went into that chat less than a second before.
    last_in_chat: dict[Any, float] = {}
    for number, call in enumerate(every):
        if call.status == 429 and number >= warm_calls:
            result.rate_limited += 1
            if call.at - last_in_chat.get(call.chat_id, -10.0) < 1.0:
                result.rate_limited_chat += 1
        elif call.ok and call.method in _COUNTED:
            last_in_chat[call.chat_id] = call.at
    result.violations = len(api.violations)
    result.edits_repeated = sum(
        1
        for v in list(api.violations)
        if v.method == "editMessageText" and "message is not modified" in v.description
    )
    for violation in list(api.violations)[:5]:
        result.examples.append(
            f"the fake refused {violation.method} as bad: {violation.description} "
            f"({str(violation.params)[:300]})"
        )
    urls = server.webhooks.spreads[PUBLIC_URL]
    names = {url: f"bot-{index}" for index, url in enumerate(urls)}
    _latencies(names, server, pushed, calls, result)
    _stages(database, names, server, pushed, calls, result)
    _instances(names, server, result)
    _answers(api, database, patients, plan, result)


def _latencies(
    names: dict[str, str],
    server: RunningServer,
    pushed: dict[int, tuple[int, float]],
    calls: list[ApiCall],
    result: Result,
) -> None:
    posted: dict[int, float] = {}
    target: dict[int, str] = {}
    for attempt in list(server.webhooks.attempts):
        if attempt.update_id in pushed and attempt.delivered and attempt.posted_at is not None:
            posted.setdefault(attempt.update_id, attempt.posted_at)
            target.setdefault(attempt.update_id, names.get(str(attempt.target), "?"))
        elif attempt.update_id in pushed and not attempt.delivered:
            result.webhook_failures += 1
    replies: dict[Any, list[float]] = {}
    for call in calls:
        if call.ok and call.method in _REPLIES:
            replies.setdefault(call.chat_id, []).append(call.at)
    for update_id, (chat, queued) in pushed.items():
        at = posted.get(update_id)
        if at is None:
            result.examples.append(f"answer update {update_id} (chat {chat}) never delivered")
            continue
        result.queued.append(at - queued)
        reply = next((t for t in replies.get(chat, ()) if t >= at), None)
        if reply is None:
            result.examples.append(f"no reply to update {update_id} (chat {chat})")
            continue
        result.latencies.append(reply - at)
        result.latencies_by_instance.setdefault(target[update_id], []).append(reply - at)


def _stages(
    database: Database,
    names: dict[str, str],
    server: RunningServer,
    pushed: dict[int, tuple[int, float]],
    calls: list[ApiCall],
    result: Result,
) -> None:
    """Split each answer's latency at the bot's inbox: stored, picked up, replied."""
    wall_minus_monotonic = time.time() - time.monotonic()
    pid_of = {f"bot-{index}": pid for index, pid in enumerate(result.pids) if pid is not None}
    with database.read_session() as session:
        rows = session.exec(
            select(
                InboxUpdate.update_id,
                InboxUpdate.received_at,
                InboxUpdate.handled_at,
                InboxUpdate.claimed_by,
            ).where(col(InboxUpdate.update_id).in_(list(pushed)))
        ).all()
    posted: dict[int, tuple[float, str]] = {}
    for attempt in list(server.webhooks.attempts):
        if attempt.delivered and attempt.posted_at is not None:
            posted.setdefault(attempt.update_id, (attempt.posted_at, str(attempt.target)))
    replies: dict[Any, list[float]] = {}
    for call in calls:
        if call.ok and call.method in _REPLIES:
            replies.setdefault(call.chat_id, []).append(call.at)

    def monotonic(instant: datetime) -> float:
        aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
        return aware.timestamp() - wall_minus_monotonic

    for update_id, received_at, handled_at, claimed_by in rows:
        if update_id not in posted or handled_at is None:
            continue
        at, target = posted[update_id]
        received, handled = monotonic(received_at), monotonic(handled_at)
        result.to_store.append(received - at)
        result.in_inbox.append(handled - received)
        chat = pushed[update_id][0]
        reply = next((t for t in replies.get(chat, ()) if t >= at), None)
        if reply is not None:
            result.handling.append(reply - handled)
        given_to = pid_of.get(names.get(target, ""))
        parts = str(claimed_by or "").split(":")
        worker = next((name for name, pid in pid_of.items() if parts[1:2] == [str(pid)]), "?")
        result.in_inbox_by_worker.setdefault(worker, []).append(handled - received)
        if given_to is not None and len(parts) >= 2 and parts[1] != str(given_to):
            result.handled_elsewhere += 1


def _answers(
    api: FakeBotApi, database: Database, patients: Patients, plan: Plan, result: Result
) -> None:
    """Answers typed, stored (once?), and the next question after each."""
    typed = [t for t in patients.typed if t.position is not None]
    stored = Counter(text for _, _, text in stored_answers(database))
    result.answers_typed = len(typed)
    result.answers_stored = sum(1 for t in typed if stored[t.text] >= 1)
    result.answers_duplicated = sum(n - 1 for n in stored.values() if n > 1)
    for t in typed:
        if t.position is None or t.position >= plan.questions:
            continue
        later = [
            int(c.result["message_id"])
            for c in api.sent_to(t.chat)
            if c.method == "sendMessage"
            and isinstance(c.text, str)
            and question_marker(t.position + 1) in c.text
            and isinstance(c.result, dict)
        ]
        if not any(mid > t.message_id for mid in later):
            result.next_missing += 1
            if len(result.examples) < 12:
                result.examples.append(
                    f"chat {t.chat}: no question {t.position + 1} after answering {t.position}"
                )


def _instances(names: dict[str, str], server: RunningServer, result: Result) -> None:
    """Updates each instance was handed (by the load balancer)."""
    counts: Counter[str] = Counter(
        names.get(str(a.target), "?") for a in list(server.webhooks.attempts) if a.delivered
    )
    result.updates_by_instance = dict(sorted(counts.items()))
