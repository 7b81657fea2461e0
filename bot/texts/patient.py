"""What a patient reads: joining, /help, prompts and the check-in walk-through."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from bot.texts.answers import alert_condition
from bot.texts.therapist_commands import admin_help

if TYPE_CHECKING:
    pass


# --- everyone -----------------------------------------------------------------------------


def something_went_wrong() -> str:
    return (
        "Sorry, something went wrong on our side and nothing was changed. "
        "Please try again in a moment."
    )


def help_patient() -> str:
    return (
        "<b>What you can do</b>\n"
        "/start CODE – join your therapy group with the code from your therapist\n"
        "/tasks – your open check-ins, to start or continue\n"
        "/progress – your check-ins and answers of the last 8 weeks as a chart\n"
        "/pause – stop for now; /tasks continues where you left off\n"
        "/timezone – show or set your time zone\n"
        "/stop – stop receiving check-ins (/start turns them back on)\n"
        "/deletemydata – erase your answers and leave your groups\n"
        "/mydata – everything stored about you, as one file\n"
        "/help – this message"
    )


def help_therapist() -> str:
    return admin_help()


def help_therapist_free_text() -> str:
    """A therapist's message outside a dialogue: what to do instead, not how to join."""
    return (
        "You are a therapist here, so a message like this starts nothing. Send a command: "
        "/groups to see your groups, /newtask to create a task, /report GROUP for adherence, "
        "/help for all of them."
    )


# --- prompts ------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%a %d %b, %H:%M} ({moment.tzname()})"


def prompt(
    title: str,
    local_due: datetime,
    local_expiry: datetime,
    question_count: int,
    reminder_number: int,
    started: bool,
) -> str:
    noun = "question" if question_count == 1 else "questions"
    head = (
        "⏰ <b>Reminder</b>: your check-in is still open."
        if reminder_number
        else "📋 <b>Time for your check-in</b>"
    )
    progress = "\nYou have already started; you can pick up where you left off." if started else ""
    return (
        f"{head}\n\n<b>{escape(title)}</b>\nDue {_when(local_due)} · {question_count} {noun}\n"
        f"Open until {_when(local_expiry)}.{progress}"
    )


def checkin_closing_line(ending: str, local_closed: datetime | None) -> str:
    """The line added under a prompt or reminder once its check-in has ended (bot.closing)."""
    if ending == "expired" and local_closed is not None:
        return f"⌛ <i>Closed at {_when(local_closed)}</i>"
    return {
        "completed": "✅ <i>Completed</i>",
        "skipped": checkin_prompt_skipped(),
        "expired": "⌛ <i>Closed</i>",
    }.get(ending, "✖️ <i>Cancelled: no answer needed any more</i>")


def button_start() -> str:
    return "▶️ Start now"


def button_resume() -> str:
    return "▶️ Continue"


def button_later() -> str:
    return "⏰ Remind me later"


def button_skip_task() -> str:
    return "⏭ Skip this task"


# --- check-in -----------------------------------------------------------------------------
# Used by bot/handlers/patient.py and bot/rendering.py. Texts for answerCallbackQuery
# (checkin_refused_*) are plain text, at most 200 characters: no HTML there.


def checkin_data_was_deleted() -> str:
    return (
        "🗑 Your data was deleted at your request, so there is nothing of yours here to "
        "answer. To take part again, open a new invite link from your therapist."
    )


def checkin_how_to_join() -> str:
    return (
        "👋 Hello! I run the home-exercise check-ins of your physiotherapy clinic.\n\n"
        "To join your therapy group, open the invite link your therapist gave you, "
        "or send /start followed by the code, for example <code>/start ABC123</code>."
    )


def checkin_next_due(title: str, local_due: datetime) -> str:
    return f"Your next check-in, <b>{escape(title)}</b>, is due {_when(local_due)}."


def checkin_nothing_planned() -> str:
    return "No check-ins are planned for you at the moment; I'll message you when one is due."


def checkin_joined(group: str, next_due: str) -> str:
    return (
        f"✅ Welcome! You have joined <b>{escape(group)}</b>.\n\n{next_due}\n\n"
        "When a check-in is due I'll send you its questions one by one. /help shows what "
        "else you can do."
    )


def checkin_already_member(group: str, next_due: str) -> str:
    return f"You are already in <b>{escape(group)}</b>.\n\n{next_due}"


def checkin_welcome_back_line() -> str:
    return "🔔 Check-ins are on again."


def checkin_bad_code(problem: str) -> str:
    reason = {
        "unknown": "I don't know that invite code.",
        "expired": "That invite link has expired.",
        "revoked": "That invite link has been withdrawn.",
        "used_up": "That invite link has already been used as often as it may be.",
        "removed": "You were taken out of that group, so this invite no longer works for you.",
    }.get(problem, "That invite code doesn't work.")
    return (
        f"⚠️ {reason} Nothing has changed.\n"
        "Please ask your therapist for a new invite link, and check the code if you typed it."
    )


def checkin_too_many_codes(wait: timedelta) -> str:
    """Said with the wrong code that started a cool-down."""
    return f"⏳ That was too many wrong codes: please wait {_duration(wait)} before trying again."


def checkin_throttled(wait: timedelta) -> str:
    return (
        "⏳ Too many wrong invite codes were sent from this account, so I am not checking "
        f"codes for a while: please try again in {_duration(wait)}."
    )


def _duration(wait: timedelta) -> str:
    """A wait rounded up to whole minutes, or to hours past two."""
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{-(-minutes // 60)} hours"


def admin_code_guessing(failures: int, since: datetime, per_user: int) -> str:
    """To the administrators, once per window: never the codes themselves."""
    return (
        f"⚠️ <b>Someone may be guessing invite codes.</b> {failures} wrong codes have been "
        f"sent to /start since {since:%H:%M} UTC, from all accounts together. Each account "
        f"is already paused after {per_user} wrong codes in a row. Codes made with /invite "
        "cannot be guessed; check that no short seeded code is still active (/groups lists "
        "demo codes)."
    )


def checkin_greeting(groups: list[str], next_due: str) -> str:
    names = ", ".join(f"<b>{escape(g)}</b>" for g in groups)
    return (
        f"👋 Hello again! You are in {names}.\n\n{next_due}\n\n/tasks shows your open check-ins."
    )


def checkin_opted_in(groups: list[str], next_due: str) -> str:
    return f"{checkin_welcome_back_line()}\n\n{checkin_greeting(groups, next_due)}"


def checkin_when(local: datetime) -> str:
    return _when(local)


def checkin_question_header(title: str, number: int, total: int, optional: bool) -> str:
    extra = " (optional)" if optional else ""
    return f"<b>{escape(title)}</b>\nQuestion {number} of {total}{extra}"


def checkin_link(url: str) -> str:
    return f'🔗 <a href="{escape(url, quote=True)}">{escape(url)}</a>'


def checkin_your_answer(display: str) -> str:
    return f"✔️ Your answer: <b>{escape(display)}</b>"


def checkin_your_answer_skipped() -> str:
    return "⏭ <i>Skipped</i>"


def checkin_button_skip_question() -> str:
    return "⏭ Skip this question"


def checkin_offer_skip() -> str:
    return "This question is optional: you can also skip it."


def checkin_stuck() -> str:
    return "If you are stuck, send /pause and ask your therapist."


def checkin_resuming(title: str) -> str:
    return f"▶️ Continuing <b>{escape(title)}</b> where you left off."


def flood_pausing() -> str:
    return (
        "✋ You're sending messages faster than I can answer, so I'll stay quiet for a "
        "minute. Everything you send is kept; when things calm down I'll carry on."
    )


def checkin_question_reworded() -> str:
    return (
        "✏️ Your therapist has just changed this question, so I haven't saved that as the "
        "answer. Here it is as it reads now:"
    )


def checkin_question_not_shown() -> str:
    return (
        "↩️ Your message came before this question reached you, so I haven't saved it as "
        "the answer. Here is the question:"
    )


def checkin_paused_other(title: str) -> str:
    return f"⏸ I've put <b>{escape(title)}</b> on hold; /tasks brings it back."


def checkin_summary_head(title: str) -> str:
    return f"✅ <b>Done: {escape(title)}</b>\n"


def checkin_summary_line(description: str, display: str, skipped: bool) -> str:
    answer = "<i>skipped</i>" if skipped else f"<b>{escape(display)}</b>"
    return f"• {escape(description)} — {answer}"


def checkin_summary_thanks() -> str:
    return "Thank you! Your therapist can see your answers."


def checkin_closed() -> str:
    return (
        "⌛ This check-in has closed, so answers can no longer be added. "
        "/tasks shows what is still open."
    )


def checkin_nothing_asked(open_count: int) -> str:
    if open_count:
        noun = "check-in is" if open_count == 1 else "check-ins are"
        return (
            f"No question is waiting for an answer right now, but {open_count} {noun} open: "
            "send /tasks to start. /help shows what else I can do."
        )
    return (
        "No question is waiting for an answer right now. /tasks shows your check-ins, "
        "/help what I can do."
    )


def checkin_edit_ignored() -> str:
    return (
        "✏️ Editing a message doesn't change an answer that is already stored. "
        "Please send your answer as a new message."
    )


def checkin_unknown_command() -> str:
    return "I don't know that command. /help lists what I can do."


def checkin_label_sticker() -> str:
    return "sticker"


def checkin_label_voice() -> str:
    return "voice message"


def checkin_label_audio() -> str:
    return "audio file"


def checkin_label_animation() -> str:
    return "GIF"


def checkin_label_location() -> str:
    return "location"


def checkin_label_contact() -> str:
    return "contact"


def checkin_label_poll() -> str:
    return "poll"


def checkin_refused(reason: str) -> str:
    """Plain text for answerCallbackQuery: why a press changed nothing."""
    return {
        "unknown_person": "You haven't joined a group yet: use the invite link from your "
        "therapist.",
        "erased": "Your data was deleted at your request, so this button no longer works. "
        "To take part again, use a new invite link from your therapist.",
        "not_yours": "This button doesn't work any more.",
        "not_open": "This check-in isn't open yet.",
        "closed": "This check-in has closed.",
        "completed": "You have already completed this check-in. Thank you!",
        "skipped": "You skipped this check-in.",
        "cancelled": "This check-in was cancelled.",
        "stale": "This question isn't being asked any more.",
        "not_yet": "Please answer the question above first.",
        "not_an_option": "That isn't one of this question's answers: please use its buttons.",
        "already": "Your answer is already recorded.",
        "required": "This question can't be skipped.",
    }.get(reason, "This button doesn't work any more.")


def checkin_prompt_started() -> str:
    return "▶️ Started."


def checkin_prompt_later(local_reminder: datetime) -> str:
    return f"⏰ OK, I'll remind you around {local_reminder:%H:%M} ({local_reminder.tzname()})."


def checkin_prompt_later_no_reminder(local_expiry: datetime) -> str:
    return (
        f"⏰ OK. No more reminders will come for this one; it stays open until "
        f"{_when(local_expiry)}. Send /tasks when you are ready."
    )


def checkin_prompt_skipped() -> str:
    return "⏭ You skipped this check-in."


def checkin_paused(title: str, number: int, total: int) -> str:
    return (
        f"⏸ Paused <b>{escape(title)}</b> at question {number} of {total}. "
        "Send /tasks when you want to continue."
    )


def checkin_nothing_to_pause(open_count: int) -> str:
    if open_count:
        return (
            "Nothing to pause: no question is waiting for your answer. /tasks shows what's open."
        )
    return "Nothing to pause: no question is waiting for your answer."


def checkin_tasks_head() -> str:
    return "<b>Your open check-ins</b>"


def checkin_task_line(
    title: str,
    local_due: datetime,
    local_expiry: datetime,
    answered: int,
    total: int,
    started: bool,
) -> str:
    noun = "question" if total == 1 else "questions"
    progress = f"{answered} of {total} answered" if started else f"{total} {noun}"
    return (
        f"• <b>{escape(title)}</b>\n  due {_when(local_due)} · {progress}\n"
        f"  open until {_when(local_expiry)}"
    )


def checkin_button_task(title: str, started: bool) -> str:
    short = title if len(title) <= 40 else title[:39] + "…"
    return f"▶️ {'Continue' if started else 'Start'}: {short}"


def checkin_tasks_none(next_due: str) -> str:
    return f"Nothing is open right now. 🎉\n\n{next_due}"


def checkin_tasks_opted_out() -> str:
    return "🔕 You have stopped check-ins. Send /start to turn them back on."


def checkin_timezone_show(zone: str, local_now: datetime, own: bool) -> str:
    source = "" if own else " (your clinic's setting until you choose one)"
    return (
        f"🌍 Your time zone{source}: <b>{escape(zone)}</b>; it is {local_now:%H:%M} there now.\n\n"
        "To change it, tap one below or send /timezone with its name, for example "
        "<code>/timezone Europe/Berlin</code>."
    )


def checkin_timezone_set(zone: str, local_now: datetime, next_due: str) -> str:
    return (
        f"🌍 Your time zone is now <b>{escape(zone)}</b>; it is {local_now:%H:%M} there. "
        f"Due times follow it.\n\n{next_due}"
    )


def checkin_timezone_unknown(text: str) -> str:
    return (
        f"“{escape(text)}” isn't a time zone name I know. Use a name such as "
        "<code>Europe/Berlin</code> or <code>America/New_York</code> (continent or ocean, a "
        "slash, then a large city)."
    )


def checkin_stop_confirm() -> str:
    return (
        "🔕 Stop receiving check-ins and reminders? Your answers so far are kept, and you can "
        "turn check-ins back on any time with /start."
    )


def checkin_button_stop_yes() -> str:
    return "Yes, stop"


def checkin_button_stop_no() -> str:
    return "No, keep them"


def checkin_stopped() -> str:
    return "🔕 Done: no more check-ins or reminders. Send /start to turn them back on."


def checkin_stop_kept() -> str:
    return "👍 Good: your check-ins continue."


def checkin_delete_confirm() -> str:
    return (
        "⚠️ <b>Erase your data?</b> This deletes all your answers and check-ins, your name and "
        "your Telegram id, and takes you out of your groups. Your therapist will see that "
        "your data was deleted at your request. This cannot be undone."
    )


def checkin_button_delete_yes() -> str:
    return "Yes, delete everything"


def checkin_button_delete_no() -> str:
    return "No, keep my data"


def checkin_deleted() -> str:
    return (
        "🗑 Your answers, check-ins, name and Telegram id have been deleted and you have left "
        "your groups. "
        "To take part again, ask your therapist for a new invite link."
    )


def checkin_delete_kept() -> str:
    return "👍 Nothing was deleted."


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

    who = escape(patient) if patient else "A patient"
    op, _, value = rule.partition(" ")
    condition = alert_condition(op, value)
    when = f"{answered_at:%a} {answered_at.day} {answered_at:%b %H:%M}"
    return (
        f"🚨 {who} answered <b>{escape(answer)}</b> to “{escape(question)}” "
        f"({escape(group)}, {when})\n"
        f"Task: {escape(task)} · alert on {condition}"
    )


def deploy_cannot_listen(error: OSError) -> str:
    return (
        f"Cannot open a listening port: {error.strerror or error}\n"
        "Check [health] listen/port (PATIENTBOT_HEALTH_LISTEN, PATIENTBOT_HEALTH_PORT) and, in "
        "webhook mode, [telegram] webhook_listen/webhook_port: another program may use the port."
    )
