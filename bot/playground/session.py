"""The playground's engine: the production Application behind an in-memory Telegram.

``Playground`` builds the one Application (``bot.app.build_application``: same handlers,
scheduler and database as production) with the FakeBotApi as its transport and a ManualClock
as its time. Updates go in through the fake's ``getUpdates`` queue and PTB's own polling
Updater, so the path from "a person typed something" to the handler is exactly production's.
The web server (``bot.playground.server``) only translates HTTP into the methods here.

What each person typed lives here, in memory: in Telegram it lives on the person's phone, not
in the bot, and the bot's database stays the source of truth for everything the bot decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from telegram.request import RequestData

from bot import scheduler
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import BotApplication
from bot.frozen import frozen
from bot.handlers.therapist import menus_published
from bot.playground.updates import JSON, Person, UpdateBuilder
from bot.receiver import receiver
from bot.scheduler import run_scan
from bot.sender import Pacer
from bot.texts.language import LANGUAGES
from fakebotapi import FakeBotApi
from storage.db import Database
from storage.models import (
    AuditEvent,
    Delivery,
    InboxUpdate,
    Invite,
    Membership,
    Role,
    TherapyGroup,
)
from storage.models import Person as Account

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_SEED = Path("seed_data") / "demo.toml"

# Fixed ids far from any real account the demo could meet; the bot sees them as Telegram users.
THERAPIST = Person(id=880_000_001, first_name="Theo", last_name=None, role="therapist")
PATIENTS = (
    Person(id=880_000_101, first_name="Alice", last_name=None, role="patient"),
    Person(id=880_000_102, first_name="Bob", last_name=None, role="patient"),
    Person(id=880_000_103, first_name="Chloe", last_name=None, role="patient"),
)
PEOPLE = (THERAPIST, *PATIENTS)

# Commands worth a click before anyone has joined (see ``Playground._suggest`` for after).
HINTS = {
    "therapist": ("/help", "/report Shoulder Therapy 1", "/patient Alice", "/media"),
    "patient": ("/start SHOULDER1", "/start HIP1", "/help"),
}

SAMPLE_PHOTO_ID = "playground-sample-photo"
SAMPLE_VIDEO_ID = "playground-sample-video"
SAMPLE_PHOTO_URL = "/static/sample-photo.svg"
SAMPLE_VIDEO_URL = "/static/sample-video.svg"

# A jump in time is walked in steps no longer than this, with a due scan after each, so a
# "+1 day" shows the evening's prompt and its reminders instead of skipping straight past them.
SCAN_STEP = timedelta(minutes=15)
MAX_ADVANCE = timedelta(days=31)
HANDLED_TIMEOUT = 15.0
# Bot API methods that change what a person sees; each one bumps the state version.
_SCREEN_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendVideo",
        "sendMediaGroup",
        "sendDocument",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "setMyCommands",
        "deleteMyCommands",
    }
)
_DURATION_RE = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


class PlaygroundError(ValueError):
    """A request the page should not have made (unknown person, missing button, ...)."""


@frozen
class Sent:
    """A message a person sent, as it shows on their side of the chat."""

    message_id: int
    kind: str  # "text", "photo" or "video"
    text: str | None
    date: int


@frozen
class Notice:
    """The short answer to a button press (Telegram's toast, or its alert box)."""

    seq: int
    person_id: int
    text: str
    alert: bool


def playground_settings(settings: Settings) -> Settings:
    """The configured settings with the playground's therapist allowed the admin commands."""
    ids = list(settings.therapists.user_ids)
    if THERAPIST.id not in ids:
        ids.append(THERAPIST.id)
    therapists = settings.therapists.model_copy(update={"user_ids": ids})
    return settings.model_copy(update={"therapists": therapists})


def parse_advance(value: Any) -> timedelta:
    """Read "PT1H", "P1D", "P1DT2H30M" (ISO 8601) or a number of seconds."""
    if isinstance(value, bool):
        raise PlaygroundError("advance must be an ISO 8601 duration or a number of seconds")
    if isinstance(value, int | float):
        delta = timedelta(seconds=value)
    elif isinstance(value, str) and (match := _DURATION_RE.fullmatch(value.strip().upper())):
        parts = {key: float(number) for key, number in match.groupdict().items() if number}
        if not parts:
            raise PlaygroundError(f"{value!r} names no amount of time")
        delta = timedelta(**parts)
    else:
        raise PlaygroundError("advance must be an ISO 8601 duration (PT1H, P1D) or seconds")
    if delta <= timedelta(0) or delta > MAX_ADVANCE:
        raise PlaygroundError("advance must be more than 0 seconds and at most 31 days")
    return delta


def find_demo_seed() -> Path | None:
    """The demo seed next to where the command runs, else in the source tree."""
    for candidate in (Path.cwd() / DEMO_SEED, PROJECT_ROOT / DEMO_SEED):
        if candidate.is_file():
            return candidate
    return None


class Playground:
    """One playground: its Application, fake Telegram, clock and the people you can be."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        clock: ManualClock,
        *,
        people: Iterable[Person] = PEOPLE,
        seed: Path | None = None,
    ) -> None:
        self.settings = playground_settings(settings)
        self.database = database
        self.clock = clock
        self.seed = seed
        self.people = {person.id: person for person in people}
        self.api = _ObservedApi(
            self._notify,
            wall_clock=lambda: clock.now().timestamp(),
            # A push wakes getUpdates at once, so a long wait costs nothing and keeps the
            # recorded calls from growing by twenty a second.
            poll_wait_cap=10.0,
        )
        self.application: BotApplication = build_application(
            self.settings, request=self.api, clock=clock, database=database, playground=True
        )
        self.updates = UpdateBuilder(self.api, clock.now)
        self._sent: dict[int, list[Sent]] = {person.id: [] for person in self.people.values()}
        self._suggestions: dict[int, list[str]] = {
            person.id: list(HINTS.get(person.role, ())) for person in self.people.values()
        }
        self._notices: list[Notice] = []
        self._version = 0
        self._calls_seen = 0
        self._clock_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._closing = False
        self.long_polls = 0
        self._running = False
        # Tells the page that a restarted playground's versions start again from zero.
        self.instance = secrets.token_hex(4)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the demo when the database is empty, then start the bot as run_polling would."""
        if self.seed is not None:
            await asyncio.to_thread(self._seed_if_empty, self.seed)
        # The database outlives the in-memory Telegram and the clock. Ids it already holds are
        # never reused, or the inbox would drop the next update as one it has handled (the
        # page waited for it in vain) and a typed answer would count as a message delivered
        # again; and time does not go back to before what it recorded, or an answer would be
        # "written before" the question it answers.
        update_id, message_id, newest = await asyncio.to_thread(self._where_the_last_run_left)
        self.api.continue_after(update_id=update_id, message_id=message_id)
        if newest is not None and newest > self.clock.now():
            self.clock.set(newest)
        for person in self.people.values():
            self.api.name_chat(person.chat_id, person.first_name, person.last_name)
        self.api.add_file(
            SAMPLE_PHOTO_ID, _static(SAMPLE_PHOTO_URL), "stretch.svg", "image/svg+xml"
        )
        self.api.add_file(SAMPLE_VIDEO_ID, _static(SAMPLE_VIDEO_URL), "squat.mp4", "video/mp4")
        # Simulated hours pass in milliseconds here, so Telegram's one-message-a-second per
        # chat would turn a "+1 day" into seconds of real waiting; the fake has no such limit.
        scheduler.state(self.application).pacer = Pacer(
            self.settings.scheduler.send_rate, per_chat_interval=0.0
        )
        app = self.application
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        # Nothing to gain here from publishing them beside the first updates (the fake answers
        # at once), and each person's page shows its / menu from its first look.
        await menus_published(app)
        await app.start()
        receiver(app).start(polling=True)
        self._running = True
        await self._refresh_suggestions()

    async def stop(self) -> None:
        """Stop as run_polling would: updater, application, then the shutdown hooks."""
        if not self._running:
            return
        self._running = False
        app = self.application
        await receiver(app).close()
        if app.running:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)

    def _where_the_last_run_left(self) -> tuple[int, int, datetime | None]:
        """The highest update id in the inbox, the highest message id any table keeps, and
        the newest moment the bot recorded as past (an update received, a question asked,
        a change audited)."""
        with self.database.session() as session:
            update_id = session.exec(select(func.max(InboxUpdate.update_id))).one()
            message_ids = [
                session.exec(select(func.max(column))).one()
                for table in SQLModel.metadata.sorted_tables
                for column in table.columns
                if column.name.endswith("message_id")
            ]
            moments = [
                session.exec(select(func.max(column))).one()
                for column in (
                    InboxUpdate.received_at,
                    Delivery.sent_at,
                    Delivery.asked_at,
                    Delivery.finished_at,
                    AuditEvent.at,
                )
            ]
        return (
            int(update_id or 0),
            max((int(m) for m in message_ids if m is not None), default=0),
            max((m for m in moments if m is not None), default=None),
        )

    def _seed_if_empty(self, path: Path) -> None:
        from bot import texts
        from bot.services.seeding import SeedError, apply_seed, read_seed

        # A read like `patientbot seed` does at the terminal: the entry point asks once, at start.
        with self.database.session() as session:
            if session.exec(select(TherapyGroup.id).limit(1)).first() is not None:
                return
        now = self.clock.now()
        zone = self.settings.scheduler.default_timezone

        def today_in(tz: ZoneInfo) -> date:
            return now.astimezone(tz).date()

        try:
            plan = read_seed(path, today_in, zone)
            report = apply_seed(self.database, plan, now, zone)
        except SeedError as error:
            # An edited demo file should not keep the playground from opening.
            for problem in error.problems:
                log.warning(texts.seed_problem(problem))
            log.warning(texts.cli_seed_rejected(len(error.problems)))
            return
        log.info(texts.cli_seed_report(str(path), report))

    # --- acting as a person -------------------------------------------------------------

    def person(self, person_id: Any) -> Person:
        try:
            return self.people[int(person_id)]
        except (KeyError, TypeError, ValueError):
            raise PlaygroundError(f"there is nobody with id {person_id!r} here") from None

    def set_app_language(self, person_id: Any, code: Any) -> None:
        """Switch the language of the person's Telegram app: their next updates carry it."""
        person = self.person(person_id)
        if code not in LANGUAGES:
            raise PlaygroundError(f"the bot speaks {', '.join(LANGUAGES)}, not {code!r}")
        self.people[person.id] = replace(person, language_code=code)
        self._version += 1
        self._notify()

    async def send_text(self, person_id: Any, text: Any) -> None:
        """Type a message (commands included) into the person's chat with the bot."""
        person = self.person(person_id)
        if not isinstance(text, str) or not text.strip():
            raise PlaygroundError("type something first")
        if len(text) > 4096:
            raise PlaygroundError("Telegram messages are at most 4096 characters")
        update = self.updates.text(person, text)
        self._remember(person, update, "text", text)
        await self._deliver(update)

    async def send_media(self, person_id: Any, kind: str) -> None:
        """Send the built-in sample photo or video, as if picked from the phone's gallery."""
        person = self.person(person_id)
        if kind == "photo":
            update = self.updates.photo(person, SAMPLE_PHOTO_ID)
        elif kind == "video":
            update = self.updates.video(person, SAMPLE_VIDEO_ID)
        else:
            raise PlaygroundError(f"cannot send a {kind!r}")
        self._remember(person, update, kind, None)
        await self._deliver(update)

    async def press(self, person_id: Any, message_id: Any, data: Any) -> None:
        """Press an inline button that really is on the bot's message."""
        person = self.person(person_id)
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise PlaygroundError("message_id must be a number")
        screen = self.api.message(person.chat_id, message_id)
        message = self.api.message_json(person.chat_id, message_id)
        if screen is None or message is None:
            raise PlaygroundError("that message is no longer in the chat")
        if not any(button.get("callback_data") == data for button in screen.buttons):
            raise PlaygroundError("that message has no such button (any more)")
        update = self.updates.press(person, message, str(data))
        query_id = update["callback_query"]["id"]
        await self._deliver(update)
        answer = self.api.answered_callbacks.get(query_id)
        if answer and answer.get("text"):
            self._notices.append(
                Notice(
                    seq=len(self._notices) + 1,
                    person_id=person.id,
                    text=str(answer["text"]),
                    alert=bool(answer.get("show_alert")),
                )
            )
            self._version += 1
            self._notify()

    async def advance(self, delta: timedelta) -> None:
        """Move simulated time forward, scanning for due prompts along the way."""
        async with self._clock_lock:
            target = self.clock.now() + delta
            while self.clock.now() < target:
                self.clock.set(min(target, _next_step(self.clock.now())))
                self._version += 1
                self._notify()
                await run_scan(self.application)

    def _remember(self, person: Person, update: JSON, kind: str, text: str | None) -> None:
        message = update["message"]
        self._sent[person.id].append(Sent(message["message_id"], kind, text, message["date"]))
        self._version += 1
        self._notify()

    async def _deliver(self, update: JSON) -> None:
        """Queue the update for getUpdates and wait until the bot has finished with it."""
        update_id = int(self.api.push_update(update)["update_id"])
        try:
            async with asyncio.timeout(HANDLED_TIMEOUT):
                await receiver(self.application).wait_handled(update_id)
        except TimeoutError:
            log.warning("update %s is still being handled; answering the page anyway", update_id)
        # Only what people send changes who belongs to which group.
        await self._refresh_suggestions()

    async def _refresh_suggestions(self) -> None:
        try:
            demo = await asyncio.to_thread(self._read_demo)
        except Exception:
            log.exception("the playground could not read the groups for its suggestions")
            return
        self._suggestions = {person.id: _suggest(person, demo) for person in self.people.values()}

    def _read_demo(self) -> DemoState:
        """Who is in which group now, and the invite codes still usable."""
        with self.database.session() as session:
            groups = list(session.exec(select(TherapyGroup.id, TherapyGroup.name)).all())
            invites = session.exec(
                select(Invite.code, Invite.group_id)
                .where(col(Invite.revoked_at).is_(None))
                .order_by(col(Invite.id))
            ).all()
            members = session.exec(
                select(
                    Account.telegram_user_id,
                    Account.first_name,
                    Account.last_name,
                    Membership.group_id,
                )
                .join(Membership, col(Membership.person_id) == col(Account.id))
                .where(Membership.role == Role.PATIENT.value, col(Membership.ended_at).is_(None))
                .order_by(col(Membership.joined_at))
            ).all()
        names = dict(groups)
        joined: dict[int, set[str]] = {}
        patients: list[str] = []
        for user_id, first, last, group_id in members:
            if user_id is None:
                continue  # erased at their request: no chips of theirs
            joined.setdefault(int(user_id), set()).add(names[group_id])
            name = f"{first} {last}".strip()
            if name not in patients:
                patients.append(name)
        return DemoState(
            invites=[(code, names[group_id]) for code, group_id in invites],
            joined=joined,
            patients=patients,
            groups=[name for _, name in sorted(groups)],
        )

    # --- what the page shows ------------------------------------------------------------

    @property
    def version(self) -> int:
        """A number that grows whenever anything on the page would change."""
        calls = self.api.calls
        seen = len(calls)
        self._version += sum(
            1 for call in calls[self._calls_seen : seen] if call.method in _SCREEN_METHODS
        )
        self._calls_seen = seen
        return self._version

    async def wait_for_change(self, since: int, seconds: float) -> None:
        """Return once the version differs from ``since``, or after ``seconds``."""
        self.long_polls += 1
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    while self.version == since and not self._closing:
                        await self._changed.wait()
        finally:
            self.long_polls -= 1

    def end_long_polls(self) -> None:
        """Answer every waiting long poll now, and any later one at once (shutting down)."""
        self._closing = True
        self._notify()

    def _notify(self) -> None:
        # Wake every waiter once; each checks the version and waits on the fresh event.
        self._changed.set()
        self._changed = asyncio.Event()

    def state(self) -> JSON:
        """Everything the page draws: people, their chats as they stand now, and the clock."""
        zone = ZoneInfo(self.settings.scheduler.default_timezone)
        now = self.clock.now()
        local = now.astimezone(zone)
        return {
            "instance": self.instance,
            "version": self.version,
            "clock": {
                "iso": now.isoformat(),
                "zone": str(zone),
                "local": f"{local:%a %d %b %Y}",
                "time": f"{local:%H:%M}",
                "abbreviation": local.tzname() or "",
            },
            "people": [self._person_json(person) for person in self.people.values()],
            "languages": [{"code": code, "name": name} for code, name in LANGUAGES.items()],
            "chats": {str(pid): self._chat_json(pid, zone) for pid in self.people},
            "notices": [
                {"seq": n.seq, "person": n.person_id, "text": n.text, "alert": n.alert}
                for n in self._notices[-20:]
            ],
        }

    def _person_json(self, person: Person) -> JSON:
        return {
            "id": person.id,
            "name": person.name,
            "role": person.role,
            "language": person.language_code,
            "suggestions": list(self._suggestions.get(person.id, ())),
            "commands": self._menu(person),
        }

    def _menu(self, person: Person) -> list[JSON]:
        """The command menu Telegram would show in this chat: the most specific scope first,
        and in each the list for the app's language before the one for every language."""
        scopes: list[JSON] = [
            {"type": "chat", "chat_id": person.chat_id},
            {"type": "all_private_chats"},
            {"type": "default"},
        ]
        for scope in scopes:
            for language_code in (person.language_code, ""):
                commands = self.api.commands(scope, language_code)
                if commands:
                    return [
                        {"command": c["command"], "description": c["description"]}
                        for c in commands
                    ]
        return []

    def _chat_json(self, person_id: int, zone: ZoneInfo) -> list[JSON]:
        items: list[tuple[int, JSON]] = []
        for sent in self._sent[person_id]:
            items.append((sent.message_id, self._sent_json(sent, zone)))
        for screen in self.api.messages(person_id):
            message = self.api.message_json(person_id, screen.message_id)
            if message is None:  # deleted between the two reads
                continue
            is_text = screen.kind == "text"
            date = message.get("edit_date") or message["date"]
            entry: JSON = {
                "id": screen.message_id,
                "from": "bot",
                "kind": screen.kind,
                "text": message.get("text" if is_text else "caption"),
                "entities": message.get("entities" if is_text else "caption_entities", []),
                "html": screen.text,
                "buttons": _buttons(screen.reply_markup),
                "edited": screen.edited,
                "time": _clock_time(message["date"], zone),
                "day": _day(message["date"], zone),
                "changed": _clock_time(date, zone),
            }
            if screen.kind != "text":
                entry["file_name"] = screen.file_name
                entry["file_url"] = f"/api/file?user={person_id}&message_id={screen.message_id}"
            if screen.kind == "photo" and message.get("photo"):
                # A chart is taller than a camera's 4:3: the page sizes it before it loads.
                entry["width"] = message["photo"][-1]["width"]
                entry["height"] = message["photo"][-1]["height"]
            items.append((screen.message_id, entry))
        items.sort(key=lambda item: item[0])
        return [entry for _, entry in items]

    @staticmethod
    def _sent_json(sent: Sent, zone: ZoneInfo) -> JSON:
        entry: JSON = {
            "id": sent.message_id,
            "from": "person",
            "kind": sent.kind,
            "text": sent.text,
            "entities": [],
            "buttons": [],
            "edited": False,
            "time": _clock_time(sent.date, zone),
            "day": _day(sent.date, zone),
        }
        if sent.kind == "photo":
            entry["file_url"] = SAMPLE_PHOTO_URL
        elif sent.kind == "video":
            entry["file_url"] = SAMPLE_VIDEO_URL
        return entry

    async def download(self, person_id: Any, message_id: Any) -> tuple[str, bytes]:
        """The file on one of the bot's messages, fetched the way the bot would fetch it."""
        person = self.person(person_id)
        try:
            message = self.api.message_json(person.chat_id, int(message_id))
        except (TypeError, ValueError):
            message = None
        if message is None:
            raise PlaygroundError("that message is no longer in the chat")
        media = message.get("document") or message.get("video") or message.get("photo")
        if isinstance(media, list):
            media = media[-1]  # the largest size
        if not isinstance(media, dict):
            raise PlaygroundError("that message has no file")
        file = await self.application.bot.get_file(media["file_id"])
        content = bytes(await file.download_as_bytearray())
        name = media.get("file_name") or (file.file_path or "file").rsplit("/", 1)[-1]
        return str(name), content


@frozen
class DemoState:
    """What the suggestions follow: invite codes (with their group), memberships, patients."""

    invites: list[tuple[str, str]]
    joined: dict[int, set[str]]  # Telegram user id -> names of the groups joined as a patient
    patients: list[str]  # in the order they joined
    groups: list[str]


def _suggest(person: Person, demo: DemoState) -> list[str]:
    """The commands worth a click for ``person`` now: joining what they have not joined, then
    what to do as a member; for the therapist, a look at the patients who joined."""
    if person.role == "therapist":
        busy = [group for group in demo.groups if any(group in g for g in demo.joined.values())]
        group = (busy or demo.groups or ["Shoulder Therapy 1"])[0]
        patient = (demo.patients or ["Alice"])[0]
        return ["/help", f"/report {group}", f"/patient {patient}", f"/media {group}", "/newtask"]
    joined = demo.joined.get(person.id, set())
    chips = [f"/start {code}" for code, group in demo.invites if group not in joined]
    if joined:
        chips += ["/tasks", "/mydata"]
    return [*chips, "/help"]


class _ObservedApi(FakeBotApi):
    """The tests' fake Bot API, telling the playground after every call that something moved."""

    def __init__(self, on_call: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_call = on_call

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = FakeBotApi.DEFAULT_NONE,
        write_timeout: object = FakeBotApi.DEFAULT_NONE,
        connect_timeout: object = FakeBotApi.DEFAULT_NONE,
        pool_timeout: object = FakeBotApi.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            return await super().do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        finally:
            self._on_call()


def _next_step(now: datetime) -> datetime:
    """The next quarter-hour boundary after ``now`` (UTC), where due times usually fall."""
    step = int(SCAN_STEP.total_seconds())
    seconds = int(now.timestamp())
    boundary = (seconds // step + 1) * step
    return datetime.fromtimestamp(boundary, tz=now.tzinfo)


def _clock_time(timestamp: int, zone: ZoneInfo) -> str:
    return f"{datetime.fromtimestamp(timestamp, tz=zone):%H:%M}"


def _day(timestamp: int, zone: ZoneInfo) -> str:
    return f"{datetime.fromtimestamp(timestamp, tz=zone):%A %d %B}"


def _buttons(markup: JSON | None) -> list[list[JSON]]:
    rows: list[list[JSON]] = []
    for row in (markup or {}).get("inline_keyboard", []):
        out: list[JSON] = []
        for button in row:
            entry: JSON = {"text": button["text"]}
            if "callback_data" in button:
                entry["data"] = button["callback_data"]
            elif "url" in button:
                entry["url"] = button["url"]
            out.append(entry)
        rows.append(out)
    return rows


def _static(url: str) -> bytes:
    return (STATIC_DIR / url.removeprefix("/static/")).read_bytes()
