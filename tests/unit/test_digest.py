"""When the weekly digest falls due, and how its configuration is checked."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, load_settings
from bot.services.digest import DigestSchedule, GroupDigest, MissedPatient, next_due
from bot.services.progress import GroupHeatmap, Tally
from bot.texts.charts import CAPTION_LIMIT, digest_caption
from bot.texts.language import speaking

LONDON = ZoneInfo("Europe/London")
MONDAY_8 = DigestSchedule(weekday=0, at=time(8, 0), default_zone="Europe/London")


def test_the_next_digest_is_the_coming_monday_at_eight_in_the_groups_zone() -> None:
    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert next_due(MONDAY_8, LONDON, wednesday) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    tokyo = next_due(MONDAY_8, ZoneInfo("Asia/Tokyo"), wednesday)
    assert tokyo == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # Monday 08:00 in Tokyo


def test_at_the_digests_own_instant_the_next_one_is_a_week_later() -> None:
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert next_due(MONDAY_8, LONDON, monday) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_the_wall_clock_time_holds_across_the_change_to_summer_time() -> None:
    # Summer time starts in London on Sunday 29 March 2026: 08:00 is then 07:00 UTC.
    before = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
    assert next_due(MONDAY_8, LONDON, before) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_digest_time_that_is_not_a_time_of_day_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[digest]\nweekday = "funday"\ntime = "25:00"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    problems = "\n".join(raised.value.problems)
    assert "[digest] time: '25:00' is not a time of day such as 08:00" in problems
    assert "[digest] weekday:" in problems


def test_the_digest_can_be_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[digest]\nenabled = false\n", encoding="utf-8")
    assert load_settings(path, environ={}).digest.enabled is False


def test_a_big_groups_missed_list_is_shortened_and_the_alerts_line_stays() -> None:
    """45 patients missed two check-ins: the list alone passes a caption's 1,024 characters.
    It was cut whole, with the alerts line after it; now it ends in "+ N more" and both stay."""
    missed = tuple(MissedPatient(1000 + i, f"Patient Number {i:02d}", False, 2) for i in range(45))
    digest = GroupDigest(
        group_name="Shoulder Therapy 1",
        first_day=date(2026, 11, 23),
        last_day=date(2026, 11, 29),
        this_week=Tally(completed=10, missed=90),
        last_week=Tally(completed=50, missed=50),
        missed_twice=missed,
        alerts=7,
        heatmap=GroupHeatmap("Shoulder Therapy 1", date(2026, 11, 2), date(2026, 11, 29), ()),
    )

    with speaking("en"):
        caption = digest_caption(digest)

    assert len(caption) <= CAPTION_LIMIT
    assert caption.endswith("🚨 Alerts fired: 7")
    missed_line = next(line for line in caption.splitlines() if line.startswith("Missed"))
    assert "Patient Number 00 (2)" in missed_line
    shown = missed_line.count("(2)")
    assert 10 < shown < 45
    assert missed_line.endswith(f"+ {45 - shown} more patients, see /report")
