"""Sentences of /patient (one patient's page and its buttons) and /media (the group's media)."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import escape, unescape
from typing import TYPE_CHECKING

import bot.texts.language as language
from bot.services.responses import ResponseType
from bot.texts.answers import shown_answer
from bot.texts.language import N_, _, ngettext
from bot.texts.therapist_dialogue import adherence_in_words, checkin_outcome_words

if TYPE_CHECKING:
    from bot.services.patientpage import AnswerLine, GroupMedia, MediaItem, PatientPage
    from bot.services.patients import PatientChoice, PatientChoices

__all__ = [
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
    "page_media_earlier",
    "page_media_later",
    "page_media_note",
    "page_newer",
    "page_older",
    "patient_choice_label",
    "patient_choices",
    "patient_media_gone",
    "patient_page",
    "patient_page_gone",
    "patient_page_no_match",
    "patient_page_not_yours",
    "patient_usage",
    "report_patient_button",
    "report_patients_back",
    "report_patients_more",
]

_MEDIA_ICON = {"photo": "📷", "video": "🎬"}
_MEDIA_WORDS = {"photo": N_("photo"), "video": N_("video")}
MAX_CAPTION = 1024


def _deleted() -> str:
    return _("[deleted]")


def _media_word(kind: str) -> str:
    """ "photo" or "video" in the reader's words (a kind we do not know, as it is)."""
    word = _MEDIA_WORDS.get(kind)
    return _(word) if word else kind


def _when(at: datetime) -> str:
    """Thu 3 Dec 07:18: a time in the patient's zone, as alerts say it."""
    return language.weekday_time(at, compact=True)


def _day(day: date) -> str:
    return language.day_month_year(day)


# Stored canonical ("Yes", "7.5"), so worded for the reader; a typed text and a choice's option
# are the patient's and the therapist's own words and stay as written.
_READER_WORDED = frozenset({ResponseType.YES_NO, ResponseType.NUMBER, ResponseType.SCALE})


def _answer_words(answer: AnswerLine) -> str:
    if answer.response_type in _READER_WORDED:
        return shown_answer(answer.value)
    return answer.value


def _shorten(text: str, most: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 1].rstrip() + "…"


def _shown(text: str) -> int:
    """The length Telegram counts: the text without its markup, in UTF-16 units."""
    return len(unescape(re.sub(r"<[^>]+>", "", text)).encode("utf-16-le")) // 2


# --- menus and usage ------------------------------------------------------------------------


def menu_patient() -> str:
    return _("One patient's page: groups, adherence, answers")


def menu_media() -> str:
    return _("A group's recent photos and videos")


def patient_usage() -> str:
    return _(
        "Usage: /patient NAME – a name, a part of one, or a Telegram id. Example: /patient Alice"
    )


def media_usage() -> str:
    return _(
        "Usage: /media GROUP [DAYS] – the group's photo and video answers of the last DAYS "
        "days (7 unless you say). Example: /media Ankle Group 14"
    )


# --- page buttons -----------------------------------------------------------------------------


def page_older() -> str:
    return _("◀ Older")


def page_newer() -> str:
    return _("Newer ▶")


def page_media_earlier(first: int, last: int) -> str:
    return _("◀ Buttons {first}–{last}").format(first=first, last=last)


def page_media_later(first: int, last: int) -> str:
    return _("Buttons {first}–{last} ▶").format(first=first, last=last)


def page_media_note(first: int, last: int, total: int, most: int, button: str) -> str:
    """Which photos and videos have their buttons under the page, and where the others are."""
    return _(
        "Photos and videos {first}–{last} of {total} have their buttons below (a message "
        "holds {most} at most); press “{button}” for the others."
    ).format(first=first, last=last, total=total, most=most, button=button)


def report_patients_more() -> str:
    return _("More patients ▶")


def report_patients_back() -> str:
    return _("◀ Back")


# --- refusals -------------------------------------------------------------------------------


def patient_page_no_match(ref: str) -> str:
    return _(
        "No patient matches “{ref}”. Try a part of the name, or the Telegram id "
        "(/patients GROUP lists them)."
    ).format(ref=escape(ref))


def patient_page_gone() -> str:
    return _("That patient is no longer in any group; send /patient NAME to look again.")


def patient_page_not_yours() -> str:
    return _("That patient is not in one of your groups.")


def patient_media_gone() -> str:
    return _("That answer is no longer stored (the patient may have deleted their data).")


def media_bad_days(days: int, most: int) -> str:
    return _("DAYS must be a whole number from 1 to {most}, not {days}.").format(
        most=most, days=days
    )


# --- choosing among several -----------------------------------------------------------------


def patient_choices(found: PatientChoices) -> str:
    lines = [_("Several patients match “{ref}”; choose one:").format(ref=escape(found.ref))]
    if found.more:
        lines.append(
            _("({more} more match: type more of the name to find them.)").format(more=found.more)
        )
    return "\n".join(lines)


def patient_choice_label(choice: PatientChoice) -> str:
    name = _deleted() if choice.data_deleted else choice.name or str(choice.telegram_user_id)
    groups = ", ".join(choice.groups)
    return _shorten(f"{name} · {groups}" if groups else name, 60)


# --- the page -------------------------------------------------------------------------------


def media_button(line: AnswerLine, number: int) -> str:
    icon = _MEDIA_ICON.get(line.response_type, "📎")
    return f"{icon} {_media_word(line.response_type).capitalize()} {number}"


def patient_page(page: PatientPage, limit: int, note: str = "") -> str:
    """The page as HTML of at most ``limit`` characters: answers shortened until it fits.

    ``note`` closes the page (after which check-ins these are), whatever is cut.
    """
    for question_chars, answer_chars in ((120, 400), (70, 160), (40, 60), (24, 24)):
        text = _page(page, question_chars, answer_chars, note)
        if _shown(text) <= limit:
            return text
    # Only a task of very many questions gets here: keep whole lines while they fit. The
    # closing lines stay, as they say which check-ins the page holds and where the buttons
    # of the photos and videos cut off here are.
    body, _gap, closing = text.rpartition("\n\n")
    kept: list[str] = []
    for line in body.split("\n"):
        if _shown("\n".join([*kept, line, "…", "", closing])) > limit:
            break
        kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join([*kept, "…", "", closing])


def _page(page: PatientPage, question_chars: int, answer_chars: int, note: str = "") -> str:
    if page.data_deleted:
        name = _deleted()
    else:
        name = f"<b>{escape(page.name or str(page.telegram_user_id))}</b>"
    # An erased patient's Telegram id is gone with the rest (0 here).
    known = (
        _(" · Telegram id <code>{telegram_id}</code>").format(telegram_id=page.telegram_user_id)
        if page.telegram_user_id
        else ""
    )
    lines = [f"👤 {name}{known}"]
    left = _(" (left)")
    groups = ", ".join(escape(g.name) + ("" if g.member else left) for g in page.groups)
    lines.append(_("Groups: {groups}").format(groups=groups or _("none")))
    if page.data_deleted:
        lines.append(_("Data deleted at the patient's request: no answers or check-ins are kept."))
        return "\n".join(lines)
    # Why nothing is coming in: a page without it read like a patient who stopped answering.
    if page.stopped:
        lines.append(_("⏸ Stopped check-ins with /stop: none are sent until they send /start."))
    if page.unreachable:
        lines.append(_("🚫 Blocked the bot: no message reaches them until they unblock it."))
    whose = _("set by the patient") if page.zone_is_own else _("the group's or the default")
    lines.append(
        _("Time zone: {zone} ({whose}); times below are in it").format(
            zone=escape(page.zone), whose=whose
        )
    )
    seen = _when(page.last_seen) if page.last_seen else _("not yet")
    joined = _day(page.joined) if page.joined else "—"
    lines.append(_("Joined: {joined} · Last seen: {seen}").format(joined=joined, seen=seen))
    lines.append(_("Adherence: {adherence}").format(adherence=adherence_in_words(page.adherence)))
    if not page.checkins:
        lines.append("")
        lines.append(_("No check-ins due yet.") if not page.offset else _("No older check-ins."))
        return "\n".join(lines)
    media_number = 0
    for checkin in page.checkins:
        lines.append("")
        lines.append(
            _("<b>{task}</b> ({group}) · due {due} · {outcome}").format(
                task=escape(_shorten(checkin.task_title, 60)),
                group=escape(checkin.group_name),
                due=_when(checkin.due_at),
                outcome=checkin_outcome_words(checkin.outcome.value),
            )
        )
        if not checkin.answers:
            lines.append(_("• no answers"))
        for answer in checkin.answers:
            question = escape(_shorten(answer.question, question_chars))
            at = (
                language.clock(answer.answered_at)
                if answer.answered_at.date() == checkin.due_at.date()
                else _when(answer.answered_at)
            )
            if answer.skipped:
                value = _("<i>skipped</i>")
            elif answer.media:
                media_number += 1
                value = _("{icon} {kind} (button {number})").format(
                    icon=_MEDIA_ICON.get(answer.response_type, "📎"),
                    kind=_media_word(answer.response_type),
                    number=media_number,
                )
            else:
                value = f"<b>{escape(_shorten(_answer_words(answer), answer_chars))}</b>"
            lines.append(f"• {question} — {value} · {at}")
    first, last = page.offset + 1, page.offset + len(page.checkins)
    lines.append("")
    if first == last:
        shown = _("Check-in {first} of {total}, newest first.").format(
            first=first, total=page.total
        )
    else:
        shown = _("Check-ins {first}–{last} of {total}, newest first.").format(
            first=first, last=last, total=page.total
        )
    lines.append(f"<i>{shown}</i>")
    if note:
        lines.append(note)
    return "\n".join(lines)


# --- media ----------------------------------------------------------------------------------


def media_caption(item: MediaItem) -> str:
    """Who sent it, for which task and question, when (the patient's time); HTML."""
    name = escape(item.patient) if item.patient else _deleted()
    task = _("Task: {title}").format(title=escape(_shorten(item.task_title, 100)))
    head = (
        f"{_MEDIA_ICON.get(item.kind, '📎')} <b>{name}</b> · {escape(item.group_name)} · "
        f"{_when(item.answered_at)}\n{task}\n"
    )
    question = _shorten(item.question, MAX_CAPTION - _shown(head) - 8)
    return f"{head}“{escape(question)}”"


def media_found(found: GroupMedia) -> str:
    answers = ngettext(
        "{n} photo and video answer", "{n} photo and video answers", len(found.items)
    ).format(n=len(found.items))
    text = ngettext(
        "{answers} from {group} in the last day, oldest first:",
        "{answers} from {group} in the last {n} days, oldest first:",
        found.days,
    ).format(answers=answers, group=escape(found.group_name), n=found.days)
    if found.more:
        text += "\n" + _("({more} more not sent: ask for fewer days.)").format(more=found.more)
    return text


def media_none(group_name: str, days: int) -> str:
    return ngettext(
        "No photo or video answers from {group} in the last day.",
        "No photo or video answers from {group} in the last {n} days.",
        days,
    ).format(group=escape(group_name), n=days)


def media_missing(item: MediaItem) -> str:
    """One line for a file Telegram no longer has."""
    name = escape(item.patient) if item.patient else _deleted()
    return _("⚠️ {name}'s {kind} for “{question}” ({when}) is no longer on Telegram.").format(
        name=name,
        kind=_media_word(item.kind),
        question=escape(_shorten(item.question, 60)),
        when=_when(item.answered_at),
    )


# --- buttons elsewhere ----------------------------------------------------------------------


def report_patient_button(name: str, data_deleted: bool) -> str:
    return f"👤 {_shorten(_deleted() if data_deleted else name, 40)}"


def alert_page_button(patient: str) -> str:
    if not patient:
        return _("👤 Patient's page")
    return _("👤 {name}'s page").format(name=_shorten(patient, 40))
