"""What a service says happened, with the values involved: never the sentence itself.

A use case that refuses (a bad bound, an unknown group), or a rule that explains how to answer,
returns or raises a ``Meaning``: a ``Kind`` and the values the reader needs (``Kind.PROBLEM_MIN_
ABOVE_MAX`` with ``lo=5, hi=2``). Only the rendering floor turns it into words
(``bot.texts.words``), so services never import it and can be asked for another language.

A value may itself be a ``Meaning`` (a problem inside a "line 3, field Q2" frame); the floor
words the inner one first. Each kind's value names are the parameters of the floor's function of
the same name, which ``tests/unit/test_layers.py`` checks for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Everything a service can say; the value names the rendering floor's function."""

    ADMIN_AMBIGUOUS_PATIENT = "admin_ambiguous_patient"
    ADMIN_BAD_BOUNDS = "admin_bad_bounds"
    ADMIN_BAD_LINK = "admin_bad_link"
    ADMIN_BAD_MAX_LENGTH = "admin_bad_max_length"
    ADMIN_BAD_USER_ID = "admin_bad_user_id"
    ADMIN_DESCRIPTION_MISSING = "admin_description_missing"
    ADMIN_DESCRIPTION_TOO_LONG = "admin_description_too_long"
    ADMIN_DUE_IN_PAST = "admin_due_in_past"
    ADMIN_GROUP_EXISTS = "admin_group_exists"
    ADMIN_GROUP_GONE = "admin_group_gone"
    ADMIN_GROUP_NAME_MISSING = "admin_group_name_missing"
    ADMIN_GROUP_NAME_RESERVED = "admin_group_name_reserved"
    ADMIN_GROUP_NAME_TOO_LONG = "admin_group_name_too_long"
    ADMIN_INVITE_BAD_DAYS = "admin_invite_bad_days"
    ADMIN_LAST_QUESTION = "admin_last_question"
    ADMIN_LINE_CHOICE_NEEDS_OPTIONS = "admin_line_choice_needs_options"
    ADMIN_LINE_FIELD = "admin_line_field"
    ADMIN_LINE_QUESTION_SHAPE = "admin_line_question_shape"
    ADMIN_LINE_TOO_SHORT = "admin_line_too_short"
    ADMIN_LINE_UNKNOWN_EXTRA = "admin_line_unknown_extra"
    ADMIN_NEVER_DUE = "admin_never_due"
    ADMIN_NOT_A_THERAPIST = "admin_not_a_therapist"
    ADMIN_OPTIONS_HINT = "admin_options_hint"
    ADMIN_TASK_DELETED = "admin_task_deleted"
    ADMIN_TASK_NEEDS_QUESTION = "admin_task_needs_question"
    ADMIN_THERAPIST_IN_CONFIG = "admin_therapist_in_config"
    ADMIN_TITLE_MISSING = "admin_title_missing"
    ADMIN_TITLE_TOO_LONG = "admin_title_too_long"
    ADMIN_TOO_MANY_QUESTIONS = "admin_too_many_questions"
    ADMIN_UNKNOWN_GROUP = "admin_unknown_group"
    ADMIN_UNKNOWN_INVITE = "admin_unknown_invite"
    ADMIN_UNKNOWN_PATIENT = "admin_unknown_patient"
    ADMIN_UNKNOWN_QUESTION = "admin_unknown_question"
    ADMIN_UNKNOWN_TASK = "admin_unknown_task"
    ADMIN_UNKNOWN_TYPE = "admin_unknown_type"
    ADMIN_USAGE_INVITE = "admin_usage_invite"
    ADMIN_USAGE_REMOVEPATIENT = "admin_usage_removepatient"
    ALERT_RULE_CHOICE_OP = "alert_rule_choice_op"
    ALERT_RULE_MALFORMED = "alert_rule_malformed"
    ALERT_RULE_NEEDS_NUMBER = "alert_rule_needs_number"
    ALERT_RULE_NOT_SUPPORTED = "alert_rule_not_supported"
    ALERT_RULE_OUT_OF_RANGE = "alert_rule_out_of_range"
    ALERT_RULE_UNKNOWN_OPTION = "alert_rule_unknown_option"
    ALERT_RULE_YES_NO_OP = "alert_rule_yes_no_op"
    ALERT_RULE_YES_NO_VALUE = "alert_rule_yes_no_value"
    ANSWER_DISPLAY_PHOTO = "answer_display_photo"
    ANSWER_DISPLAY_VIDEO = "answer_display_video"
    FHIR_ATTACHMENT_KIND = "fhir_attachment_kind"
    FHIR_INVALID = "fhir_invalid"
    FHIR_ITEM_CONDITIONAL = "fhir_item_conditional"
    FHIR_ITEM_DUPLICATE_LINK_ID = "fhir_item_duplicate_link_id"
    FHIR_ITEM_INVALID = "fhir_item_invalid"
    FHIR_ITEM_NESTED = "fhir_item_nested"
    FHIR_ITEM_NO_LINK_ID = "fhir_item_no_link_id"
    FHIR_ITEM_NO_TEXT = "fhir_item_no_text"
    FHIR_ITEM_NOT_OBJECT = "fhir_item_not_object"
    FHIR_ITEM_PROBLEM = "fhir_item_problem"
    FHIR_ITEM_REPEATS = "fhir_item_repeats"
    FHIR_ITEM_UNSUPPORTED_TYPE = "fhir_item_unsupported_type"
    FHIR_ITEM_VALUE_SET = "fhir_item_value_set"
    FHIR_ITEMS_NOT_LIST = "fhir_items_not_list"
    FHIR_NOT_JSON = "fhir_not_json"
    FHIR_NOT_QUESTIONNAIRE = "fhir_not_questionnaire"
    FHIR_OPTION_NOT_TEXT = "fhir_option_not_text"
    HINT_CHOICE = "hint_choice"
    HINT_CHOICE_RETRY = "hint_choice_retry"
    HINT_NUMBER = "hint_number"
    HINT_PHOTO = "hint_photo"
    HINT_PHOTO_SENT_AS_FILE = "hint_photo_sent_as_file"
    HINT_RECEIVED = "hint_received"
    HINT_RECEIVED_UNKNOWN = "hint_received_unknown"
    HINT_SCALE = "hint_scale"
    HINT_SCALE_RETRY = "hint_scale_retry"
    HINT_STALE_BUTTON = "hint_stale_button"
    HINT_TEXT_EMPTY = "hint_text_empty"
    HINT_TEXT_TOO_LONG = "hint_text_too_long"
    HINT_TYPE_TEXT = "hint_type_text"
    HINT_VIDEO = "hint_video"
    HINT_VIDEO_SENT_AS_FILE = "hint_video_sent_as_file"
    HINT_YES_NO = "hint_yes_no"
    HINT_YES_NO_RETRY = "hint_yes_no_retry"
    LABEL_NO = "label_no"
    LABEL_YES = "label_yes"
    PROBLEM_BOUNDS_NOT_ALLOWED = "problem_bounds_not_allowed"
    PROBLEM_BOUNDS_NOT_FINITE = "problem_bounds_not_finite"
    PROBLEM_CHOICE_BLANK_OPTION = "problem_choice_blank_option"
    PROBLEM_CHOICE_DUPLICATE_OPTION = "problem_choice_duplicate_option"
    PROBLEM_CHOICE_OPTION_TOO_LONG = "problem_choice_option_too_long"
    PROBLEM_CHOICE_TOO_FEW_OPTIONS = "problem_choice_too_few_options"
    PROBLEM_CHOICE_TOO_MANY_OPTIONS = "problem_choice_too_many_options"
    PROBLEM_INTEGER_ONLY_NOT_ALLOWED = "problem_integer_only_not_allowed"
    PROBLEM_MAX_LENGTH_NOT_ALLOWED = "problem_max_length_not_allowed"
    PROBLEM_MAX_LENGTH_TOO_SMALL = "problem_max_length_too_small"
    PROBLEM_MIN_ABOVE_MAX = "problem_min_above_max"
    PROBLEM_OPTIONS_NOT_ALLOWED = "problem_options_not_allowed"
    PROBLEM_SCALE_BOUNDS_NOT_WHOLE = "problem_scale_bounds_not_whole"
    PROBLEM_SCALE_TOO_NARROW = "problem_scale_too_narrow"
    PROBLEM_SCALE_TOO_WIDE = "problem_scale_too_wide"
    PROBLEM_WHOLE_BOUNDS_NEEDED = "problem_whole_bounds_needed"
    RESPONSE_TYPE_NAME = "response_type_name"
    RULE_PROBLEM = "rule_problem"
    SEED_NO_SUCH_FILE = "seed_no_such_file"
    SEED_NOT_TOML = "seed_not_toml"
    SEED_UNREADABLE = "seed_unreadable"
    SEED_UNKNOWN_TABLE = "seed_unknown_table"
    SEED_NOT_TABLES = "seed_not_tables"
    SEED_UNKNOWN_KEY = "seed_unknown_key"
    SEED_MISSING = "seed_missing"
    SEED_NOT_TEXT = "seed_not_text"
    SEED_TOO_LONG = "seed_too_long"
    SEED_NOT_NUMBER = "seed_not_number"
    SEED_NOT_WHOLE_NUMBER = "seed_not_whole_number"
    SEED_NOT_BOOLEAN = "seed_not_boolean"
    SEED_DUPLICATE_GROUP = "seed_duplicate_group"
    SEED_UNKNOWN_ZONE = "seed_unknown_zone"
    SEED_DEMO_WITHOUT_INVITE = "seed_demo_without_invite"
    SEED_BAD_CODE = "seed_bad_code"
    SEED_WEAK_CODE = "seed_weak_code"
    SEED_CODE_TAKEN = "seed_code_taken"
    SEED_UNKNOWN_GROUP = "seed_unknown_group"
    SEED_DUPLICATE_TITLE = "seed_duplicate_title"
    SEED_REPEAT_NOT_TEXT = "seed_repeat_not_text"
    SEED_BAD_EXPIRY = "seed_bad_expiry"
    SEED_NO_QUESTIONS = "seed_no_questions"
    SEED_UNKNOWN_TYPE = "seed_unknown_type"
    SEED_BAD_LINK = "seed_bad_link"
    SEED_BAD_OPTIONS = "seed_bad_options"


@dataclass(frozen=True)
class Meaning:
    """One thing a service says: its kind and the values it needs, in parameter order."""

    kind: Kind
    values: tuple[tuple[str, object], ...] = ()

    def value(self, name: str) -> object:
        """Return one named value (tests and callers that act on it, not words)."""
        return dict(self.values)[name]


def meaning(kind: Kind, /, **values: object) -> Meaning:
    """Build a ``Meaning``: ``meaning(Kind.PROBLEM_MIN_ABOVE_MAX, lo="5", hi="2")``."""
    return Meaning(kind, tuple(values.items()))
