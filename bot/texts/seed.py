"""What a seed file's author reads: each problem of the file, after its file, table and key.

``bot.texts.seed_problem`` writes the line (``demo.toml: tasks[2].due: ...``); these are what
comes after it, for ``Kind.SEED_*`` from ``bot/services/seeding.py``.
"""

from __future__ import annotations


def seed_no_such_file() -> str:
    return "no such file"


def seed_not_toml(reason: str) -> str:
    return f"not valid TOML: {reason}"


def seed_unreadable(reason: str) -> str:
    return f"cannot be read: {reason}"


def seed_unknown_table() -> str:
    return "unknown table (expected [[groups]] and [[tasks]])"


def seed_not_tables(key: str) -> str:
    return f"must be an array of tables, written [[{key}]]"


def seed_unknown_key(allowed: list[str]) -> str:
    return f"unknown key (allowed: {', '.join(allowed)})"


def seed_missing() -> str:
    return "missing"


def seed_not_text() -> str:
    return "must be a non-empty string"


def seed_too_long(most: int, length: int) -> str:
    return f"must be at most {most} characters (it has {length})"


def seed_not_number() -> str:
    return "must be a number"


def seed_not_whole_number(largest: int) -> str:
    return f"must be a whole number from 1 to {largest}"


def seed_bad_team() -> str:
    return "must be a list of Telegram user ids, such as [9001, 555]"


def seed_not_boolean() -> str:
    return "must be true or false"


def seed_duplicate_group(name: str) -> str:
    return f"duplicate group name '{name}'"


def seed_unknown_zone(zone: str) -> str:
    return f"'{zone}' is not an IANA time zone name"


def seed_demo_without_invite() -> str:
    return "marks the group's invite as a demo code: add invite"


def seed_bad_code() -> str:
    return "must be 4-64 characters of letters, digits, _ and -"


def seed_weak_code(code: str, length: int, strong: int) -> str:
    return (
        f"'{code}' has {length} characters and can be guessed: use at least {strong}, or mark "
        "a demo group's code with invite_demo = true (the bot then warns about it in production)"
    )


def seed_code_taken(code: str, written: str, other: str) -> str:
    same = "duplicate invite code" if written == code else "the same invite code as"
    return (
        f"{same} '{written}' of {other} (codes are matched whatever their case, so "
        "'/start' could not tell the groups apart)"
    )


def seed_unknown_group(group: str) -> str:
    return f"unknown group '{group}' (not in [[groups]])"


def seed_duplicate_title(title: str, group: str) -> str:
    return f"duplicate title '{title}' in group '{group}'"


def seed_repeat_not_text() -> str:
    return 'must be a string such as "once" or "daily"'


def seed_bad_expiry() -> str:
    return "must be between 0.1 and 720 hours"


def seed_no_questions() -> str:
    return "a task needs at least one question"


def seed_unknown_type(name: str, allowed: list[str]) -> str:
    return f"unknown response type '{name}' (one of: {', '.join(allowed)})"


def seed_bad_link() -> str:
    return "must be an http:// or https:// address"


def seed_bad_options() -> str:
    return "must be a list of non-empty strings"
