"""The playground's start-up: the demo seed, the therapist it adds, and a clean stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlmodel import select

from bot.clock import ManualClock
from bot.config import Settings
from bot.playground import Playground, PlaygroundServer
from bot.playground.session import THERAPIST, find_demo_seed, playground_settings
from storage.models import Task, TherapyGroup
from tests.conftest import START


def _due_dates(playground: Playground) -> list[str]:
    with playground.database.session() as session:
        return sorted(str(d) for d in session.exec(select(Task.due_date)).all())


async def test_the_demo_is_loaded_on_the_first_start_only(server: PlaygroundServer) -> None:
    first = server.playground
    with first.database.session() as session:
        groups = sorted(session.exec(select(TherapyGroup.name)).all())
    assert groups == ["Hip Therapy 1", "Knee Therapy 1", "Shoulder Therapy 1"]
    before = _due_dates(first)
    # Three days later the demo's "today 11:00" would mean another date: it must not move.
    later = Playground(
        first.settings, first.database, ManualClock(START + timedelta(days=3)), seed=first.seed
    )
    await later.start()
    await later.stop()
    assert _due_dates(first) == before


def test_the_playground_therapist_joins_the_configured_ones() -> None:
    settings = Settings.model_validate({"therapists": {"user_ids": [42]}})
    assert playground_settings(settings).therapists.user_ids == [42, THERAPIST.id]
    assert settings.therapists.user_ids == [42], "the configured settings are left alone"


def test_the_demo_seed_is_found_from_the_source_tree() -> None:
    seed = find_demo_seed()
    assert seed is not None
    assert seed.name == "demo.toml"


async def test_waiting_pages_are_answered_when_the_server_stops(
    server: PlaygroundServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        version = (await http.get("/api/state")).json()["version"]
        waiting = asyncio.create_task(http.get(f"/api/state?since={version}&wait=20"))
        for _ in range(500):  # until the long poll has reached the server
            if server.playground.long_polls:
                break
            await asyncio.sleep(0.01)
        await server.stop()
        async with asyncio.timeout(5):
            response = await waiting
    assert response.status_code == 200
