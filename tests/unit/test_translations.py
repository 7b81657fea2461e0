"""The catalogs: every sentence translated into every language, intact, and plural rules that work.

A failure names the message and the language, so a translator knows what to fix.
"""

from __future__ import annotations

import io
import re
import string
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot import texts
from bot.services.language import supported
from bot.texts import language

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "bot" / "locale"
TRANSLATED = sorted(code for code in language.LANGUAGES if code != language.SOURCE_LANGUAGE)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "counted": (1, 2)}
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_PERCENT = re.compile(r"%\((\w+)\)[sd]")


# The demo's groups, as seed_data/demo.toml names them (the examples use them).
DEMO_GROUPS = tuple(
    group["name"]
    for group in tomllib.loads((ROOT / "seed_data" / "demo.toml").read_text("utf-8"))["groups"]
)


def _template() -> Catalog:
    with (LOCALE_DIR / "patientbot.pot").open("rb") as stream:
        return read_po(stream)


def _catalog(code: str) -> Catalog:
    with (LOCALE_DIR / code / "LC_MESSAGES" / "patientbot.po").open("rb") as stream:
        return read_po(stream, locale=code)


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return (text,) if isinstance(text, str) else tuple(text)


def _placeholders(text: str) -> list[str]:
    names = [f"{{{name}}}" for _lit, name, _spec, _conv in string.Formatter().parse(text)]
    names = [name for name in names if name != "{None}"]
    return sorted(names + [f"%({name})" for name in _PERCENT.findall(text)])


def _tags(text: str) -> list[str]:
    return sorted(_TAG.findall(text))


def _problems(english: Message, translated: Message | None, code: str) -> list[str]:
    key = _forms(english.id)[0]
    where = f"[{code}] {key!r}"
    if translated is None:
        return [f"{where}: missing from the catalog (run `make update`)"]
    if translated.fuzzy:
        return [f"{where}: marked fuzzy; check the translation and remove the flag"]
    problems = []
    sources = _forms(english.id)
    for form in _forms(translated.string):
        if not form.strip():
            problems.append(f"{where}: not translated")
            continue
        # A plural form may drop the count ("eine Frage" for one) but never add one.
        wanted = set(_placeholders(sources[-1]))
        if set(_placeholders(form)) - wanted or (
            len(sources) == 1 and _placeholders(form) != _placeholders(sources[0])
        ):
            problems.append(
                f"{where}: placeholders {_placeholders(form)} differ from the English "
                f"{_placeholders(sources[-1])}"
            )
        # An example naming a demo group is copied and sent: the name is the group's own,
        # not a translation of it (the German /help's "Hüfttherapie 1" found no group).
        for group in DEMO_GROUPS:
            if group in sources[-1] and group not in form:
                problems.append(f"{where}: names the demo group {group!r} otherwise")
        if _tags(form) != _tags(sources[-1]):
            problems.append(
                f"{where}: HTML tags {_tags(form)} differ from the English {_tags(sources[-1])}"
            )
    return problems


def test_the_template_holds_every_sentence_of_the_code() -> None:
    """`make extract` was run after the last change to a sentence."""
    extracted = {
        _forms(message)[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "bot"),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
        )
    }
    in_template = {_forms(message.id)[0] for message in _template() if message.id}
    assert sorted(extracted - in_template) == [], "new sentences: run `make update`"
    assert sorted(in_template - extracted) == [], "sentences gone from the code: run `make update`"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_intact(code: str) -> None:
    translated = _catalog(code)
    problems: list[str] = []
    for english in _template():
        if english.id:
            problems += _problems(english, translated.get(english.id), code)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_catalog_keeps_stale_or_fuzzy_entries(code: str) -> None:
    translated = _catalog(code)
    assert not translated.fuzzy, f"[{code}] the catalog header is marked fuzzy"
    assert list(translated.obsolete) == [], f"[{code}] obsolete entries: run `make update`"
    current = {_forms(m.id)[0] for m in _template() if m.id}
    extra = [_forms(m.id)[0] for m in translated if m.id and _forms(m.id)[0] not in current]
    assert extra == [], f"[{code}] messages no longer in the template: {extra}"


def test_a_translation_is_rendered_in_the_readers_language_only() -> None:
    with language.speaking("de"):
        german = texts.checkin_summary_thanks()
    with language.speaking("es"):
        spanish = texts.checkin_summary_thanks()
    english = texts.checkin_summary_thanks()
    assert german == "Vielen Dank! Ihr Therapieteam kann Ihre Antworten sehen."
    assert spanish == "¡Gracias! Su terapeuta puede ver sus respuestas."
    assert english == "Thank you! Your therapist can see your answers."


def test_counted_phrases_follow_each_languages_plural_rule() -> None:
    with language.speaking("de"):
        assert language.counted("{n} question", "{n} questions", 1) == "1 Frage"
        assert language.counted("{n} question", "{n} questions", 3) == "3 Fragen"
    with language.speaking("es"):
        assert language.counted("{n} question", "{n} questions", 0) == "0 preguntas"
    # A plural made by appending "s" in English read "3 Änderungsereignis" + "s".
    with language.speaking("de"):
        assert texts.cli_audit_written(3, "a.csv") == (
            "3 Änderungsereignisse nach a.csv geschrieben."
        )
    assert texts.cli_audit_written(1, "a.csv") == "Wrote 1 audit event to a.csv."


def test_ukrainian_style_plural_rules_pick_the_right_form() -> None:
    """A language with three forms (one, few, many) works through the same gettext path."""
    catalog = Catalog(locale="uk", domain="patientbot")
    catalog.add(("{n} question", "{n} questions"), ("{n} питання", "{n} питання", "{n} питань"))
    catalog.add(("{n} day", "{n} days"), ("{n} день", "{n} дні", "{n} днів"))
    assert catalog.num_plurals == 3
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    ukrainian = Translations(buffer, domain="patientbot")
    days = {n: ukrainian.ngettext("{n} day", "{n} days", n).format(n=n) for n in (1, 3, 5, 21, 11)}
    assert days == {1: "1 день", 3: "3 дні", 5: "5 днів", 21: "21 день", 11: "11 днів"}
    assert Locale.parse("uk").plural_form(22) == "few"


def test_dates_and_numbers_follow_the_readers_locale() -> None:
    moment = datetime(2026, 12, 2, 15, 2, tzinfo=UTC)
    with language.speaking("de"):
        assert language.weekday_time(moment) == "Mi., 2. Dez., 15:02"
        assert language.number(7.5) == "7,5"
    with language.speaking("es"):
        assert language.number(7.5) == "7,5"
    assert language.weekday_time(moment) == "Wed 02 Dec, 15:02"
    assert language.number(7.5) == "7.5"


@pytest.mark.parametrize(
    ("telegram", "ours"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("es-419", "es"),
        ("en-GB", "en"),
        ("pt-br", None),
        (None, None),
    ],
)
def test_telegram_language_codes_map_to_the_languages_we_have(
    telegram: str | None, ours: str | None
) -> None:
    assert supported(telegram) == ours


@pytest.mark.parametrize(
    ("code", "button", "condition"),
    [
        ("en", "🔔 Alert on No", "No"),
        ("de", "🔔 Alarm bei Nein", "Nein"),
        ("es", "🔔 Alerta con No", "No"),
    ],
)
def test_a_yes_no_alert_rule_reads_in_the_therapists_language(
    code: str, button: str, condition: str
) -> None:
    """A yes/no rule is stored as "== no": a German therapist reads "Nein" in the button that
    suggests it and in every place the rule is worded, not the English "No"."""
    with language.speaking(code):
        assert texts.admin_button_alert("==", "no") == button
        assert texts.alert_condition("==", "no") == condition
        assert texts.alert_condition("==", "yes") == texts.label_yes()
