"""Make a real database fail the way a full or read-only disk does, and put it back.

Nothing is mocked: the database itself refuses, with its own error, and the code under test
sees exactly what it would see in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from storage.db import Database


@contextmanager
def writes_refused(database: Database) -> Iterator[None]:
    """Every write fails inside the block, as on a read-only volume or a standby; reads work.

    Each transaction is made read-only as it begins (a setting per connection would not do:
    a read session's connection comes back with psycopg's ``read_only`` reset, and SQLite's
    ``query_only`` is turned off again after a read). SQLite then says "attempt to write a
    readonly database", PostgreSQL "cannot execute INSERT in a read-only transaction".
    """
    engine = database.engine
    statement = "PRAGMA query_only=ON" if database.is_sqlite else "SET TRANSACTION READ ONLY"

    def refuse(connection: Any) -> None:
        connection.exec_driver_sql(statement)

    # First, before SQLite's BEGIN IMMEDIATE, which query_only then refuses too.
    event.listen(engine, "begin", refuse, insert=True)
    try:
        yield
    finally:
        event.remove(engine, "begin", refuse)
        engine.dispose()  # no connection is left in query_only


@contextmanager
def sqlite_full(database: Database) -> Iterator[None]:
    """SQLite reports "database or disk is full" for any write that needs a new page.

    ``max_page_count`` caps the file at the pages it has (after VACUUM, none of them free);
    a row that fits into a page already there is still written, as on a real full disk
    where SQLite reuses its WAL.
    """
    assert database.is_sqlite
    engine = database.engine
    raw = engine.raw_connection()  # outside a transaction, where VACUUM must run
    try:
        raw.execute("VACUUM")
        pages = int(raw.execute("PRAGMA page_count").fetchone()[0])
    finally:
        raw.close()

    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(engine, "connect", cap)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
