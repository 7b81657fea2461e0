"""What a therapist reads in the /newtask and /edittask dialogue, its reviews and results,
the task editing menus, previews and reports.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from bot.texts.consent import consent_report_line
from bot.texts.therapist_commands import (
    _ADMIN_MONTHS,
    _ADMIN_TYPE_LABELS,
    _admin_date,
    _admin_instant,
    _admin_num,
    _admin_plural,
    _admin_rule,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date as date_
    from datetime import time as time_

    from bot.services.authoring import (
        GroupInfo,
        QuestionDraft,
        QuestionReworded,
        QuestionsChanged,
        TaskChanged,
        TaskDeleted,
        TaskDetails,
        TaskSaved,
        TaskSummary,
    )
    from bot.services.reports import AdherenceReport, PatientAdherence
    from bot.services.responses import QuestionRules


def admin_ask_title_again() -> str:
    return "Please type the title again."


def admin_ask_due(zone: str, example: date_) -> str:
    """``example``: a day ahead of the clock (the playground's clock may be far from today)."""
    return (
        f"When is it due? Type a date and time in {escape(zone)}, for example "
        f"{example.isoformat()} 10:00, tomorrow 10:00 or mon 09:30. "
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
    if kind in ("photo", "video"):
        return (
            f"Should the group's therapists get every {kind} as an alert, the {kind} "
            "attached? Tap the alert button (or type <code>any</code>), or tap No alert."
        )
    if kind == "yes_no":
        example, short = "== no", "no"
    elif kind == "choice":
        option = rules.options[0] if rules.options else "…"
        example, short = f"== {option}", option
    elif kind == "scale":
        high = rules.scale_bounds()[1] - 2
        example, short = f">= {high}", f"{high}+"
    else:
        example, short = ">= 8", "8+"
    return (
        "Should the group's therapists get an alert for some answers? Type a rule such as "
        f"<code>{escape(example)}</code> (or just <code>{escape(short)}</code>), "
        "or tap No alert."
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


def admin_button_edit_reword() -> str:
    return "✏️ Change a question"


def admin_ask_reword() -> str:
    return (
        "Which question should change? Answers already given keep the wording they answered; "
        "from now on patients are asked the new one."
    )


def admin_question_reword_label(position: int) -> str:
    return f"Changing question {position}"


def admin_question_reworded(changed: QuestionReworded) -> str:
    if not changed.changed:
        return (
            f"Question {changed.position} of #{changed.task_id} “{escape(changed.title)}” "
            "is as it was: nothing changed."
        )
    return (
        f"Question {changed.position} of #{changed.task_id} “{escape(changed.title)}” now "
        f"reads “{escape(changed.description)}” (version {changed.revision}). Answers already "
        "given keep the wording they answered; a patient in the middle of this check-in gets "
        "the new wording from this question on."
    )


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


# In this order on every line: done first, then what was closed unfinished, then what is open.
_ADMIN_OUTCOME_WORDS = (
    ("completed", "done"),
    ("closed_partly", "partly answered"),
    ("closed_unanswered", "not answered"),
    ("skipped", "skipped"),
    ("open_started", "started"),
    ("open_not_started", "not started yet"),
)


def adherence_in_words(row: PatientAdherence) -> str:
    """One patient's check-ins by outcome: "7 check-ins: 5 done, 2 not answered · last ..."."""
    if not row.checkins:
        return "no check-ins due yet"
    parts = [
        f"{getattr(row, field)} {words}"
        for field, words in _ADMIN_OUTCOME_WORDS
        if getattr(row, field)
    ]
    last = (
        f" · last answer {row.last_answered.day} {_ADMIN_MONTHS[row.last_answered.month - 1]}"
        if row.last_answered
        else ""
    )
    return f"{_admin_plural(row.checkins, 'check-in')}: {', '.join(parts)}{last}"


def checkin_outcome_words(outcome: str) -> str:
    """A check-in's outcome as the report words it ("done", "not answered")."""
    return dict(_ADMIN_OUTCOME_WORDS).get(outcome, outcome)


def admin_report(report: AdherenceReport, limit: int) -> list[str]:
    """The adherence report, one line in words per patient, split into messages of at most
    ``limit`` characters."""
    if report.kind == "task":
        head = (
            f"<b>Adherence: #{report.task_id} {escape(report.title)}</b> "
            f"({escape(report.group_name)})"
        )
    else:
        head = f"<b>Adherence: {escape(report.title)}</b>"
    if not report.rows:
        return [f"{head}\nNo patients yet."]

    def line(name: str, row: PatientAdherence) -> str:
        return f"{name}: {adherence_in_words(row)}"

    def with_consent(text: str, row: PatientAdherence) -> str:
        if report.consent_in_force is None or not row.member or row.data_deleted:
            return text
        return f"{text} · {consent_report_line(row.consent_version, report.consent_in_force)}"

    lines: list[str] = []
    footnotes: set[str] = set()
    for r in report.rows:
        if r.data_deleted:
            name = "[deleted]"
            footnotes.add("[deleted] = data deleted at the patient's request")
        else:
            name = f"<b>{escape(r.name or str(r.telegram_user_id))}</b>"
            if not r.member:
                name += "†"
                footnotes.add("† no longer in the group")
        lines.append(with_consent(line(name, r), r))
    lines.append(line("<b>All</b>", report.total))
    legend = (
        "Check-ins due so far. Partly answered, not answered, skipped: closed unfinished. "
        "Started, not started yet: still open. Last answer: the patient's date."
    )
    tail = [legend, *sorted(footnotes)]
    messages: list[str] = []
    current: list[str] = []
    budget = limit - 200
    for row in lines:
        if current and len("\n".join([*current, row])) + len(head) > budget:
            messages.append("\n".join([head, *current]))
            current = []
        current.append(row)
    messages.append("\n".join([head, *current]))
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
