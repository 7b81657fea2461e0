"""Due times, repeats and rules: how they read, and what is wrong with one a person wrote.

The ``Kind.SCHEDULE_*`` problems of ``bot/services/schedule.py`` in plain text (no HTML): where
they go into a chat message, ``rule_problem`` escapes them; a seed file's line prints them as
they are.
"""

from __future__ import annotations

from bot.services.schedule import rule_to_recurrence

_RECURRENCE_HINT = (
    "Use one of: once, daily, weekdays, mon,wed,fri, every 2 days; optionally followed by "
    '"until 2026-12-31" or "x5" (or "5 times"); or a raw RRULE such as '
    "FREQ=WEEKLY;BYDAY=MO,WE,FR."
)
_WHEN_HINT = (
    "Use one of: 2026-12-01 10:00, 2026-12-01T10:00, today 11:00, tomorrow 10:00, +3d 9:30, "
    "mon 09:30 (the next Monday, today included), or just 10:00 for today."
)
_CLOCK_HINT = "Use HH:MM on the 24-hour clock, such as 09:30 or 21:00."

_DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Own month names rather than strftime("%b"), which follows the process locale.
_MONTH_TITLES = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_MON_TO_FRI = (0, 1, 2, 3, 4)


def describe_rule(rule: str | None) -> str:
    """Describe a stored rule in words, e.g. "every Mon, Wed and Fri until 31 Dec 2026"."""
    rec = rule_to_recurrence(rule)
    if rec.kind == "once":
        return "once"
    if rec.kind == "weekly":
        if rec.weekdays == _MON_TO_FRI:
            text = "every weekday"
        else:
            text = "every " + _join_and([_DAY_TITLES[d] for d in rec.weekdays])
    elif rec.kind == "interval" and rec.interval_days > 1:
        text = f"every {rec.interval_days} days"
    else:
        text = "every day"
    if rec.until is not None:
        u = rec.until
        text += f" until {u.day} {_MONTH_TITLES[u.month - 1]} {u.year}"
    if rec.count is not None:
        text += f", {rec.count} time" + ("" if rec.count == 1 else "s")
    return text


def _join_and(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def schedule_unknown_kind(kind: str) -> str:
    return f"Unknown recurrence kind {kind!r}; use once, daily, weekly or interval."


def schedule_interval_range(most: int, days: int) -> str:
    return f"The interval must be between 1 and {most} days, not {days}."


def schedule_interval_only() -> str:
    return 'Only an "interval" recurrence can repeat every N days.'


def schedule_no_weekday() -> str:
    return "A weekly recurrence needs at least one weekday."


def schedule_weekday_numbers() -> str:
    return "Weekdays are numbered 0 (Monday) to 6 (Sunday)."


def schedule_weekday_order() -> str:
    return "Weekdays must be sorted and must not repeat."


def schedule_weekdays_only_weekly() -> str:
    return "Only a weekly recurrence can name weekdays."


def schedule_count_too_small(count: int) -> str:
    return f"A series needs at least one occurrence, not {count}."


def schedule_until_and_count() -> str:
    return "A series can end on a date or after a number of times, not both."


def schedule_once_with_end() -> str:
    return "A one-off task cannot have an end date or a count."


def schedule_rule_not_pair(part: str, rule: str) -> str:
    return f'"{part}" in rule "{rule}" is not a NAME=VALUE pair.'


def schedule_rule_unsupported_part(name: str, rule: str) -> str:
    return (
        f'{name} in rule "{rule}" is not supported; '
        "only FREQ, INTERVAL, BYDAY, UNTIL and COUNT are."
    )


def schedule_rule_twice(name: str, rule: str) -> str:
    return f'{name} appears twice in rule "{rule}".'


def schedule_rule_no_freq(rule: str) -> str:
    return f'Rule "{rule}" has no FREQ; start it with FREQ=DAILY or FREQ=WEEKLY.'


def schedule_rule_freq(freq: str) -> str:
    return (
        f"FREQ={freq} is not supported; a task repeats daily, every N days (FREQ=DAILY) "
        "or on chosen weekdays (FREQ=WEEKLY)."
    )


def schedule_rule_weekly_interval(rule: str) -> str:
    return f'Rule "{rule}": a weekly rule repeats every week; INTERVAL is not supported.'


def schedule_rule_weekly_byday(rule: str) -> str:
    return f'Rule "{rule}": a weekly rule needs BYDAY, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR.'


def schedule_rule_byday_weekly(rule: str) -> str:
    return f'Rule "{rule}": BYDAY needs FREQ=WEEKLY.'


def schedule_rule_not_whole(rule: str, name: str) -> str:
    return f'Rule "{rule}": {name} must be a whole number of at least 1.'


def schedule_rule_until_form(rule: str) -> str:
    return f'Rule "{rule}": UNTIL must be a local date written YYYYMMDD, e.g. UNTIL=20261231.'


def schedule_rule_until_date(rule: str, value: str) -> str:
    return f'Rule "{rule}": UNTIL={value} is not a real date.'


def schedule_rule_byday_code(rule: str, code: str) -> str:
    return f'Rule "{rule}": BYDAY takes plain days such as MO,WE,FR, not "{code}".'


def schedule_unreadable_repeat(text: str) -> str:
    return f'Could not read "{text}" as a repeat. {_RECURRENCE_HINT}'


def schedule_once_with_ending(text: str) -> str:
    return f'"{text}": a one-off task has no end date or count; drop the ending or pick a repeat.'


def schedule_unreadable_when(text: str) -> str:
    return f'Could not read "{text}" as a due time. {_WHEN_HINT}'


def schedule_too_far_ahead(text: str) -> str:
    return f'"{text}" is too far ahead. {_WHEN_HINT}'


def schedule_date_form(what: str, text: str) -> str:
    return f'The {what} "{text}" should be written YYYY-MM-DD, e.g. 2026-12-31.'


def schedule_not_a_date(what: str, text: str) -> str:
    return f'The {what} "{text}" is not a real date.'


def schedule_not_a_time(text: str) -> str:
    return f'"{text}" is not a time. {_CLOCK_HINT}'


def schedule_bad_hour(text: str, hour: int) -> str:
    return f'"{text}": the hour must be 0 to 23, not {hour}. {_CLOCK_HINT}'


def schedule_bad_minute(text: str, minute: int) -> str:
    return f'"{text}": the minute must be 00 to 59, not {minute}. {_CLOCK_HINT}'
