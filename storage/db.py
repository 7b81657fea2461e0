"""Engine, sessions and the migration state check.

Storage takes a database URL, never the bot's settings. Sessions are synchronous: measured on
this kind of machine a sync session run in a thread beats aiosqlite's async session.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Execution option marking a read-only session's connection (see Database.read_session).
READ_ONLY = "patientbot_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Pick psycopg 3 for a bare ``postgresql://`` URL (SQLAlchemy would assume psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; for SQLite: WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE``."""
    url = normalise_url(url)
    if not is_sqlite(url):
        # hide_parameters: a failed statement's error must not carry a patient's answer.
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        hide_parameters=True,
        **kwargs,
    )
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would defer BEGIN; we emit BEGIN IMMEDIATE
        # ourselves below so "insert unless it exists" cannot race between two writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reader needs no write lock: in WAL mode it reads a snapshot while a writer (the
        # due scan claiming a fan-out's rows) holds the lock, instead of queueing behind it.
        if connection.get_execution_options().get(READ_ONLY, False):
            # query_only: a write in a read-only session is an error here too, as on PostgreSQL.
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        # The pooled connection goes back writable (a read session ends in a rollback).
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("PRAGMA query_only=OFF")


class FirstCommit:
    """Work to do in the transaction of the first session commit made while it is active.

    The inbox uses it to mark an update handled in the same transaction as the handler's own
    first write: either both are stored or neither is, so a kill at any line neither loses the
    update nor lets it be handled a second time. Set with ``Database.first_commit_runs``; it is
    carried into ``asyncio.to_thread`` with the rest of the context.
    """

    def __init__(self, work: Callable[[Session], None]) -> None:
        self._work = work
        self.committed = False

    def _before_commit(self, session: Session) -> None:
        if not self.committed:
            self._work(session)

    def _after_commit(self, _session: Session) -> None:
        self.committed = True


_first_commit: ContextVar[FirstCommit | None] = ContextVar("patientbot_first_commit", default=None)


# Class-level listeners: listening on each session instead cost 0.13 ms a session.
@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    hook = _first_commit.get()
    if hook is not None:
        hook._before_commit(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    hook = _first_commit.get()
    if hook is not None:
        hook._after_commit(session)


@dataclass
class WriteMonitor:
    """Whether writes succeed: a database that answers reads can still refuse every write
    (disk full, a read-only replica after a failover), and health must say so."""

    consecutive_failures: int = 0
    last_failure: str | None = None

    def failed(self, error: BaseException) -> None:
        self.consecutive_failures += 1
        lines = str(getattr(error, "orig", None) or error).strip().splitlines()
        self.last_failure = lines[0][:200] if lines else type(error).__name__

    def succeeded(self) -> None:
        self.consecutive_failures = 0


_monitors: weakref.WeakKeyDictionary[Engine, WriteMonitor] = weakref.WeakKeyDictionary()


@event.listens_for(Session, "after_commit")
def _write_succeeded(session: Session) -> None:
    monitor = _monitors.get(session.bind) if isinstance(session.bind, Engine) else None
    if monitor is not None:
        monitor.succeeded()


def _watch_writes(engine: Engine, monitor: WriteMonitor) -> None:
    _monitors[engine] = monitor

    @event.listens_for(engine, "handle_error")
    def _write_failed(context: Any) -> None:
        # A unique key refusing a duplicate (a button pressed twice) is the database doing its
        # job, not failing to write.
        if isinstance(context.sqlalchemy_exception, IntegrityError):
            return
        statement = (context.statement or "").lstrip().upper()
        # A failed read (or PRAGMA) is the database being away, which health checks itself.
        if not statement.startswith(("SELECT", "PRAGMA", "BEGIN")):
            monitor.failed(context.original_exception)


class Database:
    """The engine plus a session factory; one per process, built by the composition root."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.writes = WriteMonitor()
        _watch_writes(self.engine, self.writes)
        options: dict[str, Any] = {READ_ONLY: True}
        if not self.is_sqlite:
            options["postgresql_readonly"] = True  # a write in it is an error, not a surprise
        self._reader = self.engine.execution_options(**options)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: the caller commits; leaving without a commit rolls back."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @staticmethod
    @contextmanager
    def first_commit_runs(work: Callable[[Session], None]) -> Iterator[FirstCommit]:
        """Run ``work`` inside the first ``session()`` commit made in this context."""
        hook = FirstCommit(work)
        token = _first_commit.set(hook)
        try:
            yield hook
        finally:
            _first_commit.reset(token)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for use cases that only read; it never commits.

        On SQLite it does not take the write lock (every ``session()`` does, with BEGIN
        IMMEDIATE), so /help, /tasks or a report answer at once while the due scan writes.
        On PostgreSQL its transaction is READ ONLY.
        """
        # Leaving the block closes the session, which rolls its transaction back (and puts
        # the SQLite connection back to writable, see _configure_sqlite).
        with Session(self._reader, expire_on_commit=False, autoflush=False) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


# --- migration state ---------------------------------------------------------------------


class SchemaState(enum.Enum):
    EMPTY = "empty"
    CURRENT = "current"
    BEHIND = "behind"
    UNKNOWN_REVISION = "unknown_revision"
    UNVERSIONED = "unversioned"


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    current: str | None
    head: str


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a percent sign in a password.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def schema_status(engine: Engine) -> SchemaStatus:
    """Say how the database relates to this code's migrations, without changing anything."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    if current is None:
        known = tables - {"alembic_version"}
        state = SchemaState.UNVERSIONED if known else SchemaState.EMPTY
        return SchemaStatus(state, None, head)
    if current == head:
        return SchemaStatus(SchemaState.CURRENT, current, head)
    try:
        script.get_revision(current)
    except Exception:
        return SchemaStatus(SchemaState.UNKNOWN_REVISION, current, head)
    return SchemaStatus(SchemaState.BEHIND, current, head)


# Any fixed number: the key of the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK_KEY = 4_770_131


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade to ``revision``; on PostgreSQL one instance at a time.

    Several instances starting together against one empty database would otherwise all run
    the first migration; the advisory lock makes the later ones find it done.
    """
    from alembic import command

    config = alembic_config(url)
    if is_sqlite(url):
        command.upgrade(config, revision)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            finally:
                connection.rollback()
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
