"""Inbox claims: the worker's cycle over an empty history and over a large one, same run.

The inbox keeps every handled update until the due scan purges it (``[inbox] keep_days``): a
clinic of 500 patients writing 20 messages a day holds 70,000 after a week. The worker's cycle
for one update (a webhook call brings one) is a claim, the handler's mark and the batch's
closing write, each its own transaction here as in the bot; the claim must find the pending
rows without walking the handled ones. 300 chats each have one pending update; the cycle runs
until all are handled, over a history of none and over one of N handled rows, the two in turn
on each database, and the medians compared.

    python -m benchmarks.bench_inbox            # quick: 100,000 handled rows
    python -m benchmarks.bench_inbox --full     # 500,000
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text

from benchmarks.common import machine, summary, temp_dir
from benchmarks.rows import postgres_admin_url, postgres_database, sqlite_database
from bot.services import inbox
from storage.db import Database
from storage.types import UTCDateTime

PENDING = 300
RUNS = 5
INSTANCE = "bench:1:inbox"
LEASE = 30.0
# A claim over the large history may cost this many times the empty one's and still count as
# not growing with it (one more index level, a colder cache).
FLAT = 1.5


def fill_history(database: Database, handled: int) -> None:
    """``handled`` rows already handled, spread over 500 chats, older than any pending one."""
    series = (
        "SELECT g AS n FROM generate_series(1, :count) AS g"
        if database.url.startswith("postgresql")
        else "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
        "SELECT n FROM g"
    )
    statement = text(
        "INSERT INTO inbox (update_id, chat_id, payload, state, received_at, handled_at, "
        f"attempts) SELECT n, 1000 + n % 500, '{{}}', 'done', :at, :at, 1 FROM ({series}) AS s"
    ).bindparams(bindparam("at", type_=UTCDateTime()))
    with database.session() as session:
        if handled:
            session.execute(statement, {"count": handled, "at": datetime.now(UTC)})
        session.commit()
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE inbox" if handled else "SELECT 1")
        connection.commit()


def one_message(update_id: int, chat_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": chat_id, "type": "private", "first_name": "P"},
            "text": "7",
        },
    }


def time_cycles(database: Database, first_update_id: int) -> float:
    """Store one update in each of ``PENDING`` chats, then handle them as the worker does,
    one a batch; returns the seconds per update of the handling."""
    now = datetime.now(UTC)
    ids = range(first_update_id, first_update_id + PENDING)
    inbox.store(database, now, [one_message(n, 5000 + n % PENDING) for n in ids])
    last: list[int] = []
    handled = 0
    started = time.perf_counter()
    while True:

        def closing(session: Any, ended: list[int] = last) -> None:
            inbox.let_go_in(session, INSTANCE, ended)

        items = inbox.claim(database, now, INSTANCE, LEASE, 1, first=closing)
        if not items:
            break
        (item,) = items
        with database.session() as session:
            inbox.mark_in(session, now, item.update_id)
            session.commit()
        last = [item.update_id]
        handled += 1
    seconds = time.perf_counter() - started
    assert handled == PENDING, f"{handled} of {PENDING} updates handled"
    return seconds / handled


def run(urls: dict[str, str], handled: int, runs: int = RUNS) -> dict[str, float]:
    """Median seconds per update over the empty (``urls['empty']``) and the large history."""
    databases = {size: Database(url) for size, url in urls.items()}
    try:
        fill_history(databases["empty"], 0)
        fill_history(databases["large"], handled)
        times: dict[str, list[float]] = {size: [] for size in databases}
        next_id = handled + 1
        for index in range(runs):
            order = ["empty", "large"] if index % 2 == 0 else ["large", "empty"]
            for size in order:
                times[size].append(time_cycles(databases[size], next_id))
                next_id += PENDING
        return {size: statistics.median(values) for size, values in times.items()}
    finally:
        for database in databases.values():
            database.dispose()


def query_plan(url: str) -> str:
    """SQLite's EXPLAIN QUERY PLAN of the claim statement."""
    database = Database(url)
    compiled = inbox._CLAIM.compile(dialect=database.engine.dialect)
    parameters = {
        **compiled.params,
        "b_now": datetime.now(UTC).isoformat(),
        "b_limit": 1,
        "b_lease_until": datetime.now(UTC).isoformat(),
        "b_instance_id": INSTANCE,
    }
    positional = tuple(parameters[name] for name in compiled.positiontup or ())
    try:
        with database.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled.string}", positional
            ).all()
    finally:
        database.dispose()
    return "\n".join(f"    {row[-1]}" for row in rows)


def report(backend: str, handled: int, medians: dict[str, float]) -> str:
    ratio = medians["large"] / medians["empty"]
    verdict = "flat" if ratio <= FLAT else "GROWS with the history"
    print(
        f"[{backend}] claim, mark and closing write per update: "
        f"{medians['empty'] * 1000:.2f} ms over no history, "
        f"{medians['large'] * 1000:.2f} ms over {handled:,} handled rows: "
        f"{ratio:.2f} x ({verdict})"
    )
    return f"{backend} {ratio:.2f} x over {handled:,} handled rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="500,000 handled rows")
    args = parser.parse_args()
    handled = 500_000 if args.full else 100_000
    print(f"$ python -m benchmarks.bench_inbox{' --full' if args.full else ''}")
    print(f"machine: {machine()}")
    lines = []
    with temp_dir() as folder, ExitStack() as stack:
        sqlite = {size: sqlite_database(folder / f"{size}.db") for size in ("empty", "large")}
        lines.append(report("SQLite", handled, run(sqlite, handled)))
        print(f"  SQLite's plan of the claim:\n{query_plan(sqlite['large'])}")
        admin = postgres_admin_url()
        if admin is None:
            print("[PostgreSQL] no server reachable: skipped")
        else:
            postgres = {
                size: stack.enter_context(postgres_database(admin, f"_{size}"))
                for size in ("empty", "large")
            }
            lines.append(report("PostgreSQL", handled, run(postgres, handled)))
    summary("inbox", "; ".join(lines))


if __name__ == "__main__":
    main()
