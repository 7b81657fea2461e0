"""Helpers for the therapist flow tests: a two-sided transcript, table snapshots, joining.

No tests live here; the module name only keeps it beside the tests that use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.fakes.harness import Harness
from tests.fakes.updates import User

INVITE_LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")


@dataclass
class Chat:
    """Act through the harness and keep a transcript of both sides, in order."""

    h: Harness
    notes: list[tuple[int, str]] = field(default_factory=list)

    def _note(self, user: User, text: str) -> None:
        self.notes.append((len(self.h.api.calls), f"{user.first_name}: {text}"))

    async def command(self, user: User, command: str, *args: str) -> None:
        self._note(user, " ".join((command, *args)))
        await self.h.command(user, command, *args)

    async def text(self, user: User, text: str) -> None:
        self._note(user, text)
        await self.h.text(user, text)

    async def press(self, user: User, label: str) -> None:
        self._note(user, f"[taps {label}]")
        await self.h.press(user, label)

    async def press_data(self, user: User, data: str, message_id: int | None = None) -> None:
        self._note(user, f"[presses a button carrying {data}]")
        await self.h.press_data(user, data, message_id)

    async def scan(self, label: str) -> None:
        self.notes.append((len(self.h.api.calls), f"-- {label}"))
        await self.h.scan()

    def render(self, users: list[User]) -> str:
        names = {u.id: u.first_name for u in users}
        by_position: dict[int, list[str]] = {}
        for position, line in self.notes:
            by_position.setdefault(position, []).append(line)
        lines: list[str] = []
        calls = self.h.api.calls
        for index in range(len(calls) + 1):
            lines.extend(by_position.get(index, []))
            if index == len(calls):
                break
            call = calls[index]
            if not call.ok:
                continue
            who = names.get(int(call.chat_id or 0), str(call.chat_id))
            if call.method == "sendMessage":
                lines.append(_indent(f"bot → {who}: ", call.result.get("text", "")))
            elif call.method == "sendDocument":
                document = call.result.get("document", {})
                caption = call.result.get("caption", "")
                lines.append(f"bot → {who}: [file {document.get('file_name')}] {caption}")
            elif call.method == "editMessageText":
                tail = str(call.result.get("text", "")).rsplit("\n", 1)[-1]
                lines.append(f"bot edits its message → {tail}")
            elif call.method == "answerCallbackQuery" and call.params.get("text"):
                lines.append(f"bot (toast): {call.params['text']}")
        return "\n".join(lines)


def _indent(head: str, text: str) -> str:
    body = str(text).replace("\n", "\n" + " " * 4)
    return f"{head}{body}"


def invite_code(text: str) -> str:
    match = INVITE_LINK.search(text)
    assert match is not None, f"no invite link in {text!r}"
    return match[2]


async def join(h: Harness, user: User, code: str) -> None:
    await h.command(user, "/start", code)
