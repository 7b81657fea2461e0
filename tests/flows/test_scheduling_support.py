"""Helpers for the scheduling tests: rows made in code, virtual time, an Application per test.

No tests live here; the module name only keeps it beside the tests that use it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar

from sqlmodel import col, select

from bot import scheduler
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import BotApplication
from bot.sender import Pacer
from bot.services.planning import plan_member, plan_task
from fakebotapi import FakeBotApi
from storage.db import Database
from storage.models import (
    Delivery,
    Membership,
    Person,
    Question,
    Role,
    Task,
    TherapyGroup,
)

T = TypeVar("T")


class VirtualTime:
    """A monotonic clock and a sleep for the pacer (and the fake API) that never really wait.

    ``run`` drives a coroutine: whenever everything runnable has run, time jumps to the
    earliest sleeper and wakes it, so concurrent senders keep their real order. While a thread
    (a database call) is busy and nobody sleeps, it waits a real millisecond.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._seq), future))
        await future

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(coroutine)
        while not task.done():
            for _ in range(40):
                await asyncio.sleep(0)
                if task.done():
                    break
            if task.done():
                break
            if self._sleepers:
                wake_at, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, wake_at)
                if not future.done():
                    future.set_result(None)
            else:
                await asyncio.sleep(0.001)
        return task.result()


def virtual_pacer(settings: Settings, vt: VirtualTime) -> Pacer:
    return Pacer(settings.scheduler.send_rate, clock=vt.time, sleep=vt.sleep)


@asynccontextmanager
async def running_app(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    api: FakeBotApi,
    vt: VirtualTime | None = None,
    instance_id: str | None = None,
) -> AsyncIterator[BotApplication]:
    """A real Application on the fake Bot API, its pacer on virtual time when given."""
    application = build_application(settings, request=api, clock=clock, database=database)
    if vt is not None:
        scheduler.state(application).pacer = virtual_pacer(settings, vt)
    if instance_id is not None:
        application.bot_data["deps"].instance_id = instance_id
    await application.initialize()
    try:
        yield application
    finally:
        await application.shutdown()


@dataclass
class World:
    """Groups, patients and tasks written straight to the database, planned as the bot would."""

    database: Database
    clock: ManualClock
    default_zone: str = "Europe/London"
    _users: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def group(self, name: str = "Shoulder Therapy 1", zone: str | None = None) -> int:
        with self.database.session() as session:
            group = TherapyGroup(name=name, timezone=zone, created_at=self.clock.now())
            session.add(group)
            session.commit()
            assert group.id is not None
            return group.id

    def patient(
        self,
        group_id: int,
        *,
        zone: str | None = None,
        user_id: int | None = None,
        quiet: tuple[time, time] | None = None,
    ) -> Person:
        """A patient who joins now: they get the group's future occurrences."""
        user_id = user_id or next(self._users)
        now = self.clock.now()
        with self.database.session() as session:
            person = Person(
                telegram_user_id=user_id,
                chat_id=user_id,
                first_name="Patient",
                last_name=str(user_id),
                timezone=zone,
                quiet_start=quiet[0] if quiet else None,
                quiet_end=quiet[1] if quiet else None,
                created_at=now,
            )
            session.add(person)
            session.flush()
            assert person.id is not None
            session.add(
                Membership(
                    group_id=group_id,
                    person_id=person.id,
                    role=Role.PATIENT.value,
                    joined_at=now,
                )
            )
            group = session.get(TherapyGroup, group_id)
            assert group is not None
            plan_member(session, person, group, now, self.default_zone)
            session.commit()
            return person

    def patients(self, group_id: int, count: int) -> list[Person]:
        """Many patients at once, in one transaction (a fan-out needs hundreds)."""
        now = self.clock.now()
        people = []
        with self.database.session() as session:
            group = session.get(TherapyGroup, group_id)
            assert group is not None
            for _ in range(count):
                user_id = next(self._users)
                person = Person(
                    telegram_user_id=user_id,
                    chat_id=user_id,
                    first_name="Patient",
                    last_name=str(user_id),
                    created_at=now,
                )
                session.add(person)
                session.flush()
                assert person.id is not None
                session.add(
                    Membership(
                        group_id=group_id,
                        person_id=person.id,
                        role=Role.PATIENT.value,
                        joined_at=now,
                    )
                )
                session.flush()
                plan_member(session, person, group, now, self.default_zone)
                people.append(person)
            session.commit()
        return people

    def task(
        self,
        group_id: int,
        due: tuple[date, time],
        *,
        title: str = "Perform 20 Press-Ups",
        recurrence: str | None = None,
        expiry_minutes: int = 24 * 60,
        questions: int = 2,
    ) -> int:
        """A task with yes/no questions, planned for every patient of the group now."""
        now = self.clock.now()
        with self.database.session() as session:
            task = Task(
                group_id=group_id,
                title=title,
                due_date=due[0],
                due_time=due[1],
                recurrence=recurrence,
                expiry_minutes=expiry_minutes,
                created_at=now,
            )
            session.add(task)
            session.flush()
            assert task.id is not None
            for position in range(1, questions + 1):
                session.add(
                    Question(
                        task_id=task.id,
                        position=position,
                        description=f"Question {position}",
                        response_type="yes_no",
                    )
                )
            session.flush()
            plan_task(session, task, now, self.default_zone)
            session.commit()
            return task.id

    def deliveries(
        self, *, task_id: int | None = None, person_id: int | None = None
    ) -> list[Delivery]:
        with self.database.session() as session:
            query = select(Delivery).order_by(col(Delivery.due_at), col(Delivery.id))
            if task_id is not None:
                query = query.where(Delivery.task_id == task_id)
            if person_id is not None:
                query = query.where(Delivery.person_id == person_id)
            return list(session.exec(query).all())

    def delivery(self, delivery_id: int) -> Delivery:
        with self.database.session() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            return row

    def person(self, person_id: int) -> Person:
        with self.database.session() as session:
            row = session.get(Person, person_id)
            assert row is not None
            return row

    def update_delivery(self, delivery_id: int, **values: Any) -> None:
        with self.database.session() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            session.commit()

    def statuses(self, *, task_id: int | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.deliveries(task_id=task_id):
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts


def at(day: date, clock_time: time, zone: str) -> datetime:
    """A local wall-clock time as an instant (test-side, independent of the code under test)."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    return datetime.combine(day, clock_time, tzinfo=ZoneInfo(zone)).astimezone(UTC)
