"""Start-up: from `patientbot run` to the first getUpdates, against `import telegram.ext`.

Both are measured side by side in one run, several times each, and the medians compared: the
ratio says what the bot adds on top of importing its framework (migration check, seed-free
start, JobQueue, the first poll).

    python -m benchmarks.bench_startup [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, bot_env, median, summary, temp_dir
from fakebotapi import FakeBotApi
from fakebotapi.server import serve


async def time_bot_start(database_url: str) -> float:
    # The fake stamps each call as it arrives, on this clock: a getUpdates is listed only once
    # its long poll is answered, and that wait is the fake's, not the bot's start.
    api = FakeBotApi(poll_wait_cap=0.05, time_source=time.perf_counter)
    server, port = serve(api)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "bot", "run",
        env=bot_env(database_url, port),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while not api.calls_of("getUpdates"):
            if process.returncode is not None:
                err = await process.stderr.read() if process.stderr else b""
                raise RuntimeError(f"the bot exited early: {err.decode()[-2000:]}")
            await asyncio.sleep(0.002)
        return api.calls_of("getUpdates")[0].at - started
    finally:
        process.terminate()
        await process.wait()
        server.stop()


def time_import() -> float:
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", "import telegram.ext"], check=True)
    return time.perf_counter() - started


def demo_database(folder: Path) -> str:
    """A SQLite database in ``folder``, migrated and seeded with the demo, as `make run` does."""
    url = f"sqlite:///{folder / 'bench.db'}"
    env = bot_env(url, 1)
    subprocess.run([PYTHON, "-m", "bot", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run(
        [PYTHON, "-m", "bot", "seed", str(ROOT / "seed_data" / "demo.toml")],
        env=env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with temp_dir() as folder:
        url = demo_database(folder)
        bot_times, import_times = [], []
        for _ in range(args.runs):
            import_times.append(time_import())
            bot_times.append(asyncio.run(time_bot_start(url)))
    bot, floor = median(bot_times), median(import_times)
    print(f"patientbot run -> first getUpdates: median {bot * 1000:.0f} ms over {args.runs} runs")
    print(f"python -c 'import telegram.ext':   median {floor * 1000:.0f} ms")
    summary(
        "startup",
        f"{bot * 1000:.0f} ms to first getUpdates, {bot / floor:.2f}x "
        f"`import telegram.ext` ({floor * 1000:.0f} ms)",
    )


if __name__ == "__main__":
    main()
