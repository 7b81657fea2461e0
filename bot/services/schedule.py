"""Due times: recurrence rules, therapist-friendly date entry, time zones, DST and quiet hours.

Pure functions only: no I/O and no clock. Whoever needs "now" passes it in.

A series is a local start day, a local wall-clock time and an optional rule. Rules are stored as
an RFC 5545 RRULE without DTSTART, restricted to what :class:`Recurrence` can say, so a stored
rule is always one we can describe, edit and expand. One departure from the RFC: UNTIL is a local
date (UNTIL=20261231) and includes that whole day, whatever the time of day of the series; plain
``rrulestr`` would read it as midnight and drop the last day, so expand rules only through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, WEEKLY, rrule, weekday, weekdays

__all__ = [
    "WEEKDAY_NAMES",
    "Recurrence",
    "describe_rule",
    "end_of_quiet",
    "is_quiet",
    "local_to_utc",
    "next_due",
    "occurrences",
    "parse_clock_time",
    "parse_recurrence_text",
    "parse_rule",
    "parse_when",
    "recurrence_to_rule",
    "rule_to_recurrence",
]

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

MAX_INTERVAL_DAYS = 365
MAX_OCCURRENCES = 1000

_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_BY_NAME = {
    name: i for names in (WEEKDAY_NAMES, _FULL_DAY_NAMES) for i, name in enumerate(names)
}
# Own month names rather than strftime("%b"), which follows the process locale.
_MONTH_TITLES = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_MON_TO_FRI = (0, 1, 2, 3, 4)

# The largest UTC-offset change a zone has made in one go is a day (Samoa skipped 30 Dec 2011),
# so this much slack when mapping an instant to a local date never misses an occurrence.
_ZONE_SLACK = timedelta(days=2)

_ASCII_INT = re.compile(r"[0-9]+")

RECURRENCE_HINT = (
    "Use one of: once, daily, weekdays, mon,wed,fri, every 2 days; optionally followed by "
    '"until 2026-12-31" or "x5" (or "5 times"); or a raw RRULE such as '
    "FREQ=WEEKLY;BYDAY=MO,WE,FR."
)
WHEN_HINT = (
    "Use one of: 2026-12-01 10:00, 2026-12-01T10:00, today 11:00, tomorrow 10:00, +3d 9:30, "
    "mon 09:30 (the next Monday, today included), or just 10:00 for today."
)
CLOCK_HINT = "Use HH:MM on the 24-hour clock, such as 09:30 or 21:00."


@dataclass(frozen=True)
class Recurrence:
    """How a task repeats; always valid once constructed."""

    kind: Literal["once", "daily", "weekly", "interval"]
    interval_days: int = 1
    weekdays: tuple[int, ...] = ()
    until: date | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("once", "daily", "weekly", "interval"):
            raise ValueError(
                f"Unknown recurrence kind {self.kind!r}; use once, daily, weekly or interval."
            )
        if not 1 <= self.interval_days <= MAX_INTERVAL_DAYS:
            raise ValueError(
                f"The interval must be between 1 and {MAX_INTERVAL_DAYS} days, "
                f"not {self.interval_days}."
            )
        if self.kind != "interval" and self.interval_days != 1:
            raise ValueError('Only an "interval" recurrence can repeat every N days.')
        if self.kind == "weekly":
            if not self.weekdays:
                raise ValueError("A weekly recurrence needs at least one weekday.")
            if any(not 0 <= d <= 6 for d in self.weekdays):
                raise ValueError("Weekdays are numbered 0 (Monday) to 6 (Sunday).")
            if list(self.weekdays) != sorted(set(self.weekdays)):
                raise ValueError("Weekdays must be sorted and must not repeat.")
        elif self.weekdays:
            raise ValueError("Only a weekly recurrence can name weekdays.")
        if self.count is not None and self.count < 1:
            raise ValueError(f"A series needs at least one occurrence, not {self.count}.")
        if self.until is not None and self.count is not None:
            # RFC 5545 forbids both, and dateutil deprecates it (a warning we turn into an error).
            raise ValueError("A series can end on a date or after a number of times, not both.")
        if self.kind == "once" and (self.until is not None or self.count is not None):
            raise ValueError("A one-off task cannot have an end date or a count.")


# --- rules ------------------------------------------------------------------------------------


def recurrence_to_rule(rec: Recurrence) -> str | None:
    """Return the stored RRULE text for ``rec``, or None for a one-off."""
    if rec.kind == "once":
        return None
    parts: list[str]
    if rec.kind == "weekly":
        parts = ["FREQ=WEEKLY", "BYDAY=" + ",".join(_RRULE_DAYS[d] for d in rec.weekdays)]
    else:
        parts = ["FREQ=DAILY"]
        if rec.interval_days > 1:
            parts.append(f"INTERVAL={rec.interval_days}")
    if rec.until is not None:
        parts.append(f"UNTIL={rec.until:%Y%m%d}")
    if rec.count is not None:
        parts.append(f"COUNT={rec.count}")
    return ";".join(parts)


def rule_to_recurrence(rule: str | None) -> Recurrence:
    """Read a stored or pasted RRULE; None or blank means a one-off.

    Accepts the parts FREQ (DAILY or WEEKLY), INTERVAL (daily only), BYDAY (weekly only, plain
    days), UNTIL (a date, YYYYMMDD) and COUNT, in any order and case, optionally after "RRULE:".
    """
    if rule is None or not rule.strip():
        return Recurrence("once")
    text = rule.strip().upper()
    text = text.removeprefix("RRULE:")
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f'"{part}" in rule "{rule}" is not a NAME=VALUE pair.')
        if name not in ("FREQ", "INTERVAL", "BYDAY", "UNTIL", "COUNT"):
            raise ValueError(
                f'{name} in rule "{rule}" is not supported; '
                "only FREQ, INTERVAL, BYDAY, UNTIL and COUNT are."
            )
        if name in fields:
            raise ValueError(f'{name} appears twice in rule "{rule}".')
        fields[name] = value

    freq = fields.get("FREQ")
    if freq is None:
        raise ValueError(f'Rule "{rule}" has no FREQ; start it with FREQ=DAILY or FREQ=WEEKLY.')
    if freq not in ("DAILY", "WEEKLY"):
        raise ValueError(
            f"FREQ={freq} is not supported; a task repeats daily, every N days (FREQ=DAILY) "
            "or on chosen weekdays (FREQ=WEEKLY)."
        )
    interval = _rule_int(fields, "INTERVAL", rule) or 1
    count = _rule_int(fields, "COUNT", rule)
    until = _rule_until(fields["UNTIL"], rule) if "UNTIL" in fields else None

    if freq == "WEEKLY":
        if interval != 1:
            raise ValueError(
                f'Rule "{rule}": a weekly rule repeats every week; INTERVAL is not supported.'
            )
        if "BYDAY" not in fields:
            raise ValueError(
                f'Rule "{rule}": a weekly rule needs BYDAY, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR.'
            )
        return Recurrence(
            "weekly", weekdays=_rule_days(fields["BYDAY"], rule), until=until, count=count
        )
    if "BYDAY" in fields:
        raise ValueError(f'Rule "{rule}": BYDAY needs FREQ=WEEKLY.')
    if interval == 1:
        return Recurrence("daily", until=until, count=count)
    return Recurrence("interval", interval_days=interval, until=until, count=count)


def _rule_int(fields: dict[str, str], name: str, rule: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    # str.isdigit would accept non-ASCII digits that RFC 5545 does not.
    if not _ASCII_INT.fullmatch(value) or int(value) < 1:
        raise ValueError(f'Rule "{rule}": {name} must be a whole number of at least 1.')
    return int(value)


def _rule_until(value: str, rule: str) -> date:
    match = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})", value)
    if match is None:
        raise ValueError(
            f'Rule "{rule}": UNTIL must be a local date written YYYYMMDD, e.g. UNTIL=20261231.'
        )
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise ValueError(f'Rule "{rule}": UNTIL={value} is not a real date.') from None


def _rule_days(value: str, rule: str) -> tuple[int, ...]:
    days: set[int] = set()
    for code in value.split(","):
        code = code.strip()
        if code not in _RRULE_DAYS:
            raise ValueError(
                f'Rule "{rule}": BYDAY takes plain days such as MO,WE,FR, not "{code}".'
            )
        days.add(_RRULE_DAYS.index(code))
    return tuple(sorted(days))


def parse_rule(rule: str | None) -> str | None:
    """Validate a rule and return its normalised stored form (None for a one-off)."""
    return recurrence_to_rule(rule_to_recurrence(rule))


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


def parse_recurrence_text(text: str) -> str | None:
    """Read a friendly recurrence ("daily", "mon,wed,fri x5", ...) and return the stored rule."""
    original = text
    text = " ".join(text.split()).lower()
    if text.startswith(("freq=", "rrule:")):
        return parse_rule(original.strip())
    match = re.fullmatch(
        r"(?P<base>.+?)(?: until (?P<until>\S+)| x ?(?P<x>[0-9]+)| (?P<times>[0-9]+) times?)?",
        text,
    )
    if match is None:
        raise ValueError(f'Could not read "{original}" as a repeat. {RECURRENCE_HINT}')
    base = match["base"]
    until = _parse_iso_date(match["until"], what="until") if match["until"] else None
    count_text = match["x"] or match["times"]
    count = int(count_text) if count_text else None
    if base == "once":
        if until is not None or count is not None:
            raise ValueError(
                f'"{original}": a one-off task has no end date or count; '
                "drop the ending or pick a repeat."
            )
        return None
    rec = _base_recurrence(base, until, count)
    if rec is None:
        raise ValueError(f'Could not read "{original}" as a repeat. {RECURRENCE_HINT}')
    return recurrence_to_rule(rec)


def _base_recurrence(base: str, until: date | None, count: int | None) -> Recurrence | None:
    if base in ("daily", "every day"):
        return Recurrence("daily", until=until, count=count)
    if base in ("weekdays", "every weekday"):
        return Recurrence("weekly", weekdays=_MON_TO_FRI, until=until, count=count)
    every = re.fullmatch(r"every ([0-9]+) days?", base)
    if every is not None:
        n = int(every[1])
        if n == 1:
            return Recurrence("daily", until=until, count=count)
        return Recurrence("interval", interval_days=n, until=until, count=count)
    tokens = [t for t in re.split(r",|\s+and\s+|\s+", base.removeprefix("every ")) if t]
    if tokens and all(t in _DAY_BY_NAME for t in tokens):
        days = tuple(sorted({_DAY_BY_NAME[t] for t in tokens}))
        return Recurrence("weekly", weekdays=days, until=until, count=count)
    return None


# --- instants -------------------------------------------------------------------------------


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Turn a local wall-clock time into a UTC instant: the one place this happens.

    DST policy, both cases resolved with fold=0 (the offset in force before the change):

    - A time in the spring-forward gap does not exist; it moves forward by the length of the gap,
      to the instant a clock nobody changed would show it. 01:30 on 29 Mar 2026 in London becomes
      01:30 UTC, which London calls 02:30 BST.
    - A time in the fall-back overlap happens twice; it means the first one, in summer time.
      01:30 on 25 Oct 2026 in London becomes 00:30 UTC (01:30 BST), not 01:30 UTC (01:30 GMT).

    ``at`` must be naive; any fold it carries is ignored so the policy holds.
    """
    if at.tzinfo is not None:
        raise ValueError("local_to_utc takes a naive wall-clock time; the zone says where.")
    return datetime.combine(day, at.replace(fold=0), tzinfo=zone).astimezone(UTC)


def occurrences(
    start_day: date,
    at: time,
    rule: str | None,
    zone: ZoneInfo,
    *,
    after: datetime,
    until: datetime,
) -> list[datetime]:
    """Return the series' due instants (UTC, ascending) in ``(after, until]``, at most 1000.

    COUNT counts from ``start_day``, so occurrences before ``after`` still use it up.
    """
    _require_aware(after, "after")
    _require_aware(until, "until")
    due: list[datetime] = []
    if until <= after:
        return due
    for instant in _instants_from(start_day, at, rule_to_recurrence(rule), zone, after):
        if instant > until:
            break
        if instant > after:
            due.append(instant)
            if len(due) >= MAX_OCCURRENCES:
                break
    return due


def next_due(
    start_day: date, at: time, rule: str | None, zone: ZoneInfo, now: datetime
) -> datetime | None:
    """Return the series' first due instant after ``now``, or None once the series is over."""
    _require_aware(now, "now")
    for instant in _instants_from(start_day, at, rule_to_recurrence(rule), zone, now):
        if instant > now:
            return instant
    return None


def _instants_from(
    start_day: date, at: time, rec: Recurrence, zone: ZoneInfo, near: datetime
) -> Iterator[datetime]:
    """Yield the series' instants in strictly ascending order, from shortly before ``near``.

    The rule is expanded over naive local wall-clock datetimes, so 11:00 stays 11:00 local
    across DST, and each occurrence becomes an instant through local_to_utc.
    """
    if at.tzinfo is not None:
        raise ValueError("A due time of day is naive wall-clock time; the zone says where.")
    series = _local_series(start_day, at, rec, (near - _ZONE_SLACK).astimezone(zone).date())
    if series is None:
        return
    last: datetime | None = None
    for local in series:
        instant = local_to_utc(local.date(), local.time(), zone)
        # Where a zone skips a whole day, two local days can land on one instant; one
        # delivery per instant is what the database allows.
        if last is None or instant > last:
            last = instant
            yield instant


def _local_series(start_day: date, at: time, rec: Recurrence, from_day: date) -> rrule | None:
    """Build the rule over naive local datetimes, skipping whole periods before ``from_day``.

    Without the skip, rrule walks every occurrence since the start: about 8 ms for a daily
    series begun ten years ago, on every call of the due scan. A period (N days, or a week
    holding each weekday once) always holds the same number of occurrences, so moving the start
    forward by whole periods and lowering COUNT by what was skipped leaves the series unchanged.
    """
    if rec.kind == "weekly":
        period, per_period = 7, len(rec.weekdays)
    elif rec.kind == "once":
        period, per_period = 0, 0
    else:
        period, per_period = rec.interval_days, 1
    count = 1 if rec.kind == "once" else rec.count
    if period and from_day > start_day:
        skipped = (from_day - start_day).days // period
        start_day += timedelta(days=skipped * period)
        if count is not None:
            count -= skipped * per_period
            if count < 1:
                return None
    by_weekday: list[weekday] | None = None
    if rec.kind == "weekly":
        by_weekday = [weekdays[d] for d in rec.weekdays]
    return rrule(
        WEEKLY if rec.kind == "weekly" else DAILY,
        # combine() keeps the wall-clock time naive on purpose: rrule steps local days.
        dtstart=datetime.combine(start_day, at.replace(fold=0)),
        interval=rec.interval_days,
        byweekday=by_weekday,
        count=count,
        until=datetime.combine(rec.until, time.max) if rec.until is not None else None,
    )


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value}.")


# --- entry by people ------------------------------------------------------------------------


def parse_when(text: str, today: date) -> tuple[date, time]:
    """Read a due date and time typed by a therapist or written in a seed file.

    Accepts "2026-12-01 10:00", "2026-12-01T10:00", "today 11:00", "tomorrow 10:00",
    "+3d 9:30", "mon 09:30" or "monday 9:30" (the next such day, today included), and "10:00"
    alone for today.
    """
    original = text
    text = " ".join(text.split()).lower()
    text = re.sub(r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})t", r"\1 ", text)
    day_text, _, clock_text = text.rpartition(" ")
    if ":" not in clock_text:
        raise ValueError(f'Could not read "{original}" as a due time. {WHEN_HINT}')
    at = parse_clock_time(clock_text)
    if not day_text or day_text == "today":
        return today, at
    if day_text == "tomorrow":
        return today + timedelta(days=1), at
    ahead = re.fullmatch(r"\+ ?([0-9]+) ?d(?:ays?)?", day_text)
    if ahead is not None:
        try:
            return today + timedelta(days=int(ahead[1])), at
        except OverflowError:
            raise ValueError(f'"{original}" is too far ahead. {WHEN_HINT}') from None
    if day_text in _DAY_BY_NAME:
        return today + timedelta(days=(_DAY_BY_NAME[day_text] - today.weekday()) % 7), at
    if re.fullmatch(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", day_text):
        return _parse_iso_date(day_text, what="date"), at
    raise ValueError(f'Could not read "{original}" as a due time. {WHEN_HINT}')


def _parse_iso_date(text: str, *, what: str) -> date:
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", text)
    if match is None:
        raise ValueError(f'The {what} "{text}" should be written YYYY-MM-DD, e.g. 2026-12-31.')
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise ValueError(f'The {what} "{text}" is not a real date.') from None


def parse_clock_time(text: str) -> time:
    """Read a 24-hour clock time such as "9:30", "09:30" or "21:00"."""
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text.strip())
    if match is None:
        raise ValueError(f'"{text.strip()}" is not a time. {CLOCK_HINT}')
    hour, minute = int(match[1]), int(match[2])
    if hour > 23:
        raise ValueError(f'"{text.strip()}": the hour must be 0 to 23, not {hour}. {CLOCK_HINT}')
    if minute > 59:
        raise ValueError(
            f'"{text.strip()}": the minute must be 00 to 59, not {minute}. {CLOCK_HINT}'
        )
    return time(hour, minute)


# --- quiet hours ----------------------------------------------------------------------------


def is_quiet(local_time: time, start: time | None, end: time | None) -> bool:
    """Whether ``local_time`` falls in quiet hours [start, end), which may wrap midnight.

    None/None means no quiet hours, and so does start == end: an empty window is safer than
    one that silences every prompt.
    """
    if start is None and end is None:
        return False
    if start is None or end is None:
        raise ValueError("Quiet hours need both a start and an end, or neither.")
    t = local_time.replace(tzinfo=None, fold=0)
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def end_of_quiet(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """Return the UTC instant the quiet hours around ``now`` end in ``zone``, or ``now``."""
    _require_aware(now, "now")
    local = now.astimezone(zone)
    if not is_quiet(local.time(), start, end):
        return now
    end_day = local.date()
    if start > end and local.time() >= start:
        end_day += timedelta(days=1)
    ends = local_to_utc(end_day, end, zone)
    if ends <= now:
        # Only in the second pass of a fall-back overlap: the first "end" already went by,
        # and the quiet hours really end when the clock shows it again.
        ends = datetime.combine(end_day, end.replace(fold=1), tzinfo=zone).astimezone(UTC)
    return max(ends, now)
