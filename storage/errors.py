"""Telling a database that is away for a while from a bug in a query."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be used right now (it may come back).

    PostgreSQL stopped, restarting, refusing connections or having dropped ours; SQLite
    locked by another writer for longer than the busy timeout. Not a bug in a query.
    """
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def unavailable_reason(error: BaseException) -> str:
    """The driver's own first line ("database is locked"), without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
