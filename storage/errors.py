"""Telling a database that is away for a while from a bug in a query."""

from __future__ import annotations

import logging

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


def log_failure(log: logging.Logger, what: str, error: BaseException) -> None:
    """Log work that failed and will be tried again: a warning naming the driver's reason when
    the database is away, else an error with its traceback (a bug to look at)."""
    if is_unavailable(error):
        log.warning("%s failed: the database is unavailable (%s)", what, unavailable_reason(error))
    else:
        log.error("%s failed", what, exc_info=error)


class MigrationRefused(Exception):
    """A migration found data it cannot carry over; it changed nothing, and says what to do."""


class InviteCodeClash(MigrationRefused):
    """Invite codes that differ only in case, which revision 0006 makes one code."""

    def __init__(self, invites: list[tuple[int, str, str]]) -> None:
        self.invites = invites  # (invite id, code, group name), clashing codes next to each other
        listing = "; ".join(
            f"'{code}' (invite {invite_id}, group '{group}')" for invite_id, code, group in invites
        )
        example_id, example_code, _group = invites[-1]
        super().__init__(
            "The upgrade makes invite codes unique whatever their case ('/start shoulder1' "
            "could join either group), and these codes differ only in case: "
            f"{listing}. Nothing was changed. Give all but one of each a code of its own, "
            f"for example UPDATE invites SET code = '{example_code}-2' WHERE id = {example_id}; "
            "(and hand its patients the new code), or delete the invites no longer used; then "
            "run `patientbot db upgrade` again."
        )
