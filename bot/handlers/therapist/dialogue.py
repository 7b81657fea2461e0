"""The /newtask and /edittask dialogue: the draft, its steps, review and save.

The dialogues keep their draft in ``user_data``: the one place in-memory state is allowed, as
a cache of a therapist's unfinished authoring. Nothing is stored until Save.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from html import escape
from typing import Literal
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, Update

from bot import keyboards, texts
from bot.context import DEPS_KEY, BotApplication, BotContext
from bot.handlers.presses import acknowledge
from bot.handlers.therapist.common import (
    COUNT,
    DRAFT_KEY,
    DRAFT_TTL,
    DUE,
    END,
    EVERY_N,
    GROUP,
    Q_ALERT,
    Q_DESC,
    Q_DETAIL,
    Q_INTEGER,
    Q_LINK,
    Q_MORE,
    Q_REQUIRED,
    Q_TYPE,
    REPEAT,
    REPEAT_END,
    REVIEW,
    TITLE,
    UNTIL,
    Handler,
    P,
    R,
    _actor,
    _attempt,
    _button,
    _chunks,
    _drop,
    _example_day,
    _markup,
    _now,
    _problems,
    _send,
    _send_long,
    _zone,
    therapist_only,
)
from bot.handlers.therapist.tasks import _close_buttons
from bot.services import authoring
from bot.services.authoring import AuthoringError, GroupInfo, QuestionDraft
from bot.services.meaning import Kind
from bot.services.responses import (
    ALERT_TYPES,
    DEFAULT_SCALE_MAX,
    DEFAULT_SCALE_MIN,
    ResponseType,
    format_alert_rule,
    suggested_alert_rules,
)
from bot.services.schedule import Recurrence, next_due, recurrence_to_rule, rule_to_recurrence

log = logging.getLogger(__name__)


# --- the /newtask and /edittask dialogues ---------------------------------------------------


# A /newtask whose due time went by before it was saved: the next due time leads back to the
# review.
REVIEW_AFTER_DUE = "review after due"


@dataclass
class _Draft:
    """The therapist's unfinished task or edit: a cache, lost on restart by design."""

    mode: Literal["new", "edit", "consent"]
    touched: datetime
    group: GroupInfo | None = None
    # Too many groups for buttons: the group is typed (``MAX_GROUP_BUTTONS``).
    group_typed: bool = False
    task_id: int | None = None
    task_title: str = ""
    edit: str = ""  # "due", "repeat", "questions" or "reword"; REVIEW_AFTER_DUE on /newtask
    reword_position: int = 0
    # Adding questions to a task (/edittask): how many it has, so the new ones are numbered
    # as they will be, and no step is asked for a question past ``MAX_QUESTIONS``.
    existing_questions: int = 0
    title: str = ""
    due_date: date | None = None
    due_time: time | None = None
    repeat_kind: str = "once"
    interval: int = 1
    recurrence: str | None = None
    questions: list[QuestionDraft] = field(default_factory=list)
    question: QuestionDraft | None = None
    # Changing a question: the question as it is now, which each step offers to keep.
    current: QuestionDraft | None = None
    # /setconsent: the group, and the text to show back before saving; for a translation
    # (/setconsent GROUP LANG) its language and the version in force it translates.
    consent_group_id: int = 0
    consent_text: str = ""
    consent_language: str | None = None
    consent_based_on: int = 0


# bot_data: the therapists who began a dialogue here (``_start_draft``), so that finding the
# chats in a dialogue reads those, not every user's data, at each batch's end.
DIALOGUE_USERS_KEY = "dialogue_users"


def _start_draft(update: Update, context: BotContext, draft: _Draft) -> None:
    assert context.user_data is not None and update.effective_user is not None
    context.user_data[DRAFT_KEY] = draft
    context.bot_data.setdefault(DIALOGUE_USERS_KEY, set()).add(update.effective_user.id)


def chats_in_dialogue(application: BotApplication) -> set[int]:
    """The therapists' chats whose draft lives here and has not run out (``DRAFT_TTL``): their
    next updates must come to this process (``inbox.hold_chats``). A therapist's dialogue runs
    in their private chat, whose id is theirs."""
    users: set[int] = application.bot_data.get(DIALOGUE_USERS_KEY, set())
    if not users:
        return set()
    now = application.bot_data[DEPS_KEY].clock.now()
    live = {
        user_id
        for user_id in users
        if isinstance(draft := application.user_data.get(user_id, {}).get(DRAFT_KEY), _Draft)
        and now - draft.touched <= DRAFT_TTL
    }
    users.intersection_update(live)  # a dialogue ended or left to run out: forgotten
    return live


def _draft(context: BotContext) -> _Draft | None:
    data = context.user_data
    draft = data.get(DRAFT_KEY) if data is not None else None
    return draft if isinstance(draft, _Draft) else None


async def _live_draft(update: Update, context: BotContext) -> _Draft | None:
    """The therapist's draft, unless there is none or it was left for too long."""
    draft = _draft(context)
    now = _now(context)
    if draft is None or now - draft.touched > DRAFT_TTL:
        _drop(context)
        if update.callback_query is not None:
            await acknowledge(context, update.callback_query, texts.admin_stale_button())
        else:
            await _send(update, texts.admin_dialogue_expired())
        return None
    draft.touched = now
    return draft


def step(handler: Callable[[Update, BotContext, _Draft], Awaitable[int]]) -> Handler:
    """Wrap a dialogue step: therapists only, a live draft, and its last-touched time."""

    @therapist_only
    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> int:
        draft = await _live_draft(update, context)
        if draft is None:
            return END
        if update.callback_query is not None:
            await acknowledge(context, update.callback_query)
        return await handler(update, context, draft)

    return wrapper


def _choice(update: Update) -> tuple[str, ...]:
    callback = keyboards.decode(update.callback_query.data if update.callback_query else None)
    return callback.parts if callback else ()


# An administrator sees every group: past this many, buttons would be a long scroll and, past
# 100, more than Telegram puts under one message ("reply markup is too long").
MAX_GROUP_BUTTONS = 40


def _typed(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


async def _picked(update: Update, label: str) -> None:
    """Show which button was pressed and take the keyboard away."""
    query = update.callback_query
    if query is not None:
        await _close_buttons(query.message, texts.admin_picked(label))


@therapist_only
async def newtask_start(update: Update, context: BotContext) -> int:
    """Start building a task: pick the group."""
    _drop(context)  # a dialogue begun again ends the one before, also when it stops at once
    deps = context.deps
    actor = _actor(update, context)
    groups = await deps.run(authoring.group_names, deps.database, _zone(context), actor=actor)
    if not groups:
        # Other teams' groups may well exist: "no groups yet" would be untrue.
        every = authoring.sees_every_group(actor)
        await _send(update, texts.admin_no_groups() if every else texts.team_none_yet())
        return END
    assert context.user_data is not None
    draft = _Draft(mode="new", touched=_now(context), group_typed=len(groups) > MAX_GROUP_BUTTONS)
    _start_draft(update, context, draft)
    if draft.group_typed:
        await _send(update, texts.admin_ask_group_typed(len(groups)))
    else:
        await _send(
            update,
            texts.admin_ask_group(),
            _markup(*[[_button(g.name, "tg", g.id)] for g in groups]),
        )
    return GROUP


@step
async def pick_group(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the group and ask for the title."""
    parts = _choice(update)
    return await _take_group(update, context, draft, parts[0] if parts else "")


@step
async def type_group(update: Update, context: BotContext, draft: _Draft) -> int:
    """The group's name or number, where there were too many groups for buttons."""
    if not draft.group_typed:
        await _send(update, texts.admin_wrong_step())
        return GROUP
    return await _take_group(update, context, draft, _typed(update).strip())


async def _take_group(update: Update, context: BotContext, draft: _Draft, group_id: str) -> int:
    deps = context.deps
    group = await _attempt(
        update,
        context,
        authoring.get_group,
        deps.database,
        _zone(context),
        group_id,
        actor=_actor(update, context),
    )
    if group is None:
        return GROUP
    draft.group = group
    await _picked(update, group.name)
    await _send(update, texts.admin_ask_title(group.name))
    return TITLE


@step
async def type_title(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the title and ask for the due date and time."""
    try:
        draft.title = authoring.check_title(_typed(update))
    except AuthoringError as error:
        await _problems(update, error, texts.admin_ask_title_again())
        return TITLE
    assert draft.group is not None
    await _send(
        update, texts.admin_ask_due(draft.group.zone, _example_day(context, draft.group.zone))
    )
    return DUE


@step
async def type_due(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the due time, repeat it back, and ask how the task repeats (or save the edit)."""
    assert draft.group is not None
    try:
        draft.due_date, draft.due_time = authoring.parse_due(
            _typed(update), draft.group.zone, _now(context)
        )
    except AuthoringError as error:
        await _problems(update, error, texts.admin_ask_due_again(draft.group.zone))
        return DUE
    understood = texts.admin_understood_due(draft.due_date, draft.due_time, draft.group.zone)
    if draft.mode == "edit":
        return await _apply_due(update, context, draft, understood)
    await _send(update, understood)
    if draft.edit == REVIEW_AFTER_DUE:
        draft.edit = ""
        return await _review(update, context, draft)
    return await _ask_repeat(update)


async def _ask_repeat(update: Update) -> int:
    await _send(
        update,
        texts.admin_ask_repeat(),
        _markup(
            [
                _button(texts.admin_button_once(), "tr", "once"),
                _button(texts.admin_button_daily(), "tr", "daily"),
            ],
            [
                _button(texts.admin_button_weekdays(), "tr", "weekdays"),
                _button(texts.admin_button_every(), "tr", "every"),
            ],
        ),
    )
    return REPEAT


@step
async def pick_repeat(update: Update, context: BotContext, draft: _Draft) -> int:
    """Take a repetition from the buttons; every N days asks for N, the rest for an end."""
    parts = _choice(update)
    kind = parts[0] if parts else ""
    labels = {
        "once": texts.admin_button_once(),
        "daily": texts.admin_button_daily(),
        "weekdays": texts.admin_button_weekdays(),
        "every": texts.admin_button_every(),
    }
    if kind not in labels:
        return REPEAT
    await _picked(update, labels[kind])
    draft.repeat_kind = kind
    draft.interval = 1
    if kind == "once":
        return await _repeat_chosen(update, context, draft, None)
    if kind == "every":
        await _send(update, texts.admin_ask_every_n())
        return EVERY_N
    return await _ask_repeat_end(update)


@step
async def type_repeat(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read a repetition typed out ("mon,wed,fri x6") instead of a button."""
    try:
        rule = authoring.parse_repeat(_typed(update))
    except AuthoringError as error:
        await _problems(update, error, texts.admin_ask_repeat_again())
        return REPEAT
    until = rule_to_recurrence(rule).until
    start = draft.due_date
    if until is not None and start is not None and until < start:
        # As the "Until a date" button's step refuses it: accepted here, the task could never
        # be due, and Save then asked again and again for a due date instead of this.
        await _send(update, texts.admin_repeat_ends_before_start(until, start))
        return REPEAT
    return await _repeat_chosen(update, context, draft, rule)


@step
async def type_every_n(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read N of "every N days" and ask how the series ends."""
    text = _typed(update).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 365):
        await _send(update, texts.admin_bad_every_n())
        return EVERY_N
    draft.interval = int(text)
    return await _ask_repeat_end(update)


async def _ask_repeat_end(update: Update) -> int:
    await _send(
        update,
        texts.admin_ask_repeat_end(),
        _markup(
            [_button(texts.admin_button_no_end(), "tn", "none")],
            [
                _button(texts.admin_button_until(), "tn", "until"),
                _button(texts.admin_button_count(), "tn", "count"),
            ],
        ),
    )
    return REPEAT_END


def _recurrence(draft: _Draft, until: date | None, count: int | None) -> str | None:
    if draft.repeat_kind == "weekdays":
        rec = Recurrence("weekly", weekdays=(0, 1, 2, 3, 4), until=until, count=count)
    elif draft.repeat_kind == "every" and draft.interval > 1:
        rec = Recurrence("interval", interval_days=draft.interval, until=until, count=count)
    else:
        rec = Recurrence("daily", until=until, count=count)
    return recurrence_to_rule(rec)


@step
async def pick_repeat_end(update: Update, context: BotContext, draft: _Draft) -> int:
    """No end, or ask for the last date, or for the number of times."""
    parts = _choice(update)
    choice = parts[0] if parts else ""
    if choice == "none":
        await _picked(update, texts.admin_button_no_end())
        return await _repeat_chosen(update, context, draft, _recurrence(draft, None, None))
    if choice == "until":
        await _picked(update, texts.admin_button_until())
        await _send(update, texts.admin_ask_until())
        return UNTIL
    if choice == "count":
        await _picked(update, texts.admin_button_count())
        await _send(update, texts.admin_ask_count())
        return COUNT
    return REPEAT_END


@step
async def type_until(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the last day of the series."""
    text = _typed(update).strip()
    try:
        until = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        until = None
    if until is None:
        await _send(update, texts.admin_bad_until(text))
        return UNTIL
    start = draft.due_date
    if start is not None and until < start:
        await _send(update, texts.admin_until_before_start(until, start))
        return UNTIL
    return await _repeat_chosen(update, context, draft, _recurrence(draft, until, None))


@step
async def type_count(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read how many times the task happens."""
    text = _typed(update).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 1000):
        await _send(update, texts.admin_bad_count())
        return COUNT
    return await _repeat_chosen(update, context, draft, _recurrence(draft, None, int(text)))


async def _repeat_chosen(
    update: Update, context: BotContext, draft: _Draft, rule: str | None
) -> int:
    draft.recurrence = rule
    if draft.mode == "edit":
        return await _apply_repeat(update, context, draft)
    await _send(update, texts.admin_understood_repeat(rule))
    return await _ask_description(update, draft)


def _keep(what: str) -> list[InlineKeyboardButton]:
    """The row of a step's "Keep as it is" button (changing a question only)."""
    return [_button(texts.admin_button_keep(), "tk", what)]


def _with_current(ask: str, value: str) -> str:
    return f"{ask}\n{texts.admin_currently(value)}"


async def _ask_description(update: Update, draft: _Draft) -> int:
    draft.question = None
    number = draft.reword_position or draft.existing_questions + len(draft.questions) + 1
    ask = texts.admin_ask_description(number)
    if draft.current is None:
        await _send(update, ask)
    else:
        await _send(
            update,
            _with_current(ask, escape(draft.current.description)),
            _markup(_keep("text")),
        )
    return Q_DESC


@step
async def type_description(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the question's text and ask for a link."""
    try:
        description = authoring.check_description(_typed(update))
    except AuthoringError as error:
        await _problems(update, error)
        return Q_DESC
    return await _take_description(update, draft, description)


async def _take_description(update: Update, draft: _Draft, description: str) -> int:
    draft.question = QuestionDraft(description=description, response_type=ResponseType.TEXT)
    no_link = [_button(texts.admin_button_no_link(), "tl", "skip")]
    link = draft.current.link if draft.current is not None else None
    if link is None:
        await _send(update, texts.admin_ask_link(), _markup(no_link))
    else:
        await _send(
            update,
            _with_current(texts.admin_ask_link(), escape(link)),
            _markup(_keep("link"), no_link),
        )
    return Q_LINK


@step
async def type_link(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the link and ask for the response type."""
    assert draft.question is not None
    try:
        link = authoring.parse_link(_typed(update))
    except AuthoringError as error:
        await _problems(update, error)
        return Q_LINK
    draft.question = replace(draft.question, link=link)
    return await _ask_type(update, draft)


@step
async def skip_link(update: Update, context: BotContext, draft: _Draft) -> int:
    """No link: ask for the response type."""
    await _picked(update, texts.admin_button_no_link())
    return await _ask_type(update, draft)


_TYPE_ORDER = (
    ResponseType.YES_NO,
    ResponseType.SCALE,
    ResponseType.NUMBER,
    ResponseType.CHOICE,
    ResponseType.TEXT,
    ResponseType.PHOTO,
    ResponseType.VIDEO,
)


async def _ask_type(update: Update, draft: _Draft) -> int:
    buttons = [_button(texts.admin_type_label(t.value), "tt", t.value) for t in _TYPE_ORDER]
    rows = [buttons[0:2], buttons[2:4], buttons[4:7]]
    if draft.current is None:
        await _send(update, texts.admin_ask_type(), _markup(*rows))
    else:
        label = texts.admin_type_label(draft.current.response_type.value)
        await _send(
            update,
            _with_current(texts.admin_ask_type(), escape(label)),
            _markup(_keep("type"), *rows),
        )
    return Q_TYPE


@step
async def pick_type(update: Update, context: BotContext, draft: _Draft) -> int:
    """Remember the response type and ask for what it needs."""
    assert draft.question is not None
    parts = _choice(update)
    try:
        kind = ResponseType(parts[0]) if parts else None
    except ValueError:
        kind = None
    if kind is None:
        return Q_TYPE
    await _picked(update, texts.admin_type_label(kind.value))
    return await _take_type(update, context, draft, kind)


def _same_kind(draft: _Draft) -> QuestionDraft | None:
    """The question as it is now, if the one being written answers the same way: its options,
    bounds and limits still fit, and can be kept."""
    current, question = draft.current, draft.question
    if current is None or question is None:
        return None
    return current if current.response_type == question.response_type else None


async def _take_type(
    update: Update, context: BotContext, draft: _Draft, kind: ResponseType
) -> int:
    """Take the response type and ask for what it needs (its details start afresh)."""
    assert draft.question is not None
    draft.question = replace(
        draft.question,
        response_type=kind,
        options=(),
        min_value=None,
        max_value=None,
        integer_only=False,
        max_length=None,
        alert_rule=None,
    )
    if kind == ResponseType.CHOICE:
        ask, default = texts.admin_ask_options(), None
    elif kind == ResponseType.NUMBER:
        ask, default = texts.admin_ask_number_bounds(), texts.admin_button_no_bounds()
    elif kind == ResponseType.SCALE:
        ask = texts.admin_ask_scale_bounds()
        default = texts.admin_button_default_scale(DEFAULT_SCALE_MIN, DEFAULT_SCALE_MAX)
    elif kind == ResponseType.TEXT:
        ask, default = texts.admin_ask_max_length(), texts.admin_button_no_max_length()
    else:
        return await _ask_required(update, draft)
    rows = [[_button(default, "tb", "skip")]] if default is not None else []
    current = _same_kind(draft)
    if current is not None:
        ask = _with_current(ask, texts.admin_current_detail(current.rules()))
        rows.insert(0, _keep("detail"))
    await _send(update, ask, _markup(*rows) if rows else None)
    return Q_DETAIL


@step
async def type_detail(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the options, bounds or length limit the response type needs."""
    assert draft.question is not None
    kind = draft.question.response_type
    text = _typed(update)
    try:
        if kind == ResponseType.CHOICE:
            draft.question = replace(draft.question, options=authoring.parse_options(text))
        elif kind in (ResponseType.NUMBER, ResponseType.SCALE):
            lo, hi = authoring.parse_bounds(text, kind)
            draft.question = replace(draft.question, min_value=lo, max_value=hi)
        elif kind == ResponseType.TEXT:
            draft.question = replace(draft.question, max_length=authoring.parse_max_length(text))
    except AuthoringError as error:
        await _problems(update, error)
        return Q_DETAIL
    return await _after_detail(update, draft)


@step
async def skip_detail(update: Update, context: BotContext, draft: _Draft) -> int:
    """Keep the default bounds or length."""
    assert draft.question is not None
    kind = draft.question.response_type
    if kind == ResponseType.CHOICE:
        return Q_DETAIL
    labels = {
        ResponseType.NUMBER: texts.admin_button_no_bounds(),
        ResponseType.SCALE: texts.admin_button_default_scale(DEFAULT_SCALE_MIN, DEFAULT_SCALE_MAX),
        ResponseType.TEXT: texts.admin_button_no_max_length(),
    }
    await _picked(update, labels.get(kind, ""))
    return await _after_detail(update, draft)


def _integer_label(whole: bool) -> str:
    return texts.admin_button_whole() if whole else texts.admin_button_decimals()


async def _after_detail(update: Update, draft: _Draft) -> int:
    assert draft.question is not None
    if draft.question.response_type == ResponseType.NUMBER:
        ask = texts.admin_ask_integer()
        rows = [
            [
                _button(texts.admin_button_whole(), "ti", "y"),
                _button(texts.admin_button_decimals(), "ti", "n"),
            ]
        ]
        current = _same_kind(draft)
        if current is not None:
            ask = _with_current(ask, escape(_integer_label(current.integer_only)))
            rows.insert(0, _keep("integer"))
        await _send(update, ask, _markup(*rows))
        return Q_INTEGER
    return await _ask_required(update, draft)


@step
async def pick_integer(update: Update, context: BotContext, draft: _Draft) -> int:
    """Whole numbers only, or decimals too."""
    parts = _choice(update)
    whole = bool(parts) and parts[0] == "y"
    return await _take_integer(update, draft, whole, _integer_label(whole))


async def _take_integer(update: Update, draft: _Draft, whole: bool, label: str) -> int:
    assert draft.question is not None
    candidate = replace(draft.question, integer_only=whole)
    problems = candidate.rules().validate()
    if problems:
        await _picked(update, label)
        lines = [texts.words(problem) for problem in problems]
        # With the button its words name, as the first time the bounds were asked.
        await _send(
            update,
            "\n".join([*lines, texts.admin_ask_number_bounds()]),
            _markup([_button(texts.admin_button_no_bounds(), "tb", "skip")]),
        )
        draft.question = replace(draft.question, min_value=None, max_value=None)
        return Q_DETAIL
    await _picked(update, label)
    draft.question = candidate
    return await _ask_required(update, draft)


def _required_label(required: bool) -> str:
    return texts.admin_button_required() if required else texts.admin_button_optional()


async def _ask_required(update: Update, draft: _Draft) -> int:
    ask = texts.admin_ask_required()
    rows = [
        [
            _button(texts.admin_button_required(), "tq", "y"),
            _button(texts.admin_button_optional(), "tq", "n"),
        ]
    ]
    if draft.current is not None:
        ask = _with_current(ask, escape(_required_label(draft.current.required)))
        rows.insert(0, _keep("required"))
    await _send(update, ask, _markup(*rows))
    return Q_REQUIRED


@step
async def pick_required(update: Update, context: BotContext, draft: _Draft) -> int:
    """Required or optional; then the alert, for the types that can have one."""
    parts = _choice(update)
    required = not (parts and parts[0] == "n")
    await _picked(update, _required_label(required))
    return await _take_required(update, context, draft, required)


async def _take_required(
    update: Update, context: BotContext, draft: _Draft, required: bool
) -> int:
    assert draft.question is not None
    draft.question = replace(draft.question, required=required)
    if draft.question.response_type not in ALERT_TYPES:
        return await _question_done(update, context, draft)
    suggested = suggested_alert_rules(draft.question.rules())
    # The buttons name their question: an earlier question's, still on the screen when
    # its rule was typed, must not set this one's.
    which = len(draft.questions)
    ask = texts.admin_ask_alert(draft.question.rules())
    rows = [
        *(
            [_button(texts.admin_button_alert(rule.op, rule.value), "ta", "r", n, which)]
            for n, rule in enumerate(suggested)
        ),
        [_button(texts.admin_button_no_alert(), "ta", "skip", which)],
    ]
    kept = _current_alert(draft)
    if kept is not None:
        ask = _with_current(ask, texts.admin_alert_in_words(kept))
        rows.insert(0, _keep("alert"))
    await _send(update, ask, _markup(*rows))
    return Q_ALERT


def _current_alert(draft: _Draft) -> str | None:
    """The question's alert rule as it is now, if it still fits the question being written (a
    rule beyond new bounds, or on another kind, does not)."""
    rule = draft.current.alert_rule if draft.current is not None else None
    if rule is None or draft.question is None:
        return None
    try:
        return authoring.parse_alert(rule, draft.question)
    except AuthoringError:
        return None


# Each step's "Keep as it is" button (``tk:<what>``), and the step it belongs to.
_KEEP_STEPS = {
    "text": Q_DESC,
    "link": Q_LINK,
    "type": Q_TYPE,
    "detail": Q_DETAIL,
    "integer": Q_INTEGER,
    "required": Q_REQUIRED,
    "alert": Q_ALERT,
}


@step
async def keep_current(update: Update, context: BotContext, draft: _Draft) -> int:
    """Keep this step's part of the question as it is now (changing a question)."""
    parts = _choice(update)
    what = parts[0] if parts else ""
    current, question = draft.current, draft.question
    if current is None:
        # An earlier /edittask's button, pressed in /newtask: nothing to keep here.
        query = update.callback_query
        await _close_buttons(query.message if query else None, texts.admin_stale_button())
        return _KEEP_STEPS.get(what, Q_DESC)
    if what == "integer":  # says what was pressed itself, as after Whole numbers or Decimals
        return await _take_integer(update, draft, current.integer_only, texts.admin_button_keep())
    await _picked(update, texts.admin_button_keep())
    if what == "text":
        return await _take_description(update, draft, current.description)
    assert question is not None
    if what == "link":
        draft.question = replace(question, link=current.link)
        return await _ask_type(update, draft)
    if what == "type":
        return await _take_type(update, context, draft, current.response_type)
    if what == "detail":
        draft.question = replace(
            question,
            options=current.options,
            min_value=current.min_value,
            max_value=current.max_value,
            max_length=current.max_length,
        )
        return await _after_detail(update, draft)
    if what == "required":
        return await _take_required(update, context, draft, current.required)
    draft.question = replace(question, alert_rule=_current_alert(draft))
    return await _question_done(update, context, draft)


@step
async def type_alert(update: Update, context: BotContext, draft: _Draft) -> int:
    """Read the alert rule."""
    assert draft.question is not None
    try:
        rule = authoring.parse_alert(_typed(update), draft.question)
    except AuthoringError as error:
        await _problems(update, error)
        return Q_ALERT
    draft.question = replace(draft.question, alert_rule=rule)
    return await _question_done(update, context, draft)


@step
async def pick_alert(update: Update, context: BotContext, draft: _Draft) -> int:
    """Take a suggested rule from its button: the same rule as its typed form."""
    assert draft.question is not None
    parts = _choice(update)
    suggested = suggested_alert_rules(draft.question.rules())
    index = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else len(suggested)
    if index >= len(suggested) or not _this_questions(draft, parts[-1]):
        return Q_ALERT
    rule = suggested[index]
    await _picked(update, texts.admin_button_alert(rule.op, rule.value))
    typed = authoring.parse_alert(format_alert_rule(rule), draft.question)
    draft.question = replace(draft.question, alert_rule=typed)
    return await _question_done(update, context, draft)


@step
async def skip_alert(update: Update, context: BotContext, draft: _Draft) -> int:
    """No alert for this question."""
    if not _this_questions(draft, _choice(update)[-1]):
        return Q_ALERT
    await _picked(update, texts.admin_button_no_alert())
    return await _question_done(update, context, draft)


def _this_questions(draft: _Draft, which: str) -> bool:
    """Whether an alert button is the question's being asked: an earlier one's does nothing
    (its press was answered by ``step``), and this one's are below it."""
    return which == str(len(draft.questions))


async def _question_done(update: Update, context: BotContext, draft: _Draft) -> int:
    assert draft.question is not None
    try:
        question = authoring.check_question(draft.question)
    except AuthoringError as error:
        # Every step validated its part, so this is a contradiction between steps.
        await _problems(update, error)
        return await _ask_description(update, draft)
    draft.questions.append(question)
    draft.question = None
    if draft.edit == "reword":
        return await _apply_reword(update, context, draft)
    number = draft.existing_questions + len(draft.questions)
    done = (
        texts.admin_button_done_review() if draft.mode == "new" else texts.admin_button_done_save()
    )
    rows = [[_button(done, "tm", "done")]]
    if number < authoring.MAX_QUESTIONS:
        rows.insert(0, [_button(texts.admin_button_add_question(), "tm", "add")])
    await _send(update, texts.admin_question_added(number, question), _markup(*rows))
    return Q_MORE


@step
async def pick_more(update: Update, context: BotContext, draft: _Draft) -> int:
    """Another question, or on to the review (new task) or saving (edit)."""
    parts = _choice(update)
    if parts and parts[0] == "add":
        await _picked(update, texts.admin_button_add_question())
        return await _ask_description(update, draft)
    if draft.mode == "edit":
        await _picked(update, texts.admin_button_done_save())
        return await _apply_questions(update, context, draft)
    await _picked(update, texts.admin_button_done_review())
    return await _review(update, context, draft)


async def _review(update: Update, context: BotContext, draft: _Draft) -> int:
    """Show the whole task as it would be saved, and ask to save it."""
    assert draft.group is not None and draft.due_date and draft.due_time
    zone = ZoneInfo(draft.group.zone)
    upcoming = next_due(draft.due_date, draft.due_time, draft.recurrence, zone, _now(context))
    await _send_long(
        update,
        _chunks(
            texts.admin_review(
                draft.group.name,
                draft.title,
                draft.due_date,
                draft.due_time,
                draft.group.zone,
                draft.recurrence,
                upcoming,
                draft.questions,
            )
        ),
    )
    await _send(
        update,
        texts.admin_ask_save(),
        _markup(
            [
                _button(texts.admin_button_save(), "tv", "save"),
                _button(texts.admin_button_cancel(), "tv", "cancel"),
            ]
        ),
    )
    return REVIEW


@step
async def pick_review(update: Update, context: BotContext, draft: _Draft) -> int:
    """Save the task and plan its check-ins, or throw the draft away."""
    parts = _choice(update)
    if not parts or parts[0] != "save":
        await _picked(update, texts.admin_button_cancel())
        _drop(context)
        await _send(update, texts.admin_cancelled())
        return END
    await _picked(update, texts.admin_button_save())
    assert draft.group is not None and draft.due_date and draft.due_time
    deps = context.deps
    try:
        saved = await deps.run(
            authoring.create_task,
            deps.database,
            _now(context),
            _zone(context),
            deps.settings.checkins.expiry_minutes,
            authoring.TaskDraft(
                group_id=draft.group.id,
                title=draft.title,
                due_date=draft.due_date,
                due_time=draft.due_time,
                recurrence=draft.recurrence,
                questions=tuple(draft.questions),
            ),
            actor=_actor(update, context),
        )
    except AuthoringError as error:
        if [problem.kind for problem in error.problems] == [Kind.ADMIN_NEVER_DUE]:
            # The due time went by while the questions were written: ask for another and come
            # back here, rather than throw the questions away with the draft.
            draft.edit = REVIEW_AFTER_DUE
            await _problems(update, error, texts.admin_ask_due_again(draft.group.zone))
            return DUE
        _drop(context)
        await _problems(update, error, texts.admin_not_saved())
        return END
    _drop(context)
    await _send(update, texts.admin_task_saved(saved))
    return END


@therapist_only
async def cancel(update: Update, context: BotContext) -> int:
    """Leave the dialogue; nothing is stored."""
    _drop(context)
    await _send(update, texts.admin_cancelled())
    return END


@therapist_only
async def unexpected(update: Update, context: BotContext) -> int | None:
    """Something the current step cannot use: say what it needs, and stay on the step."""
    if update.callback_query is not None:
        await acknowledge(context, update.callback_query, texts.admin_stale_button())
        return None
    if await _live_draft(update, context) is None:
        return END
    await _send(update, texts.admin_wrong_step())
    return None


# /edittask walks the same steps as /newtask (one table of states, see registration.py); where a
# /newtask step would ask the next question, an edit saves the part it changed instead.


async def _apply_due(update: Update, context: BotContext, draft: _Draft, understood: str) -> int:
    assert draft.task_id is not None and draft.due_date and draft.due_time
    return await _save_edit(
        update,
        context,
        lambda changed: f"{understood}\n{texts.admin_task_changed(changed)}",
        authoring.change_due,
        context.deps.database,
        _now(context),
        _zone(context),
        draft.task_id,
        draft.due_date,
        draft.due_time,
        actor=_actor(update, context),
    )


async def _apply_repeat(update: Update, context: BotContext, draft: _Draft) -> int:
    assert draft.task_id is not None
    return await _save_edit(
        update,
        context,
        texts.admin_task_changed,
        authoring.change_repeat,
        context.deps.database,
        _now(context),
        _zone(context),
        draft.task_id,
        draft.recurrence,
        actor=_actor(update, context),
    )


async def _apply_questions(update: Update, context: BotContext, draft: _Draft) -> int:
    assert draft.task_id is not None
    return await _save_edit(
        update,
        context,
        texts.admin_questions_added,
        authoring.add_questions,
        context.deps.database,
        draft.task_id,
        tuple(draft.questions),
        now=_now(context),
        actor=_actor(update, context),
    )


async def _apply_reword(update: Update, context: BotContext, draft: _Draft) -> int:
    assert draft.task_id is not None and draft.current is not None
    return await _save_edit(
        update,
        context,
        texts.admin_question_reworded,
        authoring.reword_question,
        context.deps.database,
        draft.task_id,
        draft.reword_position,
        draft.questions[-1],
        seen=draft.current,
        now=_now(context),
        actor=_actor(update, context),
    )


async def _save_edit(
    update: Update,
    context: BotContext,
    said: Callable[[R], str],
    use_case: Callable[P, R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> int:
    """Save one change of /edittask and end the dialogue, saved or not."""
    _drop(context)
    try:
        changed = await context.deps.run(use_case, *args, **kwargs)
    except AuthoringError as error:
        await _problems(update, error, texts.admin_not_saved())
        return END
    await _send(update, said(changed))
    return END
