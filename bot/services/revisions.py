"""Question revisions: a change of what a patient reads adds a revision, never rewrites one.

A question's own row always holds its newest wording (``Question.revision`` numbers it), so
asking reads one row; ``question_revisions`` keeps every wording, and each answer points at
the one it answered. Reports, exports and ``/mydata`` read the text from there.

Translations (``bot.services.content``) are not part of the wording: a new or corrected
translation changes the newest revision in place, so a patient halfway through is not asked
the same question again. A new canonical wording drops the translations of the fields that
changed (a translation of the old text would say something else), unless the caller (the
seed) gives the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.services.content import Translations, without_stale
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
        QuestionRevision(
            question_id=question.id,
            revision=1,
            created_at=now,
            translations=question.translations,
            **_wording(question),
        )
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
    question.translations = without_stale(question.translations, before, after)
    session.add(
        QuestionRevision(
            question_id=question.id,
            revision=question.revision,
            created_at=now,
            translations=question.translations,
            **after,
        )
    )
    return True


def retranslate(session: Session, question: Question, translations: Translations | None) -> bool:
    """Give the question and its newest revision ``translations``; True if they changed.

    No new revision: the meaning a patient answers stays the same.
    """
    if question.translations == translations:
        return False
    question.translations = translations
    current_revision(session, question).translations = translations
    return True


def current_revision(session: Session, question: Question) -> QuestionRevision:
    """The revision a patient is asked now: the question's newest."""
    return session.exec(
        select(QuestionRevision).where(
            QuestionRevision.question_id == question.id,
            QuestionRevision.revision == question.revision,
        )
    ).one()


def answered_revisions(
    session: Session, revision_ids: Iterable[int | None]
) -> dict[int, QuestionRevision]:
    """Each revision answered, by id: its text, options and their translations."""
    wanted = {revision_id for revision_id in revision_ids if revision_id is not None}
    if not wanted:
        return {}
    rows = session.exec(select(QuestionRevision).where(col(QuestionRevision.id).in_(wanted)))
    return {revision.id: revision for revision in rows if revision.id is not None}
