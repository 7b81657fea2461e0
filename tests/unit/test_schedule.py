"""Due times: recurrence, DST, friendly entry and quiet hours."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from bot.services.schedule import (
    MAX_OCCURRENCES,
    WEEKDAY_NAMES,
    Recurrence,
    ScheduleError,
    end_of_quiet,
    is_quiet,
    local_to_utc,
    next_due,
    occurrences,
    parse_clock_time,
    parse_recurrence_text,
    parse_rule,
    parse_when,
    recurrence_to_rule,
    rule_to_recurrence,
    window_end,
)
from bot.texts import describe_rule
from tests.fakes.words import error_words, raises_saying

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = date(2026, 12, 2)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local_times(instants: list[datetime], zone: ZoneInfo) -> list[str]:
    return [i.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for i in instants]


def walk_from_start(start: date, at: time, rule: str, zone: ZoneInfo, to: date) -> list[datetime]:
    """Every instant of the series up to ``to``, walked from its start with plain rrulestr."""
    series = rrulestr(rule, dtstart=datetime.combine(start, at))
    return [
        datetime.combine(local.date(), local.time(), tzinfo=zone).astimezone(UTC)
        for local in series.between(
            datetime.combine(start, at), datetime.combine(to, at), inc=True
        )
    ]


# --- DST: a series keeps its local wall-clock time ------------------------------------------


def test_daily_eleven_oclock_stays_eleven_local_across_london_spring_change() -> None:
    due = occurrences(
        date(2026, 3, 27),
        time(11),
        "FREQ=DAILY",
        LONDON,
        after=utc(2026, 3, 1),
        until=utc(2026, 4, 1),
    )

    assert due == [
        utc(2026, 3, 27, 11),
        utc(2026, 3, 28, 11),
        utc(2026, 3, 29, 10),
        utc(2026, 3, 30, 10),
        utc(2026, 3, 31, 10),
    ]
    assert {i.astimezone(LONDON).time() for i in due} == {time(11)}


def test_daily_eleven_oclock_stays_eleven_local_across_london_autumn_change() -> None:
    due = occurrences(
        date(2026, 10, 23),
        time(11),
        "FREQ=DAILY",
        LONDON,
        after=utc(2026, 10, 1),
        until=utc(2026, 10, 27),
    )

    assert local_times(due, LONDON) == [
        "2026-10-23 11:00 BST",
        "2026-10-24 11:00 BST",
        "2026-10-25 11:00 GMT",
        "2026-10-26 11:00 GMT",
    ]
    assert [i.hour for i in due] == [10, 10, 11, 11]


@pytest.mark.parametrize(
    ("start", "expected_utc_hours"),
    [
        pytest.param(date(2026, 3, 7), [14, 13, 13], id="spring 2026-03-08"),
        pytest.param(date(2026, 10, 31), [13, 14, 14], id="autumn 2026-11-01"),
    ],
)
def test_nine_oclock_weekly_rule_stays_nine_local_across_new_york_changes(
    start: date, expected_utc_hours: list[int]
) -> None:
    rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=3"

    due = occurrences(
        start, time(9), rule, NEW_YORK, after=utc(2026, 1, 1), until=utc(2026, 12, 31)
    )

    assert [i.hour for i in due] == expected_utc_hours
    assert {i.astimezone(NEW_YORK).time() for i in due} == {time(9)}


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc", "clock_shows"),
    [
        (LONDON, date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30), "02:30 BST"),
        (NEW_YORK, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), "03:30 EDT"),
    ],
)
def test_a_wall_time_in_the_spring_gap_moves_forward_by_the_gap(
    zone: ZoneInfo, day: date, wall: time, expected_utc: datetime, clock_shows: str
) -> None:
    instant = local_to_utc(day, wall, zone)

    assert instant == expected_utc
    assert instant.tzinfo is UTC
    # Round trip: the missing wall time comes back one gap-length later.
    assert instant.astimezone(zone).strftime("%H:%M %Z") == clock_shows


@pytest.mark.parametrize(
    ("zone", "day", "wall", "first", "second"),
    [
        (
            LONDON,
            date(2026, 10, 25),
            time(1, 30),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 1, 30),
        ),
        (
            NEW_YORK,
            date(2026, 11, 1),
            time(1, 30),
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6, 30),
        ),
    ],
)
def test_a_wall_time_that_happens_twice_means_the_first_summer_time_one(
    zone: ZoneInfo, day: date, wall: time, first: datetime, second: datetime
) -> None:
    assert local_to_utc(day, wall, zone) == first
    assert local_to_utc(day, wall.replace(fold=1), zone) == first
    # Both instants really do show the same wall time, so the choice was a real one.
    assert first.astimezone(zone).time() == second.astimezone(zone).time() == wall


def test_local_to_utc_refuses_a_time_that_already_has_a_zone() -> None:
    with pytest.raises(ValueError, match="naive wall-clock"):
        local_to_utc(date(2026, 1, 1), time(9, tzinfo=UTC), LONDON)


def test_daily_series_in_the_spring_gap_is_due_once_that_day_at_the_shifted_time() -> None:
    due = occurrences(
        date(2026, 3, 28),
        time(1, 30),
        "FREQ=DAILY;COUNT=3",
        LONDON,
        after=utc(2026, 3, 1),
        until=utc(2026, 4, 1),
    )

    assert local_times(due, LONDON) == [
        "2026-03-28 01:30 GMT",
        "2026-03-29 02:30 BST",
        "2026-03-30 01:30 BST",
    ]


def test_daily_series_in_the_autumn_overlap_is_due_once_that_day_at_the_first_one() -> None:
    due = occurrences(
        date(2026, 10, 24),
        time(1, 30),
        "FREQ=DAILY;COUNT=3",
        LONDON,
        after=utc(2026, 10, 1),
        until=utc(2026, 11, 1),
    )

    assert due == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_a_zone_that_skips_a_whole_day_never_gives_two_occurrences_one_instant() -> None:
    # Samoa jumped from 29 Dec 2011 straight to 31 Dec 2011.
    apia = ZoneInfo("Pacific/Apia")

    due = occurrences(
        date(2011, 12, 29),
        time(11),
        "FREQ=DAILY;COUNT=4",
        apia,
        after=utc(2011, 12, 1),
        until=utc(2012, 2, 1),
    )

    assert due == sorted(set(due))
    assert len(due) == 3


# --- kinds of series --------------------------------------------------------------------------


def test_a_one_off_task_is_due_once_and_then_the_series_is_over() -> None:
    start, at = date(2026, 6, 1), time(10)

    assert occurrences(start, at, None, LONDON, after=utc(2026, 1, 1), until=utc(2027, 1, 1)) == [
        utc(2026, 6, 1, 9)
    ]
    assert next_due(start, at, None, LONDON, utc(2026, 5, 1)) == utc(2026, 6, 1, 9)
    assert next_due(start, at, None, LONDON, utc(2026, 6, 1, 9)) is None


def test_daily_until_includes_the_until_date_itself() -> None:
    due = occurrences(
        date(2026, 6, 1),
        time(23, 30),
        "FREQ=DAILY;UNTIL=20260603",
        LONDON,
        after=utc(2026, 1, 1),
        until=utc(2027, 1, 1),
    )

    assert local_times(due, LONDON) == [
        "2026-06-01 23:30 BST",
        "2026-06-02 23:30 BST",
        "2026-06-03 23:30 BST",
    ]


def test_weekly_on_chosen_days_until_a_date() -> None:
    due = occurrences(
        date(2026, 11, 30),
        time(10),
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20261211",
        LONDON,
        after=utc(2026, 1, 1),
        until=utc(2027, 1, 1),
    )

    assert [i.date() for i in due] == [
        date(2026, 11, 30),
        date(2026, 12, 2),
        date(2026, 12, 4),
        date(2026, 12, 7),
        date(2026, 12, 9),
        date(2026, 12, 11),
    ]


def test_weekly_series_starting_on_an_unlisted_day_begins_on_the_next_listed_day() -> None:
    due = occurrences(
        date(2026, 12, 1),
        time(10),
        "FREQ=WEEKLY;BYDAY=MO,FR;COUNT=3",
        LONDON,
        after=utc(2026, 1, 1),
        until=utc(2027, 1, 1),
    )

    assert [i.date() for i in due] == [date(2026, 12, 4), date(2026, 12, 7), date(2026, 12, 11)]


def test_every_three_days_five_times() -> None:
    due = occurrences(
        date(2026, 6, 1),
        time(8),
        "FREQ=DAILY;INTERVAL=3;COUNT=5",
        LONDON,
        after=utc(2026, 1, 1),
        until=utc(2027, 1, 1),
    )

    assert [i.day for i in due] == [1, 4, 7, 10, 13]


def test_every_two_days_until_a_date() -> None:
    due = occurrences(
        date(2026, 6, 1),
        time(8),
        "FREQ=DAILY;INTERVAL=2;UNTIL=20260608",
        LONDON,
        after=utc(2026, 1, 1),
        until=utc(2027, 1, 1),
    )

    assert [i.day for i in due] == [1, 3, 5, 7]


def test_a_patient_joining_mid_series_gets_only_the_occurrences_still_ahead() -> None:
    joined = utc(2026, 6, 5, 12)

    due = occurrences(
        date(2026, 6, 1), time(10), "FREQ=DAILY", LONDON, after=joined, until=utc(2026, 6, 8, 23)
    )

    assert [i.day for i in due] == [6, 7, 8]


def test_count_is_used_up_by_occurrences_before_a_patient_joined() -> None:
    due = occurrences(
        date(2026, 6, 1),
        time(10),
        "FREQ=DAILY;COUNT=10",
        LONDON,
        after=utc(2026, 6, 5, 12),
        until=utc(2027, 1, 1),
    )

    assert [i.day for i in due] == [6, 7, 8, 9, 10]


def test_the_window_excludes_after_and_includes_until() -> None:
    due = occurrences(
        date(2026, 1, 5),
        time(9),
        "FREQ=DAILY",
        LONDON,
        after=utc(2026, 1, 5, 9),
        until=utc(2026, 1, 7, 9),
    )

    assert due == [utc(2026, 1, 6, 9), utc(2026, 1, 7, 9)]


def test_an_empty_or_backwards_window_has_no_occurrences() -> None:
    start, at = date(2026, 1, 5), time(9)

    assert (
        occurrences(start, at, "FREQ=DAILY", LONDON, after=utc(2026, 2, 1), until=utc(2026, 2, 1))
        == []
    )
    assert (
        occurrences(start, at, "FREQ=DAILY", LONDON, after=utc(2026, 2, 2), until=utc(2026, 2, 1))
        == []
    )


def test_occurrences_are_capped_at_a_thousand() -> None:
    due = occurrences(
        date(2020, 1, 1),
        time(9),
        "FREQ=DAILY",
        LONDON,
        after=utc(2019, 1, 1),
        until=utc(2030, 1, 1),
    )

    assert len(due) == MAX_OCCURRENCES == 1000
    assert due[0] == utc(2020, 1, 1, 9)
    assert due == sorted(due)


def test_occurrences_refuse_a_naive_window() -> None:
    with pytest.raises(ValueError, match="after must be a timezone-aware"):
        occurrences(
            date(2026, 1, 1),
            time(9),
            None,
            LONDON,
            after=datetime(2026, 1, 1),
            until=utc(2026, 2, 1),
        )


# --- next_due -----------------------------------------------------------------------------------


def test_next_due_of_a_daily_series_started_years_ago_is_the_next_local_eleven() -> None:
    assert next_due(date(2000, 1, 1), time(11), "FREQ=DAILY", LONDON, utc(2026, 7, 1, 10, 30)) == (
        utc(2026, 7, 2, 10)
    )


def test_next_due_of_a_daily_series_started_centuries_ago_does_not_walk_the_whole_series() -> None:
    # Walking ~740,000 occurrences from year 1 would take seconds; skipping periods is instant.
    assert next_due(date(1, 1, 1), time(11), "FREQ=DAILY", LONDON, utc(2026, 1, 10, 12)) == (
        utc(2026, 1, 11, 11)
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=DAILY;COUNT=400",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;INTERVAL=7;COUNT=60",
        "FREQ=WEEKLY;BYDAY=TU",
        "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=100",
        "FREQ=WEEKLY;BYDAY=SA,SU;COUNT=7",
    ],
)
@pytest.mark.parametrize("zone", [LONDON, NEW_YORK], ids=["london", "new_york"])
def test_next_due_and_occurrences_agree_with_walking_the_series_from_its_start(
    rule: str, zone: ZoneInfo
) -> None:
    start, at = date(2025, 3, 5), time(1, 30)
    walked = walk_from_start(start, at, rule, zone, date(2027, 2, 1))
    now = utc(2025, 3, 1)
    while now < utc(2027, 1, 1):
        later = [i for i in walked if i > now]
        assert next_due(start, at, rule, zone, now) == (later[0] if later else None)
        window_end = now + timedelta(days=10)
        assert occurrences(start, at, rule, zone, after=now, until=window_end) == [
            i for i in later if i <= window_end
        ]
        now += timedelta(days=3, hours=5)


@pytest.mark.parametrize(
    ("rule", "now"),
    [
        pytest.param("FREQ=DAILY;UNTIL=20260110", utc(2026, 1, 10, 9), id="until passed"),
        pytest.param("FREQ=DAILY;COUNT=5", utc(2026, 1, 5, 9), id="count used up"),
        pytest.param("FREQ=WEEKLY;BYDAY=MO;COUNT=2", utc(2030, 1, 1), id="long finished"),
    ],
)
def test_next_due_of_a_finished_series_is_none(rule: str, now: datetime) -> None:
    assert next_due(date(2026, 1, 1), time(9), rule, LONDON, now) is None


def test_next_due_before_the_series_starts_is_its_first_occurrence() -> None:
    assert next_due(date(2026, 12, 2), time(9), "FREQ=DAILY", LONDON, utc(2026, 1, 1)) == (
        utc(2026, 12, 2, 9)
    )


# --- rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "rule"),
    [
        (Recurrence("once"), None),
        (Recurrence("daily"), "FREQ=DAILY"),
        (Recurrence("interval", interval_days=3, count=5), "FREQ=DAILY;INTERVAL=3;COUNT=5"),
        (
            Recurrence("weekly", weekdays=(0, 2, 4), until=date(2026, 12, 31)),
            "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20261231",
        ),
        (Recurrence("weekly", weekdays=(6,), count=1), "FREQ=WEEKLY;BYDAY=SU;COUNT=1"),
        (Recurrence("daily", until=date(2027, 1, 31)), "FREQ=DAILY;UNTIL=20270131"),
    ],
)
def test_recurrences_and_rules_round_trip(rec: Recurrence, rule: str | None) -> None:
    assert recurrence_to_rule(rec) == rule
    assert rule_to_recurrence(rule) == rec
    assert parse_rule(rule) == rule


def test_an_every_one_day_interval_is_stored_as_plain_daily() -> None:
    assert recurrence_to_rule(Recurrence("interval", interval_days=1)) == "FREQ=DAILY"


@pytest.mark.parametrize(
    ("messy", "normal"),
    [
        ("freq=daily", "FREQ=DAILY"),
        (" RRULE:FREQ=DAILY;INTERVAL=1 ", "FREQ=DAILY"),
        ("COUNT=5;INTERVAL=2;FREQ=DAILY", "FREQ=DAILY;INTERVAL=2;COUNT=5"),
        ("FREQ=WEEKLY;BYDAY=FR,MO,FR", "FREQ=WEEKLY;BYDAY=MO,FR"),
        ("FREQ=WEEKLY; BYDAY=MO;", "FREQ=WEEKLY;BYDAY=MO"),
        ("", None),
    ],
)
def test_parse_rule_normalises_what_it_accepts(messy: str, normal: str | None) -> None:
    assert parse_rule(messy) == normal


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=MONTHLY", "FREQ=MONTHLY is not supported"),
        ("INTERVAL=2", "has no FREQ"),
        ("FREQ=DAILY;BYDAY=MO", "BYDAY needs FREQ=WEEKLY"),
        ("FREQ=WEEKLY", "needs BYDAY, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR"),
        ("FREQ=WEEKLY;BYDAY=1MO", 'plain days such as MO,WE,FR, not "1MO"'),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "INTERVAL is not supported"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number of at least 1"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;INTERVAL=400", "between 1 and 365 days"),
        ("FREQ=DAILY;UNTIL=20261231T235959Z", "UNTIL must be a local date written YYYYMMDD"),
        ("FREQ=DAILY;UNTIL=20260230", "UNTIL=20260230 is not a real date"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20261231", "not both"),
        ("FREQ=DAILY;WKST=MO", "WKST"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ appears twice"),
        ("every day", "not a NAME=VALUE pair"),
    ],
)
def test_parse_rule_explains_what_is_wrong(rule: str, message: str) -> None:
    with raises_saying(ScheduleError, re.escape(message)):
        parse_rule(rule)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "weekly"}, "at least one weekday"),
        ({"kind": "weekly", "weekdays": (4, 0)}, "sorted"),
        ({"kind": "weekly", "weekdays": (7,)}, "0 (Monday) to 6 (Sunday)"),
        ({"kind": "daily", "weekdays": (0,)}, "Only a weekly"),
        ({"kind": "daily", "interval_days": 2}, 'Only an "interval"'),
        ({"kind": "interval", "interval_days": 0}, "between 1 and 365"),
        ({"kind": "once", "count": 3}, "one-off"),
        ({"kind": "daily", "count": 0}, "at least one occurrence"),
        ({"kind": "monthly"}, "Unknown recurrence kind"),
    ],
)
def test_an_impossible_recurrence_cannot_be_built(kwargs: dict[str, object], message: str) -> None:
    with raises_saying(ScheduleError, re.escape(message)):
        Recurrence(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (None, "once"),
        ("FREQ=DAILY", "every day"),
        ("FREQ=DAILY;INTERVAL=3;COUNT=5", "every 3 days, 5 times"),
        ("FREQ=DAILY;COUNT=1", "every day, 1 time"),
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20261231", "every Mon, Wed and Fri until 31 Dec 2026"),
        ("FREQ=WEEKLY;BYDAY=TU", "every Tue"),
        ("FREQ=WEEKLY;BYDAY=SA,SU;COUNT=4", "every Sat and Sun, 4 times"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday"),
        ("FREQ=DAILY;INTERVAL=2;UNTIL=20270105", "every 2 days until 5 Jan 2027"),
    ],
)
def test_describe_rule_reads_naturally(rule: str | None, text: str) -> None:
    assert describe_rule(rule) == text


# --- friendly recurrence text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("once", None),
        ("ONCE", None),
        ("daily", "FREQ=DAILY"),
        ("every day", "FREQ=DAILY"),
        ("weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("mon,wed,fri", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
        ("Fri, Mon", "FREQ=WEEKLY;BYDAY=MO,FR"),
        ("monday and thursday", "FREQ=WEEKLY;BYDAY=MO,TH"),
        ("sun", "FREQ=WEEKLY;BYDAY=SU"),
        ("every 2 days", "FREQ=DAILY;INTERVAL=2"),
        ("every 1 day", "FREQ=DAILY"),
        ("daily until 2026-12-31", "FREQ=DAILY;UNTIL=20261231"),
        ("  Weekdays   UNTIL 2026-12-31 ", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20261231"),
        ("mon,wed,fri x5", "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=5"),
        ("every 3 days X 5", "FREQ=DAILY;INTERVAL=3;COUNT=5"),
        ("daily 5 times", "FREQ=DAILY;COUNT=5"),
        ("tue 1 time", "FREQ=WEEKLY;BYDAY=TU;COUNT=1"),
        ("FREQ=DAILY;INTERVAL=2", "FREQ=DAILY;INTERVAL=2"),
        ("rrule:freq=weekly;byday=we", "FREQ=WEEKLY;BYDAY=WE"),
    ],
)
def test_parse_recurrence_text_accepts_every_friendly_form(text: str, rule: str | None) -> None:
    assert parse_recurrence_text(text) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fortnightly", "Use one of: once, daily, weekdays, mon,wed,fri, every 2 days"),
        ("", "Use one of:"),
        ("mon,funday", "Use one of:"),
        ("weekly", "Use one of:"),
        ("daily until 31/12/2026", 'The until "31/12/2026" should be written YYYY-MM-DD'),
        ("daily until 2026-02-30", "is not a real date"),
        ("once x3", "a one-off task has no end date or count"),
        ("daily x0", "at least one occurrence"),
        ("every 0 days", "between 1 and 365"),
        ("FREQ=YEARLY", "FREQ=YEARLY is not supported"),
    ],
)
def test_parse_recurrence_text_says_what_it_accepts_when_it_cannot_read_the_input(
    text: str, message: str
) -> None:
    with raises_saying(ScheduleError, re.escape(message)):
        parse_recurrence_text(text)


def test_the_recurrence_hint_names_the_end_forms_too() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_recurrence_text("sometimes")

    said = error_words(caught.value)
    assert "until 2026-12-31" in said
    assert '"x5"' in said
    assert "FREQ=" in said


# --- parse_when -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 10:00", (date(2026, 12, 1), time(10))),
        ("2026-12-01T10:00", (date(2026, 12, 1), time(10))),
        ("2026-12-01t10:00", (date(2026, 12, 1), time(10))),
        ("today 11:00", (WEDNESDAY, time(11))),
        ("  TODAY   11:00 ", (WEDNESDAY, time(11))),
        ("tomorrow 10:00", (date(2026, 12, 3), time(10))),
        ("+1d 12:00", (date(2026, 12, 3), time(12))),
        ("+3d 9:30", (date(2026, 12, 5), time(9, 30))),
        ("+30 days 9:30", (date(2027, 1, 1), time(9, 30))),
        ("+0d 18:00", (WEDNESDAY, time(18))),
        ("mon 09:30", (date(2026, 12, 7), time(9, 30))),
        ("Monday 9:30", (date(2026, 12, 7), time(9, 30))),
        ("wed 9:30", (WEDNESDAY, time(9, 30))),
        ("thursday 07:00", (date(2026, 12, 3), time(7))),
        ("tue 20:15", (date(2026, 12, 8), time(20, 15))),
        ("10:00", (WEDNESDAY, time(10))),
    ],
)
def test_parse_when_accepts_every_documented_form(text: str, expected: tuple[date, time]) -> None:
    assert parse_when(text, WEDNESDAY) == expected


def test_every_weekday_name_is_understood_by_parse_when() -> None:
    days = [parse_when(f"{name} 9:00", WEDNESDAY)[0] for name in WEEKDAY_NAMES]

    assert [d.weekday() for d in days] == list(range(7))
    assert all(WEDNESDAY <= d < WEDNESDAY + timedelta(days=7) for d in days)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00", "the hour must be 0 to 23, not 25"),
        ("today 25:00", "the hour must be 0 to 23, not 25"),
        ("2026-12-01 10:60", "the minute must be 00 to 59, not 60"),
        ("tomorrow 9.30", "Use one of: 2026-12-01 10:00"),
        ("tomorrow", "Use one of: 2026-12-01 10:00, 2026-12-01T10:00, today 11:00"),
        ("next week 10:00", "mon 09:30"),
        ("", "Use one of:"),
        ("2026-02-30 10:00", 'The date "2026-02-30" is not a real date'),
        ("01/12/2026 10:00", "Use one of:"),
        ("today 9:5", "Use HH:MM on the 24-hour clock"),
        ("+99999999999d 10:00", "too far ahead"),
    ],
)
def test_parse_when_explains_what_it_accepts(text: str, message: str) -> None:
    with raises_saying(ScheduleError, re.escape(message)):
        parse_when(text, WEDNESDAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9:30", time(9, 30)), ("09:30", time(9, 30)), ("21:00", time(21)), (" 0:00 ", time(0))],
)
def test_parse_clock_time_reads_the_24_hour_clock(text: str, expected: time) -> None:
    assert parse_clock_time(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("24:00", "the hour must be 0 to 23"),
        ("9:75", "the minute must be 00 to 59"),
        ("9am", "is not a time"),
        ("930", "is not a time"),
        ("9:30:00", "is not a time"),
        ("", "is not a time"),
    ],
)
def test_parse_clock_time_rejects_anything_else(text: str, message: str) -> None:
    with raises_saying(ScheduleError, re.escape(message)):
        parse_clock_time(text)


# --- quiet hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_can_wrap_midnight(local: time, quiet: bool) -> None:
    assert is_quiet(local, time(21), time(8)) is quiet


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(time(12, 59), False), (time(13, 0), True), (time(13, 59), True), (time(14, 0), False)],
)
def test_quiet_hours_within_one_day(local: time, quiet: bool) -> None:
    assert is_quiet(local, time(13), time(14)) is quiet


def test_no_quiet_hours_and_an_empty_window_are_never_quiet() -> None:
    assert is_quiet(time(3), None, None) is False
    assert is_quiet(time(3), time(3), time(3)) is False


def test_half_set_quiet_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="both a start and an end"):
        is_quiet(time(3), time(21), None)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(utc(2026, 7, 1, 21, 30), utc(2026, 7, 2, 7), id="late evening"),
        pytest.param(utc(2026, 7, 1, 3), utc(2026, 7, 1, 7), id="after midnight"),
        pytest.param(utc(2026, 7, 1, 12), utc(2026, 7, 1, 12), id="not quiet"),
        pytest.param(utc(2026, 7, 1, 7), utc(2026, 7, 1, 7), id="exactly at the end"),
    ],
)
def test_end_of_quiet_is_the_next_local_end(now: datetime, expected: datetime) -> None:
    assert end_of_quiet(now, LONDON, time(21), time(8)) == expected


def test_end_of_quiet_follows_the_clock_across_the_spring_change() -> None:
    # 08:00 on 29 Mar 2026 is already BST, an hour earlier in UTC than the night before.
    assert end_of_quiet(utc(2026, 3, 28, 22), LONDON, time(21), time(8)) == utc(2026, 3, 29, 7)


def test_end_of_quiet_in_the_repeated_hour_waits_for_the_second_showing_of_the_end() -> None:
    # 01:15 GMT is the second pass; the 01:30 BST end went by an hour ago.
    now = utc(2026, 10, 25, 1, 15)

    assert end_of_quiet(now, LONDON, time(21), time(1, 30)) == utc(2026, 10, 25, 1, 30)


def test_end_of_quiet_in_new_york_is_a_utc_instant() -> None:
    ends = end_of_quiet(utc(2026, 11, 2, 3), NEW_YORK, time(21), time(8))

    assert ends == utc(2026, 11, 2, 13)
    assert ends.tzinfo is UTC


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("start", "minutes", "end"),
    [
        # A day's window ends at the same local time the next day: 23 hours on the day the
        # clocks go forward (10:00 GMT, then 10:00 BST), 25 on the day they go back.
        (datetime(2026, 3, 28, 10, 0, tzinfo=UTC), 1440, datetime(2026, 3, 29, 9, 0, tzinfo=UTC)),
        (datetime(2026, 10, 24, 9, 0, tzinfo=UTC), 1440, datetime(2026, 10, 25, 10, tzinfo=UTC)),
        (datetime(2026, 3, 27, 10, 0, tzinfo=UTC), 2880, datetime(2026, 3, 29, 9, 0, tzinfo=UTC)),
        # An ordinary day: 24 hours.
        (datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 1440, datetime(2026, 11, 26, 10, tzinfo=UTC)),
        # Anything but whole days is elapsed time, across a change too.
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), 90, datetime(2026, 3, 29, 2, 0, tzinfo=UTC)),
        (datetime(2026, 3, 28, 10, 0, tzinfo=UTC), 1500, datetime(2026, 3, 29, 11, tzinfo=UTC)),
    ],
)
def test_a_window_of_whole_days_ends_at_the_same_local_time(
    start: datetime, minutes: int, end: datetime
) -> None:
    assert window_end(start, minutes, LONDON) == end


def test_a_day_window_of_a_time_the_clocks_skip_ends_as_the_next_one_falls_due() -> None:
    # 01:30 on 29 March 2026 does not exist in London: that check-in falls due at 02:30 BST
    # (01:30 UTC). Its day ends at 01:30 BST on the 30th (00:30 UTC), when the next one is due.
    start = local_to_utc(date(2026, 3, 29), time(1, 30), LONDON)
    assert start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    end = window_end(start, 1440, LONDON, time(1, 30))
    assert end == local_to_utc(date(2026, 3, 30), time(1, 30), LONDON)
    assert end == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
