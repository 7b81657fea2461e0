"""Question revisions: a change of what a patient reads adds a revision, never rewrites one.

A question's own row always holds its newest wording (``Question.revision`` numbers it), so
asking reads one row; ``question_revisions`` keeps every wording, and each answer points at
the one it answered. Reports, exports and ``/mydata`` read the text from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.models import REVISED_FIELDS, Question, QuestionRevision


def _wording(question: Question) -> dict[str, Any]:
    values = {name: getattr(question, name) for name in REVISED_FIELDS}
    values["options"] = list(values["options"]) if values["options"] else None
    return values


def add_first_revision(session: Session, question: Question, now: datetime) -> None:
    """Record a new question's wording as its revision 1 (the question is flushed first)."""
    if question.id is None:
        session.flush()
    assert question.id is not None
    question.revision = 1
    session.add(
        QuestionRevision(question_id=question.id, revision=1, created_at=now, **_wording(question))
    )


def revise(session: Session, question: Question, values: Mapping[str, Any], now: datetime) -> bool:
    """Set ``values`` on a stored question; True if its wording changed (a new revision).

    Fields outside the wording (whether an answer is required, the alert rule, removal) are
    set in place and make no revision.
    """
    before = _wording(question)
    for name, value in values.items():
        if getattr(question, name) != value:
            setattr(question, name, value)
    after = _wording(question)
    if after == before:
        return False
    assert question.id is not None
    question.revision += 1
    session.add(
        QuestionRevision(
            question_id=question.id, revision=question.revision, created_at=now, **after
        )
    )
    return True


def current_revision(session: Session, question: Question) -> QuestionRevision:
    """The revision a patient is asked now: the question's newest."""
    return session.exec(
        select(QuestionRevision).where(
            QuestionRevision.question_id == question.id,
            QuestionRevision.revision == question.revision,
        )
    ).one()


def answered_wordings(session: Session, revision_ids: Iterable[int]) -> dict[int, str]:
    """The text of each revision answered, by revision id."""
    wanted = set(revision_ids)
    if not wanted:
        return {}
    rows = session.exec(
        select(QuestionRevision.id, QuestionRevision.description).where(
            col(QuestionRevision.id).in_(wanted)
        )
    ).all()
    return {revision_id: text for revision_id, text in rows if revision_id is not None}
