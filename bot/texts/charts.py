"""Every word of the charts: titles, axis labels, legends, dates, captions and refusals.

Kept in one place (like ``bot.texts``) so that they can be translated together; ``bot.charts``
draws only what these functions return. Captions carry the numbers a chart shows, so a reader
who cannot see the picture (a screen reader, a slow connection) loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

import bot.texts.language as language
from bot.frozen import frozen
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
from bot.texts.language import N_, _, content, counted, listed, number, quoted

# Telegram's limit for a photo's caption.
CAPTION_LIMIT = 1024
DELETED = N_("[deleted]")
CHART_BUTTON = N_("📈 Chart")


def chart_button() -> str:
    return _(CHART_BUTTON)


def short_date(day: date) -> str:
    """A day as the charts write it ("5 Oct")."""
    return language.day_month(day)


def day_range(first: date, last: date) -> str:
    return f"{short_date(first)} – {short_date(last)}"


@frozen
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
            Outcome.COMPLETED: _("done"),
            Outcome.PARTIAL: _("partly done"),
            Outcome.OPEN: _("still open"),
            Outcome.MISSED: _("missed"),
            Outcome.EXPIRED: _("expired"),
        },
        weekdays=tuple(language.locale().days["stand-alone"]["abbreviated"][d] for d in range(7)),
        today=_("today"),
        no_checkins=_("No check-ins were due in these weeks."),
        alert_line=_("alert"),
    )


def display_name(name: str, data_deleted: bool, telegram_user_id: int | None = None) -> str:
    """A patient as /report names them."""
    if data_deleted:
        return _(DELETED)
    return name or (str(telegram_user_id) if telegram_user_id is not None else "?")


def progress_title(progress: PatientProgress, for_patient: bool) -> str:
    who = _("Your progress") if for_patient else display_name(progress.name, progress.data_deleted)
    return _("{who} · last {PROGRESS_WEEKS} weeks").format(who=who, PROGRESS_WEEKS=PROGRESS_WEEKS)


def trend_title(trend: Trend) -> str:
    return f"{content(trend.question)} ({content(trend.task_title)})"


def alert_label(trend: Trend) -> str:
    assert trend.alert is not None
    return _("alert {op} {value}").format(op=trend.alert.op, value=trend.alert.value)


def heatmap_title(heatmap: GroupHeatmap) -> str:
    return _("{group_name} · adherence, last {HEATMAP_DAYS} weeks").format(
        group_name=heatmap.group_name, HEATMAP_DAYS=HEATMAP_DAYS // 7
    )


def heatmap_more(hidden: int) -> str:
    return _("+ {hidden} more patients, see /report").format(hidden=hidden)


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
        parts.append(_("partly done {partial}").format(partial=tally.partial))
    if tally.not_done:
        expired = _(" ({expired} expired)").format(expired=tally.expired) if tally.expired else ""
        parts.append(
            _("missed {not_done}{expired}").format(not_done=tally.not_done, expired=expired)
        )
    if tally.open:
        parts.append(_("still open {open}").format(open=tally.open))
    return ", ".join(parts)


def _trend_line(trend: Trend) -> str:
    values = [p.value for p in trend.points]
    if not values:
        return _("• {trend}: no answers yet").format(trend=escape(trend_title(trend)))
    last = trend.points[-1]
    line = _(
        "• {trend}: latest {value} ({day}), lowest {values}, highest {values2}, {values3}"
    ).format(
        trend=escape(trend_title(trend)),
        value=number(last.value),
        day=short_date(last.day),
        values=number(min(values)),
        values2=number(max(values)),
        values3=counted("{n} answer", "{n} answers", len(values)),
    )
    if trend.alert_threshold is not None:
        line += f"; {escape(alert_label(trend))}"
    return line


def progress_caption(progress: PatientProgress, for_patient: bool) -> str:
    """What went well first, then what is left, then each trend's numbers."""
    tally = progress.tally
    lines = [f"<b>{escape(progress_title(progress, for_patient))}</b>"]
    if tally.due == 0:
        lines.append(_("No check-ins were due in these weeks."))
    else:
        if tally.completed:
            lines.append(
                _("✅ Done: {completed} of {due}.").format(
                    completed=tally.completed,
                    due=counted("{n} check-in", "{n} check-ins", tally.due),
                )
            )
        if progress.streak >= 2:
            lines.append(_("🔥 {streak} completed in a row.").format(streak=progress.streak))
        elif progress.streak == 1:
            lines.append(_("🔥 The latest check-in is completed."))
        rest = _not_done(tally)
        if rest and len(lines) > 1:
            lines.append(_("Also: {rest}.").format(rest=rest))
        elif rest:
            # Nothing went before it to say "also" of.
            lines.append(
                _("Of {due}: {rest}.").format(
                    due=counted("{n} check-in", "{n} check-ins", tally.due), rest=rest
                )
            )
        if for_patient and not tally.completed:
            lines.append(_("Every check-in counts: the next one is a fresh start."))
        elif for_patient and tally.not_done == 0 and tally.partial == 0:
            lines.append(_("Nothing missed. Well done!"))
    lines.extend(_trend_line(trend) for trend in progress.trends)
    return _fit(lines)


def heatmap_caption(heatmap: GroupHeatmap, shown: int) -> str:
    tally = heatmap.tally
    lines = [f"<b>{escape(heatmap_title(heatmap))}</b>"]
    lines.append(
        f"{day_range(heatmap.first_day, heatmap.today)}, "
        + counted("{n} patient.", "{n} patients.", len(heatmap.rows))
    )
    if tally.due == 0:
        lines.append(_("No check-ins were due in these weeks."))
    else:
        percent = round(100 * tally.completed / tally.due)
        lines.append(
            _("✅ Done: {completed} of {due} ({percent}%).").format(
                completed=tally.completed,
                due=counted("{n} check-in", "{n} check-ins", tally.due),
                percent=percent,
            )
        )
        rest = _not_done(tally)
        if rest:
            lines.append(_("Also: {rest}.").format(rest=rest))
    attention = [r for r in heatmap.rows if r.tally.not_done and not r.data_deleted][:5]
    if attention:
        names = ", ".join(
            _("{name} ({not_done} missed)").format(
                name=escape(display_name(r.name, r.data_deleted, r.telegram_user_id)),
                not_done=r.tally.not_done,
            )
            for r in attention
        )
        lines.append(_("Needs attention: {names}.").format(names=names))
    if shown < len(heatmap.rows):
        lines.append(
            _("The picture shows the first {shown} of {rows} (top of list).").format(
                shown=shown, rows=len(heatmap.rows)
            )
        )
    return _fit(lines)


def digest_caption(digest: GroupDigest) -> str:
    def rate(done: int, due: int) -> str:
        return (
            _("{value}% ({done} of {due})").format(
                value=round(100 * done / due), done=done, due=due
            )
            if due
            else _("nothing due")
        )

    this, last = digest.this_week, digest.last_week
    trend = ""
    if this.due and last.due:
        now_rate, then_rate = this.completed / this.due, last.completed / last.due
        trend = " ↑" if now_rate > then_rate else " ↓" if now_rate < then_rate else " ="
    lines = [
        _("<b>🗓 Weekly digest: {group_name}</b>").format(group_name=escape(digest.group_name)),
        day_range(digest.first_day, digest.last_day),
        _("✅ Done this week: {completed}{trend}").format(
            completed=rate(this.completed, this.due), trend=trend
        ),
        _("Last week: {completed}").format(completed=rate(last.completed, last.due)),
    ]
    alerts = _("🚨 Alerts fired: {alerts}").format(alerts=digest.alerts)
    if digest.missed_twice:
        entries = [
            f"{escape(display_name(m.name, m.data_deleted, m.telegram_user_id))} ({m.missed})"
            for m in digest.missed_twice
        ]
        room = CAPTION_LIMIT - 2 - len("\n".join([*lines, alerts])) - 1
        lines.append(_missed_line(entries, room))
    else:
        lines.append(_("Nobody missed 2 or more check-ins."))
    lines.append(alerts)
    return _fit(lines)


def _missed_line(entries: Sequence[str], room: int) -> str:
    """Who missed 2 or more, as many as fit in ``room`` characters, then "+ N more": cut
    whole by ``_fit``, a big group's list took the alerts line with it."""
    for shown in range(len(entries), 0, -1):
        hidden = len(entries) - shown
        names = ", ".join([*entries[:shown], *([heatmap_more(hidden)] if hidden else [])])
        line = _("Missed 2 or more: {names}").format(names=names)
        if len(line) <= room:
            return line
    return _("Missed 2 or more: {names}").format(names=heatmap_more(len(entries)))


# --- usage and refusals ---------------------------------------------------------------------


def chart_usage() -> str:
    return _(
        "Usage: /chart GROUP for the group's adherence over the last 4 weeks, or "
        "/chart PATIENT [QUESTION] for one patient's check-ins and answers (a name or a "
        "Telegram id; the question by a word of it)."
    )


def chart_unknown_target(ref: str, groups: Sequence[str]) -> str:
    known = listed(groups, ", ") or _("none yet")
    return _(
        "There is no group or patient called “{ref}”. Groups: {known}. "
        "/patients GROUP lists a group's patients."
    ).format(ref=quoted(ref), known=known)


def chart_unknown_question(ref: str, patient: str, questions: Sequence[str]) -> str:
    if not questions:
        return _(
            "{patient} has answered no number or scale question in the last "
            "{PROGRESS_WEEKS} weeks, so there is no line to draw for “{ref}”."
        ).format(patient=escape(patient), PROGRESS_WEEKS=PROGRESS_WEEKS, ref=quoted(ref))
    return _("No question of {patient}'s matches “{ref}”. Their questions: {listed}").format(
        patient=escape(patient), ref=quoted(ref), listed=listed(questions, "; ")
    )


def progress_not_a_patient() -> str:
    return _(
        "Your progress shows once you are in a therapy group. "
        "Join with the invite link your therapist sent you."
    )


def menu_progress() -> str:
    return _("Your check-ins and answers as a chart")


def menu_chart() -> str:
    return _("Adherence or a patient's answers as a chart")
