"""Sentences of /patient (one patient's page and its buttons) and /media (the group's media)."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import escape, unescape
from typing import TYPE_CHECKING

from bot.texts.therapist_dialogue import adherence_in_words, checkin_outcome_words

if TYPE_CHECKING:
    from bot.services.patientpage import (
        AnswerLine,
        GroupMedia,
        MediaItem,
        PatientChoice,
        PatientChoices,
        PatientPage,
    )

__all__ = [
    "PAGE_NEWER",
    "PAGE_OLDER",
    "REPORT_PATIENTS_BACK",
    "REPORT_PATIENTS_MORE",
    "alert_page_button",
    "media_bad_days",
    "media_button",
    "media_caption",
    "media_found",
    "media_missing",
    "media_none",
    "media_usage",
    "menu_media",
    "menu_patient",
    "patient_choice_label",
    "patient_choices",
    "patient_media_gone",
    "patient_page",
    "patient_page_gone",
    "patient_page_no_match",
    "patient_page_not_yours",
    "patient_usage",
    "report_patient_button",
]

PAGE_OLDER = "◀ Older"
PAGE_NEWER = "Newer ▶"
REPORT_PATIENTS_MORE = "More patients ▶"
REPORT_PATIENTS_BACK = "◀ Back"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MEDIA_ICON = {"photo": "📷", "video": "🎬"}
_DELETED = "[deleted]"
MAX_CAPTION = 1024


def _when(at: datetime) -> str:
    """Thu 3 Dec 07:18: a time in the patient's zone, as alerts say it."""
    return f"{at:%a} {at.day} {_MONTHS[at.month - 1]} {at:%H:%M}"


def _day(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _shorten(text: str, most: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 1].rstrip() + "…"


def _shown(text: str) -> int:
    """The length Telegram counts: the text without its markup, in UTF-16 units."""
    return len(unescape(re.sub(r"<[^>]+>", "", text)).encode("utf-16-le")) // 2


# --- menus and usage ------------------------------------------------------------------------


def menu_patient() -> str:
    return "One patient's page: groups, adherence, answers"


def menu_media() -> str:
    return "A group's recent photos and videos"


def patient_usage() -> str:
    return (
        "Usage: /patient NAME – a name, a part of one, or a Telegram id. Example: /patient Alice"
    )


def media_usage() -> str:
    return (
        "Usage: /media GROUP [DAYS] – the group's photo and video answers of the last DAYS "
        "days (7 unless you say). Example: /media Ankle Group 14"
    )


# --- refusals -------------------------------------------------------------------------------


def patient_page_no_match(ref: str) -> str:
    return (
        f"No patient matches “{escape(ref)}”. Try a part of the name, or the Telegram id "
        "(/patients GROUP lists them)."
    )


def patient_page_gone() -> str:
    return "That patient is no longer in any group; send /patient NAME to look again."


def patient_page_not_yours() -> str:
    return "That patient is not in one of your groups."


def patient_media_gone() -> str:
    return "That answer is no longer stored (the patient may have deleted their data)."


def media_bad_days(days: int, most: int) -> str:
    return f"DAYS must be a whole number from 1 to {most}, not {days}."


# --- choosing among several -----------------------------------------------------------------


def patient_choices(found: PatientChoices) -> str:
    lines = [f"Several patients match “{escape(found.ref)}”; choose one:"]
    if found.more:
        lines.append(f"({found.more} more match: type more of the name to find them.)")
    return "\n".join(lines)


def patient_choice_label(choice: PatientChoice) -> str:
    name = _DELETED if choice.data_deleted else choice.name or str(choice.telegram_user_id)
    groups = ", ".join(choice.groups)
    return _shorten(f"{name} · {groups}" if groups else name, 60)


# --- the page -------------------------------------------------------------------------------


def media_button(line: AnswerLine, number: int) -> str:
    icon = _MEDIA_ICON.get(line.response_type, "📎")
    return f"{icon} {line.response_type.capitalize()} {number}"


def patient_page(page: PatientPage, limit: int) -> str:
    """The page as HTML of at most ``limit`` characters: answers shortened until it fits."""
    for question_chars, answer_chars in ((120, 400), (70, 160), (40, 60), (24, 24)):
        text = _page(page, question_chars, answer_chars)
        if _shown(text) <= limit:
            return text
    # Only a task of very many questions gets here: keep whole lines while they fit.
    kept: list[str] = []
    for line in text.split("\n"):
        if _shown("\n".join([*kept, line, "…"])) > limit:
            break
        kept.append(line)
    return "\n".join([*kept, "…"])


def _page(page: PatientPage, question_chars: int, answer_chars: int) -> str:
    if page.data_deleted:
        name = _DELETED
    else:
        name = f"<b>{escape(page.name or str(page.telegram_user_id))}</b>"
    # An erased patient's Telegram id is gone with the rest (0 here).
    known = f" · Telegram id <code>{page.telegram_user_id}</code>" if page.telegram_user_id else ""
    lines = [f"👤 {name}{known}"]
    groups = ", ".join(escape(g.name) + ("" if g.member else " (left)") for g in page.groups)
    lines.append(f"Groups: {groups or 'none'}")
    if page.data_deleted:
        lines.append("Data deleted at the patient's request: no answers or check-ins are kept.")
        return "\n".join(lines)
    whose = "set by the patient" if page.zone_is_own else "the group's or the default"
    lines.append(f"Time zone: {escape(page.zone)} ({whose}); times below are in it")
    seen = _when(page.last_seen) if page.last_seen else "not yet"
    joined = _day(page.joined) if page.joined else "—"
    lines.append(f"Joined: {joined} · Last seen: {seen}")
    lines.append(f"Adherence: {adherence_in_words(page.adherence)}")
    if not page.checkins:
        lines.append("")
        lines.append("No check-ins due yet." if not page.offset else "No older check-ins.")
        return "\n".join(lines)
    media_number = 0
    for checkin in page.checkins:
        lines.append("")
        lines.append(
            f"<b>{escape(_shorten(checkin.task_title, 60))}</b> "
            f"({escape(checkin.group_name)}) · due {_when(checkin.due_at)} · "
            f"{checkin_outcome_words(checkin.outcome.value)}"
        )
        if not checkin.answers:
            lines.append("• no answers")
        for answer in checkin.answers:
            question = escape(_shorten(answer.question, question_chars))
            at = (
                f"{answer.answered_at:%H:%M}"
                if answer.answered_at.date() == checkin.due_at.date()
                else _when(answer.answered_at)
            )
            if answer.skipped:
                value = "<i>skipped</i>"
            elif answer.media:
                media_number += 1
                icon = _MEDIA_ICON.get(answer.response_type, "📎")
                value = f"{icon} {answer.response_type} (button {media_number})"
            else:
                value = f"<b>{escape(_shorten(answer.value, answer_chars))}</b>"
            lines.append(f"• {question} — {value} · {at}")
    first, last = page.offset + 1, page.offset + len(page.checkins)
    lines.append("")
    shown = f"Check-in {first}" if first == last else f"Check-ins {first}–{last}"
    lines.append(f"<i>{shown} of {page.total}, newest first.</i>")
    return "\n".join(lines)


# --- media ----------------------------------------------------------------------------------


def media_caption(item: MediaItem) -> str:
    """Who sent it, for which task and question, when (the patient's time); HTML."""
    name = escape(item.patient) if item.patient else _DELETED
    head = (
        f"{_MEDIA_ICON.get(item.kind, '📎')} <b>{name}</b> · {escape(item.group_name)} · "
        f"{_when(item.answered_at)}\nTask: {escape(_shorten(item.task_title, 100))}\n"
    )
    question = _shorten(item.question, MAX_CAPTION - _shown(head) - 8)
    return f"{head}“{escape(question)}”"


def media_found(found: GroupMedia) -> str:
    days = "day" if found.days == 1 else f"{found.days} days"
    noun = "answer" if len(found.items) == 1 else "answers"
    text = (
        f"{len(found.items)} photo and video {noun} from {escape(found.group_name)} "
        f"in the last {days}, oldest first:"
    )
    if found.more:
        text += f"\n({found.more} more not sent: ask for fewer days.)"
    return text


def media_none(group_name: str, days: int) -> str:
    span = "day" if days == 1 else f"{days} days"
    return f"No photo or video answers from {escape(group_name)} in the last {span}."


def media_missing(item: MediaItem) -> str:
    """One line for a file Telegram no longer has."""
    name = escape(item.patient) if item.patient else _DELETED
    return (
        f"⚠️ {name}'s {item.kind} for “{escape(_shorten(item.question, 60))}” "
        f"({_when(item.answered_at)}) is no longer on Telegram."
    )


# --- buttons elsewhere ----------------------------------------------------------------------


def report_patient_button(name: str, data_deleted: bool) -> str:
    return f"👤 {_shorten(_DELETED if data_deleted else name, 40)}"


def alert_page_button(patient: str) -> str:
    return f"👤 {_shorten(patient, 40)}'s page" if patient else "👤 Patient's page"
