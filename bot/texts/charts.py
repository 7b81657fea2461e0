"""Every word of the charts: titles, axis labels, legends, dates, captions and refusals.

Kept in one place (like ``bot.texts``) so that they can be translated together; ``bot.charts``
draws only what these functions return. Captions carry the numbers a chart shows, so a reader
who cannot see the picture (a screen reader, a slow connection) loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from bot.services.digest import GroupDigest
from bot.services.progress import (
    HEATMAP_DAYS,
    PROGRESS_WEEKS,
    GroupHeatmap,
    Outcome,
    PatientProgress,
    Tally,
    Trend,
)
from bot.services.responses import format_number

# Telegram's limit for a photo's caption.
CAPTION_LIMIT = 1024
DELETED = "[deleted]"
CHART_BUTTON = "📈 Chart"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def short_date(day: date) -> str:
    """A day as the charts write it ("5 Oct")."""
    return f"{day.day} {_MONTHS[day.month - 1]}"


def day_range(first: date, last: date) -> str:
    return f"{short_date(first)} – {short_date(last)}"


@dataclass(frozen=True)
class ChartLabels:
    """The words drawn inside the pictures."""

    outcomes: dict[Outcome, str]
    weekdays: tuple[str, ...]
    today: str
    no_checkins: str
    alert_line: str  # "{op} {value}" is appended


def labels() -> ChartLabels:
    return ChartLabels(
        outcomes={
            Outcome.COMPLETED: "done",
            Outcome.PARTIAL: "partly done",
            Outcome.OPEN: "still open",
            Outcome.MISSED: "missed",
            Outcome.EXPIRED: "expired",
        },
        weekdays=_WEEKDAYS,
        today="today",
        no_checkins="No check-ins were due in these weeks.",
        alert_line="alert",
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def display_name(name: str, data_deleted: bool, telegram_user_id: int | None = None) -> str:
    """A patient as /report names them."""
    if data_deleted:
        return DELETED
    return name or (str(telegram_user_id) if telegram_user_id is not None else "?")


def progress_title(progress: PatientProgress, for_patient: bool) -> str:
    who = "Your progress" if for_patient else display_name(progress.name, progress.data_deleted)
    return f"{who} · last {PROGRESS_WEEKS} weeks"


def trend_title(trend: Trend) -> str:
    return f"{trend.question} ({trend.task_title})"


def alert_label(trend: Trend) -> str:
    assert trend.alert is not None
    return f"alert {trend.alert.op} {trend.alert.value}"


def heatmap_title(heatmap: GroupHeatmap) -> str:
    return f"{heatmap.group_name} · adherence, last {HEATMAP_DAYS // 7} weeks"


def heatmap_more(hidden: int) -> str:
    return f"+ {hidden} more patients, see /report"


# --- captions -------------------------------------------------------------------------------


def _fit(lines: Sequence[str], limit: int = CAPTION_LIMIT) -> str:
    """Join lines, leaving out whole lines at the end that would pass Telegram's limit."""
    kept: list[str] = []
    for line in lines:
        if len("\n".join([*kept, line])) > limit - 2:
            kept.append("…")
            break
        kept.append(line)
    return "\n".join(kept)


def _not_done(tally: Tally) -> str:
    parts = []
    if tally.partial:
        parts.append(f"partly done {tally.partial}")
    if tally.not_done:
        expired = f" ({tally.expired} expired)" if tally.expired else ""
        parts.append(f"missed {tally.not_done}{expired}")
    if tally.open:
        parts.append(f"still open {tally.open}")
    return ", ".join(parts)


def _trend_line(trend: Trend) -> str:
    values = [p.value for p in trend.points]
    if not values:
        return f"• {escape(trend_title(trend))}: no answers yet"
    last = trend.points[-1]
    line = (
        f"• {escape(trend_title(trend))}: latest {format_number(last.value)} "
        f"({short_date(last.day)}), lowest {format_number(min(values))}, "
        f"highest {format_number(max(values))}, {_count(len(values), 'answer', 'answers')}"
    )
    if trend.alert_threshold is not None:
        line += f"; {escape(alert_label(trend))}"
    return line


def progress_caption(progress: PatientProgress, for_patient: bool) -> str:
    """What went well first, then what is left, then each trend's numbers."""
    tally = progress.tally
    lines = [f"<b>{escape(progress_title(progress, for_patient))}</b>"]
    if tally.due == 0:
        lines.append("No check-ins were due in these weeks.")
    else:
        if tally.completed:
            lines.append(
                f"✅ Done: {tally.completed} of {_count(tally.due, 'check-in', 'check-ins')}."
            )
        if progress.streak >= 2:
            lines.append(f"🔥 {progress.streak} completed in a row.")
        elif progress.streak == 1:
            lines.append("🔥 The latest check-in is completed.")
        rest = _not_done(tally)
        if rest:
            lines.append(f"Also: {rest}.")
        if for_patient and not tally.completed:
            lines.append("Every check-in counts: the next one is a fresh start.")
        elif for_patient and tally.not_done == 0 and tally.partial == 0:
            lines.append("Nothing missed. Well done!")
    lines.extend(_trend_line(trend) for trend in progress.trends)
    return _fit(lines)


def heatmap_caption(heatmap: GroupHeatmap, shown: int) -> str:
    tally = heatmap.tally
    lines = [f"<b>{escape(heatmap_title(heatmap))}</b>"]
    lines.append(
        f"{day_range(heatmap.first_day, heatmap.today)}, "
        f"{_count(len(heatmap.rows), 'patient', 'patients')}."
    )
    if tally.due == 0:
        lines.append("No check-ins were due in these weeks.")
    else:
        percent = round(100 * tally.completed / tally.due)
        lines.append(
            f"✅ Done: {tally.completed} of {_count(tally.due, 'check-in', 'check-ins')} "
            f"({percent}%)."
        )
        rest = _not_done(tally)
        if rest:
            lines.append(f"Also: {rest}.")
    attention = [r for r in heatmap.rows if r.tally.not_done and not r.data_deleted][:5]
    if attention:
        names = ", ".join(
            f"{escape(display_name(r.name, r.data_deleted, r.telegram_user_id))} "
            f"({r.tally.not_done} missed)"
            for r in attention
        )
        lines.append(f"Needs attention: {names}.")
    if shown < len(heatmap.rows):
        lines.append(f"The picture shows the first {shown} of {len(heatmap.rows)} (top of list).")
    return _fit(lines)


def digest_caption(digest: GroupDigest) -> str:
    def rate(done: int, due: int) -> str:
        return f"{round(100 * done / due)}% ({done} of {due})" if due else "nothing due"

    this, last = digest.this_week, digest.last_week
    trend = ""
    if this.due and last.due:
        now_rate, then_rate = this.completed / this.due, last.completed / last.due
        trend = " ↑" if now_rate > then_rate else " ↓" if now_rate < then_rate else " ="
    lines = [
        f"<b>🗓 Weekly digest: {escape(digest.group_name)}</b>",
        day_range(digest.first_day, digest.last_day),
        f"✅ Done this week: {rate(this.completed, this.due)}{trend}",
        f"Last week: {rate(last.completed, last.due)}",
    ]
    if digest.missed_twice:
        names = ", ".join(
            f"{escape(display_name(m.name, m.data_deleted, m.telegram_user_id))} ({m.missed})"
            for m in digest.missed_twice
        )
        lines.append(f"Missed 2 or more: {names}")
    else:
        lines.append("Nobody missed 2 or more check-ins.")
    lines.append(f"🚨 Alerts fired: {digest.alerts}")
    return _fit(lines)


# --- usage and refusals ---------------------------------------------------------------------


def chart_usage() -> str:
    return (
        "Usage: /chart GROUP for the group's adherence over the last 4 weeks, or "
        "/chart PATIENT [QUESTION] for one patient's check-ins and answers (a name or a "
        "Telegram id; the question by a word of it)."
    )


def _quoted(text: str, limit: int = 60) -> str:
    """What the person wrote, shortened: a pasted page must not make the reply too long."""
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _listed(names: Sequence[str], separator: str, most: int = 20) -> str:
    shown = [_quoted(n) for n in names[:most]]
    if len(names) > most:
        shown.append(f"and {len(names) - most} more")
    return separator.join(shown)


def chart_unknown_target(ref: str, groups: Sequence[str]) -> str:
    known = _listed(groups, ", ") or "none yet"
    return (
        f"There is no group or patient called “{_quoted(ref)}”. Groups: {known}. "
        "/patients GROUP lists a group's patients."
    )


def chart_ambiguous_patient(ref: str, telegram_user_ids: Sequence[int]) -> str:
    ids = ", ".join(str(i) for i in telegram_user_ids)
    return f"More than one patient is called “{_quoted(ref)}”. Use a Telegram id: {ids}."


def chart_unknown_question(ref: str, patient: str, questions: Sequence[str]) -> str:
    if not questions:
        return (
            f"{escape(patient)} has answered no number or scale question in the last "
            f"{PROGRESS_WEEKS} weeks, so there is no line to draw for “{_quoted(ref)}”."
        )
    listed = _listed(questions, "; ")
    return (
        f"No question of {escape(patient)}'s matches “{_quoted(ref)}”. Their questions: {listed}"
    )


def progress_not_a_patient() -> str:
    return (
        "Your progress shows once you are in a therapy group. "
        "Join with the invite link your therapist sent you."
    )


def menu_progress() -> str:
    return "Your check-ins and answers as a chart"


def menu_chart() -> str:
    return "Adherence or a patient's answers as a chart"
