"""What an erasure leaves of a person: a keyed hash of their Telegram user id, nothing else.

``/deletemydata`` replaces the person's Telegram user id and chat id with ``mark(key, id)``,
HMAC-SHA256 under the erasure key (``[privacy] erasure_key``, see ``bot.config``). The bot,
which holds the key, can tell that a pressed button or a message comes from someone who erased
their data, and say so instead of "you haven't joined". Whoever holds only the database cannot
go back from the mark to the person: without the key, trying every possible Telegram id gives
nothing to compare with. The same user joining again is a new person with a new row.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage.models import Person

_BY_MARK = select(col(Person.id)).where(Person.erased_user_mark == bindparam("mark")).limit(1)


def mark(key: bytes, telegram_user_id: int) -> str:
    """The erased person's mark: 64 hex digits, the same for the same user under one key."""
    return hmac.new(key, str(telegram_user_id).encode("ascii"), hashlib.sha256).hexdigest()


def was_erased(session: Session, key: bytes, telegram_user_id: int) -> bool:
    """Whether this Telegram user erased their data here (and is not a person again since)."""
    found = session.exec(_BY_MARK, params={"mark": mark(key, telegram_user_id)}).first()
    return found is not None
