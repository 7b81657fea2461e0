"""One bot process per SQLite file (``Database.hold_alone``): which names reach the same file,
and what happens where no lock can be had. The refusals themselves, with real processes, are
in ``tests/hardening/test_two_processes.py``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from storage.db import Database, DatabaseInUse, sqlite_file


def _held(url: str) -> Database:
    database = Database(url)
    database.hold_alone()
    return database


def test_every_name_of_one_file_meets_the_same_lock(tmp_path: Path) -> None:
    """A symlink to the file, a URI filename or a relative path open the file the first bot
    holds: each is refused, naming this process."""
    (tmp_path / "data").mkdir()
    first = _held(f"sqlite:///{tmp_path / 'data' / 'clinic.db'}")
    (tmp_path / "alias.db").symlink_to(tmp_path / "data" / "clinic.db")
    names = [
        f"sqlite:///{tmp_path / 'alias.db'}",
        f"sqlite:///file:{tmp_path / 'data' / 'clinic.db'}?mode=rwc&uri=true",
    ]
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        names.append("sqlite:///data/clinic.db")
        for name in names:
            other = Database(name)
            with pytest.raises(DatabaseInUse) as refused:
                other.hold_alone()
            assert refused.value.pid == os.getpid(), name
            assert not other.held_alone
            other.dispose()
    finally:
        os.chdir(cwd)
        first.dispose()
    assert _held(names[0]).held_alone, "let go once the first is disposed"


def test_an_in_memory_database_takes_no_lock() -> None:
    first, second = _held("sqlite://"), _held("sqlite://")
    assert not first.held_alone and not second.held_alone
    first.dispose()
    second.dispose()
    assert sqlite_file("sqlite:///file:scratch?mode=memory&cache=shared&uri=true") is None


def test_where_no_lock_can_be_had_the_bot_runs_as_before_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lock file that cannot be opened (here a folder in its place) does not stop a bot
    that ran before the lock: a warning names the file and the reason."""
    (tmp_path / "clinic.db.lock").mkdir()
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        database = _held(f"sqlite:///{tmp_path / 'clinic.db'}")
    assert not database.held_alone
    database.dispose()
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "clinic.db.lock" in warning and "Is a directory" in warning
