"""Drive the real Application through the fake Bot API, as a person in Telegram would.

A ``Harness`` owns one Application (built by ``bot.app.build_application``), the FakeBotApi it
talks to, a ManualClock and the database. Tests act through it (``await h.command(alice,
"/start", "SHOULDER1")``, ``await h.press(alice, "Yes")``) and read what a person would see
(``h.texts(alice.chat_id)``) or the rows that were stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import scheduler
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import BotApplication
from bot.handlers.therapist import menus_published
from bot.receiver import receiver
from bot.sender import Pacer, SteppingTime
from fakebotapi import ApiCall, FakeBotApi, ScreenMessage
from storage.db import Database
from tests.fakes.updates import JSON, UpdateFactory, User

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_SEED = PROJECT_ROOT / "seed_data" / "demo.toml"


class Harness:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        clock: ManualClock,
        api: FakeBotApi | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self._restarted = False
        self.clock = clock
        self.api = api or FakeBotApi(wall_clock=lambda: clock.now().timestamp())
        self.updates = UpdateFactory(self.api, clock=clock.now)
        self.app: BotApplication = self._build()
        self.processed: list[JSON] = []

    def _build(self) -> BotApplication:
        application = build_application(
            self.settings, request=self.api, clock=self.clock, database=self.database
        )
        # Pace on a clock that moves when the pacer sleeps: every spacing rule still holds
        # (one prompt a second per chat), but a flow test never waits for it in real time.
        stepping = SteppingTime()
        scheduler.state(application).pacer = Pacer(
            self.settings.scheduler.send_rate,
            clock=stepping.time,
            sleep=stepping.sleep,
        )
        return application

    async def start(self) -> Harness:
        await self.app.initialize()
        return self

    async def stop(self) -> None:
        await menus_published(self.app)
        await self.app.shutdown()
        if self._restarted:
            # The fixture disposes only the Database it handed over; this one is ours.
            self.database.dispose()

    async def restart(self) -> None:
        """Stop this Application and start a new one on the same database (a new process)."""
        await menus_published(self.app)
        # As a stop gives them back (``Receiver.close``), or a restart takes them back from a
        # dead process (``release_dead``, by its pid, which here would be this one's).
        await receiver(self.app).close()
        await self.app.shutdown()
        self.database.dispose()
        self.database = Database(self.database.url)
        self._restarted = True
        self.app = self._build()
        await self.app.initialize()

    # --- acting as a person -----------------------------------------------------------------

    async def feed(self, update: JSON) -> JSON:
        """Receive one raw update as getUpdates or a webhook call would, and handle it."""
        self.processed.append(update)
        await self.deliver(update)
        return update

    async def deliver(self, *updates: JSON) -> int:
        """Store updates in the inbox, then handle everything pending; returns how many."""
        incoming = receiver(self.app)
        await incoming.accept(list(updates))
        return await incoming.drain()

    async def text(self, user: User, text: str, reply_to: int | None = None) -> JSON:
        return await self.feed(self.updates.message(user, text, reply_to))

    async def command(self, user: User, command: str, *args: str) -> JSON:
        return await self.feed(self.updates.command(user, command, *args))

    async def press(self, user: User, label: str, message_id: int | None = None) -> JSON:
        """Press the button labelled ``label`` on the newest bot message that has one."""
        return await self.feed(self.updates.press(user, label, message_id))

    async def press_data(self, user: User, data: str, message_id: int | None = None) -> JSON:
        """Press a button carrying ``data`` (forged or stale buttons included)."""
        return await self.feed(self.updates.callback(user, data, message_id))

    async def photo(self, user: User, file_id: str | None = None) -> JSON:
        return await self.feed(self.updates.photo(user, file_id))

    async def video(self, user: User, file_id: str | None = None) -> JSON:
        return await self.feed(self.updates.video(user, file_id))

    async def sticker(self, user: User) -> JSON:
        return await self.feed(self.updates.sticker(user))

    async def voice(self, user: User) -> JSON:
        return await self.feed(self.updates.voice(user))

    async def document(self, user: User) -> JSON:
        return await self.feed(self.updates.document(user))

    async def edit(self, user: User, text: str, message_id: int) -> JSON:
        return await self.feed(self.updates.edited_message(user, text, message_id))

    async def again(self, update: JSON) -> None:
        """Receive an update a second time, as Telegram may redeliver it after a crash."""
        await self.deliver(update)

    # --- time and the scheduler -------------------------------------------------------------

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    async def scan(self) -> Any:
        """Run one due scan at the clock's time and wait for everything it sends."""
        from bot.scheduler import run_scan

        return await run_scan(self.app)

    async def advance_and_scan(self, delta: timedelta) -> Any:
        self.advance(delta)
        return await self.scan()

    # --- data -------------------------------------------------------------------------------

    def seed_demo(self, path: Path = DEMO_SEED) -> Any:
        """Load the demo seed as ``patientbot seed`` would, with dates relative to the clock."""
        from bot.services.seeding import apply_seed, read_seed

        now = self.clock.now()
        zone = self.settings.scheduler.default_timezone

        def today_in(tz: ZoneInfo) -> date:
            return now.astimezone(tz).date()

        plan = read_seed(path, today_in, zone)
        return apply_seed(self.database, plan, now, zone)

    # --- what a person sees -----------------------------------------------------------------

    def texts(self, chat_id: int) -> list[str]:
        """Plain text of every message the bot sent to the chat, as it reads now (after edits)."""
        return [m.plain or "" for m in self.api.messages(chat_id)]

    def last_text(self, chat_id: int) -> str:
        messages = self.api.messages(chat_id)
        assert messages, f"the bot sent nothing to chat {chat_id}"
        return messages[-1].plain or ""

    def screen(self, chat_id: int) -> list[ScreenMessage]:
        return self.api.messages(chat_id)

    def last_message(self, chat_id: int) -> ScreenMessage:
        messages = self.api.messages(chat_id)
        assert messages, f"the bot sent nothing to chat {chat_id}"
        return messages[-1]

    def callback_answers(self) -> list[ApiCall]:
        return self.api.calls_of("answerCallbackQuery")

    def new_calls(self, since: int) -> list[ApiCall]:
        return self.api.calls[since:]

    def transcript(self, users: Iterable[User]) -> str:
        """A readable log of what each person did and what the bot answered, in order."""
        names = {u.id: u.first_name for u in users}
        lines: list[str] = []
        for call in self.api.calls:
            if call.method in {"sendMessage", "editMessageText", "sendDocument"}:
                chat = call.params.get("chat_id")
                who = names.get(int(chat)) if chat is not None else None
                verb = "bot (edit)" if call.method == "editMessageText" else "bot"
                text = call.params.get("text") or call.params.get("caption") or ""
                lines.append(f"{verb} -> {who or chat}: {text}")
        return "\n".join(lines)


def patient(number: int, first_name: str | None = None) -> User:
    """A test patient; ids start at 100 so they never clash with the therapist's."""
    names = ["Alice", "Bob", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo"]
    return User(
        id=100 + number, first_name=first_name or names[number % len(names)], last_name="Test"
    )


def therapist(user_id: int = 9001) -> User:
    return User(id=user_id, first_name="Theo", last_name="Therapist")


@contextlib.asynccontextmanager
async def two_instances(
    settings: Settings, database: Database, clock: ManualClock
) -> AsyncIterator[tuple[Harness, Harness]]:
    """Instances A and B on one database and one Telegram: one numbering of updates and
    messages, as behind one webhook."""
    first = await Harness(settings, database, clock).start()
    second = Harness(settings, database, clock, api=first.api)
    second.updates = first.updates
    await second.start()
    try:
        yield first, second
    finally:
        await second.stop()
        await first.stop()
