"""Every sentence the bot says, in one place so it can be reviewed and later translated.

Functions take the values a sentence needs and return the finished text. Texts sent with
``parse_mode=HTML`` escape what a person typed with ``html.escape``.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
        "/pause – stop for now; /tasks continues where you left off\n"
        "/timezone – show or set your time zone\n"
        "/stop – stop receiving check-ins (/start turns them back on)\n"
        "/deletemydata – erase your answers and leave your groups\n"
        "/help – this message"
    )


def help_therapist() -> str:
    return "<b>Therapist commands</b>\n/help – this message"


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
