"""GET /healthz over real HTTP: healthy, lagging, never scanned, database trouble."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import scheduler
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.context import DEPS_KEY, BotApplication, BotContext, Deps
from bot.health import HEALTH_PATH, LAG_INTERVALS, LIVE_PATH, READY_PATH, HealthServer
from bot.scheduler import run_scan
from bot.webhook import HEALTH_KEY, install_lifecycle
from fakebotapi import FakeBotApi
from storage.db import Database, SenderLock, head_revision
from tests.conftest import _admin
from tests.deploy.conftest import free_port, with_changes

INTERVAL = 5.0  # the default [scheduler] scan_interval_seconds
LIMIT = LAG_INTERVALS * INTERVAL


@pytest.fixture
async def application(
    settings: Settings, database: Database, clock: ManualClock
) -> AsyncIterator[BotApplication]:
    app = build_application(settings, request=FakeBotApi(), clock=clock, database=database)
    await app.initialize()
    try:
        yield app
    finally:
        await app.shutdown()


def deps_of(app: BotApplication) -> Deps:
    deps: Deps = app.bot_data[DEPS_KEY]
    return deps


@pytest.fixture
async def health(application: BotApplication) -> AsyncIterator[HealthServer]:
    server = HealthServer(deps_of(application), "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def get(server: HealthServer, path: str = HEALTH_PATH) -> tuple[int, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}{path}")
    return response.status_code, response.json()


async def test_a_fresh_instance_that_has_scanned_is_healthy(
    application: BotApplication, health: HealthServer, clock: ManualClock
) -> None:
    await run_scan(application)
    clock.advance(timedelta(seconds=2))
    status, body = await get(health)
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["revision"] == body["head"] == head_revision()
    assert body["last_scan_at"] == (clock.now() - timedelta(seconds=2)).isoformat()
    assert body["scan_lag_seconds"] == 2.0
    assert body["instance"] == deps_of(application).instance_id
    assert body["problems"] == []


async def test_a_scan_that_stopped_running_makes_the_instance_unhealthy(
    application: BotApplication, health: HealthServer, clock: ManualClock
) -> None:
    await run_scan(application)
    clock.advance(timedelta(seconds=LIMIT))
    assert (await get(health))[0] == 200, "exactly three intervals late is still tolerated"
    clock.advance(timedelta(seconds=1))
    status, body = await get(health)
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["database"] == "ok"
    assert body["scan_lag_seconds"] == LIMIT + 1
    assert any("due scan last finished" in p for p in body["problems"])
    await run_scan(application)
    assert (await get(health))[0] == 200, "one scan brings it back"


async def test_a_standby_instance_whose_ticks_find_another_sending_stays_ready(
    application: BotApplication,
    health: HealthServer,
    clock: ManualClock,
    database_url: str,
    backend: str,
) -> None:
    # A second instance on the same database holds the send lock: this one's ticks skip the
    # scan. It still answers webhooks, so a load balancer must keep it in rotation.
    other = Database(database_url)
    holder = SenderLock(other)
    try:
        assert holder.hold()
        clock.advance(timedelta(seconds=LIMIT + 1))
        assert (await get(health, READY_PATH))[0] == 503, "no tick yet: it says so"
        await scheduler._tick(BotContext(application))  # the JobQueue's repeating tick
        status, body = await get(health, READY_PATH)
        assert status == 200, body["problems"]
        assert body["last_scan_at"] == clock.now().isoformat()
        holds = scheduler.state(application).sender_lock.held
        # SQLite is one process by design: there the tick scanned and sends itself.
        assert holds is (backend == "sqlite")
    finally:
        holder.release()
        other.dispose()


async def test_an_instance_that_never_scanned_is_unhealthy_after_three_intervals(
    health: HealthServer, clock: ManualClock
) -> None:
    status, body = await get(health)
    assert (status, body["last_scan_at"], body["scan_lag_seconds"]) == (200, None, None)
    clock.advance(timedelta(seconds=LIMIT + 1))
    status, body = await get(health)
    assert status == 503
    assert any("has not finished once" in p for p in body["problems"])


async def test_a_scan_still_running_past_the_claim_lease_is_unhealthy(
    application: BotApplication, health: HealthServer, clock: ManualClock
) -> None:
    monitor = deps_of(application).scans
    await run_scan(application)
    release = asyncio.Event()
    stuck = asyncio.create_task(monitor.track(clock, release.wait()))
    await asyncio.sleep(0)
    assert monitor.running
    lease = deps_of(application).settings.scheduler.claim_lease_seconds
    # A fan-out renews its claims every quarter of a lease: alive for as long as it renews,
    # far past the few intervals a scan normally takes.
    for _ in range(6):
        clock.advance(timedelta(seconds=lease / 4))
        monitor.renewed(clock)
    assert (await get(health))[0] == 200, "a long fan-out that renews is healthy"
    clock.advance(timedelta(seconds=lease - 1))
    assert (await get(health))[0] == 200, "within a lease of its last renewal"
    clock.advance(timedelta(seconds=2))
    assert (await get(health))[0] == 503
    release.set()
    await stuck
    assert not monitor.running
    assert (await get(health))[0] == 200


async def test_a_database_behind_the_migrations_is_unhealthy(
    application: BotApplication, health: HealthServer, database: Database
) -> None:
    await run_scan(application)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    status, body = await get(health)
    assert status == 503
    assert (body["database"], body["revision"], body["head"]) == ("ok", "0001", head_revision())
    assert any("patientbot db upgrade" in p for p in body["problems"])


async def test_an_unreachable_database_is_unhealthy_and_says_why(clock: ManualClock) -> None:
    settings = Settings()  # no test database: this one is the point
    # Nothing listens on port 1: the connection is refused at once.
    unreachable = Database("postgresql://postgres@127.0.0.1:1/nowhere")
    app = build_application(settings, request=FakeBotApi(), clock=clock, database=unreachable)
    server = HealthServer(deps_of(app), "127.0.0.1", 0)
    await server.start()
    try:
        status, body = await get(server)
    finally:
        await server.close()
        unreachable.dispose()
    assert status == 503
    assert body["database"].startswith("unreachable: ")
    assert "127.0.0.1" in body["database"]
    assert body["revision"] is None


async def test_other_paths_and_methods_are_refused(health: HealthServer) -> None:
    assert (await get(health, "/"))[0] == 404
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"http://127.0.0.1:{health.port}{HEALTH_PATH}"
        assert (await client.post(url)).status_code == 405
        head = await client.head(url)
    assert head.status_code == 200
    assert head.content == b""


async def test_garbage_on_the_health_port_gets_a_400_not_a_crash(health: HealthServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", health.port)
    writer.write(b"NONSENSE\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert (await get(health))[0] == 200


async def test_the_run_path_starts_and_closes_the_health_endpoint_and_the_database(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    port = free_port()
    configured = with_changes(settings, health={"listen": "127.0.0.1", "port": port})
    app = build_application(configured, request=FakeBotApi(), clock=clock, database=database)
    install_lifecycle(app)
    await app.initialize()
    pool = database.engine.pool
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    server = app.bot_data[HEALTH_KEY]
    assert isinstance(server, HealthServer) and server.port == port
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{port}{HEALTH_PATH}")
    assert response.status_code == 200
    await app.shutdown()
    await app.post_shutdown(app)
    assert HEALTH_KEY not in app.bot_data
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(timeout=10) as client:
            await client.get(f"http://127.0.0.1:{port}{HEALTH_PATH}")
    assert database.engine.pool is not pool, "the engine was not disposed"


async def test_health_can_be_turned_off(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    configured = with_changes(settings, health={"enabled": False})
    app = build_application(configured, request=FakeBotApi(), clock=clock, database=database)
    install_lifecycle(app)
    assert app.post_init is not None
    await app.post_init(app)
    assert HEALTH_KEY not in app.bot_data


async def test_a_hanging_database_is_reported_without_piling_up_probes(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    monkeypatch.setattr("bot.health.DATABASE_TIMEOUT_SECONDS", 0.3)
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept the connection, never say a word

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    hanging = Database(f"postgresql://postgres@127.0.0.1:{port}/silent")
    app = build_application(settings, request=FakeBotApi(), clock=clock, database=hanging)
    server = HealthServer(deps_of(app), "127.0.0.1", 0)
    await server.start()
    try:
        first = await get(server)
        probe = server._probe
        second = await get(server)
        assert server._probe is probe, "a second probe started while the first still hangs"
    finally:
        silent.close()
        for writer in accepted:
            writer.close()
        await server.close()
        hanging.dispose()
    for status, body in (first, second):
        assert status == 503
        assert body["database"] == "unreachable: no answer within 0.3 seconds"


# --- writes that fail, updates that wait, and liveness -----------------------------------------


def refuse_writes(database: Database, backend: str, admin_url: str | None) -> None:
    """Make every write fail while reads go on: SQLite full, PostgreSQL read-only."""
    database.engine.dispose()
    if backend == "sqlite":

        def full(connection: Any, _record: Any) -> None:
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            connection.execute(f"PRAGMA max_page_count = {pages}")

        sa_event.listen(database.engine, "connect", full)
        database.refuse_writes_listener = full  # type: ignore[attr-defined]
        return
    assert admin_url is not None
    name = make_url(database.url).database
    _admin(admin_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')


def allow_writes(database: Database, backend: str, admin_url: str | None) -> None:
    database.engine.dispose()
    if backend == "sqlite":
        sa_event.remove(database.engine, "connect", database.refuse_writes_listener)  # type: ignore[attr-defined]
        return
    assert admin_url is not None
    name = make_url(database.url).database
    _admin(admin_url, f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


async def test_failing_writes_make_the_instance_unready_with_the_reason_until_one_succeeds(
    application: BotApplication,
    health: HealthServer,
    database: Database,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    from bot.receiver import receiver
    from tests.fakes.updates import UpdateFactory, User

    await run_scan(application)
    admin = request.getfixturevalue("postgres_admin_url") if backend == "postgresql" else None
    updates = UpdateFactory(FakeBotApi())
    alice = User(id=321, first_name="Alice")
    big = "x" * 3000  # needs new pages on SQLite
    refuse_writes(database, backend, admin)
    try:
        refused = 0
        for _ in range(10):  # SQLite first fills the free room left in its last page
            try:
                await receiver(application).accept([updates.message(alice, big)])
            except Exception:
                refused += 1
                if refused == 3:
                    break
        assert refused == 3
        status, body = await get(health)
        assert status == 503
        assert body["failed_writes_in_a_row"] == 3
        (problem,) = [p for p in body["problems"] if "writes" in p]
        assert problem.startswith("the last 3 writes to the database failed: ")
        assert ("full" if backend == "sqlite" else "read-only") in problem
        live, _ = await get(health, LIVE_PATH)
        assert live == 200, "alive: restarting would not mend a full disk"
    finally:
        allow_writes(database, backend, admin)
    await run_scan(application)  # a scan's transaction is a write that succeeds
    status, body = await get(health, READY_PATH)
    assert status == 200, body
    assert body["failed_writes_in_a_row"] == 0


async def test_updates_left_unhandled_make_the_instance_unready(
    application: BotApplication, health: HealthServer, clock: ManualClock
) -> None:
    from bot.receiver import receiver
    from tests.fakes.updates import UpdateFactory, User

    await run_scan(application)
    updates = UpdateFactory(FakeBotApi())
    await receiver(application).accept([updates.command(User(id=5, first_name="A"), "/help")])
    status, body = await get(health)
    assert status == 200 and body["inbox_pending"] == 1, "just arrived is fine"

    clock.advance(timedelta(minutes=2))
    await run_scan(application)
    status, body = await get(health)
    assert status == 503
    assert any("1 received updates wait to be handled" in p for p in body["problems"])


def test_a_duplicate_refused_by_a_unique_key_is_no_failed_write(database: Database) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from storage.models import TherapyGroup

    now = datetime.now(UTC)
    with database.session() as session:
        session.add(TherapyGroup(name="Once", created_at=now))
        session.commit()
    for _ in range(3):
        with database.session() as session:
            session.add(TherapyGroup(name="Once", created_at=now))
            with pytest.raises(IntegrityError):
                session.commit()
    assert database.writes.consecutive_failures == 0
