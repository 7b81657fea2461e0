"""Engine, sessions and the migration state check.

Storage takes a database URL, never the bot's settings. Sessions are synchronous: measured on
this kind of machine a sync session run in a thread beats aiosqlite's async session.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Insert, Table, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, create_engine

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# libpq waits for a new connection as long as TCP does (minutes) when a server or its host
# stops answering: every session, the due scan's lease renewals and /readyz would hang with
# it. A URL's own ``?connect_timeout=`` wins.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10
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


def insert_skipping_conflicts(
    session: Session, table: Table | type[Any], index_elements: Sequence[str] | None = None
) -> Insert:
    """An INSERT that leaves a row whose key is already taken, on either backend.

    The dialect's module is imported here, not at the top: SQLAlchemy's PostgreSQL package
    brings every PostgreSQL driver's module with it (20 ms of an SQLite bot's start).
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing(index_elements=index_elements)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; for SQLite: WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE``."""
    url = normalise_url(url)
    if not is_sqlite(url):
        connect_args = (
            {}
            if "connect_timeout" in make_url(url).query
            else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
        )
        # hide_parameters: a failed statement's error must not carry a patient's answer.
        return create_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args=connect_args,
            **kwargs,
        )
    database = make_url(url).database
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            # A path through a file, or a folder that may not be made: a database that cannot
            # be used, said as one (with the system's reason), not a traceback.
            raise OperationalError(f"make the folder of {database}", None, error) from None
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
# A read session's commit (see Database.read_session) writes nothing: it is not the first
# commit the hook waits for.
@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    hook = _first_commit.get()
    if hook is not None and not session.info.get(READ_ONLY):
        hook._before_commit(session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    hook = _first_commit.get()
    if hook is not None and not session.info.get(READ_ONLY):
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
        self._sqlite_writer = threading.RLock() if self.is_sqlite else None
        # What holds a connection of its own (SenderLock, ReplyChannel): let go when disposed.
        self.own_connections: weakref.WeakSet[SenderLock | ReplyChannel] = weakref.WeakSet()
        self._alone: SoleProcessLock | None = None

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def hold_alone(self) -> None:
        """Take this SQLite database for this process alone (``SoleProcessLock``), or raise
        ``DatabaseInUse`` naming the process that has it. Nothing to take on PostgreSQL, where
        instances share the database by design, nor for an in-memory database."""
        path = sqlite_file(self.url) if self.is_sqlite else None
        if path is not None and self._alone is None:
            lock = SoleProcessLock(path)
            if lock.take():
                self._alone = lock

    def let_go_alone(self) -> None:
        """Let another process take the database (a command done migrating, see ``hold_alone``)."""
        if self._alone is not None:
            self._alone.release()
            self._alone = None

    @property
    def held_alone(self) -> bool:
        """Whether no other bot process can be using this database: a claim made by any other
        instance is then a dead one's, whatever host it names."""
        return self._alone is not None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: the caller commits; leaving without a commit rolls back."""
        with self._one_writer(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        """On SQLite, this process's write sessions one at a time.

        SQLite has one writer anyway (every session begins with BEGIN IMMEDIATE), but a
        second writer waiting for it sleeps in SQLite's busy handler, 1, 2, 5, 10 ms and
        longer, well past the moment the first commits: four handlers side by side then spend
        most of their time asleep. Queued here instead, the next writer starts as the last
        one leaves. Another process (a CLI command) is still met by the busy timeout. A session
        opened inside another on the same thread passes (reentrant), as it did before; one
        that cannot get its turn within the busy timeout goes on and meets SQLite's lock.
        """
        writer = self._sqlite_writer
        if writer is None:
            yield
            return
        turn = writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        if not turn:
            log.warning("a write session waited %d ms for another one", SQLITE_BUSY_TIMEOUT_MS)
        try:
            yield
        finally:
            if turn:
                writer.release()

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
        """A session for use cases that only read; it writes nothing.

        On SQLite it does not take the write lock (every ``session()`` does, with BEGIN
        IMMEDIATE), so /help, /tasks or a report answer at once while the due scan writes.
        On PostgreSQL its transaction is READ ONLY.
        """
        # Leaving the block closes the session, which rolls its transaction back (and puts
        # the SQLite connection back to writable, see _configure_sqlite).
        with Session(
            self._reader, expire_on_commit=False, autoflush=False, info={READ_ONLY: True}
        ) as session:
            yield session
            if not self.is_sqlite:
                # psycopg forgets all of a connection's prepared statements at a ROLLBACK,
                # and the pool hands that connection to the next use case, which then pays
                # PostgreSQL's planning again (1.7 ms of the check-in's read, 0.17 ms to run
                # it). Committing a READ ONLY transaction keeps them and changes nothing;
                # whatever the use case changed on its objects is dropped first, as a
                # rollback would, instead of flushed into a transaction that refuses it.
                session.expunge_all()
                session.commit()

    def dispose(self) -> None:
        for holder in list(self.own_connections):
            holder.release()
        self.engine.dispose()
        self.let_go_alone()


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL opens, symlinks and a relative path resolved as SQLite resolves
    them (from the working directory); None for an in-memory database."""
    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.query.get("uri") in ("true", "1") and name.startswith("file:"):
        # A URI filename (file:path?mode=...), which SQLAlchemy hands to SQLite as it is.
        if parsed.query.get("mode") == "memory":
            return None
        name = urllib.parse.unquote(urllib.parse.urlsplit(name).path)
    if name in ("", ":memory:"):
        return None
    return Path(os.path.realpath(name))


class DatabaseInUse(Exception):
    """Another process holds this SQLite database (``SoleProcessLock``)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is in use by process {pid if pid is not None else '?'}")
        self.path = path
        self.pid = pid


class SoleProcessLock:
    """One bot process per SQLite database: an exclusive ``flock`` on a file beside it.

    SQLite serves one writer, and the bot on it counts itself the only instance: it sends the
    fan-out without asking anyone (``SenderLock``), paces Telegram's budget alone, and takes
    back claims left by an earlier process at start. A second bot on the same file would send
    at twice the budget. The lock is taken before the schema check (an automatic migration
    must not run under a living bot) and held until the process ends; the kernel lets go of
    it however that happens, kill -9 included, so a restart never meets a stale lock. The file
    holds the holder's pid for the refusal's message. ``flock`` is not SQLite's own locking
    (POSIX record locks), so the two never meet.
    """

    def __init__(self, database_path: Path) -> None:
        self.database_path = database_path
        self.path = database_path.with_name(database_path.name + ".lock")
        self._fd: int | None = None

    def take(self) -> bool:
        """True once held; ``DatabaseInUse`` while another process holds it. False, with a
        warning, where no lock can be had at all (a platform without ``flock``, a file system
        that refuses it, a lock file this user cannot open): the bot then runs as it did
        before the lock, counting on being the only one."""
        try:
            import fcntl
        except ImportError:
            log.warning("cannot hold %s alone: this platform has no flock", self.database_path)
            return False
        fd = self._open()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            pid = int(holder) if holder.isdigit() else None
            raise DatabaseInUse(self.database_path, pid) from None
        except OSError as error:  # ENOLCK, EOPNOTSUPP: a file system without flock
            os.close(fd)
            self._cannot(error)
            return False
        with suppress(OSError):  # the pid only words the refusal (a full disk)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd
        return True

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            pass  # made by another user (a root run before): a lock needs no write access
        except OSError as error:
            self._cannot(error)
            return None
        try:
            return os.open(self.path, os.O_RDONLY)
        except OSError as error:
            self._cannot(error)
            return None

    def _cannot(self, error: OSError) -> None:
        log.warning(
            "cannot hold %s alone (%s: %s); running without the lock that keeps a second bot "
            "off it",
            self.database_path,
            self.path,
            error.strerror or error,
        )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor lets go of the lock
            self._fd = None


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
    # Alembic (with Mako and Pygments) costs about a third of a second to import: only the
    # commands that migrate pay it, not every start of the bot.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a percent sign in a password.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:'([^']*)'|\"([^\"]*)\"|None)\s*$", re.M
)


def known_revisions() -> dict[str, str | None]:
    """Every migration's revision and the one it revises, read from migrations/versions.

    The same two lines alembic reads (``revision = '0006'``, ``down_revision = '0005'``),
    without importing alembic; tests/storage/test_migrations.py checks both agree.
    """
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found: dict[str, str | None] = {}
        for match in _REVISION_LINE.finditer(path.read_text(encoding="utf-8")):
            found[match.group(1)] = match.group(2) or match.group(3)
        if found.get("revision"):
            revisions[str(found["revision"])] = found.get("down_revision")
    return revisions


def head_revision() -> str:
    revisions = known_revisions()
    heads = set(revisions) - {down for down in revisions.values() if down}
    assert len(heads) == 1, f"migrations/versions must have one head, not {sorted(heads)}"
    return heads.pop()


def schema_status(engine: Engine) -> SchemaStatus:
    """Say how the database relates to this code's migrations, without changing anything."""
    revisions = known_revisions()
    head = head_revision()
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        current = None
        if "alembic_version" in tables:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            current = rows[0][0] if rows else None
    if current is None:
        known = tables - {"alembic_version"}
        state = SchemaState.UNVERSIONED if known else SchemaState.EMPTY
        return SchemaStatus(state, None, head)
    if current == head:
        return SchemaStatus(SchemaState.CURRENT, current, head)
    if current not in revisions:
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


# --- one sender per database ---------------------------------------------------------------

# The key of the PostgreSQL advisory lock held by the instance that sends the fan-out.
FANOUT_LOCK_KEY = 4_770_132


class SenderLock:
    """Which instance on this database sends the fan-out: one at a time, handed over at death.

    On PostgreSQL a session advisory lock held on a connection of its own: the server drops it
    the moment that connection ends, so a kill -9 (the kernel closes the socket) hands the
    fan-out to the next instance whose scan asks, within one scan interval. A holder checks at
    each ask that its session still holds the lock, and lets go when it does not. On SQLite the
    bot is one process by design, so it always holds it. Measured: an ask costs one round trip
    (0.7 ms p50 here); a shared token-bucket row would cost a write per message instead.
    """

    def __init__(self, database: Database, key: int = FANOUT_LOCK_KEY) -> None:
        self.database = database
        self.key = key
        self._connection: Any = None

    def hold(self) -> bool:
        """True when this instance holds the lock (taking it if it is free)."""
        if self.database.is_sqlite:
            return True
        if self._connection is not None:
            try:
                # The lock itself, not just a live connection: one silently reconnected
                # would answer SELECT 1 without holding anything.
                still = self._connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND pid = pg_backend_pid() AND objid = :key AND objsubid = 1"
                    ),
                    {"key": self.key},
                ).scalar()
                self._connection.commit()
                if still:
                    return True
            except Exception:
                pass
            self._drop()
        connection = self.database.engine.connect()
        try:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            connection.commit()
        except Exception:
            connection.invalidate()
            connection.close()
            raise
        if taken:
            self._connection = connection
            self.database.own_connections.add(self)
            return True
        connection.close()
        return False

    @property
    def held(self) -> bool:
        return self.database.is_sqlite or self._connection is not None

    def release(self) -> None:
        """Let another instance send (a clean stop)."""
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._connection.commit()
            self._connection.close()
            self._connection = None
        except Exception:
            self._drop()

    def _drop(self) -> None:
        # Closing it for real (not back to the pool) ends the session and with it the lock.
        connection, self._connection = self._connection, None
        try:
            connection.invalidate()
            connection.close()
        except Exception:
            pass


# --- replies of the other instances ----------------------------------------------------------

# The channel on which instances tell each other how many replies they sent. Channels, like
# advisory locks, belong to one database.
REPLIES_CHANNEL = "patientbot_replies"
# The same for the messages the sending instance paces (prompts, reminders, digests, closing
# edits): with them every instance sees the whole window, not only the replies in it. A
# channel of its own, so that an instance of an earlier version, which listens only for
# replies, does not take them for replies during a rolling upgrade.
PROMPTS_CHANNEL = "patientbot_prompts"
# The application_name of a session listening on REPLIES_CHANNEL: how an instance learns,
# from pg_stat_activity, whether anyone else would hear its announcements.
REPLIES_LISTENER_NAME = "patientbot replies"


class ReplyChannel:
    """Replies sent by one instance, and the prompts the sending instance paced, told to the
    others sharing the PostgreSQL database.

    ``announce`` is one ``pg_notify`` on a pooled connection (a round trip, no table row); the
    server hands it to every listening session when it commits. ``listen`` blocks on a
    connection of its own, named ``REPLIES_LISTENER_NAME``, until told to stop;
    ``others_listening`` counts the sessions of that name but ours. Nothing here is durable: a
    count lost with a dying instance costs at most a 429, which the sender's pacer honours.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.released = False
        self.listener_pid: int | None = None  # our listening session's, while it listens

    def announce(self, instance: str, replies: int, prompts: int = 0) -> None:
        """Tell the others how many replies and paced messages went out (one transaction)."""
        with self.database.engine.connect() as connection:
            for channel, count in ((REPLIES_CHANNEL, replies), (PROMPTS_CHANNEL, prompts)):
                if count:
                    connection.execute(
                        text("SELECT pg_notify(:channel, :message)"),
                        {"channel": channel, "message": f"{count} {instance}"},
                    )
            connection.commit()

    def others_listening(self) -> int:
        """Sessions listening for announcements, other than this instance's own."""
        with self.database.engine.connect() as connection:
            count = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = :name AND pid <> :own"
                ),
                {"name": REPLIES_LISTENER_NAME, "own": self.listener_pid or 0},
            ).scalar_one()
            connection.commit()
        return int(count)

    def listen(
        self, heard: Callable[[str, int, bool], None], stopping: Callable[[], bool]
    ) -> None:
        """Call ``heard(instance, count, paced)`` for each announcement (ours too) until
        ``stopping()``; raise if cut off. ``paced``: the count is of paced messages (prompts and
        the like), not of replies.

        Polled five times a second for ``stopping`` (or ``release``, when the database is
        disposed): a stop waits at most that long.
        """
        self.database.own_connections.add(self)
        connection = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            connection.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": REPLIES_LISTENER_NAME},
            )
            connection.execute(text(f"LISTEN {REPLIES_CHANNEL}"))
            connection.execute(text(f"LISTEN {PROMPTS_CHANNEL}"))
            driver = connection.connection.driver_connection
            assert driver is not None
            self.listener_pid = driver.info.backend_pid
            while not (stopping() or self.released):
                for notice in driver.notifies(timeout=0.2):
                    count, _, instance = notice.payload.partition(" ")
                    heard(instance, int(count), notice.channel == PROMPTS_CHANNEL)
        finally:
            self.listener_pid = None
            # LISTEN stays with the session: never hand this connection back to the pool.
            connection.invalidate()
            connection.close()

    def release(self) -> None:
        """Stop listening (within a fifth of a second): the database is being disposed."""
        self.released = True
