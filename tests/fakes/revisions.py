"""Rows a test writes by hand need what the use cases write with them: question revisions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlmodel import Session

from bot.services.revisions import add_first_revision, current_revision
from storage.models import Question

# When a hand-written question's first wording dates from: before any test's clock.
EARLY = datetime(2000, 1, 1, tzinfo=UTC)


def with_first_revisions(session: Session, questions: Iterable[Question]) -> None:
    """Give questions added by hand their revision 1, as creating a task does."""
    for question in questions:
        add_first_revision(session, question, EARLY)
    session.flush()


def revision_id(session: Session, question_id: int) -> int:
    """The id of the revision an answer to this question is given against now."""
    question = session.get(Question, question_id)
    assert question is not None
    revision = current_revision(session, question)
    assert revision.id is not None
    return revision.id
