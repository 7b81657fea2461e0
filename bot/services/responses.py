"""Parse and validate a patient's answer for each response type, and the alert rules on answers.

Pure: no Telegram, no I/O. A handler reduces a Telegram message to a ``Reply``; this module
decides whether it answers the question and, if not, what the re-ask says (a ``Meaning`` the
rendering floor words).

``Accepted.display`` and ``format_alert_rule`` return raw strings (a patient's text, an option
name, ``">= 8"``); whoever puts them into an HTML message escapes them.
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal, assert_never

from bot.frozen import frozen
from bot.services.content import versions
from bot.services.meaning import Kind, Meaning, meaning


class ResponseType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    YES_NO = "yes_no"
    SCALE = "scale"
    CHOICE = "choice"
    PHOTO = "photo"
    VIDEO = "video"


BUTTON_TYPES: Final = frozenset({ResponseType.YES_NO, ResponseType.SCALE, ResponseType.CHOICE})
MEDIA_TYPES: Final = frozenset({ResponseType.PHOTO, ResponseType.VIDEO})
_BOUNDED_TYPES: Final = frozenset({ResponseType.NUMBER, ResponseType.SCALE})
ALERT_TYPES: Final = frozenset(
    {
        ResponseType.NUMBER,
        ResponseType.SCALE,
        ResponseType.YES_NO,
        ResponseType.CHOICE,
        ResponseType.PHOTO,
        ResponseType.VIDEO,
    }
)
# A photo or video question's one rule, stored as "== *": alert on every photo (or video),
# which then carries the photo itself to the therapists. Typed as "any" (or "every", "all").
MEDIA_ALERT_VALUE: Final = "*"
_MEDIA_ALERT_WORDS: Final = frozenset({"*", "any", "every", "all", "always"})

DEFAULT_SCALE_MIN: Final = 0
DEFAULT_SCALE_MAX: Final = 10
# A wider scale no longer fits an inline keyboard a patient can read on a phone.
MAX_SCALE_SPAN: Final = 20
DEFAULT_MAX_TEXT_LENGTH: Final = 1000
MIN_CHOICE_OPTIONS: Final = 2
# More buttons than this stop fitting on one phone screen.
MAX_CHOICE_OPTIONS: Final = 10
# Telegram cuts long button labels off, so a longer option could not be read on its button.
MAX_OPTION_LENGTH: Final = 64

# Only plain decimal notation: float() alone would also take "nan", "inf", "1e400" and "1_000".
_NUMBER_RE: Final = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
# Longer than any number a patient means; keeps float() away from pathological input.
_MAX_NUMBER_CHARS: Final = 40
_SCALE_OUT_OF_RE: Final = re.compile(r"(.+?)\s*/\s*(.+)")
# "5,000" or "1.500": a thousands separator to one patient, a decimal one to another (an
# English patient's five thousand, a German's one and a half); taken for either, a wrong
# number is stored without a word, so it is asked again. "0,500" and "12,5" read one way only.
_TWO_READINGS_RE: Final = re.compile(r"[+-]?0*[1-9]\d{0,2}[.,]\d{3}")

# English, plus what German and Spanish patients type (the bot speaks those too).
_YES_WORDS: Final = frozenset(
    {"yes", "y", "yeah", "yea", "yep", "yup", "ya", "yes please", "👍"}
    | {"ja", "jawohl", "ja bitte", "sí", "si", "claro"}
)
_NO_WORDS: Final = frozenset({"no", "n", "nope", "nah", "no thanks", "👎"} | {"nein", "nö"})
_YES_TOKEN: Final = "y"
_NO_TOKEN: Final = "n"
# Emoji variation selector and skin tones, so every thumbs-up reads the same.
_EMOJI_MODIFIERS: Final = dict.fromkeys([0xFE0F, *range(0x1F3FB, 0x1F400)])


@frozen
class QuestionRules:
    """How a question is answered; ``validate`` says what is wrong with a definition."""

    response_type: ResponseType
    options: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    integer_only: bool = False
    max_length: int | None = None
    required: bool = True

    def __post_init__(self) -> None:
        # Definitions come from TOML and database rows, which hand over plain strings and lists.
        object.__setattr__(self, "response_type", ResponseType(self.response_type))
        object.__setattr__(self, "options", tuple(self.options))

    def scale_bounds(self) -> tuple[int, int]:
        """Return the lowest and highest point of a scale (0 to 10 unless set)."""
        return (
            _whole_or_default(self.min_value, DEFAULT_SCALE_MIN, math.ceil),
            _whole_or_default(self.max_value, DEFAULT_SCALE_MAX, math.floor),
        )

    def text_limit(self) -> int:
        """Return the most characters a text answer may have."""
        return DEFAULT_MAX_TEXT_LENGTH if self.max_length is None else self.max_length

    def validate(self) -> list[Meaning]:
        """Return what is wrong with this definition, one problem each; empty when it is sound."""
        kind = self.response_type
        type_name = meaning(Kind.RESPONSE_TYPE_NAME, code=str(kind))
        problems: list[Meaning] = []
        if kind == ResponseType.CHOICE:
            problems += _choice_problems(self.options)
        elif self.options:
            problems.append(meaning(Kind.PROBLEM_OPTIONS_NOT_ALLOWED, type_name=type_name))
        if kind in _BOUNDED_TYPES:
            problems += self._bound_problems()
        elif self.min_value is not None or self.max_value is not None:
            problems.append(meaning(Kind.PROBLEM_BOUNDS_NOT_ALLOWED, type_name=type_name))
        # A scale is whole numbers anyway, so the flag is harmless there.
        if self.integer_only and kind not in _BOUNDED_TYPES:
            problems.append(meaning(Kind.PROBLEM_INTEGER_ONLY_NOT_ALLOWED, type_name=type_name))
        if kind == ResponseType.TEXT:
            if self.max_length is not None and self.max_length < 1:
                problems.append(meaning(Kind.PROBLEM_MAX_LENGTH_TOO_SMALL))
        elif self.max_length is not None:
            problems.append(meaning(Kind.PROBLEM_MAX_LENGTH_NOT_ALLOWED, type_name=type_name))
        return problems

    def _bound_problems(self) -> list[Meaning]:
        bounds = [v for v in (self.min_value, self.max_value) if v is not None]
        if not all(math.isfinite(v) for v in bounds):
            return [meaning(Kind.PROBLEM_BOUNDS_NOT_FINITE)]
        whole = all(float(v).is_integer() for v in bounds)
        if self.response_type == ResponseType.SCALE:
            if not whole:
                return [meaning(Kind.PROBLEM_SCALE_BOUNDS_NOT_WHOLE)]
            lo, hi = self.scale_bounds()
            if lo > hi:
                return [meaning(Kind.PROBLEM_MIN_ABOVE_MAX, lo=str(lo), hi=str(hi))]
            if lo == hi:
                return [meaning(Kind.PROBLEM_SCALE_TOO_NARROW, value=lo)]
            if hi - lo > MAX_SCALE_SPAN:
                return [meaning(Kind.PROBLEM_SCALE_TOO_WIDE, lo=lo, hi=hi, most=MAX_SCALE_SPAN)]
            return []
        problems = []
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value > self.max_value
        ):
            problems.append(
                meaning(
                    Kind.PROBLEM_MIN_ABOVE_MAX,
                    lo=format_number(self.min_value),
                    hi=format_number(self.max_value),
                )
            )
        if self.integer_only and not whole:
            problems.append(meaning(Kind.PROBLEM_WHOLE_BOUNDS_NEEDED))
        return problems


@frozen
class Reply:
    """What the patient sent, already reduced from a Telegram message by the handler."""

    kind: Literal["text", "button", "photo", "video", "other"]
    text: str = ""
    file_id: str | None = None
    # What else it was: a key of ``OTHER_KINDS`` ("voice", "document"). A key, not words:
    # the handler's words were in the language in force before the patient's was known, and a
    # hint in German said "Erhalten: voice message".
    other_label: str = ""
    # The bot's message the patient replied to (swiped), if any: a reply to an earlier
    # question is not taken for the current one (``checkin.answering``).
    reply_to: int | None = None


# What a patient may send that is neither text nor a photo or video, as the hints name it.
OTHER_KINDS: Final = {
    "sticker": Kind.CHECKIN_LABEL_STICKER,
    "voice": Kind.CHECKIN_LABEL_VOICE,
    "audio": Kind.CHECKIN_LABEL_AUDIO,
    "animation": Kind.CHECKIN_LABEL_ANIMATION,
    "location": Kind.CHECKIN_LABEL_LOCATION,
    "contact": Kind.CHECKIN_LABEL_CONTACT,
    "poll": Kind.CHECKIN_LABEL_POLL,
    "document": Kind.CHECKIN_LABEL_DOCUMENT,
}


@frozen
class Accepted:
    display: str
    number: float | None = None
    boolean: bool | None = None
    file_id: str | None = None


@frozen
class Rejected:
    hint: Meaning


class AlertRuleError(ValueError):
    """An alert rule the therapist has to write again; ``problem`` says why."""

    def __init__(self, problem: Meaning) -> None:
        super().__init__(problem)
        self.problem = problem


# What a yes/no, photo or video answer stores as its value (exports and summaries show it, and
# alert rules compare it); a stored value, not a sentence, so it stays the same in any language.
STORED_YES: Final = "Yes"
STORED_NO: Final = "No"
STORED_PHOTO: Final = "photo"
STORED_VIDEO: Final = "video"


def parse_reply(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    """Turn a patient's reply into an answer, or say how to answer instead."""
    return _PARSERS[rules.response_type](rules, reply)


def button_tokens(rules: QuestionRules) -> list[tuple[str | Meaning, str]]:
    """Return (label, token) pairs for the inline keyboard; empty for types without buttons.

    A label is what the patient wrote the option as, a number, or a ``Meaning`` (yes, no) that
    the rendering floor words.
    """
    kind = rules.response_type
    if kind == ResponseType.YES_NO:
        return [(meaning(Kind.LABEL_YES), _YES_TOKEN), (meaning(Kind.LABEL_NO), _NO_TOKEN)]
    if kind == ResponseType.SCALE:
        lo, hi = rules.scale_bounds()
        return [(str(value), str(value)) for value in range(lo, hi + 1)]
    if kind == ResponseType.CHOICE:
        return [(option, str(index)) for index, option in enumerate(rules.options)]
    return []


def answer_hint(rules: QuestionRules) -> Meaning:
    """Return the "how to answer" line shown under a question."""
    kind = rules.response_type
    match kind:
        case ResponseType.TEXT:
            return _text_hint(rules)
        case ResponseType.NUMBER:
            return _number_hint(rules)
        case ResponseType.YES_NO:
            return meaning(Kind.HINT_YES_NO)
        case ResponseType.SCALE:
            lo, hi = rules.scale_bounds()
            return meaning(Kind.HINT_SCALE, lo=lo, hi=hi)
        case ResponseType.CHOICE:
            return meaning(Kind.HINT_CHOICE)
        case ResponseType.PHOTO:
            return meaning(Kind.HINT_PHOTO)
        case ResponseType.VIDEO:
            return meaning(Kind.HINT_VIDEO)
        case _:
            assert_never(kind)


def format_number(value: float) -> str:
    """Write a number the way a person would: 7, 7.5, -3, 0.000001 (never 7.0 or 1e-06)."""
    value = float(value)  # TOML and SQL hand over ints, which lack is_integer() before 3.12
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text and math.isfinite(value):
        # Stored answers, summaries and exports show what parse_number reads back, and a
        # patient never writes exponents.
        text = format(Decimal(text), "f")
    return text.removesuffix(".0")


def parse_number(text: str) -> float | None:
    """Read a finite number in plain decimal notation, decimal comma allowed; None otherwise."""
    cleaned = text.strip().replace("\u2212", "-")
    if len(cleaned) > _MAX_NUMBER_CHARS or not _NUMBER_RE.fullmatch(cleaned):
        return None
    value = float(cleaned.replace(",", "."))
    return value if math.isfinite(value) else None


# --- answers, per response type -----------------------------------------------------------


def _text_hint(rules: QuestionRules) -> Meaning:
    """A limit the therapist set is said with the question, not only once it was passed."""
    if rules.max_length is None:
        return meaning(Kind.HINT_TYPE_TEXT)
    return meaning(Kind.HINT_TYPE_TEXT_UP_TO, most=rules.max_length)


def _parse_text(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    if reply.kind != "text":
        return _wrong_kind(reply, _text_hint(rules))
    cleaned = _strip_control_characters(reply.text).strip()
    if not cleaned:
        return Rejected(meaning(Kind.HINT_TEXT_EMPTY))
    limit = rules.text_limit()
    if len(cleaned) > limit:
        return Rejected(meaning(Kind.HINT_TEXT_TOO_LONG, length=len(cleaned), max_length=limit))
    return Accepted(display=cleaned)


def _parse_number(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    if reply.kind != "text":
        return _wrong_kind(reply, _number_hint(rules, typed=True))
    value = parse_number(reply.text)
    typed = reply.text.strip()
    if value is not None and _TWO_READINGS_RE.fullmatch(typed):
        whole = float(typed.replace(",", "").replace(".", ""))
        return Rejected(
            meaning(Kind.HINT_NUMBER_TWO_READINGS, typed=typed, whole=whole, decimal=value)
        )
    if value is None:
        if any(c.isdigit() for c in reply.text):
            return Rejected(_number_hint(rules))
        return Rejected(meaning(Kind.HINT_NUMBER_IN_WORDS, example=_example(rules, reply.text)))
    problem = _number_problem(rules, value, scale=False)
    if problem is not None:
        return Rejected(problem)
    value += 0.0  # turns -0.0 into 0.0, so it never reads back as "-0"
    return Accepted(display=format_number(value), number=value)


def _parse_yes_no(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    if reply.kind == "button":
        if reply.text in (_YES_TOKEN, _NO_TOKEN):
            return _yes_no_answer(reply.text == _YES_TOKEN)
        return Rejected(meaning(Kind.HINT_STALE_BUTTON, instruction=meaning(Kind.HINT_YES_NO)))
    if reply.kind != "text":
        return _wrong_kind(reply, meaning(Kind.HINT_YES_NO))
    word = _normalise(reply.text).translate(_EMOJI_MODIFIERS)
    if word in _YES_WORDS:
        return _yes_no_answer(True)
    if word in _NO_WORDS:
        return _yes_no_answer(False)
    return Rejected(meaning(Kind.HINT_YES_NO_RETRY))


def _parse_scale(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    lo, hi = rules.scale_bounds()
    if reply.kind == "button":
        if reply.text in {token for _, token in button_tokens(rules)}:
            return _scale_answer(int(reply.text))
        return Rejected(
            meaning(Kind.HINT_STALE_BUTTON, instruction=meaning(Kind.HINT_SCALE, lo=lo, hi=hi))
        )
    if reply.kind != "text":
        return _wrong_kind(reply, meaning(Kind.HINT_SCALE, lo=lo, hi=hi))
    text = reply.text.strip()
    # Patients often write a pain score as "7/10".
    out_of = _SCALE_OUT_OF_RE.fullmatch(text)
    if out_of and parse_number(out_of[2]) == hi:
        text = out_of[1]
    value = parse_number(text)
    if value is None:
        return Rejected(meaning(Kind.HINT_SCALE_RETRY, lo=lo, hi=hi))
    scale = QuestionRules(ResponseType.NUMBER, min_value=lo, max_value=hi, integer_only=True)
    problem = _number_problem(scale, value, scale=True)
    if problem is not None:
        return Rejected(problem)
    return _scale_answer(int(value))


def _parse_choice(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    options = rules.options
    if reply.kind == "button":
        tokens = {
            token: option for option, token in button_tokens(rules) if isinstance(option, str)
        }
        if reply.text in tokens:
            return Accepted(display=str(tokens[reply.text]))
        return Rejected(meaning(Kind.HINT_STALE_BUTTON, instruction=meaning(Kind.HINT_CHOICE)))
    if reply.kind != "text":
        return _wrong_kind(reply, meaning(Kind.HINT_CHOICE))
    option = _find_option(options, reply.text)
    # Options with numbers in them ("0", "1-2", "5+") are not picked by position: "1" there
    # means the patient's count, and read as the first option it stored "0".
    numbered = not any(c.isdigit() for option in options for c in str(option))
    if option is None and numbered:
        number = reply.text.strip().rstrip(".)")
        if number.isascii() and number.isdigit() and 1 <= int(number) <= len(options):
            option = options[int(number) - 1]
    if option is None:
        return Rejected(meaning(Kind.HINT_CHOICE_RETRY, options=list(options), numbered=numbered))
    # The canonical option, whichever language's version was typed (``str`` drops them).
    return Accepted(display=str(option))


def _parse_photo(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    if reply.kind == "photo" and reply.file_id:
        return Accepted(display=STORED_PHOTO, file_id=reply.file_id)
    if reply.kind == "other" and reply.other_label == "document":
        return Rejected(meaning(Kind.HINT_PHOTO_SENT_AS_FILE))
    if reply.kind in ("text", "photo"):
        return Rejected(meaning(Kind.HINT_PHOTO))
    return _wrong_kind(reply, meaning(Kind.HINT_PHOTO))


def _parse_video(rules: QuestionRules, reply: Reply) -> Accepted | Rejected:
    if reply.kind == "video" and reply.file_id:
        return Accepted(display=STORED_VIDEO, file_id=reply.file_id)
    if reply.kind == "other" and reply.other_label == "document":
        return Rejected(meaning(Kind.HINT_VIDEO_SENT_AS_FILE))
    if reply.kind in ("text", "video"):
        return Rejected(meaning(Kind.HINT_VIDEO))
    return _wrong_kind(reply, meaning(Kind.HINT_VIDEO))


_PARSERS: Final[dict[ResponseType, Callable[[QuestionRules, Reply], Accepted | Rejected]]] = {
    ResponseType.TEXT: _parse_text,
    ResponseType.NUMBER: _parse_number,
    ResponseType.YES_NO: _parse_yes_no,
    ResponseType.SCALE: _parse_scale,
    ResponseType.CHOICE: _parse_choice,
    ResponseType.PHOTO: _parse_photo,
    ResponseType.VIDEO: _parse_video,
}


def _wrong_kind(reply: Reply, instruction: Meaning) -> Rejected:
    if reply.kind == "button":
        return Rejected(meaning(Kind.HINT_STALE_BUTTON, instruction=instruction))
    if reply.kind == "photo":
        return Rejected(
            meaning(
                Kind.HINT_RECEIVED,
                label=meaning(Kind.ANSWER_DISPLAY_PHOTO),
                instruction=instruction,
            )
        )
    if reply.kind == "video":
        return Rejected(
            meaning(
                Kind.HINT_RECEIVED,
                label=meaning(Kind.ANSWER_DISPLAY_VIDEO),
                instruction=instruction,
            )
        )
    if reply.kind == "other" and reply.other_label in OTHER_KINDS:
        label = meaning(OTHER_KINDS[reply.other_label])
        return Rejected(meaning(Kind.HINT_RECEIVED, label=label, instruction=instruction))
    return Rejected(meaning(Kind.HINT_RECEIVED_UNKNOWN, instruction=instruction))


def _number_hint(rules: QuestionRules, *, typed: bool = False) -> Meaning:
    return meaning(
        Kind.HINT_NUMBER,
        whole=rules.integer_only,
        lo=rules.min_value,
        hi=rules.max_value,
        typed=typed,
    )


def _number_problem(rules: QuestionRules, value: float, *, scale: bool) -> Meaning | None:
    """What is wrong with a number read from a reply, naming the bound it missed; None if fine."""
    # Bounds as numbers: the sentence writes them with the reader's decimal mark ("0,5").
    lo, hi = rules.min_value, rules.max_value
    whole = rules.integer_only
    if rules.min_value is not None and value < rules.min_value:
        return meaning(Kind.HINT_NUMBER_BELOW, whole=whole, lo=lo, hi=hi, scale=scale)
    if rules.max_value is not None and value > rules.max_value:
        return meaning(Kind.HINT_NUMBER_ABOVE, whole=whole, lo=lo, hi=hi, scale=scale)
    if whole and not value.is_integer():
        return meaning(Kind.HINT_NUMBER_NOT_WHOLE, lo=lo, hi=hi, scale=scale)
    return None


_NUMBER_WORDS: Final = {
    word: n
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
} | {
    word: 10 * n
    for n, word in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], start=2
    )
}


def _number_in_words(text: str) -> int | None:
    """The first number written in words: "about twenty", "twenty-five", "one hundred and
    five"; None when there is none."""
    value: int | None = None
    for word in re.split(r"[\s,.!?-]+", text.casefold()):
        if word in _NUMBER_WORDS:
            value = (value or 0) + _NUMBER_WORDS[word]
        elif word == "hundred":
            value = (value or 1) * 100
        elif value is not None and word != "and":
            break
    return value


def _example(rules: QuestionRules, text: str) -> str:
    """A number to show how to type one: the one written in words if it fits, else one in range."""
    in_words = _number_in_words(text)
    if in_words is not None and _number_problem(rules, float(in_words), scale=False) is None:
        return str(in_words)
    example = 10.0
    if rules.max_value is not None:
        example = min(example, rules.max_value)
    if rules.min_value is not None:
        example = max(example, rules.min_value)
    if rules.integer_only and not example.is_integer():
        example = float(math.ceil(example))
    return format_number(example)


def _yes_no_answer(value: bool) -> Accepted:
    return Accepted(display=STORED_YES if value else STORED_NO, boolean=value)


def _scale_answer(value: int) -> Accepted:
    return Accepted(display=str(value), number=float(value))


def _find_option(options: tuple[str, ...], text: str) -> str | None:
    """The option ``text`` names: as written, else in any language it is translated into."""
    wanted = _normalise(text)
    if not wanted:
        return None
    exact = next((option for option in options if _normalise(option) == wanted), None)
    if exact is not None:
        return exact
    return next(
        (o for o in options if any(_normalise(v) == wanted for v in versions(o)[1:])), None
    )


def _normalise(text: str) -> str:
    """Fold what a phone keyboard varies on: case, spacing, a trailing full stop."""
    return " ".join(text.casefold().split()).rstrip(".!")


def _strip_control_characters(text: str) -> str:
    # Keep line breaks and tabs: patients write lists. Other control characters only confuse
    # exports and terminals.
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _whole_or_default(value: float | None, default: int, rounding: Callable[[float], int]) -> int:
    if value is None or not math.isfinite(value):
        return default
    return rounding(value)


def _choice_problems(options: tuple[str, ...]) -> list[Meaning]:
    problems: list[Meaning] = []
    if len(options) < MIN_CHOICE_OPTIONS:
        problems.append(meaning(Kind.PROBLEM_CHOICE_TOO_FEW_OPTIONS, count=len(options)))
    elif len(options) > MAX_CHOICE_OPTIONS:
        problems.append(
            meaning(
                Kind.PROBLEM_CHOICE_TOO_MANY_OPTIONS, count=len(options), most=MAX_CHOICE_OPTIONS
            )
        )
    seen: set[str] = set()
    reported: set[str] = set()
    for position, option in enumerate(options, 1):
        key = _normalise(option)
        if not key:
            problems.append(meaning(Kind.PROBLEM_CHOICE_BLANK_OPTION, position=position))
            continue
        if len(option) > MAX_OPTION_LENGTH:
            problems.append(
                meaning(
                    Kind.PROBLEM_CHOICE_OPTION_TOO_LONG, position=position, most=MAX_OPTION_LENGTH
                )
            )
        if key in seen and key not in reported:
            problems.append(meaning(Kind.PROBLEM_CHOICE_DUPLICATE_OPTION, option=option))
            reported.add(key)
        seen.add(key)
    return problems


# --- alert rules --------------------------------------------------------------------------

AlertOp = Literal[">=", "<=", ">", "<", "==", "!="]

_ALERT_RE: Final = re.compile(r"\s*(>=|<=|==|!=|=|>|<|≥|≤|≠)\s*(.*?)\s*", re.DOTALL)
_ALERT_OPS: Final[dict[str, AlertOp]] = {
    ">=": ">=",
    "<=": "<=",
    ">": ">",
    "<": "<",
    "==": "==",
    "!=": "!=",
    "=": "==",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
}
_OPERATOR_CHARS: Final = "<>=!≥≤≠"
_EQUALITY_OPS: Final = frozenset({"==", "!="})
_NUMERIC_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
# Phones turn typed quotes into curly ones.
_QUOTE_PAIRS: Final = {'"': '"', "'": "'", "“": "”", "„": "“", "‘": "’", "«": "»"}


@frozen
class AlertRule:
    op: AlertOp
    value: str


def parse_alert_rule(text: str, rules: QuestionRules) -> AlertRule:
    """Read a therapist's alert such as ">= 8" or "== no" for a question.

    Raises AlertRuleError saying what the therapist can act on.
    """
    kind = rules.response_type
    if kind not in ALERT_TYPES:
        raise AlertRuleError(
            meaning(
                Kind.ALERT_RULE_NOT_SUPPORTED,
                type_name=meaning(Kind.RESPONSE_TYPE_NAME, code=str(kind)),
            )
        )
    if kind in MEDIA_TYPES:
        word = _normalise(text).lstrip("=").strip()
        if word not in _MEDIA_ALERT_WORDS:
            raise AlertRuleError(meaning(Kind.ALERT_RULE_MEDIA, value=text.strip()))
        return AlertRule("==", MEDIA_ALERT_VALUE)
    match = _ALERT_RE.fullmatch(_with_operator(text, kind))
    value = _unquote(match[2]) if match else ""
    # "=> 8" is a mistyped operator, not "= > 8"; only an option name ("<5 min") may start so.
    mistyped_op = bool(value) and value[0] in _OPERATOR_CHARS and kind != ResponseType.CHOICE
    if match is None or not value or mistyped_op:
        raise AlertRuleError(meaning(Kind.ALERT_RULE_MALFORMED))
    op = _ALERT_OPS[match[1]]
    if kind in _BOUNDED_TYPES:
        return AlertRule(op, _alert_number(value, rules))
    if kind == ResponseType.YES_NO:
        if op not in _EQUALITY_OPS:
            raise AlertRuleError(meaning(Kind.ALERT_RULE_YES_NO_OP))
        word = _normalise(value)
        if word in _YES_WORDS:
            return AlertRule(op, "yes")
        if word in _NO_WORDS:
            return AlertRule(op, "no")
        raise AlertRuleError(meaning(Kind.ALERT_RULE_YES_NO_VALUE, value=value))
    if op not in _EQUALITY_OPS:
        raise AlertRuleError(
            meaning(
                Kind.ALERT_RULE_CHOICE_OP,
                example_option=rules.options[0] if rules.options else "…",
            )
        )
    option = _find_option(rules.options, value)
    if option is None:
        raise AlertRuleError(
            meaning(Kind.ALERT_RULE_UNKNOWN_OPTION, value=value, options=list(rules.options))
        )
    return AlertRule(op, option)


_AT_LEAST_RE: Final = re.compile(r"(?:at least\s+)?(\S+?)\s*(?:\+|or more|and (?:up|above))")
_AT_MOST_RE: Final = re.compile(r"(?:at most\s+)?(\S+?)\s*(?:or less|or fewer|and below)")
_AT_EDGE_RE: Final = re.compile(r"(at least|at most)\s+(\S+)")


def _with_operator(text: str, kind: ResponseType) -> str:
    """The shorthands therapists type, as a comparison: "no" is "== no", "8+" and "8 or more"
    and "at least 8" are ">= 8", "2 or less" and "at most 2" are "<= 2"."""
    cleaned = " ".join(text.split())
    if not cleaned or cleaned[0] in _OPERATOR_CHARS:
        return text
    if kind in _BOUNDED_TYPES:
        lowered = cleaned.casefold()
        if found := _AT_LEAST_RE.fullmatch(lowered):
            return f">= {found[1]}"
        if found := _AT_MOST_RE.fullmatch(lowered):
            return f"<= {found[1]}"
        if found := _AT_EDGE_RE.fullmatch(lowered):
            return f"{'>=' if found[1] == 'at least' else '<='} {found[2]}"
        return text
    return f"== {cleaned}"


# Choice questions offer a button per option up to this many; beyond it the rule is typed.
MAX_SUGGESTED_OPTIONS = 6


def suggested_alert_rules(rules: QuestionRules) -> tuple[AlertRule, ...]:
    """The common rules for a question, offered as buttons: on No and on Yes, at the top or the
    bottom of a scale, on an option. Each is the rule its typed form would give."""
    kind = rules.response_type
    if kind == ResponseType.YES_NO:
        return (AlertRule("==", "no"), AlertRule("==", "yes"))
    if kind == ResponseType.SCALE:
        lo, hi = rules.scale_bounds()
        high, low = max(lo, hi - 2), min(hi, lo + 2)
        return (AlertRule(">=", str(high)), AlertRule("<=", str(low)))
    if kind == ResponseType.CHOICE and len(rules.options) <= MAX_SUGGESTED_OPTIONS:
        return tuple(AlertRule("==", option) for option in rules.options)
    if kind in MEDIA_TYPES:
        return (AlertRule("==", MEDIA_ALERT_VALUE),)
    return ()


def alert_matches(rule: AlertRule, answer: Accepted) -> bool:
    """Say whether an accepted answer meets the alert rule."""
    if answer.file_id is not None:
        return rule.value == MEDIA_ALERT_VALUE
    if rule.op in _EQUALITY_OPS:
        return _alert_equals(rule.value, answer) == (rule.op == "==")
    target = parse_number(rule.value)
    if target is None or answer.number is None:
        return False
    return _NUMERIC_COMPARE[rule.op](answer.number, target)


def format_alert_rule(rule: AlertRule) -> str:
    """Return the stored form of a rule, e.g. ">= 8" or "== no"."""
    return f"{rule.op} {rule.value}"


def _alert_number(value: str, rules: QuestionRules) -> str:
    number = parse_number(value)
    if number is None:
        raise AlertRuleError(meaning(Kind.ALERT_RULE_NEEDS_NUMBER))
    if rules.response_type == ResponseType.SCALE:
        lo: float | None
        hi: float | None
        lo, hi = rules.scale_bounds()
    else:
        lo, hi = rules.min_value, rules.max_value
    # Beyond the question's range a rule either never or always fires: surely a typo.
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise AlertRuleError(
            meaning(
                Kind.ALERT_RULE_OUT_OF_RANGE,
                lo=None if lo is None else format_number(lo),
                hi=None if hi is None else format_number(hi),
            )
        )
    return format_number(number + 0.0)


def _alert_equals(value: str, answer: Accepted) -> bool:
    if answer.boolean is not None:
        return (value == "yes") == answer.boolean
    if answer.number is not None:
        target = parse_number(value)
        if target is not None:
            return answer.number == target
    return _normalise(answer.display) == _normalise(value)


def _unquote(value: str) -> str:
    if len(value) >= 2 and _QUOTE_PAIRS.get(value[0]) == value[-1]:
        return value[1:-1].strip()
    return value
