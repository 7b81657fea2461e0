"""What a therapist reads in the /newtask and /edittask dialogue, its reviews and results,
the task editing menus, previews and reports.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

import bot.texts.language as language
from bot.texts.answers import alert_condition
from bot.texts.consent import consent_report_line
from bot.texts.language import N_, _, counted, ngettext
from bot.texts.therapist_commands import (
    _ADMIN_STATUS_COUNTS,
    _ADMIN_TYPE_LABELS,
    _admin_date,
    _admin_instant,
    _admin_num,
    _admin_rule,
    status_count,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
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
    from bot.services.reports import AdherenceReport, ExportScope, PatientAdherence
    from bot.services.responses import QuestionRules


def admin_ask_title_again() -> str:
    return _("Please type the title again.")


def admin_ask_due(zone: str, example: date_) -> str:
    """``example``: a day ahead of the clock (the playground's clock may be far from today)."""
    return _(
        "When is it due? Type a date and time in {zone}, for example {example} "
        "10:00, tomorrow 10:00 or mon 09:30. Each patient gets it at that time "
        "of day in their own time zone."
    ).format(zone=escape(zone), example=example.isoformat())


def admin_ask_due_again(zone: str) -> str:
    return _("Please type the due date and time again (in {zone}).").format(zone=escape(zone))


def admin_understood_due(day: date_, at: time_, zone: str) -> str:
    return _("Due <b>{day}, {at:%H:%M}</b> ({zone}).").format(
        day=_admin_date(day), at=at, zone=escape(zone)
    )


def admin_ask_repeat() -> str:
    return _(
        "Does it repeat? Tap one, or type a repeat such as "
        "<code>mon,wed,fri</code> or <code>every 2 days x5</code>."
    )


def admin_ask_repeat_again() -> str:
    return _("Please tap one of the buttons above, or type the repeat again.")


def admin_button_once() -> str:
    return _("Once")


def admin_button_daily() -> str:
    return _("Daily")


def admin_button_weekdays() -> str:
    return _("Weekdays")


def admin_button_every() -> str:
    return _("Every N days")


def admin_ask_every_n() -> str:
    return _("Every how many days? Type a number from 1 to 365.")


def admin_bad_every_n() -> str:
    return _("Please type a whole number of days from 1 to 365, for example 3.")


def admin_ask_repeat_end() -> str:
    return _("When does it stop?")


def admin_button_no_end() -> str:
    return _("No end date")


def admin_button_until() -> str:
    return _("Until a date")


def admin_button_count() -> str:
    return _("A number of times")


def admin_ask_until() -> str:
    return _("Type the last day, as YYYY-MM-DD (for example 2026-12-31).")


def admin_bad_until(text: str) -> str:
    return _(
        "“{text}” is not a date. Type the last day as YYYY-MM-DD, for example 2026-12-31."
    ).format(text=escape(text))


def admin_until_before_start(until: date_, start: date_) -> str:
    return _("{until} is before the first day, {start}. Please type a later date.").format(
        until=_admin_date(until), start=_admin_date(start)
    )


def admin_repeat_ends_before_start(until: date_, start: date_) -> str:
    return _(
        "That repeat ends on {until}, before the first day, {start}: the task would never be "
        "due. Please tap one of the buttons above, or type the repeat again with a later end."
    ).format(until=_admin_date(until), start=_admin_date(start))


def admin_ask_count() -> str:
    return _("How many times in all? Type a number from 1 to 1000.")


def admin_bad_count() -> str:
    return _("Please type a whole number from 1 to 1000, for example 14.")


def admin_understood_repeat(rule: str | None) -> str:
    return _("Repeats: <b>{rule}</b>.\nNow the questions, one at a time.").format(
        rule=_admin_rule(rule)
    )


def admin_ask_description(number: int) -> str:
    return _(
        "<b>Question {number}</b>: type it as the patient should read it, for "
        "example “Do 10 Push-Ups” or “How strong was your pain today?”"
    ).format(number=number)


def admin_ask_link() -> str:
    return _("Send a link for this question (for example an exercise video), or tap No link.")


def admin_button_no_link() -> str:
    return _("No link")


def admin_ask_type() -> str:
    return _("How should the patient answer?")


def admin_type_label(code: str) -> str:
    label = _ADMIN_TYPE_LABELS.get(code)
    return _(label) if label else escape(code)


def admin_ask_options() -> str:
    return _("Type the options separated by commas, for example: Left, Right, Both the same")


def admin_ask_number_bounds() -> str:
    return _("Type the lowest and highest allowed number, for example 0-50, or tap No limits.")


def admin_button_no_bounds() -> str:
    return _("No limits")


def admin_ask_scale_bounds() -> str:
    return _("Type the scale's ends, for example 1-5, or keep 0 to 10.")


def admin_button_default_scale(lo: int, hi: int) -> str:
    return _("{lo} to {hi}").format(lo=lo, hi=hi)


def admin_ask_max_length() -> str:
    return _("Type the most characters an answer may have, for example 500, or tap No limit.")


def admin_button_no_max_length() -> str:
    return _("No limit")


def admin_ask_integer() -> str:
    return _("Whole numbers only, or decimals too?")


def admin_button_whole() -> str:
    return _("Whole numbers")


def admin_button_decimals() -> str:
    return _("Decimals allowed")


def admin_ask_required() -> str:
    return _("Must the patient answer it?")


def admin_button_required() -> str:
    return _("Required")


def admin_button_optional() -> str:
    return _("Optional")


def admin_ask_alert(rules: QuestionRules) -> str:
    kind = str(rules.response_type)
    if kind == "photo":
        return _(
            "Should the group's therapists get every photo as an alert, the photo "
            "attached? Tap the alert button (or type <code>any</code>), or tap No alert."
        )
    if kind == "video":
        return _(
            "Should the group's therapists get every video as an alert, the video "
            "attached? Tap the alert button (or type <code>any</code>), or tap No alert."
        )
    if kind == "yes_no":
        example, short = _("== no"), "no"
    elif kind == "choice":
        option = rules.options[0] if rules.options else "…"
        example, short = f"== {option}", option
    elif kind == "scale":
        high = rules.scale_bounds()[1] - 2
        example, short = f">= {high}", f"{high}+"
    else:
        example, short = ">= 8", "8+"
    return _(
        "Should the group's therapists get an alert for some answers? Type a "
        "rule such as <code>{example}</code> (or just <code>{short}</code>), "
        "or tap No alert."
    ).format(example=escape(example), short=escape(short))


def admin_button_no_alert() -> str:
    return _("No alert")


def admin_button_add_question() -> str:
    return _("➕ Add another question")


def admin_button_done_review() -> str:
    return _("✅ Done – review the task")


def admin_button_done_save() -> str:
    return _("✅ Done – save")


def admin_question_added(number: int, question: QuestionDraft) -> str:
    return _("Question {number} added:\n{number2}").format(
        number=number, number2=_admin_question_line(number, question)
    )


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
        parts.append(_("{low} to {high}").format(low=low, high=high))
    if kind == "number":
        if lo is not None or hi is not None:
            low = _admin_num(lo) if lo is not None else "…"
            high = _admin_num(hi) if hi is not None else "…"
            parts.append(_("{low} to {high}").format(low=low, high=high))
        if integer_only:
            parts.append(_("whole numbers"))
    if kind == "text" and max_length is not None:
        parts.append(_("at most {max_length} characters").format(max_length=max_length))
    parts.append(_("required") if required else _("optional"))
    if alert_rule:
        parts.append(_admin_alert(alert_rule))
    return " · ".join(parts)


def _admin_alert(alert_rule: str) -> str:
    """A question's alert rule as the therapist reads it, in words as the alert itself and
    the rule's buttons say it ("alert on No", "alert on 8 or more"), not as stored ("== no",
    English whatever the reader's language)."""
    return admin_alert_in_words(alert_rule)


def admin_alert_in_words(alert_rule: str) -> str:
    """A stored rule in words, for HTML: "alert on 8 or more", "alert on every photo or
    video"."""
    op, _space, value = alert_rule.partition(" ")
    return _("alert on {condition}").format(condition=alert_condition(op, value))


# Changing a question in /edittask: each step says what the question has now, and keeps it.


def admin_currently(value: str) -> str:
    """The line under a step's question naming the current value (``value`` is HTML)."""
    return _("Currently: {value}").format(value=value)


def admin_button_keep() -> str:
    return _("↩️ Keep as it is")


def admin_current_detail(rules: QuestionRules) -> str:
    """A question's options, bounds or length limit as they are now (HTML)."""
    kind = str(rules.response_type)
    if kind == "choice":
        return ", ".join(escape(option) for option in rules.options)
    if kind == "scale":
        low, high = rules.scale_bounds()
        return _("{low} to {high}").format(low=_admin_num(low), high=_admin_num(high))
    if kind == "number":
        lo, hi = rules.min_value, rules.max_value
        if lo is None and hi is None:
            return admin_button_no_bounds()
        return _("{low} to {high}").format(
            low=_admin_num(lo) if lo is not None else "…",
            high=_admin_num(hi) if hi is not None else "…",
        )
    if rules.max_length is None:
        return admin_button_no_max_length()
    return _("at most {max_length} characters").format(max_length=rules.max_length)


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
        _("<b>Review</b>"),
        f"<b>{escape(title)}</b>",
        _("Group: {group_name}").format(group_name=escape(group_name)),
        _("Starts: {due_date}, {due_time:%H:%M} ({zone})").format(
            due_date=_admin_date(due_date), due_time=due_time, zone=escape(zone)
        ),
        _("Repeats: {rule}").format(rule=_admin_rule(rule)),
        _("Next due: {upcoming}").format(upcoming=_admin_instant(upcoming, zone)),
        _("Questions ({questions}):").format(questions=len(questions)),
    ]
    lines += [_admin_question_line(n, q) for n, q in enumerate(questions, 1)]
    return "\n".join(lines)


def admin_ask_save() -> str:
    return _("Save this task? Its patients will be asked at each due time.")


def admin_button_save() -> str:
    return _("💾 Save")


def admin_button_cancel() -> str:
    return _("✖️ Cancel")


def admin_task_saved(saved: TaskSaved) -> str:
    who = (
        _("{planned} scheduled").format(
            planned=counted("{n} patient", "{n} patients", saved.planned)
        )
        if saved.planned
        else _("no patient scheduled yet; patients who join get it too")
    )
    return _(
        "Saved task <b>#{task_id}</b> “{title}” for {name} with {questions}.\n"
        "Next due: {next_due}; {who}.\n"
        "See it as a patient will: /preview {task_id}"
    ).format(
        task_id=saved.task_id,
        title=escape(saved.title),
        name=escape(saved.group.name),
        questions=counted("{n} question", "{n} questions", saved.questions),
        next_due=_admin_instant(saved.next_due, saved.group.zone),
        who=who,
    )


# the task views


def admin_tasks(group: GroupInfo | None, tasks: Sequence[TaskSummary]) -> str:
    where = _(" of {name}").format(name=escape(group.name)) if group else ""
    if not tasks:
        return _("There are no tasks{where} yet. Create one with /newtask.").format(where=where)
    lines = [_("<b>Tasks{where}</b>").format(where=where)]
    for t in tasks:
        lines.append("")
        lines.append(f"<b>#{t.id}</b> {escape(t.title)}")
        place = "" if group else f"{escape(t.group.name)} · "
        questions = counted("{n} question", "{n} questions", t.questions)
        lines.append(f"{place}{_admin_rule(t.recurrence)} · {questions}")
        lines.append(
            _("Next: {next_due} · {completed} of {due} due check-ins completed").format(
                next_due=_admin_instant(t.next_due, t.group.zone), completed=t.completed, due=t.due
            )
        )
    lines.append("")
    lines.append(_("Details: /task ID"))
    return "\n".join(lines)


def admin_task_details(d: TaskDetails) -> str:
    lines = [f"<b>#{d.id} {escape(d.title)}</b>"]
    if d.deleted:
        lines.append(_("<i>Deleted: no new check-ins; answers kept.</i>"))
    lines += [
        _("Group: {name} ({patients})").format(
            name=escape(d.group.name), patients=counted("{n} patient", "{n} patients", d.patients)
        ),
        _("Starts: {due_date}, {due_time:%H:%M} ({zone})").format(
            due_date=_admin_date(d.due_date), due_time=d.due_time, zone=escape(d.group.zone)
        ),
        _("Repeats: {recurrence}").format(recurrence=_admin_rule(d.recurrence)),
        _("Next due: {next_due}").format(next_due=_admin_instant(d.next_due, d.group.zone)),
        _("Open for {expiry_minutes} after each due time").format(
            expiry_minutes=_admin_duration(d.expiry_minutes)
        ),
        "",
        _("<b>Questions</b>"),
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
        removed = _(" <i>(removed)</i>") if q.removed else ""
        link = f"\n   🔗 {escape(q.link)}" if q.link else ""
        lines.append(f"{q.position}. {escape(q.description)}{removed}\n   <i>{details}</i>{link}")
    counts = d.status_counts
    lines.append("")
    lines.append(_("<b>Check-ins so far</b>"))
    shown = [status_count(k, counts[k]) for k in _ADMIN_STATUS_COUNTS if counts.get(k)]
    lines.append(" · ".join(shown) if shown else _("none yet"))
    return "\n".join(lines)


def _admin_duration(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        return counted("{n} day", "{n} days", minutes // (24 * 60))
    if minutes % 60 == 0:
        return counted("{n} hour", "{n} hours", minutes // 60)
    return counted("{n} minute", "{n} minutes", minutes)


# /edittask


def admin_ask_edit(task_id: int, title: str) -> str:
    return _("What do you want to change in #{task_id} “{title}”?").format(
        task_id=task_id, title=escape(title)
    )


def admin_button_edit_due() -> str:
    return _("🕘 Due time")


def admin_button_edit_repeat() -> str:
    return _("🔁 Repetition")


def admin_button_edit_add() -> str:
    return _("➕ Add a question")


def admin_button_edit_remove() -> str:
    return _("➖ Remove a question")


def admin_button_edit_reword() -> str:
    return _("✏️ Change a question")


def admin_ask_reword() -> str:
    return _(
        "Which question should change? Answers already given keep the wording they answered; "
        "from now on patients are asked the new one."
    )


def admin_question_reword_label(position: int) -> str:
    return _("Changing question {position}").format(position=position)


def admin_question_reworded(changed: QuestionReworded) -> str:
    if not changed.changed:
        return _(
            "Question {position} of #{task_id} “{title}” is as it was: nothing changed."
        ).format(position=changed.position, task_id=changed.task_id, title=escape(changed.title))
    return _(
        "Question {position} of #{task_id} “{title}” now reads “{description}” "
        "(version {revision}). Answers already given keep the wording they answered; a patient "
        "in the middle of this check-in gets the new wording from this question on."
    ).format(
        position=changed.position,
        task_id=changed.task_id,
        title=escape(changed.title),
        description=escape(changed.description),
        revision=changed.revision,
    )


def admin_ask_remove() -> str:
    return _("Which question should go? Answers already given to it are kept.")


def admin_question_button(position: int, description: str) -> str:
    short = description if len(description) <= 40 else description[:39].rstrip() + "…"
    # A button label is plain text, not HTML.
    return f"{position}. {short}"


def admin_question_removed_label(position: int) -> str:
    return _("Question {position}").format(position=position)


def admin_question_removed(changed: QuestionsChanged) -> str:
    return _(
        "Removed question {positions} from #{task_id} “{title}”; answers "
        "already given are kept. {active} left."
    ).format(
        positions=changed.positions[0],
        task_id=changed.task_id,
        title=escape(changed.title),
        active=counted("{n} question", "{n} questions", changed.active),
    )


def admin_questions_added(changed: QuestionsChanged) -> str:
    numbers = ", ".join(str(p) for p in changed.positions)
    return _(
        "Added {positions} ({numbers}) to #{task_id} “{title}”; it now has "
        "{active}. Check-ins already started keep going."
    ).format(
        positions=counted("{n} question", "{n} questions", len(changed.positions)),
        numbers=numbers,
        task_id=changed.task_id,
        title=escape(changed.title),
        active=counted("{n} question", "{n} questions", changed.active),
    )


def admin_task_changed(changed: TaskChanged) -> str:
    text = _(
        "Changed #{task_id} “{title}”: starts {due_date}, {due_time:%H:%M}, "
        "repeats {recurrence}.\n"
        "Next due: {next_due}. {added} planned again; check-ins already sent "
        "and answers already given are unchanged."
    ).format(
        task_id=changed.task_id,
        title=escape(changed.title),
        due_date=_admin_date(changed.due_date),
        due_time=changed.due_time,
        recurrence=_admin_rule(changed.recurrence),
        next_due=_admin_instant(changed.next_due, changed.group.zone),
        added=counted("{n} upcoming check-in", "{n} upcoming check-ins", changed.added),
    )
    if changed.kept:
        # Today's fan-out may have reached some patients before the change: the others keep
        # theirs (planning.replan_task), so "Next due" alone would not tell the whole story.
        text += " " + counted(
            "{n} check-in already due today still goes out.",
            "{n} check-ins already due today still go out.",
            changed.kept,
        )
    return text


# /deletetask


def admin_confirm_delete(d: TaskDetails) -> str:
    return _(
        "Delete task #{id} “{title}” of {name}? No more check-ins will be sent "
        "and open ones are cancelled; answers already given are kept."
    ).format(id=d.id, title=escape(d.title), name=escape(d.group.name))


def admin_button_delete_yes() -> str:
    return _("🗑 Yes, delete")


def admin_button_delete_no() -> str:
    return _("No, keep it")


def admin_delete_kept() -> str:
    return _("→ <b>Kept.</b> Nothing changed.")


def admin_task_deleted_done(deleted: TaskDeleted) -> str:
    return _(
        "Deleted task #{task_id} “{title}”. {cancelled_pending} and "
        "{cancelled_open} cancelled; answers kept."
    ).format(
        task_id=deleted.task_id,
        title=escape(deleted.title),
        cancelled_pending=counted(
            "{n} upcoming check-in", "{n} upcoming check-ins", deleted.cancelled_pending
        ),
        cancelled_open=counted("{n} open check-in", "{n} open check-ins", deleted.cancelled_open),
    )


# /preview


def admin_preview_intro(task_id: int, title: str) -> str:
    return _(
        "<b>Preview</b> of #{task_id} “{title}” as a patient sees it, each "
        "question in turn. The buttons here do nothing, and nothing is stored."
    ).format(task_id=task_id, title=escape(title))


def admin_preview_only() -> str:
    return _("Preview only: nothing happens.")


# /report


# In this order on every line: done first, then what was closed unfinished, then what is open.
_ADMIN_OUTCOME_WORDS = (
    ("completed", N_("done")),
    ("closed_partly", N_("partly answered")),
    ("closed_unanswered", N_("not answered")),
    ("skipped", N_("skipped")),
    ("open_started", N_("started")),
    ("open_not_started", N_("not started yet")),
)


# The same with their count, in the form the count needs (see ``_ADMIN_STATUS_COUNTS``).
_OUTCOME_COUNTS: dict[str, Callable[[int], str]] = {
    "completed": lambda n: ngettext("{n} done", "{n} done", n),
    "closed_partly": lambda n: ngettext("{n} partly answered", "{n} partly answered", n),
    "closed_unanswered": lambda n: ngettext("{n} not answered", "{n} not answered", n),
    "skipped": lambda n: ngettext("{n} skipped", "{n} skipped", n),
    "open_started": lambda n: ngettext("{n} started", "{n} started", n),
    "open_not_started": lambda n: ngettext("{n} not started yet", "{n} not started yet", n),
}


def adherence_in_words(row: PatientAdherence) -> str:
    """One patient's check-ins by outcome: "7 check-ins: 5 done, 2 not answered · last ..."."""
    if not row.checkins:
        # "Yet" only for someone still in the group: none will come to a patient who left or
        # whose data was erased.
        if row.member and not row.data_deleted:
            return _("no check-ins due yet")
        return _("no check-ins")
    parts = [
        _OUTCOME_COUNTS[field](getattr(row, field)).format(n=getattr(row, field))
        for field, _words in _ADMIN_OUTCOME_WORDS
        if getattr(row, field)
    ]
    last = (
        _(" · last answer {day}").format(day=language.day_month(row.last_answered))
        if row.last_answered
        else ""
    )
    checkins = counted("{n} check-in", "{n} check-ins", row.checkins)
    return f"{checkins}: {', '.join(parts)}{last}"


def checkin_outcome_words(outcome: str) -> str:
    """A check-in's outcome as the report words it ("done", "not answered")."""
    words = dict(_ADMIN_OUTCOME_WORDS).get(outcome)
    return _(words) if words else outcome


def admin_report(report: AdherenceReport, limit: int) -> list[str]:
    """The adherence report, one line in words per patient, split into messages of at most
    ``limit`` characters."""
    if report.kind == "task":
        head = _("<b>Adherence: #{task_id} {title}</b> ({group_name})").format(
            task_id=report.task_id,
            title=escape(report.title),
            group_name=escape(report.group_name),
        )
    else:
        head = _("<b>Adherence: {title}</b>").format(title=escape(report.title))
    if not report.rows:
        return [_("{head}\nNo patients yet.").format(head=head)]

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
            name = _("[deleted]")
            footnotes.add(_("[deleted] = data deleted at the patient's request"))
        else:
            name = f"<b>{escape(r.name or str(r.telegram_user_id))}</b>"
            if not r.member:
                name += "†"
                footnotes.add(_("† no longer in the group"))
        lines.append(with_consent(line(name, r), r))
    lines.append(line(_("<b>All</b>"), report.total))
    legend = _(
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


def export_source(group_ref: str | None, scope: ExportScope) -> str:
    """Where an export's answers come from: the group named as typed, a therapist's only
    group by name, how many of her groups, or all groups (an administrator's)."""
    if group_ref or scope.group is not None:
        return _(" from {group_ref}").format(group_ref=escape(group_ref or scope.group or ""))
    if scope.groups is not None:
        return counted(" from your {n} group", " from your {n} groups", scope.groups)
    return _(" from all groups")


def admin_export_caption(rows: int, group_ref: str | None, scope: ExportScope) -> str:
    where = export_source(group_ref, scope)
    if rows == 0:
        return _("No answers{where} yet; the file has only its header row.").format(where=where)
    return _("{rows}{where}, one per row (CSV, UTF-8).").format(
        rows=counted("{n} answer", "{n} answers", rows), where=where
    )


def _megabytes(size: int, *, up: bool) -> str:
    # A size rounded up and a limit down: a file said to be "50 MB" must not read as fitting a
    # limit said to be 50 MB.
    return str(-(-size // 1_000_000) if up else size // 1_000_000)


def admin_export_zipped(unzipped_size: int) -> str:
    return _(
        "Zipped: as it is, the file is {size} MB, more than a bot may send on Telegram."
    ).format(size=_megabytes(unzipped_size, up=True))


def admin_export_too_large(size: int, most: int, one_group: bool) -> str:
    if one_group:
        text = _(
            "Nothing was exported: even zipped the file is {size} MB, and a bot may send at "
            "most {most} MB on Telegram. Ask your administrator for <code>patientbot "
            "export</code>, which writes a file of any size."
        )
    else:
        text = _(
            "Nothing was exported: even zipped the file is {size} MB, and a bot may send at "
            "most {most} MB on Telegram. Export one group at a time (<code>/export "
            "GROUP</code>; /groups lists them), or ask your administrator for "
            "<code>patientbot export</code>, which writes a file of any size."
        )
    return text.format(size=_megabytes(size, up=True), most=_megabytes(most, up=False))


def admin_cli_exported(rows: int, path: str) -> str:
    return _("Wrote {rows} to {path}.").format(
        rows=counted("{n} answer", "{n} answers", rows), path=path
    )


def admin_cli_cannot_write(path: str, error: OSError) -> str:
    return _("Cannot write {path}: {value}").format(path=path, value=error.strerror or error)
