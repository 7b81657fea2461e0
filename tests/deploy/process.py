"""Run the bot as the image does (``deploy/entrypoint.sh``) against the fake Bot API over HTTP.

The process is real: its own interpreter, the system clock, signals. Waiting here is for a
real process to start or stop (bounded, polled), never for the bot's schedule.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.conftest import TOKEN, free_port

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def get_health(port: int) -> tuple[int, dict[str, Any]] | None:
    """GET /healthz as the image's HEALTHCHECK does; None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except (urllib.error.URLError, ConnectionError):
        return None


@dataclass
class BotProcess:
    process: subprocess.Popen[str]
    health_port: int
    log_path: Path
    stopped_after: float | None = None

    @property
    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def health(self) -> tuple[int, dict[str, Any]] | None:
        return get_health(self.health_port)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` (as ``docker stop`` does) and wait for a clean exit; return its code."""
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the bot ignored signal {sig}:\n{self.output}") from None
        self.stopped_after = time.monotonic() - started
        return self.process.returncode

    def log_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.splitlines() if line.startswith("{")]


def bot_environment(api_base_url: str, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "PATIENTBOT_"))
    }
    env.update(
        {
            # The entrypoint calls `patientbot`, which lives beside this interpreter.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api_base_url,
            "PATIENTBOT_DATABASE_URL": database_url,
            "PATIENTBOT_LOG_FORMAT": "json",
            "PATIENTBOT_HEALTH_PORT": str(free_port()),
        }
    )
    env.update(extra)
    return env


@contextmanager
def bot_process(env: dict[str, str], cwd: Path) -> Iterator[BotProcess]:
    """Start the entrypoint and wait until /healthz answers; kill it if the test fails early."""
    log_path = cwd / "bot.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [str(ENTRYPOINT)],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    bot = BotProcess(process, int(env["PATIENTBOT_HEALTH_PORT"]), log_path)
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the bot exited early:\n{bot.output}")
            return bot.health() is not None

        wait_for(up, START_TIMEOUT, "the health endpoint")
        yield bot
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
