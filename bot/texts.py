"""Every sentence the bot says, in one place so it can be reviewed and later translated.

Functions take the values a sentence needs and return the finished text. Texts sent with
``parse_mode=HTML`` escape what a person typed with ``html.escape``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date as date_
    from datetime import time as time_

    from bot.services.authoring import (
        GroupInfo,
        GroupSummary,
        InviteInfo,
        PatientList,
        QuestionDraft,
        QuestionsChanged,
        RemovedPatient,
        TaskChanged,
        TaskDeleted,
        TaskDetails,
        TaskSaved,
        TaskSummary,
    )
    from bot.services.reports import AdherenceReport
    from bot.services.responses import QuestionRules
    from bot.services.seeding import SeedReport

__all__ = ["escape"]


# --- Answers: how to answer, re-asks, question-definition problems, alert rules -------------
# Used by bot/services/responses.py.

_RESPONSE_TYPE_NAMES = {
    "text": "text",
    "number": "number",
    "yes_no": "yes/no",
    "scale": "scale",
    "choice": "choice",
    "photo": "photo",
    "video": "video",
}


def response_type_name(code: str) -> str:
    return _RESPONSE_TYPE_NAMES.get(code, escape(code))


def label_yes() -> str:
    return "Yes"


def label_no() -> str:
    return "No"


def answer_display_photo() -> str:
    return "photo"


def answer_display_video() -> str:
    return "video"


def hint_type_text() -> str:
    return "Please type your answer."


def hint_text_empty() -> str:
    return "That message was empty. Please type your answer."


def hint_text_too_long(length: int, max_length: int) -> str:
    return (
        f"Your answer is {length} characters long. "
        f"Please shorten it to at most {max_length} characters and send it again."
    )


def hint_number(*, whole: bool, lo: str | None, hi: str | None, typed: bool = False) -> str:
    verb = "type" if typed else "send"
    what = "a whole number" if whole else "a number"
    if lo is not None and hi is not None:
        return f"Please {verb} {what} from {lo} to {hi}."
    if lo is not None:
        return f"Please {verb} {what} of at least {lo}."
    if hi is not None:
        return f"Please {verb} {what} of at most {hi}."
    return f"Please {verb} {what}."


def hint_yes_no() -> str:
    return "Please tap Yes or No."


def hint_yes_no_retry() -> str:
    return "Please tap Yes or No, or type yes or no."


def hint_scale(lo: int, hi: int) -> str:
    return f"Please tap a number from {lo} to {hi}."


def hint_scale_retry(lo: int, hi: int) -> str:
    return f"Please tap or type a whole number from {lo} to {hi}."


def hint_choice() -> str:
    return "Please tap one of the options."


def hint_choice_retry(options: list[str]) -> str:
    listing = ", ".join(f"{n} = {escape(option)}" for n, option in enumerate(options, 1))
    return f"Please tap one of the options, or type its name or number: {listing}."


def hint_photo() -> str:
    return "Please send a photo (tap 📎, then choose or take a picture)."


def hint_video() -> str:
    return "Please send a video (tap 📎, then choose or record a video)."


def hint_photo_sent_as_file() -> str:
    return "That arrived as a file. Please send it as a photo instead, not as a file."


def hint_video_sent_as_file() -> str:
    return "That arrived as a file. Please send it as a video instead, not as a file."


def _with_article(label: str) -> str:
    article = "an" if label[:1].lower() in "aeiou" else "a"
    return f"{article} {label}"


def hint_received(label: str, instruction: str) -> str:
    return f"That was {_with_article(escape(label))}. {instruction}"


def hint_received_unknown(instruction: str) -> str:
    return f"I can't use that kind of message here. {instruction}"


def hint_stale_button(instruction: str) -> str:
    return f"That button doesn't belong to this question. {instruction}"


def problem_choice_too_few_options(count: int) -> str:
    return f"A choice question needs at least 2 options; this one has {count}."


def problem_choice_too_many_options(count: int, most: int) -> str:
    return f"A choice question can have at most {most} options; this one has {count}."


def problem_choice_blank_option(position: int) -> str:
    return f"Option {position} is empty."


def problem_choice_option_too_long(position: int, most: int) -> str:
    return f"Option {position} is too long; keep it to {most} characters so it fits a button."


def problem_choice_duplicate_option(option: str) -> str:
    return f"The option “{escape(option)}” is listed more than once."


def problem_options_not_allowed(type_name: str) -> str:
    return f"Only choice questions have options; this is a {type_name} question."


def problem_bounds_not_allowed(type_name: str) -> str:
    return (
        "Only number and scale questions have a minimum and maximum; "
        f"this is a {type_name} question."
    )


def problem_bounds_not_finite() -> str:
    return "The minimum and maximum must be ordinary numbers."


def problem_min_above_max(lo: str, hi: str) -> str:
    return f"The minimum ({lo}) is greater than the maximum ({hi})."


def problem_scale_bounds_not_whole() -> str:
    return "The ends of a scale must be whole numbers."


def problem_scale_too_narrow(value: int) -> str:
    return f"A scale needs its top above its bottom; both are {value}."


def problem_scale_too_wide(lo: int, hi: int, most: int) -> str:
    return f"A scale can span at most {most} steps; {lo} to {hi} spans {hi - lo}."


def problem_whole_bounds_needed() -> str:
    return "When only whole numbers are allowed, the minimum and maximum must be whole too."


def problem_integer_only_not_allowed(type_name: str) -> str:
    return f"“Whole numbers only” applies to number questions; this is a {type_name} question."


def problem_max_length_not_allowed(type_name: str) -> str:
    return f"Only text questions have a maximum length; this is a {type_name} question."


def problem_max_length_too_small() -> str:
    return "The maximum answer length must be at least 1 character."


def alert_rule_malformed() -> str:
    examples = ", ".join(escape(f"“{example}”") for example in (">= 8", "<= 2", "== no"))
    return f"Write the alert as a comparison and a value, for example {examples}."


def alert_rule_not_supported(type_name: str) -> str:
    return (
        f"Alerts can't be set on {type_name} questions; "
        "they work on number, scale, yes/no and choice questions."
    )


def alert_rule_needs_number() -> str:
    return f"The alert value must be a number, for example {escape('“>= 8”')}."


def alert_rule_out_of_range(lo: str | None, hi: str | None) -> str:
    if lo is not None and hi is not None:
        return f"The alert value must be between {lo} and {hi}, the range of this question."
    if lo is not None:
        return f"The alert value must be at least {lo}, the minimum of this question."
    return f"The alert value must be at most {hi}, the maximum of this question."


def alert_rule_yes_no_op() -> str:
    return f"A yes/no alert compares with == or !=, for example {escape('“== no”')}."


def alert_rule_yes_no_value(value: str) -> str:
    return f"A yes/no alert compares with yes or no, not “{escape(value)}”."


def alert_rule_choice_op(example_option: str) -> str:
    example = escape(f"“== {example_option}”")
    return f"A choice alert compares with == or !=, for example {example}."


def alert_rule_unknown_option(value: str, options: list[str]) -> str:
    listing = ", ".join(escape(option) for option in options)
    return f"“{escape(value)}” is not one of the options: {listing}."


# --- command line -------------------------------------------------------------------------


def cli_no_token(source: str) -> str:
    return (
        "No Telegram bot token is configured, so the bot cannot connect to Telegram.\n"
        "1. In Telegram, talk to @BotFather and send /newbot; it answers with a token "
        "such as 123456789:AA...\n"
        "2. Put it in the environment:  export TELEGRAM_BOT_TOKEN=123456789:AA...\n"
        f'   or in {source} under [telegram] token = "..."\n'
        "3. Run the same command again."
    )


def cli_database_unreachable(where: str, error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return (
        f"Cannot use the database at {where}: {reason}\n"
        "Check [database] url in the configuration (or PATIENTBOT_DATABASE_URL) and that "
        "the database server is running."
    )


def cli_unversioned_database(where: str) -> str:
    return (
        f"The database at {where} already has tables but no migration record, so it was not "
        "made by patientbot's migrations and patientbot will not touch it.\n"
        "Point [database] url (or PATIENTBOT_DATABASE_URL) at an empty database, then run: "
        "patientbot db upgrade"
    )


def cli_unknown_revision(where: str, current: str, head: str) -> str:
    return (
        f"The database at {where} is at migration revision {current}, which this version of "
        f"patientbot does not know (its newest is {head}). It was probably upgraded by a newer "
        "version. Run that newer version, or restore a backup made before the upgrade."
    )


def cli_database_behind(where: str, current: str | None, head: str) -> str:
    state = f"at revision {current}" if current else "empty"
    return (
        f"The database at {where} is {state}, but this version of patientbot needs revision "
        f"{head}, and auto_migrate is off.\nRun: patientbot db upgrade"
    )


def cli_upgraded(current: str | None, head: str) -> str:
    return f"Database upgraded from {current or 'empty'} to revision {head}"


def cli_upgrade_done(where: str, before: str | None, head: str) -> str:
    if before == head:
        return f"The database at {where} is already at the newest revision, {head}."
    return f"Upgraded the database at {where} from {before or 'empty'} to revision {head}."


def cli_current(where: str, current: str | None, head: str) -> str:
    if current is None:
        return f"The database at {where} has no migration applied yet (newest is {head})."
    if current == head:
        return f"The database at {where} is at revision {current} (the newest)."
    return f"The database at {where} is at revision {current}; the newest is {head}."


def cli_check_not_current(where: str, current: str | None, head: str) -> str:
    return (
        f"The database at {where} is at revision {current or 'none'}, not the newest ({head}). "
        "Run: patientbot db upgrade"
    )


def cli_check_differences(where: str, differences: list[str]) -> str:
    lines = "\n".join(f"  {d}" for d in differences)
    return f"The database at {where} and the models disagree; a migration is missing:\n{lines}"


def cli_check_ok(where: str, head: str) -> str:
    return f"OK: the database at {where} is at revision {head} and matches the models."


def cli_seed_rejected(count: int) -> str:
    noun = "problem" if count == 1 else "problems"
    return f"Nothing was written: fix the {count} {noun} above and seed again."


def cli_seed_report(path: str, report: SeedReport) -> str:
    created, updated, unchanged = report.created, report.updated, report.unchanged
    kinds = ["groups", "invites", "tasks", "questions"]

    def part(kind: str) -> str:
        counts = [
            f"{created[kind]} created" if created[kind] else "",
            f"{updated[kind]} updated" if updated[kind] else "",
            f"{unchanged[kind]} unchanged" if unchanged[kind] else "",
        ]
        return f"{kind}: " + ", ".join(c for c in counts if c) if any(counts) else ""

    summary = "; ".join(p for p in (part(k) for k in kinds) if p)
    if not report.changed:
        return f"Seeded {path}: nothing changed ({summary})."
    return f"Seeded {path}: {summary}; {report.deliveries_planned} deliveries planned."


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
        "/help – this message"
    )


def help_therapist() -> str:
    return admin_help()


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


def button_start() -> str:
    return "▶️ Start now"


def button_resume() -> str:
    return "▶️ Continue"


def button_later() -> str:
    return "⏰ Remind me later"


def button_skip_task() -> str:
    return "⏭ Skip this task"


# --- deployment: health endpoint and start-up in polling or webhook mode --------------------


def health_database_unreachable(error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"unreachable: {reason[0] if reason else type(error).__name__}"


def health_database_timeout(seconds: float) -> str:
    return f"unreachable: no answer within {seconds:g} seconds"


def health_revision_not_head(revision: str | None, head: str) -> str:
    return (
        f"the database is at migration revision {revision or 'none'}, this version needs {head}; "
        "run: patientbot db upgrade"
    )


def health_scan_lagging(lag: float, limit: float) -> str:
    return f"the due scan last finished {lag:.0f} seconds ago (more than {limit:g})"


def health_scan_never_ran(limit: float) -> str:
    return f"the due scan has not finished once in the {limit:g} seconds since start"


def health_writes_failing(count: int, reason: str) -> str:
    return f"the last {count} writes to the database failed: {reason}"


def health_inbox_stuck(pending: int, seconds: float) -> str:
    return f"{pending} received updates wait to be handled, the oldest for {seconds:.0f} seconds"


def deploy_webhook_needs(problem: str) -> str:
    return f"Webhook mode cannot start: {problem}"


def deploy_token_refused(source: str) -> str:
    return (
        "Telegram refused the bot token. Check TELEGRAM_BOT_TOKEN (or [telegram] token in "
        f"{source}) against the token @BotFather gave you."
    )


def deploy_telegram_unreachable(base_url: str, error: Exception) -> str:
    return (
        f"Cannot reach the Telegram Bot API at {base_url}: {error}\n"
        "Check the network, or [telegram] api_base_url (TELEGRAM_API_BASE_URL)."
    )


# --- scheduling ---------------------------------------------------------------------------
# Used by bot/scheduler.py.


def sched_prompt_closed(title: str) -> str:
    return f"⌛ <b>{escape(title)}</b>\nThis check-in has closed and can no longer be answered."


# --- check-in -----------------------------------------------------------------------------
# Used by bot/handlers/patient.py and bot/rendering.py. Texts for answerCallbackQuery
# (checkin_refused_*) are plain text, at most 200 characters: no HTML there.


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
        "⚠️ <b>Erase your data?</b> This deletes all your answers and check-ins and takes you "
        "out of your groups. Your therapist will see that your data was deleted at your "
        "request. This cannot be undone."
    )


def checkin_button_delete_yes() -> str:
    return "Yes, delete everything"


def checkin_button_delete_no() -> str:
    return "No, keep my data"


def checkin_deleted() -> str:
    return (
        "🗑 Your answers and check-ins have been deleted and you have left your groups. "
        "To take part again, ask your therapist for a new invite link."
    )


def checkin_delete_kept() -> str:
    return "👍 Nothing was deleted."


def checkin_alert(
    patient: str, group: str, task: str, question: str, answer: str, rule: str
) -> str:
    who = escape(patient) if patient else "A patient"
    return (
        f"🚨 <b>Alert</b>: {who} ({escape(group)})\n"
        f"Task: {escape(task)}\n"
        f"Question: {escape(question)}\n"
        f"Answer: <b>{escape(answer)}</b> (alert when {escape(rule)})"
    )


def deploy_cannot_listen(error: OSError) -> str:
    return (
        f"Cannot open a listening port: {error.strerror or error}\n"
        "Check [health] listen/port (PATIENTBOT_HEALTH_LISTEN, PATIENTBOT_HEALTH_PORT) and, in "
        "webhook mode, [telegram] webhook_listen/webhook_port: another program may use the port."
    )


# --- admin (therapist commands) -----------------------------------------------------------
# Used by bot/handlers/therapist.py, bot/services/authoring.py and bot/services/reports.py.

_ADMIN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ADMIN_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

_ADMIN_TYPE_LABELS = {
    "yes_no": "Yes / No",
    "scale": "Scale",
    "number": "Number",
    "choice": "Choice",
    "text": "Text",
    "photo": "Photo",
    "video": "Video",
}


def _admin_date(day: date_) -> str:
    return f"{_ADMIN_DAYS[day.weekday()]} {day.day} {_ADMIN_MONTHS[day.month - 1]} {day.year}"


def _admin_moment(local: datetime) -> str:
    """A local date and time such as "Tue 1 Dec 2026, 10:00" (locale-independent)."""
    return f"{_admin_date(local.date())}, {local:%H:%M}"


def _admin_instant(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "never again (the series is over)"
    from zoneinfo import ZoneInfo

    return f"{_admin_moment(moment.astimezone(ZoneInfo(zone)))} ({escape(zone)})"


def _admin_num(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _admin_plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def _admin_rule(rule: str | None) -> str:
    from bot.services.schedule import describe_rule

    return escape(describe_rule(rule))


def admin_refused() -> str:
    return "This command is for therapists."


def admin_stale_button() -> str:
    return "This button is no longer active."


def admin_wrong_step() -> str:
    return (
        "I can't use that here. Please answer the last question above, "
        "or send /cancel to stop without saving."
    )


def admin_picked(label: str) -> str:
    return f"→ <b>{escape(label)}</b>"


def admin_cancelled() -> str:
    return "Cancelled. Nothing was saved."


def admin_not_saved() -> str:
    return "Nothing was saved."


def admin_dialogue_expired() -> str:
    return (
        "Your unfinished task was left for too long and has been dropped; nothing was saved. "
        "Start again with /newtask or /edittask."
    )


# command menus (descriptions shown by Telegram next to each command)


def admin_menu_start() -> str:
    return "Join your group with your therapist's code"


def admin_menu_tasks() -> str:
    return "Your open check-ins"


def admin_menu_tasks_therapist() -> str:
    return "Tasks of a group (or all): /tasks [GROUP]"


def admin_menu_pause() -> str:
    return "Stop for now; continue later with /tasks"


def admin_menu_timezone() -> str:
    return "Show or set your time zone"


def admin_menu_stop() -> str:
    return "Stop receiving check-ins"


def admin_menu_deletemydata() -> str:
    return "Erase your answers and leave your groups"


def admin_menu_help() -> str:
    return "What you can do"


def admin_menu_newtask() -> str:
    return "Create a task step by step"


def admin_menu_addtask() -> str:
    return "Create a task in one message"


def admin_menu_task() -> str:
    return "A task's details: /task ID"


def admin_menu_edittask() -> str:
    return "Change a task: /edittask ID"


def admin_menu_deletetask() -> str:
    return "Delete a task: /deletetask ID"


def admin_menu_preview() -> str:
    return "See a task as a patient does: /preview ID"


def admin_menu_report() -> str:
    return "Adherence: /report GROUP or /report #TASK"


def admin_menu_export() -> str:
    return "All answers as CSV, or FHIR: /export [GROUP] [fhir]"


def admin_menu_groups() -> str:
    return "Your groups"


def admin_menu_newgroup() -> str:
    return "Create a group: /newgroup NAME"


def admin_menu_patients() -> str:
    return "A group's patients: /patients GROUP"


def admin_menu_removepatient() -> str:
    return "Remove a patient: /removepatient GROUP PATIENT"


def admin_menu_invite() -> str:
    return "Invite link: /invite GROUP [DAYS] [USES]"


def admin_menu_revoke() -> str:
    return "Stop an invite code: /revoke CODE"


def admin_menu_addtherapist() -> str:
    return "Add a therapist: /addtherapist USER_ID"


def admin_menu_removetherapist() -> str:
    return "Remove a therapist: /removetherapist USER_ID"


def admin_menu_cancel() -> str:
    return "Leave /newtask or /edittask without saving"


def admin_line_format() -> str:
    return (
        "<code>/addtask GROUP | TITLE | WHEN | REPEAT | QUESTION | QUESTION ...</code>\n"
        "Each QUESTION is <code>TEXT ; TYPE</code> followed by any of "
        "<code>; OPTIONS</code> (choice: <code>Left, Right, Both</code>), "
        "<code>; MIN-MAX</code> (number, scale: <code>0-50</code>), "
        "<code>; whole</code> (whole numbers only), <code>; max 500</code> (text length), "
        "<code>; ALERT</code> (<code>&gt;= 8</code>, <code>== no</code>), "
        "<code>; optional</code>, <code>; https://link</code>.\n"
        "TYPE is yes_no, scale, number, choice, text, photo or video. "
        "Line breaks may stand for the | signs.\n"
        "Example: <code>/addtask Hip Therapy 1 | Knee check | tomorrow 10:00 | daily x7 | "
        "Pain today? ; scale ; &gt;= 8 | Did you do the exercise? ; yes_no ; == no</code>"
    )


def admin_line_usage() -> str:
    return f"Write the task in one message:\n{admin_line_format()}"


# help


def admin_help() -> str:
    return (
        "<b>Therapist commands</b>\n"
        "<b>Groups</b>\n"
        "/groups – your groups with members and check-ins\n"
        "/newgroup NAME [ZONE] – create a group (ZONE such as Europe/London)\n"
        "/patients GROUP – a group's patients\n"
        "/removepatient GROUP PATIENT – remove a patient (telegram id or exact name); "
        "their answers stay\n"
        "/invite GROUP [DAYS] [USES] – an invite link (USES 0 = unlimited)\n"
        "/revoke CODE – stop an invite code\n"
        "<b>Tasks</b>\n"
        "/newtask – create a task step by step; /cancel leaves without saving\n"
        "/addtask – create a task in one message:\n"
        f"{admin_line_format()}\n"
        "/tasks [GROUP] – tasks with their next due time\n"
        "/task ID – details, questions and completion\n"
        "/edittask ID – change the due time or repetition, add or remove a question\n"
        "/deletetask ID – delete a task (asks first); answers stay\n"
        "/preview ID – see a task as a patient does\n"
        "<b>Reports</b>\n"
        "/report GROUP or /report #ID – adherence per patient\n"
        "/chart GROUP or /chart PATIENT [QUESTION] – adherence and answers as a chart\n"
        "/export [GROUP] – all answers as a CSV file; /export [GROUP] fhir – as FHIR R4B\n"
        "<b>Therapists</b>\n"
        "/addtherapist USER_ID, /removetherapist USER_ID\n"
        "GROUP is a group's name or its number from /groups."
    )


# usage lines


def admin_usage_addtherapist() -> str:
    return (
        "Usage: /addtherapist USER_ID – the person's numeric Telegram user id "
        "(they can see it with @userinfobot)."
    )


def admin_usage_removetherapist() -> str:
    return "Usage: /removetherapist USER_ID"


def admin_usage_newgroup() -> str:
    return "Usage: /newgroup NAME [ZONE], for example /newgroup Shoulder Therapy 2 Europe/London"


def admin_usage_patients() -> str:
    return "Usage: /patients GROUP (the group's name or number, see /groups)"


def admin_usage_removepatient() -> str:
    return (
        "Usage: /removepatient GROUP PATIENT, where PATIENT is the Telegram user id or the "
        "exact name shown by /patients GROUP."
    )


def admin_usage_invite() -> str:
    return (
        "Usage: /invite GROUP [DAYS] [USES], for example /invite Shoulder Therapy 1 7 10 "
        "(valid 7 days, 10 uses; 0 uses means unlimited)."
    )


def admin_usage_revoke() -> str:
    return "Usage: /revoke CODE (the code after start= in the invite link)"


def admin_usage_task() -> str:
    return "Usage: /task ID, for example /task 3 (see /tasks for the numbers)"


def admin_usage_edittask() -> str:
    return "Usage: /edittask ID, for example /edittask 3 (see /tasks for the numbers)"


def admin_usage_deletetask() -> str:
    return "Usage: /deletetask ID, for example /deletetask 3 (see /tasks for the numbers)"


def admin_usage_preview() -> str:
    return "Usage: /preview ID, for example /preview 3 (see /tasks for the numbers)"


def admin_usage_report() -> str:
    return (
        "Usage: /report GROUP for a group (its name or number), "
        "or /report #ID (also /report task ID) for one task."
    )


# therapists


def admin_bad_user_id(text: str) -> str:
    return f"“{escape(text)}” is not a Telegram user id; it is a positive number."


def admin_already_therapist(user_id: int) -> str:
    return f"{user_id} is already a therapist."


def admin_therapist_added(user_id: int, menu_set: bool) -> str:
    menu = (
        "Their command menu now shows the therapist commands."
        if menu_set
        else "Once they open a chat with the bot, /help lists the therapist commands."
    )
    return f"{user_id} is now a therapist. {menu}"


def admin_therapist_in_config(user_id: int) -> str:
    return (
        f"{user_id} is a therapist by the bot's configuration file, so a command cannot remove "
        "them; ask whoever runs the bot to take them off [therapists] user_ids."
    )


def admin_not_a_therapist(user_id: int) -> str:
    return f"{user_id} is not a therapist added with /addtherapist; nothing changed."


def admin_therapist_removed(user_id: int) -> str:
    return (
        f"{user_id} is no longer a therapist: the admin commands are gone from their menu and "
        "they no longer get alerts."
    )


# groups


def admin_unknown_group(ref: str, names: list[str]) -> str:
    if not names:
        return (
            f"There is no group “{escape(ref)}”; there are no groups yet. "
            "Create one with /newgroup NAME."
        )
    listing = ", ".join(escape(n) for n in names)
    return f"There is no group “{escape(ref)}”. Groups: {listing}."


def admin_group_name_missing() -> str:
    return "Please give the group a name, for example /newgroup Shoulder Therapy 2"


def admin_group_name_too_long(most: int) -> str:
    return f"That name is too long; keep it to {most} characters."


def admin_group_name_reserved(name: str) -> str:
    return (
        f"“{escape(name)}” can't be a group name: a name must not be only a number, start "
        "with # or look like “task 3”, and must not contain |."
    )


def admin_group_exists(name: str) -> str:
    return f"There is already a group called “{escape(name)}”."


def admin_group_gone() -> str:
    return "That group no longer exists."


def admin_group_created(name: str, group_id: int, zone: str) -> str:
    return (
        f"Created the group <b>{escape(name)}</b> (number {group_id}, due times in "
        f"{escape(zone)}). You are its therapist and get its alerts.\n"
        f"Next: /invite {escape(name)} for a link patients can join with, "
        "and /newtask to give the group a task."
    )


def admin_groups(groups: Sequence[GroupSummary]) -> str:
    if not groups:
        return "There are no groups yet. Create one with /newgroup NAME."
    lines = ["<b>Groups</b>"]
    for g in groups:
        lines.append("")
        name, zone = escape(g.group.name), escape(g.group.zone)
        lines.append(f"<b>{name}</b> (number {g.group.id}, {zone})")
        lines.append(
            f"{_admin_plural(g.patients, 'patient')} · {_admin_plural(g.therapists, 'therapist')}"
            f" · {_admin_plural(g.tasks, 'task')}"
        )
        lines.append(f"Check-ins: {g.open} open · {g.completed} completed · {g.upcoming} upcoming")
        for code in g.demo_codes:
            lines.append(
                f"⚠️ Demo invite code <code>{escape(code)}</code> still lets anyone who guesses "
                f"it join: /revoke {escape(code)} when the demo is over."
            )
        for former in g.former_therapists:
            who = escape(former.name) if former.name else "no name"
            ended = _admin_date(former.ended_at.astimezone(ZoneInfo(g.group.zone)).date())
            lines.append(
                f"Therapist {who} (id <code>{former.telegram_user_id}</code>) left on {ended}: "
                "no longer under [therapists] in the configuration, so no more alerts."
            )
    return "\n".join(lines)


def admin_patients(result: PatientList) -> str:
    group = result.group
    if not result.patients:
        return (
            f"<b>{escape(group.name)}</b> has no patients yet. "
            f"Invite some with /invite {escape(group.name)}"
        )
    lines = [f"<b>Patients of {escape(group.name)}</b> ({len(result.patients)})"]
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(group.zone)
    for n, p in enumerate(result.patients, 1):
        joined = _admin_date(p.joined_at.astimezone(zone).date())
        if p.data_deleted:
            lines.append(f"{n}. <i>data deleted at the patient's request</i> – joined {joined}")
            continue
        name = escape(p.name) if p.name else "<i>no name</i>"
        lines.append(
            f"{n}. {name} (id <code>{p.telegram_user_id}</code>) – joined {joined} – "
            f"{_admin_plural(p.open_tasks, 'open check-in')}"
        )
    return "\n".join(lines)


def admin_unknown_patient(ref: str, group_name: str) -> str:
    return (
        f"No patient “{escape(ref)}” in {escape(group_name)}. Use the Telegram user id or the "
        f"exact name shown by /patients {escape(group_name)}."
    )


def admin_ambiguous_patient(ref: str, ids: list[int]) -> str:
    listing = ", ".join(str(i) for i in ids)
    return (
        f"More than one patient is called “{escape(ref)}” (ids {listing}); "
        "please use the Telegram user id."
    )


def admin_patient_removed(removed: RemovedPatient) -> str:
    name = escape(removed.name) if removed.name else str(removed.telegram_user_id)
    return (
        f"Removed {name} from {escape(removed.group.name)}. "
        f"{_admin_plural(removed.cancelled, 'check-in')} they still had there "
        f"{'was' if removed.cancelled == 1 else 'were'} cancelled; their answers are kept.\n"
        "The invite links and codes they could use no longer let them back into the group; "
        f"to take them back, make a new one with /invite {escape(removed.group.name)}."
    )


# invites


def admin_invite_bad_days(most: int) -> str:
    return f"An invite can be valid for 1 to {most} days."


def admin_unknown_invite(code: str) -> str:
    return f"There is no invite code “{escape(code)}”."


def admin_invite_created(info: InviteInfo, link: str) -> str:
    expires = (
        f"valid until {_admin_instant(info.expires_at, info.group.zone)}"
        if info.expires_at
        else "valid until revoked"
    )
    uses = "for any number of patients"
    if info.max_uses:
        uses = f"for {_admin_plural(info.max_uses, 'patient')}"
    return (
        f"Invite link for <b>{escape(info.group.name)}</b>, {expires}, {uses}:\n"
        f"{escape(link)}\n"
        f"Send it to your patients; opening it joins them. To stop it: "
        f"/revoke {escape(info.code)}"
    )


def admin_invite_revoked(info: InviteInfo) -> str:
    return (
        f"The invite code {escape(info.code)} for {escape(info.group.name)} no longer works. "
        f"It was used {_admin_plural(info.uses, 'time')}; those patients stay in the group."
    )


# tasks: parsing problems


def admin_due_in_past(day: date_, at: time_, zone: str) -> str:
    return (
        f"That is in the past ({_admin_date(day)}, {at:%H:%M} in {escape(zone)}). "
        "Please give a time from now on."
    )


def admin_never_due() -> str:
    return "With that date and repetition the task would never be due again."


def admin_title_missing() -> str:
    return "Please type a title for the task."


def admin_title_too_long(length: int, most: int) -> str:
    return f"That title has {length} characters; keep it to {most}."


def admin_description_missing() -> str:
    return "Please type the question as the patient should read it."


def admin_description_too_long(length: int, most: int) -> str:
    return f"That question has {length} characters; keep it to {most}."


def admin_bad_link(link: str) -> str:
    return (
        f"“{escape(link)}” is not a web address. Send one starting with https:// "
        "(such as a YouTube link), or tap No link."
    )


def admin_unknown_type(text: str) -> str:
    return (
        f"“{escape(text)}” is not a response type; use one of yes_no, scale, number, choice, "
        "text, photo, video."
    )


def admin_options_hint() -> str:
    return "Type the options separated by commas, for example: Left, Right, Both the same"


def admin_bad_bounds(text: str) -> str:
    return (
        f"“{escape(text)}” is not a range. Type the lowest and highest value with a dash, "
        "for example 0-50."
    )


def admin_bad_max_length(most: int) -> str:
    return f"Type the most characters an answer may have, a whole number from 1 to {most}."


def admin_unknown_task(task_id: int) -> str:
    return f"There is no task {task_id}. /tasks lists them with their numbers."


def admin_task_deleted(task_id: int, title: str) -> str:
    return f"Task {task_id} “{escape(title)}” was deleted; it can't be changed any more."


def admin_task_needs_question() -> str:
    return "A task needs at least one question."


def admin_too_many_questions(most: int) -> str:
    return f"A task can have at most {most} questions."


def admin_unknown_question(position: int) -> str:
    return f"The task has no question {position} (any more)."


def admin_last_question() -> str:
    return (
        "That is the task's only question; a task needs at least one. "
        "Add another question first, or delete the task."
    )


def admin_line_too_short() -> str:
    return (
        "The one-line form needs at least a group, a title, a due time, a repeat and one question."
    )


def admin_line_field(name: str, problem: str) -> str:
    return f"<b>{escape(name)}</b>: {problem}"


def admin_line_question_shape() -> str:
    return "Write a question as TEXT ; TYPE, for example: Pain today? ; scale"


def admin_line_unknown_extra(extra: str) -> str:
    return f"“{escape(extra)}” doesn't fit this question type."


def admin_line_choice_needs_options() -> str:
    return "A choice question needs its options, for example: ; Left, Right, Both"


# the /newtask dialogue


def admin_no_groups() -> str:
    return "There are no groups yet. Create one first with /newgroup NAME."


def admin_ask_group() -> str:
    return "<b>New task</b> (send /cancel at any time to stop)\nWhich group is it for?"


def admin_ask_title(group_name: str) -> str:
    return (
        f"Group: <b>{escape(group_name)}</b>\nWhat is the task's title? "
        "For example: Perform 20 Press-Ups"
    )


def admin_ask_title_again() -> str:
    return "Please type the title again."


def admin_ask_due(zone: str) -> str:
    return (
        f"When is it due? Type a date and time in {escape(zone)}, for example "
        "2026-12-01 10:00, tomorrow 10:00 or mon 09:30. "
        "Each patient gets it at that time of day in their own time zone."
    )


def admin_ask_due_again(zone: str) -> str:
    return f"Please type the due date and time again (in {escape(zone)})."


def admin_understood_due(day: date_, at: time_, zone: str) -> str:
    return f"Due <b>{_admin_date(day)}, {at:%H:%M}</b> ({escape(zone)})."


def admin_ask_repeat() -> str:
    return (
        "Does it repeat? Tap one, or type a repeat such as "
        "<code>mon,wed,fri</code> or <code>every 2 days x5</code>."
    )


def admin_ask_repeat_again() -> str:
    return "Please tap one of the buttons above, or type the repeat again."


def admin_button_once() -> str:
    return "Once"


def admin_button_daily() -> str:
    return "Daily"


def admin_button_weekdays() -> str:
    return "Weekdays"


def admin_button_every() -> str:
    return "Every N days"


def admin_ask_every_n() -> str:
    return "Every how many days? Type a number from 1 to 365."


def admin_bad_every_n() -> str:
    return "Please type a whole number of days from 1 to 365, for example 3."


def admin_ask_repeat_end() -> str:
    return "When does it stop?"


def admin_button_no_end() -> str:
    return "No end date"


def admin_button_until() -> str:
    return "Until a date"


def admin_button_count() -> str:
    return "A number of times"


def admin_ask_until() -> str:
    return "Type the last day, as YYYY-MM-DD (for example 2026-12-31)."


def admin_bad_until(text: str) -> str:
    return (
        f"“{escape(text)}” is not a date. Type the last day as YYYY-MM-DD, for example 2026-12-31."
    )


def admin_until_before_start(until: date_, start: date_) -> str:
    return (
        f"{_admin_date(until)} is before the first day, {_admin_date(start)}. "
        "Please type a later date."
    )


def admin_ask_count() -> str:
    return "How many times in all? Type a number from 1 to 1000."


def admin_bad_count() -> str:
    return "Please type a whole number from 1 to 1000, for example 14."


def admin_understood_repeat(rule: str | None) -> str:
    return f"Repeats: <b>{_admin_rule(rule)}</b>.\nNow the questions, one at a time."


def admin_ask_description(number: int) -> str:
    return (
        f"<b>Question {number}</b>: type it as the patient should read it, for example "
        "“Do 10 Push-Ups” or “How strong was your pain today?”"
    )


def admin_ask_link() -> str:
    return "Send a link for this question (for example an exercise video), or tap No link."


def admin_button_no_link() -> str:
    return "No link"


def admin_ask_type() -> str:
    return "How should the patient answer?"


def admin_type_label(code: str) -> str:
    return _ADMIN_TYPE_LABELS.get(code, escape(code))


def admin_ask_options() -> str:
    return "Type the options separated by commas, for example: Left, Right, Both the same"


def admin_ask_number_bounds() -> str:
    return "Type the lowest and highest allowed number, for example 0-50, or tap No limits."


def admin_button_no_bounds() -> str:
    return "No limits"


def admin_ask_scale_bounds() -> str:
    return "Type the scale's ends, for example 1-5, or keep 0 to 10."


def admin_button_default_scale(lo: int, hi: int) -> str:
    return f"{lo} to {hi}"


def admin_ask_max_length() -> str:
    return "Type the most characters an answer may have, for example 500, or tap No limit."


def admin_button_no_max_length() -> str:
    return "No limit"


def admin_ask_integer() -> str:
    return "Whole numbers only, or decimals too?"


def admin_button_whole() -> str:
    return "Whole numbers"


def admin_button_decimals() -> str:
    return "Decimals allowed"


def admin_ask_required() -> str:
    return "Must the patient answer it?"


def admin_button_required() -> str:
    return "Required"


def admin_button_optional() -> str:
    return "Optional"


def admin_ask_alert(rules: QuestionRules) -> str:
    kind = str(rules.response_type)
    if kind == "yes_no":
        example = "== no"
    elif kind == "choice":
        example = f"== {rules.options[0]}" if rules.options else "== …"
    elif kind == "scale":
        example = f">= {rules.scale_bounds()[1] - 2}"
    else:
        example = ">= 8"
    return (
        "Should the group's therapists get an alert for some answers? Type a rule such as "
        f"<code>{escape(example)}</code>, or tap No alert."
    )


def admin_button_no_alert() -> str:
    return "No alert"


def admin_button_add_question() -> str:
    return "➕ Add another question"


def admin_button_done_review() -> str:
    return "✅ Done – review the task"


def admin_button_done_save() -> str:
    return "✅ Done – save"


def admin_question_added(number: int, question: QuestionDraft) -> str:
    return f"Question {number} added:\n{_admin_question_line(number, question)}"


def _admin_question_details(
    kind: str,
    options: Sequence[str],
    lo: float | None,
    hi: float | None,
    integer_only: bool,
    max_length: int | None,
    required: bool,
    alert_rule: str | None,
) -> str:
    parts = [admin_type_label(kind)]
    if kind == "choice":
        parts.append(", ".join(escape(o) for o in options))
    if kind == "scale":
        low = _admin_num(lo if lo is not None else 0)
        high = _admin_num(hi if hi is not None else 10)
        parts.append(f"{low} to {high}")
    if kind == "number":
        if lo is not None or hi is not None:
            low = _admin_num(lo) if lo is not None else "…"
            high = _admin_num(hi) if hi is not None else "…"
            parts.append(f"{low} to {high}")
        if integer_only:
            parts.append("whole numbers")
    if kind == "text" and max_length is not None:
        parts.append(f"at most {max_length} characters")
    parts.append("required" if required else "optional")
    if alert_rule:
        parts.append(f"alert when {escape(alert_rule)}")
    return " · ".join(parts)


def _admin_question_line(number: int, q: QuestionDraft) -> str:
    details = _admin_question_details(
        q.response_type.value,
        q.options,
        q.min_value,
        q.max_value,
        q.integer_only,
        q.max_length,
        q.required,
        q.alert_rule,
    )
    link = f"\n   🔗 {escape(q.link)}" if q.link else ""
    return f"{number}. {escape(q.description)}\n   <i>{details}</i>{link}"


def admin_review(
    group_name: str,
    title: str,
    due_date: date_,
    due_time: time_,
    zone: str,
    rule: str | None,
    upcoming: datetime | None,
    questions: Sequence[QuestionDraft],
) -> str:
    lines = [
        "<b>Review</b>",
        f"<b>{escape(title)}</b>",
        f"Group: {escape(group_name)}",
        f"Starts: {_admin_date(due_date)}, {due_time:%H:%M} ({escape(zone)})",
        f"Repeats: {_admin_rule(rule)}",
        f"Next due: {_admin_instant(upcoming, zone)}",
        f"Questions ({len(questions)}):",
    ]
    lines += [_admin_question_line(n, q) for n, q in enumerate(questions, 1)]
    return "\n".join(lines)


def admin_ask_save() -> str:
    return "Save this task? Its patients will be asked at each due time."


def admin_button_save() -> str:
    return "💾 Save"


def admin_button_cancel() -> str:
    return "✖️ Cancel"


def admin_task_saved(saved: TaskSaved) -> str:
    who = (
        f"{_admin_plural(saved.planned, 'patient')} scheduled"
        if saved.planned
        else "no patient scheduled yet; patients who join get it too"
    )
    return (
        f"Saved task <b>#{saved.task_id}</b> “{escape(saved.title)}” for "
        f"{escape(saved.group.name)} with {_admin_plural(saved.questions, 'question')}.\n"
        f"Next due: {_admin_instant(saved.next_due, saved.group.zone)}; {who}.\n"
        f"See it as a patient will: /preview {saved.task_id}"
    )


# the task views


def admin_tasks(group: GroupInfo | None, tasks: Sequence[TaskSummary]) -> str:
    where = f" of {escape(group.name)}" if group else ""
    if not tasks:
        return f"There are no tasks{where} yet. Create one with /newtask."
    lines = [f"<b>Tasks{where}</b>"]
    for t in tasks:
        lines.append("")
        lines.append(f"<b>#{t.id}</b> {escape(t.title)}")
        place = "" if group else f"{escape(t.group.name)} · "
        lines.append(
            f"{place}{_admin_rule(t.recurrence)} · {_admin_plural(t.questions, 'question')}"
        )
        lines.append(
            f"Next: {_admin_instant(t.next_due, t.group.zone)} · "
            f"{t.completed} of {t.due} due check-ins completed"
        )
    lines.append("")
    lines.append("Details: /task ID")
    return "\n".join(lines)


_ADMIN_STATUS_WORDS = (
    ("completed", "completed"),
    ("in_progress", "in progress"),
    ("sent", "sent, not started"),
    ("pending", "due, being sent"),
    ("sending", "being sent"),
    ("expired", "expired"),
    ("skipped", "skipped"),
    ("failed", "could not be delivered"),
    ("cancelled", "cancelled"),
    ("upcoming", "upcoming"),
)


def admin_task_details(d: TaskDetails) -> str:
    lines = [f"<b>#{d.id} {escape(d.title)}</b>"]
    if d.deleted:
        lines.append("<i>Deleted: no new check-ins; answers kept.</i>")
    lines += [
        f"Group: {escape(d.group.name)} ({_admin_plural(d.patients, 'patient')})",
        f"Starts: {_admin_date(d.due_date)}, {d.due_time:%H:%M} ({escape(d.group.zone)})",
        f"Repeats: {_admin_rule(d.recurrence)}",
        f"Next due: {_admin_instant(d.next_due, d.group.zone)}",
        f"Open for {_admin_duration(d.expiry_minutes)} after each due time",
        "",
        "<b>Questions</b>",
    ]
    for q in d.questions:
        r = q.rules
        details = _admin_question_details(
            str(r.response_type),
            r.options,
            r.min_value,
            r.max_value,
            r.integer_only,
            r.max_length,
            r.required,
            q.alert_rule,
        )
        removed = " <i>(removed)</i>" if q.removed else ""
        link = f"\n   🔗 {escape(q.link)}" if q.link else ""
        lines.append(f"{q.position}. {escape(q.description)}{removed}\n   <i>{details}</i>{link}")
    counts = d.status_counts
    lines.append("")
    lines.append("<b>Check-ins so far</b>")
    shown = [f"{counts[k]} {word}" for k, word in _ADMIN_STATUS_WORDS if counts.get(k)]
    lines.append(" · ".join(shown) if shown else "none yet")
    return "\n".join(lines)


def _admin_duration(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        return _admin_plural(minutes // (24 * 60), "day")
    if minutes % 60 == 0:
        return _admin_plural(minutes // 60, "hour")
    return _admin_plural(minutes, "minute")


# /edittask


def admin_ask_edit(task_id: int, title: str) -> str:
    return f"What do you want to change in #{task_id} “{escape(title)}”?"


def admin_button_edit_due() -> str:
    return "🕘 Due time"


def admin_button_edit_repeat() -> str:
    return "🔁 Repetition"


def admin_button_edit_add() -> str:
    return "➕ Add a question"


def admin_button_edit_remove() -> str:
    return "➖ Remove a question"


def admin_ask_remove() -> str:
    return "Which question should go? Answers already given to it are kept."


def admin_question_button(position: int, description: str) -> str:
    short = description if len(description) <= 40 else description[:39].rstrip() + "…"
    # A button label is plain text, not HTML.
    return f"{position}. {short}"


def admin_question_removed_label(position: int) -> str:
    return f"Question {position}"


def admin_question_removed(changed: QuestionsChanged) -> str:
    return (
        f"Removed question {changed.positions[0]} from #{changed.task_id} "
        f"“{escape(changed.title)}”; answers already given are kept. "
        f"{_admin_plural(changed.active, 'question')} left."
    )


def admin_questions_added(changed: QuestionsChanged) -> str:
    numbers = ", ".join(str(p) for p in changed.positions)
    return (
        f"Added {_admin_plural(len(changed.positions), 'question')} ({numbers}) to "
        f"#{changed.task_id} “{escape(changed.title)}”; it now has "
        f"{_admin_plural(changed.active, 'question')}. Check-ins already started keep going."
    )


def admin_task_changed(changed: TaskChanged) -> str:
    return (
        f"Changed #{changed.task_id} “{escape(changed.title)}”: starts "
        f"{_admin_date(changed.due_date)}, {changed.due_time:%H:%M}, repeats "
        f"{_admin_rule(changed.recurrence)}.\n"
        f"Next due: {_admin_instant(changed.next_due, changed.group.zone)}. "
        f"{_admin_plural(changed.added, 'upcoming check-in')} planned again; "
        "check-ins already sent and answers already given are unchanged."
    )


# /deletetask


def admin_confirm_delete(d: TaskDetails) -> str:
    return (
        f"Delete task #{d.id} “{escape(d.title)}” of {escape(d.group.name)}? "
        "No more check-ins will be sent and open ones are cancelled; "
        "answers already given are kept."
    )


def admin_button_delete_yes() -> str:
    return "🗑 Yes, delete"


def admin_button_delete_no() -> str:
    return "No, keep it"


def admin_delete_kept() -> str:
    return "→ <b>Kept.</b> Nothing changed."


def admin_task_deleted_done(deleted: TaskDeleted) -> str:
    return (
        f"Deleted task #{deleted.task_id} “{escape(deleted.title)}”. "
        f"{_admin_plural(deleted.cancelled_pending, 'upcoming check-in')} and "
        f"{_admin_plural(deleted.cancelled_open, 'open check-in')} cancelled; answers kept."
    )


# /preview


def admin_preview_intro(task_id: int, title: str) -> str:
    return (
        f"<b>Preview</b> of #{task_id} “{escape(title)}” as a patient sees it, each question "
        "in turn. The buttons here do nothing, and nothing is stored."
    )


def admin_preview_only() -> str:
    return "Preview only: nothing happens."


# /report


def admin_report(report: AdherenceReport, limit: int) -> list[str]:
    """The adherence table, split into messages of at most ``limit`` characters."""
    if report.kind == "task":
        head = (
            f"<b>Adherence: #{report.task_id} {escape(report.title)}</b> "
            f"({escape(report.group_name)})"
        )
    else:
        head = f"<b>Adherence: {escape(report.title)}</b>"
    if not report.rows:
        return [f"{head}\nNo patients yet."]
    name_width = 12
    columns = ("Do", "Pa", "Mi", "Ex", "Pe")
    rows = [*report.rows, report.total]
    widths = [
        max(len(c), *(len(str(v)) for v in values))
        for c, values in zip(
            columns,
            zip(
                *((r.completed, r.partial, r.missed, r.expired, r.pending) for r in rows),
                strict=True,
            ),
            strict=True,
        )
    ]

    def line(name: str, values: Sequence[object], last: str) -> str:
        cells = " ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))
        return f"{name[:name_width].ljust(name_width)} {cells} {last}"

    def last_day(day: date_ | None) -> str:
        return f"{day.day} {_ADMIN_MONTHS[day.month - 1]}" if day else "–"

    table = [line("Patient", columns, "Last")]
    footnotes: set[str] = set()
    for r in report.rows:
        if r.data_deleted:
            name = "[deleted]"
            footnotes.add("[deleted] = data deleted at the patient's request")
        else:
            name = r.name or str(r.telegram_user_id)
            if len(name) > name_width:
                name = name[: name_width - 1] + "…"
            if not r.member:
                name = name[: name_width - 1] + "†"
                footnotes.add("† no longer in the group")
        table.append(
            line(
                name,
                (r.completed, r.partial, r.missed, r.expired, r.pending),
                last_day(r.last_answered),
            )
        )
    t = report.total
    table.append(
        line(
            "All",
            (t.completed, t.partial, t.missed, t.expired, t.pending),
            last_day(t.last_answered),
        )
    )
    legend = (
        "Do = completed · Pa = partial (started, not finished) · Mi = missed (nothing answered)"
        " · Ex = expired (with or without answers) · Pe = due, not started · "
        "Last = last answer (patient's date)"
    )
    tail = [legend, *sorted(footnotes)]
    messages: list[str] = []
    current: list[str] = []
    budget = limit - 200
    for row in table:
        if current and len("\n".join([*current, row])) + len(head) > budget:
            messages.append(f"{head}\n<pre>{escape(chr(10).join(current))}</pre>")
            current = [table[0]]
        current.append(row)
    messages.append(f"{head}\n<pre>{escape(chr(10).join(current))}</pre>")
    notes = "\n".join(f"<i>{escape(n)}</i>" for n in tail)
    if len(messages[-1]) + len(notes) + 1 <= limit:
        messages[-1] = f"{messages[-1]}\n{notes}"
    else:
        messages.append(notes)
    return messages


# /export


def admin_export_caption(rows: int, group_ref: str | None) -> str:
    where = f" from {escape(group_ref)}" if group_ref else " from all groups"
    if rows == 0:
        return f"No answers{where} yet; the file has only its header row."
    return f"{_admin_plural(rows, 'answer')}{where}, one per row (CSV, UTF-8)."


def admin_cli_exported(rows: int, path: str) -> str:
    return f"Wrote {_admin_plural(rows, 'answer')} to {path}."


def admin_cli_cannot_write(path: str, error: OSError) -> str:
    return f"Cannot write {path}: {error.strerror or error}"


# --- FHIR: the export's caption and the import's refusals ----------------------------------
# The import's lines are read in a terminal (HTML stripped there) and name the item's linkId.


def admin_export_fhir_caption(responses: int, patients: int, group_ref: str | None) -> str:
    where = f" from {escape(group_ref)}" if group_ref else " from all groups"
    return (
        f"{_admin_plural(responses, 'check-in')} of {_admin_plural(patients, 'patient')}{where} "
        "as one FHIR R4B Bundle (JSON)."
    )


def admin_cli_exported_fhir(responses: int, patients: int, questionnaires: int, path: str) -> str:
    return (
        f"Wrote {_admin_plural(responses, 'check-in')} of {_admin_plural(patients, 'patient')} "
        f"and {_admin_plural(questionnaires, 'questionnaire')} to {path} (FHIR R4B)."
    )


def cli_questionnaire_imported(saved: TaskSaved, removed_left_out: int) -> str:
    left_out = (
        f"\n{_admin_plural(removed_left_out, 'item')} marked as a removed question left out."
        if removed_left_out
        else ""
    )
    return admin_task_saved(saved) + left_out


def cli_questionnaire_rejected(count: int) -> str:
    noun = "problem" if count == 1 else "problems"
    return f"Nothing was written: fix the {count} {noun} above and import again."


def cli_cannot_read(path: str, error: OSError) -> str:
    return f"Cannot read {path}: {error.strerror or error}"


def fhir_not_json(reason: str) -> str:
    return f"The file is not JSON: {escape(reason)}"


def fhir_not_questionnaire(kind: str | None) -> str:
    found = f"a {escape(kind)}" if kind else "no resourceType"
    return f"The file holds {found}, not a FHIR Questionnaire."


def fhir_items_not_list() -> str:
    return "The questionnaire's “item” must be a list."


def fhir_item_not_object(index: int) -> str:
    return f"Item #{index} is not an object."


def fhir_item_no_link_id(index: int, text: str) -> str:
    about = f" (“{escape(text[:60])}”)" if text else ""
    return f"Item #{index}{about} has no linkId: every item needs one."


def fhir_item_duplicate_link_id(link_id: str) -> str:
    return f"Item {escape(link_id)}: this linkId is used twice."


def fhir_item_nested(link_id: str) -> str:
    return f"Item {escape(link_id)}: nested groups are not supported; list the questions flat."


def fhir_item_unsupported_type(link_id: str, kind: str, supported: Sequence[str]) -> str:
    return (
        f"Item {escape(link_id)}: type “{escape(kind)}” is not supported "
        f"(supported: {', '.join(supported)})."
    )


def fhir_item_conditional(link_id: str) -> str:
    return f"Item {escape(link_id)}: enableWhen (a conditional question) is not supported."


def fhir_item_repeats(link_id: str) -> str:
    return f"Item {escape(link_id)}: repeating answers are not supported."


def fhir_item_value_set(link_id: str) -> str:
    return f"Item {escape(link_id)}: options from a value set are not supported; list them."


def fhir_invalid(where: str, reason: str) -> str:
    return f"Not a valid FHIR R4B Questionnaire at {escape(where)}: {escape(reason)}"


def fhir_item_invalid(link_id: str, where: str, reason: str) -> str:
    return f"Item {escape(link_id)}: not valid FHIR R4B at {escape(where)}: {escape(reason)}"


def fhir_item_problem(link_id: str, problem: str) -> str:
    return f"Item {escape(link_id)}: {problem}"


def fhir_item_no_text() -> str:
    return "it has no text: give the question as the patient should read it."


def fhir_option_not_text() -> str:
    return "every answerOption needs a valueCoding with a display or code, or a valueString."


def fhir_attachment_kind() -> str:
    return "an attachment needs the mimeType extension image/* (a photo) or video/* (a video)."


# --- playground ---------------------------------------------------------------------------
# Printed to the terminal by bot/playground when `patientbot run` finds no token.


def playground_started(url: str) -> str:
    return (
        "\nUntil then, try the whole bot without Telegram, in your browser:\n"
        f"Playground: open {url} and be the therapist or one of the patients "
        "(Alice, Bob, Chloe).\n"
        "Simulated time moves only when you press +1 hour or +1 day on the page. "
        "Press Ctrl+C here to stop."
    )


def playground_port_taken(host: str, port: int, error: OSError) -> str:
    return (
        f"The playground cannot listen on {host}:{port}: {error.strerror or error}.\n"
        "Stop whatever uses that port, or choose another under [playground] port in the "
        "configuration."
    )


def playground_stopped() -> str:
    return "Playground stopped."


# --- hardening: faults and outages ---------------------------------------------------------


def hardening_reply_lost() -> str:
    # Telegram failed us after the use case committed: the answer is stored, only the reply
    # went missing, so "nothing was changed" would be wrong here.
    return (
        "Sorry, my reply did not get through. Anything you answered is saved: "
        "send /tasks to carry on where you left off."
    )


# --- hardening: security -------------------------------------------------------------------


def hardening_too_long_to_repeat() -> str:
    # The reply would have quoted what was sent, and that made it longer than Telegram allows.
    return (
        "What you sent is too long for me to quote back, so nothing was changed. "
        "Please check it and send it again, shorter."
    )
