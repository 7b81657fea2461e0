"""Alembic environment: the models' metadata, batch mode for SQLite, types compared."""

from __future__ import annotations

import logging.config
from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import make_engine
from storage.models import unreflectable_indexes_ignored

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    # Run by hand through alembic.ini: take the same URL the bot would use.
    from bot.config import load_settings

    return load_settings().database.url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # pytest-alembic and the test suite hand over an engine or a connection of their own.
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    if isinstance(given, Engine):
        with given.connect() as connection:
            _run(connection)
            connection.commit()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    # Batch mode on SQLite copies a table and drops the original; with foreign keys on, that
    # DROP deletes every row referring to it (ON DELETE CASCADE: memberships, deliveries,
    # answers). The pragma is a no-op inside a transaction, so it is set on the raw
    # connection before alembic begins one, and the keys are checked before they come back.
    keys_off = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if keys_off:
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            # SQLite cannot ALTER most things; batch mode copies the table instead.
            render_as_batch=True,
        )
        # Batch mode reflects a table to copy it; on SQLite that skips uq_invites_lower_code,
        # so a migration that recreates ``invites`` must create that index again.
        with context.begin_transaction(), unreflectable_indexes_ignored():
            context.run_migrations()
        if keys_off:
            if connection.in_transaction():
                connection.commit()
            broken = _sqlite_pragma(connection, "PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:10]}")
    finally:
        if keys_off:
            if connection.in_transaction():
                connection.rollback()
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection: Connection, statement: str) -> list[Any]:
    """Run a pragma on the DBAPI connection itself, outside SQLAlchemy's transaction."""
    cursor = connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
