"""Sentences about answers: how to answer, re-asks, definition problems, alert rules.

Mostly what ``bot/services/responses.py`` says (``Kind.HINT_*``, ``Kind.PROBLEM_*``,
``Kind.ALERT_RULE_*``), worded through ``bot.texts.words``.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# --- Answers: how to answer, re-asks, question-definition problems, alert rules -------------
# Used by bot/services/responses.py.

_RESPONSE_TYPE_NAMES = {
    "text": "text",
    "number": "number",
    "yes_no": "yes/no",
    "scale": "scale",
    "choice": "choice",
    "photo": "photo",
    "video": "video",
}


def response_type_name(code: str) -> str:
    return _RESPONSE_TYPE_NAMES.get(code, escape(code))


def label_yes() -> str:
    return "Yes"


def label_no() -> str:
    return "No"


def answer_display_photo() -> str:
    return "photo"


def answer_display_video() -> str:
    return "video"


def hint_type_text() -> str:
    return "Please type your answer."


def hint_text_empty() -> str:
    return "That message was empty. Please type your answer."


def hint_text_too_long(length: int, max_length: int) -> str:
    return (
        f"Your answer is {length} characters long. "
        f"Please shorten it to at most {max_length} characters and send it again."
    )


def _number_wanted(verb: str, whole: bool, lo: str | None, hi: str | None) -> str:
    what = "a whole number" if whole else "a number"
    if lo is not None and hi is not None:
        return f"{verb} {what} from {lo} to {hi}"
    if lo is not None:
        return f"{verb} {what} of at least {lo}"
    if hi is not None:
        return f"{verb} {what} of at most {hi}"
    return f"{verb} {what}"


def hint_number(*, whole: bool, lo: str | None, hi: str | None, typed: bool = False) -> str:
    return f"Please {_number_wanted('type' if typed else 'send', whole, lo, hi)}."


def hint_number_in_words(example: str) -> str:
    return f"Please type the number with digits, for example {example}."


def hint_number_below(*, whole: bool, lo: str | None, hi: str | None, scale: bool) -> str:
    verb = "tap or type" if scale else "send"
    return f"That is below {lo}; please {_number_wanted(verb, whole, lo, hi)}."


def hint_number_above(*, whole: bool, lo: str | None, hi: str | None, scale: bool) -> str:
    verb = "tap or type" if scale else "send"
    return f"That is above {hi}; please {_number_wanted(verb, whole, lo, hi)}."


def hint_number_not_whole(*, lo: str | None, hi: str | None, scale: bool) -> str:
    verb = "tap or type" if scale else "send"
    return (
        f"Only whole numbers here, without decimals; please {_number_wanted(verb, True, lo, hi)}."
    )


def hint_yes_no() -> str:
    return "Please tap Yes or No."


def hint_yes_no_retry() -> str:
    return "Please tap Yes or No, or type yes or no."


def hint_scale(lo: int, hi: int) -> str:
    return f"Please tap a number from {lo} to {hi}."


def hint_scale_retry(lo: int, hi: int) -> str:
    return f"Please tap or type a whole number from {lo} to {hi}."


def hint_choice() -> str:
    return "Please tap one of the options."


def hint_choice_retry(options: list[str]) -> str:
    listing = ", ".join(f"{n} = {escape(option)}" for n, option in enumerate(options, 1))
    return f"Please tap one of the options, or type its name or number: {listing}."


def hint_photo() -> str:
    return "Please send a photo (tap 📎, then choose or take a picture)."


def hint_video() -> str:
    return "Please send a video (tap 📎, then choose or record a video)."


def hint_photo_sent_as_file() -> str:
    return "That arrived as a file. Please send it as a photo instead, not as a file."


def hint_video_sent_as_file() -> str:
    return "That arrived as a file. Please send it as a video instead, not as a file."


def _with_article(label: str) -> str:
    article = "an" if label[:1].lower() in "aeiou" else "a"
    return f"{article} {label}"


def hint_received(label: str, instruction: str) -> str:
    return f"That was {_with_article(escape(label))}. {instruction}"


def hint_received_unknown(instruction: str) -> str:
    return f"I can't use that kind of message here. {instruction}"


def hint_stale_button(instruction: str) -> str:
    return f"That button doesn't belong to this question. {instruction}"


def problem_choice_too_few_options(count: int) -> str:
    return f"A choice question needs at least 2 options; this one has {count}."


def problem_choice_too_many_options(count: int, most: int) -> str:
    return f"A choice question can have at most {most} options; this one has {count}."


def problem_choice_blank_option(position: int) -> str:
    return f"Option {position} is empty."


def problem_choice_option_too_long(position: int, most: int) -> str:
    return f"Option {position} is too long; keep it to {most} characters so it fits a button."


def problem_choice_duplicate_option(option: str) -> str:
    return f"The option “{escape(option)}” is listed more than once."


def problem_options_not_allowed(type_name: str) -> str:
    return f"Only choice questions have options; this is a {type_name} question."


def problem_bounds_not_allowed(type_name: str) -> str:
    return (
        "Only number and scale questions have a minimum and maximum; "
        f"this is a {type_name} question."
    )


def problem_bounds_not_finite() -> str:
    return "The minimum and maximum must be ordinary numbers."


def problem_min_above_max(lo: str, hi: str) -> str:
    return f"The minimum ({lo}) is greater than the maximum ({hi})."


def problem_scale_bounds_not_whole() -> str:
    return "The ends of a scale must be whole numbers."


def problem_scale_too_narrow(value: int) -> str:
    return f"A scale needs its top above its bottom; both are {value}."


def problem_scale_too_wide(lo: int, hi: int, most: int) -> str:
    return f"A scale can span at most {most} steps; {lo} to {hi} spans {hi - lo}."


def problem_whole_bounds_needed() -> str:
    return "When only whole numbers are allowed, the minimum and maximum must be whole too."


def problem_integer_only_not_allowed(type_name: str) -> str:
    return f"“Whole numbers only” applies to number questions; this is a {type_name} question."


def problem_max_length_not_allowed(type_name: str) -> str:
    return f"Only text questions have a maximum length; this is a {type_name} question."


def problem_max_length_too_small() -> str:
    return "The maximum answer length must be at least 1 character."


def alert_rule_malformed() -> str:
    examples = ", ".join(escape(f"“{example}”") for example in (">= 8", "<= 2", "== no"))
    return f"Write the alert as a comparison and a value, for example {examples}."


def alert_rule_not_supported(type_name: str) -> str:
    return (
        f"Alerts can't be set on {type_name} questions; "
        "they work on number, scale, yes/no, choice, photo and video questions."
    )


def alert_rule_needs_number() -> str:
    return f"The alert value must be a number, for example {escape('“>= 8”')}."


def alert_rule_out_of_range(lo: str | None, hi: str | None) -> str:
    if lo is not None and hi is not None:
        return f"The alert value must be between {lo} and {hi}, the range of this question."
    if lo is not None:
        return f"The alert value must be at least {lo}, the minimum of this question."
    return f"The alert value must be at most {hi}, the maximum of this question."


def alert_rule_yes_no_op() -> str:
    return f"A yes/no alert compares with == or !=, for example {escape('“== no”')}."


def alert_rule_yes_no_value(value: str) -> str:
    return f"A yes/no alert compares with yes or no, not “{escape(value)}”."


def alert_rule_choice_op(example_option: str) -> str:
    example = escape(f"“== {example_option}”")
    return f"A choice alert compares with == or !=, for example {example}."


def alert_rule_unknown_option(value: str, options: list[str]) -> str:
    listing = ", ".join(escape(option) for option in options)
    return f"“{escape(value)}” is not one of the options: {listing}."


_ALERT_OPS_IN_WORDS = {
    ">=": "{} or more",
    "<=": "{} or less",
    ">": "more than {}",
    "<": "less than {}",
    "==": "{}",
    "!=": "anything but {}",
}


def alert_rule_media(value: str) -> str:
    return (
        "A photo or video question alerts on every answer: type <code>any</code> for that, "
        f"not “{escape(value)}”, or tap No alert."
    )


_MEDIA_ALERT_WORDS = "every photo or video"


def alert_condition(op: str, value: str) -> str:
    """A rule in words, for HTML: "No", "8 or more", "anything but Left"."""
    if value == "*":
        return _MEDIA_ALERT_WORDS
    shown = value.capitalize() if value in ("yes", "no") else value
    return _ALERT_OPS_IN_WORDS.get(op, "{}").format(escape(shown))


def admin_button_alert(op: str, value: str) -> str:
    """A suggested rule's button (plain text): "Alert on No", "Alert on 8 or more"."""
    if value == "*":
        return f"🔔 Alert on {_MEDIA_ALERT_WORDS}"
    shown = value.capitalize() if value in ("yes", "no") else value
    return f"🔔 Alert on {_ALERT_OPS_IN_WORDS.get(op, '{}').format(shown)}"
