"""Another writer's transaction held open while the code under test runs into it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlmodel import Session

from storage.db import Database


@contextmanager
def held_write(database: Database, write: Callable[[Session], None]) -> Iterator[None]:
    """The body runs while ``write``'s changes are flushed but not committed: they hold the
    write (SQLite) or their rows and keys (PostgreSQL) and commit half a second in."""
    flushed = threading.Event()

    def colleague() -> None:
        with database.session() as session:
            write(session)
            session.flush()
            flushed.set()
            time.sleep(0.5)  # while the other save runs into it
            session.commit()

    thread = threading.Thread(target=colleague)
    thread.start()
    try:
        assert flushed.wait(10)
        yield
    finally:
        thread.join()
