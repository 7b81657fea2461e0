"""The JobQueue adapter: one repeating due scan, its sends paced below Telegram's limits.

There is exactly one job, ``due-scan``, repeating every ``scan_interval_seconds`` from the
moment the application starts (so whatever fell due while the bot was down goes out at once).
What is due is decided by the database (``bot.services.delivery.scan``), never by a job per
delivery. A tick that finds the previous scan still sending is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import JobQueue

from bot import alerts, closing
from bot.context import DEPS_KEY, BotApplication, BotContext, Deps
from bot.floods import ReplyGate, paced
from bot.frozen import frozen
from bot.leases import LeaseKeeper
from bot.policies import checkin_policy
from bot.readers import chat_languages
from bot.rendering import render_consent, render_prompt, render_question
from bot.replyshare import ReplyShare
from bot.sender import (
    FlushFunction,
    Pacer,
    Sender,
    SendStats,
    retry_after_seconds,
    through_cancels,
)
from bot.services import checkin, delivery, inbox, retention
from bot.services.delivery import (
    MarkPolicy,
    Outcome,
    ScanPolicy,
    SendJob,
    SendResult,
)
from bot.services.throttle import purge as purge_code_attempts
from bot.texts.language import speaking
from storage.db import SenderLock
from storage.errors import is_unavailable, unavailable_reason

log = logging.getLogger(__name__)

STATE_KEY = "scheduler"
JOB_NAME = "due-scan"
START_JOB_NAME = "due-scan-at-start"
# Our own lock decides about overlap (and says so quietly); late ticks are not dropped.
SCAN_JOB_KWARGS = {"max_instances": 2, "coalesce": True, "misfire_grace_time": None}
# One tick works through at most this many batches; the next tick carries on.
MAX_ROUNDS = 20


@dataclass
class SchedulerState:
    """Per-application scheduler state: the one pacer and the guard against overlapping scans.

    Tests may swap ``pacer`` for one with an injected clock and sleep.
    """

    pacer: Pacer
    # Which instance on the database sends (PostgreSQL; always this one on SQLite).
    sender_lock: SenderLock
    # The other instances' replies, told and heard (PostgreSQL).
    replies: ReplyShare
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Since when scans have run without a gap (None before the first): what fell due after it
    # was sent as soon as the sending allowed, not caught up after downtime.
    scanning_since: datetime | None = None
    # Whether the claims of this host's dead processes were taken back (before the first scan).
    took_back_dead: bool = False

    def sender(self) -> Sender:
        return Sender(self.pacer)


@frozen
class ScanReport:
    """What one run of the scan did, summed over its rounds."""

    claimed: int = 0  # prompts taken this scan (sent now, or held)
    sent: int = 0  # prompts that reached the patient
    reminded: int = 0
    expired: int = 0
    failed: int = 0  # refused by Telegram (BadRequest) or the patient blocked the bot
    retried: int = 0  # send attempts repeated after RetryAfter, 5xx, timeouts, resets
    held: int = 0  # prompts waiting while the patient is in another check-in
    requeued: int = 0  # claims given back to pending for a later scan (transient failures)
    cancelled: int = 0
    deferred: int = 0  # reminders and late once prompts moved past quiet hours
    blocked: int = 0  # patients newly found to have blocked the bot
    late_sent: int = 0  # prompts sent long after their due time (after downtime)
    expired_unsent: int = 0  # prompts that expired before they could be sent (downtime)
    rounds: int = 0
    skipped: bool = False  # Telegram asked us to wait; nothing was claimed


class FinishingJobQueue(JobQueue[BotContext]):
    """PTB's JobQueue, whose stop lets the ticks running finish and starts no new one.

    PTB's ``stop`` awaits the jobs running when it is called, then shuts APScheduler down,
    which cancels whatever runs by then: a tick that started in between was cancelled, and
    APScheduler logged that at ERROR with a traceback. Measured with a 5 ms job: 26 to 32
    stops of 40 logged it, none once the scheduler is paused first.
    """

    async def stop(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.pause()
        await super().stop(wait)


def state(application: BotApplication) -> SchedulerState:
    st: SchedulerState = application.bot_data[STATE_KEY]
    return st


def _deps(application: BotApplication) -> Deps:
    deps: Deps = application.bot_data[DEPS_KEY]
    return deps


def install(application: BotApplication) -> None:
    """Schedule the repeating due scan on the application's JobQueue."""
    settings = _deps(application).settings
    database = _deps(application).database
    sender_lock = SenderLock(database)
    application.bot_data[STATE_KEY] = SchedulerState(
        pacer=Pacer(settings.scheduler.send_rate),
        sender_lock=sender_lock,
        replies=ReplyShare(
            database,
            pacer=lambda: state(application).pacer,
            instance=lambda: _deps(application).instance_id,
        ),
    )
    gate = application.bot.rate_limiter
    if isinstance(gate, ReplyGate):
        # One budget for the whole bot: replies take their place in it ahead of prompts, and
        # every instance hears the others' replies.
        gate.budget = lambda: state(application).pacer
        gate.reply_sent = state(application).replies.reply_sent
        gate.paced_sent = state(application).replies.paced_sent
        gate.closing = state(application).replies.close
    if application.job_queue is None:  # PTB installed without its job-queue extra
        raise RuntimeError(
            "python-telegram-bot's JobQueue is missing: install the job-queue extra"
        )
    application.job_queue.run_repeating(
        _tick,
        interval=settings.scheduler.scan_interval_seconds,
        name=JOB_NAME,
        job_kwargs=SCAN_JOB_KWARGS,
    )
    # APScheduler moves a repeating job's first run to the next interval boundary after the
    # scheduler starts, so catch-up after downtime gets a one-off scan of its own at start.
    application.job_queue.run_once(
        _tick, when=0, name=START_JOB_NAME, job_kwargs={"misfire_grace_time": None}
    )
    previous = application.post_stop

    async def post_stop(app: Any) -> None:
        await release_claims(app)
        await state(app).replies.close()
        await _deps(app).run(state(app).sender_lock.release)
        if previous is not None:
            await previous(app)

    application.post_stop = post_stop
    previous_shutdown = application.post_shutdown

    async def post_shutdown(app: Any) -> None:
        # Also when the application was initialised but never started (tools, tests). The
        # replies' listener is closed already: Application.shutdown reaches ReplyGate.shutdown.
        await _deps(app).run(state(app).sender_lock.release)
        if previous_shutdown is not None:
            await previous_shutdown(app)

    application.post_shutdown = post_shutdown


async def _tick(context: BotContext) -> None:
    """Run the due scan unless the previous one is still sending."""
    application: BotApplication = context.application  # type: ignore[assignment]
    st = state(application)
    if st.lock.locked():
        log.debug("due scan skipped: the previous one is still running")
        return
    deps = _deps(application)
    async with st.lock:
        try:
            # Instances sharing a database share Telegram's budget: one sends at a time.
            st.replies.listen()  # the other instances' replies, sending or not
            holding = st.sender_lock.held
            if not await deps.run(st.sender_lock.hold):
                log.debug("due scan skipped: another instance sends")
                deps.scans.standing_by(deps.clock)
                return
            if not holding:
                log.info("this instance now sends the due prompts")
            scan = _scan(application, st, keep_going=lambda: application.running)
            await deps.scans.track(deps.clock, scan)
            await _housekeeping(application, st)
        except asyncio.CancelledError:
            # The JobQueue cancels a running job when the bot stops; what the scan claimed
            # goes back to pending (post_stop), so this is a stop, not an error to report.
            log.info("due scan stopped with the bot; the next start carries on")
            return
        except Exception as error:
            if not is_unavailable(error):
                log.exception("due scan failed; the next tick tries again")
                return
            # An outage would print the same traceback every few seconds: one line says it.
            log.warning(
                "due scan failed: the database is unavailable (%s); the next tick tries again",
                unavailable_reason(error),
                extra={"error": type(error).__name__},
            )


async def run_scan(application: BotApplication) -> ScanReport:
    """Run one due scan now and send everything it claimed (tests and tools await this)."""
    st = state(application)
    deps = _deps(application)
    async with st.lock:
        report = await deps.scans.track(
            deps.clock, _scan(application, st, keep_going=lambda: True)
        )
        await _housekeeping(application, st)
    return report


async def release_claims(application: BotApplication) -> int:
    """Put back what this process claimed but did not send, so another process sends it now."""
    deps = _deps(application)
    return await deps.run(
        delivery.release_claims, deps.database, deps.clock.now(), deps.instance_id
    )


def scan_policy(deps: Deps) -> ScanPolicy:
    scheduler, checkins = deps.settings.scheduler, deps.settings.checkins
    # Leases are renewed while a round is sent; should renewals fail (the database away), one
    # round's sends (prompts and reminders, a batch of each at most) still finish inside the
    # lease, so another process does not take the rows over and send them again.
    within_lease = int(scheduler.send_rate * scheduler.claim_lease_seconds / 2)
    return ScanPolicy(
        instance_id=deps.instance_id,
        lease_seconds=scheduler.claim_lease_seconds,
        batch_size=max(1, min(scheduler.scan_batch_size, within_lease)),
        default_zone=scheduler.default_timezone,
        max_reminders=checkins.max_reminders,
        quiet_start=checkins.quiet_hours_start,
        quiet_end=checkins.quiet_hours_end,
        first_reminder_minutes=checkins.first_reminder_minutes,
        late_after_seconds=max(60.0, 3 * scheduler.scan_interval_seconds),
    )


def mark_policy(deps: Deps) -> MarkPolicy:
    checkins = deps.settings.checkins
    return MarkPolicy(
        first_reminder_minutes=checkins.first_reminder_minutes,
        reminder_interval_minutes=checkins.reminder_interval_minutes,
        max_reminders=checkins.max_reminders,
    )


@dataclass
class _Totals:
    claimed: int = 0
    sent: int = 0
    reminded: int = 0
    expired: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    requeued: int = 0
    cancelled: int = 0
    deferred: int = 0
    blocked: int = 0
    late_sent: int = 0
    expired_unsent: int = 0
    rounds: int = 0
    skipped: bool = False

    def report(self) -> ScanReport:
        return ScanReport(**{f.name: getattr(self, f.name) for f in fields(ScanReport)})


async def _scan(
    application: BotApplication, st: SchedulerState, keep_going: Callable[[], bool]
) -> ScanReport:
    deps = _deps(application)
    policy = scan_policy(deps)
    marks = mark_policy(deps)
    totals = _Totals()

    # Paid broadcasts (off unless configured) ask Telegram for more than its free 30 a second.
    paid = True if deps.settings.scheduler.paid_broadcast else None
    # What each send put on the screen, recorded with its result so that the message can be
    # edited once its check-in closes (bot.closing).
    shown: dict[tuple[int, str], tuple[int, str]] = {}

    # Each recipient's language, looked up once per claimed batch (see ``languages_for``).
    languages: dict[int, str] = {}

    async def languages_for(batch: delivery.ScanBatch) -> None:
        languages.update(await chat_languages(deps, {job.chat_id for job in batch.jobs}))

    async def send(job: SendJob) -> int:
        with speaking(languages.get(job.chat_id, deps.settings.i18n.default_language)):
            text, markup = render_prompt(job.view)
        with paced():
            message = await application.bot.send_message(
                job.chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                allow_paid_broadcast=paid,
            )
        shown[(job.delivery_id, job.kind)] = (job.chat_id, text)
        return message.message_id

    def with_shown(result: SendResult) -> SendResult:
        chat_and_text = shown.get((result.delivery_id, result.kind))
        if result.outcome is not Outcome.SENT or chat_and_text is None:
            return result
        return replace(result, chat_id=chat_and_text[0], text=chat_and_text[1])

    async def flush(results: list[SendResult]) -> None:
        report = await deps.run(
            delivery.mark_results,
            deps.database,
            deps.clock.now(),
            [with_shown(result) for result in results],
            marks,
        )
        totals.blocked += report.blocked_people
        await closing.edit_once(application.bot, report.orphaned)

    now = deps.clock.now()
    previous = deps.scans.last_finished  # this scan's own end is recorded after it
    gap = None if previous is None else (now - previous).total_seconds()
    if st.scanning_since is None or gap is None or gap > policy.late_after_seconds:
        # The first scan, or the first after the bot was down or the database away.
        st.scanning_since = now
    since = st.scanning_since
    if not st.took_back_dead:
        # A kill -9 left rows claimed under our host's dead pid: sending them now beats
        # waiting out their lease (what was in flight at the kill goes out twice either way).
        await deps.run(
            delivery.release_dead, deps.database, now, socket.gethostname(), deps.instance_id
        )
        st.took_back_dead = True
    # Wrong-invite-code counters past their time: a handful of small rows at most.
    await deps.run(purge_code_attempts, deps.database, now)
    # Joins nobody answered "I agree" or "No, thanks" to within a week.
    await deps.run(checkin.purge_requests, deps.database, now)

    async def claim() -> delivery.ScanBatch:
        return await deps.run(
            delivery.scan, deps.database, deps.clock.now(), policy, scanning_since=since
        )

    ahead: asyncio.Task[delivery.ScanBatch] | None = None

    async def renew() -> bool:
        await deps.run(
            delivery.renew_claims,
            deps.database,
            deps.clock.now(),
            deps.instance_id,
            policy.lease_seconds,
        )
        deps.scans.renewed(deps.clock)
        return True

    renewing = LeaseKeeper(renew, policy.lease_seconds, what="the claims being sent")
    try:
        for round_number in range(MAX_ROUNDS):
            if ahead is not None:
                claimed, ahead = ahead, None
                batch = await claimed
            else:
                if round_number and not keep_going():
                    break
                if st.pacer.paused:
                    # Telegram asked us to wait: claiming now would only hold rows under lease.
                    totals.skipped = round_number == 0
                    break
                batch = await claim()
            totals.rounds += 1
            await languages_for(batch)
            if batch.more and round_number + 1 < MAX_ROUNDS:
                # Claim the next round while this one is sent: at hundreds of messages a second
                # the claim's own time would otherwise be a gap in the sending.
                ahead = asyncio.create_task(claim())
            stats = await st.sender().run(batch.jobs, send, flush, keep_going)
            _add(totals, batch, stats)
            await _ask_consent(application, st, batch.consent_asks)
            # Stop when nothing is left, or when sends are failing: hammering helps nobody.
            if not batch.more or stats.requeued or not keep_going() or st.pacer.paused:
                break
    finally:

        async def close() -> None:
            # The last renewal written first: it must not meet the give-back on these rows.
            await renewing.stop()
            if ahead is not None:
                # Claimed ahead but not to be sent now: straight back to pending.
                await _give_back(application, st, ahead, flush, totals)

        # Even on a stop, and however often the scan is cancelled meanwhile.
        await through_cancels(asyncio.ensure_future(close()))
    report = totals.report()
    _log(report)
    return report


async def _housekeeping(application: BotApplication, st: SchedulerState) -> int:
    """After a scan: send questions left unsent by a crash, purge old updates and answers,
    send the digests due, and edit the messages of check-ins that closed.

    Returns how many questions were sent.
    """
    deps = _deps(application)
    settings = deps.settings
    now = deps.clock.now()
    keep = timedelta(days=settings.inbox.keep_handled_days)
    purged = await deps.run(
        inbox.purge, deps.database, now - keep, settings.inbox.purge_batch_size
    )
    if purged:
        log.info("purged %d handled updates older than %s", purged, keep)
    if settings.retention.answers_days is not None:
        gone = await deps.run(
            retention.purge_old_answers,
            deps.database,
            now,
            settings.retention.answers_days,
            settings.retention.purge_batch_size,
        )
        if gone:
            log.info("retention: purged %d finished check-ins and their answers", gone)
    unsent = await deps.run(
        checkin.unsent_questions,
        deps.database,
        now,
        timedelta(seconds=settings.checkins.question_resend_seconds),
        settings.scheduler.scan_batch_size,
    )
    sent = 0
    languages = await chat_languages(deps, {item.chat_id for item in unsent})
    for item in unsent:
        question = item.question
        await st.pacer.acquire(item.chat_id)
        with speaking(languages[item.chat_id]):
            text, markup = render_question(question, playground=deps.playground)
        try:
            with paced():
                message = await application.bot.send_message(
                    item.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
                )
        except (BadRequest, Forbidden) as error:
            # Blocked, or the chat is gone: trying every scan would change nothing.
            log.info(
                "could not send an unsent question",
                extra={"delivery_id": question.delivery_id, "error": str(error)},
            )
            await deps.run(checkin.forget_unsent, deps.database, question.delivery_id)
            continue
        except RetryAfter as error:
            st.pacer.pause(retry_after_seconds(error))
            break
        except TelegramError as error:
            log.info(
                "could not send an unsent question; the next scan tries again",
                extra={"delivery_id": question.delivery_id, "error": str(error)},
            )
            break
        # The first send may have reached the patient, unrecorded.
        shown = checkin.Shown.of(
            question,
            message.message_id,
            maybe_shown_before=True,
            buttons_in_chat=item.chat_id if markup is not None else None,
        )
        await deps.run(checkin.note_question_shown, deps.database, deps.clock.now(), shown)
        sent += 1
    if sent:
        log.info("sent %d questions a stopped process had stored but not sent", sent)
    await _send_unsent_alerts(application, st)
    from bot import digests  # the weekly digests ride on the scan (bot.digests)

    await digests.send_due(application, st.pacer)
    # The prompts and reminders of check-ins that closed say so, without their buttons.
    await closing.close_due(application.bot, deps, st.pacer)
    return sent


# Answers whose alerts one scan sends again: paced a second apart into the same few chats,
# a backlog after an outage would otherwise hold the scan (and the prompts) for minutes.
ALERTS_PER_SCAN = 20


async def _send_unsent_alerts(application: BotApplication, st: SchedulerState) -> None:
    """Send the care team's alerts a stopped process (or a network failure) left unsent,
    after the same grace a question left unsent gets: the handler sends its own at once."""
    if st.pacer.paused:
        return  # a flood wait: the next scan
    deps = _deps(application)
    settings = deps.settings
    unsent = await deps.run(
        checkin.unsent_alerts,
        deps.database,
        deps.clock.now(),
        checkin_policy(settings),
        timedelta(seconds=settings.checkins.question_resend_seconds),
        ALERTS_PER_SCAN,
    )
    sent = await alerts.send(application.bot, deps, unsent, st.pacer, taken=True)
    if sent:
        log.info("sent %d alerts to therapists that a stopped process had not sent", sent)


async def _give_back(
    application: BotApplication,
    st: SchedulerState,
    claimed: asyncio.Task[delivery.ScanBatch],
    flush: FlushFunction,
    totals: _Totals,
) -> None:
    """Return a round claimed ahead to pending (its expiries and cancellations stand)."""
    try:
        batch = await claimed
    except Exception:
        log.exception("claiming ahead failed; the next tick tries again")
        return
    results = [SendResult(job.delivery_id, job.kind, Outcome.RETRY) for job in batch.jobs]
    if results:
        try:
            await flush(results)
        except Exception:
            # The rows stay claimed: once their leases run out a later scan sends them.
            log.exception("could not give back the rows claimed ahead")
    totals.rounds += 1
    _add(totals, batch, SendStats(requeued=len(results), results=results))


def _add(totals: _Totals, batch: delivery.ScanBatch, stats: SendStats) -> None:
    late = {job.delivery_id for job in batch.jobs if job.late}
    totals.claimed += batch.claimed
    totals.held += batch.held
    totals.cancelled += batch.cancelled
    totals.expired += batch.expired
    totals.expired_unsent += batch.expired_unsent
    totals.deferred += batch.deferred
    totals.retried += stats.retried
    totals.requeued += stats.requeued
    for result in stats.results:
        if result.outcome is delivery.Outcome.SENT:
            if result.kind == "prompt":
                totals.sent += 1
                totals.late_sent += result.delivery_id in late
            else:
                totals.reminded += 1
        elif result.outcome in (delivery.Outcome.FAILED, delivery.Outcome.FORBIDDEN):
            totals.failed += 1


def _log(report: ScanReport) -> None:
    counts = {
        "claimed": report.claimed,
        "sent": report.sent,
        "held": report.held,
        "reminded": report.reminded,
        "expired": report.expired,
        "failed": report.failed,
        "retried": report.retried,
        "requeued": report.requeued,
        "cancelled": report.cancelled,
        "deferred": report.deferred,
    }
    busy = any(counts.values())
    log.log(
        logging.INFO if busy else logging.DEBUG,
        "due scan: %s",
        ", ".join(f"{value} {name}" for name, value in counts.items() if value) or "nothing due",
        extra=counts,
    )
    if report.late_sent or report.expired_unsent:
        log.warning(
            "caught up after downtime: %d sent, %d expired",
            report.late_sent,
            report.expired_unsent,
            extra={"late_sent": report.late_sent, "expired_unsent": report.expired_unsent},
        )


async def _ask_consent(
    application: BotApplication, st: SchedulerState, asks: tuple[delivery.ConsentAsk, ...]
) -> None:
    """Send the consent text in force in place of the prompts it held back.

    Not retried: a patient it did not reach is asked at their next check-in instead.
    """
    languages = await chat_languages(_deps(application), {ask.chat_id for ask in asks})
    for ask in asks:
        question = checkin.ConsentQuestion(
            False, ask.group_id, ask.group_name, ask.version, ask.text, ask.again
        )
        with speaking(languages[ask.chat_id]):
            text, markup = render_consent(question)
        await st.pacer.acquire(ask.chat_id)
        try:
            with paced():  # its slot came from the pacer above, not the replies' gate
                await application.bot.send_message(
                    ask.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
                )
        except RetryAfter as error:
            st.pacer.pause(retry_after_seconds(error))
        except TelegramError as error:
            log.info(
                "could not ask for consent again",
                extra={"group_id": ask.group_id, "error": str(error)},
            )
