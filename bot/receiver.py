"""Receiving: store every update before Telegram is told it arrived, then handle it from there.

PTB's own ``Updater`` confirms a ``getUpdates`` batch with the next offset before its handlers
ran, and its webhook server answers 200 before handling: a kill in between loses the update for
good. Here the ``Receiver`` owns both doors:

- polling: ``poll`` asks ``getUpdates``, commits the batch to the inbox, and only then asks
  again with the offset that confirms it;
- webhook: ``bot.webhook_server`` calls ``accept`` and answers 200 once it returned.

One worker (``run``) handles the stored updates through ``Application.process_update``: a
claimed batch holds one update per chat, and up to ``HANDLING_AT_ONCE`` of them are handled side
by side, so one chat's reply waiting for Telegram holds up no other chat. Each chat's updates
go oldest first, each marked done in the transaction of its handler's first write
(``bot.services.inbox``). Unfinished rows from before a restart come first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session
from telegram import Update
from telegram.error import (
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import texts
from bot.chatmarks import marks_of
from bot.context import DEPS_KEY, DIALOGUE_CHATS_KEY, BotApplication, BotContext, Deps
from bot.floods import FloodWatch, Flow, ReplyGate, quiet
from bot.frozen import frozen
from bot.leases import LeaseKeeper
from bot.readers import chat_language
from bot.sender import retry_after_seconds
from bot.services import checkin, inbox
from bot.texts.language import speaking
from storage.db import Database
from storage.errors import is_unavailable, log_failure
from storage.models import InboxState

log = logging.getLogger(__name__)

RECEIVER_KEY = "receiver"
# The update kinds the handlers use; Telegram sends nothing else.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Long polling: Telegram holds getUpdates open this long when nothing is waiting.
POLL_TIMEOUT_SECONDS = 10
# How many chats one claim takes; each contributes its oldest pending update.
CLAIM_LIMIT = 100
# Updates of a claimed batch handled side by side (each of another chat): a reply that waits
# for room in Telegram's budget, or a slow request, holds up its own chat, not every chat
# behind it. One at a time while another instance shares the budget: when a place in the window
# frees, every instance sees it at once, and several replies of each went into it together
# (1 to 3 x 429 in each warm-up of ``bench_fanout --processes 3``, none one at a time).
HANDLING_AT_ONCE = 4
# How many chats one claim takes while another instance shares the budget (and this one
# handles its batch one at a time): what a busy instance has not begun stays in the inbox for
# whichever instance is free, instead of queueing behind its batch.
CLAIM_LIMIT_SHARING = 4
# A worker with nothing to do looks again this often, for rows another instance stored (or
# gave back): its own arrivals wake it at once.
IDLE_LOOK_SECONDS = 1.0
# A chat in a therapist's dialogue stays with the instance holding its draft this long past
# the last renewal (``inbox.hold_chats``), renewed every third of it while the draft lives:
# dead, the instance lets the chat go within this.
DIALOGUE_HOLD_SECONDS = 30.0
# Waits after a failed getUpdates or store, doubling up to the maximum.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0

# What the handlers of the claimed batch sent, recorded with the batch (see ``defer_shown``).
_shown: ContextVar[list[checkin.Shown] | None] = ContextVar("patientbot_shown", default=None)

# The errors handlers raised while the worker handles one update (see ``_note_error``).
_errors: ContextVar[list[BaseException] | None] = ContextVar(
    "patientbot_update_errors", default=None
)


def strip_nul(value: Any) -> Any:
    """The update with every NUL character taken out of its strings.

    Telegram accepts NUL in text; PostgreSQL refuses it in a text column, so an answer, a
    name or a command argument carrying one would fail its handler there. Cleaned once, here,
    every entry point is covered.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: strip_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_nul(item) for item in value]
    return value


class Receiver:
    """The inbox of one Application: storing, polling and the worker that handles updates."""

    def __init__(self, application: BotApplication) -> None:
        self.application = application
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._handled = asyncio.Condition()
        self._newest_handled = 0
        # Serialises handling: the worker and ``drain`` (tests, the playground) never overlap.
        self._handling = asyncio.Lock()
        settings = self.deps.settings
        # The clinic's administrators build programmes in quick dialogues: never held back.
        self.floods = FloodWatch(
            settings.checkins.flood_messages_per_minute, exempt=settings.therapists.user_ids
        )
        self._worker: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._last_batch: _Finished | None = None

    @property
    def deps(self) -> Deps:
        deps: Deps = self.application.bot_data[DEPS_KEY]
        return deps

    @property
    def database(self) -> Database:
        return self.deps.database

    # --- storing --------------------------------------------------------------------------

    async def accept(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Commit updates to the inbox (returns once they are durable) and wake the worker."""
        deps = self.deps
        await deps.run(inbox.store, deps.database, deps.clock.now(), updates)
        self._wake.set()

    # --- handling -------------------------------------------------------------------------

    async def drain(self) -> int:
        """Handle every update pending now; returns how many were handled."""
        total = 0
        while True:
            handled = await self._handle_batch()
            if not handled:
                return total
            total += handled

    async def run(self) -> None:
        """Handle updates until ``stop``: what is pending first, then each arrival."""
        deps = self.deps
        try:
            released = await deps.run(
                inbox.release_dead,
                deps.database,
                socket.gethostname(),
                instance_id=deps.instance_id,
            )
            if released:
                log.info("took back %d updates a stopped process had claimed", released)
        except Exception as error:
            log_failure(log, "giving back claims of stopped processes", error)
        keeper = asyncio.create_task(self._keep_dialogues_while_running(), name="dialogue-holds")
        try:
            await self._work()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _work(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                handled = await self._handle_batch(until_stopped=True)
                delay = RETRY_FIRST_SECONDS
            except Exception as error:
                log_failure(log, "handling stored updates", error)
                await self._pause(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if not handled:
                await self._idle()

    async def _idle(self) -> None:
        waits = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        try:
            await asyncio.wait(
                waits, timeout=IDLE_LOOK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _handle_batch(self, *, until_stopped: bool = False) -> int:
        deps = self.deps
        async with self._handling:
            lease = deps.settings.inbox.claim_lease_seconds
            # The last batch is finished in the transaction that claims the next one (the
            # worker claims again as soon as a batch ends): one transaction and one thread hop
            # fewer per batch, which a webhook's batch of one update paid for every answer.
            last, self._last_batch = self._last_batch, None
            if last is not None and last.stale(lease):
                await self._drop_stale(last)
                last = None
            try:
                items = await deps.run(
                    inbox.claim,
                    deps.database,
                    deps.clock.now(),
                    deps.instance_id,
                    lease,
                    CLAIM_LIMIT_SHARING if self._sharing_budget() else CLAIM_LIMIT,
                    first=last.write if last is not None else None,
                )
            except BaseException:
                self._last_batch = last  # with the next claim, or by ``close``
                raise
            if last is not None:
                await self._announce(last.newest)
            # Started here, outside every update's first-commit hook (a task copies the context
            # it was made in): a renewal's commit must never be the one that marks an update
            # done, or a kill right after it would lose what the handler had yet to write.
            renewal = _Renewal(deps, [item.update_id for item in items], lease) if items else None
            unfinished: list[int] = []
            unreadable: list[int] = []
            handled: list[int] = []  # marked by their handlers' first commits, chats held
            shown: list[checkin.Shown] = []
            token = _shown.set(shown)
            newest = 0
            slots = asyncio.Semaphore(HANDLING_AT_ONCE)
            one_at_a_time = asyncio.Lock()
            failures: list[Exception] = []

            async def handle(item: inbox.Item) -> None:
                """Handle one item and note its outcome at once (a cancelled batch keeps the
                outcomes of the updates already handled, for the closing write)."""
                nonlocal newest
                async with slots:
                    if until_stopped and self._stopping.is_set():
                        return  # stays pending; ``close`` gives its lease back
                    try:
                        if self._sharing_budget():  # asked per update: sharing may begin
                            async with one_at_a_time:
                                outcome = await self._handle(item)
                        else:
                            outcome = await self._handle(item)
                    except Exception as error:
                        failures.append(error)  # left to its lease, as the database failing
                        handled.append(item.update_id)  # its chat let go if it was marked
                        return
                if outcome is None:
                    if renewal is not None:
                        renewal.let_go(item.update_id)
                    return  # left to its lease: handled again once the database is back
                newest = max(newest, item.update_id)
                if outcome is InboxState.UNREADABLE:
                    unreadable.append(item.update_id)
                elif outcome is InboxState.PENDING:
                    unfinished.append(item.update_id)
                else:
                    handled.append(item.update_id)

            try:
                # One task each (in the order claimed, oldest first): a task copies this
                # context, so every handler shares the batch's record of questions shown.
                await asyncio.gather(*(handle(item) for item in items))
                if failures:
                    for later in failures[1:]:
                        log_failure(log, "handling a stored update", later)
                    raise failures[0]  # after every other update of the batch was handled
            finally:
                if renewal is not None:
                    # Awaited, not only cancelled: a renewal still writing would otherwise
                    # meet the batch's closing transaction on the same rows.
                    await renewal.stop()
                _shown.reset(token)
                # Written with the next claim: the updates whose handlers wrote nothing (a kill
                # before it only repeats those, a second /help, never a write), the questions
                # the batch sent, and the end of the holds on its chats. A chat has one update
                # in a batch, and its next one is claimed, here or by any instance, only once
                # this is written (or the lease ran out).
                if unfinished or unreadable or shown or handled:
                    in_dialogue = self._chats_in_dialogue()
                    self._last_batch = _Finished(
                        deps.clock.now(),
                        time.monotonic(),
                        deps.instance_id,
                        newest,
                        unfinished,
                        unreadable,
                        shown,
                        handled,
                        kept=[i.update_id for i in items if i.chat_id in in_dialogue],
                    )
                else:
                    await self._announce(newest)  # else once it is written
            return len(items)

    def _chats_in_dialogue(self) -> frozenset[int]:
        """The chats whose therapist's dialogue draft lives in this process."""
        find = self.application.bot_data.get(DIALOGUE_CHATS_KEY)
        return frozenset(find(self.application)) if find is not None else frozenset()

    async def _keep_dialogues(self) -> None:
        """Renew the holds of the chats in a dialogue here (``inbox.hold_chats``)."""
        chats = self._chats_in_dialogue()
        if chats:
            deps = self.deps
            now = deps.clock.now()
            until = now + timedelta(seconds=DIALOGUE_HOLD_SECONDS)
            await deps.run(inbox.hold_chats, deps.database, now, deps.instance_id, chats, until)

    async def _keep_dialogues_while_running(self) -> None:
        """Every third of a hold, on a timer of its own: a long batch (replies waiting behind
        a fan-out) must not let a hold run out while its draft lives."""
        while not self._stopping.is_set():
            try:
                await self._keep_dialogues()
            except Exception as error:
                log_failure(log, "keeping the chats of therapists' dialogues", error)
            await self._pause(DIALOGUE_HOLD_SECONDS / 3)

    def _sharing_budget(self) -> bool:
        """Whether another instance sends within this bot's budget (``Pacer.sharing``)."""
        gate = self.application.bot.rate_limiter
        budget = gate.budget if isinstance(gate, ReplyGate) else None
        return budget is not None and budget().sharing()

    async def _handle(self, item: inbox.Item) -> InboxState | None:
        """Handle one update.

        DONE: its handler's first write marked it; PENDING: handled, nothing written, still to
        be marked; UNREADABLE: not an update this version can read; None: the database failed
        before the handler wrote anything, so it is handled again when its lease runs out.
        """
        application = self.application
        try:
            data = strip_nul(json.loads(item.payload))
            update = Update.de_json(data, application.bot)
        except Exception as error:
            # Never the payload itself: it holds what a patient typed.
            log.warning(
                "update %s could not be read and is kept unhandled: %s",
                item.update_id,
                type(error).__name__,
            )
            return InboxState.UNREADABLE
        deps = self.deps
        now = deps.clock.now()
        # Before its handler: a press counts from the chat's newest message (bot.chatmarks).
        # A new message only: a press, or an edit, carries an old one's id.
        marks = marks_of(application.bot)
        if update.message is not None and marks is not None:
            marks.note_received(item.chat_id, update.message.message_id)

        # The questions earlier updates of the batch sent are recorded with this update's own
        # first write, not only at the batch's end: the due scan sends a question again once
        # it waited ``question_resend_seconds`` unrecorded, and a long batch (replies paced
        # behind a fan-out) would outlast that.
        # Taken out of the batch as the write begins, not copied at the start: a copy was
        # recorded by every update handled beside this one too (3.3 writes per question shown,
        # measured), and a handler slow to write (a reply waiting for room) would hold back
        # what it took. A commit that fails keeps them for this handler's next one; a handler
        # that never commits puts them back, for the next one or the batch's end.
        batch = _shown.get()
        carried: list[checkin.Shown] = []

        def mark(session: Any) -> None:
            inbox.mark_in(session, now, item.update_id)
            if batch is not None:
                carried.extend(_take_all(batch))
            checkin.record_shown(session, now, carried)

        flow = self.floods.note(item.chat_id, item.arrivals)
        if flow is Flow.STARTED and item.chat_id is not None:
            log.info("chat %s sends too fast: its replies pause", item.chat_id)
            with speaking(await chat_language(deps, item.chat_id)):
                text = texts.flood_pausing()
            with contextlib.suppress(TelegramError):
                await application.bot.send_message(item.chat_id, text)
        errors: list[BaseException] = []
        token = _errors.set(errors)
        try:
            with (
                deps.database.first_commit_runs(mark) as first,
                quiet(item.chat_id if flow is not Flow.CALM else None),
            ):
                await application.process_update(update)
        finally:
            _errors.reset(token)
            if batch is not None and carried and not first.committed:
                batch.extend(carried)  # for the next update's first write, or the batch's end
        if first.committed:
            return InboxState.DONE
        if any(is_unavailable(error) for error in errors):
            return None
        return InboxState.PENDING

    async def _finish_last_batch(self) -> None:
        """Write what the last batch left for the next claim, when none will come (stopping)."""
        last, self._last_batch = self._last_batch, None
        if last is None:
            return
        deps = self.deps
        if last.stale(deps.settings.inbox.claim_lease_seconds):
            await self._drop_stale(last)
            return
        try:
            await deps.run(last.commit, deps.database)
        except Exception as error:
            log_failure(log, "finishing the last handled updates", error)
        await self._announce(last.newest)

    async def _drop_stale(self, last: _Finished) -> None:
        """A batch's closing write that failed until its updates' leases ran out is dropped:
        another instance may have taken them and handled them again (and asked further), so
        marking them, or recording the questions as shown, would now be wrong. Those updates
        are handled again (a handler that wrote nothing, a repeated read-only reply); a
        question never recorded as shown is sent again by the due scan."""
        log.warning(
            "the last handled updates could not be finished within their lease: %d will be "
            "handled again, %d questions shown may be sent again",
            len(last.unfinished) + len(last.unreadable),
            len(last.shown),
        )
        await self._announce(last.newest)

    async def _announce(self, update_id: int) -> None:
        async with self._handled:
            self._newest_handled = max(self._newest_handled, update_id)
            self._handled.notify_all()

    async def wait_handled(self, update_id: int) -> None:
        """Wait until the worker has finished with ``update_id`` (the playground's pages)."""
        async with self._handled:
            await self._handled.wait_for(lambda: self._newest_handled >= update_id)

    # --- polling --------------------------------------------------------------------------

    async def poll(self) -> None:
        """Fetch updates until ``stop``, storing each batch before confirming it."""
        bot = self.application.bot
        offset: int | None = None
        delay = RETRY_FIRST_SECONDS
        while not self._stopping.is_set():
            data: dict[str, Any] = {
                "timeout": POLL_TIMEOUT_SECONDS,
                "allowed_updates": ALLOWED_UPDATES,
            }
            if offset is not None:
                data["offset"] = offset
            try:
                # Bot.get_updates would parse the batch (and log it whole at CRITICAL when it
                # cannot); the raw JSON is what the inbox keeps.
                batch = await bot._post(
                    "getUpdates", data, read_timeout=POLL_TIMEOUT_SECONDS + 5.0
                )
            except InvalidToken:
                raise
            except RetryAfter as error:
                await self._pause(retry_after_seconds(error))
                continue
            except Conflict as error:
                log.warning("getUpdates refused: %s", error)
                await self._pause(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            except (TimedOut, NetworkError) as error:
                log.info("getUpdates failed: %s: %s", type(error).__name__, error)
                await self._pause(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_FIRST_SECONDS
            updates = [u for u in batch or () if isinstance(u, dict) and "update_id" in u]
            if not updates:
                continue
            if not await self._store_until_done(updates):
                return  # stopping: the batch stays unconfirmed, Telegram sends it again
            offset = max(int(u["update_id"]) for u in updates) + 1

    async def _store_until_done(self, updates: list[dict[str, Any]]) -> bool:
        """Store a fetched batch, retrying while the database is away; False when stopping."""
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await self.accept(updates)
                return True
            except Exception as error:
                log_failure(log, f"storing {len(updates)} updates", error)
            if self._stopping.is_set():
                return False
            await self._pause(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    # --- stopping -------------------------------------------------------------------------

    def start(self, *, polling: bool) -> None:
        """Run the worker (and, for polling, the fetch loop) in the background."""
        if polling:
            self.start_fetching()
        self.start_handling()

    def start_fetching(self) -> None:
        """Fetch updates with getUpdates and store them, in the background."""
        self._poller = asyncio.create_task(self.poll(), name="polling")

    def start_handling(self) -> None:
        """Handle what is stored, and what will be, in the background."""
        self._worker = asyncio.create_task(self.run(), name="inbox-worker")

    async def failed(self) -> BaseException:
        """Wait until the worker or the fetch loop ends by itself, and say why."""
        running = [task for task in (self._worker, self._poller) if task is not None]
        done, _pending = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        task = done.pop()
        error = None if task.cancelled() else task.exception()
        return error or RuntimeError(f"{task.get_name()} stopped")

    async def close(self) -> None:
        """Stop taking updates, finish the ones in hand, and give back what was claimed."""
        self.stop()
        if self._poller is not None:
            # Nothing is lost by cutting a long poll short: a batch is confirmed only by the
            # next getUpdates after it was stored.
            self._poller.cancel()
        running = [task for task in (self._worker, self._poller) if task is not None]
        await asyncio.gather(*running, return_exceptions=True)
        self._worker = self._poller = None
        await self._finish_last_batch()
        await self.release()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def release(self) -> None:
        """Give back the leases of updates claimed but not handled, for the next process."""
        deps = self.deps
        try:
            await deps.run(inbox.release, deps.database, deps.instance_id)
        except Exception as error:
            log_failure(log, "giving back claimed updates", error)


@frozen
class _Finished:
    """What a handled batch leaves to write: its updates whose handlers wrote nothing, the
    ones that could not be read, the questions it sent, and the holds on the chats of those
    its handlers marked (``inbox.mark_in``)."""

    at: datetime
    ended: float  # time.monotonic() when the batch ended: a test's clock may jump
    instance_id: str
    newest: int  # the newest update of the batch, announced once this is written
    unfinished: list[int]
    unreadable: list[int]
    shown: list[checkin.Shown]
    handled: list[int]
    kept: list[int]  # of ``handled``: chats in a dialogue here, held (``inbox.hold_chats``)

    def write(self, session: Session) -> None:
        inbox.finish_in(
            session,
            self.at,
            self.unfinished,
            unreadable=self.unreadable,
            claimed_by=self.instance_id,
        )
        checkin.record_shown(session, self.at, self.shown)
        # Last: the chats are free only once what their handlers sent is recorded.
        until = self.at + timedelta(seconds=DIALOGUE_HOLD_SECONDS)
        inbox.let_go_in(
            session,
            self.instance_id,
            self.handled,
            keep=self.kept,
            until=until,
            batch=self.unfinished,
        )

    def commit(self, database: Database) -> None:
        """``write`` in a transaction of its own (on a stop: no next claim will carry it)."""
        with database.session() as session:
            self.write(session)
            session.commit()

    def stale(self, lease_seconds: float) -> bool:
        """Whether the updates' leases may have run out since the batch ended (renewals stop
        with it, a quarter of a lease after the last one at most): the claim that writes it
        follows at once, unless claiming failed or the batch raised and the worker waits."""
        return time.monotonic() - self.ended >= lease_seconds * 3 / 4


class _Renewal:
    """While a batch is handled, keep the leases of its updates (``bot.leases``).

    A batch takes milliseconds, or longer when its replies wait for Telegram (a RetryAfter,
    a slow network). Only the batch's own updates still in hand are renewed: one left to its
    lease (the database failed under its handler) is let go, to be handled again when the
    lease runs out.
    """

    def __init__(self, deps: Deps, update_ids: list[int], lease_seconds: float) -> None:
        self.deps = deps
        self.in_hand = set(update_ids)
        self.lease_seconds = lease_seconds
        self._keeper = LeaseKeeper(self._renew, lease_seconds, what="the updates in hand")

    def let_go(self, update_id: int) -> None:
        self.in_hand.discard(update_id)

    async def stop(self) -> None:
        await self._keeper.stop()

    async def _renew(self) -> bool:
        if not self.in_hand:
            return False
        deps = self.deps
        await deps.run(
            inbox.renew,
            deps.database,
            deps.clock.now(),
            deps.instance_id,
            self.lease_seconds,
            sorted(self.in_hand),
        )
        return True


def _take_all(batch: list[checkin.Shown]) -> list[checkin.Shown]:
    """Empty ``batch`` from a use case's thread while the event loop may append to it: each
    ``pop`` is one step, so an entry appended meanwhile is taken too, or left, never lost."""
    taken: list[checkin.Shown] = []
    with contextlib.suppress(IndexError):
        while True:
            taken.append(batch.pop())
    taken.reverse()
    return taken


def defer_shown(shown: checkin.Shown) -> bool:
    """Record a sent question with the worker's batch; False outside the worker (write it)."""
    batch = _shown.get()
    if batch is None:
        return False
    batch.append(shown)
    return True


async def _note_error(update: object, context: BotContext) -> None:
    """Remember a handler's error for the worker, which decides whether to try again."""
    errors = _errors.get()
    if errors is not None and context.error is not None:
        errors.append(context.error)


def install(application: BotApplication) -> Receiver:
    """Give the application its receiver (``receiver(app)`` finds it)."""
    made = Receiver(application)
    application.bot_data[RECEIVER_KEY] = made
    application.add_error_handler(_note_error)
    return made


def receiver(application: BotApplication) -> Receiver:
    found: Receiver = application.bot_data[RECEIVER_KEY]
    return found
