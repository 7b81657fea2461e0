"""Memory: a running bot with N patients and N pending deliveries against one with none.

Each bot is ``python -m bot run`` in its own process, polling the fake Bot API over HTTP (as a
self-hosted Bot API server would be reached) with the due scan every second. Its resident
memory (``VmRSS`` in ``/proc/<pid>/status``) and peak (``VmHWM``) are read once it has polled
several times and scanned for three intervals, and again three intervals later. The deliveries
are due tomorrow, so each scan reads nothing: what the bot holds in memory must not depend on
how many patients or deliveries the database has.

    python -m benchmarks.bench_memory            # quick: none, 10,000 and 20,000 patients
    python -m benchmarks.bench_memory --full     # none, 20,000 and 100,000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, bot_env, machine, summary, temp_dir
from benchmarks.rows import (
    DELIVERY_COLUMNS,
    Bulk,
    add_group,
    add_patients,
    add_task,
    delivery_row,
    sqlite_database,
    utc_now,
)
from fakebotapi import FakeBotApi
from fakebotapi.server import serve
from storage.db import Database

SCAN_INTERVAL = 1.0
MB = 1024 * 1024


@dataclass(frozen=True)
class MemorySample:
    patients: int
    rss: int  # bytes, after 3 scan intervals
    rss_later: int  # bytes, 3 intervals after that
    peak: int  # VmHWM at the end
    polls: int
    scans_seen: bool  # the health endpoint reported a finished scan


def build(url: str, patients: int) -> None:
    """``patients`` in one group with a daily task, each with its pending delivery tomorrow."""
    if not patients:
        return
    database = Database(url)
    now = utc_now()
    tomorrow = now + timedelta(days=1)
    group_id = add_group(database, "Memory", now)
    task_id, _questions = add_task(database, group_id, tomorrow, created_at=now)
    bulk = Bulk(database)
    people = add_patients(bulk, group_id, patients, now)
    bulk.insert(
        "deliveries",
        DELIVERY_COLUMNS,
        (delivery_row(bulk, person, task_id, person, tomorrow) for person in people),
    )
    database.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


async def _health(port: int) -> dict[str, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    raw = await reader.read()
    writer.close()
    body = raw.partition(b"\r\n\r\n")[2]
    data: dict[str, object] = json.loads(body)
    return data


async def measure(
    folder: Path, url: str, patients: int, *, interval: float = SCAN_INTERVAL
) -> MemorySample:
    """Run the bot on ``url`` until it has polled and scanned a while; read its memory."""
    api = FakeBotApi(poll_wait_cap=0.2)
    # The bot's long poll is cut off when it stops; that is no news.
    logging.getLogger("tornado").setLevel(logging.CRITICAL)
    server, api_port = serve(api)
    health_port = _free_port()
    config = folder / f"memory-{patients}.toml"
    config.write_text(
        f"[scheduler]\nscan_interval_seconds = {interval}\n"
        f'[health]\nlisten = "127.0.0.1"\nport = {health_port}\n'
    )
    env = bot_env(url, api_port, {"PATIENTBOT_CONFIG": str(config)})
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bot", "run",
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not api.calls_of("getUpdates"):
            if process.returncode is not None or time.monotonic() > deadline:
                err = await process.stderr.read() if process.stderr else b""
                raise RuntimeError(f"the bot did not start: {err.decode()[-2000:]}")
            await asyncio.sleep(0.02)
        first_poll = time.monotonic()
        while len(api.calls_of("getUpdates")) < 3 or (
            time.monotonic() - first_poll < 3 * interval
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the bot stopped polling")
            await asyncio.sleep(0.05)
        rss = _status(process.pid)["VmRSS"]
        health = await _health(health_port)
        await asyncio.sleep(3 * interval)
        final = _status(process.pid)
        polls = len(api.calls_of("getUpdates"))
    finally:
        process.terminate()
        await process.wait()
        server.stop()
    return MemorySample(
        patients=patients,
        rss=rss,
        rss_later=final["VmRSS"],
        peak=final["VmHWM"],
        polls=polls,
        scans_seen=health.get("last_scan_at") is not None,
    )


def run_memory(folder: Path, sizes: tuple[int, ...]) -> list[MemorySample]:
    """The bot on a database of each size in turn (0: empty), one process each."""
    samples = []
    for count in sizes:
        url = sqlite_database(folder / f"memory-{count}.db")
        build(url, count)
        samples.append(asyncio.run(measure(folder, url, count)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="up to 100,000 patients")
    parser.add_argument("--patients", type=int, help="override the largest number of patients")
    args = parser.parse_args()
    patients = args.patients or (100_000 if args.full else 20_000)
    print(f"$ python -m benchmarks.bench_memory {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}")
    with temp_dir() as folder:
        samples = run_memory(folder, (0, min(patients // 2, 20_000), patients))
    for s in samples:
        label = f"{s.patients:,} patients + {s.patients:,} pending deliveries"
        scanned = "yes" if s.scans_seen else "NO"
        print(f"{label:>44}: RSS {s.rss / MB:.1f} MB, {3 * SCAN_INTERVAL:g} s later "
              f"{s.rss_later / MB:.1f} MB, peak {s.peak / MB:.1f} MB "
              f"({s.polls} getUpdates, scans seen: {scanned})")  # fmt: skip
    empty, some, full = samples
    held = full.rss_later - empty.rss_later
    # The slope between the two non-empty databases: what each further patient costs.
    slope = (full.rss_later - some.rss_later) / (full.patients - some.patients)
    worst = max(s.peak for s in samples)
    print(f"difference from the empty database: {held / MB:+.1f} MB at {full.patients:,}, "
          f"{(some.rss_later - empty.rss_later) / MB:+.1f} MB at {some.patients:,}: "
          f"{slope:+.1f} bytes per further patient and delivery")  # fmt: skip
    print("  (what grows is SQLite's page cache, at most 2 MB per pooled connection: it fills "
          "as the database grows, then stops)")  # fmt: skip
    print(f"goal under 150 MB: {'met' if worst < 150 * MB else 'NOT met'} "
          f"(highest peak {worst / MB:.1f} MB)")  # fmt: skip
    summary(
        "memory",
        f"RSS {full.rss_later / MB:.1f} MB with {full.patients:,} patients and pending "
        f"deliveries vs {empty.rss_later / MB:.1f} MB empty ({held / MB:+.1f} MB; "
        f"{slope:+.1f} B per further patient); peak {worst / MB:.1f} MB",
    )


if __name__ == "__main__":
    main()
