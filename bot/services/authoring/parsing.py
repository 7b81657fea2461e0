"""What a therapist types, read and checked: due times, repeats, titles, questions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.services.authoring.results import (
    _RANGE,
    _TYPE_ALIASES,
    MAX_DESCRIPTION,
    MAX_LINK,
    MAX_TEXT_LIMIT,
    MAX_TITLE,
    AuthoringError,
    QuestionDraft,
)
from bot.services.meaning import Kind, Meaning, meaning
from bot.services.responses import (
    AlertRuleError,
    QuestionRules,
    ResponseType,
    format_alert_rule,
    parse_alert_rule,
    parse_number,
)
from bot.services.schedule import (
    ScheduleError,
    local_to_utc,
    parse_recurrence_text,
    parse_when,
)

# --- parsing what a therapist types --------------------------------------------------------


def group_today(zone: str, now: datetime) -> date:
    """The group's local date, against which "tomorrow 10:00" is read."""
    return now.astimezone(ZoneInfo(zone)).date()


def parse_due(text: str, zone: str, now: datetime) -> tuple[date, time]:
    """Read a due date and time in the group's zone; it must not be in the past."""
    try:
        due_date, due_time = parse_when(text, group_today(zone, now))
    except ScheduleError as error:
        raise AuthoringError(meaning(Kind.RULE_PROBLEM, reason=error.problem)) from None
    if local_to_utc(due_date, due_time, ZoneInfo(zone)) <= now:
        raise AuthoringError(meaning(Kind.ADMIN_DUE_IN_PAST, day=due_date, at=due_time, zone=zone))
    return due_date, due_time


def parse_repeat(text: str) -> str | None:
    """Read a repetition ("daily", "mon,wed,fri x6", ...) into the stored rule."""
    try:
        return parse_recurrence_text(text)
    except ScheduleError as error:
        raise AuthoringError(meaning(Kind.RULE_PROBLEM, reason=error.problem)) from None


def check_title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise AuthoringError(meaning(Kind.ADMIN_TITLE_MISSING))
    if len(title) > MAX_TITLE:
        raise AuthoringError(meaning(Kind.ADMIN_TITLE_TOO_LONG, length=len(title), most=MAX_TITLE))
    return title


def check_description(text: str) -> str:
    description = text.strip()
    if not description:
        raise AuthoringError(meaning(Kind.ADMIN_DESCRIPTION_MISSING))
    if len(description) > MAX_DESCRIPTION:
        raise AuthoringError(
            meaning(Kind.ADMIN_DESCRIPTION_TOO_LONG, length=len(description), most=MAX_DESCRIPTION)
        )
    return description


def parse_link(text: str) -> str:
    """An http(s) address with a host, as a patient's button can open it; one typed as
    ``www.example.org/...`` (as people write them) is read as https."""
    link = text.strip()
    if link[:4].casefold() == "www.":
        link = f"https://{link}"
    parts = urlsplit(link)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(link) > MAX_LINK
        or any(c.isspace() for c in link)
    ):
        raise AuthoringError(meaning(Kind.ADMIN_BAD_LINK, link=link))
    return link


def parse_response_type(text: str) -> ResponseType:
    kind = _TYPE_ALIASES.get(" ".join(text.split()).casefold().replace(" ", "_"))
    if kind is None:
        raise AuthoringError(meaning(Kind.ADMIN_UNKNOWN_TYPE, text=text.strip()))
    return kind


def parse_options(text: str) -> tuple[str, ...]:
    options = tuple(" ".join(o.split()) for o in text.split(","))
    problems = QuestionRules(ResponseType.CHOICE, options=options).validate()
    if problems:
        raise AuthoringError(*problems, meaning(Kind.ADMIN_OPTIONS_HINT))
    return options


def parse_bounds(text: str, kind: ResponseType) -> tuple[float, float]:
    """Read "0-50" (also "0 to 50", "0..50", "-5 - 5") and check it for the response type."""
    match = _RANGE.fullmatch(text)
    lo = parse_number(match[1]) if match else None
    hi = parse_number(match[2]) if match else None
    if lo is None or hi is None:
        raise AuthoringError(meaning(Kind.ADMIN_BAD_BOUNDS, text=text.strip()))
    problems = QuestionRules(kind, min_value=lo, max_value=hi).validate()
    if problems:
        raise AuthoringError(*problems)
    return lo + 0.0, hi + 0.0


def parse_max_length(text: str) -> int:
    value = text.strip().lower().removeprefix("max").strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_TEXT_LIMIT:
        raise AuthoringError(meaning(Kind.ADMIN_BAD_MAX_LENGTH, most=MAX_TEXT_LIMIT))
    return int(value)


def parse_alert(text: str, draft: QuestionDraft) -> str:
    """Read an alert rule for the question and return its stored form (">= 8")."""
    try:
        return format_alert_rule(parse_alert_rule(text, draft.rules()))
    except AlertRuleError as error:
        raise AuthoringError(error.problem) from None


def check_question(draft: QuestionDraft) -> QuestionDraft:
    """Validate a finished question; raise AuthoringError with every problem."""
    problems = draft.rules().validate()
    if draft.alert_rule is not None and not problems:
        try:
            parse_alert_rule(draft.alert_rule, draft.rules())
        except AlertRuleError as error:
            problems.append(error.problem)
    if problems:
        raise AuthoringError(*problems)
    return draft


def parse_question_line(text: str) -> QuestionDraft:
    """Read one question of the one-line form: "TEXT ; TYPE ; extras...".

    Extras may come in any order and are told apart by their shape: an http(s) address is the
    link, "optional" makes the question optional, a comparison (">= 8", "== no") is the alert,
    "whole" allows whole numbers only, "max 500" limits a text answer, a range ("0-50") bounds
    a number or scale, and for a choice question the comma-separated list is the options.
    """
    parts = [p.strip() for p in text.split(";")]
    if len(parts) < 2 or not parts[0]:
        raise AuthoringError(meaning(Kind.ADMIN_LINE_QUESTION_SHAPE))
    description = check_description(parts[0])
    kind = parse_response_type(parts[1])
    draft = QuestionDraft(description=description, response_type=kind)
    alert_text: str | None = None
    problems: list[Meaning] = []
    for extra in parts[2:]:
        if not extra:
            continue
        lowered = extra.casefold()
        try:
            if lowered.startswith(("http://", "https://", "www.")):
                draft = replace(draft, link=parse_link(extra))
            elif lowered in ("optional", "opt"):
                draft = replace(draft, required=False)
            elif lowered in ("required", "req"):
                draft = replace(draft, required=True)
            elif extra[0] in "<>=!≥≤≠":
                alert_text = extra
            elif lowered in ("any", "alert") and kind in (ResponseType.PHOTO, ResponseType.VIDEO):
                alert_text = "any"
            elif lowered in ("whole", "integer", "whole numbers") and kind == ResponseType.NUMBER:
                draft = replace(draft, integer_only=True)
            elif lowered.startswith("max") and kind == ResponseType.TEXT:
                draft = replace(draft, max_length=parse_max_length(extra))
            elif kind in (ResponseType.NUMBER, ResponseType.SCALE):
                lo, hi = parse_bounds(extra, kind)
                draft = replace(draft, min_value=lo, max_value=hi)
            elif kind == ResponseType.CHOICE and not draft.options:
                draft = replace(draft, options=parse_options(extra))
            else:
                problems.append(meaning(Kind.ADMIN_LINE_UNKNOWN_EXTRA, extra=extra))
        except AuthoringError as error:
            problems.extend(error.problems)
    if kind == ResponseType.CHOICE and not draft.options and not problems:
        problems.append(meaning(Kind.ADMIN_LINE_CHOICE_NEEDS_OPTIONS))
    if draft.integer_only and not problems:
        problems.extend(draft.rules().validate())
    if alert_text is not None and not problems:
        try:
            draft = replace(draft, alert_rule=parse_alert(alert_text, draft))
        except AuthoringError as error:
            problems.extend(error.problems)
    if problems:
        raise AuthoringError(*problems)
    return draft
