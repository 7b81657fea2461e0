"""What sharing one send budget costs on PostgreSQL, for each design issue #22 named.

Three processes play three bot instances at 30 messages a second in all, and each design is
timed per message (what every send would pay) or per scan tick (what the holder pays):

- shared token bucket: one row, every send takes a token with one UPDATE ... RETURNING;
- lease row: one row naming the sender, renewed by it every tick (an UPDATE per tick);
- advisory lock: ``pg_try_advisory_lock`` once, then ``SELECT 1`` on its connection per tick;
- and with the lock, the other instances' replies told to its holder: one ``pg_notify`` per
  reply (``storage.db.ReplyChannel.announce``, what a standby instance pays after a reply went
  out) and how long until the holder hears it (``ReplyChannel.listen``, what its pacer lags).

    python -m benchmarks.bench_budget_design --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time

from sqlalchemy import text

from benchmarks.common import median, percentile, summary
from storage.db import Database, ReplyChannel, make_engine

MESSAGES = 300  # per process: ten seconds at 30 a second shared by three


def bucket_sends(url: str, results: multiprocessing.Queue[list[float]]) -> None:
    engine = make_engine(url)
    took = []
    with engine.connect() as connection:
        for _ in range(MESSAGES):
            started = time.perf_counter()
            connection.execute(
                text(
                    "UPDATE bench_budget SET tokens = LEAST(30, tokens + "
                    "EXTRACT(EPOCH FROM clock_timestamp() - refilled) * 30) - 1, "
                    "refilled = clock_timestamp() WHERE id = 1 RETURNING tokens"
                )
            ).scalar()
            connection.commit()
            took.append(time.perf_counter() - started)
            time.sleep(max(0.0, 0.1 - took[-1]))  # 10 a second each, 30 in all
    engine.dispose()
    results.put(took)


def lease_ticks(url: str, results: multiprocessing.Queue[list[float]]) -> None:
    engine = make_engine(url)
    took = []
    with engine.connect() as connection:
        for _ in range(MESSAGES // 10):
            started = time.perf_counter()
            connection.execute(
                text(
                    "UPDATE bench_lease SET holder = :me, until = clock_timestamp() + "
                    "interval '15 seconds' WHERE id = 1 AND (holder = :me OR "
                    "until < clock_timestamp())"
                ),
                {"me": multiprocessing.current_process().name},
            )
            connection.commit()
            took.append(time.perf_counter() - started)
    engine.dispose()
    results.put(took)


def lock_ticks(url: str, results: multiprocessing.Queue[list[float]]) -> None:
    engine = make_engine(url)
    took = []
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_try_advisory_lock(4770199)")).scalar()
        connection.commit()
        for _ in range(MESSAGES // 10):
            started = time.perf_counter()
            connection.execute(text("SELECT 1"))
            connection.commit()
            took.append(time.perf_counter() - started)
    engine.dispose()
    results.put(took)


ANNOUNCEMENTS = 200


def announce_replies(url: str, results: multiprocessing.Queue[list[float]]) -> None:
    """One reply every 30 ms, announced; the instants each announcement began."""
    database = Database(url)
    channel = ReplyChannel(database)
    began = []
    took = []
    for _ in range(ANNOUNCEMENTS):
        started = time.perf_counter()  # CLOCK_MONOTONIC: one clock for all processes
        channel.announce("bench", 1)
        began.append(started)
        took.append(time.perf_counter() - started)
        time.sleep(0.03)
    database.dispose()
    results.put(took)
    results.put(began)


def announcement_lag(url: str) -> tuple[list[float], list[float]]:
    """What an announcement costs its sender, and how long until the holder hears it."""
    database = Database(url)
    channel = ReplyChannel(database)
    heard: list[float] = []
    listening = threading.Thread(
        target=channel.listen,
        args=(
            lambda _instance, _count, _channel: heard.append(time.perf_counter()),
            lambda: False,
        ),
        daemon=True,
    )
    listening.start()
    time.sleep(0.5)  # LISTEN is in place
    results: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
    announcer = multiprocessing.Process(target=announce_replies, args=(url, results))
    announcer.start()
    took, began = results.get(), results.get()
    announcer.join()
    deadline = time.monotonic() + 5
    while len(heard) < len(began) and time.monotonic() < deadline:
        time.sleep(0.01)
    channel.release()
    listening.join()
    database.dispose()
    return took, [h - b for h, b in zip(heard, began, strict=False)]


def run(target: object, url: str) -> list[float]:
    results: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=target, args=(url, results), name=f"bot-{n}")  # type: ignore[arg-type]
        for n in range(3)
    ]
    for worker in workers:
        worker.start()
    took = [t for _ in workers for t in results.get()]
    for worker in workers:
        worker.join()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    engine = make_engine(args.url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_budget, bench_lease"))
        connection.execute(
            text(
                "CREATE TABLE bench_budget"
                " (id int PRIMARY KEY, tokens float, refilled timestamptz)"
            )
        )
        connection.execute(text("INSERT INTO bench_budget VALUES (1, 30, clock_timestamp())"))
        connection.execute(
            text("CREATE TABLE bench_lease (id int PRIMARY KEY, holder text, until timestamptz)")
        )
        connection.execute(text("INSERT INTO bench_lease VALUES (1, NULL, clock_timestamp())"))
    try:
        figures = {
            "token bucket, per message": run(bucket_sends, args.url),
            "lease row, per tick": run(lease_ticks, args.url),
            "advisory lock, per tick": run(lock_ticks, args.url),
        }
        announcing, lag = announcement_lag(args.url)
        figures["reply announced (NOTIFY)"] = announcing
        figures["reply heard by the holder"] = lag
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS bench_budget, bench_lease"))
        engine.dispose()
    for name, took in figures.items():
        print(
            f"{name:28} p50 {median(took) * 1000:.2f} ms  p99 "
            f"{percentile(took, 0.99) * 1000:.2f} ms  ({len(took)} timed)"
        )
    bucket = figures["token bucket, per message"]
    lock = figures["advisory lock, per tick"]
    summary(
        "budget design",
        f"token bucket {median(bucket) * 1000:.2f} ms on every send (p99 "
        f"{percentile(bucket, 0.99) * 1000:.2f}), advisory lock {median(lock) * 1000:.2f} ms "
        f"per scan tick; a standby's reply announced in {median(announcing) * 1000:.2f} ms, "
        f"heard by the holder {median(lag) * 1000:.2f} ms after it began (p99 "
        f"{percentile(lag, 0.99) * 1000:.2f})",
    )


if __name__ == "__main__":
    main()
