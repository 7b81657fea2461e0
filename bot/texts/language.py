"""The reader's language: which catalog a sentence comes from, and locale dates and numbers.

A sentence is written in English inside ``_()`` (or ``ngettext`` when it counts something) and
looked up, when it is rendered, in the catalog of the person it is for. That person's language
lives in a context variable: set once per update (``bot.handlers.language``) and once per
recipient by every job that messages people (``speaking``), so the wording functions keep
their plain signatures. Catalogs are ``bot/locale/<lang>/LC_MESSAGES/patientbot.mo``, compiled
from the ``.po`` files by the build (``make catalogs``); a language whose ``.mo`` is missing
falls back to its ``.po``, so a fresh checkout still speaks every language.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from html import escape
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from bot.services.content import Localized
from bot.services.language import AVAILABLE

DOMAIN = "patientbot"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SOURCE_LANGUAGE = "en"
# Every language a person can choose, named in itself (the /language buttons).
_NAMES = {"de": "Deutsch", "en": "English", "es": "Español"}
LANGUAGES: dict[str, str] = {code: _NAMES[code] for code in AVAILABLE}

_reader: ContextVar[str] = ContextVar("patientbot_reader_language", default=SOURCE_LANGUAGE)


def current() -> str:
    """The language of the person being written to."""
    return _reader.get()


def content(value: str) -> str:
    """A therapist's wording (title, question, option, link) in the reader's language, where
    it has a translation into it; otherwise as written."""
    return value.in_language(current()) if isinstance(value, Localized) else value


def content_language(value: str) -> str:
    """The translation ``content`` shows of ``value``: its language code, or "" when it shows
    the wording as written."""
    code = current()
    return code if isinstance(value, Localized) and value.translations.get(code) else ""


def use(language: str) -> None:
    """Speak ``language`` from here on in this context (one update's handling)."""
    _reader.set(language if language in LANGUAGES else SOURCE_LANGUAGE)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Speak ``language`` inside the block: a job writing to several people, one at a time."""
    token = _reader.set(language if language in LANGUAGES else SOURCE_LANGUAGE)
    try:
        yield
    finally:
        _reader.reset(token)


@cache
def catalog(language: str) -> NullTranslations:
    """The compiled catalog of a language; English, the source, needs none."""
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    compiled = folder / f"{DOMAIN}.mo"
    source = folder / f"{DOMAIN}.po"
    if compiled.exists() and (
        not source.exists() or compiled.stat().st_mtime >= source.stat().st_mtime
    ):
        with compiled.open("rb") as stream:
            return Translations(stream, domain=DOMAIN)
    if source.exists():
        # Not built yet (a checkout without `make catalogs`): compile in memory, not on disk.
        # Imported here, not at the top: a built checkout never needs them, and they cost
        # start-up time (benchmarks/bench_startup.py).
        import io

        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with source.open("rb") as stream:
            messages = read_po(stream, locale=language, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, messages)
        buffer.seek(0)
        return Translations(buffer, domain=DOMAIN)
    return NullTranslations()


def _(message: str) -> str:
    """``message`` in the reader's language (the English itself where no translation is)."""
    return catalog(_reader.get()).gettext(message)


def N_(message: str) -> str:
    """Mark a sentence for the catalog where it is defined; ``_()`` translates it when used."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a counted sentence the reader's language needs for ``count``."""
    return catalog(_reader.get()).ngettext(singular, plural, count)


def locale() -> Locale:
    return _locale(_reader.get())


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


# English keeps the bot's original short forms ("Wed 02 Dec, 15:02", "Tue 1 Dec 2026"); other
# languages take CLDR's pattern for the same fields ("Mi., 2. Dez., 15:02").
_ENGLISH_PATTERNS = {
    "MMMEd": "EEE dd MMM",
    "yMMMEd": "EEE d MMM y",
    "MMMd": "d MMM",
    "yMMMd": "d MMM y",
}


def weekday_time(moment: datetime, *, compact: bool = False) -> str:
    """A day and time a person reads, in their locale: "Wed 02 Dec, 15:02".

    ``compact`` is the alert's English form, "Wed 2 Dec 15:02"; other languages read the same.
    """
    if compact and _reader.get() == SOURCE_LANGUAGE:
        return format_datetime(moment, "EEE d MMM HH:mm", locale=locale())
    return format_datetime(moment, f"{_pattern('MMMEd')}, HH:mm", locale=locale())


def date_time(moment: datetime) -> str:
    """A full date with year and time: "Tue 1 Dec 2026, 10:00"."""
    return format_datetime(moment, f"{_pattern('yMMMEd')}, HH:mm", locale=locale())


def day(value: date) -> str:
    """A date with weekday and year: "Tue 1 Dec 2026"."""
    return format_date(value, _pattern("yMMMEd"), locale=locale())


def day_month(value: date) -> str:
    """A day and month: "1 Dec", "1. Dez."."""
    return format_date(value, _pattern("MMMd"), locale=locale())


def day_month_year(value: date) -> str:
    """A date without weekday: "31 Dec 2026", "31. Dez. 2026"."""
    return format_date(value, _pattern("yMMMd"), locale=locale())


def clock(value: datetime | time) -> str:
    """A time of day, 24 hours: "15:02"."""
    return format_time(value, "HH:mm", locale=locale())


def number(value: float | int | Decimal) -> str:
    """A number with the locale's decimal separator and no grouping: "7.5", "7,5"."""
    return format_decimal(value, format="0.######", locale=locale())


def _pattern(skeleton: str) -> str:
    if _reader.get() == SOURCE_LANGUAGE:
        return _ENGLISH_PATTERNS[skeleton]
    pattern: str = locale().datetime_skeletons[skeleton].pattern
    return pattern


def decimal_separator(language: str) -> str:
    """The decimal mark people of this language type: "." or ","."""
    return str(_locale(language).number_symbols["latn"]["decimal"])


def counted(singular: str, plural: str, count: int) -> str:
    """A counted phrase ("{n} question" / "{n} questions") in the form ``count`` needs."""
    return ngettext(singular, plural, count).format(n=count)


def quoted(text: str, limit: int = 60) -> str:
    """What the person wrote, shortened: a pasted page must not make the reply too long."""
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def listed(names: Sequence[str], separator: str, most: int = 20) -> str:
    """Names for a reply, at most ``most`` of them then "and N more": a clinic's every group
    would not fit one message."""
    shown = [quoted(n) for n in names[:most]]
    if len(names) > most:
        shown.append(_("and {names} more").format(names=len(names) - most))
    return separator.join(shown)
