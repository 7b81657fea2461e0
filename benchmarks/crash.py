"""Patients answer while a real ``patientbot run`` is killed: the scenario of issue 14.

Shared by ``benchmarks/bench_crash.py`` (which prints the figures) and
``tests/hardening/test_crash_answers.py`` (which asserts on them). The bot is the real process
against the fake Bot API over HTTP (``fakebotapi.server``), polling or behind its webhook, on
SQLite or PostgreSQL, on the system clock.

One run: N patients each get a check-in prompt from the bot's own due scan and press Start, so
question 1 is on every screen. Then, per kill, every patient types the answer to the question on
their screen, all at once, and the bot is killed (SIGKILL, or SIGTERM for contrast) at a point
the seed picks:

- ``received``: polling, when the ``getUpdates`` that confirms the k-th answer arrives (Telegram
  then forgets it); webhook, once the bot answered 200 to k answers.
- ``replied``: when the k-th next question reaches the fake (it is delivered; the bot dies
  before it hears so).
- ``between``: when the k-th next question is on its way: the request is cut, so that patient's
  answer is committed and the question after it never shown.

The bot is started again on the same database. A patient whose next question has not arrived
types again ("are you there?"), as people do, and then everyone waits until the bot settles.
What is measured, from the database's answers and the fake's record of each chat:

- sent: answers typed to a question the patient was shown; stored: those stored at least once;
  duplicated: rows beyond the first for one typed message;
- misplaced: rows stored against a question that was not on the patient's screen when the
  message was typed (message ids grow within a chat, shared by both sides in the fake, so "on
  the screen" is "a message showing it has a lower id"), or against another question than the
  one it answered;
- next question delivered: patients whose first unanswered question was shown after their
  last stored answer.

Kill points are drawn from ``random.Random(seed)``, so a seed names the same points every run;
where the bot is at that moment still depends on the machine.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert
from sqlmodel import col, select

from bot.config import CheckinSettings, Settings
from bot.services.revisions import add_first_revision
from fakebotapi import ApiCall, FakeBotApi
from fakebotapi.server import RunningServer, WebhookAttempt, serve_in_thread
from storage.db import Database
from storage.models import Answer, Delivery, Membership, Person, Question, Task, TherapyGroup

ROOT = Path(__file__).resolve().parent.parent
PATIENTBOT = str(Path(sys.executable).parent / "patientbot")
TOKEN = "123456789:AAF-crash-test-token_0123456789abcdef"
PUBLIC_URL = "https://bot.example.org/telegram"
WEBHOOK_SECRET = "crash_Webhook-secret"
FIRST_CHAT = 800_000
KINDS = ("received", "replied", "between")
Mode = Literal["polling", "webhook"]

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
# A round without a kill waits at most this long for its kill point.
KILL_POINT_TIMEOUT = 20.0
# Settling ends once every answer is stored and every next question shown and nothing moved
# for SETTLED_QUIET seconds; or once nothing moved for QUIET seconds (the bot has given up on
# something); or after SETTLE_MAX seconds. QUIET covers a resend of a question that was stored
# but not sent (question_resend_seconds below, plus a scan).
SETTLED_QUIET = 0.5
# Long enough for what a restart may wait out: a dead process's lease (2 s here), the fake's
# webhook backoff (1 s at most) and the question resend (1 s), with a loaded machine's slack:
# with four test suites sharing two cores, 8 s of quiet and 20 s in all measured a bot that was
# still catching up (5 answers "lost" that were stored moments later). A passing run ends at
# SETTLED_QUIET, so only a failing one waits these out.
QUIET = 20.0
SETTLE_MAX = 60.0

CONFIG = """
[scheduler]
scan_interval_seconds = 0.5
messages_per_second = 30
claim_lease_seconds = 10

[logging]
format = "json"
"""
# Settings of the inbox and the question resend, written only where this version of the bot
# has them (the file refuses unknown keys): a question stored but not sent is sent again after
# a second, and an update claimed by a killed process is taken back after two.
CONFIG_RECEIVING = """
[checkins]
question_resend_seconds = 1

[inbox]
claim_lease_seconds = 2
"""


def question_marker(position: int) -> str:
    return f"crash-q{position}"


def answer_text(chat: int, position: int) -> str:
    return f"a{chat}-q{position}"


# --- what the patients typed and saw --------------------------------------------------------


@dataclass(frozen=True)
class Typed:
    chat: int
    text: str
    message_id: int
    # The question the patient answered; None for "are you there?" after seeing nothing.
    position: int | None


@dataclass(frozen=True)
class KillRecord:
    round: int
    kind: str
    k: int
    signal: str
    # False when the kill point was not reached in time and the bot was killed anyway.
    reached: bool
    answers_at_kill: int
    exit_code: int | None


@dataclass
class Outcome:
    mode: str
    backend: str
    patients: int
    sent: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    misplaced: int = 0
    next_delivered: int = 0
    nudges: int = 0
    kills: list[KillRecord] = field(default_factory=list)
    violations: int = 0
    seconds: float = 0.0
    # A few concrete cases behind the counts, for a failing test's message.
    examples: list[str] = field(default_factory=list)
    # Seconds spent in each phase (start, setup, to the kill, settle, stop), summed.
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - started

    def add(self, other: Outcome) -> None:
        for name in (
            "patients", "sent", "stored", "lost", "duplicated", "misplaced",
            "next_delivered", "nudges", "violations", "seconds",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.kills += other.kills
        for phase, seconds in other.phases.items():
            self.phases[phase] = self.phases.get(phase, 0.0) + seconds
        self.examples += other.examples[: max(0, 12 - len(self.examples))]

    def figures(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "backend": self.backend,
            "patients": self.patients,
            "kills": [f"{k.kind}:{k.k}{'' if k.reached else '(late)'}" for k in self.kills],
            "sent": self.sent,
            "stored": self.stored,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "misplaced": self.misplaced,
            "next_question_delivered": f"{self.next_delivered}/{self.patients}",
            "nudges": self.nudges,
            "violations": self.violations,
            "seconds": round(self.seconds, 1),
            "phases": {name: round(s, 1) for name, s in self.phases.items()},
        }


@dataclass(frozen=True)
class Scenario:
    database_url: str
    workdir: Path
    mode: Mode = "polling"
    patients: int = 40
    seed: int = 0
    kills: tuple[str, ...] = ("received", "between")
    signal: signal.Signals = signal.SIGKILL

    @property
    def questions(self) -> int:
        # Each kill costs at most an answer and a stored "are you there?" per patient; one
        # more question keeps everyone short of the end, so a next question always exists.
        return 2 * len(self.kills) + 1


def shown(api: FakeBotApi, chat: int, questions: int) -> dict[int, list[int]]:
    """Message ids of the bot's messages that showed each question in the chat."""
    seen: dict[int, list[int]] = {p: [] for p in range(1, questions + 1)}
    for call in api.sent_to(chat):
        text = call.params.get("text") if call.method == "sendMessage" else None
        if not isinstance(text, str) or not isinstance(call.result, dict):
            continue
        for position in seen:
            if question_marker(position) in text:
                seen[position].append(int(call.result["message_id"]))
    return seen


def _question_in(call: ApiCall) -> bool:
    text = call.params.get("text")
    return (
        call.method == "sendMessage"
        and isinstance(text, str)
        and "crash-q" in text
        and isinstance(call.chat_id, int)
        and call.chat_id >= FIRST_CHAT
    )


# --- the database ---------------------------------------------------------------------------


def seed_checkins(database: Database, patients: int, questions: int) -> None:
    """``patients`` patients with one task of text questions, its prompt due a minute ago."""
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=1)).replace(microsecond=0)
    # The task's one occurrence is the rows' due time, so a claim plans nothing after it.
    local_due = due.astimezone(ZoneInfo("Europe/London"))
    chats = range(FIRST_CHAT, FIRST_CHAT + patients)
    with database.session() as session:
        group = TherapyGroup(name="Crash Answers Group", created_at=now)
        session.add(group)
        session.flush()
        task = Task(
            group_id=group.id or 0,
            title="Knee exercises",
            due_date=local_due.date(),
            due_time=local_due.time().replace(tzinfo=None),
            created_at=now,
        )
        session.add(task)
        session.flush()
        for position in range(1, questions + 1):
            question = Question(
                task_id=task.id or 0,
                position=position,
                description=f"{question_marker(position)}: how did step {position} go?",
                response_type="text",
            )
            session.add(question)
            add_first_revision(session, question, now)
        session.flush()
        enrol_with_pending_deliveries(session, group.id or 0, task.id or 0, chats, now, due)
        session.commit()


def enrol_with_pending_deliveries(
    session: Any, group_id: int, task_id: int, chats: range, now: datetime, due: datetime
) -> None:
    """A patient per chat in the group, each with the task's prompt pending at ``due``."""
    session.execute(
        insert(Person),
        [
            {
                "telegram_user_id": chat,
                "chat_id": chat,
                "first_name": "Patient",
                "last_name": str(chat),
                "language_code": "en",
                "role": "patient",
                "opted_out": False,
                "unreachable": False,
                "created_at": now,
            }
            for chat in chats
        ],
    )
    ids = dict(
        session.exec(
            select(Person.telegram_user_id, Person.id).where(
                col(Person.telegram_user_id).in_(list(chats))
            )
        ).all()
    )
    session.execute(
        insert(Membership),
        [
            {"group_id": group_id, "person_id": ids[chat], "role": "patient", "joined_at": now}
            for chat in chats
        ],
    )
    session.execute(
        insert(Delivery),
        [
            {
                "task_id": task_id,
                "person_id": ids[chat],
                "due_at": due,
                "expires_at": now + timedelta(hours=2),
                "status": "pending",
                "current_tries": 0,
                "reminders_sent": 0,
                "send_attempts": 0,
            }
            for chat in chats
        ],
    )


def stored_answers(database: Database) -> list[tuple[int, int, str | None]]:
    """(chat, question position, text) of every stored answer."""
    with database.read_session() as session:
        rows = session.exec(
            select(Person.chat_id, Question.position, Answer.value_text)
            .join(Delivery, col(Answer.delivery_id) == Delivery.id)
            .join(Person, col(Delivery.person_id) == Person.id)
            .join(Question, col(Answer.question_id) == Question.id)
        ).all()
    return [(int(chat or 0), int(position), text) for chat, position, text in rows]


def answer_count(database: Database) -> int:
    with database.read_session() as session:
        return int(session.exec(select(func.count()).select_from(Answer)).one())


# --- the bot process ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # it answers: up, if not yet ready
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def config_text() -> str:
    """The bot's config for these runs: fast scans, and fast resends where the bot has them."""
    receiving = "inbox" in Settings.model_fields and (
        "question_resend_seconds" in CheckinSettings.model_fields
    )
    return CONFIG + (CONFIG_RECEIVING if receiving else "")


class BotRunner:
    """Start, kill and restart ``patientbot run`` with one environment."""

    def __init__(self, scenario: Scenario, server: RunningServer) -> None:
        self.workdir = scenario.workdir
        config = self.workdir / "config.toml"
        config.write_text(config_text(), encoding="utf-8")
        self.health_port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "PATIENTBOT_"))
        }
        env.update(
            {
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": str(ROOT),
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": server.base_url,
                "PATIENTBOT_DATABASE_URL": scenario.database_url,
                "PATIENTBOT_CONFIG": str(config),
                "PATIENTBOT_LOG_FORMAT": "json",
                "PATIENTBOT_HEALTH_PORT": str(self.health_port),
            }
        )
        if scenario.mode == "webhook":
            port = free_port()
            env.update(
                {
                    "TELEGRAM_MODE": "webhook",
                    "TELEGRAM_WEBHOOK_URL": PUBLIC_URL,
                    "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
                    "TELEGRAM_WEBHOOK_PORT": str(port),
                    "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
                }
            )
            # Telegram would POST to the public https URL; a proxy in front of the bot would
            # hand it to the port the bot listens on.
            server.webhooks.route(PUBLIC_URL, f"http://127.0.0.1:{port}/telegram")
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")[-4000:]
            for path in sorted(self.workdir.glob("bot-*.log"))[-2:]
        )

    def start(self) -> None:
        self.starts += 1
        log_path = self.workdir / f"bot-{self.starts}.log"
        with log_path.open("w", encoding="utf-8") as log_file:
            self.process = subprocess.Popen(
                [PATIENTBOT, "run"],
                cwd=self.workdir,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
            )
        process = self.process

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the bot exited early:\n{log_path.read_text('utf-8')}")
            return _health(self.health_port)

        wait_until(up, START_TIMEOUT, "the bot's health endpoint")

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(
                f"the bot did not exit within {timeout:g}s:\n{self.log()}"
            ) from None

    def stop(self) -> int:
        """SIGTERM and wait for the clean exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(STOP_TIMEOUT)

    def kill_now(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class KillPoint:
    """Signals the bot from inside the fake at the moment a kill point is reached."""

    def __init__(self, runner: BotRunner, sig: signal.Signals) -> None:
        self.runner = runner
        self.signal = sig
        self.kind = ""
        self.k = 0
        self.threshold = 0
        self.count = 0
        self.round_ids: set[int] = set()
        self.fired = threading.Event()
        self._lock = threading.Lock()

    def arm(self, kind: str, k: int, round_ids: list[int]) -> None:
        with self._lock:
            self.kind, self.k, self.count = kind, k, 0
            self.round_ids = set(round_ids)
            # "received" in polling: the offset that confirms the k-th answer of the round.
            self.threshold = sorted(round_ids)[k - 1]
            self.fired.clear()

    def disarm(self) -> None:
        with self._lock:
            self.kind = ""

    def _fire(self) -> None:
        self.kind = ""
        # Already gone, the round's wait notices the exit.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.runner.pid, self.signal)
        self.fired.set()

    def on_request(self, call: ApiCall) -> bool:
        """The fake's intercept: runs as each request arrives, before it takes effect."""
        with self._lock:
            if self.kind == "received" and call.method == "getUpdates":
                offset = call.params.get("offset")
                if isinstance(offset, int) and offset > self.threshold:
                    self._fire()  # the request still arrives: Telegram forgets the batch
                return False
            if self.kind in ("replied", "between") and _question_in(call):
                self.count += 1
                if self.count == self.k:
                    cut = self.kind == "between" and self.signal == signal.SIGKILL
                    self._fire()
                    return cut
            return False

    def on_webhook_attempt(self, attempt: WebhookAttempt) -> None:
        with self._lock:
            if (
                self.kind == "received"
                and attempt.delivered
                and attempt.update_id in self.round_ids
            ):
                self.count += 1
                if self.count == self.k:
                    self._fire()


# --- the patients ---------------------------------------------------------------------------


class Patients:
    """The patients' side: what each typed, built as raw updates with the chat's message ids."""

    def __init__(self, api: FakeBotApi, scenario: Scenario) -> None:
        self.api = api
        self.questions = scenario.questions
        self.chats = list(range(FIRST_CHAT, FIRST_CHAT + scenario.patients))
        self.typed: list[Typed] = []
        self._callbacks = 0
        # Chats that had nothing to answer at a round's start, with what their screens held:
        # the bot may have shown an answered question again as the newest one.
        self.idle: list[str] = []

    def _user(self, chat: int) -> dict[str, Any]:
        return {"id": chat, "is_bot": False, "first_name": "Patient", "language_code": "en"}

    def message(self, chat: int, text: str, position: int | None) -> dict[str, Any]:
        message_id = self.api.next_message_id(chat)
        self.typed.append(Typed(chat, text, message_id, position))
        return {
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private", "first_name": "Patient"},
                "from": self._user(chat),
                "text": text,
            }
        }

    def press_start(self, chat: int) -> dict[str, Any] | None:
        for screen in reversed(self.api.messages(chat)):
            if any("Start now" in label for label in screen.button_texts):
                self._callbacks += 1
                return {
                    "callback_query": {
                        "id": f"crash-{chat}-{self._callbacks}",
                        "from": self._user(chat),
                        "chat_instance": str(chat),
                        "message": self.api.message_json(chat, screen.message_id),
                        "data": screen.callback_data(
                            next(label for label in screen.button_texts if "Start now" in label)
                        ),
                    }
                }
        return None

    def on_screen(self, chat: int) -> int | None:
        """The question the chat's latest question message shows."""
        latest: tuple[int, int] | None = None
        for position, ids in shown(self.api, chat, self.questions).items():
            for message_id in ids:
                if latest is None or message_id > latest[0]:
                    latest = (message_id, position)
        return None if latest is None else latest[1]

    def answers_due(self) -> list[dict[str, Any]]:
        """Everyone answers the question on their screen, unless they already did."""
        answered = {(t.chat, t.position) for t in self.typed}
        updates = []
        for chat in self.chats:
            position = self.on_screen(chat)
            if position is not None and (chat, position) not in answered:
                updates.append(self.message(chat, answer_text(chat, position), position))
            else:
                self.idle.append(
                    f"nothing to answer: chat {chat}, newest question shown {position}, "
                    f"questions shown as messages {shown(self.api, chat, self.questions)}, "
                    f"typed {[(t.message_id, t.text) for t in self.typed if t.chat == chat]}"
                )
        return updates

    def waiting(self) -> list[int]:
        """Chats whose last answer has no question shown after it."""
        last: dict[int, int] = {}
        for t in self.typed:
            last[t.chat] = max(last.get(t.chat, 0), t.message_id)
        chats = []
        for chat, message_id in last.items():
            later = [mid for ids in shown(self.api, chat, self.questions).values() for mid in ids]
            if not any(mid > message_id for mid in later):
                chats.append(chat)
        return chats


def measure(api: FakeBotApi, database: Database, patients: Patients, outcome: Outcome) -> None:
    """Count sent, stored, duplicated, misplaced and next questions delivered."""
    rows = stored_answers(database)
    by_text = {t.text: t for t in patients.typed}
    per_text = Counter(text for _, _, text in rows)
    answers = [t for t in patients.typed if t.position is not None]
    outcome.sent = len(answers)
    outcome.stored = sum(1 for t in answers if per_text[t.text] >= 1)
    outcome.lost = outcome.sent - outcome.stored
    outcome.duplicated = sum(n - 1 for n in per_text.values() if n > 1)
    outcome.nudges = len(patients.typed) - len(answers)
    for t in answers:
        if per_text[t.text] == 0:
            outcome.examples.append(f"lost: chat {t.chat} answer to question {t.position}")
    screens = {chat: shown(api, chat, patients.questions) for chat in patients.chats}
    for chat, position, text in rows:
        typed = by_text.get(text or "")
        if typed is None:
            outcome.misplaced += 1
            outcome.examples.append(f"misplaced: chat {chat} q{position} holds unknown {text!r}")
            continue
        seen_before = any(mid < typed.message_id for mid in screens[chat].get(position, []))
        if (typed.position is not None and typed.position != position) or not seen_before:
            outcome.misplaced += 1
            outcome.examples.append(
                f"misplaced: chat {chat} {text!r} (typed as message {typed.message_id}) stored "
                f"for question {position}, shown as messages {screens[chat].get(position)}"
            )
    missing = next_questions_missing(screens, rows, patients)
    outcome.next_delivered = sum(
        1
        for chat in patients.chats
        if len(answered_positions(rows, chat)) < patients.questions and chat not in missing
    )
    outcome.examples.extend(missing.values())
    outcome.violations = len(api.violations)


def answered_positions(rows: list[tuple[int, int, str | None]], chat: int) -> set[int]:
    return {position for row_chat, position, _ in rows if row_chat == chat}


def next_questions_missing(
    screens: dict[int, dict[int, list[int]]],
    rows: list[tuple[int, int, str | None]],
    patients: Patients,
) -> dict[int, str]:
    """Chats whose first unanswered question was not shown after their last stored answer.

    Judged by what is stored, not by what was typed: after a kill the bot may show an earlier
    question again (it could not know it had arrived), and that must not count as the next one.
    """
    by_text = {t.text: t for t in patients.typed}
    last_stored: dict[int, int] = {}
    for chat, _, text in rows:
        typed = by_text.get(text or "")
        if typed is not None:
            last_stored[chat] = max(last_stored.get(chat, 0), typed.message_id)
    missing: dict[int, str] = {}
    for chat in patients.chats:
        answered = answered_positions(rows, chat)
        remaining = [p for p in range(1, patients.questions + 1) if p not in answered]
        if not remaining:
            continue
        after = last_stored.get(chat, 0)
        if not any(mid > after for mid in screens[chat][remaining[0]]):
            missing[chat] = (
                f"next question not delivered: chat {chat} question {remaining[0]} "
                f"(last stored answer: message {after}; questions shown as messages "
                f"{screens[chat]})"
            )
    return missing


# --- the run --------------------------------------------------------------------------------


def _activity(api: FakeBotApi, server: RunningServer, database: Database) -> tuple[int, ...]:
    calls = sum(1 for c in list(api.calls) if c.method != "getUpdates")
    return calls, len(server.webhooks.attempts), answer_count(database)


def _settle(
    api: FakeBotApi,
    server: RunningServer,
    database: Database,
    done: Callable[[], bool],
) -> None:
    """Wait until ``done`` and still, or still for QUIET seconds, or SETTLE_MAX."""
    started = time.monotonic()
    last = _activity(api, server, database)
    changed = time.monotonic()
    while time.monotonic() - started < SETTLE_MAX:
        time.sleep(0.1)
        now_activity = _activity(api, server, database)
        if now_activity != last:
            last, changed = now_activity, time.monotonic()
            continue
        still = time.monotonic() - changed
        if still >= QUIET or (still >= SETTLED_QUIET and done()):
            return


def run_scenario(scenario: Scenario, backend: str) -> Outcome:
    """Run one scenario end to end; the bot is stopped (or killed) when this returns."""
    started = time.monotonic()
    rng = random.Random(scenario.seed)
    database = Database(scenario.database_url)
    outcome = Outcome(scenario.mode, backend, scenario.patients)
    api = FakeBotApi(poll_wait_cap=0.2)  # no flood limits: the bot paces itself
    try:
        seed_checkins(database, scenario.patients, scenario.questions)
        with serve_in_thread(api) as server:
            runner = BotRunner(scenario, server)
            point = KillPoint(runner, scenario.signal)
            api.intercept = point.on_request
            server.webhooks.on_attempt = point.on_webhook_attempt
            patients = Patients(api, scenario)
            try:
                with outcome.timed("start"):
                    runner.start()
                with outcome.timed("setup"):
                    start_checkins(api, patients)

                def all_answered_and_asked() -> bool:
                    rows = stored_answers(database)
                    stored = {text for _, _, text in rows}
                    typed = [t for t in patients.typed if t.position is not None]
                    screens = {
                        chat: shown(api, chat, scenario.questions) for chat in patients.chats
                    }
                    return all(t.text in stored for t in typed) and not next_questions_missing(
                        screens, rows, patients
                    )

                for number, kind in enumerate(scenario.kills, start=1):
                    updates = patients.answers_due()
                    if not updates:
                        outcome.examples.append(f"round {number}: nobody had a question to answer")
                        continue
                    rng.shuffle(updates)
                    k = rng.randint(1, len(updates))
                    ids = [u["update_id"] for u in api.push_updates(updates)]
                    point.arm(kind, k, ids)
                    with outcome.timed("to the kill"):
                        reached = point.fired.wait(KILL_POINT_TIMEOUT)
                    point.disarm()
                    if not reached:
                        runner.kill_now()
                    code = runner.wait_exit(STOP_TIMEOUT)
                    outcome.kills.append(
                        KillRecord(
                            number,
                            kind,
                            k,
                            scenario.signal.name,
                            reached,
                            answer_count(database),
                            code,
                        )
                    )
                    with outcome.timed("start"):
                        runner.start()
                    nudges = [
                        patients.message(chat, f"n{chat}-{number} are you there?", None)
                        for chat in patients.waiting()
                    ]
                    api.push_updates(nudges)
                    with outcome.timed("settle"):
                        _settle(api, server, database, all_answered_and_asked)
                measure(api, database, patients, outcome)
                outcome.examples.extend(patients.idle)  # after the lost and misplaced ones
                with outcome.timed("stop"):
                    code = runner.stop()
                if code != 0:
                    outcome.examples.append(f"the last stop exited with {code}")
            finally:
                runner.kill_now()
    finally:
        database.dispose()
    outcome.seconds = time.monotonic() - started
    return outcome


def start_checkins(
    api: FakeBotApi, patients: Patients, pause_before_pressing: float = 0.0
) -> None:
    """Wait for every prompt, press Start on each, wait until question 1 is on every screen."""

    def prompted() -> bool:
        return all(
            any(any("Start now" in label for label in m.button_texts) for m in api.messages(chat))
            for chat in patients.chats
        )

    wait_until(prompted, 60, "every check-in prompt")
    time.sleep(pause_before_pressing)
    presses = [patients.press_start(chat) for chat in patients.chats]
    api.push_updates([p for p in presses if p is not None])
    wait_until(
        lambda: all(patients.on_screen(chat) == 1 for chat in patients.chats),
        30,
        "question 1 on every screen",
    )
