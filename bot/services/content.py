"""A therapist's content in several languages: task titles, question texts, options, links.

What a therapist writes (or the seed file's ``title``, ``text``, ``options``, ``link``) is the
canonical wording: reports, exports, ``/mydata``, alert rules and stored answers use it. A task
or question may also carry translations, stored as JSON next to it::

    tasks.translations      {"de": {"title": "..."}}
    questions.translations  {"de": {"text": "...", "options": ["...", ...], "link": "..."}}

(``question_revisions.translations`` the same, for the revision a patient answered.) Services
never pick a language: they hand the rendering floor a ``Localized`` string, which *is* the
canonical text (so storing, comparing and exporting it needs nothing special) and carries the
translations; ``bot.texts.content`` shows the reader's version when one exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The translatable fields, as they are named in the JSON and (with a language suffix:
# ``text_de``) in the seed file. A task has a title; a question has the rest.
TITLE = "title"
TEXT = "text"
OPTIONS = "options"
LINK = "link"

Translations = dict[str, dict[str, Any]]


class Localized(str):
    """The canonical wording, carrying its versions in other languages (code -> text)."""

    translations: Mapping[str, str]

    def __new__(cls, canonical: str, translations: Mapping[str, str] | None = None) -> Localized:
        value = super().__new__(cls, canonical)
        value.translations = dict(translations or {})
        return value

    def in_language(self, code: str) -> str:
        """The version for ``code``, else the canonical wording (as a plain string)."""
        return self.translations.get(code) or str(self)


def localized(canonical: str, translations: Translations | None, field: str) -> Localized:
    """``canonical`` with every language's version of ``field`` that ``translations`` has."""
    return Localized(
        canonical,
        {
            code: fields[field]
            for code, fields in (translations or {}).items()
            if isinstance(fields, dict) and isinstance(fields.get(field), str)
        },
    )


def title_of(task: Any) -> Localized:
    """A task's title (a ``Task`` or a row with ``title`` and ``translations``), with its
    translations for the rendering floor to choose from."""
    return localized(task.title, task.translations, TITLE)


def localized_link(link: str | None, translations: Translations | None) -> Localized | None:
    return None if link is None else localized(link, translations, LINK)


def localized_options(
    options: Sequence[str] | None, translations: Translations | None
) -> tuple[Localized, ...]:
    """Each option with its versions; a translation of another length (never stored by the
    seed, which refuses it) is ignored rather than mislabelling a button."""
    canonical = list(options or ())
    versions: dict[str, list[str]] = {}
    for code, fields in (translations or {}).items():
        translated = fields.get(OPTIONS) if isinstance(fields, dict) else None
        if isinstance(translated, list) and len(translated) == len(canonical):
            versions[code] = [str(option) for option in translated]
    return tuple(
        Localized(option, {code: texts[index] for code, texts in versions.items()})
        for index, option in enumerate(canonical)
    )


def versions(value: str) -> tuple[str, ...]:
    """Every wording of ``value``: the canonical one first, then its translations."""
    if isinstance(value, Localized):
        return (str(value), *value.translations.values())
    return (value,)


# A change of the canonical wording makes a translation of that field stale: a German patient
# must not go on reading "10 squats" after the therapist changed it to 20. These are the
# question's canonical fields each translated field follows.
_FOLLOWS = {TEXT: "description", OPTIONS: "options", LINK: "link"}


def without_stale(
    translations: Translations | None, before: Mapping[str, Any], after: Mapping[str, Any]
) -> Translations | None:
    """``translations`` without the fields whose canonical wording changed from ``before`` to
    ``after``; None when nothing is left."""
    stale = {
        field for field, source in _FOLLOWS.items() if before.get(source) != after.get(source)
    }
    kept = {
        code: {field: value for field, value in fields.items() if field not in stale}
        for code, fields in (translations or {}).items()
    }
    kept = {code: fields for code, fields in kept.items() if fields}
    return kept or None
