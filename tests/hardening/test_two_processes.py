"""Two processes on one SQLite file: the running bot, and ``patientbot seed`` / ``export``
(which may run beside it), or a second bot and a migration (which may not).

In the first test the bot is a real ``patientbot run`` process in the middle of a fan-out
(writing a batch of results every 50 prompts, claiming every 0.5 s) while patients press Start
on their prompts (each press is a transaction). Meanwhile ``patientbot seed`` and
``patientbot export`` run again and again, several at once. SQLite has one writer at a time;
every transaction starts with ``BEGIN IMMEDIATE`` and waits up to the busy timeout, so nobody
may ever see "database is locked": every command exits 0 and no output or log line mentions a
lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import texts
from bot.services import inbox
from fakebotapi import FakeBotApi
from fakebotapi.server import serve_in_thread
from storage.db import Database, downgrade, head_revision, schema_status
from tests.deploy.process import bot_environment, wait_for
from tests.fakes.harness import DEMO_SEED
from tests.fakes.updates import UpdateFactory, User
from tests.hardening.test_crash import (
    FIRST_CHAT,
    PATIENTBOT,
    make_due_prompts,
    patientbot_run,
    statuses,
)

PROMPTS = 200
ROUNDS = 5
CONFIG = """
[scheduler]
scan_interval_seconds = 0.5
messages_per_second = 30
claim_lease_seconds = 10

[logging]
format = "json"
"""


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PATIENTBOT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_seed_and_export_beside_a_busy_bot_never_see_database_is_locked(
    database_url: str, database: Database, tmp_path: Path, backend: str
) -> None:
    make_due_prompts(database, PROMPTS)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    api = FakeBotApi(poll_wait_cap=0.2)
    factory = UpdateFactory(api)
    results: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    pressed: set[int] = set()
    started = time.monotonic()
    with serve_in_thread(api) as server:
        env = bot_environment(server.base_url, database_url, PATIENTBOT_CONFIG=str(config))
        with patientbot_run(env, tmp_path) as bot, ThreadPoolExecutor(max_workers=2) as pool:
            wait_for(lambda: len(api.calls_of("sendMessage")) >= 20, 30, "the fan-out to start")
            for round_number in range(ROUNDS):
                jobs = [
                    ("seed", pool.submit(run_cli, env, tmp_path, "seed", str(DEMO_SEED))),
                    *(
                        (
                            "export",
                            pool.submit(
                                run_cli,
                                env,
                                tmp_path,
                                "export",
                                "--out",
                                str(tmp_path / f"export-{round_number}-{n}.csv"),
                            ),
                        )
                        for n in range(1)
                    ),
                ]
                # Meanwhile patients press Start on the prompts that reached them: more writers.
                while not all(job.done() for _, job in jobs):
                    for call in api.calls_of("sendMessage"):
                        chat = call.chat_id
                        if call.ok and isinstance(chat, int) and chat not in pressed:
                            pressed.add(chat)
                            user = User(id=chat, first_name="Patient", last_name=str(chat))
                            api.push_update(factory.press(user, texts.button_start()))
                    time.sleep(0.05)
                results.extend((kind, job.result()) for kind, job in jobs)
            wait_for(
                lambda: (
                    sum(statuses(database).values()) == PROMPTS
                    and not statuses(database)["pending"]
                    and not statuses(database)["sending"]
                ),
                40,
                "the fan-out to finish",
            )
            wait_for(
                lambda: len(api.calls_of("answerCallbackQuery")) >= len(pressed),
                20,
                "every press to be answered",
            )
            assert bot.stop(signal.SIGTERM) == 0, bot.output
            log = bot.output
    took = time.monotonic() - started

    codes = Counter((kind, r.returncode) for kind, r in results)
    outputs = "\n".join(r.stdout + r.stderr for _, r in results)
    final = statuses(database)
    figures = {
        "seed_runs": sum(1 for kind, _ in results if kind == "seed"),
        "export_runs": sum(1 for kind, _ in results if kind == "export"),
        "exit_codes": dict(codes),
        "prompts_sent": sum(1 for c in api.calls_of("sendMessage") if c.ok),
        "presses": len(pressed),
        "statuses": dict(final),
        "seconds": round(took, 1),
    }
    print(f"\nbot + seed + export on one SQLite file: {figures}")
    assert all(r.returncode == 0 for _, r in results), outputs
    for text in (outputs, log):
        assert "locked" not in text.lower(), text
        assert "Traceback" not in text
    assert '"level": "ERROR"' not in log
    assert final["sent"] + final["in_progress"] == PROMPTS
    assert final["in_progress"] == len(pressed) > 0
    per_chat = Counter(
        c.chat_id
        for c in api.calls_of("sendMessage")
        if c.ok and c.params.get("reply_markup") and "p:" in str(c.params.get("reply_markup"))
    )
    assert set(per_chat) == set(range(FIRST_CHAT, FIRST_CHAT + PROMPTS))
    assert max(per_chat.values()) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_second_bot_on_one_sqlite_file_is_refused_and_a_killed_ones_successor_carries_on(
    database_url: str, database: Database, tmp_path: Path, backend: str
) -> None:
    """One SQLite file serves one bot process. A second ``patientbot run`` beside the first is
    refused with a sentence naming it (two would send at twice Telegram's budget), without a
    traceback, and the first runs on. Once the first is killed (kill -9) its successor starts
    at once and takes back what its predecessor had claimed, even under another host name (a
    container made afresh), instead of waiting out the lease."""
    api = FakeBotApi(poll_wait_cap=0.2)
    factory = UpdateFactory(api)
    folders = {name: tmp_path / name for name in ("first", "second", "successor")}
    for folder in folders.values():
        folder.mkdir()
    alice = User(id=FIRST_CHAT, first_name="Alice")
    with serve_in_thread(api) as server:
        with patientbot_run(
            bot_environment(server.base_url, database_url), folders["first"]
        ) as first:
            second = run_cli(
                bot_environment(server.base_url, database_url), folders["second"], "run"
            )
            assert first.process.poll() is None, "the first bot runs on"
            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
        # What the killed bot had in hand, claimed under the name of a container gone: a
        # patient's /help, leased for an hour.
        update = factory.command(alice, "/help")
        now = datetime.now(UTC)
        inbox.store(database, now, [update])
        claimed = inbox.claim(database, now, "old-container:1:0f0f", 3600, 10)
        assert [item.update_id for item in claimed] == [update["update_id"]]
        env = bot_environment(server.base_url, database_url, PATIENTBOT_LOG_FORMAT="json")
        with patientbot_run(env, folders["successor"]) as successor:
            wait_for(lambda: bool(api.sent_to(alice.chat_id)), 15, "the answer to Alice's /help")
            log = successor.output

    assert second.returncode == 1, second.stdout + second.stderr
    refusal = f"Another patientbot (process {first.process.pid}) is already running on the"
    assert refusal in second.stderr
    assert "Traceback" not in second.stdout + second.stderr
    assert "took back 1 updates a stopped process had claimed" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("backend", ["sqlite"])
def test_migrating_a_sqlite_file_a_bot_runs_on_is_refused_and_changes_nothing(
    database_url: str, database: Database, tmp_path: Path, backend: str
) -> None:
    """``patientbot db upgrade`` under a running bot (here this test process holds the file as
    a bot does) would change the tables beneath it: refused, naming the bot's process, and
    the database stays at its revision. So is the automatic migration of a newer version's
    ``patientbot seed``. Once the bot is gone the upgrade goes through."""
    downgrade(database_url, "-1")
    behind = schema_status(database.engine).current
    env = bot_environment("http://127.0.0.1:9/bot", database_url)
    running_bot = Database(database_url)
    running_bot.hold_alone()
    try:
        refused = [
            run_cli(env, tmp_path, "db", "upgrade"),
            run_cli(env, tmp_path, "seed", str(DEMO_SEED)),
        ]
    finally:
        running_bot.dispose()
    for result in refused:
        assert result.returncode == 1, result.args
        sentence = f"A patientbot (process {os.getpid()}) is running on the database at"
        assert sentence in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert schema_status(database.engine).current == behind != head_revision()

    upgraded = run_cli(env, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert schema_status(database.engine).current == head_revision()
