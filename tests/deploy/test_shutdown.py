"""Stopping cleanly: no new claims, the claims in hand given back, health and database closed."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.config import Settings
from bot.context import DEPS_KEY, Deps
from bot.health import HEALTH_PATH
from bot.scheduler import JOB_NAME
from bot.services.seeding import apply_seed, read_seed
from bot.webhook import install_lifecycle
from fakebotapi import FakeBotApi
from fakebotapi.server import serve_in_thread
from storage.db import Database
from storage.models import Delivery
from tests.deploy.conftest import free_port, with_changes
from tests.deploy.process import bot_environment, bot_process, wait_for
from tests.fakes.harness import DEMO_SEED, Harness, patient
from tests.fakes.updates import UpdateFactory

OTHER_INSTANCE = "other-host:1:abcdef"


def claim_pending(database: Database, instance_id: str, now: datetime) -> list[int]:
    """Claim every pending row as ``instance_id`` would mid-scan: ``sending``, under lease."""
    with database.session() as session:
        rows = session.exec(select(Delivery).where(Delivery.status == "pending")).all()
        assert len(rows) >= 2, "the demo should give each patient a few pending deliveries"
        for row in rows:
            row.status = "sending"
            row.claimed_by = instance_id
            row.lease_until = now + timedelta(minutes=10)
            session.add(row)
        session.commit()
        return [row.id for row in rows if row.id is not None]


def claim_states(database: Database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    with database.session() as session:
        rows = session.exec(select(Delivery).where(col(Delivery.id).in_(ids))).all()
        return {row.id: (row.status, row.claimed_by) for row in rows if row.id is not None}


async def test_stopping_releases_this_instances_claims_and_closes_everything(
    settings: Settings, database: Database, clock: ManualClock
) -> None:
    port = free_port()
    configured = with_changes(settings, health={"port": port})
    h = Harness(configured, database, clock)
    app = h.app
    install_lifecycle(app)
    deps: Deps = app.bot_data[DEPS_KEY]
    h.seed_demo()
    await h.app.initialize()
    pool = database.engine.pool
    await h.command(patient(1), "/start", "SHOULDER1")
    await h.command(patient(2), "/start", "HIP1")
    ours = claim_pending(database, deps.instance_id, clock.now())
    theirs = ours.pop()
    with database.session() as session:
        row = session.get(Delivery, theirs)
        assert row is not None
        row.claimed_by = OTHER_INSTANCE
        session.add(row)
        session.commit()

    # What run_polling and run_webhook do, and on SIGTERM undo, in PTB's order.
    assert app.post_init and app.post_stop and app.post_shutdown
    await app.post_init(app)
    await app.start()
    assert app.job_queue is not None and app.job_queue.get_jobs_by_name(JOB_NAME)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"http://127.0.0.1:{port}{HEALTH_PATH}")).status_code == 200
    await app.stop()
    assert not app.job_queue.scheduler.running, "the due scan must stop claiming"
    await app.post_stop(app)
    await app.shutdown()
    await app.post_shutdown(app)

    states = claim_states(database, [*ours, theirs])
    assert all(states[i] == ("pending", None) for i in ours), states
    assert states[theirs] == ("sending", OTHER_INSTANCE), "another instance's claim is theirs"
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            await client.get(f"http://127.0.0.1:{port}{HEALTH_PATH}")
            raise AssertionError("the health endpoint still answers after shutdown")
        except httpx.ConnectError:
            pass
    assert database.engine.pool is not pool, "the engine was not disposed"


def test_sigterm_to_the_image_command_releases_claims_and_exits_cleanly(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    """The real thing: deploy/entrypoint.sh, the fake Bot API over HTTP, a real SIGTERM."""
    with serve_in_thread() as server:
        env = bot_environment(server.base_url, database_url)
        with bot_process(env, tmp_path) as bot:
            health = bot.health()
            assert health is not None and health[0] == 200, health
            instance_id = health[1]["instance"]
            _seed_and_join(database, server.api)
            ours = claim_pending(database, instance_id, datetime.now(UTC))
            assert bot.stop(signal.SIGTERM) == 0, bot.output
    states = claim_states(database, ours)
    assert all(state == ("pending", None) for state in states.values()), states
    entries = bot.log_entries()
    messages = [entry["message"] for entry in entries]
    assert "released claims" in messages
    (released,) = [e for e in entries if e["message"] == "released claims"]
    assert released["released"] == len(ours)
    assert messages[-2:] == ["Health endpoint closed", "Stopped; database connections closed"]
    assert bot.health() is None, "the health port is closed"
    assert bot.stopped_after is not None and bot.stopped_after < 10, "docker stop waits 10 s"


def _seed_and_join(database: Database, api: FakeBotApi) -> None:
    """Load the demo and let a patient join through the running bot, as a person would."""
    now = datetime.now(UTC)
    plan = read_seed(DEMO_SEED, lambda zone: now.astimezone(zone).date(), "Europe/London")
    apply_seed(database, plan, now, "Europe/London")
    alice = patient(1)
    api.push_update(UpdateFactory(api).command(alice, "/start", "SHOULDER1"))
    wait_for(lambda: bool(api.sent_to(alice.chat_id)), 15, "the bot to welcome the patient")
