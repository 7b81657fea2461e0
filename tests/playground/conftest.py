"""Playground fixtures: a running playground (bot, fake Telegram, web server) per test.

The playground runs in the test's own event loop on an ephemeral loopback port, on a fresh
migrated SQLite database, with its ManualClock at a fixed morning (Wednesday 25 November 2026,
09:00 in London), so the demo's "today 11:00" press-up task is always two hours away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.playground import Playground, PlaygroundServer
from bot.playground.session import PATIENTS, THERAPIST, find_demo_seed
from storage.db import Database
from tests.conftest import START, fresh_database_url

ALICE, BOB, CHLOE = (person.id for person in PATIENTS)
THEO = THERAPIST.id


@asynccontextmanager
async def running_playground(url: str, clock: ManualClock) -> AsyncIterator[PlaygroundServer]:
    """A playground served on an ephemeral port over the database at ``url``, stopped after."""
    database = Database(url)
    settings = Settings.model_validate(
        {"database": {"url": url}, "scheduler": {"default_timezone": "Europe/London"}}
    )
    playground = Playground(settings, database, clock, seed=find_demo_seed())
    served = PlaygroundServer(playground, port=0)
    await served.start()
    await playground.start()
    try:
        yield served
        assert not playground.api.violations, playground.api.violations
    finally:
        await served.stop()
        await playground.stop()
        database.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url(request, "sqlite", tmp_path)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[PlaygroundServer]:
    async with running_playground(database_url, ManualClock(START)) as served:
        yield served


@pytest.fixture
async def client(server: PlaygroundServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


class Page:
    """The page's side of the API: act as a person, then read the state as the page would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.state: dict[str, Any] = {}

    async def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = await self.http.post(path, json=body)
        assert response.status_code == 200, response.text
        self.state = response.json()
        return self.state

    async def refresh(self) -> dict[str, Any]:
        response = await self.http.get("/api/state")
        assert response.status_code == 200, response.text
        self.state = response.json()
        return self.state

    async def send(self, user: int, text: str) -> dict[str, Any]:
        return await self.post("/api/send", user=user, text=text)

    async def advance(self, amount: str | float) -> dict[str, Any]:
        return await self.post("/api/clock", advance=amount)

    async def press(self, user: int, label: str) -> dict[str, Any]:
        """Press the button labelled ``label`` on the newest message that has one."""
        for message in reversed(self.chat(user)):
            for row in message["buttons"]:
                for button in row:
                    if button["text"] == label and "data" in button:
                        return await self.post(
                            "/api/press",
                            user=user,
                            message_id=message["id"],
                            callback_data=button["data"],
                        )
        raise LookupError(f"no button {label!r} in the chat of {user}")

    def chat(self, user: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.state["chats"][str(user)]
        return messages

    def last(self, user: int) -> dict[str, Any]:
        messages = self.chat(user)
        assert messages, f"nothing in the chat of {user}"
        return messages[-1]

    def bot_texts(self, user: int) -> list[str]:
        return [m["text"] or "" for m in self.chat(user) if m["from"] == "bot"]


@pytest.fixture
def page(client: httpx.AsyncClient) -> Page:
    return Page(client)
