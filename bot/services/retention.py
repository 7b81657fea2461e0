"""Retention: answers and finished check-ins older than ``[retention] answers_days`` go.

The due scan's housekeeping calls ``purge_old_answers`` once per scan: one batch of the oldest
finished check-ins (with their answers) per transaction, and one audit event for the batch in
the same transaction, so the trail says when, how many and up to when, and never whose.
Open and pending check-ins are never touched, whatever their age: a patient may still answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from bot.services.audit import SYSTEM, AuditAction, ObjectKind, record
from storage.db import Database
from storage.models import Answer, Delivery, DeliveryStatus

FINISHED = (
    DeliveryStatus.COMPLETED.value,
    DeliveryStatus.SKIPPED.value,
    DeliveryStatus.EXPIRED.value,
    DeliveryStatus.FAILED.value,
    DeliveryStatus.CANCELLED.value,
)


def purge_old_answers(database: Database, now: datetime, days: int, batch_size: int) -> int:
    """Delete up to ``batch_size`` check-ins finished before ``now - days``, with their answers.

    Returns how many check-ins went (0: nothing was old enough, and nothing was recorded).
    """
    cutoff = now - timedelta(days=days)
    with database.session() as session:
        ids = list(
            session.exec(
                select(Delivery.id)
                .where(col(Delivery.status).in_(FINISHED), col(Delivery.finished_at) < cutoff)
                .order_by(col(Delivery.finished_at), col(Delivery.id))
                .limit(batch_size)
            ).all()
        )
        if not ids:
            return 0
        answers = session.exec(delete(Answer).where(col(Answer.delivery_id).in_(ids))).rowcount
        session.exec(delete(Delivery).where(col(Delivery.id).in_(ids)))
        record(
            session,
            now,
            SYSTEM,
            AuditAction.RETENTION_PURGE,
            ObjectKind.CHECK_INS,
            None,
            group_id=None,
            after={
                "finished_before": cutoff.isoformat(),
                "check_ins": len(ids),
                "answers": answers,
            },
        )
        session.commit()
        return len(ids)
