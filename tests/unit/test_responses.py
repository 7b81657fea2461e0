"""Parsing and validating patients' answers, question definitions and alert rules."""

from __future__ import annotations

import re

import pytest

from bot.services.responses import (
    BUTTON_TYPES,
    MEDIA_TYPES,
    Accepted,
    AlertRule,
    QuestionRules,
    Rejected,
    Reply,
    ResponseType,
    alert_matches,
    answer_hint,
    button_tokens,
    format_alert_rule,
    format_number,
    parse_alert_rule,
    parse_reply,
    suggested_alert_rules,
)
from tests.fakes.words import raises_saying, worded

T = ResponseType

TEXT = QuestionRules(T.TEXT)
NUMBER = QuestionRules(T.NUMBER)
WHOLE_0_50 = QuestionRules(T.NUMBER, min_value=0, max_value=50, integer_only=True)
AT_LEAST_5 = QuestionRules(T.NUMBER, min_value=5)
YES_NO = QuestionRules(T.YES_NO)
SCALE = QuestionRules(T.SCALE)
CHOICE = QuestionRules(T.CHOICE, options=("Once", "Twice", "Three times"))
PHOTO = QuestionRules(T.PHOTO)
VIDEO = QuestionRules(T.VIDEO)

PHOTO_HINT = "Please send a photo (tap 📎, then choose or take a picture)."
VIDEO_HINT = "Please send a video (tap 📎, then choose or record a video)."
STALE = "That button doesn't belong to this question. "


def typed(text: str) -> Reply:
    return Reply(kind="text", text=text)


def button(token: str) -> Reply:
    return Reply(kind="button", text=token)


def other(label: str) -> Reply:
    return Reply(kind="other", other_label=label)


def accepted(rules: QuestionRules, reply: Reply) -> Accepted:
    result = parse_reply(rules, reply)
    assert isinstance(result, Accepted), result
    return result


def hint(rules: QuestionRules, reply: Reply) -> str:
    result = parse_reply(rules, reply)
    assert isinstance(result, Rejected), result
    return worded(result.hint)


def test_button_and_media_type_sets() -> None:
    assert {T.YES_NO, T.SCALE, T.CHOICE} == BUTTON_TYPES
    assert {T.PHOTO, T.VIDEO} == MEDIA_TYPES


def test_rules_accept_plain_strings_from_storage() -> None:
    rules = QuestionRules("choice", options=["A", "B"])  # type: ignore[arg-type]
    assert rules.response_type is T.CHOICE
    assert rules.options == ("A", "B")


# --- text -----------------------------------------------------------------------------------


def test_text_is_stored_trimmed() -> None:
    assert accepted(TEXT, typed("  Felt fine today \n")) == Accepted(display="Felt fine today")


def test_text_keeps_newlines_and_tabs_but_drops_other_control_characters() -> None:
    answer = accepted(TEXT, typed("line one\r\nline\x00 two\x07\tend"))
    assert answer.display == "line one\nline two\tend"


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\x00\x01"])
def test_blank_text_is_rejected(text: str) -> None:
    assert hint(TEXT, typed(text)) == "That message was empty. Please type your answer."


def test_text_at_the_default_limit_is_accepted_and_one_more_is_not() -> None:
    assert accepted(TEXT, typed("x" * 1000)).display == "x" * 1000
    assert hint(TEXT, typed("x" * 1001)) == (
        "Your answer is 1001 characters long. "
        "Please shorten it to at most 1000 characters and send it again."
    )


def test_text_respects_a_configured_limit() -> None:
    rules = QuestionRules(T.TEXT, max_length=5)
    assert accepted(rules, typed(" hello ")).display == "hello"
    assert hint(rules, typed("hello!")).startswith("Your answer is 6 characters long.")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (other("sticker"), "That was a sticker. Please type your answer."),
        (other("voice"), "That was a voice message. Please type your answer."),
        (other("audio"), "That was an audio file. Please type your answer."),
        (Reply(kind="photo", file_id="f"), "That was a photo. Please type your answer."),
        (Reply(kind="video", file_id="f"), "That was a video. Please type your answer."),
        (other(""), "I can't use that kind of message here. Please type your answer."),
        (button("y"), STALE + "Please type your answer."),
    ],
)
def test_text_question_names_what_was_received_instead(reply: Reply, expected: str) -> None:
    assert hint(TEXT, reply) == expected


def test_a_kind_the_hints_do_not_know_is_not_named() -> None:
    assert hint(TEXT, other("<b>")) == (
        "I can't use that kind of message here. Please type your answer."
    )


# --- number ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "display", "number"),
    [
        ("7", "7", 7.0),
        (" 7.5 ", "7.5", 7.5),
        ("7,5", "7.5", 7.5),
        ("-3", "-3", -3.0),
        ("+4", "4", 4.0),
        ("−2", "-2", -2.0),
        (".5", "0.5", 0.5),
        ("7.0", "7", 7.0),
        ("-0", "0", 0.0),
        ("٣", "3", 3.0),
    ],
)
def test_number_accepts_plain_decimals(text: str, display: str, number: float) -> None:
    assert accepted(NUMBER, typed(text)) == Accepted(display=display, number=number)


@pytest.mark.parametrize("text", ["1e400", "1e3", "1_000", "1,000.5", "7 kg", "1" * 41])
def test_number_rejects_anything_but_a_plain_finite_number(text: str) -> None:
    assert hint(NUMBER, typed(text)) == "Please send a number."


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("5,000", "5000 or as 5"),
        ("1.500", "1500 or as 1.5"),
        ("-12,250", "-12250 or as -12.25"),
        (" 999.999 ", "999999 or as 999.999"),
        ("01.001", "1001 or as 1.001"),
    ],
)
def test_a_thousands_separator_that_reads_as_a_decimal_one_is_asked_again(
    text: str, readings: str
) -> None:
    """An English patient's 5,000 is a German patient's 5: stored as either, the other is
    wrong without a word."""
    assert hint(WHOLE_0_50, typed(text)) == (
        f"“{text.strip()}” can be read as {readings}. Please type it again without a "
        f"thousands separator, for example {readings.split()[0]}."
    )


@pytest.mark.parametrize(
    ("text", "number"), [("0,500", 0.5), ("12,5", 12.5), ("1234.567", 1234.567), ("7.25", 7.25)]
)
def test_a_decimal_that_reads_one_way_only_is_taken(text: str, number: float) -> None:
    assert accepted(NUMBER, typed(text)).number == number


@pytest.mark.parametrize(
    ("rules", "text", "example"),
    [
        (NUMBER, "seven", "7"),
        (NUMBER, "Twenty-five", "25"),
        (NUMBER, "one hundred and five", "105"),
        (NUMBER, "about twenty minutes, I think", "20"),
        (WHOLE_0_50, "twenty", "20"),
        (WHOLE_0_50, "sixty", "10"),  # out of range: an example that fits instead
        (WHOLE_0_50, "lots", "10"),
        (AT_LEAST_5, "", "10"),
        (QuestionRules(T.NUMBER, min_value=20, max_value=30), "nan", "20"),
        (QuestionRules(T.NUMBER, max_value=2.5), "-Infinity", "2.5"),
    ],
)
def test_a_number_in_words_is_asked_for_in_digits(
    rules: QuestionRules, text: str, example: str
) -> None:
    assert hint(rules, typed(text)) == (
        f"Please type the number with digits, for example {example}."
    )


@pytest.mark.parametrize(("text", "number"), [("0", 0.0), ("50", 50.0), ("50.0", 50.0)])
def test_whole_number_bounds_are_inclusive(text: str, number: float) -> None:
    assert accepted(WHOLE_0_50, typed(text)).number == number


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-1", "That is below 0"),
        ("51", "That is above 50"),
        ("50.5", "That is above 50"),
        ("7.5", "Only whole numbers here, without decimals"),
        ("7,5", "Only whole numbers here, without decimals"),
        ("49.99", "Only whole numbers here, without decimals"),
    ],
)
def test_whole_number_outside_bounds_or_fractional_says_which(text: str, problem: str) -> None:
    assert hint(WHOLE_0_50, typed(text)) == f"{problem}; please send a whole number from 0 to 50."


def test_number_with_only_a_minimum() -> None:
    assert accepted(AT_LEAST_5, typed("5")).number == 5.0
    assert accepted(AT_LEAST_5, typed("1000000")).number == 1_000_000.0
    assert hint(AT_LEAST_5, typed("4.99")) == (
        "That is below 5; please send a number of at least 5."
    )


def test_number_with_only_a_maximum() -> None:
    rules = QuestionRules(T.NUMBER, max_value=2.5)
    assert accepted(rules, typed("2,5")).display == "2.5"
    assert hint(rules, typed("3")) == "That is above 2.5; please send a number of at most 2.5."


def test_whole_number_without_bounds() -> None:
    rules = QuestionRules(T.NUMBER, integer_only=True)
    assert accepted(rules, typed("-12")).display == "-12"
    assert hint(rules, typed("1.5")) == (
        "Only whole numbers here, without decimals; please send a whole number."
    )


def test_number_question_names_a_sticker() -> None:
    rules = QuestionRules(T.NUMBER, min_value=0, max_value=10, integer_only=True)
    assert hint(rules, other("sticker")) == (
        "That was a sticker. Please type a whole number from 0 to 10."
    )


def test_number_question_refuses_a_button() -> None:
    assert hint(WHOLE_0_50, button("7")) == STALE + "Please type a whole number from 0 to 50."


# --- yes/no ---------------------------------------------------------------------------------


def test_yes_no_buttons() -> None:
    assert [(worded(label), token) for label, token in button_tokens(YES_NO)] == [
        ("Yes", "y"),
        ("No", "n"),
    ]
    assert accepted(YES_NO, button("y")) == Accepted(display="Yes", boolean=True)
    assert accepted(YES_NO, button("n")) == Accepted(display="No", boolean=False)


@pytest.mark.parametrize("token", ["Y", "yes", "1", "", "y ", "n\x00"])
def test_yes_no_forged_button_is_rejected(token: str) -> None:
    assert hint(YES_NO, button(token)) == STALE + "Please tap Yes or No."


@pytest.mark.parametrize(
    "text", ["yes", "Yes", " YES ", "y", "Yeah", "yep", "yup", "Yes.", "👍🏽"]
)
def test_yes_no_accepts_typed_yes(text: str) -> None:
    assert accepted(YES_NO, typed(text)).boolean is True


@pytest.mark.parametrize("text", ["no", "NO", "n", "Nope", "nah", "no!", "👎"])
def test_yes_no_accepts_typed_no(text: str) -> None:
    assert accepted(YES_NO, typed(text)).boolean is False


@pytest.mark.parametrize("text", ["maybe", "", "yes and no", "not sure"])
def test_yes_no_rejects_other_text(text: str) -> None:
    assert hint(YES_NO, typed(text)) == "Please tap Yes or No, or type yes or no."


def test_yes_no_names_a_voice_note() -> None:
    assert hint(YES_NO, other("voice")) == "That was a voice message. Please tap Yes or No."


# --- scale ----------------------------------------------------------------------------------


def test_scale_defaults_to_zero_to_ten() -> None:
    assert SCALE.scale_bounds() == (0, 10)
    tokens = button_tokens(SCALE)
    assert tokens == [(str(n), str(n)) for n in range(11)]
    assert all(token.isascii() and len(token) <= 2 for _, token in tokens)


@pytest.mark.parametrize("token", ["0", "7", "10"])
def test_scale_button_is_accepted(token: str) -> None:
    assert accepted(SCALE, button(token)) == Accepted(display=token, number=float(token))


@pytest.mark.parametrize("token", ["11", "-1", "07", "7.0", "x", ""])
def test_scale_forged_button_is_rejected(token: str) -> None:
    assert hint(SCALE, button(token)) == STALE + "Please tap a number from 0 to 10."


@pytest.mark.parametrize(("text", "number"), [("0", 0), (" 10 ", 10), ("7/10", 7), ("7 / 10", 7)])
def test_scale_accepts_a_typed_whole_number(text: str, number: int) -> None:
    assert accepted(SCALE, typed(text)) == Accepted(display=str(number), number=float(number))


@pytest.mark.parametrize("text", ["seven", "7/5", ""])
def test_scale_rejects_other_text(text: str) -> None:
    assert hint(SCALE, typed(text)) == "Please tap or type a whole number from 0 to 10."


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("11", "That is above 10"),
        ("-1", "That is below 0"),
        ("7.5", "Only whole numbers here, without decimals"),
    ],
)
def test_a_scale_answer_out_of_range_says_which_end(text: str, problem: str) -> None:
    assert (
        hint(SCALE, typed(text)) == f"{problem}; please tap or type a whole number from 0 to 10."
    )


def test_scale_with_own_bounds() -> None:
    rules = QuestionRules(T.SCALE, min_value=1, max_value=5)
    assert button_tokens(rules)[0] == ("1", "1")
    assert button_tokens(rules)[-1] == ("5", "5")
    assert hint(rules, button("0")) == STALE + "Please tap a number from 1 to 5."
    assert hint(rules, typed("6")) == (
        "That is above 5; please tap or type a whole number from 1 to 5."
    )
    assert accepted(rules, typed("5/5")).number == 5.0


def test_scale_names_a_photo() -> None:
    assert hint(SCALE, Reply(kind="photo", file_id="f")) == (
        "That was a photo. Please tap a number from 0 to 10."
    )


# --- choice ---------------------------------------------------------------------------------


def test_choice_buttons_use_short_index_tokens() -> None:
    assert button_tokens(CHOICE) == [("Once", "0"), ("Twice", "1"), ("Three times", "2")]


def test_choice_button_is_accepted() -> None:
    assert accepted(CHOICE, button("1")) == Accepted(display="Twice")


@pytest.mark.parametrize("token", ["3", "-1", "01", "Twice", ""])
def test_choice_forged_button_is_rejected(token: str) -> None:
    assert hint(CHOICE, button(token)) == STALE + "Please tap one of the options."


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("Twice", "Twice"),
        ("  twice ", "Twice"),
        ("THREE   times", "Three times"),
        ("1", "Once"),
        ("3", "Three times"),
        ("2.", "Twice"),
    ],
)
def test_choice_accepts_typed_name_or_number(text: str, option: str) -> None:
    assert accepted(CHOICE, typed(text)) == Accepted(display=option)


@pytest.mark.parametrize("text", ["0", "4", "thrice", ""])
def test_choice_rejects_other_text_and_lists_the_options(text: str) -> None:
    assert hint(CHOICE, typed(text)) == (
        "Please tap one of the options, or type its name or number: "
        "1 = Once, 2 = Twice, 3 = Three times."
    )


def test_choice_option_named_like_a_number_wins_over_position() -> None:
    rules = QuestionRules(T.CHOICE, options=("3", "2", "1"))
    assert accepted(rules, typed("1")).display == "1"


def test_choice_hint_escapes_option_names() -> None:
    rules = QuestionRules(T.CHOICE, options=("<five min", "Tom & Jerry"))
    assert hint(rules, typed("x")).endswith("1 = &lt;five min, 2 = Tom &amp; Jerry.")
    assert accepted(rules, typed("<FIVE MIN")).display == "<five min"


def test_choice_options_with_numbers_in_them_are_not_picked_by_position() -> None:
    """ "1" among 0 / 1-2 / 3-4 / 5+ is the patient's count, not the first option ("0")."""
    rules = QuestionRules(T.CHOICE, options=("0", "1-2", "3-4", "5+"))
    assert hint(rules, typed("1")) == (
        "Please tap one of the options, or type it as it is written: 0, 1-2, 3-4, 5+."
    )
    assert hint(rules, typed("4")).endswith("written: 0, 1-2, 3-4, 5+.")
    assert accepted(rules, typed("5+")).display == "5+"
    assert accepted(rules, typed("0")).display == "0"


# --- photo and video ------------------------------------------------------------------------


def test_photo_is_accepted_with_its_file_id() -> None:
    assert accepted(PHOTO, Reply(kind="photo", file_id="AgAD")) == Accepted(
        display="photo", file_id="AgAD"
    )


def test_video_is_accepted_with_its_file_id() -> None:
    assert accepted(VIDEO, Reply(kind="video", file_id="BAAD")) == Accepted(
        display="video", file_id="BAAD"
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (typed("done it"), PHOTO_HINT),
        (Reply(kind="photo"), PHOTO_HINT),
        (
            other("document"),
            "That arrived as a file. Please send it as a photo instead, not as a file.",
        ),
        (Reply(kind="video", file_id="v"), "That was a video. " + PHOTO_HINT),
        (other("sticker"), "That was a sticker. " + PHOTO_HINT),
        (button("y"), STALE + PHOTO_HINT),
    ],
)
def test_photo_question_rejects_everything_but_a_photo(reply: Reply, expected: str) -> None:
    assert hint(PHOTO, reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (typed("here"), VIDEO_HINT),
        (
            other("document"),
            "That arrived as a file. Please send it as a video instead, not as a file.",
        ),
        (Reply(kind="photo", file_id="p"), "That was a photo. " + VIDEO_HINT),
        (other("voice"), "That was a voice message. " + VIDEO_HINT),
    ],
)
def test_video_question_rejects_everything_but_a_video(reply: Reply, expected: str) -> None:
    assert hint(VIDEO, reply) == expected


def test_media_types_have_no_buttons() -> None:
    assert button_tokens(PHOTO) == []
    assert button_tokens(TEXT) == []


# --- answer hints ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (TEXT, "Please type your answer."),
        (WHOLE_0_50, "Please send a whole number from 0 to 50."),
        (AT_LEAST_5, "Please send a number of at least 5."),
        (YES_NO, "Please tap Yes or No."),
        (SCALE, "Please tap a number from 0 to 10."),
        (CHOICE, "Please tap one of the options."),
        (PHOTO, PHOTO_HINT),
        (VIDEO, VIDEO_HINT),
    ],
)
def test_answer_hint(rules: QuestionRules, expected: str) -> None:
    assert worded(answer_hint(rules)) == expected


@pytest.mark.parametrize(("value", "text"), [(7, "7"), (7.0, "7"), (7.5, "7.5"), (-0.25, "-0.25")])
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


# --- question definitions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        TEXT,
        QuestionRules(T.TEXT, max_length=1),
        NUMBER,
        WHOLE_0_50,
        QuestionRules(T.NUMBER, min_value=-2.5, max_value=2.5),
        QuestionRules(T.NUMBER, min_value=3, max_value=3),
        YES_NO,
        SCALE,
        QuestionRules(T.SCALE, min_value=-10, max_value=10),
        QuestionRules(T.SCALE, min_value=1, max_value=5, integer_only=True),
        CHOICE,
        PHOTO,
        VIDEO,
    ],
)
def test_sound_definitions_have_no_problems(rules: QuestionRules) -> None:
    assert rules.validate() == []


@pytest.mark.parametrize(
    ("rules", "problems"),
    [
        (
            QuestionRules(T.CHOICE),
            ["A choice question needs at least 2 options; this one has 0."],
        ),
        (
            QuestionRules(T.CHOICE, options=("Only",)),
            ["A choice question needs at least 2 options; this one has 1."],
        ),
        (
            QuestionRules(T.CHOICE, options=tuple(str(n) for n in range(11))),
            ["A choice question can have at most 10 options; this one has 11."],
        ),
        (
            QuestionRules(T.CHOICE, options=("A", "  ", "B")),
            ["Option 2 is empty."],
        ),
        (
            QuestionRules(T.CHOICE, options=("Twice", "twice ", "TWICE", "Once")),
            ["The option “twice ” is listed more than once."],
        ),
        (
            QuestionRules(T.CHOICE, options=("A", "x" * 65)),
            ["Option 2 is too long; keep it to 64 characters so it fits a button."],
        ),
        (
            QuestionRules(T.YES_NO, options=("Yes", "No")),
            ["Only choice questions have options; this is a yes/no question."],
        ),
        (
            QuestionRules(T.NUMBER, min_value=5, max_value=3),
            ["The minimum (5) is greater than the maximum (3)."],
        ),
        (
            QuestionRules(T.NUMBER, min_value=float("nan")),
            ["The minimum and maximum must be ordinary numbers."],
        ),
        (
            QuestionRules(T.NUMBER, max_value=float("inf")),
            ["The minimum and maximum must be ordinary numbers."],
        ),
        (
            QuestionRules(T.NUMBER, min_value=0.5, max_value=9, integer_only=True),
            ["When only whole numbers are allowed, the minimum and maximum must be whole too."],
        ),
        (
            QuestionRules(T.SCALE, min_value=0.5),
            ["The ends of a scale must be whole numbers."],
        ),
        (
            QuestionRules(T.SCALE, min_value=0, max_value=50),
            ["A scale can have at most 21 points (for example 0 to 20); 0 to 50 has 51."],
        ),
        (
            QuestionRules(T.SCALE, min_value=15),
            ["The minimum (15) is greater than the maximum (10)."],
        ),
        (
            QuestionRules(T.SCALE, min_value=4, max_value=4),
            ["A scale needs its top above its bottom; both are 4."],
        ),
        (
            QuestionRules(T.TEXT, min_value=1),
            [
                "Only number and scale questions have a minimum and maximum; "
                "this is a text question."
            ],
        ),
        (
            QuestionRules(T.TEXT, integer_only=True),
            ["“Whole numbers only” applies to number questions; this is a text question."],
        ),
        (
            QuestionRules(T.TEXT, max_length=0),
            ["The maximum answer length must be at least 1 character."],
        ),
        (
            QuestionRules(T.PHOTO, max_length=10),
            ["Only text questions have a maximum length; this is a photo question."],
        ),
        (
            QuestionRules(T.VIDEO, options=("a",), max_value=3),
            [
                "Only choice questions have options; this is a video question.",
                "Only number and scale questions have a minimum and maximum; "
                "this is a video question.",
            ],
        ),
    ],
)
def test_definition_problems(rules: QuestionRules, problems: list[str]) -> None:
    assert [worded(p) for p in rules.validate()] == problems


def test_definition_problem_escapes_option_names() -> None:
    rules = QuestionRules(T.CHOICE, options=("<b>", "<B>"))
    assert [worded(p) for p in rules.validate()] == [
        "The option “&lt;B&gt;” is listed more than once."
    ]


def test_scale_bounds_stay_usable_on_an_invalid_definition() -> None:
    assert QuestionRules(T.SCALE, min_value=0.5, max_value=9.5).scale_bounds() == (1, 9)
    assert QuestionRules(T.SCALE, min_value=float("nan")).scale_bounds() == (0, 10)


# --- alert rules ----------------------------------------------------------------------------

PAIN = QuestionRules(T.SCALE)
REPS = QuestionRules(T.NUMBER, min_value=0, max_value=100)


@pytest.mark.parametrize(
    ("text", "rules", "stored"),
    [
        (">= 8", PAIN, ">= 8"),
        (">=8", PAIN, ">= 8"),
        ("<=2", PAIN, "<= 2"),
        ("  > 7 ", PAIN, "> 7"),
        ("< 3", REPS, "< 3"),
        ("= 5", PAIN, "== 5"),
        ("!= 0", PAIN, "!= 0"),
        ("≥ 8", PAIN, ">= 8"),
        ("<= 7,5", REPS, "<= 7.5"),
        ("== 8.0", PAIN, "== 8"),
        (">= 1000", NUMBER, ">= 1000"),
        ("== no", YES_NO, "== no"),
        ("= yes", YES_NO, "== yes"),
        ("!= YES", YES_NO, "!= yes"),
        ("== Nope", YES_NO, "== no"),
        ("≠ y", YES_NO, "!= yes"),
        ("== Twice", CHOICE, "== Twice"),
        ("== twice", CHOICE, "== Twice"),
        ("!= three  TIMES", CHOICE, "!= Three times"),
        ('== "Three times"', CHOICE, "== Three times"),
        ("== “Once”", CHOICE, "== Once"),
        # The shorthands therapists type.
        ("no", YES_NO, "== no"),
        ("Yes", YES_NO, "== yes"),
        ("twice", CHOICE, "== Twice"),
        ("8+", PAIN, ">= 8"),
        ("8 +", PAIN, ">= 8"),
        ("8 or more", PAIN, ">= 8"),
        ("At least 8", PAIN, ">= 8"),
        ("2 or less", PAIN, "<= 2"),
        ("at most 2", PAIN, "<= 2"),
    ],
)
def test_alert_rule_parses_and_normalises(text: str, rules: QuestionRules, stored: str) -> None:
    assert format_alert_rule(parse_alert_rule(text, rules)) == stored


@pytest.mark.parametrize(
    ("text", "rules", "message"),
    [
        (
            "8",
            PAIN,
            "Write the alert as a comparison and a value, for example "
            "“&gt;= 8”, “&lt;= 2”, “== no”.",
        ),
        (">=", PAIN, "Write the alert as a comparison and a value"),
        ("", PAIN, "Write the alert as a comparison and a value"),
        ("=> 8", PAIN, "Write the alert as a comparison and a value"),
        ("=< no", YES_NO, "Write the alert as a comparison and a value"),
        (">= high", PAIN, "The alert value must be a number, for example “&gt;= 8”."),
        (">= nan", REPS, "The alert value must be a number"),
        (">= 11", PAIN, "The alert value must be between 0 and 10, the range of this question."),
        ("< -1", PAIN, "The alert value must be between 0 and 10"),
        ("<= 1", AT_LEAST_5, "The alert value must be at least 5, the minimum of this question."),
        (
            "> 3",
            QuestionRules(T.NUMBER, max_value=2),
            "The alert value must be at most 2, the maximum of this question.",
        ),
        (">= 1", YES_NO, "A yes/no alert compares with == or !=, for example “== no”."),
        ("== maybe", YES_NO, "A yes/no alert compares with yes or no, not “maybe”."),
        ("> Twice", CHOICE, "A choice alert compares with == or !=, for example “== Once”."),
        (
            "== <b>",
            CHOICE,
            "“&lt;b&gt;” is not one of the options: Once, Twice, Three times.",
        ),
        ("== 2", CHOICE, "“2” is not one of the options"),
        (
            "== fine",
            TEXT,
            "Alerts can't be set on text questions; "
            "they work on number, scale, yes/no, choice, photo and video questions.",
        ),
        (
            "== x",
            PHOTO,
            "A photo or video question alerts on every answer: type <code>any</code> for "
            "that, not “== x”, or tap No alert.",
        ),
        (">= 3", VIDEO, "A photo or video question alerts on every answer"),
    ],
)
def test_alert_rule_errors_are_clear_sentences(
    text: str, rules: QuestionRules, message: str
) -> None:
    with raises_saying(ValueError, "^" + re.escape(message)):
        parse_alert_rule(text, rules)


@pytest.mark.parametrize("typed", ["any", "Any.", "== any", "every", "all", "*"])
def test_a_photo_or_video_alert_is_on_every_answer(typed: str) -> None:
    for rules in (PHOTO, VIDEO):
        rule = parse_alert_rule(typed, rules)
        assert format_alert_rule(rule) == "== *"
        assert suggested_alert_rules(rules) == (rule,)
        assert alert_matches(rule, Accepted(display="photo", file_id="AgAD"))


@pytest.mark.parametrize(
    ("stored", "rules", "answer", "fires"),
    [
        (">= 8", PAIN, "8", True),
        (">= 8", PAIN, "7", False),
        ("> 8", PAIN, "8", False),
        ("< 3", PAIN, "2", True),
        ("<= 2", PAIN, "3", False),
        ("== 5", PAIN, "5", True),
        ("!= 5", PAIN, "5", False),
        ("<= 7.5", REPS, "7,5", True),
        ("< 7.5", REPS, "7.5", False),
        ("== no", YES_NO, "n", True),
        ("== no", YES_NO, "yes", False),
        ("!= yes", YES_NO, "no", True),
        ("!= yes", YES_NO, "yes", False),
        ("== yes", YES_NO, "yeah", True),
        ("== Twice", CHOICE, "twice", True),
        ("== Twice", CHOICE, "1", False),
        ("!= Twice", CHOICE, "Once", True),
        ("!= Twice", CHOICE, "2", False),
    ],
)
def test_alert_matches(stored: str, rules: QuestionRules, answer: str, fires: bool) -> None:
    rule = parse_alert_rule(stored, rules)
    assert alert_matches(rule, accepted(rules, typed(answer))) is fires


def test_alert_on_an_option_that_starts_like_an_operator() -> None:
    rules = QuestionRules(T.CHOICE, options=("<5 min", ">=5 min"))
    assert format_alert_rule(parse_alert_rule("== <5 MIN", rules)) == "== <5 min"
    assert format_alert_rule(parse_alert_rule("!=>=5 min", rules)) == "!= >=5 min"


def test_numeric_alert_never_fires_on_an_answer_without_a_number() -> None:
    assert alert_matches(AlertRule(">=", "8"), Accepted(display="yes", boolean=True)) is False


def test_alert_matches_button_answers() -> None:
    rule = parse_alert_rule("== no", YES_NO)
    assert alert_matches(rule, accepted(YES_NO, button("n"))) is True
    assert alert_matches(parse_alert_rule(">= 8", PAIN), accepted(PAIN, button("9"))) is True
