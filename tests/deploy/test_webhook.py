"""Webhook mode: our webhook server over real HTTP in front of the inbox, and the start-up rules
around it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot import scheduler, texts
from bot.app import build_application
from bot.cli import main
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import DEPS_KEY, BotApplication
from bot.handlers.therapist import menus_published
from bot.handlers.therapist.menus import MENUS_KEY
from bot.receiver import ALLOWED_UPDATES, receiver
from bot.webhook import WebhookSettingsError, install_lifecycle, running, webhook_options
from fakebotapi import FakeBotApi
from storage.db import Database
from storage.models import Answer, Delivery, InboxState, InboxUpdate, Task
from tests.deploy.conftest import PUBLIC_URL, TOKEN, WEBHOOK_SECRET, with_changes
from tests.fakes.harness import Harness, patient
from tests.fakes.updates import UpdateFactory, User
from tests.fakes.waiting import wait_until

ALICE = User(id=321, first_name="Alice", last_name="Test")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@asynccontextmanager
async def webhook_running(
    settings: Settings, database: Database, clock: ManualClock, api: FakeBotApi
) -> AsyncIterator[tuple[BotApplication, str]]:
    """Run the Application behind our webhook server as ``patientbot run`` does."""
    application = build_application(settings, request=api, clock=clock, database=database)
    options = webhook_options(settings)
    async with running(application, settings) as server:
        yield application, f"http://127.0.0.1:{server.port}{options.url_path}"


async def handled(application: BotApplication, update_id: int) -> None:
    """Wait until the worker has handled the update the webhook stored."""
    async with asyncio.timeout(10):
        await receiver(application).wait_handled(update_id)


def stored_updates(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(select(func.count()).select_from(InboxUpdate)).scalar_one())


def untaken_updates(database: Database) -> int:
    """Updates stored and not yet taken by any worker (pending, no lease)."""
    with database.session() as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(InboxUpdate)
                .where(
                    col(InboxUpdate.state) == InboxState.PENDING.value,
                    col(InboxUpdate.lease_until).is_(None),
                )
            ).scalar_one()
        )


async def post_update(url: str, update: dict[str, object], secret: str | None) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, json=update, headers=headers)


async def test_starting_the_webhook_tells_telegram_the_public_url_and_the_secret(
    webhook_settings: Settings, database: Database, clock: ManualClock
) -> None:
    api = FakeBotApi()
    async with webhook_running(webhook_settings, database, clock, api):
        pass
    (call,) = api.calls_of("setWebhook")
    assert call.params["url"] == PUBLIC_URL
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    assert api.webhook is not None


@pytest.mark.parametrize(
    ("secret", "why"),
    [(None, "no secret header"), ("not-the-secret", "a wrong secret"), ("", "an empty secret")],
)
async def test_a_request_without_the_right_secret_is_refused_and_not_processed(
    webhook_settings: Settings,
    database: Database,
    clock: ManualClock,
    secret: str | None,
    why: str,
) -> None:
    api = FakeBotApi()
    updates = UpdateFactory(api, clock=clock.now)
    async with webhook_running(webhook_settings, database, clock, api) as (_, url):
        response = await post_update(url, updates.command(ALICE, "/help"), secret)
    assert response.status_code == 403, why
    assert api.sent_to(ALICE.chat_id) == [], why
    assert stored_updates(database) == 0, why


async def test_a_request_with_the_right_secret_is_answered(
    webhook_settings: Settings, database: Database, clock: ManualClock
) -> None:
    api = FakeBotApi()
    updates = UpdateFactory(api, clock=clock.now)
    async with webhook_running(webhook_settings, database, clock, api) as (app, url):
        update = updates.command(ALICE, "/help")
        response = await post_update(url, update, WEBHOOK_SECRET)
        # 200 means stored: the row is there before the handler has necessarily run.
        assert response.status_code == 200
        assert stored_updates(database) == 1
        await handled(app, update["update_id"])
    (reply,) = api.sent_to(ALICE.chat_id)
    assert reply.method == "sendMessage"
    assert "/start" in (reply.text or "")
    assert not api.violations


async def test_polling_deletes_a_webhook_left_from_webhook_mode(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    api = FakeBotApi()
    application = build_application(settings, request=api, clock=clock, database=database)
    await application.initialize()
    await application.bot.set_webhook(PUBLIC_URL, secret_token=WEBHOOK_SECRET)
    await application.shutdown()
    async with running(application, settings):
        for _ in range(100):
            if api.calls_of("getUpdates"):
                break
            await asyncio.sleep(0.01)
    assert api.webhook is None
    assert api.calls_of("deleteWebhook")
    assert api.calls_of("getUpdates"), "polling went on after deleting the webhook"


async def test_polling_stores_updates_during_the_start_and_handles_them_after_it(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """The first getUpdates does not wait for the start's own work (the health endpoint, the
    therapists' places); what it brings is stored at once, and handled once that work is done."""
    api = FakeBotApi()
    application = build_application(settings, request=api, clock=clock, database=database)
    start_work_done = asyncio.Event()
    start_work = application.post_init
    assert start_work is not None

    async def start_work_held(app: BotApplication) -> None:
        await start_work_done.wait()
        await start_work(app)

    application.post_init = start_work_held
    help_request = UpdateFactory(api).command(ALICE, "/help")
    api.push_update(help_request)
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        async with running(application, settings):
            started.set()
            await stop.wait()

    serving = asyncio.create_task(serve())
    try:
        async with asyncio.timeout(10):
            await wait_until(lambda: stored_updates(database), 5, "the update to be stored")
            await asyncio.sleep(0.2)  # time enough for a worker, were one running, to take it
            assert not started.is_set()
            assert api.sent_to(ALICE.chat_id) == [], "handled before the start's work was done"
            assert untaken_updates(database) == 1
            start_work_done.set()
            await started.wait()
            await handled(application, help_request["update_id"])
            assert "/tasks" in (api.last_text(ALICE.chat_id) or "")
    finally:
        start_work_done.set()
        stop.set()
        await serving


async def test_a_start_check_that_fails_ends_the_fetching_and_keeps_what_it_stored(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """The start's own work fails while the first batch is being fetched: the start stops with
    that failure, the fetching ends with it, and the update waits, stored, for the next start."""
    api = FakeBotApi()
    application = build_application(settings, request=api, clock=clock, database=database)

    async def start_work_fails(app: BotApplication) -> None:
        await wait_until(lambda: stored_updates(database), 5, "the update to be stored")
        raise RuntimeError("the therapists' places could not be read")

    application.post_init = start_work_fails
    api.push_update(UpdateFactory(api).command(ALICE, "/help"))
    with pytest.raises(RuntimeError, match="places could not be read"):
        async with asyncio.timeout(10), running(application, settings):
            pass
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "polling"]
    assert untaken_updates(database) == 1
    assert api.sent_to(ALICE.chat_id) == []


async def test_a_start_that_cannot_listen_for_health_tells_telegram_nothing(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """A second start on one host finds the health port taken: it stops before dropping the
    webhook a production instance set, and before fetching any update."""
    api = FakeBotApi()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        configured = with_changes(settings, health={"listen": "127.0.0.1", "port": port})
        application = build_application(configured, request=api, clock=clock, database=database)
        install_lifecycle(application)
        await application.initialize()
        await application.bot.set_webhook(PUBLIC_URL, secret_token=WEBHOOK_SECRET)
        await application.shutdown()
        with pytest.raises(OSError, match="in use"):
            async with asyncio.timeout(10), running(application, configured):
                pass
    assert api.webhook is not None and api.webhook["url"] == PUBLIC_URL
    assert not api.calls_of("deleteWebhook") and not api.calls_of("getUpdates")


async def test_updates_are_taken_and_answered_while_telegram_is_slow_to_take_the_menus(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    """The menus (four requests, and one per therapist) go out beside the first updates."""
    api = FakeBotApi()
    released = asyncio.Event()
    plain = api.do_request

    async def menus_held(url: str, method: str, *args: object, **kwargs: object) -> object:
        if url.endswith("/setMyCommands"):
            await released.wait()
        return await plain(url, method, *args, **kwargs)  # type: ignore[arg-type]

    api.do_request = menus_held  # type: ignore[method-assign]
    application = build_application(settings, request=api, clock=clock, database=database)
    help_request = UpdateFactory(api).command(ALICE, "/help")
    async with asyncio.timeout(10), running(application, settings):
        api.push_update(help_request)
        await handled(application, help_request["update_id"])
        assert "/tasks" in (api.last_text(ALICE.chat_id) or ""), "answered before the menus"
        assert api.commands() == [], "the menus are still on their way"
        released.set()
        await menus_published(application)
        assert api.commands(), "then the menus went out"

    # A stop while the menus are still held ends their publishing instead of waiting for it.
    released.clear()
    application = build_application(settings, request=api, clock=clock, database=database)
    async with asyncio.timeout(10), running(application, settings):
        publishing = application.bot_data[MENUS_KEY]
        await asyncio.sleep(0.1)
    assert publishing.cancelled(), "the stop left the menus' task running"


def test_webhook_mode_refuses_to_start_without_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\nmode = "webhook"\nwebhook_url = "{PUBLIC_URL}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/bot.db"\n',
        encoding="utf-8",
    )
    code = main(["--config", str(config), "run"])
    err = capsys.readouterr().err
    assert code == 2
    assert "webhook_secret: required when mode is 'webhook'" in err
    assert "TELEGRAM_WEBHOOK_SECRET" in err
    assert TOKEN not in err
    assert not (tmp_path / "bot.db").exists(), "nothing may start before the refusal"


def test_webhook_options_refuse_an_empty_secret_even_without_a_token(
    settings: Settings,
) -> None:
    # Settings only insist on the secret when a token is set; the run path insists always.
    unsafe = with_changes(settings, telegram={"mode": "webhook", "webhook_url": PUBLIC_URL})
    with pytest.raises(WebhookSettingsError, match="webhook_secret"):
        webhook_options(unsafe)


def test_webhook_options_come_from_the_settings(webhook_settings: Settings) -> None:
    options = webhook_options(with_changes(webhook_settings, telegram={"webhook_path": "hook"}))
    assert options.url_path == "/hook"
    assert options.webhook_url == PUBLIC_URL
    assert options.secret_token == WEBHOOK_SECRET
    assert options.listen == "127.0.0.1"


def test_the_environment_configures_webhook_mode_for_a_container(tmp_path: Path) -> None:
    from bot.config import load_settings

    empty = tmp_path / "config.toml"
    empty.write_text("", encoding="utf-8")
    settings = load_settings(
        empty,
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_URL": PUBLIC_URL,
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0",
            "TELEGRAM_WEBHOOK_PORT": "9443",
            "PATIENTBOT_HEALTH_LISTEN": "0.0.0.0",
            "PATIENTBOT_HEALTH_PORT": "9081",
        },
    )
    options = webhook_options(settings)
    assert (options.listen, options.port) == ("0.0.0.0", 9443)
    assert (settings.health.listen, settings.health.port) == ("0.0.0.0", 9081)


# --- several instances behind one URL, sharing one database ------------------------------------


PAIN_ANSWER = "stiff after the long drive"


async def test_two_instances_on_one_database_walk_one_patient_through_alternately(
    settings: Settings, database_url: str, clock: ManualClock
) -> None:
    """Telegram's updates reach whichever instance the load balancer picks; all is in the DB."""
    first_db, second_db = Database(database_url), Database(database_url)
    first = await Harness(settings, first_db, clock).start()
    # Same Telegram (one fake), same clock, separate Application and engine: another process.
    second = await Harness(settings, second_db, clock, api=first.api).start()
    instances = [first, second]
    try:
        assert (
            first.app.bot_data[DEPS_KEY].instance_id != second.app.bot_data[DEPS_KEY].instance_id
        )
        first.seed_demo()
        alice = patient(1)
        updates = first.updates  # one Telegram numbering updates and message ids

        async def on(instance: int, update: dict[str, object]) -> None:
            await instances[instance].feed(update)

        await on(1, updates.command(alice, "/start", "SHOULDER1"))
        # 18:01: both instances run their due scan at the same moment.
        clock.advance(timedelta(hours=9, minutes=1))
        await asyncio.gather(first.scan(), second.scan())
        prompts = [t for t in first.texts(alice.chat_id) if "Time for your check-in" in t]
        assert len(prompts) == 2, "each due prompt goes out once, whichever instance claims it"

        await on(0, updates.press(alice, "▶️ Start now"))
        await on(1, updates.press(alice, "3"))
        minutes = updates.message(alice, "25")
        await on(0, minutes)
        await on(1, minutes)  # Telegram delivers it again, this time to the other instance
        await on(1, updates.message(alice, PAIN_ANSWER))
    finally:
        for h in instances:
            await h.stop()
        first_db.dispose()
        second_db.dispose()

    texts = first.texts(alice.chat_id)
    for question in ("How strong", "How many minutes", "Anything you want"):
        asked = [t for t in texts if question in t and "Question" in t]
        assert len(asked) == 1, f"{question!r} asked {len(asked)} times:\n" + "\n---\n".join(texts)
    assert any("Done: Shoulder pain check" in t for t in texts)
    check = Database(database_url)
    try:
        with check.session() as session:
            delivery = session.exec(
                select(Delivery)
                .join(Task)
                .where(Task.title == "Shoulder pain check", Delivery.status == "completed")
            ).one()
            answers = session.exec(
                select(Answer).where(Answer.delivery_id == delivery.id).order_by(col(Answer.id))
            ).all()
    finally:
        check.dispose()
    assert [(a.value_number, a.value_text) for a in answers] == [
        (3.0, "3"),
        (25.0, "25"),
        (None, PAIN_ANSWER),
    ], answers
    assert not first.api.violations


async def test_a_chat_flooding_two_instances_is_kept_quiet_as_one_instance_would_keep_it(
    settings: Settings, database_url: str, clock: ManualClock
) -> None:
    """The load balancer gives each instance half of a flooding chat's updates. Each counts
    the chat's arrivals in the inbox they share, so the replies stop at the limit as with one
    instance (each says once that they pause), not at twice it. Bob, writing now and then
    meanwhile, is answered every time: the count is of one chat's updates."""
    first_db, second_db = Database(database_url), Database(database_url)
    first = await Harness(settings, first_db, clock).start()
    second = await Harness(settings, second_db, clock, api=first.api).start()
    alice, bob = patient(1), patient(2)
    limit = settings.checkins.flood_messages_per_minute
    try:
        first.seed_demo()
        await first.command(alice, "/start", "SHOULDER1")
        await first.command(bob, "/start", "SHOULDER1")
        before = {p.chat_id: len(first.texts(p.chat_id)) for p in (alice, bob)}
        for n in range(limit + 10):  # within one minute: the clock does not move
            await (first, second)[n % 2].feed(first.updates.message(alice, f"spam {n}"))
            if n % 10 == 9:
                await (second, first)[n % 2].feed(first.updates.message(bob, "hello"))
        replies = first.texts(alice.chat_id)[before[alice.chat_id] :]
        bobs = first.texts(bob.chat_id)[before[bob.chat_id] :]
    finally:
        for h in (first, second):
            await h.stop()
        first_db.dispose()
        second_db.dispose()

    notices = sum(reply == texts.flood_pausing() for reply in replies)
    assert notices == 2, "told once by each instance"
    # The /start counts among the minute's arrivals: limit - 1 messages are answered.
    assert len(replies) - notices == limit - 1, replies
    assert len(bobs) == (limit + 10) // 10 and texts.flood_pausing() not in bobs, bobs


async def test_beside_another_instance_a_busy_worker_leaves_what_it_has_not_begun(
    settings: Settings, database_url: str, clock: ManualClock
) -> None:
    """While another instance shares the budget, a worker handles its batch one update at a
    time, so every update it claims waits for all before it. It claims a few chats at a time:
    while Telegram is slow to take the first patient's next question, the other instance
    answers the patients it left in the inbox."""
    first_db, second_db = Database(database_url), Database(database_url)
    first = await Harness(settings, first_db, clock).start()
    second = await Harness(settings, second_db, clock, api=first.api).start()
    people = [patient(n) for n in range(1, 7)]
    try:
        first.seed_demo()
        for person in people:
            await first.command(person, "/start", "SHOULDER1")
        clock.advance(timedelta(hours=9, minutes=1))
        await first.scan()
        for person in people:
            await first.press(person, "▶️ Start now")
        for instance in (first, second):
            scheduler.state(instance.app).pacer.shared = True  # as when the other listens
        first.api.slow_down(people[0].chat_id, 3.0)  # ample for the other to answer two

        await receiver(first.app).accept([first.updates.message(p, "4") for p in people])
        busy = asyncio.create_task(receiver(first.app).drain())
        await wait_until(
            lambda: untaken_updates(first_db) < len(people), 5, "the first instance's claim"
        )
        taken_by_second = await receiver(second.app).drain()
        answered_meanwhile = [
            p.first_name for p in people if "Question 2 of 3" in first.last_text(p.chat_id)
        ]
        await busy
    finally:
        first.api.slow_down(people[0].chat_id, 0)
        for h in (first, second):
            await h.stop()
        first_db.dispose()
        second_db.dispose()

    assert taken_by_second == 2
    assert answered_meanwhile == [people[4].first_name, people[5].first_name], (
        "the patients the busy instance had not begun waited for it"
    )
    for person in people:
        assert "Question 2 of 3" in first.last_text(person.chat_id), person.first_name
