"""Shared pieces of the benchmark scripts: timing, a fake Bot API over HTTP, summary lines."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FAKE_TOKEN = "123456:BENCHMARK-TOKEN"
# The bots' budget against a fake enforcing L a second: the default's share of Telegram's limit
# (``messages_per_second`` 29 of 30), so 29 at L = 30 and 290 at L = 300. The pacer keeps no
# second above its budget, in whole messages; the one place below L covers what several
# instances have not heard of each other yet (at L itself, 8 x 429 in one three-instance run).
BUDGET_SHARE = 29 / 30


def summary(name: str, text: str) -> str:
    """The one line per benchmark that ``make bench`` collects at the end."""
    line = f"SUMMARY {name}: {text}"
    print(line, flush=True)
    return line


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


@contextmanager
def temp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="patientbot-bench-") as name:
        yield Path(name)


def bot_env(
    database_url: str, api_port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for a ``patientbot`` child process talking to the fake Bot API over HTTP."""
    env = dict(os.environ)
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": FAKE_TOKEN,
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{api_port}/bot",
            "TELEGRAM_FILE_BASE_URL": f"http://127.0.0.1:{api_port}/file/bot",
            "PATIENTBOT_DATABASE_URL": database_url,
            "PATIENTBOT_CONFIG": str(ROOT / "config.toml"),
            "PATIENTBOT_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra or {})
    return env


def machine() -> str:
    """The machine's load when a benchmark starts: figures from a busy shared host say so."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min), {five:.2f} (5 min)"
