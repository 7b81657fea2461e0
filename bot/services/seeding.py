"""Load demo or test data from a TOML file: validate everything, then upsert in one transaction.

The seed needs the same rules as the bot (response types, recurrence, alert rules, due-date
forms), which live in ``bot.services``; storage may not import the bot, so the seed use case
lives here rather than in ``storage/``.

Format (see ``seed_data/demo.toml``)::

    [[groups]]          name, timezone?, invite?, invite_max_uses?, invite_demo?, team?,
                        consent?, consent_<lang>?
    [[tasks]]           group, title, due, repeat?, expiry_hours?, title_<lang>?
    [[tasks.questions]] text, type, link?, required?, options?, min?, max?, integer?,
                        max_length?, alert?, text_<lang>?, options_<lang>?, link_<lang>?

``<lang>`` is a language the bot speaks (``services.language.AVAILABLE``): ``text_de`` is the
German version of ``text`` (``bot.services.content``).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.frozen import frozen
from bot.services.audit import OPERATOR, AuditAction, ObjectKind, record, record_changes
from bot.services.authoring import (
    MAX_DESCRIPTION,
    MAX_GROUP_NAME,
    MAX_LINK,
    MAX_QUESTIONS,
    MAX_TEXT_LIMIT,
    MAX_TITLE,
    AuthoringError,
    check_group_name,
    find_group,
    join_team,
    team_place,
)
from bot.services.authoring.tasks import audited_question, audited_revision, audited_task
from bot.services.consent import MAX_CONSENT_TEXT, latest_versions
from bot.services.content import LINK, OPTIONS, TEXT, TITLE, Translations
from bot.services.language import AVAILABLE
from bot.services.meaning import Kind, Meaning, meaning
from bot.services.planning import plan_task, replan_group, replan_task
from bot.services.responses import (
    AlertRuleError,
    QuestionRules,
    ResponseType,
    format_alert_rule,
    parse_alert_rule,
)
from bot.services.revisions import add_first_revision, retranslate, revise
from bot.services.schedule import ScheduleError, parse_recurrence_text, parse_when
from storage.db import Database
from storage.models import (
    MAX_INTEGER,
    ConsentVersion,
    Invite,
    Person,
    Question,
    Task,
    TherapyGroup,
)

GROUP_KEYS = {"name", "timezone", "invite", "invite_max_uses", "invite_demo", "team", "consent"}
# A Telegram user id is a BIGINT column.
MAX_USER_ID = 2**63 - 1
# A seeded code is typed by people, never expires, and is matched whatever its case: shorter
# ones can be guessed in a few thousand tries (36**4), so they are for demos only.
STRONG_CODE = 8
TASK_KEYS = {"group", "title", "due", "repeat", "expiry_hours", "questions"}
QUESTION_KEYS = {
    "text", "type", "link", "required", "options", "min", "max", "integer", "max_length", "alert",
}  # fmt: skip
# The keys that may carry a language suffix (``title_de``, ``text_es``), and the JSON field each
# becomes in ``translations``.
TASK_TRANSLATED = {"title": TITLE}
GROUP_TRANSLATED = {"consent": TEXT}
QUESTION_TRANSLATED = {"text": TEXT, "options": OPTIONS, "link": LINK}


@frozen
class SeedProblem:
    """One problem of a seed file: the file, the table path and key (``tasks[2].due``), what.

    ``what`` says what is wrong with the values involved (the seed's own checks, or the rules the
    bot applies in chat); the rendering floor (``texts.seed_problem``) writes the line.
    """

    file: str
    place: str
    what: Meaning


class SeedError(Exception):
    """The seed file cannot be loaded; ``problems`` has one each. Nothing was written."""

    def __init__(self, problems: list[SeedProblem]) -> None:
        super().__init__(*problems)
        self.problems = problems


@frozen
class QuestionSeed:
    position: int
    description: str
    response_type: str
    link: str | None
    required: bool
    options: list[str] | None
    min_value: float | None
    max_value: float | None
    integer_only: bool
    max_length: int | None
    alert_rule: str | None
    # {"de": {"text": ..., "options": [...], "link": ...}}; None: none at all.
    translations: Translations | None = None


@frozen
class TaskSeed:
    group: str
    title: str
    due_date: date
    due_time: time
    recurrence: str | None
    expiry_minutes: int
    questions: list[QuestionSeed]
    translations: Translations | None = None  # {"de": {"title": ...}}


@frozen
class GroupSeed:
    name: str
    timezone: str | None
    invite: str | None
    invite_max_uses: int | None
    invite_demo: bool = False
    # Telegram user ids put on the group's care team (added, never taken off, by a seed).
    team: tuple[int, ...] = ()
    # The consent text patients agree to before joining; None: the file says nothing, and a
    # text set with /setconsent stays as it is.
    consent: str | None = None
    # It in other languages ({"de": {"text": ...}}): part of the version, like the text.
    consent_translations: Translations | None = None


@frozen
class SeedPlan:
    groups: list[GroupSeed]
    tasks: list[TaskSeed]
    file: str = ""  # as problems name it


@dataclass
class SeedReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    deliveries_planned: int = 0

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))


class _Problems:
    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[SeedProblem] = []

    def add(self, where: str, key: str | None, what: Meaning) -> None:
        self.items.append(SeedProblem(self.label, f"{where}.{key}" if key else where, what))


def read_seed(path: Path, today_in: Any, default_zone: str) -> SeedPlan:
    """Parse and validate a seed file; raise SeedError listing every problem found.

    ``today_in`` maps a ZoneInfo to that zone's local date, so relative dates ("today 11:00",
    "+1d 12:00") resolve in the group's own time zone.
    """
    label = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise SeedError([SeedProblem(label, "", meaning(Kind.SEED_NO_SUCH_FILE))]) from None
    except tomllib.TOMLDecodeError as error:
        raise SeedError(
            [SeedProblem(label, "", meaning(Kind.SEED_NOT_TOML, reason=str(error)))]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SeedError(
            [SeedProblem(label, "", meaning(Kind.SEED_UNREADABLE, reason=str(error)))]
        ) from None

    problems = _Problems(label)
    for key in sorted(set(raw) - {"groups", "tasks"}):
        problems.add(key, None, meaning(Kind.SEED_UNKNOWN_TABLE))
    groups = _read_groups(_table_list(raw, "groups", problems), problems, default_zone)
    zones = {g.name: g.timezone or default_zone for g in groups}
    tasks = _read_tasks(_table_list(raw, "tasks", problems), problems, zones, today_in)
    if problems.items:
        raise SeedError(problems.items)
    return SeedPlan(groups, tasks, label)


def _table_list(raw: dict[str, Any], key: str, problems: _Problems) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.add(key, None, meaning(Kind.SEED_NOT_TABLES, key=key))
        return []
    return value


def _unknown_keys(
    item: dict[str, Any],
    allowed: set[str],
    where: str,
    p: _Problems,
    translated: Collection[str] = (),
) -> None:
    for key in sorted(set(item) - allowed):
        if _translated_key(key, translated) is None:
            listed = sorted(allowed) + [f"{base}_<{'|'.join(AVAILABLE)}>" for base in translated]
            p.add(where, key, meaning(Kind.SEED_UNKNOWN_KEY, allowed=listed))


def _translated_key(key: str, translated: Collection[str]) -> tuple[str, str] | None:
    """``text_de`` -> ("text", "de") when ``text`` may be translated; the code is not checked."""
    base, underscore, code = key.rpartition("_")
    return (base, code) if underscore and base in translated and code else None


def _translations(
    item: dict[str, Any],
    translated: dict[str, str],
    where: str,
    p: _Problems,
    check: Callable[[dict[str, Any], str, str, str], Any],
) -> Translations | None:
    """The item's ``<key>_<lang>`` values, each checked by ``check(item, where, key, base)``
    (which returns None after adding a problem), as {lang: {field: value}}."""
    found: Translations = {}
    for key in sorted(item):
        parts = _translated_key(key, translated)
        if parts is None:
            continue
        base, code = parts
        if code not in AVAILABLE:
            p.add(
                where,
                key,
                meaning(Kind.SEED_UNKNOWN_LANGUAGE, code=code, available=list(AVAILABLE)),
            )
            continue
        value = check(item, where, key, base)
        if value is not None:
            found.setdefault(code, {})[translated[base]] = value
    return found or None


def _toml_kind(value: Any) -> str:
    """What TOML made of an unquoted value, as ``texts.seed_not_quoted`` names it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (date, time)):  # datetime is a date
        return "date"
    if isinstance(value, list):
        return "list"
    return "table"


def _text(
    item: dict[str, Any],
    key: str,
    where: str,
    p: _Problems,
    *,
    required: bool,
    longest: int | None = None,
) -> str:
    value = item.get(key)
    if value is None:
        if required:
            p.add(where, key, meaning(Kind.SEED_MISSING))
        return ""
    if not isinstance(value, str):
        # A due time written without quotes is read by TOML as a number or a date: "must be
        # a non-empty string" left the therapist looking for what was empty.
        p.add(where, key, meaning(Kind.SEED_NOT_QUOTED, found=_toml_kind(value)))
        return ""
    if not value.strip():
        p.add(where, key, meaning(Kind.SEED_NOT_TEXT))
        return ""
    # The column's limit: PostgreSQL would refuse the row only while writing (SQLite not at all).
    if longest is not None and len(value.strip()) > longest:
        p.add(where, key, meaning(Kind.SEED_TOO_LONG, most=longest, length=len(value.strip())))
        return ""
    return value.strip()


def _number(item: dict[str, Any], key: str, where: str, p: _Problems) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        p.add(where, key, meaning(Kind.SEED_NOT_NUMBER))
        return None
    return float(value)


def _positive_int(
    item: dict[str, Any], key: str, where: str, p: _Problems, *, largest: int = MAX_INTEGER
) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= largest:
        p.add(where, key, meaning(Kind.SEED_NOT_WHOLE_NUMBER, largest=largest))
        return None
    return value


def _read_groups(items: list[dict[str, Any]], p: _Problems, default_zone: str) -> list[GroupSeed]:
    groups: list[GroupSeed] = []
    seen: set[str] = set()
    codes: dict[str, tuple[str, str]] = {}  # lower case -> (as written, where)
    for index, item in enumerate(items, start=1):
        where = f"groups[{index}]"
        _unknown_keys(item, GROUP_KEYS, where, p, GROUP_TRANSLATED)
        name = _text(item, "name", where, p, required=True, longest=MAX_GROUP_NAME)
        if name:
            # The rules a group made in chat meets: a name therapists can type back to the
            # bot ("1" would be read as group number 1, "A | B" split /addtask's line).
            try:
                name = check_group_name(name)
            except AuthoringError as error:
                for problem in error.problems:
                    p.add(where, "name", problem)
        if name and name.casefold() in seen:
            p.add(where, "name", meaning(Kind.SEED_DUPLICATE_GROUP, name=name))
        seen.add(name.casefold())
        zone = _text(item, "timezone", where, p, required=False) or None
        if zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
                p.add(where, "timezone", meaning(Kind.SEED_UNKNOWN_ZONE, zone=zone))
                # Its tasks' due times are still checked, in the default zone.
                zone = None
        invite = _text(item, "invite", where, p, required=False) or None
        demo = item.get("invite_demo", False)
        if not isinstance(demo, bool):
            p.add(where, "invite_demo", meaning(Kind.SEED_NOT_BOOLEAN))
            demo = False
        elif demo and not invite:
            p.add(where, "invite_demo", meaning(Kind.SEED_DEMO_WITHOUT_INVITE))
        if invite:
            _check_code(invite, demo, where, p, codes)
        max_uses = _positive_int(item, "invite_max_uses", where, p)
        team = item.get("team", [])
        if not isinstance(team, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_USER_ID for i in team
        ):
            p.add(where, "team", meaning(Kind.SEED_BAD_TEAM))
            team = []
        consent = _text(item, "consent", where, p, required=False, longest=MAX_CONSENT_TEXT)
        consent_translations = _translations(
            item, GROUP_TRANSLATED, where, p, _consent_translation(consent, p)
        )
        groups.append(
            GroupSeed(
                name,
                zone,
                invite,
                max_uses,
                demo,
                team=tuple(dict.fromkeys(team)),
                consent=consent or None,
                consent_translations=consent_translations,
            )
        )
    return groups


def _consent_translation(
    consent: str, p: _Problems
) -> Callable[[dict[str, Any], str, str, str], str | None]:
    def check(item: dict[str, Any], where: str, key: str, base: str) -> str | None:
        if not consent:
            p.add(where, key, meaning(Kind.SEED_CONSENT_TRANSLATION_WITHOUT_TEXT))
            return None
        return _text(item, key, where, p, required=False, longest=MAX_CONSENT_TEXT) or None

    return check


def _check_code(
    code: str, demo: bool, where: str, p: _Problems, codes: dict[str, tuple[str, str]]
) -> None:
    if not (
        4 <= len(code) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in code)
    ):
        p.add(where, "invite", meaning(Kind.SEED_BAD_CODE))
        return
    if len(code) < STRONG_CODE and not demo:
        p.add(
            where,
            "invite",
            meaning(Kind.SEED_WEAK_CODE, code=code, length=len(code), strong=STRONG_CODE),
        )
    earlier = codes.get(code.lower())
    if earlier is not None:
        written, other = earlier
        p.add(
            where,
            "invite",
            meaning(Kind.SEED_CODE_TAKEN, code=code, written=written, other=other),
        )
    else:
        codes[code.lower()] = (code, where)


def _read_tasks(
    items: list[dict[str, Any]], p: _Problems, zones: dict[str, str], today_in: Any
) -> list[TaskSeed]:
    tasks: list[TaskSeed] = []
    seen: set[tuple[str, str]] = set()
    named = {name.casefold(): name for name in zones}
    for index, item in enumerate(items, start=1):
        where = f"tasks[{index}]"
        _unknown_keys(item, TASK_KEYS, where, p, TASK_TRANSLATED)
        group = _text(item, "group", where, p, required=True)
        # Named as a group is found in chat, case and spacing aside ("Knee  Group" for the
        # group whose name is kept as "Knee Group").
        group = named.get(" ".join(group.split()).casefold(), group)
        if group and group not in zones:
            p.add(where, "group", meaning(Kind.SEED_UNKNOWN_GROUP, group=group))
        title = _text(item, "title", where, p, required=True, longest=MAX_TITLE)
        if title and (group, title.casefold()) in seen:
            p.add(where, "title", meaning(Kind.SEED_DUPLICATE_TITLE, title=title, group=group))
        seen.add((group, title.casefold()))
        translations = _translations(
            item,
            TASK_TRANSLATED,
            where,
            p,
            lambda item, where, key, _base: (
                _text(item, key, where, p, required=False, longest=MAX_TITLE) or None
            ),
        )
        due_text = _text(item, "due", where, p, required=True)
        due_date, due_time = date(2000, 1, 1), time(0, 0)
        if due_text:
            zone = ZoneInfo(zones.get(group) or "UTC") if group in zones else ZoneInfo("UTC")
            try:
                due_date, due_time = parse_when(due_text, today_in(zone))
            except ScheduleError as error:
                p.add(where, "due", meaning(Kind.RULE_PROBLEM, reason=error.problem))
        recurrence: str | None = None
        repeat = item.get("repeat", "once")
        if not isinstance(repeat, str):
            p.add(where, "repeat", meaning(Kind.SEED_REPEAT_NOT_TEXT))
        else:
            try:
                recurrence = parse_recurrence_text(repeat)
            except ScheduleError as error:
                p.add(where, "repeat", meaning(Kind.RULE_PROBLEM, reason=error.problem))
        expiry_hours = _number(item, "expiry_hours", where, p)
        if expiry_hours is not None and not 0.1 <= expiry_hours <= 24 * 30:
            p.add(where, "expiry_hours", meaning(Kind.SEED_BAD_EXPIRY))
            expiry_hours = None
        raw_questions = item.get("questions", [])
        questions: list[QuestionSeed] = []
        if not isinstance(raw_questions, list) or not all(
            isinstance(q, dict) for q in raw_questions
        ):
            p.add(where, "questions", meaning(Kind.SEED_NOT_TABLES, key="tasks.questions"))
        elif not raw_questions:
            p.add(where, "questions", meaning(Kind.SEED_NO_QUESTIONS))
        else:
            for position, raw in enumerate(raw_questions, start=1):
                question = _read_question(raw, position, f"{where}.questions[{position}]", p)
                if question is not None:
                    questions.append(question)
            if len(raw_questions) > MAX_QUESTIONS:
                # The limit /newtask and /edittask keep: a seed makes no task chat could not.
                p.add(
                    where, "questions", meaning(Kind.ADMIN_TOO_MANY_QUESTIONS, most=MAX_QUESTIONS)
                )
        tasks.append(
            TaskSeed(
                group=group,
                title=title,
                due_date=due_date,
                due_time=due_time,
                recurrence=recurrence,
                expiry_minutes=round((expiry_hours or 24) * 60),
                questions=questions,
                translations=translations,
            )
        )
    return tasks


# The key of a question's table each rule problem is about, so the line names it as a
# problem of a single key does ("tasks[1].questions[2].options: …").
_RULE_KEYS: dict[Kind, str] = {
    Kind.PROBLEM_CHOICE_BLANK_OPTION: "options",
    Kind.PROBLEM_CHOICE_DUPLICATE_OPTION: "options",
    Kind.PROBLEM_CHOICE_OPTION_TOO_LONG: "options",
    Kind.PROBLEM_CHOICE_TOO_FEW_OPTIONS: "options",
    Kind.PROBLEM_CHOICE_TOO_MANY_OPTIONS: "options",
    Kind.PROBLEM_OPTIONS_NOT_ALLOWED: "options",
    Kind.PROBLEM_INTEGER_ONLY_NOT_ALLOWED: "integer",
    Kind.PROBLEM_MAX_LENGTH_NOT_ALLOWED: "max_length",
    Kind.PROBLEM_MAX_LENGTH_TOO_SMALL: "max_length",
    Kind.PROBLEM_BOUNDS_NOT_ALLOWED: "min/max",
    Kind.PROBLEM_BOUNDS_NOT_FINITE: "min/max",
    Kind.PROBLEM_MIN_ABOVE_MAX: "min/max",
    Kind.PROBLEM_SCALE_BOUNDS_NOT_WHOLE: "min/max",
    Kind.PROBLEM_SCALE_TOO_NARROW: "min/max",
    Kind.PROBLEM_SCALE_TOO_WIDE: "min/max",
    Kind.PROBLEM_WHOLE_BOUNDS_NEEDED: "min/max",
}


def _read_question(
    item: dict[str, Any], position: int, where: str, p: _Problems
) -> QuestionSeed | None:
    before = len(p.items)
    _unknown_keys(item, QUESTION_KEYS, where, p, QUESTION_TRANSLATED)
    description = _text(item, "text", where, p, required=True, longest=MAX_DESCRIPTION)
    type_name = _text(item, "type", where, p, required=True)
    response_type: ResponseType | None = None
    if type_name:
        try:
            response_type = ResponseType(type_name)
        except ValueError:
            allowed = [t.value for t in ResponseType]
            p.add(where, "type", meaning(Kind.SEED_UNKNOWN_TYPE, name=type_name, allowed=allowed))
    link = _text(item, "link", where, p, required=False, longest=MAX_LINK) or None
    if link and not link.startswith(("https://", "http://")):
        p.add(where, "link", meaning(Kind.SEED_BAD_LINK))
    required = item.get("required", True)
    if not isinstance(required, bool):
        p.add(where, "required", meaning(Kind.SEED_NOT_BOOLEAN))
        required = True
    options = item.get("options")
    if options is not None and (
        not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options)
    ):
        p.add(where, "options", meaning(Kind.SEED_BAD_OPTIONS))
        options = None
    integer_only = item.get("integer", False)
    if not isinstance(integer_only, bool):
        p.add(where, "integer", meaning(Kind.SEED_NOT_BOOLEAN))
        integer_only = False
    min_value = _number(item, "min", where, p)
    max_value = _number(item, "max", where, p)
    max_length = _positive_int(item, "max_length", where, p, largest=MAX_TEXT_LIMIT)
    alert_text = _text(item, "alert", where, p, required=False) or None
    alert_rule: str | None = None
    if response_type is not None:
        rules = QuestionRules(
            response_type=response_type,
            options=tuple(o.strip() for o in options or ()),
            min_value=min_value,
            max_value=max_value,
            integer_only=integer_only,
            max_length=max_length,
            required=required,
        )
        for problem in rules.validate():
            p.add(where, _RULE_KEYS.get(problem.kind), problem)
        if alert_text:
            try:
                alert_rule = format_alert_rule(parse_alert_rule(alert_text, rules))
            except AlertRuleError as error:
                p.add(where, "alert", error.problem)
    canonical = {"text": description, "options": options, "link": link}

    def check(item: dict[str, Any], where: str, key: str, base: str) -> Any:
        if not canonical[base]:
            p.add(where, key, meaning(Kind.SEED_TRANSLATION_WITHOUT_ORIGINAL, original=base))
            return None
        if base == "text":
            return _text(item, key, where, p, required=False, longest=MAX_DESCRIPTION) or None
        if base == "link":
            translated_link = _text(item, key, where, p, required=False, longest=MAX_LINK)
            if translated_link and not translated_link.startswith(("https://", "http://")):
                p.add(where, key, meaning(Kind.SEED_BAD_LINK))
                return None
            return translated_link or None
        return _translated_options(item[key], len(canonical["options"] or ()), where, key, p)

    translations = _translations(item, QUESTION_TRANSLATED, where, p, check)
    if len(p.items) > before or response_type is None:
        return None
    return QuestionSeed(
        position=position,
        description=description,
        response_type=response_type.value,
        link=link,
        required=required,
        options=[o.strip() for o in options] if options else None,
        min_value=min_value,
        max_value=max_value,
        integer_only=integer_only,
        max_length=max_length,
        alert_rule=alert_rule,
        translations=translations,
    )


def _translated_options(
    value: Any, expected: int, where: str, key: str, p: _Problems
) -> list[str] | None:
    """A choice's options in another language: one per option, in the options' order (a button
    carries the option's place, and the answer stored is the canonical option)."""
    if not isinstance(value, list) or not all(isinstance(o, str) and o.strip() for o in value):
        p.add(where, key, meaning(Kind.SEED_BAD_OPTIONS))
        return None
    if len(value) != expected:
        p.add(
            where,
            key,
            meaning(Kind.SEED_OPTIONS_COUNT_MISMATCH, count=len(value), expected=expected),
        )
        return None
    options = [o.strip() for o in value]
    # The same checks as the canonical options: too long for a button, the same one twice.
    problems = QuestionRules(ResponseType.CHOICE, options=tuple(options)).validate()
    for problem in problems:
        p.add(where, key, problem)
    return None if problems else options


def apply_seed(database: Database, plan: SeedPlan, now: datetime, default_zone: str) -> SeedReport:
    """Upsert the plan in one transaction: groups by name, tasks by (group, title), questions
    by position, invites by code. Running it twice changes nothing the second time."""
    report = SeedReport()
    with database.session() as session:
        _refuse_codes_of_other_groups(session, plan)
        groups = {
            g.name: _upsert_group(session, g, now, default_zone, report) for g in plan.groups
        }
        for seed in plan.groups:
            if seed.invite:
                _upsert_invite(session, seed, groups[seed.name], now, report)
            for user_id in seed.team:
                _add_team_place(session, groups[seed.name], user_id, now, report)
        for task_seed in plan.tasks:
            group = groups[task_seed.group]
            task, reschedule, moved = _upsert_task(session, task_seed, group, now, report)
            _upsert_questions(session, task, task_seed.questions, now, report)
            if reschedule:
                added = replan_task(session, task, now, default_zone, moved=moved).added
            else:
                added = plan_task(session, task, now, default_zone)
            report.deliveries_planned += added
        session.commit()
    return report


def _refuse_codes_of_other_groups(session: Session, plan: SeedPlan) -> None:
    """SeedError when a group's invite code is stored for another group: upserted by code,
    it moved there, and the first group's printed code let new patients into the second (and
    its care team see them). Checked before anything is written."""
    problems = []
    for index, seed in enumerate(plan.groups, start=1):
        if not seed.invite:
            continue
        holder = session.exec(
            select(TherapyGroup.name)
            .join(Invite, col(Invite.group_id) == TherapyGroup.id)
            .where(func.lower(col(Invite.code)) == seed.invite.lower())
        ).first()
        if holder is not None and holder != seed.name:
            problems.append(
                SeedProblem(
                    plan.file,
                    f"groups[{index}].invite",
                    meaning(Kind.SEED_CODE_OF_ANOTHER_GROUP, code=seed.invite, group=holder),
                )
            )
    if problems:
        raise SeedError(problems)


def _mark(report: SeedReport, kind: str, created: bool, changed: bool) -> None:
    if created:
        report.created[kind] += 1
    elif changed:
        report.updated[kind] += 1
    else:
        report.unchanged[kind] += 1


def _assign(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _upsert_group(
    session: Session, seed: GroupSeed, now: datetime, default_zone: str, report: SeedReport
) -> TherapyGroup:
    # Found as chat finds it (case and spacing aside), so a group a therapist made in chat as
    # "shoulder therapy" is the seed's "Shoulder Therapy", not a second group of that name.
    group = find_group(session, seed.name)
    created = group is None
    if group is None:
        group = TherapyGroup(name=seed.name, created_at=now)
        session.add(group)
    zone_before = group.timezone
    changed = _assign(group, {"timezone": seed.timezone})
    session.flush()
    if created:
        after = {"name": group.name, "timezone": group.timezone}
        _audit(session, now, AuditAction.GROUP_CREATED, ObjectKind.GROUP, group.id, group, after)
    elif changed:
        replan_group(session, group, zone_before, now, default_zone)
        record_changes(
            session,
            now,
            OPERATOR,
            AuditAction.GROUP_EDITED,
            ObjectKind.GROUP,
            group.id,
            group_id=group.id,
            before={"timezone": zone_before},
            after={"timezone": group.timezone},
        )
    _mark(report, "groups", created, changed)
    if seed.consent is not None:
        _upsert_consent(session, seed.consent, seed.consent_translations, group, now, report)
    return group


def _add_team_place(
    session: Session, group: TherapyGroup, user_id: int, now: datetime, report: SeedReport
) -> None:
    """Put a Telegram user on the group's team. A person the bot does not know yet gets a row
    (the patient role, as a configured administrator's row has): a team place gives access
    only to a therapist, configured or added with /addtherapist."""
    assert group.id is not None
    person = session.exec(select(Person).where(Person.telegram_user_id == user_id)).first()
    if person is None:
        person = Person(telegram_user_id=user_id, chat_id=user_id, created_at=now)
        session.add(person)
        session.flush()
    created = team_place(session, group.id, person) is None
    if created:
        join_team(session, now, group.id, person)
        # A place on a team opens the group's patients to a therapist: who gave it, and when.
        after = {"telegram_user_id": user_id}
        _audit(
            session, now, AuditAction.TEAM_MEMBER_ADDED, ObjectKind.PERSON, person.id, group, after
        )
    _mark(report, "team places", created, False)


def _upsert_consent(
    session: Session,
    text: str,
    translations: Translations | None,
    group: TherapyGroup,
    now: datetime,
    report: SeedReport,
) -> None:
    """A changed text, or a changed translation of it, becomes the group's next version, as
    /setconsent would make it: a patient agrees to the words they read."""
    assert group.id is not None
    latest = latest_versions(session, [group.id]).get(group.id)
    if latest is not None and latest.text == text and latest.translations == translations:
        _mark(report, "consent texts", False, False)
        return
    version = latest.version + 1 if latest is not None else 1
    session.add(
        ConsentVersion(
            group_id=group.id,
            version=version,
            text=text,
            translations=translations,
            created_at=now,
        )
    )
    record(
        session,
        now,
        OPERATOR,
        AuditAction.CONSENT_CHANGED,
        ObjectKind.GROUP,
        group.id,
        group_id=group.id,
        before={
            "version": latest.version if latest else 0,
            "required": latest is not None and latest.text is not None,
        },
        after={"version": version, "required": True},
    )
    _mark(report, "consent texts", latest is None, latest is not None)


def _upsert_invite(
    session: Session, seed: GroupSeed, group: TherapyGroup, now: datetime, report: SeedReport
) -> None:
    assert group.id is not None and seed.invite is not None
    # One code whatever its case (the database's unique index on lower(code) says so too):
    # "shoulder1" in the file is the SHOULDER1 already stored, now written as the file says.
    invite = session.exec(
        select(Invite).where(func.lower(col(Invite.code)) == seed.invite.lower())
    ).first()
    created = invite is None
    before = {}
    if invite is None:
        invite = Invite(code=seed.invite, group_id=group.id, created_at=now)
        session.add(invite)
    else:
        before = _audited_invite(session, invite)
    changed = _assign(
        invite,
        {
            "code": seed.invite,
            "group_id": group.id,
            "max_uses": seed.invite_max_uses,
            "demo": seed.invite_demo,
        },
    )
    if created:
        session.flush()
        # Never the code itself, as for /invite: the trail is read by more people than may join.
        limits = {"expires_at": None, "max_uses": invite.max_uses, "demo": invite.demo}
        _audit(
            session, now, AuditAction.INVITE_CREATED, ObjectKind.INVITE, invite.id, group, limits
        )
    else:
        # A code written in another case only is no change a clinic accounts for.
        record_changes(
            session,
            now,
            OPERATOR,
            AuditAction.INVITE_EDITED,
            ObjectKind.INVITE,
            invite.id,
            group_id=group.id,
            before=before,
            after=_audited_invite(session, invite),
        )
    _mark(report, "invites", created, changed)


def _audited_invite(session: Session, invite: Invite) -> dict[str, Any]:
    """What the trail says of an invite: never its code (see ``_upsert_invite``)."""
    joins = session.get(TherapyGroup, invite.group_id)
    return {
        "group": joins.name if joins is not None else None,
        "max_uses": invite.max_uses,
        "demo": invite.demo,
    }


def _upsert_task(
    session: Session, seed: TaskSeed, group: TherapyGroup, now: datetime, report: SeedReport
) -> tuple[Task, bool, bool]:
    """The task, whether it must be planned again, and whether its date or hour moved."""
    task = session.exec(
        select(Task).where(
            Task.group_id == group.id, Task.title == seed.title, col(Task.deleted_at).is_(None)
        )
    ).first()
    created = task is None
    assert group.id is not None
    before = audited_task(task) if task is not None else {}
    when_before = (task.due_date, task.due_time) if task is not None else None
    if task is None:
        task = Task(
            group_id=group.id,
            title=seed.title,
            due_date=seed.due_date,
            due_time=seed.due_time,
            created_at=now,
        )
        session.add(task)
    changed = _assign(
        task,
        {
            "due_date": seed.due_date,
            "due_time": seed.due_time,
            "recurrence": seed.recurrence,
            "expiry_minutes": seed.expiry_minutes,
        },
    )
    # A new translation of the title changes what patients read, not when they are asked.
    retitled = _assign(task, {"translations": seed.translations})
    session.flush()
    after = audited_task(task)
    if created:
        after |= {"questions": [q.description for q in seed.questions]}
        _audit(session, now, AuditAction.TASK_CREATED, ObjectKind.TASK, task.id, group, after)
    else:
        record_changes(
            session,
            now,
            OPERATOR,
            AuditAction.TASK_EDITED,
            ObjectKind.TASK,
            task.id,
            group_id=group.id,
            before=before,
            after=after,
        )
    _mark(report, "tasks", created, changed or retitled)
    moved = when_before is not None and when_before != (task.due_date, task.due_time)
    return task, changed and not created, moved


def _upsert_questions(
    session: Session, task: Task, seeds: list[QuestionSeed], now: datetime, report: SeedReport
) -> None:
    existing = {
        q.position: q
        for q in session.exec(select(Question).where(Question.task_id == task.id)).all()
    }
    assert task.id is not None
    # A new task's questions are named in its own event, as /newtask's are.
    new_task = not existing
    for seed in seeds:
        question = existing.pop(seed.position, None)
        created = question is None
        wording: dict[str, Any] = {
            "description": seed.description,
            "response_type": seed.response_type,
            "link": seed.link,
            "options": seed.options,
            "min_value": seed.min_value,
            "max_value": seed.max_value,
            "integer_only": seed.integer_only,
            "max_length": seed.max_length,
        }
        settings: dict[str, Any] = {
            "required": seed.required,
            "alert_rule": seed.alert_rule,
            "removed_at": None,
        }
        if question is None:
            question = Question(
                task_id=task.id,
                position=seed.position,
                translations=seed.translations,
                **wording,
                **settings,
            )
            session.add(question)
            add_first_revision(session, question, now)
            changed = True
            if not new_task:
                session.flush()
                _audit_question(session, now, AuditAction.QUESTION_CREATED, task, question)
        else:
            # A new wording is a new revision: answers already given keep the one they answered.
            # A new translation is not: the newest revision gets it in place.
            before = audited_revision(question)
            returns = question.removed_at is not None
            changed = revise(session, question, wording, now)
            changed = retranslate(session, question, seed.translations) or changed
            changed = _assign(question, settings) or changed
            after = audited_revision(question)
            if returns:
                _audit_question(session, now, AuditAction.QUESTION_CREATED, task, question)
            else:
                # A changed wording, and an alert rule added or taken away: why a pain alert
                # stopped is in the trail.
                record_changes(
                    session,
                    now,
                    OPERATOR,
                    AuditAction.QUESTION_EDITED,
                    ObjectKind.QUESTION,
                    question.id,
                    group_id=task.group_id,
                    before=before,
                    after=after,
                )
        _mark(report, "questions", created, changed)
    for leftover in existing.values():
        # Questions the file no longer has are retired, never deleted: answers point at them.
        if leftover.removed_at is None:
            leftover.removed_at = now
            report.updated["questions"] += 1
            _audit_question(session, now, AuditAction.QUESTION_DELETED, task, leftover)
    session.flush()


def _audit_question(
    session: Session, now: datetime, action: AuditAction, task: Task, question: Question
) -> None:
    fields = audited_question(question)
    removed = action is AuditAction.QUESTION_DELETED
    record(
        session,
        now,
        OPERATOR,
        action,
        ObjectKind.QUESTION,
        question.id,
        group_id=task.group_id,
        before=fields if removed else None,
        after=None if removed else fields,
    )


def _audit(
    session: Session,
    now: datetime,
    action: AuditAction,
    kind: ObjectKind,
    object_id: int | None,
    group: TherapyGroup,
    after: dict[str, Any],
) -> None:
    """One event of the seed's own ("command line"), as the chat command's would be."""
    record(session, now, OPERATOR, action, kind, object_id, group_id=group.id, after=after)
