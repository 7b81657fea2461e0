"""Two processes writing one SQLite file: the running bot, and ``patientbot seed`` / ``export``.

The bot is a real ``patientbot run`` process in the middle of a fan-out (writing a batch of
results every 50 prompts, claiming every 0.5 s) while patients press Start on their prompts
(each press is a transaction). Meanwhile ``patientbot seed`` and ``patientbot export`` run
again and again, several at once. SQLite has one writer at a time; every transaction starts
with ``BEGIN IMMEDIATE`` and waits up to the busy timeout, so nobody may ever see "database is
locked": every command exits 0 and no output or log line mentions a lock.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import texts
from fakebotapi import FakeBotApi
from fakebotapi.server import serve_in_thread
from storage.db import Database
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
