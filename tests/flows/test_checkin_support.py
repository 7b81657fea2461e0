"""Helpers for the check-in flow tests: a readable transcript and the rows behind a chat.

No tests live here; the name keeps it within the check-in files beside the tests using it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from fakebotapi import ApiCall, parse_html
from storage.models import Answer, Delivery, Person, Task
from tests.fakes.harness import Harness
from tests.fakes.updates import JSON, User

# Set to a directory to keep the transcripts the flow tests write (for release notes).
TRANSCRIPT_DIR_ENV = "PATIENTBOT_TRANSCRIPT_DIR"


def local(hour: int, minute: int = 0, day: int = 25) -> datetime:
    """An instant in late November 2026, when London is on UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def at(h: Harness, instant: datetime) -> Any:
    """Move the clock to ``instant`` and run a due scan there."""
    h.clock.set(instant)
    return await h.scan()


@dataclass
class Transcript:
    """Acts through the harness and writes down who said what, as a person reads it."""

    h: Harness
    users: list[User]
    lines: list[str] = field(default_factory=list)
    _seen: int = 0

    def __post_init__(self) -> None:
        self._seen = len(self.h.api.calls)

    def note(self, text: str) -> None:
        self._flush()
        self.lines.append(f"--- {text} ---")

    async def command(self, user: User, command: str, *args: str) -> JSON:
        self._said(user, " ".join((command, *args)))
        return self._after(await self.h.command(user, command, *args))

    async def text(self, user: User, text: str) -> JSON:
        self._said(user, text)
        return self._after(await self.h.text(user, text))

    async def press(self, user: User, label: str) -> JSON:
        self._said(user, f"[presses {label}]")
        return self._after(await self.h.press(user, label))

    async def photo(self, user: User) -> JSON:
        self._said(user, "[sends a photo]")
        return self._after(await self.h.photo(user))

    async def video(self, user: User) -> JSON:
        self._said(user, "[sends a video]")
        return self._after(await self.h.video(user))

    async def at(self, instant: datetime) -> Any:
        self._flush()
        self.lines.append(f"--- {instant:%a %d %b %H:%M} UTC: due scan ---")
        report = await at(self.h, instant)
        self._flush()
        return report

    def text_of(self) -> str:
        self._flush()
        return "\n".join(self.lines) + "\n"

    def save(self, name: str, tmp_path: Path) -> Path:
        """Write the transcript to tmp_path, and to $PATIENTBOT_TRANSCRIPT_DIR when set."""
        text = self.text_of()
        target = tmp_path / name
        target.write_text(text, encoding="utf-8")
        keep = os.environ.get(TRANSCRIPT_DIR_ENV)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / name).write_text(text, encoding="utf-8")
        return target

    def _said(self, user: User, text: str) -> None:
        self._flush()
        self.lines.append(f"{user.first_name}: {text}")

    def _after(self, update: JSON) -> JSON:
        self._flush()
        return update

    def _flush(self) -> None:
        calls = self.h.api.calls[self._seen :]
        self._seen = len(self.h.api.calls)
        names = {u.id: u.first_name for u in self.users}
        for call in calls:
            line = format_call(call, names)
            if line:
                self.lines.append(line)


def format_call(call: ApiCall, names: dict[int, str]) -> str | None:
    """One bot action as a person would notice it; None for what nobody sees."""
    if not call.ok:
        return None
    chat = call.params.get("chat_id")
    who = names.get(int(chat), str(chat)) if chat is not None else ""
    if call.method == "answerCallbackQuery":
        toast = call.params.get("text")
        return f"  bot (button answer): {toast}" if toast else None
    if call.method not in ("sendMessage", "editMessageText"):
        return None
    raw = str(call.params.get("text", ""))
    plain = parse_html(raw)[0] if call.params.get("parse_mode") == "HTML" else raw
    verb = "edits its message" if call.method == "editMessageText" else "says"
    body = "\n".join(f"    {line}" if line else "" for line in plain.strip().splitlines())
    buttons = _buttons(call.params.get("reply_markup"))
    text = f"  bot {verb} to {who}:\n{body}"
    return f"{text}\n    {buttons}" if buttons else text


def _buttons(markup: Any) -> str:
    if not isinstance(markup, dict):
        return ""
    rows = markup.get("inline_keyboard") or []
    return " / ".join(" ".join(f"[{b['text']}]" for b in row) for row in rows)


# --- rows ---------------------------------------------------------------------------------------


def person_of(h: Harness, user: User) -> Person | None:
    with h.database.session() as session:
        return session.exec(select(Person).where(Person.telegram_user_id == user.id)).first()


def deliveries_of(h: Harness, user: User, title: str | None = None) -> list[Delivery]:
    with h.database.session() as session:
        query = (
            select(Delivery)
            .join(Person, col(Person.id) == Delivery.person_id)
            .join(Task, col(Task.id) == Delivery.task_id)
            .where(Person.telegram_user_id == user.id)
            .order_by(col(Delivery.due_at), col(Delivery.id))
        )
        if title is not None:
            query = query.where(Task.title == title)
        return list(session.exec(query).all())


def delivery_of(h: Harness, user: User, title: str) -> Delivery:
    rows = [d for d in deliveries_of(h, user, title) if d.status != "pending"]
    assert len(rows) == 1, rows
    return rows[0]


def answers_of(h: Harness, delivery_id: int | None) -> list[Answer]:
    with h.database.session() as session:
        return list(
            session.exec(
                select(Answer)
                .where(Answer.delivery_id == delivery_id)
                .order_by(col(Answer.question_id))
            ).all()
        )


def hold_sends(h: Harness, *, first_only: bool = False) -> tuple[asyncio.Event, asyncio.Event]:
    """From now on Telegram holds every sendMessage (or only the next one) until ``released``
    is set; ``holding`` is set once one is held."""
    holding, released = asyncio.Event(), asyncio.Event()
    plain = h.api.do_request

    async def held(url: str, method: str, *args: object, **kwargs: object) -> object:
        held_already = first_only and holding.is_set()
        if url.endswith("/sendMessage") and not released.is_set() and not held_already:
            holding.set()
            await released.wait()
        return await plain(url, method, *args, **kwargs)  # type: ignore[arg-type]

    h.api.do_request = held  # type: ignore[method-assign]
    return holding, released
