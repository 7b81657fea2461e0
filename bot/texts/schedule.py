"""Due times, repeats and rules: how they read, and what is wrong with one a person wrote.

The ``Kind.SCHEDULE_*`` problems of ``bot/services/schedule.py`` in plain text (no HTML): where
they go into a chat message, ``rule_problem`` escapes them; a seed file's line prints them as
they are.
"""

from __future__ import annotations

import bot.texts.language as language
from bot.services.schedule import rule_to_recurrence
from bot.texts.language import N_, _, counted

_RECURRENCE_HINT = N_(
    "Use one of: once, daily, weekdays, mon,wed,fri, every 2 days; optionally followed by "
    '"until 2026-12-31" or "x5" (or "5 times"); or a raw RRULE such as '
    "FREQ=WEEKLY;BYDAY=MO,WE,FR."
)
_WHEN_HINT = N_(
    "Use one of: 2026-12-01 10:00, 2026-12-01T10:00, today 11:00, tomorrow 10:00, +3d 9:30, "
    "mon 09:30 (the next Monday, today included), or just 10:00 for today."
)
_CLOCK_HINT = N_("Use HH:MM on the 24-hour clock, such as 09:30 or 21:00.")

_MON_TO_FRI = (0, 1, 2, 3, 4)


def describe_rule(rule: str | None) -> str:
    """Describe a stored rule in words, e.g. "every Mon, Wed and Fri until 31 Dec 2026"."""
    rec = rule_to_recurrence(rule)
    if rec.kind == "once":
        return _("once")
    if rec.kind == "weekly":
        if rec.weekdays == _MON_TO_FRI:
            text = _("every weekday")
        else:
            # Babel's abbreviated weekday names (0 is Monday, as in the stored rule).
            names = language.locale().days["format"]["abbreviated"]
            text = _("every {days}").format(days=_join_and([names[d] for d in rec.weekdays]))
    elif rec.kind == "interval" and rec.interval_days > 1:
        text = _("every {interval_days} days").format(interval_days=rec.interval_days)
    else:
        text = _("every day")
    if rec.until is not None:
        u = rec.until
        text += _(" until {day}").format(day=language.day_month_year(u))
    if rec.count is not None:
        text += counted(", {n} time", ", {n} times", rec.count)
    return text


def _join_and(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + _(" and ") + items[-1]


def schedule_unknown_kind(kind: str) -> str:
    return _("Unknown recurrence kind {kind!r}; use once, daily, weekly or interval.").format(
        kind=kind
    )


def schedule_interval_range(most: int, days: int) -> str:
    return _("The interval must be between 1 and {most} days, not {days}.").format(
        most=most, days=days
    )


def schedule_interval_only() -> str:
    return _('Only an "interval" recurrence can repeat every N days.')


def schedule_no_weekday() -> str:
    return _("A weekly recurrence needs at least one weekday.")


def schedule_weekday_numbers() -> str:
    return _("Weekdays are numbered 0 (Monday) to 6 (Sunday).")


def schedule_weekday_order() -> str:
    return _("Weekdays must be sorted and must not repeat.")


def schedule_weekdays_only_weekly() -> str:
    return _("Only a weekly recurrence can name weekdays.")


def schedule_count_too_small(count: int) -> str:
    return _("A series needs at least one occurrence, not {count}.").format(count=count)


def schedule_until_and_count() -> str:
    return _("A series can end on a date or after a number of times, not both.")


def schedule_once_with_end() -> str:
    return _("A one-off task cannot have an end date or a count.")


def schedule_rule_not_pair(part: str, rule: str) -> str:
    return _('"{part}" in rule "{rule}" is not a NAME=VALUE pair.').format(part=part, rule=rule)


def schedule_rule_unsupported_part(name: str, rule: str) -> str:
    return _(
        '{name} in rule "{rule}" is not supported; only FREQ, INTERVAL, BYDAY, '
        "UNTIL and COUNT are."
    ).format(name=name, rule=rule)


def schedule_rule_twice(name: str, rule: str) -> str:
    return _('{name} appears twice in rule "{rule}".').format(name=name, rule=rule)


def schedule_rule_no_freq(rule: str) -> str:
    return _('Rule "{rule}" has no FREQ; start it with FREQ=DAILY or FREQ=WEEKLY.').format(
        rule=rule
    )


def schedule_rule_freq(freq: str) -> str:
    return _(
        "FREQ={freq} is not supported; a task repeats daily, every N days "
        "(FREQ=DAILY) or on chosen weekdays (FREQ=WEEKLY)."
    ).format(freq=freq)


def schedule_rule_weekly_interval(rule: str) -> str:
    return _('Rule "{rule}": a weekly rule repeats every week; INTERVAL is not supported.').format(
        rule=rule
    )


def schedule_rule_weekly_byday(rule: str) -> str:
    return _('Rule "{rule}": a weekly rule needs BYDAY, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR.').format(
        rule=rule
    )


def schedule_rule_byday_weekly(rule: str) -> str:
    return _('Rule "{rule}": BYDAY needs FREQ=WEEKLY.').format(rule=rule)


def schedule_rule_not_whole(rule: str, name: str) -> str:
    return _('Rule "{rule}": {name} must be a whole number of at least 1.').format(
        rule=rule, name=name
    )


def schedule_rule_until_form(rule: str) -> str:
    return _(
        'Rule "{rule}": UNTIL must be a local date written YYYYMMDD, e.g. UNTIL=20261231.'
    ).format(rule=rule)


def schedule_rule_until_date(rule: str, value: str) -> str:
    return _('Rule "{rule}": UNTIL={value} is not a real date.').format(rule=rule, value=value)


def schedule_rule_byday_code(rule: str, code: str) -> str:
    return _('Rule "{rule}": BYDAY takes plain days such as MO,WE,FR, not "{code}".').format(
        rule=rule, code=code
    )


def schedule_unreadable_repeat(text: str) -> str:
    return _('Could not read "{text}" as a repeat. {RECURRENCE_HINT}').format(
        text=text, RECURRENCE_HINT=_(_RECURRENCE_HINT)
    )


def schedule_once_with_ending(text: str) -> str:
    return _(
        '"{text}": a one-off task has no end date or count; drop the ending or pick a repeat.'
    ).format(text=text)


def schedule_unreadable_when(text: str) -> str:
    return _('Could not read "{text}" as a due time. {WHEN_HINT}').format(
        text=text, WHEN_HINT=_(_WHEN_HINT)
    )


def schedule_too_far_ahead(text: str) -> str:
    return _('"{text}" is too far ahead. {WHEN_HINT}').format(text=text, WHEN_HINT=_(_WHEN_HINT))


def schedule_date_form(what: str, text: str) -> str:
    return _('The {what} "{text}" should be written YYYY-MM-DD, e.g. 2026-12-31.').format(
        what=what, text=text
    )


def schedule_not_a_date(what: str, text: str) -> str:
    return _('The {what} "{text}" is not a real date.').format(what=what, text=text)


def schedule_not_a_time(text: str) -> str:
    return _('"{text}" is not a time. {CLOCK_HINT}').format(text=text, CLOCK_HINT=_(_CLOCK_HINT))


def schedule_bad_hour(text: str, hour: int) -> str:
    return _('"{text}": the hour must be 0 to 23, not {hour}. {CLOCK_HINT}').format(
        text=text, hour=hour, CLOCK_HINT=_(_CLOCK_HINT)
    )


def schedule_bad_minute(text: str, minute: int) -> str:
    return _('"{text}": the minute must be 00 to 59, not {minute}. {CLOCK_HINT}').format(
        text=text, minute=minute, CLOCK_HINT=_(_CLOCK_HINT)
    )
