"""Shared fixtures: a freshly migrated database per test, on SQLite and on PostgreSQL.

Each run migrates one template database per backend with alembic (so every database test also
exercises the migrations). On SQLite each test gets a copy of the template file; on PostgreSQL
the run gets one copy of the template, emptied before each test. PostgreSQL comes from
``PATIENTBOT_TEST_POSTGRES_URL``; without it the local default is tried, and when no server
answers those tests are skipped with that reason.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from bot.clock import ManualClock
from bot.config import Settings
from storage.db import Database, head_revision, upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
RUN_ID = uuid.uuid4().hex[:8]
_counter = itertools.count()


def _postgres_url() -> tuple[str | None, str]:
    """The admin URL, or None and the reason PostgreSQL tests cannot run."""
    explicit = os.environ.get("PATIENTBOT_TEST_POSTGRES_URL")
    url = explicit or DEFAULT_POSTGRES_URL
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            return url, ""
    except psycopg.Error as error:
        if explicit:
            # CI names a server on purpose: its absence is a failure, not a skip.
            raise RuntimeError(
                f"PATIENTBOT_TEST_POSTGRES_URL={explicit} does not answer: {error}"
            ) from error
        return None, (
            f"PostgreSQL tests did not run: no server answers at {url} and "
            "PATIENTBOT_TEST_POSTGRES_URL is unset"
        )


def _libpq(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url, reason = _postgres_url()
    if url is None:
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> Iterator[str]:
    name = f"patientbot_tmpl_{RUN_ID}"
    _admin(postgres_admin_url, f'CREATE DATABASE "{name}"')
    try:
        upgrade(_with_database(postgres_admin_url, name))
        yield name
    finally:
        _admin(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(
            postgres_admin_url, f'DROP DATABASE IF EXISTS "patientbot_{RUN_ID}_tests" WITH (FORCE)'
        )


@pytest.fixture(scope="session")
def postgres_worker_database(postgres_admin_url: str, postgres_template: str) -> str:
    """One database per test run (and per xdist worker), emptied before each test."""
    name = f"patientbot_{RUN_ID}_tests"
    _admin(postgres_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    return name


def _reset_postgres(url: str, admin_url: str, name: str, template: str) -> None:
    """Empty every table and put the migration record back at head.

    Emptying takes a few milliseconds where ``CREATE DATABASE`` from a template takes hundreds;
    a test that damaged the schema itself gets a fresh copy of the template instead.
    """
    tables = ", ".join(f'"{t}"' for t in SQLModel.metadata.tables)
    try:
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")  # type: ignore[arg-type]
            connection.execute("DELETE FROM alembic_version")
            connection.execute(
                "INSERT INTO alembic_version (version_num) VALUES (%s)", (head_revision(),)
            )
    except psycopg.Error:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def clean_environment() -> dict[str, str]:
    """This process's environment without the bot's own variables: for a ``patientbot``
    subprocess that must read only what its test gives it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PATIENTBOT_", "TELEGRAM_"))}


def fresh_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A database at the migration head holding no rows."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / f"test-{next(_counter)}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    template_name: str = request.getfixturevalue("postgres_template")
    name: str = request.getfixturevalue("postgres_worker_database")
    url = _with_database(admin_url, name)
    _reset_postgres(url, admin_url, name, template_name)
    return url


def empty_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A new database with no tables at all, dropped after the test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'empty-{next(_counter)}.db'}"
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"patientbot_{RUN_ID}_{next(_counter)}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    request.addfinalizer(
        lambda: _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )
    return _with_database(admin_url, name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    return fresh_database_url(request, backend, tmp_path)


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    return empty_database_url(request, backend, tmp_path)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


# Wednesday 25 November 2026, 09:00 UTC (also 09:00 in London: no summer time in November).
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
THERAPIST_ID = 9001


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "therapists": {"user_ids": [THERAPIST_ID]},
            "scheduler": {"default_timezone": "Europe/London"},
        }
    )
