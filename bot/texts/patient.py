"""What a patient reads: joining, /help, prompts and the check-in walk-through."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

import bot.texts.language as language
from bot.texts.answers import alert_condition, shown_answer
from bot.texts.language import _, content, counted, ngettext
from bot.texts.therapist_commands import admin_help

if TYPE_CHECKING:
    pass


# --- everyone -----------------------------------------------------------------------------


def something_went_wrong() -> str:
    return _(
        "Sorry, something went wrong on our side and nothing was changed. "
        "Please try again in a moment."
    )


def help_patient() -> str:
    return _(
        "<b>What you can do</b>\n"
        "/start CODE – join your therapy group with the code from your therapist\n"
        "/tasks – your open check-ins, to start or continue\n"
        "/progress – your check-ins and answers of the last 8 weeks as a chart\n"
        "/pause – stop for now; /tasks continues where you left off\n"
        "/timezone – show or set your time zone\n"
        "/language – change the language\n"
        "/stop – stop receiving check-ins (/start turns them back on)\n"
        "/deletemydata – erase your answers and leave your groups\n"
        "/mydata – everything stored about you, as one file\n"
        "/help – this message"
    )


def help_therapist() -> str:
    return admin_help()


def help_therapist_start() -> str:
    """A therapist's /start: what a therapist does here, not how to join a group."""
    return _(
        "👋 Hello! You are a therapist here. /groups shows your groups, /newgroup creates one, "
        "/invite GROUP makes the link your patients join with, /newtask creates a task and "
        "/report GROUP shows adherence. /help lists every command."
    )


def help_therapist_free_text() -> str:
    """A therapist's message outside a dialogue: what to do instead, not how to join."""
    return _(
        "You are a therapist here, so a message like this starts nothing. Send a command: "
        "/groups to see your groups, /newtask to create a task, /report GROUP for adherence, "
        "/help for all of them. If you were in the middle of /newtask, /edittask or "
        "/setconsent, it has ended (the bot restarted, or it waited too long): start it again."
    )


def help_therapist_nothing_to_cancel() -> str:
    """/cancel from a therapist outside a dialogue: not a patient's pause."""
    return _(
        "Nothing to cancel: /cancel leaves /newtask, /edittask or /setconsent while you are in "
        "one. /help lists all commands."
    )


def help_therapist_patient_command(command: str, purpose: str) -> str:
    """A patient's command from a therapist who is no patient: what it is for, and whose."""
    return _(
        "{command} is a patients' command (“{purpose}”). You are a therapist here: /help "
        "lists your commands."
    ).format(command=command, purpose=purpose)


# --- /language ----------------------------------------------------------------------------
# The buttons name each language in itself (texts.language.LANGUAGES), never translated.


def language_choose(current: str) -> str:
    """Which language to write in; said in the current one, ``current`` named in itself."""
    return _("🌐 I write to you in <b>{current}</b>. Which language would you like?").format(
        current=escape(current)
    )


def language_set(name: str) -> str:
    """Said in the newly chosen language."""
    return _("🌐 Done: from now on I write to you in <b>{name}</b>.").format(name=escape(name))


def language_unknown(code: str) -> str:
    # A language code is a few letters; whatever else was typed is only hinted at.
    shown = code if len(code) <= 20 else code[:19] + "…"
    return _("I don't speak “{code}”. Please tap one of the languages.").format(code=escape(shown))


def language_not_joined() -> str:
    return _(
        "Please join your therapy group first, with the invite link from your therapist. "
        "Until then I write in the language of your Telegram app."
    )


# --- prompts ------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{language.weekday_time(moment)} ({moment.tzname()})"


def prompt(
    title: str,
    local_due: datetime,
    local_expiry: datetime,
    question_count: int,
    reminder_number: int,
    started: bool,
) -> str:
    head = (
        _("⏰ <b>Reminder</b>: your check-in is still open.")
        if reminder_number
        else _("📋 <b>Time for your check-in</b>")
    )
    progress = (
        _("\nYou have already started; you can pick up where you left off.") if started else ""
    )
    return _(
        "{head}\n"
        "\n"
        "<b>{title}</b>\n"
        "Due {local_due} · {questions}\n"
        "Open until {local_expiry}.{progress}"
    ).format(
        head=head,
        title=escape(content(title)),
        local_due=_when(local_due),
        questions=counted("{n} question", "{n} questions", question_count),
        local_expiry=_when(local_expiry),
        progress=progress,
    )


def checkin_closing_line(ending: str, local_closed: datetime | None) -> str:
    """The line added under a prompt or reminder once its check-in has ended (bot.closing)."""
    if ending == "expired" and local_closed is not None:
        return _("⌛ <i>Closed at {when}</i>").format(when=_when(local_closed))
    if ending == "completed":
        return _("✅ <i>Completed</i>")
    if ending == "skipped":
        return checkin_prompt_skipped()
    if ending == "expired":
        return _("⌛ <i>Closed</i>")
    return _("✖️ <i>Cancelled: no answer needed any more</i>")


def button_start() -> str:
    return _("▶️ Start now")


def button_resume() -> str:
    return _("▶️ Continue")


def button_later() -> str:
    return _("⏰ Remind me later")


def button_skip_task() -> str:
    return _("⏭ Skip this task")


def button_skip_rest() -> str:
    return _("⏭ Yes, skip the rest")


def button_carry_on() -> str:
    return _("▶️ No, carry on")


def checkin_skip_confirm(title: str, answered: int, total: int) -> str:
    return ngettext(
        "You have answered {answered} of {n} question of <b>{title}</b>. Skip the rest? "
        "Your answers so far stay saved; the rest cannot be answered afterwards.",
        "You have answered {answered} of {n} questions of <b>{title}</b>. Skip the rest? "
        "Your answers so far stay saved; the rest cannot be answered afterwards.",
        total,
    ).format(answered=answered, n=total, title=escape(content(title)))


# --- check-in -----------------------------------------------------------------------------
# Used by bot/handlers/patient.py and bot/rendering.py. Texts for answerCallbackQuery
# (checkin_refused_*) are plain text, at most 200 characters: no HTML there.


def checkin_data_was_deleted() -> str:
    return _(
        "🗑 Your data was deleted at your request, so there is nothing of yours here to "
        "answer. To take part again, open a new invite link from your therapist."
    )


def checkin_how_to_join() -> str:
    return _(
        "👋 Hello! I run the home-exercise check-ins of your physiotherapy clinic.\n\n"
        "To join your therapy group, open the invite link your therapist gave you, "
        "or send /start followed by the code, for example <code>/start ABC123</code>."
    )


def checkin_next_due(title: str, local_due: datetime) -> str:
    return _("Your next check-in, <b>{title}</b>, is due {local_due}.").format(
        title=escape(content(title)), local_due=_when(local_due)
    )


def checkin_next_due_now(title: str) -> str:
    return _("Your next check-in, <b>{title}</b>, is due now.").format(
        title=escape(content(title))
    )


def checkin_nothing_planned() -> str:
    return _("No check-ins are planned for you at the moment; I'll message you when one is due.")


def checkin_joined(group: str, next_due: str) -> str:
    return _(
        "✅ Welcome! You have joined <b>{group}</b>.\n"
        "\n"
        "{next_due}\n"
        "\n"
        "When a check-in is due I'll send you its questions one by one. /help "
        "shows what else you can do."
    ).format(group=escape(group), next_due=next_due)


def checkin_already_member(group: str, next_due: str) -> str:
    return _("You are already in <b>{group}</b>.\n\n{next_due}").format(
        group=escape(group), next_due=next_due
    )


def checkin_welcome_back_line() -> str:
    return _("🔔 Check-ins are on again.")


def checkin_bad_code(problem: str) -> str:
    reason = {
        "unknown": _("I don't know that invite code."),
        "expired": _("That invite link has expired."),
        "revoked": _("That invite link has been withdrawn."),
        "used_up": _("That invite link has already been used as often as it may be."),
        "removed": _("You were taken out of that group, so this invite no longer works for you."),
    }.get(problem, _("That invite code doesn't work."))
    return _(
        "⚠️ {reason} Nothing has changed.\n"
        "Please ask your therapist for a new invite link, and check the code "
        "if you typed it."
    ).format(reason=reason)


def checkin_too_many_codes(wait: timedelta) -> str:
    """Said with the wrong code that started a cool-down."""
    return _("⏳ That was too many wrong codes: please wait {wait} before trying again.").format(
        wait=_duration(wait)
    )


def checkin_throttled(wait: timedelta) -> str:
    return _(
        "⏳ Too many wrong invite codes were sent from this account, so I am "
        "not checking codes for a while: please try again in {wait}."
    ).format(wait=_duration(wait))


def _duration(wait: timedelta) -> str:
    """A wait rounded up to whole minutes, or to hours past two."""
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    if minutes < 120:
        return counted("{n} minute", "{n} minutes", minutes)
    return counted("{n} hour", "{n} hours", -(-minutes // 60))


def admin_code_guessing(failures: int, since: datetime, per_user: int) -> str:
    """To the administrators, once per window: never the codes themselves."""
    return _(
        "⚠️ <b>Someone may be guessing invite codes.</b> {failures} wrong "
        "codes have been sent to /start since {since:%H:%M} UTC, from all "
        "accounts together. Each account is already paused after {per_user} "
        "wrong codes in a row. Codes made with /invite cannot be guessed; "
        "check that no short seeded code is still active (/groups lists demo "
        "codes)."
    ).format(failures=failures, since=since, per_user=per_user)


def checkin_greeting(groups: list[str], next_due: str) -> str:
    names = ", ".join(f"<b>{escape(g)}</b>" for g in groups)
    return _(
        "👋 Hello again! You are in {names}.\n\n{next_due}\n\n/tasks shows your open check-ins."
    ).format(names=names, next_due=next_due)


def checkin_opted_in(groups: list[str], next_due: str) -> str:
    return f"{checkin_welcome_back_line()}\n\n{checkin_greeting(groups, next_due)}"


def checkin_when(local: datetime) -> str:
    return _when(local)


def checkin_question_header(title: str, number: int, total: int, optional: bool) -> str:
    extra = _(" (optional)") if optional else ""
    return _("<b>{title}</b>\nQuestion {number} of {total}{extra}").format(
        title=escape(content(title)), number=number, total=total, extra=extra
    )


def checkin_link(url: str) -> str:
    url = content(url)
    return _('🔗 <a href="{url}">{url2}</a>').format(url=escape(url, quote=True), url2=escape(url))


def checkin_your_answer(display: str) -> str:
    return _("✔️ Your answer: <b>{display}</b>").format(display=escape(shown_answer(display)))


def checkin_your_answer_skipped() -> str:
    return _("⏭ <i>Skipped</i>")


def checkin_button_skip_question() -> str:
    return _("⏭ Skip this question")


def checkin_offer_skip() -> str:
    return _("This question is optional: you can also skip it.")


def checkin_stuck() -> str:
    return _("If you are stuck, send /pause and ask your therapist.")


def checkin_resuming(title: str) -> str:
    return _("▶️ Continuing <b>{title}</b> where you left off.").format(
        title=escape(content(title))
    )


def flood_pausing() -> str:
    return _(
        "✋ You're sending messages faster than I can answer, so I'll stay quiet for a "
        "minute. Everything you send is kept; when things calm down I'll carry on."
    )


def checkin_question_removed() -> str:
    return _(
        "✏️ Your therapist has just removed the question you were answering, so I haven't "
        "saved that. Here is the next one:"
    )


def checkin_removed_from_group(group: str) -> str:
    return _(
        "Your therapist has taken you out of <b>{group}</b>, so no more check-ins will come "
        "from it. The answers you gave stay with your care team; /deletemydata erases them."
    ).format(group=escape(group))


def checkin_last_question_removed() -> str:
    return _(
        "✏️ Your therapist has just removed the question you were answering, so I haven't "
        "saved that. It was the last one: this check-in is done."
    )


def checkin_question_reworded() -> str:
    return _(
        "✏️ Your therapist has just changed this question, so I haven't saved that as the "
        "answer. Here it is as it reads now:"
    )


def checkin_question_not_shown() -> str:
    return _(
        "↩️ Your message came before this question reached you, so I haven't saved it as "
        "the answer. Here is the question:"
    )


def checkin_paused_other(title: str) -> str:
    return _("⏸ I've put <b>{title}</b> on hold; /tasks brings it back.").format(
        title=escape(content(title))
    )


def checkin_summary_head(title: str) -> str:
    return _("✅ <b>Done: {title}</b>\n").format(title=escape(content(title)))


def checkin_summary_line(description: str, display: str, skipped: bool) -> str:
    answer = _("<i>skipped</i>") if skipped else f"<b>{escape(shown_answer(display))}</b>"
    return f"• {escape(content(description))} — {answer}"


def checkin_summary_thanks() -> str:
    return _("Thank you! Your therapist can see your answers.")


def checkin_closed() -> str:
    return _(
        "⌛ This check-in has closed, so answers can no longer be added. "
        "/tasks shows what is still open."
    )


def checkin_nothing_asked(open_count: int) -> str:
    if open_count:
        return ngettext(
            "No question is waiting for an answer right now, but {n} check-in is open: "
            "send /tasks to start. /help shows what else I can do.",
            "No question is waiting for an answer right now, but {n} check-ins are open: "
            "send /tasks to start. /help shows what else I can do.",
            open_count,
        ).format(n=open_count)
    return _(
        "No question is waiting for an answer right now. /tasks shows your check-ins, "
        "/help what I can do."
    )


def checkin_edit_ignored() -> str:
    return _(
        "✏️ Editing a message doesn't change an answer that is already stored. "
        "Please send your answer as a new message."
    )


def edited_command_not_run() -> str:
    return _(
        "✏️ I don't read edited messages, so the edited command was not run. Please send it "
        "again as a new message."
    )


def checkin_unknown_command() -> str:
    return _("I don't know that command. /help lists what I can do.")


def checkin_label_sticker() -> str:
    return _("sticker")


def checkin_label_voice() -> str:
    return _("voice message")


def checkin_label_audio() -> str:
    return _("audio file")


def checkin_label_animation() -> str:
    return _("GIF")


def checkin_label_location() -> str:
    return _("location")


def checkin_label_contact() -> str:
    return _("contact")


def checkin_label_poll() -> str:
    return _("poll")


def checkin_label_document() -> str:
    return _("document")


def checkin_refused(reason: str) -> str:
    """Plain text for answerCallbackQuery: why a press changed nothing."""
    return {
        "unknown_person": _(
            "You haven't joined a group yet: use the invite link from your therapist."
        ),
        "erased": _(
            "Your data was deleted at your request, so this button no longer works. "
            "To take part again, use a new invite link from your therapist."
        ),
        "not_yours": _("This button doesn't work any more."),
        "not_open": _("This check-in isn't open yet."),
        "closed": _("This check-in has closed."),
        "completed": _("You have already completed this check-in. Thank you!"),
        "skipped": _("You skipped this check-in."),
        "cancelled": _("This check-in was cancelled."),
        "stale": _("This question isn't being asked any more."),
        "not_yet": _("Please answer the question above first."),
        "not_an_option": _("That isn't one of this question's answers: please use its buttons."),
        "already": _("Your answer is already recorded."),
        "required": _("This question can't be skipped."),
        "consent_changed": _(
            "Your group's consent text has changed: please read it and answer it first."
        ),
        "consent_asked": _(
            "Your group now asks for your consent: please read its text and answer it first."
        ),
    }.get(reason, _("This button doesn't work any more."))


def checkin_prompt_started() -> str:
    return _("▶️ Started.")


def checkin_prompt_later(local_reminder: datetime, number: int = 0, total: int = 0) -> str:
    """``number`` of ``total``: the question still on screen, of a check-in in progress."""
    said = _("⏰ OK, I'll remind you around {local_reminder:%H:%M} ({local_reminder2}).").format(
        local_reminder=local_reminder, local_reminder2=local_reminder.tzname()
    )
    return f"{said} {checkin_still_answerable(number, total)}" if number else said


def checkin_prompt_later_too_late(local_expiry: datetime, number: int = 0, total: int = 0) -> str:
    """No reminder: the check-in closes before one could come."""
    said = _(
        "⏰ OK. This check-in closes at {local_expiry}, before a reminder could come."
    ).format(local_expiry=_when(local_expiry))
    then = (
        checkin_still_answerable(number, total) if number else _("Send /tasks when you are ready.")
    )
    return f"{said} {then}"


def checkin_prompt_later_no_reminder(local_expiry: datetime) -> str:
    """No reminder: the clinic turned reminders off."""
    return _(
        "⏰ OK. No more reminders will come for this one; it stays open until "
        "{local_expiry}. Send /tasks when you are ready."
    ).format(local_expiry=_when(local_expiry))


def checkin_still_answerable(number: int, total: int) -> str:
    return _("You can still answer question {number} of {total} now.").format(
        number=number, total=total
    )


def checkin_prompt_skipped() -> str:
    return _("⏭ You skipped this check-in.")


def checkin_paused(title: str, number: int, total: int) -> str:
    return _(
        "⏸ Paused <b>{title}</b> at question {number} of {total}. Send /tasks "
        "when you want to continue."
    ).format(title=escape(content(title)), number=number, total=total)


def checkin_nothing_to_pause(open_count: int) -> str:
    if open_count:
        return _(
            "Nothing to pause: no question is waiting for your answer. /tasks shows what's open."
        )
    return _("Nothing to pause: no question is waiting for your answer.")


def checkin_tasks_head() -> str:
    return _("<b>Your open check-ins</b>")


def checkin_tasks_more(count: int) -> str:
    return ngettext(
        "…and {n} more check-in. Finish one of those above, then send /tasks again for the rest.",
        "…and {n} more check-ins. Finish one of those above, then send /tasks again for the rest.",
        count,
    ).format(n=count)


def checkin_task_line(
    title: str,
    local_due: datetime,
    local_expiry: datetime,
    answered: int,
    total: int,
    started: bool,
) -> str:
    progress = (
        _("{answered} of {total} answered").format(answered=answered, total=total)
        if started
        else counted("{n} question", "{n} questions", total)
    )
    return _(
        "• <b>{title}</b>\n  due {local_due} · {progress}\n  open until {local_expiry}"
    ).format(
        title=escape(content(title)),
        local_due=_when(local_due),
        progress=progress,
        local_expiry=_when(local_expiry),
    )


def checkin_button_task(title: str, started: bool) -> str:
    title = content(title)
    short = title if len(title) <= 40 else title[:39] + "…"
    if started:
        return _("▶️ Continue: {title}").format(title=short)
    return _("▶️ Start: {title}").format(title=short)


def checkin_tasks_none(next_due: str) -> str:
    return _("Nothing is open right now. 🎉\n\n{next_due}").format(next_due=next_due)


def checkin_tasks_opted_out() -> str:
    return _("🔕 You have stopped check-ins. Send /start to turn them back on.")


def checkin_timezone_show(zone: str, local_now: datetime, own: bool) -> str:
    source = "" if own else _(" (your clinic's setting until you choose one)")
    return _(
        "🌍 Your time zone{source}: <b>{zone}</b>; it is {local_now:%H:%M} "
        "there now.\n"
        "\n"
        "To change it, tap one below or send /timezone with its name, for "
        "example <code>/timezone Europe/Berlin</code>."
    ).format(source=source, zone=escape(zone), local_now=local_now)


def checkin_timezone_set(zone: str, local_now: datetime, next_due: str) -> str:
    return _(
        "🌍 Your time zone is now <b>{zone}</b>; it is {local_now:%H:%M} there. "
        "Due times follow it.\n"
        "\n"
        "{next_due}"
    ).format(zone=escape(zone), local_now=local_now, next_due=next_due)


def checkin_timezone_unknown(text: str) -> str:
    return _(
        "“{text}” isn't a time zone name I know. Use a name such as "
        "<code>Europe/Berlin</code> or <code>America/New_York</code> "
        "(continent or ocean, a slash, then a large city)."
    ).format(text=escape(text))


def checkin_stop_confirm() -> str:
    return _(
        "🔕 Stop receiving check-ins and reminders? Your answers so far are kept, and you can "
        "turn check-ins back on any time with /start."
    )


def checkin_button_stop_yes() -> str:
    return _("Yes, stop")


def checkin_button_stop_no() -> str:
    return _("No, keep them")


def checkin_stopped() -> str:
    return _("🔕 Done: no more check-ins or reminders. Send /start to turn them back on.")


def checkin_stop_kept() -> str:
    return _("👍 Good: your check-ins continue.")


def checkin_delete_confirm() -> str:
    return _(
        "⚠️ <b>Erase your data?</b> This deletes all your answers and check-ins, your name and "
        "your Telegram id, and takes you out of your groups. Your therapist will see that "
        "your data was deleted at your request. This cannot be undone."
    )


def checkin_delete_join_confirm() -> str:
    return _(
        "⚠️ <b>Erase your data?</b> This deletes your request to join, waiting for your "
        "agreement, and your Telegram id. This cannot be undone."
    )


def checkin_button_delete_yes() -> str:
    return _("Yes, delete everything")


def checkin_button_delete_no() -> str:
    return _("No, keep my data")


def checkin_join_forgotten() -> str:
    return _(
        "🗑 Your request to join, waiting for your agreement, and your Telegram id have been "
        "deleted: nothing of yours is stored here now. To join, open the invite link again."
    )


def checkin_deleted() -> str:
    return _(
        "🗑 Your answers, check-ins, name and Telegram id have been deleted and you have left "
        "your groups. "
        "To take part again, ask your therapist for a new invite link."
    )


def checkin_delete_kept() -> str:
    return _("👍 Nothing was deleted.")


def checkin_alert(
    patient: str,
    group: str,
    task: str,
    question: str,
    answer: str,
    rule: str,
    answered_at: datetime,
) -> str:
    """An answer met its alert rule, in words: who answered what to which question, when (the
    patient's local time), and the rule it met (stored as "== no", ">= 8")."""

    who = escape(patient) if patient else _("A patient")
    op, _space, value = rule.partition(" ")
    condition = alert_condition(op, value)
    when = language.weekday_time(answered_at, compact=True)
    return _(
        "🚨 {who} answered <b>{answer}</b> to “{question}” ({group}, {when})\n"
        "Task: {task} · alert on {condition}"
    ).format(
        who=who,
        answer=escape(shown_answer(answer)),
        question=escape(question),
        group=escape(group),
        when=when,
        task=escape(task),
        condition=condition,
    )


def deploy_cannot_listen(error: OSError) -> str:
    return _(
        "Cannot open a listening port: {value}\n"
        "Check [health] listen/port (PATIENTBOT_HEALTH_LISTEN, "
        "PATIENTBOT_HEALTH_PORT) and, in webhook mode, [telegram] "
        "webhook_listen/webhook_port: another program may use the port."
    ).format(value=error.strerror or error)
