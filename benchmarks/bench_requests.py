"""One Bot API request through PTB's httpx stack, with sniffio and without it, same run.

httpcore asks which async library runs (``current_async_library``) several times a request,
for its locks, events and cancellation shields. With ``sniffio`` installed that is a function
call; without it, each ask is a failed ``import sniffio``: a search of every entry of
``sys.path``. Two child processes send the same ``sendMessage`` calls to one fake Bot API over
HTTP: one as installed, one where ``import sniffio`` fails as it does when the package is
missing (the same search, then ModuleNotFoundError).

    python -m benchmarks.bench_requests [--requests 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import subprocess

from benchmarks.common import FAKE_TOKEN, PYTHON, ROOT, median, summary
from fakebotapi import FakeBotApi
from fakebotapi.server import serve_in_thread

WARM_UP = 50  # requests before the timing: the connection made, every code path warm
# Runs in the child: the median time of one sendMessage over ``rounds`` rounds, in µs.
CHILD = """
import asyncio, importlib.machinery, sys, time
if {hide}:
    class Missing:
        # A real miss searches every path entry before it fails: so does this one.
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "sniffio":
                importlib.machinery.PathFinder.find_spec("sniffio-not-installed", sys.path)
                raise ModuleNotFoundError("No module named 'sniffio'", name=name)
            return None
    sys.meta_path.insert(0, Missing)
else:
    import sniffio  # measured with it: it must be there
from telegram import Bot

async def main():
    bot = Bot({token!r}, base_url={base_url!r})
    async with bot:
        for _ in range({warm_up}):
            await bot.send_message(1, "warm-up")
        rounds = []
        for _ in range({rounds}):
            started = time.perf_counter()
            for _ in range({requests}):
                await bot.send_message(1, "x")
            rounds.append((time.perf_counter() - started) / {requests} * 1e6)
    rounds.sort()
    print(rounds[len(rounds) // 2])

asyncio.run(main())
"""


def time_requests(base_url: str, *, hide_sniffio: bool, requests: int, rounds: int) -> float:
    code = CHILD.format(
        hide=hide_sniffio,
        warm_up=WARM_UP,
        token=FAKE_TOKEN,
        base_url=base_url,
        requests=requests,
        rounds=rounds,
    )
    done = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with serve_in_thread(FakeBotApi()) as server:
        base_url = server.base_url
        with_sniffio, without = [], []
        for _ in range(3):  # alternating, so the noise of a shared machine falls on both
            without.append(time_requests(base_url, hide_sniffio=True, **vars(args)))
            with_sniffio.append(time_requests(base_url, hide_sniffio=False, **vars(args)))
    present, missing = median(with_sniffio), median(without)
    print(f"sendMessage with sniffio:    {present:.0f} µs a request")
    print(f"sendMessage without sniffio: {missing:.0f} µs a request")
    summary(
        "requests",
        f"{present:.0f} µs a request with sniffio, {missing:.0f} µs without "
        f"({missing / present:.2f}x)",
    )


if __name__ == "__main__":
    main()
