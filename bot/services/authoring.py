"""Therapists, groups, invites, tasks and questions: the use cases behind the admin commands."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import select

from storage.db import Database
from storage.models import Person, Role


def is_therapist(database: Database, config_user_ids: Iterable[int], user_id: int) -> bool:
    """Listed under [therapists] in the configuration, or added with /addtherapist."""
    if user_id in set(config_user_ids):
        return True
    with database.session() as session:
        role = session.exec(select(Person.role).where(Person.telegram_user_id == user_id)).first()
    return role == Role.THERAPIST.value
