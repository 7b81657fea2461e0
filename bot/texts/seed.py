"""What a seed file's author reads: each problem of the file, after its file, table and key.

``bot.texts.seed_problem`` writes the line (``demo.toml: tasks[2].due: ...``); these are what
comes after it, for ``Kind.SEED_*`` from ``bot/services/seeding.py``.
"""

from __future__ import annotations

from bot.texts.language import _


def seed_no_such_file() -> str:
    return _("no such file")


def seed_not_toml(reason: str) -> str:
    return _("not valid TOML: {reason}").format(reason=reason)


def seed_unreadable(reason: str) -> str:
    return _("cannot be read: {reason}").format(reason=reason)


def seed_unknown_table() -> str:
    return _("unknown table (expected [[groups]] and [[tasks]])")


def seed_not_tables(key: str) -> str:
    return _("must be an array of tables, written [[{key}]]").format(key=key)


def seed_unknown_key(allowed: list[str]) -> str:
    return _("unknown key (allowed: {allowed})").format(allowed=", ".join(allowed))


def seed_missing() -> str:
    return _("missing")


def seed_not_text() -> str:
    return _("must be a non-empty string")


def seed_not_quoted(found: str) -> str:
    kinds = {
        "number": _("a number"),
        "boolean": _("true or false"),
        "date": _("a date or time"),
        "list": _("a list"),
    }
    return _("must be text in double quotes (TOML read {found} here)").format(
        found=kinds.get(found, _("a table"))
    )


def seed_too_long(most: int, length: int) -> str:
    return _("must be at most {most} characters (it has {length})").format(
        most=most, length=length
    )


def seed_not_number() -> str:
    return _("must be a number")


def seed_not_whole_number(largest: int) -> str:
    return _("must be a whole number from 1 to {largest}").format(largest=largest)


def seed_bad_team() -> str:
    return _("must be a list of Telegram user ids, such as [9001, 555]")


def seed_not_boolean() -> str:
    return _("must be true or false")


def seed_duplicate_group(name: str) -> str:
    return _("duplicate group name '{name}'").format(name=name)


def seed_unknown_zone(zone: str) -> str:
    return _("'{zone}' is not an IANA time zone name").format(zone=zone)


def seed_demo_without_invite() -> str:
    return _("marks the group's invite as a demo code: add invite")


def seed_bad_code() -> str:
    return _("must be 4-64 characters of letters, digits, _ and -")


def seed_weak_code(code: str, length: int, strong: int) -> str:
    return _(
        "'{code}' has {length} characters and can be guessed: use at least "
        "{strong}, or mark a demo group's code with invite_demo = true (the "
        "bot then warns about it in production)"
    ).format(code=code, length=length, strong=strong)


def seed_code_taken(code: str, written: str, other: str) -> str:
    same = _("duplicate invite code") if written == code else _("the same invite code as")
    return _(
        "{same} '{written}' of {other} (codes are matched whatever their case, "
        "so '/start' could not tell the groups apart)"
    ).format(same=same, written=written, other=other)


def seed_code_of_another_group(code: str, group: str) -> str:
    return _(
        "'{code}' is already the invite code of the group '{group}' in the database; a seed "
        "does not move a code to another group (patients with the leaflet would join the "
        "wrong one): choose another code, or change it there first"
    ).format(code=code, group=group)


def seed_unknown_group(group: str) -> str:
    return _("unknown group '{group}' (not in [[groups]])").format(group=group)


def seed_duplicate_title(title: str, group: str) -> str:
    return _("duplicate title '{title}' in group '{group}'").format(title=title, group=group)


def seed_repeat_not_text() -> str:
    return _('must be a string such as "once" or "daily"')


def seed_bad_expiry() -> str:
    return _("must be between 0.1 and 720 hours")


def seed_no_questions() -> str:
    return _("a task needs at least one question")


def seed_unknown_type(name: str, allowed: list[str]) -> str:
    return _("unknown response type '{name}' (one of: {allowed})").format(
        name=name, allowed=", ".join(allowed)
    )


def seed_bad_link() -> str:
    return _("must be an http:// or https:// address")


def seed_bad_options() -> str:
    return _("must be a list of non-empty strings")


def seed_unknown_language(code: str, available: list[str]) -> str:
    return _(
        'no language "{code}": translations are for the languages the bot speaks ({available})'
    ).format(code=code, available=", ".join(available))


def seed_options_count_mismatch(count: int, expected: int) -> str:
    return _("must translate each of the {expected} options, in order (it has {count})").format(
        expected=expected, count=count
    )


def seed_consent_translation_without_text() -> str:
    return _("translates the consent text, but the group gives none: add consent too")


def seed_translation_without_original(original: str) -> str:
    return _("translates {original}, which this question does not have").format(original=original)
