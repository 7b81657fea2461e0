"""Retention: the due scan purges old answers and finished check-ins, a batch at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.config import RetentionSettings, Settings
from storage.db import Database
from storage.models import Answer, AuditEvent, Delivery
from tests.fakes.harness import Harness, patient

ALICE = patient(0)
DAYS = 30
BATCH = 2


@pytest.fixture
async def h(settings: Settings, database: Database, clock: ManualClock) -> AsyncIterator[Harness]:
    kept = settings.model_copy(
        update={"retention": RetentionSettings(answers_days=DAYS, purge_batch_size=BATCH)}
    )
    harness = await Harness(kept, database, clock).start()
    try:
        yield harness
    finally:
        await harness.stop()


def rows(h: Harness) -> tuple[dict[int, Delivery], dict[int, Answer]]:
    with h.database.session() as session:
        deliveries = {d.id or 0: d for d in session.exec(select(Delivery)).all()}
        answers = {a.id or 0: a for a in session.exec(select(Answer)).all()}
    return deliveries, answers


async def test_old_answers_go_in_batches_and_newer_data_stays_untouched(h: Harness) -> None:
    h.seed_demo()
    await h.command(ALICE, "/start", "SHOULDER1")
    await h.advance_and_scan(timedelta(hours=2))  # the press-ups at 11:00
    await h.press(ALICE, "▶️ Start now")
    await h.press(ALICE, "Yes")
    for _ in range(DAYS - 5):  # a month of check-ins, most of them left to expire
        await h.advance_and_scan(timedelta(days=1))
    deliveries, answers = rows(h)
    finished = [d for d in deliveries.values() if d.finished_at is not None]
    assert len(answers) == 1 and len(finished) > 2 * BATCH

    h.advance(timedelta(days=10))
    cutoff = h.clock.now() - timedelta(days=DAYS)
    old = {i for i, d in deliveries.items() if d.finished_at and d.finished_at < cutoff}
    assert len(old) > BATCH, "enough old check-ins for more than one batch"
    scans = 0
    while True:
        before = set(rows(h)[0])
        await h.scan()
        scans += 1
        purged = (before - set(rows(h)[0])) & old
        if not purged:
            break
        assert len(purged) <= BATCH

    after, answers_after = rows(h)
    assert not old & set(after), "every check-in finished before the cutoff is gone"
    assert answers_after == {}, "the one answer was older than the cutoff"
    for key, delivery in deliveries.items():
        if key not in old:
            assert after[key] == delivery, "newer and open check-ins are untouched"
    with h.database.session() as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    # The demo seed's own events first (its groups, Knee Therapy 1's consent text, the invites
    # and tasks), by the command line.
    seeded = [e for e in events if e.actor_role == "operator"]
    assert "consent_changed" in [e.action for e in seeded]
    events = events[len(seeded) :]
    assert [e.action for e in events] == ["retention_purge"] * len(events)
    assert [e.after["check_ins"] for e in events if e.after] == [BATCH] * (len(old) // BATCH) + (
        [len(old) % BATCH] if len(old) % BATCH else []
    )
    assert sum(e.after["answers"] for e in events if e.after) == 1
    assert {e.actor_role for e in events} == {"system"}
    assert scans == len(events) + 1, "one batch per scan, then a scan with nothing to purge"
