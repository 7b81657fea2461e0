"""The log as an operator reads it: one line per event, facts as fields, no secrets, no answers."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import select
from telegram.error import InvalidToken
from telegram.request import BaseRequest

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.logs import setup_logging
from bot.receiver import log as receiver_log
from storage.db import Database
from storage.errors import log_failure
from storage.models import Answer, Delivery
from tests.deploy.conftest import TOKEN, WEBHOOK_SECRET, with_changes
from tests.fakes.harness import Harness, patient
from tests.fakes.revisions import revision_id

# What the patient types: distinctive, so finding it anywhere in the log is a leak.
ANSWER = "zebra crossing 4711 near my knee"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Route logging into a buffer as ``patientbot`` would, then put pytest's handlers back."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


async def run_checkin(settings: Settings, database: Database, clock: ManualClock) -> Harness:
    """One patient answers the pain check in full; another has blocked the bot."""
    h = await Harness(settings, database, clock).start()
    h.seed_demo()
    alice, bob = patient(1), patient(2)
    await h.command(alice, "/start", "SHOULDER1")
    await h.command(bob, "/start", "SHOULDER1")
    h.api.block(bob.chat_id)
    # 18:01: the press-ups (11:00) and the pain check (18:00) are both due.
    await h.advance_and_scan(timedelta(hours=9, minutes=1))
    await h.press(alice, "▶️ Start now")
    await h.press(alice, "3")
    await h.text(alice, "25")
    await h.text(alice, ANSWER)
    assert "Done: Shoulder pain check" in h.texts(alice.chat_id)[-2]
    return h


def secret_settings(settings: Settings) -> Settings:
    return with_changes(settings, telegram={"token": TOKEN, "webhook_secret": WEBHOOK_SECRET})


def start_logging(settings: Settings, fmt: str, stream: io.StringIO, level: str = "INFO") -> None:
    setup_logging(
        level,
        fmt,
        [settings.telegram.token.get_secret_value(), WEBHOOK_SECRET],
        stream=stream,
    )


async def test_json_logs_are_one_object_per_line_with_the_facts_as_fields(
    settings: Settings, database: Database, clock: ManualClock, log_stream: io.StringIO
) -> None:
    settings = secret_settings(settings)
    start_logging(settings, "json", log_stream)
    h = await run_checkin(settings, database, clock)
    try:
        # A library that puts the token in a URL, and an error that carries it.
        logging.getLogger("telegram.ext").warning(
            "POST https://api.telegram.org/bot%s/getMe failed", TOKEN
        )
        try:
            raise RuntimeError(f"webhook secret {WEBHOOK_SECRET} rejected")
        except RuntimeError:
            logging.getLogger("bot.test").exception("failure", extra={"url": f"/bot{TOKEN}/"})
    finally:
        await h.stop()
    output = log_stream.getvalue()
    entries: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines()]
    assert entries, "nothing was logged"
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys()

    scans = [e for e in entries if e["message"].startswith("due scan:")]
    assert scans, output
    assert scans[0]["level"] == "INFO"
    assert scans[0]["claimed"] >= 2 and scans[0]["sent"] >= 1, scans[0]

    with database.session() as session:
        bob_rows = {
            (d.id, d.task_id)
            for d in session.exec(select(Delivery).where(Delivery.status == "failed")).all()
        }
    blocked = [e for e in entries if e["message"] == "patient blocked the bot"]
    assert blocked, output
    assert {(e["delivery_id"], e["task_id"]) for e in blocked} <= bob_rows

    assert TOKEN not in output
    assert WEBHOOK_SECRET not in output
    assert "[REDACTED]" in output
    assert ANSWER not in output
    assert "zebra" not in output


async def test_text_logs_are_one_readable_line_per_event(
    settings: Settings, database: Database, clock: ManualClock, log_stream: io.StringIO
) -> None:
    settings = secret_settings(settings)
    start_logging(settings, "text", log_stream)
    h = await run_checkin(settings, database, clock)
    await h.stop()
    logging.getLogger("bot.test").info("two\nlines", extra={"delivery_id": 7, "note": "a b"})
    lines = log_stream.getvalue().splitlines()
    assert lines
    for line in lines:
        assert TEXT_LINE.match(line), f"not an event line: {line!r}"
    assert any(
        "bot.scheduler: due scan:" in line and "sent=" in line and "claimed=" in line
        for line in lines
    )
    assert lines[-1].endswith('bot.test: two | lines [delivery_id=7 note="a b"]')
    assert ANSWER not in log_stream.getvalue()


def integrity_error_with_an_answer(database: Database) -> IntegrityError:
    """Store an answer twice: the database's refusal quotes the bound values."""
    with database.session() as session:
        delivery = session.exec(select(Delivery)).first()
        assert delivery is not None and delivery.id is not None
        question_id = 1
        when = delivery.due_at
        revision = revision_id(session, question_id)
        session.add(
            Answer(
                delivery_id=delivery.id,
                question_id=question_id,
                question_revision_id=revision,
                answered_at=when,
            )
        )
        session.commit()
        session.add(
            Answer(
                delivery_id=delivery.id,
                question_id=question_id,
                question_revision_id=revision,
                value_text=ANSWER,
                answered_at=when,
            )
        )
        with pytest.raises(IntegrityError) as caught:
            session.commit()
    return caught.value


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_database_error_never_carries_the_answer_into_the_log(
    settings: Settings,
    database: Database,
    clock: ManualClock,
    log_stream: io.StringIO,
    level: str,
) -> None:
    h = await Harness(settings, database, clock).start()
    h.seed_demo()
    await h.command(patient(1), "/start", "SHOULDER1")
    await h.stop()
    error = integrity_error_with_an_answer(database)
    # The engine hides bound parameters at the source (storage.db.make_engine), so not even
    # DEBUG logging can print what a patient answered.
    assert ANSWER not in str(error)
    assert "parameters hidden" in str(error)
    start_logging(settings, "json", log_stream, level)
    try:
        raise error
    except IntegrityError:
        logging.getLogger("telegram.ext.Application").exception("update failed")
    (entry,) = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert ANSWER not in entry["exception"]


# --- what a patient sent never reaches the log, on any path -----------------------------------

MARK = "Qx7Marker"  # in answers, names, captions and file ids: finding it anywhere is a leak


async def test_nothing_a_patient_sent_reaches_the_log_on_any_path(
    log_stream: io.StringIO, settings: Settings, database: Database, clock: ManualClock
) -> None:
    from bot.receiver import receiver
    from fakebotapi import NetworkFault, ServerError
    from tests.fakes.failing_database import writes_refused
    from tests.fakes.updates import User

    setup_logging("INFO", "text", [TOKEN, WEBHOOK_SECRET], stream=log_stream)
    h = await Harness(settings, database, clock).start()
    try:
        h.seed_demo()
        named = User(id=555, first_name=f"{MARK}First", last_name=f"{MARK}Last")
        await h.command(named, "/start", f"{MARK}code")  # a wrong code
        await h.command(named, "/start", "SHOULDER1")
        await h.command(named, "/timezone", f"{MARK}/Zone")
        await h.advance_and_scan(timedelta(hours=9, minutes=1))
        await h.press(named, "▶️ Start now")
        await h.text(named, f"{MARK} not a number")  # re-asked with a hint
        h.api.inject("sendMessage", NetworkFault())  # the reply is lost: the error handler
        await h.press(named, "3")
        await h.text(named, "25")
        h.api.inject("sendMessage", ServerError(500))
        await h.text(named, f"{MARK} free text answer")
        await h.photo(named, f"{MARK}-file-id")
        # A database that stops taking writes: while storing an update (the webhook's 500
        # path) and while handling one already stored, logged as the worker's loop logs it.
        incoming = receiver(h.app)
        with writes_refused(h.database), pytest.raises(DBAPIError):
            await incoming.accept([h.updates.message(named, f"{MARK} not stored")])
        await incoming.accept([h.updates.message(named, f"{MARK} stored, not handled")])
        with writes_refused(h.database), pytest.raises(DBAPIError) as refused:
            await incoming.drain()
        log_failure(receiver_log, "handling stored updates", refused.value)
        await incoming.drain()
        await h.feed(h.updates.edited_message(named, f"{MARK} edited", 1))
        await h.command(named, f"/{MARK}command")
        # An update the library cannot read: in the inbox, and through PTB's own getUpdates,
        # which logs such a batch whole at CRITICAL.
        broken = {"message": {"message_id": 1, "chat": f"{MARK}chat", "text": MARK}}
        await h.deliver({"update_id": 900_000, **broken})
        h.api.push_update({"update_id": 900_001, **broken})
        with pytest.raises(Exception):  # noqa: B017, PT011 (whatever PTB raises)
            await h.app.bot.get_updates(offset=900_001, timeout=0)
    finally:
        await h.stop()

    log = log_stream.getvalue()
    assert "Error while parsing updates" in log, "the CRITICAL record is kept, its data not"
    assert "could not be read" in log
    assert "attempt to write a readonly database" in log or "read-only transaction" in log, (
        "the database error keeps its message (the SQL names inbox.update_id, not an update)"
    )
    leaks = [line for line in log.splitlines() if MARK in line]
    assert leaks == [], "\n".join(leaks)


class Unauthorized(BaseRequest):
    """A Bot API that refuses the token, as Telegram does for a revoked one."""

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return 401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'


async def test_a_token_from_a_file_that_ends_in_a_newline_is_redacted_too(
    tmp_path: Path, database: Database, log_stream: io.StringIO
) -> None:
    secrets_file = tmp_path / "telegram_token"
    secrets_file.write_text(f"{TOKEN}\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    # As `TELEGRAM_BOT_TOKEN="$(< file)"` would not strip it: the variable read as is.
    settings = load_settings(
        config, environ={"TELEGRAM_BOT_TOKEN": secrets_file.read_text(encoding="utf-8")}
    )
    start_logging(settings, "text", log_stream)
    application = build_application(settings, request=Unauthorized(), database=database)
    with pytest.raises(InvalidToken) as caught:
        await application.initialize()
    # PTB names the token it sent in this error; the log line must not.
    assert TOKEN in str(caught.value)
    logging.getLogger("telegram.ext").error("could not start: %s", caught.value)

    output = log_stream.getvalue()
    assert "could not start: The token `[REDACTED]` was rejected by the server." in output
    assert TOKEN not in output
