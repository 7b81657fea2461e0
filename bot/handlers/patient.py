"""Patient side: joining, the check-in walk-through and the patient's own commands.

Each handler reduces the update to plain values, runs one use case from
``bot.services.checkin`` (one transaction) and renders what it returns. Nothing about a
patient is kept in memory: a new Application on the same database carries on at the same
question. Only private chats are served; group chats and channels are ignored.

Every callback query is answered exactly once, refusals included, so no button keeps spinning.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, Message, Update, User
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import alerts, closing, keyboards, rendering, texts
from bot.chatmarks import newest_known
from bot.context import BotApplication, BotContext
from bot.handlers.presses import acknowledge
from bot.policies import checkin_policy
from bot.readers import (
    chat_languages,
    learns_reader_language,
    read_and_speak_to,
    speak_to,
)
from bot.receiver import defer_shown
from bot.services import checkin
from bot.services.authoring import is_therapist
from bot.services.responses import Reply
from bot.services.throttle import Burst
from bot.services.views import PromptView
from bot.texts.language import speaking

log = logging.getLogger(__name__)

HTML = "HTML"
PRIVATE = filters.ChatType.PRIVATE
# CommandHandler would also take an edited "/start CODE" by default.
PRIVATE_MESSAGE = PRIVATE & filters.UpdateType.MESSAGE
R = TypeVar("R")


def register(application: BotApplication) -> None:
    """Add the patient handlers; the therapist's come first and win on their own commands."""
    for names, callback in (
        ("start", start_command),
        ("tasks", tasks_command),
        ("pause", pause_command),
        ("cancel", cancel_command),
        ("timezone", timezone_command),
        ("stop", stop_command),
        ("deletemydata", delete_command),
    ):
        application.add_handler(CommandHandler(names, callback, filters=PRIVATE_MESSAGE))
    for pattern, pressed in (
        (r"^p:", prompt_pressed),
        (r"^a:", answer_pressed),
        (r"^s:", skip_pressed),
        (r"^tz:", timezone_pressed),
        (r"^stop:", stop_pressed),
        (r"^del:", delete_pressed),
    ):
        application.add_handler(CallbackQueryHandler(pressed, pattern=pattern))
    application.add_handler(
        MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, edited_message)
    )
    application.add_handler(MessageHandler(PRIVATE_MESSAGE & filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(PRIVATE_MESSAGE, message_received))
    # Last of all: a press nobody claimed (forged, or from a version long gone).
    application.add_handler(CallbackQueryHandler(unknown_button))


def policy_of(context: BotContext) -> checkin.Policy:
    return checkin_policy(context.deps.settings)


# --- commands ---------------------------------------------------------------------------------


async def start_command(update: Update, context: BotContext) -> None:
    """Join the group of an invite code, opt back in, or explain how to join."""
    message, user = _message_and_user(update)
    code = context.args[0] if context.args else None
    deps = context.deps
    who = checkin.Patient(
        user.id, message.chat_id, user.first_name, user.last_name or "", user.language_code
    )
    result = await deps.run(
        checkin.start, deps.database, deps.clock.now(), policy_of(context), who, code
    )
    now = deps.clock.now()
    next_due = rendering.render_next_due(result.next_due)
    outcome = checkin.StartOutcome
    if result.outcome == outcome.CONSENT_NEEDED and result.consent is not None:
        consent_text, markup = rendering.render_consent(result.consent)
        await message.reply_text(consent_text, parse_mode=HTML, reply_markup=markup)
        return
    if result.outcome == outcome.THROTTLED and result.retry_at is not None:
        text = texts.checkin_throttled(result.retry_at - now)
    elif result.outcome == outcome.BAD_CODE:
        problem = result.problem or checkin.InviteProblem.UNKNOWN
        text = texts.checkin_bad_code(problem.value)
        if result.retry_at is not None:
            log.info(
                "wrong invite codes: a cool-down starts",
                extra={"user_id": user.id, "until": result.retry_at.isoformat()},
            )
            text = f"{text}\n\n{texts.checkin_too_many_codes(result.retry_at - now)}"
    elif result.outcome == outcome.NEWCOMER:
        await _answer_stranger(
            context, message, user.id, to_therapist=texts.help_therapist_start()
        )
        return
    elif result.outcome == outcome.GREETING:
        text = texts.checkin_greeting(list(result.groups), next_due)
    elif result.outcome == outcome.OPTED_IN:
        text = texts.checkin_opted_in(list(result.groups), next_due)
    elif result.outcome == outcome.ALREADY_MEMBER:
        text = texts.checkin_already_member(result.group_name, next_due)
    else:
        text = texts.checkin_joined(result.group_name, next_due)
    if result.opted_back_in and result.outcome in (outcome.JOINED, outcome.ALREADY_MEMBER):
        text = f"{texts.checkin_welcome_back_line()}\n\n{text}"
    await message.reply_text(text, parse_mode=HTML)
    if result.burst is not None:
        await _alert_guessing(context, result.burst)


async def _alert_guessing(context: BotContext, burst: Burst) -> None:
    """Tell the administrators, once per window, that wrong codes come in a burst."""
    settings = context.deps.settings
    # The codes stay out of the log: a near miss would show what a real code looks like.
    log.warning(
        "invite codes may be being guessed: %d wrong codes since %s from all accounts",
        burst.failures,
        burst.since.isoformat(),
    )
    administrators = list(dict.fromkeys(settings.therapists.user_ids))
    languages = await chat_languages(context.deps, administrators)
    for chat_id in administrators:
        with speaking(languages[chat_id]):
            text = texts.admin_code_guessing(
                burst.failures, burst.since, settings.invites.wrong_codes_per_user
            )
        try:
            await context.bot.send_message(chat_id, text, parse_mode=HTML)
        except TelegramError:
            log.warning("Could not deliver the guessing alert to chat %s", chat_id, exc_info=True)


async def tasks_command(update: Update, context: BotContext) -> None:
    """List the open check-ins with Start/Continue buttons, or say when the next is due."""
    message, user = _message_and_user(update)
    deps = context.deps
    tasks = await deps.run(
        checkin.list_tasks, deps.database, deps.clock.now(), policy_of(context), user.id
    )
    if not tasks.known:
        await _answer_stranger(context, message, user.id)
        return
    text, markup = rendering.render_task_list(tasks)
    await message.reply_text(text, parse_mode=HTML, reply_markup=markup)


async def pause_command(update: Update, context: BotContext) -> None:
    """Stop answering for now; /tasks resumes at the same question."""
    await _pause(update, context, cancelling=False)


async def cancel_command(update: Update, context: BotContext) -> None:
    """Pause, as /pause; a therapist outside a dialogue (which takes its own /cancel) is told
    there is nothing to cancel."""
    await _pause(update, context, cancelling=True)


async def _pause(update: Update, context: BotContext, *, cancelling: bool) -> None:
    message, user = _message_and_user(update)
    if not cancelling and await _explained_to_therapist(
        context, message, user.id, "/pause", texts.admin_menu_pause()
    ):
        return
    deps = context.deps
    paused = await deps.run(
        checkin.pause, deps.database, deps.clock.now(), policy_of(context), user.id
    )
    if (
        cancelling
        and paused.task_title is None
        and await deps.run(is_therapist, deps.database, deps.settings.therapists.user_ids, user.id)
    ):
        await message.reply_text(texts.help_therapist_nothing_to_cancel())
        return
    if not paused.known:
        await _answer_stranger(context, message, user.id)
        return
    if paused.task_title is None:
        await message.reply_text(texts.checkin_nothing_to_pause(paused.open_count))
        return
    await message.reply_text(
        texts.checkin_paused(paused.task_title, paused.number, paused.total), parse_mode=HTML
    )
    await _offer(context, paused.offer)


async def timezone_command(update: Update, context: BotContext) -> None:
    """Show the patient's time zone with buttons for common ones, or set the one named."""
    message, user = _message_and_user(update)
    if await _explained_to_therapist(
        context, message, user.id, "/timezone", texts.admin_menu_timezone()
    ):
        return
    deps = context.deps
    now = deps.clock.now()
    if context.args:
        name = " ".join(context.args)
        changed = await deps.run(
            checkin.set_timezone, deps.database, now, policy_of(context), user.id, name
        )
        if not changed.known:
            await _answer_stranger(context, message, user.id)
            return
        await message.reply_text(_zone_changed_text(changed, name, context), parse_mode=HTML)
        return
    view = await deps.run(checkin.timezone_of, deps.database, policy_of(context), user.id)
    if not view.known:
        await _answer_stranger(context, message, user.id)
        return
    local_now = now.astimezone(ZoneInfo(view.zone))
    markup = rendering.timezone_keyboard(deps.settings.checkins.common_timezones, view.zone)
    await message.reply_text(
        texts.checkin_timezone_show(view.zone, local_now, view.own),
        parse_mode=HTML,
        reply_markup=markup,
    )


async def stop_command(update: Update, context: BotContext) -> None:
    """Ask for confirmation before opting out of check-ins."""
    message, user = _message_and_user(update)
    if await _explained_to_therapist(context, message, user.id, "/stop", texts.admin_menu_stop()):
        return
    deps = context.deps
    status = await deps.run(checkin.person_status, deps.database, user.id)
    if not status.known:
        await _answer_stranger(context, message, user.id)
        return
    if status.opted_out:
        await message.reply_text(texts.checkin_tasks_opted_out())
        return
    markup = rendering.confirm_keyboard(
        "stop", texts.checkin_button_stop_yes(), texts.checkin_button_stop_no()
    )
    await message.reply_text(texts.checkin_stop_confirm(), reply_markup=markup)


async def delete_command(update: Update, context: BotContext) -> None:
    """Ask for confirmation before erasing the patient's data."""
    message, user = _message_and_user(update)
    if await _explained_to_therapist(
        context, message, user.id, "/deletemydata", texts.admin_menu_deletemydata()
    ):
        return
    deps = context.deps
    status = await deps.run(checkin.person_status, deps.database, user.id)
    if not status.known and not status.joining:
        await _answer_stranger(context, message, user.id)
        return
    markup = rendering.confirm_keyboard(
        "del", texts.checkin_button_delete_yes(), texts.checkin_button_delete_no()
    )
    # Never joined: what is stored is a join waiting for "I agree", nothing a therapist sees.
    ask = texts.checkin_delete_join_confirm() if status.joining else texts.checkin_delete_confirm()
    await message.reply_text(ask, parse_mode=HTML, reply_markup=markup)


async def _answer_stranger(
    context: BotContext, message: Message, user_id: int, *, to_therapist: str | None = None
) -> None:
    """Someone who is no patient here: how to join, unless a join of theirs waits for "I
    agree" (then its consent text again, its buttons right under it) or, where
    ``to_therapist`` is given, they are a therapist, who joins no group this way."""
    deps = context.deps
    waiting = await deps.run(checkin.waiting_join, deps.database, deps.clock.now(), user_id)
    if waiting is not None:
        consent_text, markup = rendering.render_consent(waiting)
        await message.reply_text(consent_text, parse_mode=HTML, reply_markup=markup)
        return
    if to_therapist is not None and await deps.run(
        is_therapist, deps.database, deps.settings.therapists.user_ids, user_id
    ):
        await message.reply_text(to_therapist)
        return
    await message.reply_text(texts.checkin_how_to_join(), parse_mode=HTML)


async def _explained_to_therapist(
    context: BotContext, message: Message, user_id: int, command: str, purpose: str
) -> bool:
    """A patients' command from a therapist who is no patient (never was) is explained, not
    run: a stored therapist passed for a patient and got a patient's zone picker, or an
    erasure offer for data that is not a patient's. True when it was explained."""
    deps = context.deps
    if not await deps.run(
        is_therapist, deps.database, deps.settings.therapists.user_ids, user_id
    ) or not await deps.run(checkin.never_a_patient, deps.database, user_id):
        return False
    await message.reply_text(texts.help_therapist_patient_command(command, purpose))
    return True


async def unknown_command(update: Update, context: BotContext) -> None:
    """Point at /help for a command nobody handles."""
    message, _user = _message_and_user(update)
    await message.reply_text(texts.checkin_unknown_command())


# --- messages ---------------------------------------------------------------------------------


@learns_reader_language
async def message_received(update: Update, context: BotContext) -> None:
    """Take the message as the answer to the question being asked, or say what to do."""
    message, user = _message_and_user(update)
    deps = context.deps
    answered = await deps.run(
        checkin.answer_message,
        deps.database,
        deps.clock.now(),
        policy_of(context),
        user.id,
        reply_of(message),
        message.message_id,
        message.date,
    )
    speak_to(deps, answered.chosen_language, user.language_code)
    result = answered.outcome
    if isinstance(result, checkin.NoQuestion):
        # Nothing of a patient's in the way (never joined, nothing open): a therapist is told
        # what a therapist can do, not how to join a group.
        if result.reason == checkin.Idle.UNKNOWN_PERSON:
            await _answer_stranger(
                context, message, user.id, to_therapist=texts.help_therapist_free_text()
            )
        elif (
            result.reason == checkin.Idle.NOTHING_ASKED and not result.open_count
        ) and await deps.run(
            is_therapist, deps.database, deps.settings.therapists.user_ids, user.id
        ):
            await message.reply_text(texts.help_therapist_free_text())
        elif result.reason == checkin.Idle.ERASED:
            await message.reply_text(texts.checkin_data_was_deleted())
        elif result.reason == checkin.Idle.CLOSED:
            await message.reply_text(texts.checkin_closed())
        elif result.reason == checkin.Idle.NOTHING_ASKED:
            await message.reply_text(texts.checkin_nothing_asked(result.open_count))
        # A duplicate was answered the first time it came.
        return
    if isinstance(result, checkin.Refused):
        await message.reply_text(texts.checkin_closed())
        return
    if isinstance(result, checkin.Reask):
        text, markup = rendering.render_reask(result, playground=context.deps.playground)
        sent = await message.reply_text(text, parse_mode=HTML, reply_markup=markup)
        if markup is not None:
            await deps.run(
                checkin.note_buttons_shown,
                deps.database,
                deps.clock.now(),
                result.question.delivery_id,
                sent.chat_id,
                sent.message_id,
            )
        return
    if isinstance(result, checkin.NotShown):
        await _ask(
            context,
            message.chat_id,
            result.question,
            _not_shown_intro(result),
            maybe_shown_before=result.maybe_shown_before,
            record=not result.shown_already,
        )
        return
    await _send_progress(context, message.chat_id, result)


async def edited_message(update: Update, context: BotContext) -> None:
    """Explain that an edit changes no stored answer, when a question is waiting, and that an
    edited command is not run (a therapist fixing a typo in /addtask heard nothing)."""
    message = update.edited_message
    user = update.effective_user
    if message is None or user is None:
        return
    deps = context.deps
    status = await deps.run(checkin.person_status, deps.database, user.id)
    if status.asking:
        await context.bot.send_message(message.chat_id, texts.checkin_edit_ignored())
    elif (message.text or "").startswith("/"):
        await context.bot.send_message(message.chat_id, texts.edited_command_not_run())


def reply_of(message: Message) -> Reply:
    """Reduce a Telegram message to what the answer rules look at."""
    replied = message.reply_to_message
    # Only a reply to one of the bot's messages (an earlier question) says anything.
    reply_to = (
        replied.message_id
        if replied is not None and replied.from_user is not None and replied.from_user.is_bot
        else None
    )
    if message.text is not None:
        return Reply(kind="text", text=message.text, reply_to=reply_to)
    if message.photo:
        return Reply(kind="photo", file_id=message.photo[-1].file_id, reply_to=reply_to)
    if message.video:
        return Reply(kind="video", file_id=message.video.file_id, reply_to=reply_to)
    if message.video_note:
        return Reply(kind="video", file_id=message.video_note.file_id, reply_to=reply_to)
    if message.animation:  # checked before document: a GIF carries both
        return Reply(kind="other", other_label="animation")
    if message.document:
        # responses recognises "document" to suggest resending a photo or video as such.
        return Reply(kind="other", other_label="document")
    others = (
        (message.sticker, "sticker"),
        (message.voice, "voice"),
        (message.audio, "audio"),
        (message.location, "location"),
        (message.contact, "contact"),
        (message.poll, "poll"),
    )
    for present, label in others:
        if present:
            return Reply(kind="other", other_label=label)
    return Reply(kind="other")


# --- buttons ----------------------------------------------------------------------------------


async def prompt_pressed(update: Update, context: BotContext) -> None:
    """Start, put off or skip a due task from its prompt (or from /tasks)."""
    query, user = _query_and_user(update)
    callback = keyboards.decode(query.data)
    delivery_id = callback.int_part(0) if callback else None
    action = callback.parts[1] if callback and len(callback.parts) == 2 else None
    deps = context.deps
    now = deps.clock.now()
    policy = policy_of(context)
    if delivery_id is None or action not in ("start", "later", "skip", "skipsure", "goon"):
        await _refuse(context, query, checkin.Refusal.NOT_YOURS)
        return
    if action in ("start", "goon"):
        started = await _guarded(
            query,
            deps.run(
                checkin.begin,
                deps.database,
                now,
                policy,
                user.id,
                delivery_id,
                newest_known=_newest_known(context, query, user),
            ),
        )
        if action == "goon":
            # The question whether to skip is answered: its buttons go, whatever comes next.
            await _take_buttons_off(query)
        if isinstance(started, checkin.Refused):
            await _refuse(context, query, started.reason)
            if started.consent is not None:
                # The group asks for consent not given yet: it comes first, with its buttons.
                text, markup = rendering.render_consent(started.consent)
                await context.bot.send_message(
                    _chat_id(query, user), text, parse_mode=HTML, reply_markup=markup
                )
            return
        await acknowledge(context, query)
        await _send_progress(context, _chat_id(query, user), started)
        return
    if action == "later":
        deferred = await _guarded(
            query, deps.run(checkin.remind_later, deps.database, now, policy, user.id, delivery_id)
        )
        if isinstance(deferred, checkin.Refused):
            await _refuse(context, query, deferred.reason)
            return
        await acknowledge(context, query)
        zone = ZoneInfo(deferred.zone)
        local_expiry = deferred.expires_at.astimezone(zone)
        waiting = (deferred.number, deferred.total)
        if deferred.remind_at is not None:
            outcome = texts.checkin_prompt_later(deferred.remind_at.astimezone(zone), *waiting)
        elif deferred.reminders_off:
            outcome = texts.checkin_prompt_later_no_reminder(local_expiry)
        else:
            outcome = texts.checkin_prompt_later_too_late(local_expiry, *waiting)
        await _settle_prompt(context, query, user, outcome)
        await _offer(context, deferred.offer)
        return
    sure = action == "skipsure"
    skipped = await _guarded(
        query,
        deps.run(checkin.skip_task, deps.database, now, policy, user.id, delivery_id, sure=sure),
    )
    if isinstance(skipped, checkin.Refused):
        await _refuse(context, query, skipped.reason)
        if sure and skipped.reason in _ANSWERED_FOR_GOOD:
            await _take_buttons_off(query)
        return
    await acknowledge(context, query)
    if isinstance(skipped, checkin.SkipAsked):
        text, markup = rendering.render_skip_confirm(skipped)
        await context.bot.send_message(
            _chat_id(query, user), text, parse_mode=HTML, reply_markup=markup
        )
        return
    # Its prompt and reminders say it was skipped; the pressed one too, even if unrecorded.
    closed = await closing.close_chat_now(context.bot, deps, _chat_id(query, user))
    if query.message is None or query.message.message_id not in closed:
        await _settle_prompt(context, query, user, texts.checkin_prompt_skipped())
    await _offer(context, skipped.offer)


@learns_reader_language
async def answer_pressed(update: Update, context: BotContext) -> None:
    """Store the answer a button carries and ask the next question."""
    query, user = _query_and_user(update)
    deps = context.deps
    callback = keyboards.decode(query.data)
    # Four parts: delivery, question, answer, revision; buttons sent before the revision was
    # added have three.
    parts = len(callback.parts) if callback else 0
    delivery_id = callback.int_part(0) if callback and parts in (3, 4) else None
    question_id = callback.int_part(1) if callback and parts in (3, 4) else None
    revision = callback.int_part(3) if callback and parts == 4 else None
    if callback is None or delivery_id is None or question_id is None:
        await read_and_speak_to(deps, user)
        await _refuse(context, query, checkin.Refusal.NOT_YOURS)
        return
    pressed = await _guarded(
        query,
        deps.run(
            checkin.answer_button,
            deps.database,
            deps.clock.now(),
            policy_of(context),
            user.id,
            delivery_id,
            question_id,
            callback.parts[2],
            newest_known=_newest_known(context, query, user),
            shown_revision=revision,
            pressed_message_id=_pressed_message_id(query),
        ),
    )
    speak_to(deps, pressed.chosen_language, user.language_code)
    await _after_question_press(context, query, user, pressed.outcome)


@learns_reader_language
async def skip_pressed(update: Update, context: BotContext) -> None:
    """Skip an optional question and ask the next one."""
    query, user = _query_and_user(update)
    deps = context.deps
    callback = keyboards.decode(query.data)
    delivery_id = callback.int_part(0) if callback and len(callback.parts) == 2 else None
    question_id = callback.int_part(1) if callback and len(callback.parts) == 2 else None
    if delivery_id is None or question_id is None:
        await read_and_speak_to(deps, user)
        await _refuse(context, query, checkin.Refusal.NOT_YOURS)
        return
    pressed = await _guarded(
        query,
        deps.run(
            checkin.skip_question,
            deps.database,
            deps.clock.now(),
            policy_of(context),
            user.id,
            delivery_id,
            question_id,
            newest_known=_newest_known(context, query, user),
            pressed_message_id=_pressed_message_id(query),
        ),
    )
    speak_to(deps, pressed.chosen_language, user.language_code)
    await _after_question_press(context, query, user, pressed.outcome)


def _pressed_message_id(query: CallbackQuery) -> int | None:
    return query.message.message_id if query.message is not None else None


async def timezone_pressed(update: Update, context: BotContext) -> None:
    """Set the time zone on the pressed button."""
    query, user = _query_and_user(update)
    callback = keyboards.decode(query.data)
    name = ":".join(callback.parts) if callback else ""
    deps = context.deps
    changed = await _guarded(
        query,
        deps.run(
            checkin.set_timezone,
            deps.database,
            deps.clock.now(),
            policy_of(context),
            user.id,
            name,
        ),
    )
    if not changed.known:
        await _refuse_stranger(context, query, erased=changed.erased)
        return
    await acknowledge(context, query)
    await _edit_or_send(context, query, user, _zone_changed_text(changed, name, context))


async def stop_pressed(update: Update, context: BotContext) -> None:
    """Opt out after "Yes, stop"; leave everything as it was after "No"."""
    query, user = _query_and_user(update)
    callback = keyboards.decode(query.data)
    if callback is None or callback.parts != ("yes",):
        await acknowledge(context, query)
        await _edit_or_send(context, query, user, texts.checkin_stop_kept())
        return
    deps = context.deps
    stopped = await _guarded(
        query,
        deps.run(
            checkin.stop, deps.database, deps.clock.now(), deps.settings.erasure_key, user.id
        ),
    )
    if not stopped.known:
        await _refuse_stranger(context, query, erased=stopped.erased)
        return
    await acknowledge(context, query)
    await _edit_or_send(context, query, user, texts.checkin_stopped())
    await closing.close_chat_now(context.bot, deps, _chat_id(query, user))


async def delete_pressed(update: Update, context: BotContext) -> None:
    """Erase the patient's data after "Yes, delete everything"; nothing after "No"."""
    query, user = _query_and_user(update)
    callback = keyboards.decode(query.data)
    if callback is None or callback.parts != ("yes",):
        await acknowledge(context, query)
        await _edit_or_send(context, query, user, texts.checkin_delete_kept())
        return
    deps = context.deps
    deleted = await _guarded(
        query,
        deps.run(
            checkin.delete_my_data,
            deps.database,
            deps.clock.now(),
            deps.settings.erasure_key,
            user.id,
        ),
    )
    if not deleted.known:
        await _refuse_stranger(context, query, erased=deleted.erased)
        return
    await acknowledge(context, query)
    done = texts.checkin_join_forgotten() if deleted.join_forgotten else texts.checkin_deleted()
    await _edit_or_send(context, query, user, done)
    # The pressed message was just replaced (and lost any buttons): edited again, it would
    # be an edit Telegram refuses as changing nothing.
    pressed = _pressed_message_id(query)
    await closing.edit_once(context.bot, [m for m in deleted.closing if m.message_id != pressed])


async def unknown_button(update: Update, context: BotContext) -> None:
    """Answer a press no handler claimed, so the button stops spinning."""
    if update.callback_query is not None:
        await _refuse(context, update.callback_query, checkin.Refusal.NOT_YOURS)


# --- shared steps -----------------------------------------------------------------------------


async def _after_question_press(
    context: BotContext,
    query: CallbackQuery,
    user: User,
    result: checkin.Progress | checkin.Refused | checkin.NotShown,
) -> None:
    if isinstance(result, checkin.Refused):
        await _refuse(context, query, result.reason)
        if result.reason in _ANSWERED_FOR_GOOD and await _take_buttons_off(query):
            deps = context.deps
            delivery_id = _pressed_delivery_id(query)
            message_id = _pressed_message_id(query)
            if delivery_id is not None and message_id is not None:
                await deps.run(checkin.buttons_taken_off, deps.database, delivery_id, message_id)
        return
    if isinstance(result, checkin.NotShown):
        await acknowledge(context, query)
        await _ask(context, _chat_id(query, user), result.question, _not_shown_intro(result))
        return
    await acknowledge(context, query)
    if result.answered is not None:
        # The keyboard goes with the edit, so the old buttons cannot be pressed again.
        await _edit_or_send(context, query, user, rendering.render_answered(result.answered))
    await _send_progress(context, _chat_id(query, user), result)


# A question's buttons refused for one of these can never answer again: they go, rather than
# look live on the patient's screen (a question answered by typing, or the bot stopped before
# its check-in's closing took them off).
_ANSWERED_FOR_GOOD = frozenset(
    {
        checkin.Refusal.CLOSED,
        checkin.Refusal.COMPLETED,
        checkin.Refusal.SKIPPED,
        checkin.Refusal.CANCELLED,
        checkin.Refusal.STALE,
        checkin.Refusal.ALREADY,
    }
)


async def _take_buttons_off(query: CallbackQuery) -> bool:
    """A courtesy after the refusal was said: nothing is lost if Telegram will not edit.
    True when the buttons went."""
    if not isinstance(query.message, Message) or query.message.reply_markup is None:
        # Too old or deleted, or pressed again after an edit took them off already.
        return False
    try:
        await query.message.edit_reply_markup(reply_markup=None)
    except TelegramError as error:
        log.info("a refused press's buttons were left as they are: %s", error)
        return False
    return True


def _pressed_delivery_id(query: CallbackQuery) -> int | None:
    """The check-in a question's button belongs to (``question_keyboard``'s first part)."""
    callback = keyboards.decode(query.data)
    return callback.int_part(0) if callback else None


def _not_shown_intro(result: checkin.NotShown) -> str:
    if result.reworded:
        return texts.checkin_question_reworded()
    if result.removed:
        return texts.checkin_question_removed()
    return texts.checkin_question_not_shown()


async def consent_again(context: BotContext, chat_id: int, user_id: int) -> None:
    """Send the consent text of a join waiting for "I agree" once more, in the reader's
    language as it is now (after /language changed it)."""
    deps = context.deps
    waiting = await deps.run(checkin.waiting_join, deps.database, deps.clock.now(), user_id)
    if waiting is not None:
        text, markup = rendering.render_consent(waiting)
        await context.bot.send_message(chat_id, text, parse_mode=HTML, reply_markup=markup)


async def ask_again(context: BotContext, chat_id: int, user_id: int) -> None:
    """Send the question being asked once more, in the reader's language as it is now (after
    /language changed it), where the check-in goes on."""
    deps = context.deps
    status = await deps.run(checkin.person_status, deps.database, user_id)
    if status.asking_delivery_id is None:
        return
    resumed = await deps.run(
        checkin.begin,
        deps.database,
        deps.clock.now(),
        policy_of(context),
        user_id,
        status.asking_delivery_id,
        newest_known=newest_known(context.bot, chat_id),
    )
    if isinstance(resumed, checkin.Progress):
        await _send_progress(context, chat_id, resumed)


async def _send_progress(context: BotContext, chat_id: int, progress: checkin.Progress) -> None:
    """Ask the next question, or send the summary and offer the next waiting task."""
    bot = context.bot
    intro = []
    if progress.paused_title:
        intro.append(texts.checkin_paused_other(progress.paused_title))
    if progress.resumed and progress.answered is None:
        intro.append(texts.checkin_resuming(progress.task_title))
    if progress.question is not None:
        await _ask(context, chat_id, progress.question, "\n".join(intro) or None)
    elif progress.summary is not None:
        if progress.question_removed:
            await bot.send_message(chat_id, texts.checkin_last_question_removed())
        # A long check-in's summary (up to 30 questions, 200 characters a line) can pass
        # Telegram's limit: refused whole, it left the patient told that nothing was saved.
        for part in rendering.split_message(rendering.render_summary(progress.summary)):
            await bot.send_message(chat_id, part, parse_mode=HTML)
        # The check-in's prompt and reminders say it is completed, without their buttons.
        await closing.close_chat_now(bot, context.deps, chat_id)
        await _offer(context, progress.offer)
    await alerts.send(bot, context.deps, progress.alerts)


async def _ask(
    context: BotContext,
    chat_id: int,
    question: checkin.QuestionView,
    intro: str | None,
    *,
    maybe_shown_before: bool = False,
    record: bool = True,
) -> None:
    """Send a question, then record that it reached the patient: only now may it be answered."""
    text, markup = rendering.render_question(
        question, intro=intro, playground=context.deps.playground
    )
    sent = await context.bot.send_message(chat_id, text, parse_mode=HTML, reply_markup=markup)
    if not record:
        return
    shown = checkin.Shown.of(
        question,
        sent.message_id,
        maybe_shown_before=maybe_shown_before,
        buttons_in_chat=chat_id if markup is not None else None,
    )
    if defer_shown(shown):
        return  # recorded with the inbox's batch, before this chat's next update is handled
    deps = context.deps
    await deps.run(checkin.note_question_shown, deps.database, deps.clock.now(), shown)


async def _offer(context: BotContext, view: PromptView | None) -> None:
    if view is None:
        return
    text, markup = rendering.render_prompt(view)
    sent = await context.bot.send_message(view.chat_id, text, parse_mode=HTML, reply_markup=markup)
    deps = context.deps
    # Bookkeeping after the send, like the scan's own "mark sent": a held task's prompt is
    # only now on the screen, so its reminders and its closing edit can follow.
    await deps.run(
        checkin.note_offer,
        deps.database,
        deps.clock.now(),
        policy_of(context),
        view.delivery_id,
        sent.message_id,
        chat_id=view.chat_id,
        text=text,
    )


async def _settle_prompt(
    context: BotContext, query: CallbackQuery, user: User, outcome: str
) -> None:
    """Edit the prompt to say what was chosen, without its buttons."""
    message = query.message
    if isinstance(message, Message) and message.text:
        await _edit_or_send(
            context, query, user, rendering.with_outcome(message.text_html, outcome)
        )
    else:
        await context.bot.send_message(_chat_id(query, user), outcome, parse_mode=HTML)


async def _edit_or_send(context: BotContext, query: CallbackQuery, user: User, text: str) -> None:
    """Replace the pressed message (and its keyboard); send anew when it cannot be edited."""
    # Only a text message can take new text; a message Telegram calls inaccessible (deleted,
    # or too old) comes without its text. Either way the outcome is sent as a new message.
    if isinstance(query.message, Message) and query.message.text is not None:
        try:
            await query.edit_message_text(text, parse_mode=HTML)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return
            log.info("Could not edit message %s: %s", query.message.message_id, error)
    await context.bot.send_message(_chat_id(query, user), text, parse_mode=HTML)


async def _refuse(context: BotContext, query: CallbackQuery, reason: checkin.Refusal) -> None:
    await acknowledge(context, query, texts.checkin_refused(reason.value))


async def _refuse_stranger(context: BotContext, query: CallbackQuery, *, erased: bool) -> None:
    await _refuse(
        context, query, checkin.Refusal.ERASED if erased else checkin.Refusal.UNKNOWN_PERSON
    )


async def _guarded(query: CallbackQuery, work: Awaitable[R]) -> R:
    """Run the use case; if it fails, still answer the press before the error handler runs.

    Not through ``acknowledge``: the error handler's apology follows as a message, so a
    refused toast here needs no message of its own.
    """
    try:
        return await work
    except Exception:
        try:
            await query.answer(texts.something_went_wrong())
        except TelegramError:  # the apology must not hide the real error
            log.warning("Could not answer callback query %s", query.id, exc_info=True)
        raise


def _zone_changed_text(changed: checkin.ZoneChanged, name: str, context: BotContext) -> str:
    if not changed.known:
        return texts.checkin_how_to_join()
    if changed.zone is None:
        # Quoted back shortened: a name longer than any zone's would make the reply too long.
        return texts.checkin_timezone_unknown(name if len(name) <= 64 else f"{name[:63]}…")
    local_now = context.deps.clock.now().astimezone(ZoneInfo(changed.zone))
    return texts.checkin_timezone_set(
        changed.zone, local_now, rendering.render_next_due(changed.next_due)
    )


def _message_and_user(update: Update) -> tuple[Message, User]:
    message, user = update.message, update.effective_user
    assert message is not None and user is not None  # the filters admit only such updates
    return message, user


def _query_and_user(update: Update) -> tuple[CallbackQuery, User]:
    query = update.callback_query
    assert query is not None
    return query, query.from_user


def _chat_id(query: CallbackQuery, user: User) -> int:
    # Buttons live only in private chats, whose id is the user's.
    return query.message.chat.id if query.message is not None else user.id


def _newest_known(context: BotContext, query: CallbackQuery, user: User) -> int | None:
    """The chat's newest message known at the press, the pressed one at least: the question
    the press brings follows it (``bot.chatmarks``)."""
    pressed = query.message.message_id if query.message is not None else None
    return newest_known(context.bot, _chat_id(query, user), pressed)
