"""Due times: recurrence rules, therapist-friendly date entry, time zones, DST and quiet hours.

Pure functions only: no I/O and no clock. Whoever needs "now" passes it in.

A series is a local start day, a local wall-clock time and an optional rule. Rules are stored as
an RFC 5545 RRULE without DTSTART, restricted to what :class:`Recurrence` can say, so a stored
rule is always one we can describe, edit and expand. One departure from the RFC: UNTIL is a local
date (UNTIL=20261231) and includes that whole day, whatever the time of day of the series; plain
``rrulestr`` would read it as midnight and drop the last day, so expand rules only through here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import DAILY, WEEKLY, rrule, weekday, weekdays

from bot.frozen import frozen
from bot.services.meaning import Kind, Meaning, meaning

__all__ = [
    "WEEKDAY_NAMES",
    "Recurrence",
    "ScheduleError",
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
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_BY_NAME = {
    name: i for names in (WEEKDAY_NAMES, _FULL_DAY_NAMES) for i, name in enumerate(names)
}
_MON_TO_FRI = (0, 1, 2, 3, 4)

# The largest UTC-offset change a zone has made in one go is a day (Samoa skipped 30 Dec 2011),
# so this much slack when mapping an instant to a local date never misses an occurrence.
_ZONE_SLACK = timedelta(days=2)

_ASCII_INT = re.compile(r"[0-9]+")


class ScheduleError(ValueError):
    """A due time, repeat or rule a person wrote that cannot be used; ``problem`` says why."""

    def __init__(self, problem: Meaning) -> None:
        super().__init__(problem)
        self.problem = problem


@frozen
class Recurrence:
    """How a task repeats; always valid once constructed."""

    kind: Literal["once", "daily", "weekly", "interval"]
    interval_days: int = 1
    weekdays: tuple[int, ...] = ()
    until: date | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("once", "daily", "weekly", "interval"):
            raise ScheduleError(meaning(Kind.SCHEDULE_UNKNOWN_KIND, kind=self.kind))
        if not 1 <= self.interval_days <= MAX_INTERVAL_DAYS:
            raise ScheduleError(
                meaning(
                    Kind.SCHEDULE_INTERVAL_RANGE, most=MAX_INTERVAL_DAYS, days=self.interval_days
                )
            )
        if self.kind != "interval" and self.interval_days != 1:
            raise ScheduleError(meaning(Kind.SCHEDULE_INTERVAL_ONLY))
        if self.kind == "weekly":
            if not self.weekdays:
                raise ScheduleError(meaning(Kind.SCHEDULE_NO_WEEKDAY))
            if any(not 0 <= d <= 6 for d in self.weekdays):
                raise ScheduleError(meaning(Kind.SCHEDULE_WEEKDAY_NUMBERS))
            if list(self.weekdays) != sorted(set(self.weekdays)):
                raise ScheduleError(meaning(Kind.SCHEDULE_WEEKDAY_ORDER))
        elif self.weekdays:
            raise ScheduleError(meaning(Kind.SCHEDULE_WEEKDAYS_ONLY_WEEKLY))
        if self.count is not None and self.count < 1:
            raise ScheduleError(meaning(Kind.SCHEDULE_COUNT_TOO_SMALL, count=self.count))
        if self.until is not None and self.count is not None:
            # RFC 5545 forbids both, and dateutil deprecates it (a warning we turn into an error).
            raise ScheduleError(meaning(Kind.SCHEDULE_UNTIL_AND_COUNT))
        if self.kind == "once" and (self.until is not None or self.count is not None):
            raise ScheduleError(meaning(Kind.SCHEDULE_ONCE_WITH_END))


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
            raise ScheduleError(meaning(Kind.SCHEDULE_RULE_NOT_PAIR, part=part, rule=rule))
        if name not in ("FREQ", "INTERVAL", "BYDAY", "UNTIL", "COUNT"):
            raise ScheduleError(meaning(Kind.SCHEDULE_RULE_UNSUPPORTED_PART, name=name, rule=rule))
        if name in fields:
            raise ScheduleError(meaning(Kind.SCHEDULE_RULE_TWICE, name=name, rule=rule))
        fields[name] = value

    freq = fields.get("FREQ")
    if freq is None:
        raise ScheduleError(meaning(Kind.SCHEDULE_RULE_NO_FREQ, rule=rule))
    if freq not in ("DAILY", "WEEKLY"):
        raise ScheduleError(meaning(Kind.SCHEDULE_RULE_FREQ, freq=freq))
    interval = _rule_int(fields, "INTERVAL", rule) or 1
    count = _rule_int(fields, "COUNT", rule)
    until = _rule_until(fields["UNTIL"], rule) if "UNTIL" in fields else None

    if freq == "WEEKLY":
        if interval != 1:
            raise ScheduleError(meaning(Kind.SCHEDULE_RULE_WEEKLY_INTERVAL, rule=rule))
        if "BYDAY" not in fields:
            raise ScheduleError(meaning(Kind.SCHEDULE_RULE_WEEKLY_BYDAY, rule=rule))
        return Recurrence(
            "weekly", weekdays=_rule_days(fields["BYDAY"], rule), until=until, count=count
        )
    if "BYDAY" in fields:
        raise ScheduleError(meaning(Kind.SCHEDULE_RULE_BYDAY_WEEKLY, rule=rule))
    if interval == 1:
        return Recurrence("daily", until=until, count=count)
    return Recurrence("interval", interval_days=interval, until=until, count=count)


def _rule_int(fields: dict[str, str], name: str, rule: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    # str.isdigit would accept non-ASCII digits that RFC 5545 does not.
    if not _ASCII_INT.fullmatch(value) or int(value) < 1:
        raise ScheduleError(meaning(Kind.SCHEDULE_RULE_NOT_WHOLE, rule=rule, name=name))
    return int(value)


def _rule_until(value: str, rule: str) -> date:
    match = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})", value)
    if match is None:
        raise ScheduleError(meaning(Kind.SCHEDULE_RULE_UNTIL_FORM, rule=rule))
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise ScheduleError(
            meaning(Kind.SCHEDULE_RULE_UNTIL_DATE, rule=rule, value=value)
        ) from None


def _rule_days(value: str, rule: str) -> tuple[int, ...]:
    days: set[int] = set()
    for code in value.split(","):
        code = code.strip()
        if code not in _RRULE_DAYS:
            raise ScheduleError(meaning(Kind.SCHEDULE_RULE_BYDAY_CODE, rule=rule, code=code))
        days.add(_RRULE_DAYS.index(code))
    return tuple(sorted(days))


def parse_rule(rule: str | None) -> str | None:
    """Validate a rule and return its normalised stored form (None for a one-off)."""
    return recurrence_to_rule(rule_to_recurrence(rule))


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
        raise ScheduleError(meaning(Kind.SCHEDULE_UNREADABLE_REPEAT, text=original))
    base = match["base"]
    until = _parse_iso_date(match["until"], what="until") if match["until"] else None
    count_text = match["x"] or match["times"]
    count = int(count_text) if count_text else None
    if base == "once":
        if until is not None or count is not None:
            raise ScheduleError(meaning(Kind.SCHEDULE_ONCE_WITH_ENDING, text=original))
        return None
    rec = _base_recurrence(base, until, count)
    if rec is None:
        raise ScheduleError(meaning(Kind.SCHEDULE_UNREADABLE_REPEAT, text=original))
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


def normalise_zone(text: str) -> str | None:
    """The IANA name meant by ``text`` ("europe/berlin", "Europe/Berlin "), or None."""
    cleaned = "_".join(text.strip().split())
    return _zone_names().get(cleaned.casefold())


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


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


MINUTES_PER_DAY = 24 * 60


def window_end(start: datetime, minutes: int, zone: ZoneInfo, at: time | None = None) -> datetime:
    """When a check-in's time to answer, ``minutes`` from ``start``, is over.

    Whole days are counted on the wall clock of ``zone``: a day's window ends at the same
    local time the next day, as a patient reads "24 hours". Counted in UTC, a daily check-in's
    window ran an hour into the next one on the day the clocks go forward (that day has 23
    hours), so yesterday's was still open when today's came. Any other length is elapsed time
    ("answer within 2 hours" means two hours, also across a change). The end follows
    ``local_to_utc``'s policy for a time the change skips or repeats.

    ``at``: the wall-clock time the window's check-in stands for (a task's due time). A task
    at 01:30 falls due at 02:30 on the day the clocks skip 01:30; its window still ends at
    01:30 the next day, when the next one falls due.
    """
    if minutes <= 0 or minutes % MINUTES_PER_DAY:
        return start + timedelta(minutes=minutes)
    local = start.astimezone(zone)
    later = local.date() + timedelta(days=minutes // MINUTES_PER_DAY)
    return local_to_utc(later, at or local.time(), zone)


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
        raise ScheduleError(meaning(Kind.SCHEDULE_UNREADABLE_WHEN, text=original))
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
            raise ScheduleError(meaning(Kind.SCHEDULE_TOO_FAR_AHEAD, text=original)) from None
    if day_text in _DAY_BY_NAME:
        return today + timedelta(days=(_DAY_BY_NAME[day_text] - today.weekday()) % 7), at
    if re.fullmatch(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", day_text):
        return _parse_iso_date(day_text, what="date"), at
    raise ScheduleError(meaning(Kind.SCHEDULE_UNREADABLE_WHEN, text=original))


def _parse_iso_date(text: str, *, what: str) -> date:
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", text)
    if match is None:
        raise ScheduleError(meaning(Kind.SCHEDULE_DATE_FORM, what=what, text=text))
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise ScheduleError(meaning(Kind.SCHEDULE_NOT_A_DATE, what=what, text=text)) from None


def parse_clock_time(text: str) -> time:
    """Read a 24-hour clock time such as "9:30", "09:30" or "21:00"."""
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text.strip())
    if match is None:
        raise ScheduleError(meaning(Kind.SCHEDULE_NOT_A_TIME, text=text.strip()))
    hour, minute = int(match[1]), int(match[2])
    if hour > 23:
        raise ScheduleError(meaning(Kind.SCHEDULE_BAD_HOUR, text=text.strip(), hour=hour))
    if minute > 59:
        raise ScheduleError(meaning(Kind.SCHEDULE_BAD_MINUTE, text=text.strip(), minute=minute))
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


Quiet = tuple[time | None, time | None]  # (start, end); None, None: none


def after_quiet_hours(at: datetime, zone: ZoneInfo, own: Quiet, clinic: Quiet) -> datetime:
    """When something due ``at`` may reach the patient: then, or once the quiet hours around
    it end in ``zone``. Their ``own`` hours where they set both ends, else the ``clinic``'s."""
    start, end = own if own[0] is not None and own[1] is not None else clinic
    if start is None or end is None or not is_quiet(at.astimezone(zone).time(), start, end):
        return at
    return max(at, end_of_quiet(at, zone, start, end))


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
