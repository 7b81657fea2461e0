"""Sentences about answers: how to answer, re-asks, definition problems, alert rules.

Mostly what ``bot/services/responses.py`` says (``Kind.HINT_*``, ``Kind.PROBLEM_*``,
``Kind.ALERT_RULE_*``), worded through ``bot.texts.words``.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

import bot.texts.language as language
from bot.services.content import Localized
from bot.services.responses import STORED_NO, STORED_PHOTO, STORED_VIDEO, STORED_YES
from bot.texts.language import N_, _

if TYPE_CHECKING:
    pass


# --- Answers: how to answer, re-asks, question-definition problems, alert rules -------------
# Used by bot/services/responses.py.

_RESPONSE_TYPE_NAMES = {
    "text": N_("text"),
    "number": N_("number"),
    "yes_no": N_("yes/no"),
    "scale": N_("scale"),
    "choice": N_("choice"),
    "photo": N_("photo"),
    "video": N_("video"),
}


def response_type_name(code: str) -> str:
    name = _RESPONSE_TYPE_NAMES.get(code)
    return _(name) if name else escape(code)


def label_yes() -> str:
    return _("Yes")


def label_no() -> str:
    return _("No")


def answer_display_photo() -> str:
    return _("photo")


def answer_display_video() -> str:
    return _("video")


_DECIMAL = re.compile(r"-?\d+\.\d+")


def shown_answer(display: str) -> str:
    """A stored answer as the reader reads it: yes/no, photo and video in their language, a
    decimal with their decimal mark ("7,5"), a choice's option in their language where it has
    a translation. What is stored stays canonical ("7.5", "Yes", "Left")."""
    if isinstance(display, Localized):
        return language.content(display)
    words = {
        STORED_YES: label_yes,
        STORED_NO: label_no,
        STORED_PHOTO: answer_display_photo,
        STORED_VIDEO: answer_display_video,
    }
    if display in words:
        return words[display]()
    if _DECIMAL.fullmatch(display):
        return display.replace(".", language.decimal_separator(language.current()))
    return display


def hint_type_text() -> str:
    return _("Please type your answer.")


def hint_type_text_up_to(most: int) -> str:
    return _("Please type your answer (at most {most} characters).").format(most=most)


def hint_text_empty() -> str:
    return _("That message was empty. Please type your answer.")


def hint_text_too_long(length: int, max_length: int) -> str:
    return _(
        "Your answer is {length} characters long. Please shorten it to at most "
        "{max_length} characters and send it again."
    ).format(length=length, max_length=max_length)


def _number_wanted(verb: str, whole: bool, lo: float | None, hi: float | None) -> str:
    what = _("a whole number") if whole else _("a number")
    if lo is not None and hi is not None:
        return _("{verb} {what} from {lo} to {hi}").format(
            verb=verb, what=what, lo=language.number(lo), hi=language.number(hi)
        )
    if lo is not None:
        return _("{verb} {what} of at least {lo}").format(
            verb=verb, what=what, lo=language.number(lo)
        )
    if hi is not None:
        return _("{verb} {what} of at most {hi}").format(
            verb=verb, what=what, hi=language.number(hi)
        )
    return _("{verb} {what}").format(verb=verb, what=what)


def hint_number(*, whole: bool, lo: float | None, hi: float | None, typed: bool = False) -> str:
    return _("Please {value}.").format(
        value=_number_wanted(_("type") if typed else _("send"), whole, lo, hi)
    )


def hint_number_in_words(example: str) -> str:
    return _("Please type the number with digits, for example {example}.").format(example=example)


def hint_number_two_readings(typed: str, whole: float, decimal: float) -> str:
    return _(
        "“{typed}” can be read as {whole} or as {decimal}. Please type it again without a "
        "thousands separator, for example {whole}."
    ).format(typed=escape(typed), whole=language.number(whole), decimal=language.number(decimal))


def hint_replied_to_earlier() -> str:
    return _(
        "You replied to an earlier message, so I did not take that as the answer to this "
        "question. Please answer it again, without replying to an older message."
    )


def hint_number_below(*, whole: bool, lo: float, hi: float | None, scale: bool) -> str:
    verb = _("tap or type") if scale else _("send")
    return _("That is below {lo}; please {verb}.").format(
        lo=language.number(lo), verb=_number_wanted(verb, whole, lo, hi)
    )


def hint_number_above(*, whole: bool, lo: float | None, hi: float, scale: bool) -> str:
    verb = _("tap or type") if scale else _("send")
    return _("That is above {hi}; please {verb}.").format(
        hi=language.number(hi), verb=_number_wanted(verb, whole, lo, hi)
    )


def hint_number_not_whole(*, lo: float | None, hi: float | None, scale: bool) -> str:
    verb = _("tap or type") if scale else _("send")
    return _("Only whole numbers here, without decimals; please {verb}.").format(
        verb=_number_wanted(verb, True, lo, hi)
    )


def hint_yes_no() -> str:
    return _("Please tap Yes or No.")


def hint_yes_no_retry() -> str:
    return _("Please tap Yes or No, or type yes or no.")


def hint_scale(lo: int, hi: int) -> str:
    return _("Please tap a number from {lo} to {hi}.").format(lo=lo, hi=hi)


def hint_scale_retry(lo: int, hi: int) -> str:
    return _("Please tap or type a whole number from {lo} to {hi}.").format(lo=lo, hi=hi)


def hint_choice() -> str:
    return _("Please tap one of the options.")


def hint_choice_retry(options: list[str], numbered: bool = True) -> str:
    if not numbered:
        listing = ", ".join(escape(language.content(option)) for option in options)
        return _("Please tap one of the options, or type it as it is written: {listing}.").format(
            listing=listing
        )
    listing = ", ".join(
        f"{n} = {escape(language.content(option))}" for n, option in enumerate(options, 1)
    )
    return _("Please tap one of the options, or type its name or number: {listing}.").format(
        listing=listing
    )


def hint_photo() -> str:
    return _("Please send a photo (tap 📎, then choose or take a picture).")


def hint_video() -> str:
    return _("Please send a video (tap 📎, then choose or record a video).")


def hint_photo_sent_as_file() -> str:
    return _("That arrived as a file. Please send it as a photo instead, not as a file.")


def hint_video_sent_as_file() -> str:
    return _("That arrived as a file. Please send it as a video instead, not as a file.")


def _with_article(label: str) -> str:
    # English needs its article here; other languages may keep the bare label ("Erhalten: ...").
    if label[:1].lower() in "aeiou":
        return _("an {label}").format(label=label)
    return _("a {label}").format(label=label)


def hint_received(label: str, instruction: str) -> str:
    return _("That was {label}. {instruction}").format(
        label=_with_article(escape(label)), instruction=instruction
    )


def hint_received_unknown(instruction: str) -> str:
    return _("I can't use that kind of message here. {instruction}").format(
        instruction=instruction
    )


def hint_stale_button(instruction: str) -> str:
    return _("That button doesn't belong to this question. {instruction}").format(
        instruction=instruction
    )


def problem_choice_too_few_options(count: int) -> str:
    return _("A choice question needs at least 2 options; this one has {count}.").format(
        count=count
    )


def problem_choice_too_many_options(count: int, most: int) -> str:
    return _("A choice question can have at most {most} options; this one has {count}.").format(
        most=most, count=count
    )


def problem_choice_blank_option(position: int) -> str:
    return _("Option {position} is empty.").format(position=position)


def problem_choice_option_too_long(position: int, most: int) -> str:
    return _(
        "Option {position} is too long; keep it to {most} characters so it fits a button."
    ).format(position=position, most=most)


def problem_choice_duplicate_option(option: str) -> str:
    return _("The option “{option}” is listed more than once.").format(option=escape(option))


def problem_options_not_allowed(type_name: str) -> str:
    return _("Only choice questions have options; this is a {type_name} question.").format(
        type_name=type_name
    )


def problem_bounds_not_allowed(type_name: str) -> str:
    return _(
        "Only number and scale questions have a minimum and maximum; this is a "
        "{type_name} question."
    ).format(type_name=type_name)


def problem_bounds_not_finite() -> str:
    return _("The minimum and maximum must be ordinary numbers.")


def problem_min_above_max(lo: str, hi: str) -> str:
    return _("The minimum ({lo}) is greater than the maximum ({hi}).").format(lo=lo, hi=hi)


def problem_scale_bounds_not_whole() -> str:
    return _("The ends of a scale must be whole numbers.")


def problem_scale_too_narrow(value: int) -> str:
    return _("A scale needs its top above its bottom; both are {value}.").format(value=value)


def problem_scale_too_wide(lo: int, hi: int, most: int) -> str:
    # Counted as the buttons the patient gets: 0 to 10 is eleven, not ten "steps".
    return _(
        "A scale can have at most {points} points (for example 0 to {most}); {lo} to {hi} "
        "has {count}."
    ).format(points=most + 1, most=most, lo=lo, hi=hi, count=hi - lo + 1)


def problem_whole_bounds_needed() -> str:
    return _("When only whole numbers are allowed, the minimum and maximum must be whole too.")


def problem_integer_only_not_allowed(type_name: str) -> str:
    return _(
        "“Whole numbers only” applies to number questions; this is a {type_name} question."
    ).format(type_name=type_name)


def problem_max_length_not_allowed(type_name: str) -> str:
    return _("Only text questions have a maximum length; this is a {type_name} question.").format(
        type_name=type_name
    )


def problem_max_length_too_small() -> str:
    return _("The maximum answer length must be at least 1 character.")


def alert_rule_malformed() -> str:
    examples = ", ".join(escape(f"“{example}”") for example in (">= 8", "<= 2", _("== no")))
    return _("Write the alert as a comparison and a value, for example {examples}.").format(
        examples=examples
    )


def alert_rule_not_supported(type_name: str) -> str:
    return _(
        "Alerts can't be set on {type_name} questions; they work on number, "
        "scale, yes/no, choice, photo and video questions."
    ).format(type_name=type_name)


def alert_rule_needs_number() -> str:
    return _("The alert value must be a number, for example {value}.").format(
        value=escape("“>= 8”")
    )


def alert_rule_out_of_range(lo: str | None, hi: str | None) -> str:
    if lo is not None and hi is not None:
        return _(
            "The alert value must be between {lo} and {hi}, the range of this question."
        ).format(lo=lo, hi=hi)
    if lo is not None:
        return _("The alert value must be at least {lo}, the minimum of this question.").format(
            lo=lo
        )
    return _("The alert value must be at most {hi}, the maximum of this question.").format(hi=hi)


def alert_rule_yes_no_op() -> str:
    return _("A yes/no alert compares with == or !=, for example {value}.").format(
        value=escape("“== no”")
    )


def alert_rule_yes_no_value(value: str) -> str:
    return _("A yes/no alert compares with yes or no, not “{value}”.").format(value=escape(value))


def alert_rule_choice_op(example_option: str) -> str:
    example = escape(f"“== {example_option}”")
    return _("A choice alert compares with == or !=, for example {example}.").format(
        example=example
    )


def alert_rule_unknown_option(value: str, options: list[str]) -> str:
    listing = ", ".join(escape(option) for option in options)
    return _("“{value}” is not one of the options: {listing}.").format(
        value=escape(value), listing=listing
    )


_ALERT_OPS_IN_WORDS = {
    ">=": N_("{} or more"),
    "<=": N_("{} or less"),
    ">": N_("more than {}"),
    "<": N_("less than {}"),
    "==": "{}",
    "!=": N_("anything but {}"),
}


def alert_rule_media(value: str) -> str:
    return _(
        "A photo or video question alerts on every answer: type <code>any</code> for that, "
        "not “{value}”, or tap No alert."
    ).format(value=escape(value))


_MEDIA_ALERT_WORDS = N_("every photo or video")


def _rule_value(value: str) -> str:
    """A rule's value as the reader reads it: yes and no in their language ("Nein")."""
    if value == "yes":
        return label_yes()
    if value == "no":
        return label_no()
    return value


def alert_condition(op: str, value: str) -> str:
    """A rule in words, for HTML: "No", "8 or more", "anything but Left"."""
    if value == "*":
        return _(_MEDIA_ALERT_WORDS)
    return _(_ALERT_OPS_IN_WORDS.get(op, "{}")).format(escape(_rule_value(value)))


def admin_button_alert(op: str, value: str) -> str:
    """A suggested rule's button (plain text): "Alert on No", "Alert on 8 or more"."""
    if value == "*":
        return _("🔔 Alert on {shown}").format(shown=_(_MEDIA_ALERT_WORDS))
    shown = _rule_value(value)
    return _("🔔 Alert on {shown}").format(
        shown=_(_ALERT_OPS_IN_WORDS.get(op, "{}")).format(shown)
    )
