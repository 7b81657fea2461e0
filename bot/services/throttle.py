"""Slowing down invite-code guessing: a small counter per Telegram user, kept in the database.

A code from a stranger is checked against every group's invites, so guessing is cheap unless
wrong codes cost time. After ``failures`` wrong codes within ``window`` a user's ``/start CODE``
is refused for a cool-down (a right code too, or guessing would go on behind it); each further
cool-down lasts twice as long, up to ``cooldown_max``, and that count is forgotten once
``cooldown_max`` has passed without one. Everyone's wrong codes are also counted together per
``alert_window``; the first time they reach ``alert_failures`` the administrators are told.

State lives in ``code_attempts`` because several instances share one database; a user's row is
one small counter whatever the number of attempts, and the due scan deletes it once it has
expired (``purge``). Callers pass their own session: the counting is part of ``/start``'s one
transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from bot.frozen import frozen
from storage.db import Database
from storage.models import CodeAttempts

# Telegram user ids are positive: 0 is nobody, so it can stand for everyone.
EVERYONE = 0
# Past this many doublings every cool-down is the longest anyway (and 2**n stays small).
MAX_DOUBLINGS = 20


@frozen
class ThrottlePolicy:
    failures: int
    window: timedelta
    cooldown: timedelta
    cooldown_max: timedelta
    alert_failures: int
    alert_window: timedelta = timedelta(hours=1)


# The documented defaults of config.toml's [invites] table.
DEFAULT_THROTTLE = ThrottlePolicy(
    failures=5,
    window=timedelta(minutes=10),
    cooldown=timedelta(minutes=15),
    cooldown_max=timedelta(hours=24),
    alert_failures=200,
)


@frozen
class Burst:
    """Everyone's wrong codes reached the alert level: tell the administrators, once."""

    failures: int
    since: datetime  # UTC, the start of the counting window


@frozen
class Failure:
    blocked_until: datetime | None  # this wrong code started a cool-down that ends then
    burst: Burst | None = None


def blocked_until(session: Session, now: datetime, user_id: int) -> datetime | None:
    """The end of the user's cool-down, if one is running now."""
    until = session.exec(
        select(CodeAttempts.blocked_until).where(CodeAttempts.user_id == user_id)
    ).first()
    return until if until is not None and until > now else None


def record_failure(
    session: Session, now: datetime, policy: ThrottlePolicy, user_id: int
) -> Failure:
    """Count one wrong code of ``user_id`` (and of everyone); the caller commits."""
    row = _counter(session, now, user_id)
    if now - row.window_started_at >= policy.window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    blocked = None
    if row.failures >= policy.failures:
        doubled = policy.cooldown * 2 ** min(row.cooldowns, MAX_DOUBLINGS)
        blocked = now + min(doubled, policy.cooldown_max)
        row.blocked_until = blocked
        row.cooldowns += 1
        # A fresh count once the cool-down is over.
        row.failures, row.window_started_at = 0, blocked
    ends = row.window_started_at + policy.window
    if row.blocked_until is not None:
        # Kept a while after a cool-down, so the next one is longer.
        ends = max(ends, row.blocked_until + policy.cooldown_max)
    row.expires_at = ends
    return Failure(blocked, _count_all(session, now, policy))


def _count_all(session: Session, now: datetime, policy: ThrottlePolicy) -> Burst | None:
    row = _counter(session, now, EVERYONE)
    if now - row.window_started_at >= policy.alert_window:
        row.failures, row.window_started_at, row.alerted = 0, now, False
    row.failures += 1
    row.expires_at = row.window_started_at + policy.alert_window
    if row.failures >= policy.alert_failures and not row.alerted:
        row.alerted = True
        return Burst(row.failures, row.window_started_at)
    return None


def _counter(session: Session, now: datetime, user_id: int) -> CodeAttempts:
    """The user's row, locked; a new one when there is none or it has expired unpurged."""
    row = session.exec(
        select(CodeAttempts).where(CodeAttempts.user_id == user_id).with_for_update()
    ).first()
    if row is None:
        # Two instances inserting the same user's row at once: the loser's IntegrityError
        # makes /start run again, and then it finds this row.
        row = CodeAttempts(user_id=user_id, window_started_at=now, expires_at=now)
        session.add(row)
    elif row.expires_at <= now:
        row.failures, row.cooldowns, row.alerted = 0, 0, False
        row.window_started_at, row.blocked_until = now, None
    return row


def purge(database: Database, now: datetime) -> int:
    """Delete the counters that have expired (the due scan calls this); return how many."""
    with database.session() as session:
        result = session.exec(delete(CodeAttempts).where(col(CodeAttempts.expires_at) <= now))
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
